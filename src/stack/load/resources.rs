//! `resources:` (each resource's id, type and keys, its properties typed against its kind's
//! schema, the kind's own checks) and `outputs:`.

use std::collections::BTreeSet;

use indexmap::IndexMap;

use super::Diags;
use super::header::check_tag_keys;
use super::imports::Imports;
use super::params::Params;
use super::values::{Scope, Sent, expr, fill_defaults};
use crate::schema::Ty;
use crate::spec::{Catalog, StackView, Subject};
use crate::stack::Resource;
use crate::stack::diag::{Span, did_you_mean};
use crate::stack::expr::{Expr, ExprMap};
use crate::stack::yaml::{Node, NodeKind, key_text};

/// The keys of a resource that are not properties of its kind.
const RESOURCE_KEYS: &[&str] = &["type", "depends_on", "ignore_drift", "adopt"];

/// A resource whose values passed their own checks: its kind's rules run once every resource
/// is read ([`run_checks`]), located inside its mapping.
pub(super) struct Checkable<'n> {
    id: String,
    entries: &'n [(Node, Node)],
}

/// `resources:` (`node`; missing, it is reported at `root`): the resources that loaded, and
/// those of them to run their kind's rules on.
pub(super) fn read<'n>(
    kinds: &'static dyn Catalog,
    d: &mut Diags,
    params: &Params,
    imports: &mut Imports,
    root: &Node,
    node: Option<&'n Node>,
) -> (IndexMap<String, Resource>, Vec<Checkable<'n>>) {
    let mut resources = IndexMap::new();
    let mut checkable = Vec::new();
    match node {
        None => {
            d.err(root.span, "missing `resources:`");
        }
        Some(node) => {
            if let Some(entries) = d.mapping(node, "`resources`") {
                for (k, v) in entries {
                    if let Some((r, ok)) = resource(kinds, d, params, imports, k, v) {
                        if let (true, NodeKind::Map(entries)) = (ok, &v.kind) {
                            checkable.push(Checkable { id: r.id.clone(), entries });
                        }
                        resources.insert(r.id.clone(), r);
                    }
                }
            }
        }
    }
    (resources, checkable)
}

/// Each checkable resource's kind rules ([`crate::spec::KindSpec::check`]), with the stack
/// around it, each problem located at the value it names (else at the resource).
pub(super) fn run_checks(
    d: &mut Diags,
    stack: &dyn StackView,
    resources: &IndexMap<String, Resource>,
    checkable: &[Checkable],
) {
    for c in checkable {
        let Some(r) = resources.get(&c.id) else { continue };
        d.resource = Some(c.id.clone());
        for p in r.kind.check(&Subject { id: &r.id, props: &r.props, stack }) {
            let span = if p.path.is_empty() { None } else { span_at(c.entries, &p.path) };
            d.err(span.unwrap_or(r.span), p.message).help = p.help;
        }
    }
    d.resource = None;
}

/// Whether a resource's values passed their own checks (and used no param that failed its
/// own): only then do its kind's rules run, which would otherwise repeat those failures.
fn resource(
    kinds: &'static dyn Catalog,
    d: &mut Diags,
    params: &Params,
    imports: &mut Imports,
    k: &Node,
    v: &Node,
) -> Option<(Resource, bool)> {
    let id = key_text(k);
    d.resource = None;
    if !is_resource_id(&id) {
        d.err(k.span, format!("invalid resource id `{id}`: expected lowercase letters, digits, '_' and '-', starting with a letter (and not `params`)"));
        return None;
    }
    d.resource = Some(id.clone());
    let entries = d.mapping(v, "a resource")?;
    let Some((_, type_node)) = entries.iter().find(|(k, _)| key_text(k) == "type") else {
        d.err(k.span, "missing `type:`").help = Some(format!("known types: {}", kinds.names().join(", ")));
        return None;
    };
    let type_name = d.string(type_node, "`type`")?;
    let Some(kind) = kinds.spec(&type_name) else {
        let help = did_you_mean(&type_name, kinds.names())
            .unwrap_or_else(|| format!("known types: {}", kinds.names().join(", ")));
        d.err(type_node.span, format!("unknown resource type `{type_name}`")).help = Some(help);
        return None;
    };
    let schema = kind.schema();
    let errors_before = d.len();
    // A param that failed its own checks went into a property: the kind's cross-property checks
    // would only repeat that failure.
    let mut used_failed_param = false;
    let mut depends_on = Vec::new();
    let mut ignore_drift = Vec::new();
    let mut adopt = false;
    let mut props = ExprMap::new();
    let mut prop_spans = Vec::new();
    let mut written: Vec<String> = Vec::new();
    let mut sensitive = BTreeSet::new();
    for (pk, pv) in entries {
        let key = key_text(pk);
        written.push(key.clone());
        match key.as_str() {
            "type" => {}
            "depends_on" => depends_on = id_list_spans(d, pv, "depends_on"),
            "adopt" => match pv.kind {
                NodeKind::Bool(b) if !b || kind.finds_occupants() => adopt = b,
                NodeKind::Bool(_) => {
                    d.err(pv.span, format!("`adopt` is not supported by {type_name}: rprov cannot look up an existing {type_name} that it did not create")).help =
                        Some("a resource rprov created carries its ownership tags and is adopted after a crash without `adopt`".into());
                }
                _ => {
                    d.err(pv.span, "`adopt` must be true or false");
                }
            },
            "ignore_drift" => {
                for (n, span) in id_list_spans(d, pv, "ignore_drift") {
                    if schema.prop(&n).is_none() {
                        let help = did_you_mean(&n, schema.all_props().map(|p| p.name));
                        d.err(span, format!("`ignore_drift` names `{n}`, which is not a property of {type_name}"))
                            .help = help;
                    } else {
                        ignore_drift.push(n);
                    }
                }
            }
            _ => match schema.prop(&key) {
                Some(prop) => {
                    if key == "tags" {
                        check_tag_keys(d, pv);
                    }
                    prop_spans.push((key.clone(), pv.span));
                    let mut s = Scope::new(params, imports);
                    let e = expr(d, &mut s, pv, &prop.ty, Sent::of(prop));
                    used_failed_param |= s.used.failed;
                    if s.used.secret && key == "tags" {
                        // AWS shows tags to anyone allowed to describe the resource.
                        d.err(pv.span, "a secret param cannot be used in tags: AWS shows tags to anyone allowed to describe the resource");
                    } else if s.used.secret {
                        sensitive.insert(key.clone());
                    }
                    if let Some(e) = e {
                        props.insert(key, e);
                    }
                }
                None => {
                    let names: Vec<&str> =
                        schema.all_props().map(|p| p.name).chain(RESOURCE_KEYS.iter().copied()).collect();
                    let help = did_you_mean(&key, names.iter().copied());
                    d.err(
                        pk.span,
                        format!("unknown property `{key}` of {type_name}; expected one of: {}", names.join(", ")),
                    )
                    .help = help;
                }
            },
        }
    }
    fill_defaults(d, schema.all_props(), &mut props, &written, k.span, &type_name);
    let checkable = d.len() == errors_before && !used_failed_param;
    let depends_spans = depends_on.iter().map(|(_, s)| *s).collect();
    let depends_on = depends_on.into_iter().map(|(d, _)| d).collect();
    let r = Resource {
        id: id.clone(),
        kind,
        props,
        prop_spans,
        depends_on,
        depends_spans,
        ignore_drift,
        adopt,
        sensitive,
        span: k.span,
    };
    d.resource = None;
    Some((r, checkable))
}

fn id_list_spans(d: &mut Diags, v: &Node, what: &str) -> Vec<(String, Span)> {
    let NodeKind::Seq(items) = &v.kind else {
        let got = v.type_name();
        d.err(v.span, format!("`{what}` must be a list, found {got}"));
        return vec![];
    };
    items.iter().filter_map(|i| Some((d.string(i, &format!("an entry of `{what}`"))?, i.span))).collect()
}

/// The most precise place of a path inside a resource's mapping (`routes.1.gateway`, else
/// `routes.1`, else `routes`): found when a check reports it, not recorded for every value.
fn span_at(entries: &[(Node, Node)], path: &str) -> Option<Span> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut node = &entries.iter().find(|(k, _)| key_text(k) == first)?.1;
    for part in parts {
        let next = match &node.kind {
            NodeKind::Seq(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            NodeKind::Map(es) => es.iter().find(|(k, _)| key_text(k) == part).map(|(_, v)| v),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    Some(node.span)
}

/// `outputs:`: any value (a document), refused when it uses a secret param.
pub(super) fn outputs(
    d: &mut Diags,
    params: &Params,
    imports: &mut Imports,
    node: Option<&Node>,
) -> IndexMap<String, Expr> {
    let mut outputs = IndexMap::new();
    if let Some(node) = node
        && let Some(entries) = d.mapping(node, "`outputs`")
    {
        for (k, v) in entries {
            let mut s = Scope::new(params, imports);
            let e = expr(d, &mut s, v, &Ty::Doc, None);
            if s.used.secret {
                let key = key_text(k);
                d.err(v.span, format!("output `{key}` uses a secret param: outputs are stored in state in clear and read by importing stacks"));
                continue;
            }
            if let Some(e) = e {
                outputs.insert(key_text(k), e);
            }
        }
    }
    outputs
}

/// Whether `id` is a resource id: lowercase letters, digits, `_` and `-`, starting with a
/// letter, at most 64 characters, and not `params` (the params' namespace in references).
pub fn is_resource_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && id != "params"
}
