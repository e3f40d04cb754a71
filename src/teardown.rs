//! Teardown without state: which of the resources found by their tags are deleted, in which
//! order, and the report. No I/O here: the CLI discovers (the Resource Groups Tagging API plus
//! each kind's batched describe) and deletes through the executor, as `destroy` does.
//!
//! Order: a resource is deleted before everything it holds on to. What it holds is read from
//! live values (its properties or attributes name the other's physical id or ARN: subnet ->
//! VPC, mount target -> file system, service -> target group) and, where live values do not
//! tell (a mount target read without its security groups, an alias record naming a DNS name),
//! from what its kind may hold within the same stack ([`HOLDS`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::Serialize;

use crate::kinds;
use crate::model::{ATTR_CREATED, Live, TAG_ID, TAG_STACK, Tags};
use crate::plan::{Action, Change, Plan};
use crate::stack::{Source, Stack};
use crate::state::{ResourceState, State};
use crate::store::{LockInfo, StateBackend, StateError};
use crate::value::Value;

/// Set by hand (or by a pipeline) on resources whose API reports no creation time.
pub const TAG_CREATED: &str = "rprov:created";

pub const FORMAT_VERSION: u32 = 1;

/// Which kinds a resource of a kind may hold on to, so must be deleted before, within one stack.
/// The AWS rules behind them: a subnet, security group or internet gateway stays busy while a
/// NAT gateway, load balancer, task or mount target (their ENIs) uses it; a NAT gateway holds its
/// Elastic IP until `deleted`; a gateway cannot be detached while public addresses are mapped in
/// the VPC; a target group, certificate or file system cannot go while a listener, service or
/// mount target uses it; a zone cannot go while it has records.
pub const HOLDS: &[(&str, &[&str])] = &[
    ("internet_gateway", &["vpc"]),
    ("subnet", &["vpc"]),
    ("elastic_ip", &["internet_gateway"]),
    ("nat_gateway", &["subnet", "elastic_ip"]),
    ("route_table", &["vpc", "subnet", "internet_gateway", "nat_gateway"]),
    ("security_group", &["vpc"]),
    ("load_balancer", &["subnet", "security_group", "internet_gateway"]),
    ("target_group", &["vpc"]),
    ("listener", &["load_balancer", "target_group", "certificate"]),
    ("certificate", &["hosted_zone"]),
    ("dns_record", &["hosted_zone", "load_balancer", "certificate"]),
    ("mount_target", &["file_system", "subnet", "security_group"]),
    ("access_point", &["file_system"]),
    ("task_definition", &["iam_role", "log_group", "file_system", "access_point", "ssm_parameter"]),
    ("ecs_service", &["ecs_cluster", "task_definition", "target_group", "listener", "subnet", "security_group"]),
    ("autoscaling", &["ecs_service", "ecs_cluster"]),
    ("alarm", &["target_group", "load_balancer"]),
];

fn kind_holds(a: &str, b: &str) -> bool {
    HOLDS.iter().any(|(k, held)| *k == a && held.contains(&b))
}

/// `--tag KEY=VALUE`; several are ANDed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TagFilter {
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for TagFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<TagFilter, String> {
        match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok(TagFilter { key: k.trim().to_owned(), value: v.to_owned() }),
            _ => Err(format!("`{s}`: expected KEY=VALUE with a non-empty key")),
        }
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

/// One resource found by a kind's describe, on behalf of one stack, in one region.
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
    /// Whether its tags are known: its kind carries tags and its describe reported them (every
    /// taggable resource rprov makes has `rprov:id`; a batched describe that cannot return tags,
    /// e.g. alarms listed by name, leaves them out).
    fn tags_known(&self) -> bool {
        kinds::kind(self.kind).is_some_and(|k| k.schema().taggable) && self.live.tags.contains_key(TAG_ID)
    }
    fn same_group(&self, other: &Found) -> bool {
        self.region == other.region && self.stack == other.stack
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
/// kind relations first; then every live relation that does not contradict them (a cycle,
/// e.g. two security groups naming each other, keeps the first relation found).
pub fn order(found: &[Found]) -> Vec<Vec<usize>> {
    let n = found.len();
    // holds[a] = resources a holds on to (a goes first).
    let mut holds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (a, fa) in found.iter().enumerate() {
        for (b, fb) in found.iter().enumerate() {
            if a != b && fa.same_group(fb) && kind_holds(fa.kind, fb.kind) {
                holds[a].insert(b);
            }
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
    pub skipped: Reasons,
}

/// Picks the resources matching every filter. A resource whose tags are not known (a mount
/// target, a DNS record, a scalable target cannot carry any; an alarm's are not in the batched
/// describe) goes with what it belongs to: it matches when something of its stack that it holds
/// on to matches, or, holding nothing, when anything of its stack matches. With `older_than`, a stack goes as a
/// whole or not at all: its age is that of its oldest resource with a known creation time (a
/// stack is as old as its first resource; resources added by later applies go with it), and a
/// stack with no known creation time is kept. Finally, a resource still held by something that
/// is not deleted is kept: deleting it would only meet "in use" until the deadline.
pub fn select(
    found: &[Found],
    before: &[Vec<usize>],
    filters: &[TagFilter],
    older_than: Option<Duration>,
    now: SystemTime,
) -> Selection {
    let n = found.len();
    // The stack a resource was read for is authoritative for `rprov:stack` (the describe found it
    // by that tag, by the stack's name prefix, or through its owner); other tags are compared
    // where they are known, and a resource whose tags are not known goes with its owner.
    let stack_ok = |f: &Found| filters.iter().filter(|t| t.key == TAG_STACK).all(|t| t.value == f.stack);
    let others: Vec<&TagFilter> = filters.iter().filter(|t| t.key != TAG_STACK).collect();
    let mut matched: Vec<bool> = found
        .iter()
        .map(|f| stack_ok(f) && (others.is_empty() || f.tags_known() && others.iter().all(|t| t.matches(&f.live.tags))))
        .collect();
    let mut holds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (b, bs) in before.iter().enumerate() {
        for &a in bs {
            holds[a].push(b);
        }
    }
    // One that holds nothing of its stack (a log group whose tags the describe left out) goes
    // with its stack: when anything of the stack matches.
    let group_matched = |matched: &[bool], i: usize| (0..n).any(|j| matched[j] && found[j].same_group(&found[i]));
    loop {
        let mut changed = false;
        for i in 0..n {
            if matched[i] || found[i].tags_known() || !stack_ok(&found[i]) {
                continue;
            }
            let mut owners = holds[i].iter().filter(|&&j| found[j].same_group(&found[i])).peekable();
            let owner_matched =
                if owners.peek().is_none() { group_matched(&matched, i) } else { owners.any(|&j| matched[j]) };
            if owner_matched {
                matched[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut sel = Selection::default();
    let mut keep: BTreeMap<usize, String> = BTreeMap::new();
    if let Some(min_age) = older_than {
        let mut oldest: BTreeMap<(&str, &str), SystemTime> = BTreeMap::new();
        for f in found {
            if let Some(t) = f.created() {
                let e = oldest.entry((f.region.as_str(), f.stack.as_str())).or_insert(t);
                *e = (*e).min(t);
            }
        }
        for (i, f) in found.iter().enumerate().filter(|(i, _)| matched[*i]) {
            match oldest.get(&(f.region.as_str(), f.stack.as_str())) {
                None => {
                    keep.insert(
                        i,
                        format!(
                            "age unknown: no resource of stack `{}` reports a creation time or carries `{TAG_CREATED}`",
                            f.stack
                        ),
                    );
                }
                Some(t) => {
                    let age = now.duration_since(*t).unwrap_or_default();
                    if age < min_age {
                        keep.insert(
                            i,
                            format!(
                                "stack `{}` is {} old, younger than --older-than {}",
                                f.stack,
                                humantime::format_duration(Duration::from_secs(age.as_secs())),
                                humantime::format_duration(min_age)
                            ),
                        );
                    }
                }
            }
        }
    }
    // Held by something that stays: kept too, and so is what it holds in turn.
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
            }
        }
        if !changed {
            break;
        }
    }
    for i in (0..n).filter(|i| matched[*i]) {
        match keep.remove(&i) {
            Some(why) => sel.skipped.push((i, why)),
            None => sel.delete.push(i),
        }
    }
    sel
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

/// The rprov kind an ARN's resource type belongs to, if any.
pub fn arn_kind(arn: &str) -> Option<&'static str> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, _, _, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let ty = resource.split(['/', ':']).next().unwrap_or_default();
    Some(match (service, ty) {
        ("ec2", "vpc") => "vpc",
        ("ec2", "subnet") => "subnet",
        ("ec2", "internet-gateway") => "internet_gateway",
        ("ec2", "elastic-ip") => "elastic_ip",
        ("ec2", "natgateway") => "nat_gateway",
        ("ec2", "route-table") => "route_table",
        ("ec2", "security-group") => "security_group",
        ("ecs", "cluster") => "ecs_cluster",
        ("ecs", "service") => "ecs_service",
        ("ecs", "task-definition") => "task_definition",
        ("elasticfilesystem", "file-system") => "file_system",
        ("elasticfilesystem", "access-point") => "access_point",
        ("elasticloadbalancing", "loadbalancer") => "load_balancer",
        ("elasticloadbalancing", "targetgroup") => "target_group",
        ("elasticloadbalancing", "listener") => "listener",
        ("acm", "certificate") => "certificate",
        ("route53", "hostedzone") => "hosted_zone",
        ("iam", "role") => "iam_role",
        ("logs", "log-group") => "log_group",
        ("ssm", "parameter") => "ssm_parameter",
        ("cloudwatch", "alarm") => "alarm",
        _ => return None,
    })
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

/// Indexes with why.
pub type Reasons = Vec<(usize, String)>;

/// What the Tagging API lists that no kind's describe found: `(index, reason, deletable kind)`.
/// Of a type rprov manages, it is gone already (the Tagging API lists deleted NAT gateways and
/// inactive clusters for a while); of another type, rprov cannot delete it.
pub fn tagged_only(found: &[Found], tagged: &[Tagged]) -> (Reasons, Reasons) {
    let mut gone = Vec::new();
    let mut foreign = Vec::new();
    for (i, t) in tagged.iter().enumerate() {
        if found.iter().any(|f| f.region == t.region && same_resource(&t.arn, f)) {
            continue;
        }
        match arn_kind(&t.arn) {
            Some(kind) => gone.push((
                i,
                format!("listed by the Tagging API but not by the {kind} describe: already deleted or inactive"),
            )),
            None => foreign.push((i, "a resource type rprov does not manage; delete it yourself".to_owned())),
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
    pub fn tagged(t: &Tagged, reason: String) -> Entry {
        Entry {
            key: t.arn.clone(),
            region: t.region.clone(),
            kind: arn_kind(&t.arn).map(str::to_owned),
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
    pub retries: usize,
    pub wall_time_s: f64,
}

impl Report {
    /// Everything that matched is deleted (a dry run: nothing kept or failed).
    pub fn complete(&self) -> bool {
        self.skipped.is_empty() && self.failed.is_empty()
    }
}

/// The stack the executor is given for deletions that belong to no stack file.
pub fn empty_stack(region: &str) -> Stack {
    Stack {
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

/// The executor checkpoints after every deletion; teardown has no state file to write to.
#[derive(Default)]
pub struct Unrecorded(Mutex<Option<State>>);

#[async_trait]
impl StateBackend for Unrecorded {
    fn describe(&self) -> String {
        "(no state: teardown)".into()
    }
    async fn read(&self) -> Result<Option<State>, StateError> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
    async fn write(&self, state: &State) -> Result<(), StateError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(state.clone());
        Ok(())
    }
    async fn lock(&self, _: &LockInfo) -> Result<(), StateError> {
        Ok(())
    }
    async fn unlock(&self, _: &LockInfo) -> Result<(), StateError> {
        Ok(())
    }
    async fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        Err(StateError::NoSuchLock(id.to_owned()))
    }
    async fn delete(&self) -> Result<(), StateError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }
    async fn list_versions(&self) -> Result<Vec<crate::store::StateVersion>, StateError> {
        Ok(Vec::new())
    }
    async fn read_version(&self, id: &str) -> Result<State, StateError> {
        Err(StateError::Io(format!("teardown keeps no state, so no version {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Props;

    fn found(stack: &str, kind: &'static str, id: &str, pid: &str, props: &[(&str, &str)]) -> Found {
        let mut tags = Tags::from([(TAG_STACK.to_owned(), stack.to_owned()), ("team".to_owned(), "a".to_owned())]);
        if kinds::kind(kind).is_some_and(|k| !k.schema().taggable) {
            tags.clear();
        }
        tags.insert(TAG_ID.into(), id.into());
        let props: Props = props.iter().map(|(k, v)| (k.to_string(), Value::str(*v))).collect();
        let attrs = Props::from([("id".to_owned(), Value::str(pid))]);
        Found {
            region: "us-east-1".into(),
            stack: stack.into(),
            kind,
            live: Live { physical_id: pid.into(), props, attrs, tags },
        }
    }

    fn net() -> Vec<Found> {
        vec![
            found("a", "vpc", "vpc", "vpc-1", &[]),
            found("a", "subnet", "sub", "subnet-1", &[("vpc", "vpc-1")]),
            found("a", "security_group", "lb", "sg-1", &[("vpc", "vpc-1")]),
            found("a", "security_group", "app", "sg-2", &[("vpc", "vpc-1"), ("from", "sg-1")]),
            found("a", "file_system", "fs", "fs-1", &[]),
            found("a", "mount_target", "mt", "fsmt-1", &[("file_system", "fs-1"), ("subnet", "subnet-1")]),
            found("a", "log_group", "logs", "/a/logs", &[]),
        ]
    }

    fn names(found: &[Found], waves: Vec<Vec<usize>>) -> Vec<Vec<String>> {
        waves.into_iter().map(|w| w.into_iter().map(|i| found[i].live.physical_id.clone()).collect()).collect()
    }

    #[test]
    fn holds_table_names_real_kinds_and_has_no_cycle() {
        for (k, held) in HOLDS {
            assert!(kinds::kind(k).is_some(), "{k}");
            for h in *held {
                assert!(kinds::kind(h).is_some(), "{h}");
                assert!(!kind_holds(h, k), "{k} <-> {h}");
            }
        }
    }

    #[test]
    fn order_from_live_relations_and_kind_fallback() {
        let f = net();
        let before = order(&f);
        let all: Vec<usize> = (0..f.len()).collect();
        assert_eq!(
            names(&f, waves(&before, &all)),
            [vec!["fsmt-1", "/a/logs"], vec!["subnet-1", "sg-2", "fs-1"], vec!["sg-1"], vec!["vpc-1"]]
        );
    }

    #[test]
    fn mutual_references_do_not_make_a_cycle() {
        let mut f = net();
        f[2].live.props.insert("from".into(), Value::str("sg-2"));
        let before = order(&f);
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
        let before = order(&f);
        let s = select(&f, &before, &[TagFilter::stack("a")], None, SystemTime::now());
        let kept: Vec<&str> = s.skipped.iter().map(|(i, _)| f[*i].live.physical_id.as_str()).collect();
        assert_eq!(kept, ["vpc-1", "subnet-1"]);
        assert!(s.skipped[1].1.contains("arn:lb"), "{:?}", s.skipped);
        assert_eq!(s.delete.len(), 5);
    }

    #[test]
    fn untaggable_resources_go_with_their_owner() {
        let mut f = net();
        // Read without its tags, holding nothing: it goes with its stack.
        f[6].live.tags.clear();
        let mut lone = found("b", "log_group", "logs", "/b/logs", &[]);
        lone.live.tags.clear();
        f.push(lone);
        let before = order(&f);
        let by_team = select(&f, &before, &["team=a".parse().unwrap()], None, SystemTime::now());
        assert_eq!(by_team.delete, (0..7).collect::<Vec<_>>(), "{by_team:?}");
        let other = select(&f, &before, &["team=b".parse().unwrap()], None, SystemTime::now());
        assert_eq!(other, Selection::default());
    }

    #[test]
    fn older_than_decides_per_stack() {
        let now = SystemTime::now();
        let mut f = net();
        f.push(found("young", "log_group", "l", "/young/l", &[]));
        f.push(found("unknown", "log_group", "l", "/unknown/l", &[]));
        let at = |s: u64| Value::Str(humantime::format_rfc3339_seconds(now - Duration::from_secs(s)).to_string());
        f[6].live.attrs.insert(ATTR_CREATED.into(), at(3600));
        f[7].live.attrs.insert(ATTR_CREATED.into(), at(60));
        let before = order(&f);
        let s = select(&f, &before, &["team=a".parse().unwrap()], Some(Duration::from_secs(600)), now);
        assert_eq!(s.delete.len(), 7, "{s:?}");
        let why: BTreeMap<&str, &str> = s.skipped.iter().map(|(i, w)| (f[*i].stack.as_str(), w.as_str())).collect();
        assert!(why["young"].contains("younger than"), "{why:?}");
        assert!(why["unknown"].contains("age unknown"), "{why:?}");
    }

    #[test]
    fn keys_are_unique_and_plan_deletes_dependents_first() {
        let mut f = net();
        f.push(found("a", "vpc", "vpc", "vpc-9", &[]));
        let k = keys(&f);
        assert_eq!(k[0], "a/vpc[vpc-1]");
        assert_eq!(k[7], "a/vpc[vpc-9]");
        assert_eq!(k[1], "a/sub");
        let before = order(&f);
        let all: Vec<usize> = (0..f.len()).collect();
        let (plan, state) = executor_input(&f, &before, &all, &k);
        assert_eq!(plan.changes.len(), 8);
        assert!(plan.changes.iter().all(|c| c.action == Action::Delete));
        assert_eq!(state.resources["a/sub"].depends_on, ["a/vpc[vpc-1]", "a/vpc[vpc-9]"]);
    }

    #[test]
    fn tagging_api_extras_are_gone_or_foreign() {
        let f = net();
        let t = |arn: &str| Tagged { region: "us-east-1".into(), arn: arn.into(), tags: Tags::new() };
        let tagged = [
            t("arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"),
            t("arn:aws:logs:us-east-1:123456789012:log-group:/a/logs:*"),
            t("arn:aws:ec2:us-east-1:123456789012:natgateway/nat-1"),
            t("arn:aws:s3:::bucket"),
        ];
        let (gone, foreign) = tagged_only(&f, &tagged);
        assert_eq!(gone.iter().map(|g| g.0).collect::<Vec<_>>(), [2]);
        assert_eq!(foreign.iter().map(|g| g.0).collect::<Vec<_>>(), [3]);
        assert_eq!(arn_kind("arn:aws:elasticloadbalancing:r:1:loadbalancer/app/x/1"), Some("load_balancer"));
        assert!("=x".parse::<TagFilter>().is_err());
        assert_eq!("k=v=w".parse::<TagFilter>(), Ok(TagFilter { key: "k".into(), value: "v=w".into() }));
    }
}
