//! `imports:` (other stacks whose outputs this one reads) and `${alias.outputs.NAME}`: checked
//! against what the run knows of the imported stack, and replaced by the value it recorded.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::header::valid_stack_name;
use super::{Diags, Imported};
use crate::stack::Import;
use crate::stack::diag::did_you_mean;
use crate::stack::expr::{Expr, Ref, is_ident};
use crate::stack::yaml::{Node, NodeKind, key_text};
use crate::value::Value;

const IMPORT_KEYS: &[&str] = &["stack", "state"];

/// The imports declared, and what the run knows of each imported stack.
pub(super) struct Imports<'a> {
    pub(super) declared: IndexMap<String, Import>,
    /// Imports whose stack has no state: already reported at the import.
    failed: Vec<String>,
    /// By alias (`Inputs::imports`).
    given: &'a BTreeMap<String, Imported>,
}

impl<'a> Imports<'a> {
    pub(super) fn new(given: &'a BTreeMap<String, Imported>) -> Imports<'a> {
        Imports { declared: IndexMap::new(), failed: Vec::new(), given }
    }

    pub(super) fn contains(&self, alias: &str) -> bool {
        self.declared.contains_key(alias)
    }

    /// `imports:`. `resource_ids`: the ids `resources:` declares, which an alias may not take.
    pub(super) fn read(&mut self, d: &mut Diags, node: &Node, this_stack: Option<&str>, resource_ids: &[String]) {
        let Some(entries) = d.mapping(node, "`imports`") else { return };
        for (k, v) in entries {
            let alias = key_text(k);
            if !is_ident(&alias) || alias == "params" {
                d.err(
                    k.span,
                    format!("invalid import name `{alias}`: expected letters, digits, '_' and '-' (and not `params`)"),
                );
                continue;
            }
            if resource_ids.contains(&alias) {
                d.err(
                    k.span,
                    format!("import `{alias}` has the name of a resource: `${{{alias}.…}}` would be ambiguous"),
                )
                .help = Some("rename the import or the resource".into());
                continue;
            }
            let (mut stack, mut state) = (None, None);
            match &v.kind {
                // `net: network` is shorthand for `net: { stack: network }`.
                NodeKind::Str { text, .. } => stack = Some((text.clone(), v.span)),
                NodeKind::Map(m) => {
                    for (ik, iv) in m {
                        match key_text(ik).as_str() {
                            "stack" => stack = d.string(iv, "import `stack`").map(|s| (s, iv.span)),
                            "state" => state = d.string(iv, "import `state`"),
                            other => {
                                let help = did_you_mean(other, IMPORT_KEYS.iter().copied());
                                d.err(
                                    ik.span,
                                    format!(
                                        "unknown key `{other}` in import `{alias}`; expected one of: {}",
                                        IMPORT_KEYS.join(", ")
                                    ),
                                )
                                .help = help;
                            }
                        }
                    }
                }
                _ => {
                    let got = v.type_name();
                    d.err(
                        v.span,
                        format!("import `{alias}` must be a mapping like `{{ stack: network }}`, found {got}"),
                    );
                    continue;
                }
            }
            let Some((stack, span)) = stack else {
                d.err(
                    k.span,
                    format!("import `{alias}` is missing `stack:` (the name of the stack to read outputs from)"),
                );
                continue;
            };
            if valid_stack_name(d, &stack, span).is_none() {
                continue;
            }
            if Some(stack.as_str()) == this_stack {
                d.err(span, format!("stack `{stack}` imports itself"));
                continue;
            }
            if let Some(Imported::Missing { location }) = self.given.get(&alias) {
                d.err(span, format!("stack `{stack}` (imported as `{alias}`) has no state at {location}")).help =
                    Some(format!("apply stack `{stack}` first (or give its state's location with `state:`)"));
                self.failed.push(alias.clone());
            }
            self.declared.insert(alias.clone(), Import { alias, stack, state, span, used: BTreeMap::new() });
        }
    }

    /// `${net.outputs.NAME}` (`r.target` is a declared alias): the value recorded by the
    /// imported stack, known before the run (so no graph edge and never "known after apply");
    /// left a reference when not read. None when it cannot stand for a value, reported here or
    /// at the import.
    pub(super) fn output(&mut self, d: &mut Diags, r: Ref) -> Option<Expr> {
        let import = &self.declared[&r.target];
        let (alias, stack) = (import.alias.clone(), import.stack.clone());
        let Some(name) = r.attr.strip_prefix("outputs.").filter(|n| is_ident(n)) else {
            d.err(
                r.span,
                format!("`${{{}.{}}}`: an import's outputs are read as `${{{alias}.outputs.NAME}}`", r.target, r.attr),
            );
            return None;
        };
        let name = name.to_owned();
        if self.failed.contains(&alias) {
            return None;
        }
        let unknown_output = |d: &mut Diags, names: &[&str], location: &str| {
            let help = did_you_mean(&name, names.iter().copied());
            d.err(
                r.span,
                format!(
                    "stack `{stack}` (imported as `{alias}`) declares no output `{name}`; its state ({location}) has: {}",
                    if names.is_empty() { "no outputs".to_owned() } else { names.join(", ") }
                ),
            )
            .help = help;
            None
        };
        let entry = self.declared.get_mut(&alias).expect("checked above");
        match self.given.get(&alias) {
            None | Some(Imported::Missing { .. }) => {
                entry.used.insert(name.clone(), Value::Unknown);
                Some(Expr::Ref(r))
            }
            Some(Imported::Declared { location, names }) => {
                if names.contains(&name) {
                    entry.used.insert(name.clone(), Value::Unknown);
                    return Some(Expr::Ref(r));
                }
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                unknown_output(d, &names, location)
            }
            Some(Imported::Read { location, outputs }) => match outputs.get(&name) {
                Some(v) if !v.has_unknown() => {
                    entry.used.insert(name.clone(), v.clone());
                    Some(Expr::Lit(v.clone()))
                }
                Some(_) => {
                    d.err(r.span, format!("output `{name}` of stack `{stack}` (imported as `{alias}`) has no value in its state ({location}): its last apply did not finish"))
                        .help = Some(format!("apply stack `{stack}` first"));
                    None
                }
                None => {
                    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
                    unknown_output(d, &names, location)
                }
            },
        }
    }
}
