//! Drift: what changed behind rprov's back. Compares live AWS with what rprov last applied (the
//! state), never with the stack file, property by property. Pure: no I/O.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Live, Tags};
use crate::plan::{LiveSet, Unmanaged, canonical, tags_value};
use crate::spec::Catalog;
use crate::stack::Stack;
use crate::state::State;
use crate::value::{Props, Value};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PropDrift {
    pub name: String,
    pub recorded: Value,
    pub live: Value,
    /// Accepted drift (`ignore_drift` or `.rprovignore`): reported, never counted.
    pub ignored: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Status {
    InSync,
    Changed {
        properties: Vec<PropDrift>,
    },
    /// In state, gone from AWS.
    Missing,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceDrift {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub physical_id: String,
    #[serde(flatten)]
    pub status: Status,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub stack: String,
    pub resources: Vec<ResourceDrift>,
    pub unmanaged: Vec<Unmanaged>,
    /// Resources tagged with the stack's name but another state's lineage (another deployment
    /// of the same stack name), by lineage: not this deployment's, so not drift.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub other_deployments: std::collections::BTreeMap<String, usize>,
    /// Informational: the stack file asks for changes not applied yet (not drift).
    pub stack_file_has_unapplied_changes: bool,
}

impl Report {
    pub fn changed(&self) -> usize {
        self.resources
            .iter()
            .filter(|r| matches!(&r.status, Status::Changed { properties } if properties.iter().any(|p| !p.ignored)))
            .count()
    }
    pub fn missing(&self) -> usize {
        self.resources.iter().filter(|r| r.status == Status::Missing).count()
    }
    pub fn has_drift(&self) -> bool {
        self.changed() + self.missing() + self.unmanaged.len() > 0
    }
}

/// Accepted drift from `.rprovignore`: one `ID.PROPERTY` per line (`*` for any id or property),
/// `#` comments.
#[derive(Clone, Debug, Default)]
pub struct Ignore {
    rules: Vec<(String, String)>,
}

impl Ignore {
    pub fn parse(text: &str) -> Result<Ignore, String> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((id, prop)) = line.split_once('.') else {
                return Err(format!(
                    ".rprovignore:{}: expected ID.PROPERTY (e.g. `service.desired_count` or `*.tags`), found `{line}`",
                    n + 1
                ));
            };
            rules.push((id.trim().to_owned(), prop.trim().to_owned()));
        }
        Ok(Ignore { rules })
    }
    fn matches(&self, id: &str, prop: &str) -> bool {
        self.rules.iter().any(|(i, p)| (i == "*" || i == id) && (p == "*" || p == prop))
    }
}

fn compare(
    kinds: &dyn Catalog,
    id: &str,
    kind: &str,
    recorded: &Props,
    rec_tags: &Tags,
    live: &Live,
    key: &str,
    ignored: &dyn Fn(&str) -> bool,
) -> Vec<PropDrift> {
    let schema = kinds.spec(kind).map(|k| k.schema());
    let mut rec = recorded.clone();
    let mut now = live.props.clone();
    if let Some(s) = schema {
        canonical(s, &mut rec);
        canonical(s, &mut now);
    }
    let mut out = Vec::new();
    for (name, r) in &rec {
        // Properties AWS does not report (write-only, secret) cannot drift observably.
        let Some(l) = now.get(name) else { continue };
        // Recorded as a digest (it held a secret): compared, and reported, as a digest.
        let (l, same) = if crate::state::is_digest(r) && !crate::state::is_digest(l) {
            (crate::state::digest(key, l), crate::state::digest_matches(key, r, l))
        } else {
            (l.clone(), r.same(l))
        };
        if !same {
            out.push(PropDrift { name: name.clone(), recorded: r.clone(), live: l, ignored: ignored(name) });
        }
    }
    if schema.is_none_or(|s| s.taggable) && rec_tags != &live.tags {
        out.push(PropDrift {
            name: "tags".into(),
            recorded: tags_value(rec_tags),
            live: tags_value(&live.tags),
            ignored: ignored("tags"),
        });
    }
    let _ = id;
    out
}

pub fn detect(stack: &Stack, state: &State, live: &LiveSet, ignore: &Ignore, unapplied: bool) -> Report {
    let mut resources = Vec::new();
    for (id, rec) in &state.resources {
        let found = live.get(&rec.kind).and_then(|ls| ls.iter().find(|l| l.physical_id == rec.physical_id));
        let status = match found {
            None => Status::Missing,
            Some(l) => {
                let per_resource: Vec<String> =
                    stack.resources.get(id).map(|r| r.ignore_drift.clone()).unwrap_or_default();
                let ignored = |p: &str| per_resource.iter().any(|x| x == p) || ignore.matches(id, p);
                let props =
                    compare(stack.kinds, id, &rec.kind, &rec.properties, &rec.tags, l, &state.secret_key, &ignored);
                if props.is_empty() { Status::InSync } else { Status::Changed { properties: props } }
            }
        };
        resources.push(ResourceDrift {
            id: id.clone(),
            kind: rec.kind.clone(),
            physical_id: rec.physical_id.clone(),
            status,
        });
    }
    let recorded: std::collections::HashSet<&str> = state.resources.values().map(|r| r.physical_id.as_str()).collect();
    let mut unmanaged: Vec<Unmanaged> = live
        .iter()
        .flat_map(|(k, ls)| ls.iter().map(move |l| (k, l)))
        .filter(|(_, l)| l.owned_by(&stack.name, Some(&state.lineage)) && !recorded.contains(l.physical_id.as_str()))
        .map(|(k, l)| Unmanaged {
            id: l.logical_id().map(str::to_owned),
            kind: k.clone(),
            physical_id: l.physical_id.clone(),
        })
        .collect();
    unmanaged.sort_by(|a, b| (&a.kind, &a.physical_id).cmp(&(&b.kind, &b.physical_id)));
    Report {
        format_version: 1,
        stack: stack.name.clone(),
        resources,
        unmanaged,
        other_deployments: crate::plan::other_deployments(&stack.name, Some(&state.lineage), live),
        stack_file_has_unapplied_changes: unapplied,
    }
}

/// The state with live values accepted (`apply --refresh-only`): drifted properties and tags
/// take the live values, missing resources leave the state.
pub fn accept(state: &State, report: &Report) -> State {
    let mut st = state.clone();
    for r in &report.resources {
        match &r.status {
            Status::Missing => {
                st.resources.remove(&r.id);
            }
            Status::Changed { properties } => {
                if let Some(rec) = st.resources.get_mut(&r.id) {
                    for p in properties {
                        if p.name == "tags" {
                            rec.tags = p
                                .live
                                .as_map()
                                .map(|m| {
                                    m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect()
                                })
                                .unwrap_or_default();
                        } else {
                            rec.properties.insert(p.name.clone(), p.live.clone());
                        }
                    }
                }
            }
            Status::InSync => {}
        }
    }
    st
}

fn cell(v: &Value) -> String {
    v.to_string().replace('|', "\\|")
}

/// What a reader needs of a drifted property, as (recorded, live) cells: for maps only the keys
/// that differ (`team: "support"` -> `team: (absent)`), for lists only the items removed and
/// added; other values whole. The JSON report keeps both values whole.
fn delta_cells(recorded: &Value, live: &Value) -> (String, String) {
    match (recorded, live) {
        (Value::Map(a), Value::Map(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            let side = |m: &crate::value::Props| {
                keys.iter()
                    .filter(|k| a.get(**k) != b.get(**k))
                    .map(|k| format!("{k}: {}", m.get(*k).map_or_else(|| "(absent)".to_owned(), Value::to_string)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            (side(a).replace('|', "\\|"), side(b).replace('|', "\\|"))
        }
        (Value::List(a), Value::List(b)) => {
            let only = |x: &[Value], y: &[Value], sign: &str| {
                let items: Vec<String> = x.iter().filter(|v| !y.contains(v)).map(|v| format!("{sign} {v}")).collect();
                if items.is_empty() { "(none)".to_owned() } else { items.join("<br>").replace('|', "\\|") }
            };
            (only(a, b, "−"), only(b, a, "+"))
        }
        _ => (cell(recorded), cell(live)),
    }
}

/// A Markdown summary fit for a CI job summary or a pull-request comment.
pub fn markdown(r: &Report) -> String {
    let mut out = format!("## rprov drift: `{}`\n\n", r.stack);
    if !r.has_drift() {
        out += "No drift: AWS matches what rprov last applied.\n";
    } else {
        out += &format!("**{} changed, {} missing, {} unmanaged.**\n\n", r.changed(), r.missing(), r.unmanaged.len());
        out +=
            "| resource | type | physical id | drift | property | recorded | live |\n|---|---|---|---|---|---|---|\n";
        for res in &r.resources {
            match &res.status {
                Status::InSync => {}
                Status::Missing => {
                    out += &format!("| `{}` | {} | `{}` | missing | | | |\n", res.id, res.kind, res.physical_id)
                }
                Status::Changed { properties } => {
                    for p in properties {
                        let what = if p.ignored { "changed (ignored)" } else { "changed" };
                        let (recorded, live) = delta_cells(&p.recorded, &p.live);
                        out += &format!(
                            "| `{}` | {} | `{}` | {what} | `{}` | {} | {} |\n",
                            res.id, res.kind, res.physical_id, p.name, recorded, live
                        );
                    }
                }
            }
        }
        for u in &r.unmanaged {
            out += &format!(
                "| {} | {} | `{}` | unmanaged | | | |\n",
                u.id.as_deref().map_or_else(|| "(no rprov:id)".to_owned(), |id| format!("`{id}`")),
                u.kind,
                u.physical_id
            );
        }
        out += "\nMaps show only the keys that differ, lists only the items removed (−) and added (+); \
                `rprov drift --json` has the values whole. `rprov apply` restores what rprov manages; \
                unmanaged resources stay until deleted (`rprov teardown`) or recorded.\n";
    }
    if r.stack_file_has_unapplied_changes {
        out += "\n_The stack file also has changes that were never applied (not drift; see `rprov plan`)._\n";
    }
    out
}

/// Live resources synthesised from state: what a plan would see if nothing had drifted. Used to
/// tell "the stack file asks for changes" apart from drift.
pub fn recorded_as_live(state: &State) -> LiveSet {
    let mut set: LiveSet = BTreeMap::<String, Vec<Live>>::new().into_iter().collect();
    for rec in state.resources.values() {
        set.entry(rec.kind.clone()).or_default().push(Live {
            physical_id: rec.physical_id.clone(),
            props: rec.properties.clone(),
            attrs: rec.attributes.clone(),
            tags: rec.tags.clone(),
        });
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Value {
        Value::Map(pairs.iter().map(|(k, v)| (k.to_string(), Value::str(*v))).collect())
    }

    #[test]
    fn markdown_cells_show_only_what_differs() {
        let (rec, live) = delta_cells(&map(&[("team", "support"), ("env", "prod")]), &map(&[("env", "prod")]));
        assert_eq!((rec.as_str(), live.as_str()), ("team: \"support\"", "team: (absent)"));
        let (rec, live) = delta_cells(
            &Value::List(vec![Value::Int(1), Value::Int(2)]),
            &Value::List(vec![Value::Int(2), Value::Int(3)]),
        );
        assert_eq!((rec.as_str(), live.as_str()), ("− 1", "+ 3"));
        let (rec, live) = delta_cells(&Value::List(vec![]), &Value::List(vec![Value::str("a|b")]));
        assert_eq!((rec.as_str(), live.as_str()), ("(none)", "+ \"a\\|b\""));
        assert_eq!(delta_cells(&Value::Int(2), &Value::Int(5)), ("2".to_owned(), "5".to_owned()));
    }
}
