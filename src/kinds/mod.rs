//! Resource kinds: one module each, all behind the [`Kind`] trait. The planner and the executor
//! only ever see this trait; adding a kind is a new module plus one line in [`REGISTRY`].

mod access_point;
mod alarm;
mod autoscaling;
mod certificate;
mod dns_record;
mod ec2;
mod ecs;
mod ecs_cluster;
mod ecs_service;
mod efs;
mod elastic_ip;
mod elbv2;
mod file_system;
mod hosted_zone;
mod iam_role;
mod internet_gateway;
mod listener;
mod load_balancer;
mod log_group;
mod mount_target;
mod nat_gateway;
mod route53;
mod route_table;
mod security_group;
mod ssm_parameter;
mod subnet;
mod target_group;
mod task_definition;
mod vpc;

use async_trait::async_trait;

use crate::aws::{AwsError, Cx};
use crate::schema::KindSchema;
use crate::value::Props;

pub type Tags = crate::sorted_map::SortedMap<String, String>;

/// Ownership tags: who owns a resource, so it can be adopted, reported as unmanaged, or torn
/// down without state.
pub const TAG_STACK: &str = "rprov:stack";
pub const TAG_ID: &str = "rprov:id";
/// The lineage of the state that made it: two deployments of one stack name (two sandboxes in
/// one account, each with its own state) are told apart by it.
pub const TAG_LINEAGE: &str = "rprov:lineage";

/// A resource as AWS has it, in the shape of the kind's schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Live {
    pub physical_id: String,
    /// Properties read back, normalised for comparison with the stack's values. A property
    /// AWS cannot report (write-only, secret) is absent and compared with the recorded value.
    pub props: Props,
    /// Attributes other resources may reference (`${id.attr}`); `id` is always present.
    pub attrs: Props,
    /// Tags, without AWS's own `aws:` tags.
    pub tags: Tags,
}

impl Live {
    pub fn logical_id(&self) -> Option<&str> {
        self.tags.get(TAG_ID).map(String::as_str)
    }
    pub fn stack(&self) -> Option<&str> {
        self.tags.get(TAG_STACK).map(String::as_str)
    }
    pub fn lineage(&self) -> Option<&str> {
        self.tags.get(TAG_LINEAGE).map(String::as_str)
    }
    /// Whether it carries the ownership tags of logical id `id` of stack `stack` in `lineage`:
    /// a resource tagged without a lineage (made before lineages were tagged) counts as the
    /// stack's; one tagged with another lineage belongs to another deployment of that name.
    pub fn owned_by(&self, stack: &str, lineage: Option<&str>) -> bool {
        self.stack() == Some(stack) && self.lineage().is_none_or(|l| Some(l) == lineage)
    }
}

/// Whether `have` (a live resource's tags) marks it as the resource `wanted` (the tags a create
/// sends) would make: same stack and logical id, and the same lineage unless it carries none
/// (made before lineages were tagged). Used when a create meets a name already taken.
pub fn carries_ownership(have: &Tags, wanted: &Tags) -> bool {
    [TAG_STACK, TAG_ID].iter().all(|k| have.contains_key(*k) && have.get(*k) == wanted.get(*k))
        && have.get(TAG_LINEAGE).is_none_or(|l| wanted.get(TAG_LINEAGE) == Some(l))
}

pub struct CreateReq<'a> {
    pub id: &'a str,
    pub props: &'a Props,
    /// Every tag the resource must carry, ownership tags included.
    pub tags: &'a Tags,
    /// Stable across retries of this create: for APIs with an idempotency token.
    pub token: &'a str,
}

pub struct UpdateReq<'a> {
    pub id: &'a str,
    pub physical_id: &'a str,
    pub old: &'a Props,
    pub new: &'a Props,
    /// Names of the properties that differ (`tags` included when tags differ).
    pub changed: &'a [String],
    pub old_tags: &'a Tags,
    pub tags: &'a Tags,
}

pub struct DeleteReq<'a> {
    pub id: &'a str,
    pub physical_id: &'a str,
    /// The properties and attributes last recorded for it.
    pub props: &'a Props,
    pub attrs: &'a Props,
}

#[async_trait]
pub trait Kind: Send + Sync + 'static {
    fn schema(&self) -> &'static KindSchema;

    /// Attributes that an in-place update of `changed` gives new values (a task definition's
    /// update registers a new revision: a new ARN). The planner shows them to dependents as
    /// "known after apply", so their own updates are planned too.
    fn attrs_changed_by_update(&self, _changed: &[String]) -> &'static [&'static str] {
        &[]
    }

    /// Checks across properties that types cannot express (e.g. a route needs exactly one
    /// target), run by `validate` before anything reaches AWS. Returns (property, message).
    fn check(&self, _props: &crate::stack::ExprMap) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Puts the stack's values for this kind into the canonical shape `read_many` reports, so
    /// equal configurations compare equal (e.g. `port: 443` -> `from_port`/`to_port`, generated
    /// names filled in). Called on resolved values before every comparison.
    fn normalise(&self, _stack: &str, _id: &str, _props: &mut Props) {}

    /// ONE batched, paginated describe for the whole kind: every resource whose physical id is
    /// in `ids`, and every resource carrying `rprov:stack=<cx.stack>`. Never one call per id.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError>;

    /// Creates the resource with its tags in the create call, waits until it is usable, and
    /// returns it as read back.
    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError>;

    /// Changes the properties in `req.changed` in place (only those the schema marks
    /// updatable ever get here).
    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError>;

    /// Deletes the resource and waits until it no longer holds its dependencies. A resource
    /// that is already gone is success.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError>;

    /// Whether a create that failed ambiguously (lost response) may simply be sent again: true
    /// where the API takes an idempotency token that `create` sends. Otherwise the executor
    /// looks the resource up by its ownership tags before trying again.
    fn create_is_idempotent(&self) -> bool {
        false
    }

    /// The physical id a resource with these (resolved) properties has, for kinds whose
    /// identity is its properties (a record: zone, name, type). A live resource of that id that
    /// rprov did not create is in the way of a create: a conflict, or adopted with `adopt: true`.
    fn identity(&self, _props: &Props) -> Option<String> {
        None
    }

    /// Whether [`Kind::occupants`] can look up what holds the identity of resources to create
    /// (and so whether `adopt: true` is allowed).
    fn finds_occupants(&self) -> bool {
        false
    }

    /// The live resources holding the identities ([`Kind::identity`]) of `wanted` (properties of
    /// resources about to be created), in one batched read: records already in their zones.
    async fn occupants(&self, _cx: &Cx, _wanted: &[Props]) -> Result<Vec<Live>, AwsError> {
        Ok(Vec::new())
    }

    /// For a kind whose resources carry no tags: what `live` belongs to, from its live values:
    /// the physical id, ARN, or ARN resource part (`service/<cluster>/<name>`) of the resource
    /// it exists for. A teardown without state deletes an untagged resource only together with
    /// its owner.
    fn owner(&self, _live: &Live) -> Option<String> {
        None
    }
}

/// The attribute in which a kind reports when AWS says the resource was created (RFC 3339), where
/// the describe tells: `teardown --older-than` decides by it.
pub const ATTR_CREATED: &str = "created_at";

pub(crate) fn set_created(attrs: &mut Props, t: Option<std::time::SystemTime>) {
    if let Some(t) = t {
        attrs.insert(ATTR_CREATED.into(), crate::value::Value::Str(humantime::format_rfc3339_seconds(t).to_string()));
    }
}

pub(crate) fn sdk_time(t: Option<&aws_smithy_types::DateTime>) -> Option<std::time::SystemTime> {
    t.and_then(|t| std::time::SystemTime::try_from(*t).ok())
}

/// Deletion is idempotent: a resource that is gone already is deleted.
pub(crate) fn gone_ok<T>(r: Result<T, AwsError>) -> Result<(), AwsError> {
    match r {
        Ok(_) | Err(AwsError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Every kind rprov knows. One line per kind.
pub static REGISTRY: &[&dyn Kind] = &[
    &vpc::Vpc,
    &internet_gateway::InternetGateway,
    &subnet::Subnet,
    &elastic_ip::ElasticIp,
    &nat_gateway::NatGateway,
    &route_table::RouteTable,
    &security_group::SecurityGroup,
    &ecs_cluster::EcsCluster,
    &task_definition::TaskDefinition,
    &ecs_service::EcsService,
    &autoscaling::Autoscaling,
    &file_system::FileSystem,
    &mount_target::MountTarget,
    &access_point::AccessPoint,
    &iam_role::IamRole,
    &log_group::LogGroup,
    &ssm_parameter::SsmParameter,
    &alarm::Alarm,
    &load_balancer::LoadBalancer,
    &target_group::TargetGroup,
    &listener::Listener,
    &certificate::Certificate,
    &hosted_zone::HostedZone,
    &dns_record::DnsRecord,
];

pub fn kind(name: &str) -> Option<&'static dyn Kind> {
    REGISTRY.iter().copied().find(|k| k.schema().name == name)
}

pub fn kind_names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|k| k.schema().name)
}

/// What already holds the identity of resources `plan` would create (kinds that can tell, see
/// [`Kind::occupants`]), added to `live` so that planning again shows each as a conflict, or
/// adopts it where the stack says `adopt: true`. One batched read per such kind; none when
/// nothing of theirs is created.
pub async fn find_occupants(
    cx: &Cx,
    plan: &crate::plan::Plan,
    live: &mut crate::plan::LiveSet,
) -> Result<(), (&'static str, AwsError)> {
    let mut wanted: std::collections::BTreeMap<&'static str, Vec<Props>> = Default::default();
    for c in plan.changes.iter().filter(|c| c.action == crate::plan::Action::Create) {
        let Some(k) = kind(&c.kind).filter(|k| k.finds_occupants()) else { continue };
        let props: Props = c.diffs.iter().filter_map(|d| Some((d.name.clone(), d.after.clone()?))).collect();
        wanted.entry(k.schema().name).or_default().push(props);
    }
    for (name, props) in wanted {
        let Some(k) = kind(name) else { continue };
        let found = k.occupants(cx, &props).await.map_err(|e| (name, e))?;
        let known = live.entry(name.to_owned()).or_default();
        for l in found {
            if !known.iter().any(|x| x.physical_id == l.physical_id) {
                known.push(l);
            }
        }
    }
    Ok(())
}

/// The batched refresh: one `read_many` per kind in the stack or the state, all at once.
/// On failure, names the kind that could not be read.
pub async fn refresh(
    cx: &Cx,
    stack: &crate::stack::Stack,
    state: Option<&crate::state::State>,
) -> Result<crate::plan::LiveSet, (&'static str, AwsError)> {
    let mut names: Vec<&str> = stack.resources.values().map(|r| r.kind_name()).collect();
    if let Some(st) = state {
        names.extend(st.resources.values().map(|r| r.kind.as_str()));
    }
    names.sort_unstable();
    names.dedup();
    let recorded = state
        .map(|st| st.resources.values().map(|r| (r.physical_id.clone(), r.tags.clone())).collect())
        .unwrap_or_default();
    let cx = &cx.for_refresh(crate::aws::RefreshScope::new(recorded));
    let reads = names.iter().filter_map(|n| kind(n)).map(|k| {
        let ids: Vec<String> = state
            .map(|st| {
                st.resources.values().filter(|r| r.kind == k.schema().name).map(|r| r.physical_id.clone()).collect()
            })
            .unwrap_or_default();
        async move { (k.schema().name, k.read_many(cx, &ids).await) }
    });
    let mut live = crate::plan::LiveSet::new();
    for (name, result) in futures_util::future::join_all(reads).await {
        live.insert(name.to_owned(), result.map_err(|e| (name, e))?);
    }
    Ok(live)
}
