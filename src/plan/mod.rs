//! desired (stack) x recorded (state) x live (AWS) -> [`Plan`]: what to create, update,
//! replace, delete or adopt, property by property. Pure: no I/O.

mod render;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

pub use render::{COMMENT_LIMIT, comment_marker, property_change, render_human, render_json, render_markdown};

use crate::graph::Graph;
use crate::model::{Live, TAG_ID, Tags};
use crate::schema::{KindSchema, OnChange};
use crate::spec::KindSpec;
use crate::stack::{Ref, Resource, Stack};
use crate::state::{State, digest, digest_matches, is_digest};
use crate::value::{Props, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete the old resource, then create the new one.
    Replace,
    Delete,
    /// A resource that carries this stack's ownership tags but is not in state (a run that
    /// crashed between create and checkpoint), or one the stack says to take over
    /// (`adopt: true`): recorded, never created twice.
    Adopt,
    /// Something rprov did not create already holds the identity the resource would take (a
    /// record of that name and type made by hand): apply refuses the whole plan.
    Conflict,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropDiff {
    pub name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    #[serde(default)]
    pub forces_replacement: bool,
    #[serde(default)]
    pub secret: bool,
    /// For display only, where the property holds a secret in part (a secret param in one
    /// environment variable): the values with each leaf that holds one, and each earlier value
    /// that may have, kept from view (`delta::sensitive`). Without it a secret is shown whole
    /// as `(sensitive)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown: Option<Shown>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub action: Action,
    pub physical_id: Option<String>,
    pub diffs: Vec<PropDiff>,
    /// Why, where it is not obvious (recreated after deletion outside rprov, adopted, ...).
    pub reason: Option<String>,
    /// Attributes known now (existing resources), for references of resources after it.
    #[serde(default)]
    pub attrs: Props,
    /// How many properties of an update or replace stay as they are (shown as a count).
    #[serde(default)]
    pub unchanged: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub physical_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub stack: String,
    /// Lineage and serial of the state this plan was made against (none: no state yet).
    pub lineage: Option<String>,
    pub serial: Option<u64>,
    /// Deletes of resources no longer in the stack first, then everything else in graph order.
    pub changes: Vec<Change>,
    pub unmanaged: Vec<Unmanaged>,
    /// Resources tagged with the stack's name but another lineage (another deployment of the
    /// same stack name, with its own state), counted by lineage: never adopted, changed or
    /// deleted by this one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other_deployments: BTreeMap<String, usize>,
    pub outputs: BTreeMap<String, Value>,
    /// Values read from other stacks' states, by import alias: part of what was planned (a
    /// saved plan is stale once they change).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imports: BTreeMap<String, PlanImport>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanImport {
    pub stack: String,
    pub outputs: BTreeMap<String, Value>,
}

/// The imported values a stack was bound with.
pub fn imports_of(stack: &Stack) -> BTreeMap<String, PlanImport> {
    stack
        .imports
        .values()
        .map(|i| (i.alias.clone(), PlanImport { stack: i.stack.clone(), outputs: i.used.clone() }))
        .collect()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub adopt: usize,
    pub conflict: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::Adopt => s.adopt += 1,
                Action::Conflict => s.conflict += 1,
                Action::NoOp => {}
            }
        }
        s
    }
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }
}

pub use crate::model::LiveSet;

/// Resolves references against what is known: attributes of resources that exist and are not
/// being replaced. Everything else is "known after apply".
pub fn resolve_props(r: &Resource, attr: &dyn Fn(&Ref) -> Value) -> Props {
    r.props.iter().map(|(k, e)| (k.clone(), e.resolve(attr))).collect()
}

/// The values rprov compares and records for a resource: resolved, normalised by its kind,
/// lists without order sorted, and the full tag set in `tags`.
/// `lineage`: the state's (none before the stack has one).
pub fn desired_props(
    stack: &Stack,
    r: &Resource,
    lineage: Option<&str>,
    attr: &dyn Fn(&Ref) -> Value,
) -> (Props, Tags) {
    let mut props = resolve_props(r, attr);
    r.kind.normalise(&stack.name, &r.id, &mut props);
    let schema = r.kind.schema();
    canonical(schema, &mut props);
    let tags = stack.tags_for(&r.id, props.get("tags"), lineage);
    props.remove("tags");
    (props, tags)
}

/// Literal property values (no references) as the planner compares them: schema defaults filled
/// in, nested ones too, then the kind's `normalise` and `canonical`. What the loader and
/// `desired_props` do for a stack file, for values given directly (kind tests, tools).
pub fn compared_props(kind: &dyn KindSpec, stack: &str, id: &str, given: &Props) -> Props {
    fn fill(fields: &[crate::schema::Prop], m: &mut Props) {
        for f in fields {
            if let Some(d) = f.default {
                m.entry(f.name.to_owned()).or_insert_with(|| d.value());
            }
            match (f.ty, m.get_mut(f.name)) {
                (crate::schema::Ty::Obj(inner), Some(Value::Map(sub))) => fill(inner, sub),
                (crate::schema::Ty::List(crate::schema::Ty::Obj(inner)), Some(Value::List(items))) => {
                    for item in items {
                        if let Value::Map(sub) = item {
                            fill(inner, sub);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut p = given.clone();
    fill(kind.schema().props, &mut p);
    kind.normalise(stack, id, &mut p);
    canonical(kind.schema(), &mut p);
    p
}

/// Sorts the lists a schema marks unordered or keyed, at any depth, so `[b, a]` and `[a, b]`
/// compare equal.
pub fn canonical(schema: &KindSchema, props: &mut Props) {
    canonical_fields(schema.all_props(), props);
}

fn canonical_fields<'p>(fields: impl Iterator<Item = &'p crate::schema::Prop>, props: &mut Props) {
    for p in fields {
        if let Some(v) = props.get_mut(p.name) {
            canonical_value(p, v);
        }
    }
}

fn canonical_value(p: &crate::schema::Prop, v: &mut Value) {
    use crate::schema::Ty;
    match (p.ty, v) {
        (Ty::Obj(fields), Value::Map(m)) => canonical_fields(fields.iter(), m),
        (Ty::List(item), Value::List(l)) => {
            if let Ty::Obj(fields) = item {
                for i in l.iter_mut() {
                    if let Value::Map(m) = i {
                        canonical_fields(fields.iter(), m);
                    }
                }
            }
            // Unordered lists as the kinds' reads and `normalise` sort them (by text); keyed
            // ones by their keys.
            if p.unordered {
                l.sort_by_cached_key(|v| v.to_string());
            } else if !p.key.is_empty() {
                l.sort_by_cached_key(|v| (crate::delta::key_of(v, p.key), v.to_string()));
            }
        }
        _ => {}
    }
}

/// Where a property holds a secret param in part, what of it may be shown: see
/// [`PropDiff::shown`]. `secrets`: the values of the stack's secret params.
fn show_secrets(schema: &KindSchema, diffs: &mut [PropDiff], desired: &Props, current: &Props, secrets: &[String]) {
    for d in diffs.iter_mut().filter(|d| d.secret && !schema.prop(&d.name).is_some_and(|p| p.secret)) {
        let Some(after) = desired.get(&d.name).map(|v| crate::delta::mask(v, secrets)) else { continue };
        let before = current.get(&d.name).map(|b| {
            if is_digest(b) {
                crate::delta::sensitive(true)
            } else {
                crate::delta::mask_before(&crate::delta::mask(b, secrets), &after)
            }
        });
        d.shown = Some(Shown { before, after: Some(after) });
    }
}

/// The values of a stack's secret params, as text.
fn secret_values(stack: &Stack) -> Vec<String> {
    stack
        .params
        .values()
        .filter(|p| p.secret)
        .filter_map(|p| match &p.value {
            Value::Str(s) => Some(s.clone()),
            Value::Unknown | Value::Null => None,
            v => Some(v.to_string()),
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether a property's value is kept from view: secret by its kind's schema, or holding a
/// secret param (`Resource::sensitive`).
pub fn is_secret(schema: &KindSchema, sensitive: &BTreeSet<String>, name: &str) -> bool {
    sensitive.contains(name) || schema.prop(name).is_some_and(|p| p.secret)
}

/// The value of a property as compared and shown: secrets by digest (under the state's `key`).
fn compared(schema: &KindSchema, sensitive: &BTreeSet<String>, key: &str, name: &str, v: &Value) -> Value {
    if is_secret(schema, sensitive, name) && !v.has_unknown() && !is_digest(v) { digest(key, v) } else { v.clone() }
}

/// Per-property differences between what is (live, else recorded) and what should be. Secret
/// values appear in it as digests only, before and after; `key` is the state's digest key.
pub fn diff(
    schema: &KindSchema,
    sensitive: &BTreeSet<String>,
    key: &str,
    desired: &Props,
    desired_tags: &Tags,
    current: &Props,
    current_tags: &Tags,
) -> Vec<PropDiff> {
    let mut out = Vec::new();
    for (name, after) in desired {
        let secret = is_secret(schema, sensitive, name);
        let after_c = compared(schema, sensitive, key, name, after);
        let before = current.get(name);
        let same = match before {
            // A recorded digest (perhaps an unkeyed one of an older state) of the value given.
            Some(b) if secret && is_digest(b) && !after.has_unknown() && !is_digest(after) => {
                digest_matches(key, b, after)
            }
            Some(b) => compared(schema, sensitive, key, name, b).same(&after_c),
            None => after.is_null(),
        };
        if same {
            continue;
        }
        let prop = schema.prop(name);
        out.push(PropDiff {
            name: name.clone(),
            before: before.map(|b| compared(schema, sensitive, key, name, b)),
            after: Some(after_c),
            forces_replacement: prop.is_some_and(|p| p.on_change == OnChange::Replace),
            secret,
            shown: None,
        });
    }
    if schema.taggable && desired_tags != current_tags {
        out.push(PropDiff {
            name: "tags".into(),
            before: Some(tags_value(current_tags)),
            after: Some(tags_value(desired_tags)),
            forces_replacement: false,
            secret: false,
            shown: None,
        });
    }
    out
}

pub fn tags_value(t: &Tags) -> Value {
    Value::Map(t.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect())
}

/// What is known of one resource before the plan: its live copy, else its recorded copy.
/// Properties whose drift the stack accepts (`ignore_drift`, e.g. a desired count autoscaling
/// owns) count as recorded: apply changes them when the stack's value changes, and never just
/// to undo a change made in AWS.
fn current_of(
    live: Option<&Live>,
    recorded: Option<&crate::state::ResourceState>,
    accepted: &[String],
) -> (Props, Tags) {
    let mut props = recorded.map(|r| r.properties.clone()).unwrap_or_default();
    let mut tags = recorded.map(|r| r.tags.clone()).unwrap_or_default();
    if let Some(l) = live {
        // Live values win; what AWS cannot report stays as recorded.
        props.extend(l.props.clone());
        tags = l.tags.clone();
        for name in accepted {
            match recorded.and_then(|r| r.properties.get(name)) {
                Some(v) => {
                    props.insert(name.clone(), v.clone());
                }
                None if name == "tags" => tags = recorded.map(|r| r.tags.clone()).unwrap_or(tags),
                None => {}
            }
        }
    }
    (props, tags)
}

/// What already holds the identity of resources to create (see `kinds::find_occupants`), by
/// logical id.
pub type Occupied = HashMap<String, Live>;

pub fn plan(stack: &Stack, graph: &Graph, state: Option<&State>, live: &LiveSet) -> Plan {
    plan_with(stack, graph, state, live, &Occupied::new())
}

/// [`plan`], knowing what already holds the identity of resources to create: each is a
/// conflict, or adopted (`adopt: true`, or a kind that takes what exists, e.g. a looked-up zone).
pub fn plan_with(stack: &Stack, graph: &Graph, state: Option<&State>, live: &LiveSet, occupied: &Occupied) -> Plan {
    let empty = State::new(&stack.name, &stack.region);
    let st = state.unwrap_or(&empty);
    // Indexes: by physical id, and by ownership tags for adoption (plans of 10,000 resources
    // must not search lists).
    let by_pid: HashMap<(&str, &str), &Live> =
        live.iter().flat_map(|(k, ls)| ls.iter().map(move |l| ((k.as_str(), l.physical_id.as_str()), l))).collect();
    let lineage = Some(st.lineage.as_str()).filter(|_| state.is_some());
    let by_owner: HashMap<(&str, &str), &Live> = live
        .iter()
        .flat_map(|(k, ls)| ls.iter().map(move |l| (k, l)))
        .filter(|(_, l)| l.owned_by(&stack.name, lineage))
        .filter_map(|(k, l)| Some(((k.as_str(), l.logical_id()?), l)))
        .collect();
    let find_live = |kind: &str, pid: &str| by_pid.get(&(kind, pid)).copied();
    let in_state: std::collections::HashSet<&str> = st.resources.values().map(|r| r.physical_id.as_str()).collect();

    let mut changes: Vec<Change> = Vec::new();
    let mut adopted: std::collections::HashSet<(String, String)> = Default::default();
    // Attributes of resources that will still exist unchanged in identity after apply.
    // By logical id: the index of its change (whose `attrs` are the attributes) and the ones
    // an update makes unknown again. Not a copy: plans of 10,000 resources hold every attribute.
    let mut known: HashMap<String, (usize, Vec<&'static str>)> = HashMap::new();
    let known_attr = |known: &HashMap<String, (usize, Vec<&'static str>)>, changes: &[Change], rf: &Ref| match known
        .get(&rf.target)
    {
        Some((i, unknown)) if !unknown.contains(&rf.attr.as_str()) => {
            changes[*i].attrs.get(&rf.attr).cloned().unwrap_or(Value::Unknown)
        }
        _ => Value::Unknown,
    };

    // Resources that left the stack (or changed type): delete, dependents first.
    let mut deletes: Vec<Change> = Vec::new();
    for (id, rec) in &st.resources {
        let keep = stack.resources.get(id).is_some_and(|r| r.kind_name() == rec.kind);
        if keep {
            continue;
        }
        let gone = stack.kinds.spec(&rec.kind).is_some() && find_live(&rec.kind, &rec.physical_id).is_none();
        deletes.push(Change {
            id: id.clone(),
            kind: rec.kind.clone(),
            action: Action::Delete,
            physical_id: Some(rec.physical_id.clone()),
            diffs: vec![],
            reason: gone.then(|| "already gone from AWS; only the record is removed".into()),
            attrs: rec.attributes.clone(),
            unchanged: 0,
        });
    }
    order_deletes(&mut deletes, st);
    let secrets = secret_values(stack);

    for id in graph.order() {
        let r = &stack.resources[&id];
        let kind = r.kind_name();
        let schema = r.kind.schema();
        let recorded = st.resources.get(&id).filter(|rec| rec.kind == kind);
        let mut reason = None;
        let mut adopt = false;
        let existing: Option<&Live> = match recorded {
            Some(rec) => {
                let l = find_live(kind, &rec.physical_id);
                if l.is_none() {
                    reason = Some(format!("{} was deleted outside rprov", rec.physical_id));
                }
                l
            }
            None => {
                let tagged = by_owner.get(&(kind, id.as_str())).copied();
                if let Some(l) = tagged {
                    adopt = true;
                    adopted.insert((kind.to_owned(), l.physical_id.clone()));
                    reason = Some(format!("{} carries this stack's ownership tags; adopting it", l.physical_id));
                }
                tagged
            }
        };
        let lookup = |rf: &Ref| known_attr(&known, &changes, rf);
        let (desired, desired_tags) = desired_props(stack, r, lineage, &lookup);
        // Not ours, but where ours would go: something made outside rprov holds its identity.
        let occupant = match existing {
            None => occupied.get(&id).filter(|l| {
                // Made with this resource's own token (a hosted zone's caller reference, and the
                // ones derived from it): its create's, from a run that stopped before tagging or
                // recording it. Created again, the kind takes it back by that token.
                let token = st.create_token(&stack.name, &id);
                let ours = l
                    .attrs
                    .get(crate::model::ATTR_CREATION_TOKEN)
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with(&token));
                !in_state.contains(l.physical_id.as_str()) && !ours
            }),
            Some(_) => None,
        };
        let takes = r.adopt || r.kind.takes_existing(&desired);
        let existing = match (existing, occupant) {
            (None, Some(l)) if takes => {
                adopt = true;
                adopted.insert((kind.to_owned(), l.physical_id.clone()));
                reason = Some(if r.adopt {
                    format!("{} exists and was not made by rprov; adopting it (`adopt: true`)", l.physical_id)
                } else {
                    format!("{} exists; using it", l.physical_id)
                });
                Some(l)
            }
            (existing, _) => existing,
        };
        let change = match existing {
            None if occupant.is_some() => Change {
                id: id.clone(),
                kind: kind.into(),
                action: Action::Conflict,
                physical_id: occupant.map(|l| l.physical_id.clone()),
                diffs: vec![],
                reason: Some(format!(
                    "{} already exists and rprov did not create it: it is neither changed nor deleted. Add `adopt: true` to `{id}` to manage it, or choose another name",
                    occupant.map(|l| l.physical_id.as_str()).unwrap_or_default()
                )),
                attrs: Props::new(),
                unchanged: 0,
            },
            None => {
                let mut diffs =
                    diff(schema, &r.sensitive, &st.secret_key, &desired, &desired_tags, &Props::new(), &Tags::new());
                show_secrets(schema, &mut diffs, &desired, &Props::new(), &secrets);
                Change {
                    id: id.clone(),
                    kind: kind.into(),
                    action: Action::Create,
                    physical_id: None,
                    diffs,
                    reason,
                    attrs: Props::new(),
                    unchanged: 0,
                }
            }
            Some(l) => {
                let (mut current, current_tags) = current_of(Some(l), recorded, &r.ignore_drift);
                canonical(schema, &mut current);
                let mut diffs =
                    diff(schema, &r.sensitive, &st.secret_key, &desired, &desired_tags, &current, &current_tags);
                show_secrets(schema, &mut diffs, &desired, &current, &secrets);
                let unchanged = (desired.len() + usize::from(schema.taggable)).saturating_sub(diffs.len());
                let action = if diffs.iter().any(|d| d.forces_replacement) {
                    Action::Replace
                } else if !diffs.is_empty() {
                    Action::Update
                } else if adopt {
                    Action::Adopt
                } else {
                    Action::NoOp
                };
                let mut attrs = recorded.map(|r| r.attributes.clone()).unwrap_or_default();
                attrs.extend(l.attrs.clone());
                Change {
                    id: id.clone(),
                    kind: kind.into(),
                    action,
                    physical_id: Some(l.physical_id.clone()),
                    diffs,
                    reason,
                    attrs,
                    unchanged,
                }
            }
        };
        let mut change = change;
        // What the desired properties alone tell (an image's digest): known whatever the action.
        let predicted = r.kind.known_attrs(&desired);
        if matches!(change.action, Action::NoOp | Action::Update | Action::Adopt) {
            let mut unknown: &'static [&'static str] = &[];
            if change.action == Action::Update {
                let changed: Vec<String> = change.diffs.iter().map(|d| d.name.clone()).collect();
                unknown = r.kind.attrs_changed_by_update(&changed);
            }
            // An update's predicted attributes replace the recorded ones; otherwise the recorded
            // ones are what exists.
            let mut unknown: Vec<&'static str> = unknown.to_vec();
            if change.action == Action::Update {
                unknown.retain(|a| !predicted.contains_key(*a));
                change.attrs.extend(predicted);
            }
            known.insert(id.clone(), (changes.len(), unknown));
        } else if matches!(change.action, Action::Create | Action::Replace) && !predicted.is_empty() {
            // Only the predicted attributes are known: the others are not in `attrs`.
            change.attrs = predicted;
            known.insert(id.clone(), (changes.len(), Vec::new()));
        }
        changes.push(change);
    }

    let mut unmanaged: Vec<Unmanaged> = live
        .iter()
        .flat_map(|(kind, ls)| ls.iter().map(move |l| (kind, l)))
        .filter(|(kind, l)| {
            l.owned_by(&stack.name, lineage)
                && !in_state.contains(l.physical_id.as_str())
                && !adopted.contains(&((*kind).clone(), l.physical_id.clone()))
        })
        .map(|(kind, l)| Unmanaged {
            id: l.tags.get(TAG_ID).cloned(),
            kind: kind.clone(),
            physical_id: l.physical_id.clone(),
        })
        .collect();
    unmanaged.sort_by(|a, b| (&a.kind, &a.physical_id).cmp(&(&b.kind, &b.physical_id)));

    let lookup = |rf: &Ref| known_attr(&known, &changes, rf);
    let outputs = stack.outputs.iter().map(|(k, e)| (k.clone(), e.resolve(&lookup))).collect();
    deletes.extend(changes);
    Plan {
        stack: stack.name.clone(),
        lineage: state.map(|s| s.lineage.clone()),
        serial: state.map(|s| s.serial),
        changes: deletes,
        unmanaged,
        other_deployments: other_deployments(&stack.name, lineage, live),
        outputs,
        imports: imports_of(stack),
    }
}

/// By lineage, how many live resources carry stack `stack`'s name but not `lineage` (none: no
/// state yet, so every lineage is another deployment's).
pub fn other_deployments(stack: &str, lineage: Option<&str>, live: &LiveSet) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in live.values().flatten() {
        if l.stack() == Some(stack) && !l.owned_by(stack, lineage) {
            *out.entry(l.lineage().unwrap_or_default().to_owned()).or_default() += 1;
        }
    }
    out
}

/// Orders deletions so a resource goes after everything recorded as depending on it.
fn order_deletes(deletes: &mut [Change], st: &State) {
    let ids: Vec<String> = deletes.iter().map(|c| c.id.clone()).collect();
    let depth = |id: &str| -> usize {
        // Longest chain of dependents among the resources being deleted.
        fn walk(id: &str, st: &State, ids: &[String], seen: &mut Vec<String>) -> usize {
            if seen.iter().any(|s| s == id) {
                return 0;
            }
            seen.push(id.to_owned());
            st.resources
                .iter()
                .filter(|(d, r)| ids.contains(d) && r.depends_on.iter().any(|x| x == id))
                .map(|(d, _)| 1 + walk(d, st, ids, seen))
                .max()
                .unwrap_or(0)
        }
        walk(id, st, &ids, &mut vec![])
    };
    deletes.sort_by_key(|c| (depth(&c.id), c.id.clone()));
}

#[cfg(test)]
mod tests;
