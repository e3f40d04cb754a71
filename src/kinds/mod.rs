//! Resource kinds: one file each, holding the kind's pure [`KindSpec`] (what the core sees) and
//! its [`Kind`] operations (what the executor runs). Adding a kind is its file plus one line in
//! the [`kinds!`] list; `tests.rs` proves the list complete.

mod service;
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;

use async_trait::async_trait;

use crate::aws::{AwsError, Cx};
pub use crate::spec::{Catalog, KindSpec, Refusals};
use crate::value::{Props, Value};
// The kinds reach their service's helpers as `super::ec2`, `super::efs`, ...
use service::{apigw, ec2, ecs, efs, elbv2, iam, lambda, rds, route53, s3};

pub use crate::model::{
    ATTR_CREATED, ATTR_CREATION_TOKEN, Live, TAG_ID, TAG_LINEAGE, TAG_STACK, Tags, carries_ownership, tag_changes,
    without_aws_tags,
};

/// The answer to a create that takes no idempotency token. "Already exists" is either a resend
/// after a lost answer to this very create, or someone else's resource of that name: the
/// existing one is taken only if `tags_of_existing` finds this resource's ownership tags on it
/// (they travel in the create), and otherwise refused naming `what` and what to do `instead`,
/// nothing taken. Returns whether an existing resource was taken.
pub(crate) async fn created_or_ours<T, Fut>(
    cx: &Cx,
    req: &CreateReq<'_>,
    sent: Result<T, AwsError>,
    what: &str,
    instead: &str,
    tags_of_existing: impl FnOnce() -> Fut,
) -> Result<bool, AwsError>
where
    Fut: std::future::Future<Output = Result<Option<Tags>, AwsError>>,
{
    match sent {
        Ok(_) => Ok(false),
        Err(AwsError::AlreadyExists(m)) => {
            if !tags_of_existing().await?.is_some_and(|have| carries_ownership(&have, req.tags)) {
                return Err(AwsError::AlreadyExists(format!(
                    "{what} exists and was not created for {}: {instead} ({m})",
                    req.id
                )));
            }
            cx.status(req.id, &format!("{what} was created by an earlier attempt: taking it"));
            Ok(true)
        }
        Err(e) => Err(e),
    }
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

/// What a kind does against AWS. Its pure side (schema, rules, relations, ARN) is the
/// [`KindSpec`] implemented beside it in the kind's file; the core sees only that.
#[async_trait]
pub trait Kind: KindSpec {
    /// ONE batched, paginated describe for the whole kind: every resource whose physical id is
    /// in `ids`, and every resource carrying `rprov:stack=<cx.stack>`. Never one call per id.
    /// It may return more (the describe is unfiltered): what the stack owns is picked by
    /// [`owned`], as its [`selection`](Kind::selection) says; a kind does not filter by tag.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError>;

    /// Adds to resources `read_many` returned the properties its describe does not report
    /// (compared with the recorded values otherwise), where other calls can read them (a VPC's
    /// DNS attributes): for `rprov import`, which has no recorded values. Calls per resource, so
    /// only for the few resources imported.
    async fn read_unreported(&self, _cx: &Cx, _live: &mut [Live]) -> Result<(), AwsError> {
        Ok(())
    }

    /// Every resource of this kind that exists for one of `owners` (physical ids or ARNs of the
    /// resources it hangs off: a load balancer's listeners, a file system's mount targets, a
    /// cluster's services), whoever made them: for `rprov import --vpc`, which has no state and
    /// no stack tag to pick them by. One call per owner. Kinds that do not hang off another
    /// have none.
    async fn read_of(&self, _cx: &Cx, _owners: &[String]) -> Result<Vec<Live>, AwsError> {
        Ok(vec![])
    }

    /// How the stack's resources are told among what `read_many` returns.
    fn selection(&self) -> Selection {
        Selection::StackTag
    }

    /// Creates the resource with its tags in the create call, waits until it is usable, and
    /// returns it as read back.
    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError>;

    /// Changes the properties in `req.changed` in place (only those the schema marks
    /// updatable ever get here).
    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError>;

    /// Deletes the resource and waits until it no longer holds its dependencies. A resource
    /// that is already gone is success.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError>;

    /// For resources about to be created, `(logical id, resolved properties)`, what already holds
    /// each one's identity (a record of that name and type in its zone; the public zone of that
    /// name): `(logical id, live resource)`. One batched read for all of them; a resource whose
    /// identity is not known yet (it names a resource still to be created) is skipped. Only
    /// kinds whose spec [`finds_occupants`](KindSpec::finds_occupants) are asked.
    async fn occupants(&self, _cx: &Cx, _wanted: &[(String, Props)]) -> Result<Vec<(String, Live)>, AwsError> {
        Ok(Vec::new())
    }

    /// Properties computed from local files the resource names (an image archive's digest),
    /// before planning; `base` is the stack file's directory, `written` the literal properties
    /// as written, `recorded` the state's. The error names the property and what is wrong with
    /// its file.
    fn local(
        &self,
        _base: &std::path::Path,
        _written: &Props,
        _recorded: Option<&Props>,
    ) -> Result<Props, (&'static str, String)> {
        Ok(Props::new())
    }
}

/// Adds to each resource of `stack` the properties its kind computes from local files
/// ([`Kind::local`]), so the plan shows them (an image's digest) and the executor sends what
/// was planned. The problems, located at the resource, and what was computed, as `(logical id,
/// property)`. `recorded_if_unreadable` (drift, which compares AWS with the state and must not need the
/// build's outputs): a resource whose files cannot be read keeps the recorded values of the
/// properties the stack does not write, reported as a note instead of a problem.
pub fn bind_local(
    stack: &mut crate::stack::Stack,
    base: &std::path::Path,
    state: Option<&crate::state::State>,
    recorded_if_unreadable: bool,
) -> (Vec<crate::diag::Diagnostic>, Vec<(String, String)>) {
    let mut problems = Vec::new();
    let mut bound = Vec::new();
    let src = stack.source.clone();
    for r in stack.resources.values_mut() {
        let Some(k) = kind(r.kind_name()) else { continue };
        let written: Props = r.props.iter().filter_map(|(n, e)| Some((n.clone(), written(e)?))).collect();
        let recorded = state
            .and_then(|s| s.resources.get(&r.id))
            .filter(|rec| rec.kind == r.kind_name())
            .map(|rec| &rec.properties);
        match k.local(base, &written, recorded) {
            Ok(computed) => {
                for (name, v) in computed {
                    bound.push((r.id.clone(), name.clone()));
                    r.props.insert(name, crate::expr::Expr::Lit(v));
                }
            }
            Err((prop, m)) if recorded_if_unreadable && recorded.is_some() => {
                tracing::warn!("{}: {prop}: {m}; comparing with the recorded values", r.id);
                for (name, v) in recorded.into_iter().flatten() {
                    if !r.props.contains_key(name.as_str()) {
                        r.props.insert(name.clone(), crate::expr::Expr::Lit(v.clone()));
                    }
                }
            }
            Err((prop, m)) => {
                let span = r.prop_span(prop).unwrap_or(r.span);
                problems.push(crate::diag::Diagnostic::at(&src, span, format!("{prop}: {m}")).resource(&r.id));
            }
        }
    }
    (problems, bound)
}

/// How [`owned`] tells a deployment's resources among what a kind's `read_many` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Asked for by physical id (recorded in the state), or tagged `rprov:stack=<stack>`. The
    /// describe is unfiltered: a filter by tag would miss a resource whose tags were edited by
    /// hand, and EC2 cannot OR an id list with a tag filter in one call.
    StackTag,
    /// All that `read_many` returns: the kind selects the stack's resources itself, because the
    /// stack-tag rule would drop them — they carry no tags (picked by their owner, their zone or
    /// their name), or their tags are read only when recorded (picked by name prefix or path).
    /// The kind says why beside its `selection`.
    Own,
}

/// What of `live`, a kind's `read_many` answer for `ids`, belongs to the stack of `cx` (see
/// [`Selection`]): the one ownership filter, for refresh, teardown and the tests alike.
pub fn owned(kind: &dyn Kind, cx: &Cx, ids: &[String], mut live: Vec<Live>) -> Vec<Live> {
    if kind.selection() == Selection::StackTag {
        live.retain(|l| ids.contains(&l.physical_id) || l.stack() == Some(cx.stack.as_str()));
    }
    live
}

/// `read_many`, then [`owned`]: what the stack of `cx` has of this kind, and what `ids` name.
pub async fn read_owned(kind: &dyn Kind, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
    Ok(owned(kind, cx, ids, kind.read_many(cx, ids).await?))
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

/// Every kind rprov knows, as specs for the core ([`Catalog`]) and operations for the
/// executor. Built by [`kinds!`] from one line per kind.
pub struct Kinds {
    all: &'static [&'static dyn Kind],
}

impl Kinds {
    pub const fn new(all: &'static [&'static dyn Kind]) -> Kinds {
        Kinds { all }
    }

    pub fn get(&self, name: &str) -> Option<&'static dyn Kind> {
        self.all.iter().copied().find(|k| k.schema().name == name)
    }

    pub fn all(&self) -> &'static [&'static dyn Kind] {
        self.all
    }
}

impl std::fmt::Debug for Kinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.all.iter().map(|k| k.schema().name)).finish()
    }
}

impl Catalog for Kinds {
    fn spec(&self, name: &str) -> Option<&'static dyn KindSpec> {
        self.get(name).map(|k| k as &'static dyn KindSpec)
    }

    fn specs(&self) -> Vec<&'static dyn KindSpec> {
        self.all.iter().map(|k| *k as &'static dyn KindSpec).collect()
    }
}

/// `module::Type` per kind: declares the module and registers the kind in [`KINDS`].
macro_rules! kinds {
    ($($module:ident :: $kind:ident),* $(,)?) => {
        $(mod $module;)*
        /// Every kind rprov knows.
        pub static KINDS: Kinds = Kinds::new(&[$(&$module::$kind),*]);
    };
}

// One line per kind.
kinds! {
    vpc::Vpc,
    internet_gateway::InternetGateway,
    subnet::Subnet,
    elastic_ip::ElasticIp,
    nat_gateway::NatGateway,
    route_table::RouteTable,
    network_acl::NetworkAcl,
    vpc_endpoint::VpcEndpoint,
    key_pair::KeyPair,
    instance::Instance,
    security_group::SecurityGroup,
    ecs_cluster::EcsCluster,
    task_definition::TaskDefinition,
    ecs_service::EcsService,
    autoscaling::Autoscaling,
    file_system::FileSystem,
    mount_target::MountTarget,
    access_point::AccessPoint,
    iam_role::IamRole,
    iam_policy::IamPolicy,
    iam_user::IamUser,
    secret::Secret,
    log_group::LogGroup,
    ssm_parameter::SsmParameter,
    alarm::Alarm,
    load_balancer::LoadBalancer,
    target_group::TargetGroup,
    listener::Listener,
    certificate::Certificate,
    hosted_zone::HostedZone,
    dns_record::DnsRecord,
    ecr_repository::EcrRepository,
    container_image::ContainerImage,
    cache_subnet_group::CacheSubnetGroup,
    cache_replication_group::CacheReplicationGroup,
    db_proxy::DbProxy,
    db_subnet_group::DbSubnetGroup,
    db_cluster::DbCluster,
    db_instance::DbInstance,
    bucket::Bucket,
    bucket_notification::BucketNotification,
    http_api::HttpApi,
    api_domain::ApiDomain,
    function::Function,
    lambda_permission::LambdaPermission,
}

pub fn kind(name: &str) -> Option<&'static dyn Kind> {
    KINDS.get(name)
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

/// The batched refresh: one `read_many` per kind in the stack or the state, all at once, each
/// answer kept as far as the stack owns it ([`owned`]). On failure, names the kind that could not
/// be read.
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
        async move { (k.schema().name, read_owned(k, cx, &ids).await) }
    });
    let mut live = crate::plan::LiveSet::new();
    for (name, result) in futures_util::future::join_all(reads).await {
        live.insert(name.to_owned(), result.map_err(|e| (name, e))?);
    }
    Ok(live)
}

/// The literal value of a property as written (`None` where it holds a reference).
fn written(e: &crate::expr::Expr) -> Option<Value> {
    let v = e.resolve(&|_| Value::Unknown);
    (!v.has_unknown()).then_some(v)
}

#[cfg(test)]
mod tests;
