//! The references between resources, checked once every resource is read: each `${id.attr}`
//! names a declared resource and an attribute of its kind, each `depends_on` entry a declared
//! resource, and none names its own resource.

use indexmap::IndexMap;

use super::Diags;
use crate::stack::diag::did_you_mean;
use crate::stack::expr::{Expr, Ref};
use crate::stack::{Import, Resource};

/// `declared`: every id `resources:` declares, loaded or not (a reference to one that failed to
/// load is not reported a second time). References to `imports` stay references when the
/// imported stack was not read; their names were checked when substituted.
pub(super) fn check(
    d: &mut Diags,
    resources: &IndexMap<String, Resource>,
    outputs: &IndexMap<String, Expr>,
    declared: &[String],
    imports: &IndexMap<String, Import>,
) {
    let ids: Vec<&str> = resources.keys().map(String::as_str).collect();
    let check = |d: &mut Diags, owner: Option<&str>, r: &Ref| {
        d.resource = owner.map(str::to_owned);
        if Some(r.target.as_str()) == owner {
            d.err(r.span, format!("`{}` references itself (`${{{}.{}}}`)", r.target, r.target, r.attr));
            return;
        }
        let Some(target) = resources.get(&r.target) else {
            if declared.contains(&r.target) || imports.contains_key(&r.target) {
                return;
            }
            let help = did_you_mean(&r.target, ids.iter().copied());
            d.err(r.span, format!("reference to unknown resource `{}`", r.target)).help = help;
            return;
        };
        let schema = target.kind.schema();
        if schema.attr(&r.attr).is_none() {
            let names: Vec<&str> = schema.attrs.iter().map(|a| a.name).collect();
            let help = did_you_mean(&r.attr, names.iter().copied());
            d.err(
                r.span,
                format!("{} `{}` has no attribute `{}`; it has: {}", schema.name, r.target, r.attr, names.join(", ")),
            )
            .help = help;
        }
    };
    for res in resources.values() {
        for e in res.props.values() {
            for r in e.refs() {
                check(d, Some(&res.id), r);
            }
        }
        d.resource = Some(res.id.clone());
        for (dep, span) in res.depends_on.iter().zip(&res.depends_spans) {
            if dep == &res.id {
                d.err(*span, format!("`{dep}` depends on itself"));
            } else if !resources.contains_key(dep) && !declared.contains(dep) {
                let help = did_you_mean(dep, ids.iter().copied());
                d.err(*span, format!("`depends_on` names unknown resource `{dep}`")).help = help;
            }
        }
    }
    for e in outputs.values() {
        for r in e.refs() {
            check(d, None, r);
        }
    }
    d.resource = None;
}
