//! Teardown without state: which of the resources found by their tags are deleted, in which
//! order, and the report. No I/O here: the CLI discovers (the Resource Groups Tagging API plus
//! each kind's batched describe) and deletes through the executor, as `destroy` does.
//!
//! What is deleted ([`select`]), decided here only: a resource with tags of its own is deleted
//! when they match the whole filter (every `--tag`, and `--stack`); a resource without tags of
//! its own (its kind cannot carry any, or it carries none) only together with the resource it
//! belongs to ([`KindSpec::owner`](crate::spec::KindSpec::owner): a mount target with its file system,
//! a record with its zone, a scalable target with its service). What matched is grouped by
//! instance ([`InstanceKey`]: stack, lineage, region): two deployments of one stack name carry
//! two lineages, and the CLI refuses to take both unless asked to.
//!
//! Order: a resource is deleted before everything it holds on to. What it holds is read from
//! live values (its properties or attributes name the other's physical id or ARN: subnet ->
//! VPC, mount target -> file system, service -> target group) and, where live values do not
//! tell (a mount target read without its security groups, an alias record naming a DNS name),
//! from what its kind may hold within the same instance ([`KindSpec::holds`](crate::spec::KindSpec::holds)).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::model::{ATTR_CREATED, Live, TAG_ID, TAG_LINEAGE, TAG_STACK, Tags};
use crate::plan::{Action, Change, Plan};
use crate::spec::Catalog;
use crate::stack::{Source, Stack};
use crate::state::{ResourceState, State};
use crate::value::Value;

/// Set by hand (or by a pipeline) on resources whose API reports no creation time.
pub const TAG_CREATED: &str = "rprov:created";

pub const FORMAT_VERSION: u32 = 1;

/// `--tag KEY=VALUE`; several are ANDed. Neither part may be empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TagFilter {
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for TagFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<TagFilter, String> {
        let Some((k, v)) = s.split_once('=') else {
            return Err(format!("`{s}`: expected KEY=VALUE"));
        };
        if k.trim().is_empty() {
            return Err(format!("`{s}`: expected KEY=VALUE with a non-empty key"));
        }
        // An empty value is nearly always a variable that was not set (`--tag team=$TEAM`); a
        // filter on it would select by the key alone, so across every team.
        if v.trim().is_empty() {
            return Err(format!(
                "`{s}`: the value is empty; expected KEY=VALUE with the value the resources carry (teardown never matches by a key alone)"
            ));
        }
        Ok(TagFilter { key: k.trim().to_owned(), value: v.to_owned() })
    }
}

impl TagFilter {
    pub fn stack(name: &str) -> TagFilter {
        TagFilter { key: TAG_STACK.into(), value: name.into() }
    }
    fn matches(&self, tags: &Tags) -> bool {
        tags.get(&self.key) == Some(&self.value)
    }
}

/// One resource found by a kind's describe, on behalf of one stack, in one region. Its
/// `live.tags` are its own: what the describe reported, completed by the Tagging API where the
/// describe reports none; empty for a resource that carries none.
#[derive(Clone, Debug)]
pub struct Found {
    pub region: String,
    pub stack: String,
    pub kind: &'static str,
    pub live: Live,
}

impl Found {
    fn identities(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.live.physical_id.as_str()).chain(self.arn())
    }
    pub fn arn(&self) -> Option<&str> {
        self.live.attrs.get("arn").and_then(Value::as_str).filter(|a| !a.is_empty())
    }
    /// When AWS says it was created, else its `rprov:created` tag.
    pub fn created(&self) -> Option<SystemTime> {
        let text = self.live.attrs.get(ATTR_CREATED).and_then(Value::as_str).or(self
            .live
            .tags
            .get(TAG_CREATED)
            .map(String::as_str))?;
        humantime::parse_rfc3339_weak(text).ok()
    }
    /// Its own tags; `None` when it has none (its kind cannot carry tags, or it carries none
    /// that its describe or the Tagging API reported).
    fn own_tags(&self) -> Option<&Tags> {
        Some(&self.live.tags).filter(|t| !t.is_empty())
    }
    /// What a resource without tags of its own belongs to, as its kind reads it.
    fn owner_ref(&self, kinds: &dyn Catalog) -> Option<String> {
        match self.own_tags() {
            Some(_) => None,
            None => kinds.spec(self.kind)?.owner(&self.live),
        }
    }
}

/// An ARN's resource part: `service/c/s` of `arn:aws:ecs:r:1:service/c/s`.
pub fn arn_resource(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?.splitn(5, ':').nth(4)
}

/// For each resource without tags of its own, the index of the resource it belongs to
/// ([`KindSpec::owner`](crate::spec::KindSpec::owner)) among those found in its region, if found.
/// Such a resource takes its owner's stack: it was read on behalf of a stack through its owner
/// or by a name prefix, which another stack's name may share (`app-` of `app-web`).
pub fn settle_owners(kinds: &dyn Catalog, found: &mut [Found]) -> Vec<Option<usize>> {
    let mut by_identity: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        for id in f.identities() {
            by_identity.entry((f.region.as_str(), id)).or_insert(i);
            if let Some(part) = arn_resource(id) {
                by_identity.entry((f.region.as_str(), part)).or_insert(i);
            }
        }
    }
    let owners: Vec<Option<usize>> = found
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let r = f.owner_ref(kinds)?;
            by_identity.get(&(f.region.as_str(), r.as_str())).copied().filter(|&o| o != i)
        })
        .collect();
    for (i, o) in owners.iter().enumerate() {
        if let Some(o) = *o {
            found[i].stack = found[o].stack.clone();
        }
    }
    owners
}

/// One deployment: a stack name and lineage (one state file's), in one region. `lineage` is
/// `None` for resources made before rprov tagged lineages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceKey {
    pub stack: String,
    pub lineage: Option<String>,
    pub region: String,
}

/// The instance of each resource: its own tags', or, without tags, its owner's (`None` when it
/// has no owner found).
fn instances_of(found: &[Found], owners: &[Option<usize>]) -> Vec<Option<InstanceKey>> {
    (0..found.len())
        .map(|i| {
            let mut j = i;
            for _ in 0..=found.len() {
                let f = &found[j];
                if f.own_tags().is_some() {
                    return Some(InstanceKey {
                        stack: f.stack.clone(),
                        lineage: f.live.lineage().map(str::to_owned),
                        region: f.region.clone(),
                    });
                }
                j = owners[j]?;
            }
            None
        })
        .collect()
}

/// An instance as the report shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Instance {
    pub stack: String,
    /// `null`: made by an rprov that did not tag lineages.
    pub lineage: Option<String>,
    pub region: String,
    /// How many of its resources matched the filter.
    pub resources: usize,
    /// When its oldest resource was created (RFC 3339), where AWS or `rprov:created` tells.
    pub oldest: Option<String>,
}

impl Instance {
    pub fn lineage_label(&self) -> &str {
        self.lineage.as_deref().unwrap_or("(none)")
    }
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Str(s) => out.push(s),
        Value::List(l) => l.iter().for_each(|x| strings(x, out)),
        Value::Map(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// `before[i]`: the resources that must be deleted before `i` (they hold on to it). Static
/// kind relations within one instance first; then what each untagged resource belongs to
/// (`owners`, from [`settle_owners`]); then every live relation that does not contradict them (a
/// cycle, e.g. two security groups naming each other, keeps the first relation found).
pub fn order(kinds: &dyn Catalog, found: &[Found], owners: &[Option<usize>]) -> Vec<Vec<usize>> {
    let n = found.len();
    let instance = instances_of(found, owners);
    // holds[a] = resources a holds on to (a goes first).
    let mut holds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (a, fa) in found.iter().enumerate() {
        for (b, fb) in found.iter().enumerate() {
            if a != b && instance[a].is_some() && instance[a] == instance[b] && kinds.holds(fa.kind, fb.kind) {
                holds[a].insert(b);
            }
        }
    }
    for (a, owner) in owners.iter().enumerate() {
        if let Some(b) = *owner
            && !reaches(&holds, b, a)
        {
            holds[a].insert(b);
        }
    }
    let mut by_identity: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, f) in found.iter().enumerate() {
        for id in f.identities() {
            by_identity.entry((f.region.as_str(), id)).or_default().push(i);
        }
    }
    for (a, fa) in found.iter().enumerate() {
        let own: BTreeSet<&str> = fa.identities().collect();
        let mut mentioned = Vec::new();
        fa.live.props.values().chain(fa.live.attrs.values()).for_each(|v| strings(v, &mut mentioned));
        for s in mentioned.into_iter().filter(|s| !own.contains(s)) {
            for &b in by_identity.get(&(fa.region.as_str(), s)).into_iter().flatten() {
                if b != a && !holds[a].contains(&b) && !reaches(&holds, b, a) {
                    holds[a].insert(b);
                }
            }
        }
    }
    let mut before = vec![Vec::new(); n];
    for (a, held) in holds.iter().enumerate() {
        for &b in held {
            before[b].push(a);
        }
    }
    before
}

fn reaches(holds: &[BTreeSet<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; holds.len()];
    let mut todo = vec![from];
    while let Some(x) = todo.pop() {
        if x == to {
            return true;
        }
        if !std::mem::replace(&mut seen[x], true) {
            todo.extend(holds[x].iter().copied());
        }
    }
    false
}

/// Deletion waves of `subset` (each wave only needs the ones before it gone), for display; the
/// executor itself starts each resource as soon as its own predecessors are deleted.
pub fn waves(before: &[Vec<usize>], subset: &[usize]) -> Vec<Vec<usize>> {
    let set: BTreeSet<usize> = subset.iter().copied().collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    while done.len() < set.len() {
        let wave: Vec<usize> = set
            .iter()
            .copied()
            .filter(|i| !done.contains(i) && before[*i].iter().all(|p| !set.contains(p) || done.contains(p)))
            .collect();
        if wave.is_empty() {
            // Unreachable for the DAG `order` builds; never loop forever on a bug.
            out.push(set.iter().copied().filter(|i| !done.contains(i)).collect());
            break;
        }
        done.extend(wave.iter().copied());
        out.push(wave);
    }
    out
}

/// What is deleted and what is kept (with why), by index into the found resources.
#[derive(Debug, Default, PartialEq)]
pub struct Selection {
    pub delete: Vec<usize>,
    /// Matched the filter, but kept.
    pub skipped: Reasons,
    /// Found among the stacks' resources but not matching the filter: kept.
    pub unmatched: Reasons,
    /// The instances of what matched, by stack, lineage and region.
    pub instances: Vec<Instance>,
}

/// Which resources the filter takes (every `--tag`): one with tags of its own when they match
/// the whole filter; one without, when the resource it belongs to is taken (followed through
/// owners without tags to one with). For the others, why not.
pub fn matching(
    kinds: &dyn Catalog,
    found: &[Found],
    owners: &[Option<usize>],
    filters: &[TagFilter],
) -> (Vec<bool>, BTreeMap<usize, String>) {
    let n = found.len();
    let mut matched = vec![false; n];
    let mut why_not: BTreeMap<usize, String> = BTreeMap::new();
    for (i, f) in found.iter().enumerate() {
        let Some(tags) = f.own_tags() else { continue };
        match filters.iter().find(|t| !t.matches(tags)) {
            None => matched[i] = true,
            Some(t) => {
                let has = tags.get(&t.key).map_or("no such tag".to_owned(), |v| format!("`{}={v}`", t.key));
                why_not.insert(i, format!("its tags do not match the filter: `{}={}` wanted, {has}", t.key, t.value));
            }
        }
    }
    // Without tags: as its owner, which may itself be untagged (followed to a tagged one).
    let owner_of = |i: usize| -> Option<usize> {
        let mut j = owners[i]?;
        for _ in 0..n {
            if found[j].own_tags().is_some() {
                return Some(j);
            }
            j = owners[j]?;
        }
        None
    };
    for (i, f) in found.iter().enumerate().filter(|(_, f)| f.own_tags().is_none()) {
        match (owner_of(i), f.owner_ref(kinds)) {
            (Some(o), _) if matched[o] => matched[i] = true,
            (Some(o), _) => {
                let owner = &found[o];
                why_not.insert(
                    i,
                    format!(
                        "it has no tags of its own and goes only with {} {}, which does not match the filter",
                        owner.kind, owner.live.physical_id
                    ),
                );
            }
            (None, Some(r)) => {
                why_not.insert(i, format!("it has no tags of its own and goes only with {r}, which was not found"));
            }
            (None, None) => {
                why_not.insert(
                    i,
                    "it has no tags of its own and belongs to nothing rprov deletes: nothing shows whose it is".into(),
                );
            }
        }
    }

    (matched, why_not)
}

/// The one decision of what goes. A resource with tags of its own matches when they match every
/// filter (`rprov:stack` included: the describe that found it is no proof, a name prefix is not
/// ownership). A resource without tags of its own matches only with the resource it belongs to
/// (`owners`, from [`settle_owners`]), and is kept whenever that one is. With `older_than`, an
/// instance goes as a whole or not at all: its age is that of its oldest resource with a known
/// creation time (a deployment is as old as its first resource; resources added by later
/// applies go with it), and an instance with no known creation time is kept. Finally, a
/// resource still held by something that is not deleted is kept: deleting it would only meet
/// "in use" until the deadline.
pub fn select(
    kinds: &dyn Catalog,
    found: &[Found],
    owners: &[Option<usize>],
    before: &[Vec<usize>],
    filters: &[TagFilter],
    older_than: Option<Duration>,
    now: SystemTime,
) -> Selection {
    let n = found.len();
    let instance = instances_of(found, owners);
    let (matched, mut why_not) = matching(kinds, found, owners, filters);
    let mut oldest: BTreeMap<&InstanceKey, SystemTime> = BTreeMap::new();
    for (f, key) in found.iter().zip(&instance) {
        if let (Some(t), Some(key)) = (f.created(), key) {
            let e = oldest.entry(key).or_insert(t);
            *e = (*e).min(t);
        }
    }
    let mut counts: BTreeMap<&InstanceKey, usize> = BTreeMap::new();
    for key in (0..n).filter(|&i| matched[i]).filter_map(|i| instance[i].as_ref()) {
        *counts.entry(key).or_default() += 1;
    }
    let instances = counts
        .iter()
        .map(|(key, &resources)| Instance {
            stack: key.stack.clone(),
            lineage: key.lineage.clone(),
            region: key.region.clone(),
            resources,
            oldest: oldest.get(key).map(|t| humantime::format_rfc3339_seconds(*t).to_string()),
        })
        .collect();

    let mut keep: BTreeMap<usize, String> = BTreeMap::new();
    if let Some(min_age) = older_than {
        for i in (0..n).filter(|&i| matched[i]) {
            let Some(key) = instance[i].as_ref() else { continue };
            let what = match &key.lineage {
                Some(l) => format!("stack `{}` (lineage {l})", key.stack),
                None => format!("stack `{}` (no lineage)", key.stack),
            };
            match oldest.get(key) {
                None => {
                    keep.insert(
                        i,
                        format!(
                            "age unknown: no resource of {what} reports a creation time or carries `{TAG_CREATED}`"
                        ),
                    );
                }
                Some(t) => {
                    let age = now.duration_since(*t).unwrap_or_default();
                    if age < min_age {
                        keep.insert(
                            i,
                            format!(
                                "{what} is {} old, younger than --older-than {}",
                                humantime::format_duration(Duration::from_secs(age.as_secs())),
                                humantime::format_duration(min_age)
                            ),
                        );
                    }
                }
            }
        }
    }
    // Held by something that stays, or belonging to something kept: kept too, and so is what
    // it holds in turn.
    loop {
        let mut changed = false;
        for i in 0..n {
            if !matched[i] || keep.contains_key(&i) {
                continue;
            }
            if let Some(&h) = before[i].iter().find(|&&h| !matched[h] || keep.contains_key(&h)) {
                let who = &found[h];
                let why = if matched[h] { "is kept" } else { "does not match the filter" };
                keep.insert(
                    i,
                    format!("still used by {} {} ({}), which {why}", who.kind, who.live.physical_id, label(who)),
                );
                changed = true;
            } else if let Some(o) = owners[i].filter(|o| keep.contains_key(o)) {
                let owner = &found[o];
                keep.insert(i, format!("it goes only with {} {}, which is kept", owner.kind, owner.live.physical_id));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut sel = Selection { instances, ..Selection::default() };
    for (i, &matched) in matched.iter().enumerate() {
        if !matched {
            sel.unmatched.push((i, why_not.remove(&i).unwrap_or_default()));
        } else if let Some(why) = keep.remove(&i) {
            sel.skipped.push((i, why));
        } else {
            sel.delete.push(i);
        }
    }
    sel
}

/// Why a teardown that matched several instances of one stack name refuses (without
/// `--all-instances`): each is a deployment with its own state, maybe another team's.
pub fn several_instances(instances: &[Instance]) -> Option<String> {
    let mut by_stack: BTreeMap<&str, BTreeSet<Option<&str>>> = BTreeMap::new();
    for i in instances {
        by_stack.entry(i.stack.as_str()).or_default().insert(i.lineage.as_deref());
    }
    let several: Vec<String> = by_stack
        .iter()
        .filter(|(_, lineages)| lineages.len() > 1)
        .map(|(stack, lineages)| {
            let names: Vec<&str> = lineages.iter().map(|l| l.unwrap_or("(none)")).collect();
            format!("stack `{stack}` matches {} deployments (lineages {})", lineages.len(), names.join(", "))
        })
        .collect();
    if several.is_empty() {
        return None;
    }
    let example = instances
        .iter()
        .find(|i| by_stack[i.stack.as_str()].len() > 1 && i.lineage.is_some())
        .and_then(|i| i.lineage.as_deref())
        .unwrap_or("<LINEAGE>");
    let none = by_stack.values().any(|l| l.len() > 1 && l.contains(&None));
    Some(format!(
        "{}: each is a deployment with its own state file, maybe another team's; nothing was deleted.\n  Pick one with --tag {TAG_LINEAGE}=<LINEAGE> (the `lineage` of its state file), e.g. --tag {TAG_LINEAGE}={example}, or pass --all-instances to delete every one{}",
        several.join("; "),
        if none { " (resources without a lineage, made by an older rprov, go only with --all-instances)" } else { "" }
    ))
}

fn label(f: &Found) -> String {
    format!("{}/{}", f.stack, f.live.logical_id().unwrap_or("?"))
}

/// A name per resource that is unique across the teardown (`stack/logical-id`, with the
/// physical id added where a logical id repeats: a duplicate left by an interrupted create).
pub fn keys(found: &[Found]) -> Vec<String> {
    let base: Vec<String> = found
        .iter()
        .map(|f| match f.live.logical_id() {
            Some(id) => format!("{}/{id}", f.stack),
            None => format!("{}/{}:{}", f.stack, f.kind, f.live.physical_id),
        })
        .collect();
    let mut count: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (f, b) in found.iter().zip(&base) {
        *count.entry((f.region.as_str(), b.as_str())).or_default() += 1;
    }
    let regions: BTreeSet<&str> = found.iter().map(|f| f.region.as_str()).collect();
    found
        .iter()
        .zip(&base)
        .map(|(f, b)| {
            let mut k = b.clone();
            if count[&(f.region.as_str(), b.as_str())] > 1 {
                k = format!("{k}[{}]", f.live.physical_id);
            }
            if regions.len() > 1 {
                k = format!("{}:{k}", f.region);
            }
            k
        })
        .collect()
}

/// The deletions as the executor takes them: a plan of deletes and a state recording, for each
/// resource, what it depends on (the executor deletes dependents first).
pub fn executor_input(found: &[Found], before: &[Vec<usize>], delete: &[usize], keys: &[String]) -> (Plan, State) {
    let set: BTreeSet<usize> = delete.iter().copied().collect();
    let mut state = State::new("teardown", found.first().map(|f| f.region.as_str()).unwrap_or_default());
    let mut changes = Vec::new();
    for &i in delete {
        let f = &found[i];
        changes.push(Change {
            id: keys[i].clone(),
            kind: f.kind.to_owned(),
            action: Action::Delete,
            physical_id: Some(f.live.physical_id.clone()),
            diffs: Vec::new(),
            reason: None,
            attrs: f.live.attrs.clone(),
            unchanged: 0,
        });
    }
    for &i in delete {
        let f = &found[i];
        // `i` depends on whatever it holds on to: those are deleted after it.
        let depends_on =
            (0..found.len()).filter(|&b| set.contains(&b) && before[b].contains(&i)).map(|b| keys[b].clone()).collect();
        state.resources.insert(
            keys[i].clone(),
            ResourceState {
                kind: f.kind.to_owned(),
                physical_id: f.live.physical_id.clone(),
                properties: f.live.props.clone(),
                attributes: f.live.attrs.clone(),
                tags: f.live.tags.clone(),
                depends_on,
            },
        );
    }
    let plan = Plan {
        stack: "teardown".into(),
        lineage: None,
        serial: None,
        changes,
        unmanaged: Vec::new(),
        other_deployments: Default::default(),
        outputs: BTreeMap::new(),
        imports: BTreeMap::new(),
    };
    (plan, state)
}

/// A resource the Tagging API lists with the filter's tags.
#[derive(Clone, Debug)]
pub struct Tagged {
    pub region: String,
    pub arn: String,
    pub tags: Tags,
}

fn same_resource(arn: &str, f: &Found) -> bool {
    let arn = arn.trim_end_matches(":*");
    let pid = f.live.physical_id.as_str();
    f.arn().is_some_and(|a| a.trim_end_matches(":*") == arn)
        || arn == pid
        || arn.ends_with(&format!("/{pid}"))
        || arn.ends_with(&format!(":{pid}"))
        || (pid.starts_with('/') && arn.ends_with(pid))
}

/// Completes a found resource's tags with what the Tagging API lists for it (`index`: the
/// resources of its stack there), where its describe could not report them: a describe reports
/// a resource's tags whole, or none (log groups, alarms), or only the `rprov:stack` its filter
/// proves (SSM parameters). Tags a describe reported are never added to: the Tagging API is
/// eventually consistent, and a tag removed a minute ago may still be listed. AWS's own `aws:`
/// tags are left out.
pub fn complete_tags(kinds: &dyn Catalog, f: &mut Found, index: &[Tagged]) {
    if f.live.tags.keys().any(|k| k != TAG_STACK) {
        return;
    }
    // Of its own kind: a log group and an SSM parameter may share a name.
    let ours =
        |t: &&Tagged| t.region == f.region && kinds.kind_of_arn(&t.arn) == Some(f.kind) && same_resource(&t.arn, f);
    let Some(t) = index.iter().find(ours) else { return };
    for (k, v) in t.tags.iter().filter(|(k, _)| !k.starts_with("aws:")) {
        f.live.tags.insert(k.clone(), v.clone());
    }
}

/// Indexes with why.
pub type Reasons = Vec<(usize, String)>;

/// What the Tagging API lists that no kind's describe found: `(index, reason, deletable kind)`.
/// Of a type rprov manages, it is gone already (the Tagging API lists deleted NAT gateways and
/// inactive clusters for a while); a part of a resource of a kind ([`KindSpec::parts`](crate::spec::KindSpec::parts): an
/// instance's root volume) goes with it; of another type, rprov cannot delete it.
pub fn tagged_only(kinds: &dyn Catalog, found: &[Found], tagged: &[Tagged]) -> (Reasons, Reasons) {
    let mut gone = Vec::new();
    let mut foreign = Vec::new();
    for (i, t) in tagged.iter().enumerate() {
        if found.iter().any(|f| f.region == t.region && same_resource(&t.arn, f)) {
            continue;
        }
        match (kinds.kind_of_arn(&t.arn), kinds.kind_with_part(&t.arn)) {
            (Some(kind), _) => gone.push((
                i,
                format!("listed by the Tagging API but not by the {kind} describe: already deleted or inactive"),
            )),
            (None, Some(kind)) => {
                gone.push((i, format!("part of {}: deleted with it", crate::spec::rules::a_kind(kind))))
            }
            (None, None) => foreign.push((i, "a resource type rprov does not manage; delete it yourself".to_owned())),
        }
    }
    (gone, foreign)
}

/// One line of the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Entry {
    pub key: String,
    pub region: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub physical_id: String,
    pub stack: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    pub tags: Tags,
    /// Seconds since creation, where known.
    pub age_s: Option<u64>,
    pub retries: usize,
    pub reason: Option<String>,
}

impl Entry {
    pub fn of(f: &Found, key: &str, now: SystemTime) -> Entry {
        Entry {
            key: key.to_owned(),
            region: f.region.clone(),
            kind: Some(f.kind.to_owned()),
            physical_id: f.live.physical_id.clone(),
            stack: Some(f.stack.clone()),
            id: f.live.logical_id().map(str::to_owned),
            name: f.live.attrs.get("name").and_then(Value::as_str).map(str::to_owned),
            tags: f.live.tags.clone(),
            age_s: f.created().and_then(|t| now.duration_since(t).ok()).map(|d| d.as_secs()),
            retries: 0,
            reason: None,
        }
    }
    pub fn tagged(kinds: &dyn Catalog, t: &Tagged, reason: String) -> Entry {
        Entry {
            key: t.arn.clone(),
            region: t.region.clone(),
            kind: kinds.kind_of_arn(&t.arn).map(str::to_owned),
            physical_id: t.arn.clone(),
            stack: t.tags.get(TAG_STACK).cloned(),
            id: t.tags.get(TAG_ID).cloned(),
            name: None,
            tags: t.tags.clone(),
            age_s: None,
            retries: 0,
            reason: Some(reason),
        }
    }
    pub fn because(mut self, reason: impl Into<String>) -> Entry {
        self.reason = Some(reason.into());
        self
    }
}

/// `teardown --json`: versioned, stable for scripts.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub account: Option<String>,
    /// The accounts `--account` allowed (the credentials' one among them).
    pub allowed_accounts: Vec<String>,
    pub regions: Vec<String>,
    pub filters: Vec<TagFilter>,
    pub older_than: Option<String>,
    pub dry_run: bool,
    /// Deletion waves, by key: each wave needs only the earlier ones gone.
    pub order: Vec<Vec<String>>,
    /// What matched and is (or, in a dry run, would be) deleted.
    pub planned: Vec<Entry>,
    pub deleted: Vec<Entry>,
    /// Matched but kept, with why.
    pub skipped: Vec<Entry>,
    pub failed: Vec<Entry>,
    /// Listed by the Tagging API only, and already gone.
    pub ignored: Vec<Entry>,
    /// Found with the stacks' resources but not matching the filter (their tags, or, without
    /// tags, what they belong to), with why: kept, and no reason for a non-zero exit.
    pub not_matched: Vec<Entry>,
    /// The deployments of what matched: stack, lineage, region, how many resources, the oldest
    /// creation time.
    pub instances: Vec<Instance>,
    /// Set when nothing was deleted because one stack name matched several instances (see
    /// `--all-instances`).
    pub refused: Option<String>,
    pub retries: usize,
    pub wall_time_s: f64,
}

impl Report {
    /// Everything that matched is deleted (a dry run: nothing kept or failed).
    pub fn complete(&self) -> bool {
        self.skipped.is_empty() && self.failed.is_empty() && self.refused.is_none()
    }
}

/// The stack the executor is given for deletions that belong to no stack file.
pub fn empty_stack(kinds: &'static dyn Catalog, region: &str) -> Stack {
    Stack {
        kinds,
        name: "teardown".into(),
        region: region.to_owned(),
        tags: Default::default(),
        params: Default::default(),
        resources: Default::default(),
        outputs: Default::default(),
        imports: Default::default(),
        backend: None,
        accounts: Default::default(),
        source: Source::new("teardown", ""),
        inputs: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &dyn Catalog = &crate::kinds::KINDS;
    use crate::value::Props;

    /// A resource of stack `stack` tagged as rprov tags it (its kind permitting) plus `team=a`.
    fn found(stack: &str, kind: &'static str, id: &str, pid: &str, props: &[(&str, &str)]) -> Found {
        let mut tags = Tags::from([
            (TAG_STACK.to_owned(), stack.to_owned()),
            (TAG_ID.to_owned(), id.to_owned()),
            ("team".to_owned(), "a".to_owned()),
        ]);
        if K.spec(kind).is_some_and(|k| !k.schema().taggable) {
            tags.clear();
        }
        let props: Props = props.iter().map(|(k, v)| (k.to_string(), Value::str(*v))).collect();
        let attrs = Props::from([("id".to_owned(), Value::str(pid))]);
        Found {
            region: "us-east-1".into(),
            stack: stack.into(),
            kind,
            live: Live { physical_id: pid.into(), props, attrs, tags },
        }
    }

    fn lineage(mut f: Found, l: &str) -> Found {
        if !f.live.tags.is_empty() {
            f.live.tags.insert(TAG_LINEAGE.into(), l.into());
        }
        f
    }

    fn net() -> Vec<Found> {
        vec![
            found("a", "vpc", "vpc", "vpc-1", &[]),
            found("a", "subnet", "sub", "subnet-1", &[("vpc", "vpc-1")]),
            found("a", "security_group", "lb", "sg-1", &[("vpc", "vpc-1")]),
            found("a", "security_group", "app", "sg-2", &[("vpc", "vpc-1"), ("from", "sg-1")]),
            found("a", "file_system", "fs", "fs-1", &[]),
            found("a", "mount_target", "mt", "fsmt-1", &[("file_system", "fs-1"), ("subnet", "subnet-1")]),
            found("a", "log_group", "logs", "/rprov/a/logs", &[]),
        ]
    }

    fn names(found: &[Found], waves: Vec<Vec<usize>>) -> Vec<Vec<String>> {
        waves.into_iter().map(|w| w.into_iter().map(|i| found[i].live.physical_id.clone()).collect()).collect()
    }

    fn pids(found: &[Found], idx: impl IntoIterator<Item = usize>) -> Vec<&str> {
        idx.into_iter().map(|i| found[i].live.physical_id.as_str()).collect()
    }

    /// Owners, order and selection, as the CLI runs them.
    fn check(found: &mut [Found], filters: &[&str]) -> Selection {
        let filters: Vec<TagFilter> = filters.iter().map(|t| t.parse().unwrap()).collect();
        let owners = settle_owners(K, found);
        let before = order(K, found, &owners);
        select(K, found, &owners, &before, &filters, None, SystemTime::now())
    }

    fn why<'a>(found: &[Found], reasons: &'a Reasons, pid: &str) -> &'a str {
        reasons.iter().find(|(i, _)| found[*i].live.physical_id == pid).map_or("(not listed)", |(_, w)| w.as_str())
    }

    #[test]
    fn holds_table_names_real_kinds_and_has_no_cycle() {
        for k in K.specs() {
            let k = k.schema().name;
            for h in K.spec(k).unwrap().holds() {
                assert!(K.spec(h).is_some(), "{h}");
                assert!(!K.holds(h, k), "{k} <-> {h}");
            }
        }
    }

    #[test]
    fn order_from_live_relations_and_kind_fallback() {
        let mut f = net();
        let owners = settle_owners(K, &mut f);
        let before = order(K, &f, &owners);
        let all: Vec<usize> = (0..f.len()).collect();
        assert_eq!(
            names(&f, waves(&before, &all)),
            [vec!["fsmt-1", "/rprov/a/logs"], vec!["subnet-1", "sg-2", "fs-1"], vec!["sg-1"], vec!["vpc-1"]]
        );
    }

    #[test]
    fn mutual_references_do_not_make_a_cycle() {
        let mut f = net();
        f[2].live.props.insert("from".into(), Value::str("sg-2"));
        let owners = settle_owners(K, &mut f);
        let before = order(K, &f, &owners);
        let all: Vec<usize> = (0..f.len()).collect();
        let w = waves(&before, &all);
        assert_eq!(w.iter().map(Vec::len).sum::<usize>(), f.len());
        assert_eq!(w.last().unwrap(), &vec![0]);
    }

    #[test]
    fn cross_stack_use_keeps_what_is_used() {
        let mut f = net();
        // Stack b runs a load balancer in stack a's subnet; only stack a is torn down.
        f.push(found("b", "load_balancer", "alb", "arn:lb", &[("subnet", "subnet-1")]));
        let s = check(&mut f, &["rprov:stack=a"]);
        assert_eq!(pids(&f, s.skipped.iter().map(|s| s.0)), ["vpc-1", "subnet-1"]);
        assert!(s.skipped[1].1.contains("arn:lb"), "{:?}", s.skipped);
        assert_eq!(s.delete.len(), 5);
        assert!(why(&f, &s.unmatched, "arn:lb").contains("`rprov:stack=a` wanted, `rprov:stack=b`"), "{s:?}");
    }

    #[test]
    fn own_tags_must_match_every_filter() {
        let mut f = net();
        f[2].live.tags.insert("team".into(), "b".into());
        f[6].live.tags.remove("team");
        let s = check(&mut f, &["rprov:stack=a", "team=a"]);
        println!("kept: {:?}", s.unmatched);
        assert_eq!(pids(&f, s.unmatched.iter().map(|u| u.0)), ["sg-1", "/rprov/a/logs"]);
        assert!(why(&f, &s.unmatched, "sg-1").contains("`team=a` wanted, `team=b`"), "{s:?}");
        assert!(why(&f, &s.unmatched, "/rprov/a/logs").contains("`team=a` wanted, no such tag"), "{s:?}");
        // sg-2 names sg-1 (an ingress rule): it goes, sg-1 stays, and so does their VPC.
        assert_eq!(pids(&f, s.delete.iter().copied()), ["subnet-1", "sg-2", "fs-1", "fsmt-1"]);
        assert_eq!(pids(&f, s.skipped.iter().map(|s| s.0)), ["vpc-1"]);
        assert!(why(&f, &s.skipped, "vpc-1").contains("still used by security_group sg-1"), "{s:?}");
    }

    #[test]
    fn untagged_resources_go_only_with_a_deleted_owner() {
        let mut f = net();
        // A log group under the stack's name prefix, made by hand without tags: nothing shows
        // whose it is.
        let mut hand = found("a", "log_group", "x", "/rprov/a/by-hand", &[]);
        hand.live.tags.clear();
        f.push(hand);
        // A zone the stack created, a record in it; a scalable target of the stack's service
        // (named like its ARN's resource part).
        f.push(found("a", "hosted_zone", "zone", "Z1", &[]));
        f[8].live.tags = Tags::from([(TAG_STACK.to_owned(), "a".to_owned()), ("team".into(), "a".into())]);
        f.push(found("a", "dns_record", "-", "Z1/www.example.com./A", &[("zone", "Z1")]));
        let mut svc = found("a", "ecs_service", "svc", "arn:aws:ecs:us-east-1:1:service/a-c/a-web", &[]);
        svc.live.attrs.insert("arn".into(), Value::str("arn:aws:ecs:us-east-1:1:service/a-c/a-web"));
        f.push(svc);
        f.push(found("a", "autoscaling", "-", "service/a-c/a-web", &[("cluster", "a-c"), ("service", "a-web")]));
        // A mount target whose file system was not found (another's, or gone).
        f.push(found("a", "mount_target", "-", "fsmt-9", &[("file_system", "fs-9")]));

        let s = check(&mut f, &["team=a"]);
        println!("deleted: {:?}\nnot matched: {:?}", pids(&f, s.delete.iter().copied()), s.unmatched);
        for pid in ["fsmt-1", "Z1/www.example.com./A", "service/a-c/a-web"] {
            assert!(pids(&f, s.delete.iter().copied()).contains(&pid), "{pid} goes with its owner: {s:?}");
        }
        assert!(why(&f, &s.unmatched, "/rprov/a/by-hand").contains("no tags of its own"), "{s:?}");
        assert!(why(&f, &s.unmatched, "fsmt-9").contains("fs-9, which was not found"), "{s:?}");
        assert_eq!(s.unmatched.len(), 2);
        // The owner goes after what belongs to it.
        let owners = settle_owners(K, &mut f);
        let before = order(K, &f, &owners);
        assert!(before[10].contains(&11), "the service after its scalable target: {before:?}");
        assert!(before[8].contains(&9), "the zone after its record: {before:?}");

        // Owners that do not match: what belongs to them stays, and says why.
        let s = check(&mut f, &["team=b"]);
        assert!(s.delete.is_empty(), "{s:?}");
        assert!(why(&f, &s.unmatched, "fsmt-1").contains("goes only with file_system fs-1, which does not match"));

        // An owner kept (in use by another stack's access point): what belongs to it is kept too.
        let mut f = net();
        f.push(found("b", "access_point", "ap", "fsap-1", &[("file_system", "fs-1")]));
        let s = check(&mut f, &["rprov:stack=a"]);
        assert!(why(&f, &s.skipped, "fs-1").contains("still used by access_point fsap-1"), "{s:?}");
        assert!(why(&f, &s.skipped, "fsmt-1").contains("goes only with file_system fs-1, which is kept"), "{s:?}");
    }

    #[test]
    fn instances_by_stack_and_lineage() {
        // Two deployments of stack `a` (two state files), and one made before lineages.
        let mut f: Vec<Found> = net().into_iter().map(|x| lineage(x, "L1")).collect();
        f.extend(net().into_iter().map(|x| lineage(x, "L2")).map(|mut x| {
            x.live.physical_id.push('b');
            for v in x.live.props.values_mut().chain(x.live.attrs.values_mut()) {
                if let Value::Str(s) = v {
                    s.push('b');
                }
            }
            x
        }));
        f.push(found("a", "log_group", "old", "/rprov/a/old", &[]));
        let s = check(&mut f, &["rprov:stack=a"]);
        let seen: Vec<(Option<&str>, usize)> =
            s.instances.iter().map(|i| (i.lineage.as_deref(), i.resources)).collect();
        println!("instances: {seen:?}");
        // Each mount target is counted with its file system's deployment.
        assert_eq!(seen, [(None, 1), (Some("L1"), 7), (Some("L2"), 7)]);
        let refusal = several_instances(&s.instances).expect("refused");
        println!("{refusal}");
        assert!(refusal.contains("stack `a` matches 3 deployments (lineages (none), L1, L2)"), "{refusal}");
        assert!(refusal.contains("--tag rprov:lineage=L1") && refusal.contains("--all-instances"), "{refusal}");
        assert!(refusal.contains("go only with --all-instances"), "{refusal}");

        // One picked: all of it goes (kind relations do not reach into the other deployment),
        // the other stays, untouched.
        let s = check(&mut f, &["rprov:stack=a", "rprov:lineage=L1"]);
        assert_eq!(s.delete, (0..7).collect::<Vec<_>>(), "{s:?}");
        assert!(s.skipped.is_empty(), "{s:?}");
        assert_eq!(s.unmatched.len(), 8);
        assert!(several_instances(&s.instances).is_none());
        assert_eq!(s.instances.len(), 1);
    }

    #[test]
    fn older_than_decides_per_instance() {
        let now = SystemTime::now();
        let mut f = net();
        f.push(found("young", "log_group", "l", "/young/l", &[]));
        f.push(found("unknown", "log_group", "l", "/unknown/l", &[]));
        let at = |s: u64| Value::Str(humantime::format_rfc3339_seconds(now - Duration::from_secs(s)).to_string());
        f[6].live.attrs.insert(ATTR_CREATED.into(), at(3600));
        f[7].live.attrs.insert(ATTR_CREATED.into(), at(60));
        let owners = settle_owners(K, &mut f);
        let before = order(K, &f, &owners);
        let s = select(K, &f, &owners, &before, &["team=a".parse().unwrap()], Some(Duration::from_secs(600)), now);
        assert_eq!(s.delete.len(), 7, "{s:?}");
        let why: BTreeMap<&str, &str> = s.skipped.iter().map(|(i, w)| (f[*i].stack.as_str(), w.as_str())).collect();
        assert!(why["young"].contains("younger than"), "{why:?}");
        assert!(why["unknown"].contains("age unknown"), "{why:?}");
        let a = s.instances.iter().find(|i| i.stack == "a").unwrap();
        assert_eq!(a.oldest.as_deref(), f[6].live.attrs.get(ATTR_CREATED).and_then(Value::as_str));
    }

    #[test]
    fn keys_are_unique_and_plan_deletes_dependents_first() {
        let mut f = net();
        f.push(found("a", "vpc", "vpc", "vpc-9", &[]));
        let k = keys(&f);
        assert_eq!(k[0], "a/vpc[vpc-1]");
        assert_eq!(k[7], "a/vpc[vpc-9]");
        assert_eq!(k[1], "a/sub");
        let owners = settle_owners(K, &mut f);
        let before = order(K, &f, &owners);
        let all: Vec<usize> = (0..f.len()).collect();
        let (plan, state) = executor_input(&f, &before, &all, &k);
        assert_eq!(plan.changes.len(), 8);
        assert!(plan.changes.iter().all(|c| c.action == Action::Delete));
        assert_eq!(state.resources["a/sub"].depends_on, ["a/vpc[vpc-1]", "a/vpc[vpc-9]"]);
    }

    #[test]
    fn tagging_api_completes_tags_and_lists_extras_gone_or_foreign() {
        let f = net();
        let t = |arn: &str| Tagged { region: "us-east-1".into(), arn: arn.into(), tags: Tags::new() };
        let tagged = [
            t("arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"),
            t("arn:aws:logs:us-east-1:123456789012:log-group:/rprov/a/logs:*"),
            t("arn:aws:ec2:us-east-1:123456789012:natgateway/nat-1"),
            // A kind's ARN without a resource type: a bucket this teardown did not find.
            t("arn:aws:s3:::bucket"),
            t("arn:aws:sns:us-east-1:123456789012:topic"),
            // An instance's root volume, tagged with it: it goes with the instance.
            t("arn:aws:ec2:us-east-1:123456789012:volume/vol-1"),
        ];
        let (gone, foreign) = tagged_only(K, &f, &tagged);
        assert_eq!(gone.iter().map(|g| g.0).collect::<Vec<_>>(), [2, 3, 5]);
        assert_eq!(gone[2].1, "part of an instance: deleted with it");
        assert_eq!(foreign.iter().map(|g| g.0).collect::<Vec<_>>(), [4]);
        assert_eq!(K.kind_of_arn("arn:aws:elasticloadbalancing:r:1:loadbalancer/app/x/1"), Some("load_balancer"));

        // A log group's describe reports no tags; an SSM parameter of the same name is not it.
        let mut logs = found("a", "log_group", "logs", "/rprov/a/logs", &[]);
        logs.live.tags.clear();
        let listed = |arn: &str, id: &str| Tagged {
            region: "us-east-1".into(),
            arn: arn.into(),
            tags: Tags::from([
                (TAG_STACK.to_owned(), "a".to_owned()),
                (TAG_ID.to_owned(), id.to_owned()),
                ("aws:cloudformation:stack-name".to_owned(), "x".to_owned()),
            ]),
        };
        let index = [
            listed("arn:aws:ssm:us-east-1:1:parameter/rprov/a/logs", "param"),
            listed("arn:aws:logs:us-east-1:1:log-group:/rprov/a/logs:*", "logs"),
        ];
        complete_tags(K, &mut logs, &index);
        assert_eq!(
            logs.live.tags,
            Tags::from([(TAG_STACK.to_owned(), "a".into()), (TAG_ID.to_owned(), "logs".into())])
        );
        // A describe that reports tags is not second-guessed (`team` was just removed by hand).
        let mut vpc = found("a", "vpc", "vpc", "vpc-1", &[]);
        vpc.live.tags.remove("team");
        let before = vpc.live.tags.clone();
        let stale = Tagged {
            region: "us-east-1".into(),
            arn: "arn:aws:ec2:us-east-1:1:vpc/vpc-1".into(),
            tags: Tags::from([("team".to_owned(), "a".to_owned())]),
        };
        complete_tags(K, &mut vpc, &[stale]);
        assert_eq!(vpc.live.tags, before);
    }

    #[test]
    fn tag_filters_need_a_key_and_a_value() {
        for bad in ["=x", "novalue", "team=", "team=  ", " =x"] {
            let e = bad.parse::<TagFilter>().unwrap_err();
            assert!(e.contains("KEY=VALUE"), "{bad}: {e}");
        }
        assert!("team=".parse::<TagFilter>().unwrap_err().contains("the value is empty"));
        assert_eq!("k=v=w".parse::<TagFilter>(), Ok(TagFilter { key: "k".into(), value: "v=w".into() }));
        assert_eq!(" k =v".parse::<TagFilter>(), Ok(TagFilter { key: "k".into(), value: "v".into() }));
    }
}
