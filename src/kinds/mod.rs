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

pub use crate::model::{
    ATTR_CREATED, ATTR_CREATION_TOKEN, Live, TAG_ID, TAG_LINEAGE, TAG_STACK, Tags, carries_ownership,
};

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
    /// identity is its properties and that carry no tags (a record: zone, name, type): after a
    /// create that got no answer, what holds that id with the content sent is the create's own.
    fn identity(&self, _props: &Props) -> Option<String> {
        None
    }

    /// Whether [`Kind::occupants`] can look up what already holds the identity of a resource to
    /// create (and so whether `adopt: true` is allowed).
    fn finds_occupants(&self) -> bool {
        false
    }

    /// Whether an existing resource holding the identity is simply used, without `adopt: true`
    /// (a hosted zone with `lookup: true`). Otherwise it is a conflict until the stack adopts it.
    fn takes_existing(&self, _props: &Props) -> bool {
        false
    }

    /// For resources about to be created, `(logical id, resolved properties)`, what already holds
    /// each one's identity (a record of that name and type in its zone; the public zone of that
    /// name): `(logical id, live resource)`. One batched read for all of them; a resource whose
    /// identity is not known yet (it names a resource still to be created) is skipped.
    async fn occupants(&self, _cx: &Cx, _wanted: &[(String, Props)]) -> Result<Vec<(String, Live)>, AwsError> {
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
/// [`Kind::occupants`]), by logical id, added to `occupied` for the planner (`plan::plan_with`):
/// each is then a conflict, or adopted where the stack says `adopt: true` or the kind takes what
/// exists (a looked-up zone). `asked` remembers what was asked with which properties, so that
/// planning again (a looked-up zone's id now known, so its records can be looked for) asks only
/// what is new. Returns whether anything was asked. One batched read per kind and round.
pub async fn find_occupants(
    cx: &Cx,
    plan: &crate::plan::Plan,
    asked: &mut std::collections::HashMap<String, Props>,
    occupied: &mut crate::plan::Occupied,
) -> Result<bool, (&'static str, AwsError)> {
    let mut wanted: std::collections::BTreeMap<&'static str, Vec<(String, Props)>> = Default::default();
    for c in plan.changes.iter().filter(|c| c.action == crate::plan::Action::Create) {
        let Some(k) = kind(&c.kind).filter(|k| k.finds_occupants()) else { continue };
        let props: Props = c.diffs.iter().filter_map(|d| Some((d.name.clone(), d.after.clone()?))).collect();
        if asked.get(&c.id) == Some(&props) {
            continue;
        }
        asked.insert(c.id.clone(), props.clone());
        wanted.entry(k.schema().name).or_default().push((c.id.clone(), props));
    }
    let any = !wanted.is_empty();
    for (name, batch) in wanted {
        let Some(k) = kind(name) else { continue };
        occupied.extend(k.occupants(cx, &batch).await.map_err(|e| (name, e))?);
    }
    Ok(any)
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
