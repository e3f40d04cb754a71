use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_elasticache::types::{
    AuthTokenUpdateStrategyType, AutomaticFailoverStatus, CacheCluster, MultiAzStatus, ReplicationGroup,
    TransitEncryptionMode,
};

use super::service::elasticache::{self, client, default_name, name_problem, no_resend, refusal, tags_of};
use super::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, all_items, classify, classify_unretried, tagging, wait_gone, wait_until};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::wrong_kind;
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct CacheReplicationGroup;

/// AWS (CreateReplicationGroup): "from 1 to 40 alphanumeric characters or hyphens".
const ID_MAX: usize = 40;

static SCHEMA: KindSchema = KindSchema {
    name: "cache_replication_group",
    doc: "An ElastiCache replication group (Valkey or Redis OSS, cluster mode disabled): a primary node and up to 5 read replicas behind a primary and a reader endpoint.",
    props: &[
        Prop::new(
            "id",
            Ty::Str,
            "Replication group id: up to 40 letters, digits or hyphens, a letter first, no `--`, no hyphen at the end; AWS keeps it in lower case. Default: `<stack>-<id>`, lower-cased.",
        )
        .aws("elasticache:CreateReplicationGroupMessage.ReplicationGroupId")
        .replaces(),
        Prop::new("description", Ty::Str, "Description (AWS requires one). Default: `rprov <stack> <id>`.")
            .aws("elasticache:CreateReplicationGroupMessage.ReplicationGroupDescription"),
        Prop::new(
            "engine",
            Ty::Enum(&["valkey", "redis"]),
            "The engine. Default `valkey`: AWS's recommended engine, wire-compatible with Redis OSS clients and priced lower. A `redis` group can be moved to `valkey` in place; not back.",
        )
        .aws("elasticache:CreateReplicationGroupMessage.Engine")
        .default(Default::Str("valkey")),
        Prop::new(
            "engine_version",
            Ty::Str,
            "Engine version, as major.minor from 6 on (e.g. `7.2`, `8.0`); AWS picks the newest patch, and the newest version when left out. Upgrades are in place.",
        )
        .aws("elasticache:CreateReplicationGroupMessage.EngineVersion"),
        Prop::new("node_type", Ty::Str, "The node type of every node, e.g. `cache.t4g.small`, `cache.r7g.large`.")
            .aws("elasticache:CreateReplicationGroupMessage.CacheNodeType")
            .required(),
        Prop::new(
            "replicas",
            Ty::Int,
            "Read replicas beside the primary, 0 to 5 (the group has 1 + replicas nodes). Changed in place (IncreaseReplicaCount / DecreaseReplicaCount).",
        )
        .default(Default::Int(0)),
        Prop::new(
            "automatic_failover",
            Ty::Bool,
            "A replica takes over when the primary fails; needs at least one replica.",
        )
        .aws("elasticache:CreateReplicationGroupMessage.AutomaticFailoverEnabled")
        .default(Default::Bool(false)),
        Prop::new(
            "multi_az",
            Ty::Bool,
            "Place replicas in other zones than the primary and fail over across zones; needs `automatic_failover` and at least one replica.",
        )
        .aws("elasticache:CreateReplicationGroupMessage.MultiAZEnabled")
        .default(Default::Bool(false)),
        Prop::new("port", Ty::Int, "The port the nodes listen on.")
            .aws("elasticache:CreateReplicationGroupMessage.Port")
            .default(Default::Int(6379))
            .replaces(),
        Prop::new("subnet_group", Ty::Str, "The cache subnet group name (a `cache_subnet_group`'s id).")
            .aws("elasticache:CreateReplicationGroupMessage.CacheSubnetGroupName")
            .replaces(),
        Prop::new("security_groups", Ty::List(&Ty::Str), "VPC security group ids (sg-...) of the nodes.")
            .aws("elasticache:CreateReplicationGroupMessage.SecurityGroupIds")
            .unordered(),
        Prop::new("at_rest_encryption", Ty::Bool, "Encrypt data on disk (snapshots, swap).")
            .aws("elasticache:CreateReplicationGroupMessage.AtRestEncryptionEnabled")
            .default(Default::Bool(true))
            .replaces(),
        Prop::new(
            "transit_encryption",
            Ty::Bool,
            "TLS between clients and nodes. Changed in place through AWS's `preferred` mode (both accepted), then `required`.",
        )
        .aws("elasticache:CreateReplicationGroupMessage.TransitEncryptionEnabled")
        .default(Default::Bool(true)),
        Prop::new(
            "auth_token",
            Ty::Str,
            "The AUTH password clients give (only with `transit_encryption`): 16 to 128 printable characters without `\"`, `/`, `@` or spaces. A new one is added with AWS's ROTATE strategy: the old one stays valid too until the next change.",
        )
        .aws("elasticache:CreateReplicationGroupMessage.AuthToken")
        .secret(),
        Prop::new("kms_key", Ty::Str, "With `at_rest_encryption`: the KMS key (ARN or id); AWS's own key when left out.")
            .aws("elasticache:CreateReplicationGroupMessage.KmsKeyId")
            .replaces(),
        Prop::new("snapshot_retention_days", Ty::Int, "Days automatic snapshots are kept, 0 (none) to 35.")
            .aws("elasticache:CreateReplicationGroupMessage.SnapshotRetentionLimit")
            .default(Default::Int(0)),
        Prop::new(
            "apply_immediately",
            Ty::Bool,
            "Apply changes now rather than in the next maintenance window (until then a change shows as still to do).",
        )
        .default(Default::Bool(true)),
    ],
    attrs: &[
        Attr::new("id", "The replication group id."),
        Attr::new("arn", "The replication group's ARN."),
        Attr::new("primary_endpoint", "The primary endpoint's host name (reads and writes)."),
        Attr::new("reader_endpoint", "The reader endpoint's host name (reads, spread over the replicas)."),
        Attr::new("port", "The port of the endpoints."),
    ],
    taggable: true,
};

fn default_description(stack: &str, id: &str) -> String {
    format!("rprov {stack} {id}")
}

fn id_of(stack: &str, id: &str, props: &Props) -> String {
    props.get("id").and_then(Value::as_str).map_or_else(|| default_name(stack, id), str::to_ascii_lowercase)
}

/// An engine version as AWS takes it: major.minor from 6 on (it reports the patch it chose,
/// `7.1.0`, for a `7.1` asked for); whole before 6 (`5.0.6`).
fn version_key(v: &str) -> String {
    let mut parts = v.split('.');
    match (parts.next().and_then(|m| m.parse::<u32>().ok()), parts.next()) {
        (Some(major), Some(minor)) if major >= 6 => format!("{major}.{minor}"),
        _ => v.to_owned(),
    }
}

/// The families of ElastiCache node types (`cache.<family>.<size>`), current and previous
/// generation: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheNodes.SupportedTypes.html
const FAMILIES: &[&str] = &[
    "t4g", "t3", "t2", "m7g", "m6g", "m5", "m4", "m3", "r7g", "r6g", "r6gd", "r5", "r4", "r3", "c7gn", "t1", "m1",
    "m2", "c1",
];

fn node_type_problem(t: &str) -> Option<Problem> {
    let parts: Vec<&str> = t.split('.').collect();
    let help = "e.g. `cache.t4g.small`, `cache.r7g.large`: `cache.<family>.<size>`";
    if parts.len() != 3 || parts[0] != "cache" || parts[2].is_empty() {
        return Some(Problem::new("node_type", format!("node type `{t}` is not `cache.<family>.<size>`")).help(help));
    }
    if !FAMILIES.contains(&parts[1]) {
        return Some(
            Problem::new("node_type", format!("node type `{t}`: ElastiCache has no node family `{}`", parts[1]))
                .help(format!("one of {}", FAMILIES.join(", "))),
        );
    }
    (parts[1] == "r6gd").then(|| {
        Problem::new("node_type", format!("node type `{t}` needs data tiering, which this kind does not set"))
            .help("use an r7g or r6g node type")
    })
}

/// What breaks AWS's AUTH token rule, never quoting the token: "must be at least 16 characters
/// and no more than 128 characters in length ... printable characters ... cannot contain
/// `/`, `"`, `@`" and no spaces. https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html
fn auth_token_problem(token: &str) -> Option<String> {
    let len = token.chars().count();
    if !(16..=128).contains(&len) {
        return Some(format!("the AUTH token is {len} characters; AWS takes 16 to 128"));
    }
    if let Some(c) = token.chars().find(|c| matches!(c, '"' | '/' | '@' | ' ')) {
        return Some(format!("the AUTH token contains `{c}`; AWS refuses `\"`, `/`, `@` and spaces"));
    }
    token.chars().any(|c| !c.is_ascii_graphic()).then(|| {
        "the AUTH token holds a character that is not printable ASCII; AWS takes printable characters only".into()
    })
}

fn live(g: &ReplicationGroup, member: Option<&CacheCluster>, tags: Tags) -> Live {
    let id = g.replication_group_id().unwrap_or_default().to_owned();
    let node_group = g.node_groups().first();
    let members = node_group.map_or(0, |n| n.node_group_members().len()).max(g.member_clusters().len());
    let failover =
        matches!(g.automatic_failover(), Some(AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling));
    let primary = node_group.and_then(|n| n.primary_endpoint());
    let port = primary.and_then(|e| e.port()).map(i64::from);
    let mut props = Props::new();
    props.insert("id".into(), Value::str(&id));
    props.insert("description".into(), Value::str(g.description().unwrap_or_default()));
    if let Some(e) = g.engine() {
        props.insert("engine".into(), Value::str(e));
    }
    if let Some(t) = g.cache_node_type() {
        props.insert("node_type".into(), Value::str(t));
    }
    props.insert("replicas".into(), Value::Int(members.saturating_sub(1) as i64));
    props.insert("automatic_failover".into(), Value::Bool(failover));
    props.insert("multi_az".into(), Value::Bool(g.multi_az() == Some(&MultiAzStatus::Enabled)));
    if let Some(p) = port {
        props.insert("port".into(), Value::Int(p));
    }
    props.insert("at_rest_encryption".into(), Value::Bool(g.at_rest_encryption_enabled().unwrap_or(false)));
    props.insert("transit_encryption".into(), Value::Bool(g.transit_encryption_enabled().unwrap_or(false)));
    if let Some(k) = g.kms_key_id() {
        props.insert("kms_key".into(), Value::str(k));
    }
    props.insert("snapshot_retention_days".into(), Value::Int(i64::from(g.snapshot_retention_limit().unwrap_or(0))));
    // The group's describe has no engine version, subnet group or security groups: its member
    // clusters' have (where DescribeCacheClusters lists them).
    if let Some(c) = member {
        if let Some(v) = c.engine_version() {
            props.insert("engine_version".into(), Value::str(version_key(v)));
        }
        if let Some(s) = c.cache_subnet_group_name() {
            props.insert("subnet_group".into(), Value::str(s));
        }
        let mut groups: Vec<Value> =
            c.security_groups().iter().filter_map(|m| m.security_group_id()).map(Value::str).collect();
        groups.sort_by_cached_key(|v| v.to_string());
        props.insert("security_groups".into(), Value::List(groups));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("arn".into(), Value::str(g.arn().unwrap_or_default()));
    attrs.insert("primary_endpoint".into(), primary.and_then(|e| e.address()).map(Value::str).unwrap_or(Value::Null));
    let reader = node_group.and_then(|n| n.reader_endpoint()).and_then(|e| e.address());
    attrs.insert("reader_endpoint".into(), reader.map(Value::str).unwrap_or(Value::Null));
    attrs.insert("port".into(), port.map(Value::Int).unwrap_or(Value::Null));
    super::set_created(&mut attrs, super::sdk_time(g.replication_group_create_time()));
    Live { physical_id: id, props, attrs, tags }
}

async fn describe_one(cx: &Cx, id: &str) -> Result<Option<ReplicationGroup>, AwsError> {
    match client(cx).describe_replication_groups().replication_group_id(id).send().await.map_err(classify) {
        Ok(out) => Ok(out.replication_groups().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The first member cluster of `g` (its engine version, subnet group and security groups).
async fn member_of(cx: &Cx, g: &ReplicationGroup) -> Result<Option<CacheCluster>, AwsError> {
    let Some(first) = g.member_clusters().first() else { return Ok(None) };
    match client(cx).describe_cache_clusters().cache_cluster_id(first).send().await.map_err(classify) {
        Ok(out) => Ok(out.cache_clusters().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_back(cx: &Cx, g: &ReplicationGroup) -> Result<Live, AwsError> {
    let tags = tags_of(cx, g.arn().unwrap_or_default()).await?;
    Ok(live(g, member_of(cx, g).await?.as_ref(), tags))
}

/// One observation of a group being created or changed.
fn readiness(g: Option<&ReplicationGroup>) -> Poll<()> {
    match g.and_then(ReplicationGroup::status) {
        Some("available") => Poll::Ready(()),
        Some("create-failed") => Poll::Failed("ended in state create-failed".into()),
        Some("deleting") => Poll::Failed("is being deleted".into()),
        Some(s) => Poll::Pending(s.to_owned()),
        None => Poll::Pending("not visible yet".into()),
    }
}

async fn wait_available(cx: &Cx, logical_id: &str, id: &str) -> Result<ReplicationGroup, AwsError> {
    wait_until(
        &cx.wait,
        &format!("replication group {id}"),
        |m| cx.status(logical_id, m),
        || async move {
            let g = describe_one(cx, id).await?;
            Ok(match readiness(g.as_ref()) {
                Poll::Ready(()) => Poll::Ready(g.expect("ready means described")),
                Poll::Pending(s) => Poll::Pending(s),
                Poll::Failed(s) => Poll::Failed(s),
            })
        },
    )
    .await
}

fn int(p: &Props, name: &str) -> Option<i32> {
    p.get(name).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

fn flag(p: &Props, name: &str, default: bool) -> bool {
    p.get(name).and_then(Value::as_bool).unwrap_or(default)
}

fn text<'p>(p: &'p Props, name: &str) -> Option<&'p str> {
    p.get(name).and_then(Value::as_str)
}

/// A literal boolean as written, else the schema's default.
fn written_bool(s: &Subject, name: &str, default: bool) -> Option<bool> {
    match s.get(name) {
        None | Some(Expr::Lit(Value::Null)) => Some(default),
        _ => s.bool(name),
    }
}

impl KindSpec for CacheReplicationGroup {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateReplicationGroup, ModifyReplicationGroup): the id rule; node types
    /// `cache.<family>.<size>`; 0 to 5 replicas; automatic failover needs a replica, Multi-AZ
    /// needs automatic failover; an AUTH token needs transit encryption and follows AWS's
    /// character rules; a KMS key needs at-rest encryption; snapshots kept 0 to 35 days.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        match s.get("id") {
            None | Some(Expr::Lit(Value::Null)) => {
                let n = default_name(s.stack.name(), s.id);
                if let Some(why) = name_problem(&n, ID_MAX) {
                    out.push(
                        Problem::new("", format!("the default replication group id `{n}` (`<stack>-<id>`) {why}"))
                            .help("give `id`, or shorten the stack name or the resource id"),
                    );
                }
            }
            _ => {
                if let Some(n) = s.str("id")
                    && let Some(why) = name_problem(n, ID_MAX)
                {
                    out.push(Problem::new("id", format!("replication group id `{n}` {why}")));
                }
            }
        }
        if let Some(t) = s.str("node_type") {
            out.extend(node_type_problem(t));
        }
        let replicas = match s.get("replicas") {
            None | Some(Expr::Lit(Value::Null)) => Some(0),
            _ => s.int("replicas"),
        };
        if let Some(n) = replicas.filter(|n| !(0..=5).contains(n)) {
            out.push(Problem::new("replicas", format!("{n} replicas: AWS allows 0 to 5 per node group")));
        }
        let failover = written_bool(s, "automatic_failover", false);
        if failover == Some(true) && replicas == Some(0) {
            out.push(
                Problem::new("automatic_failover", "automatic failover needs at least one replica to fail over to")
                    .help("set `replicas: 1` or more"),
            );
        }
        if written_bool(s, "multi_az", false) == Some(true) {
            if replicas == Some(0) {
                out.push(
                    Problem::new("multi_az", "Multi-AZ needs at least one replica in another zone")
                        .help("set `replicas: 1` or more"),
                );
            }
            if failover == Some(false) {
                out.push(
                    Problem::new("multi_az", "Multi-AZ needs `automatic_failover: true`")
                        .help("AWS enables Multi-AZ only with automatic failover"),
                );
            }
        }
        if s.get("auth_token").is_some_and(|e| !matches!(e, Expr::Lit(Value::Null))) {
            if written_bool(s, "transit_encryption", true) == Some(false) {
                out.push(
                    Problem::new(
                        "auth_token",
                        "an AUTH token is sent only over TLS: it needs `transit_encryption: true`",
                    )
                    .help("AWS refuses an AuthToken without TransitEncryptionEnabled"),
                );
            }
            if let Some(why) = s.str("auth_token").and_then(auth_token_problem) {
                out.push(Problem::new("auth_token", why));
            }
        }
        if s.get("kms_key").is_some() && written_bool(s, "at_rest_encryption", true) == Some(false) {
            out.push(Problem::new("kms_key", "a KMS key encrypts at rest: it needs `at_rest_encryption: true`"));
        }
        if let Some(n) = s.int("snapshot_retention_days").filter(|n| !(0..=35).contains(n)) {
            out.push(Problem::new("snapshot_retention_days", format!("snapshots kept {n} days: AWS allows 0 to 35")));
        }
        if let Some(e) = s.get("subnet_group") {
            out.extend(wrong_kind(s, "subnet_group", e, &["cache_subnet_group"]));
        }
        for (i, e) in s.list("security_groups").iter().enumerate() {
            out.extend(wrong_kind(s, &format!("security_groups.{i}"), e, &["security_group"]));
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        let rid = id_of(stack, id, props);
        props.insert("id".into(), Value::str(rid));
        if props.get("description").is_none_or(Value::is_null) {
            props.insert("description".into(), Value::str(default_description(stack, id)));
        }
        if let Some(v) = props.get("engine_version").and_then(Value::as_str).map(version_key) {
            props.insert("engine_version".into(), Value::str(v));
        }
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("elasticache", "replicationgroup"))
    }

    /// Its nodes' network interfaces sit in the subnet group's subnets and the security
    /// groups until the group is gone.
    fn holds(&self) -> &'static [&'static str] {
        &["cache_subnet_group", "subnet", "security_group"]
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("elasticache", "CreateReplicationGroup")])
    }
}

#[async_trait]
impl Kind for CacheReplicationGroup {
    /// Two paginated reads for the region: DescribeReplicationGroups, and DescribeCacheClusters
    /// for what the group's describe lacks (its nodes' engine version, subnet group and
    /// security groups). Neither reports tags, and ElastiCache has no batch tag read: tags
    /// come from the refresh's Tagging API index, and one ListTagsForResource per group the
    /// stack owns or recorded where the index lacks it or disagrees with the state (per group
    /// without an index).
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let groups = all_items(client(cx).describe_replication_groups().into_paginator().items().send()).await?;
        let every = ids.is_empty() || tagging::has_index(cx).await;
        let candidates: Vec<(String, String)> = groups
            .iter()
            .filter_map(|g| Some((g.replication_group_id()?.to_owned(), g.arn()?.to_owned())))
            .filter(|(id, _)| every || ids.contains(id))
            .collect();
        let mut tags = tagging::tags_by_id(cx, &candidates, |arns| {
            tagging::each(arns, |arn| async move { tags_of(cx, &arn).await })
        })
        .await?;
        if tags.is_empty() {
            return Ok(vec![]);
        }
        let clusters = all_items(client(cx).describe_cache_clusters().into_paginator().items().send()).await?;
        let by_id: HashMap<&str, &CacheCluster> =
            clusters.iter().filter_map(|c| Some((c.cache_cluster_id()?, c))).collect();
        Ok(groups
            .iter()
            .filter_map(|g| {
                let t = tags.remove(g.replication_group_id()?)?;
                let member = g.member_clusters().first().and_then(|m| by_id.get(m.as_str()).copied());
                Some(live(g, member, t))
            })
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        let id = id_of(&cx.stack, req.id, p);
        let description = text(p, "description").map_or_else(|| default_description(&cx.stack, req.id), str::to_owned);
        let replicas = int(p, "replicas").unwrap_or(0);
        let sent = client(cx)
            .create_replication_group()
            .replication_group_id(&id)
            .replication_group_description(description)
            .engine(text(p, "engine").unwrap_or("valkey"))
            .set_engine_version(text(p, "engine_version").map(str::to_owned))
            .set_cache_node_type(text(p, "node_type").map(str::to_owned))
            // Cluster mode disabled: one node group of 1 + replicas clusters.
            .num_cache_clusters(1 + replicas)
            .automatic_failover_enabled(flag(p, "automatic_failover", false))
            .multi_az_enabled(flag(p, "multi_az", false))
            .port(int(p, "port").unwrap_or(6379))
            .set_cache_subnet_group_name(text(p, "subnet_group").map(str::to_owned))
            .set_security_group_ids(p.get("security_groups").map(Value::string_list))
            .at_rest_encryption_enabled(flag(p, "at_rest_encryption", true))
            .transit_encryption_enabled(flag(p, "transit_encryption", true))
            .set_auth_token(text(p, "auth_token").map(str::to_owned))
            .set_kms_key_id(text(p, "kms_key").map(str::to_owned))
            .snapshot_retention_limit(int(p, "snapshot_retention_days").unwrap_or(0))
            .set_tags(Some(elasticache::to_sdk(req.tags)))
            .customize()
            .config_override(no_resend())
            .send()
            .await;
        // No idempotency token: a resend after a lost answer meets ReplicationGroupAlreadyExists;
        // the group is taken only if it carries this resource's ownership tags.
        let existing = || async {
            Ok(match describe_one(cx, &id).await? {
                Some(g) => Some(tags_of(cx, g.arn().unwrap_or_default()).await?),
                None => None,
            })
        };
        let what = format!("replication group {id}");
        super::created_or_ours(cx, req, sent.map_err(classify_unretried), &what, "choose another `id`, or `adopt: true`", existing).await?;
        let g = wait_available(cx, req.id, &id).await?;
        read_back(cx, &g).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let (id, new) = (req.physical_id, req.new);
        let changed = |p: &str| req.changed.iter().any(|c| c == p);
        let now = flag(new, "apply_immediately", true);
        let ec = client(cx);
        // Replicas first: failover and Multi-AZ may need the new ones (or be turned off before
        // the last replica goes: then after).
        let (old_n, new_n) = (int(req.old, "replicas").unwrap_or(0), int(new, "replicas").unwrap_or(0));
        let fewer = changed("replicas") && new_n < old_n;
        if changed("replicas") && new_n > old_n {
            ec.increase_replica_count()
                .replication_group_id(id)
                .new_replica_count(new_n)
                .apply_immediately(true)
                .send()
                .await
                .map_err(classify)?;
            wait_available(cx, req.id, id).await?;
        }
        let mut m = ec.modify_replication_group().replication_group_id(id).apply_immediately(now);
        let mut any = false;
        if changed("description") {
            m = m.set_replication_group_description(text(new, "description").map(str::to_owned));
            any = true;
        }
        if changed("engine") {
            m = m.set_engine(text(new, "engine").map(str::to_owned));
            any = true;
        }
        if changed("engine_version") || changed("engine") {
            m = m.set_engine_version(text(new, "engine_version").map(str::to_owned));
            any = true;
        }
        if changed("node_type") {
            m = m.set_cache_node_type(text(new, "node_type").map(str::to_owned));
            any = true;
        }
        if changed("automatic_failover") {
            m = m.automatic_failover_enabled(flag(new, "automatic_failover", false));
            any = true;
        }
        if changed("multi_az") {
            m = m.multi_az_enabled(flag(new, "multi_az", false));
            any = true;
        }
        if changed("security_groups") {
            m = m.set_security_group_ids(Some(new.get("security_groups").map(Value::string_list).unwrap_or_default()));
            any = true;
        }
        if changed("snapshot_retention_days") {
            m = m.snapshot_retention_limit(int(new, "snapshot_retention_days").unwrap_or(0));
            any = true;
        }
        if changed("auth_token") {
            let Some(token) = text(new, "auth_token") else {
                return Err(AwsError::Invalid(format!(
                    "replication group {id}: AWS removes an AUTH token only when moving to RBAC user groups; replace the group to drop it"
                )));
            };
            // ROTATE: the new token is accepted at once and the old one still, so clients move over.
            m = m.auth_token(token).auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate);
            any = true;
        }
        if any {
            m.send().await.map_err(classify)?;
            wait_available(cx, req.id, id).await?;
        }
        if fewer {
            ec.decrease_replica_count()
                .replication_group_id(id)
                .new_replica_count(new_n)
                .apply_immediately(true)
                .send()
                .await
                .map_err(classify)?;
            wait_available(cx, req.id, id).await?;
        }
        if changed("transit_encryption") {
            set_transit_encryption(cx, req.id, id, flag(new, "transit_encryption", true)).await?;
        }
        let g = wait_available(cx, req.id, id).await?;
        if changed("tags") {
            elasticache::retag(cx, g.arn().unwrap_or_default(), req.old_tags, req.tags).await?;
        }
        read_back(cx, &g).await
    }

    /// DeleteReplicationGroup, then waits until DescribeReplicationGroups answers
    /// ReplicationGroupNotFoundFault (the group is `deleting` for minutes). AWS refuses while
    /// the group is being created or changed (InvalidReplicationGroupState): in use, retried.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let sent = client(cx).delete_replication_group().replication_group_id(req.physical_id).send().await;
        let busy = |m| AwsError::InUse(format!("replication group {} is busy ({m})", req.physical_id));
        match sent.map_err(|e| refusal(classify(e), "InvalidReplicationGroupState", busy)) {
            Err(AwsError::NotFound(_)) => return Ok(()),
            r => r.map(|_| ())?,
        }
        let what = format!("deletion of replication group {}", req.physical_id);
        let state = |g: &ReplicationGroup| Poll::Pending(g.status().unwrap_or("listed").to_owned());
        wait_gone(cx, req.id, &what, || describe_one(cx, req.physical_id), state).await
    }
}

/// AWS's way to turn TLS on or off on a running group without cutting clients off: the
/// `preferred` mode (TLS and plain both accepted) first, then `required`, or off.
/// https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/in-transit-encryption-enable-existing.html
async fn set_transit_encryption(cx: &Cx, logical_id: &str, id: &str, on: bool) -> Result<(), AwsError> {
    let ec = client(cx);
    let step = |mode: Option<TransitEncryptionMode>, enabled: bool| {
        ec.modify_replication_group()
            .replication_group_id(id)
            .apply_immediately(true)
            .transit_encryption_enabled(enabled)
            .set_transit_encryption_mode(mode)
    };
    step(Some(TransitEncryptionMode::Preferred), true).send().await.map_err(classify)?;
    wait_available(cx, logical_id, id).await?;
    let last = if on { step(Some(TransitEncryptionMode::Required), true) } else { step(None, false) };
    last.send().await.map_err(classify)?;
    wait_available(cx, logical_id, id).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticache::Client;
    use aws_sdk_elasticache::operation::create_replication_group::CreateReplicationGroupOutput;
    use aws_sdk_elasticache::operation::delete_replication_group::{
        DeleteReplicationGroupError, DeleteReplicationGroupOutput,
    };
    use aws_sdk_elasticache::operation::describe_cache_clusters::DescribeCacheClustersOutput;
    use aws_sdk_elasticache::operation::describe_replication_groups::{
        DescribeReplicationGroupsError, DescribeReplicationGroupsOutput,
    };
    use aws_sdk_elasticache::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_elasticache::types::{Endpoint, NodeGroup, NodeGroupMember, SecurityGroupMembership};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::{Status, mocked, owned_tags, props, strs};

    const ARN: &str = "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:s-cache";

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("m").build()
    }

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_elasticache, RuleMode::MatchAny, rules))
    }

    fn group(status: &str) -> ReplicationGroup {
        let endpoint = |a: &str| Endpoint::builder().address(a).port(6379).build();
        let member = |n: &str, role: &str| {
            NodeGroupMember::builder().cache_cluster_id(format!("s-cache-{n}")).current_role(role).build()
        };
        ReplicationGroup::builder()
            .replication_group_id("s-cache")
            .description("rprov s cache")
            .status(status)
            .member_clusters("s-cache-001")
            .member_clusters("s-cache-002")
            .node_groups(
                NodeGroup::builder()
                    .node_group_id("0001")
                    .primary_endpoint(endpoint("master.s-cache.x.use1.cache.amazonaws.com"))
                    .reader_endpoint(endpoint("replica.s-cache.x.use1.cache.amazonaws.com"))
                    .node_group_members(member("001", "primary"))
                    .node_group_members(member("002", "replica"))
                    .build(),
            )
            .automatic_failover(AutomaticFailoverStatus::Enabled)
            .multi_az(MultiAzStatus::Enabled)
            .cache_node_type("cache.t4g.small")
            .engine("valkey")
            .at_rest_encryption_enabled(true)
            .transit_encryption_enabled(true)
            .snapshot_retention_limit(1)
            .arn(ARN)
            .build()
    }

    fn described(status: &'static str) -> impl Fn() -> DescribeReplicationGroupsOutput {
        move || DescribeReplicationGroupsOutput::builder().replication_groups(group(status)).build()
    }

    fn others() -> [Rule; 2] {
        let clusters = mock!(Client::describe_cache_clusters).then_output(|| {
            DescribeCacheClustersOutput::builder()
                .cache_clusters(
                    CacheCluster::builder()
                        .cache_cluster_id("s-cache-001")
                        .engine_version("7.2.4")
                        .cache_subnet_group_name("s-net")
                        .security_groups(SecurityGroupMembership::builder().security_group_id("sg-2").build())
                        .security_groups(SecurityGroupMembership::builder().security_group_id("sg-1").build())
                        .build(),
                )
                .build()
        });
        let tags = mock!(Client::list_tags_for_resource).then_output(|| {
            ListTagsForResourceOutput::builder()
                .set_tag_list(Some(elasticache::to_sdk(&owned_tags("s", "cache", "t"))))
                .build()
        });
        [clusters, tags]
    }

    fn create_ok() -> Rule {
        mock!(Client::create_replication_group)
            .match_requests(|r| r.num_cache_clusters() == Some(2) && r.auth_token() == Some("0123456789abcdef"))
            .then_output(|| CreateReplicationGroupOutput::builder().replication_group(group("creating")).build())
    }

    fn wanted() -> Props {
        let mut p = props(&[
            ("node_type", Value::str("cache.t4g.small")),
            ("engine", Value::str("valkey")),
            ("engine_version", Value::str("7.2")),
            ("replicas", Value::Int(1)),
            ("automatic_failover", Value::Bool(true)),
            ("multi_az", Value::Bool(true)),
            ("subnet_group", Value::str("s-net")),
            ("security_groups", strs(&["sg-1", "sg-2"])),
            ("auth_token", Value::str("0123456789abcdef")),
            ("snapshot_retention_days", Value::Int(1)),
        ]);
        CacheReplicationGroup.normalise("s", "cache", &mut p);
        p
    }

    async fn create(rules: &[&Rule]) -> (Result<Live, AwsError>, Status) {
        let (cx, seen) = cx(rules);
        let (p, tags) = (wanted(), owned_tags("s", "cache", "t"));
        let got =
            CacheReplicationGroup.create(&cx, &CreateReq { id: "cache", props: &p, tags: &tags, token: "t" }).await;
        (got, seen)
    }

    #[tokio::test(start_paused = true)]
    async fn create_waits_from_creating_to_available_and_reads_what_was_asked() {
        let describe = mock!(Client::describe_replication_groups)
            .sequence()
            .output(described("creating"))
            .times(2)
            .output(described("available"))
            .repeatedly()
            .build();
        let [clusters, tags] = others();
        let (got, seen) = create(&[&create_ok(), &describe, &clusters, &tags]).await;
        let l = got.unwrap();
        assert_eq!(l.physical_id, "s-cache");
        for (k, v) in wanted().iter().filter(|(k, _)| *k != "auth_token") {
            assert_eq!(l.props.get(k), Some(v), "{k}");
        }
        assert!(!l.props.contains_key("auth_token"), "a secret is never read back");
        assert_eq!(l.attrs["primary_endpoint"], Value::str("master.s-cache.x.use1.cache.amazonaws.com"));
        assert_eq!(l.attrs["reader_endpoint"], Value::str("replica.s-cache.x.use1.cache.amazonaws.com"));
        assert_eq!(l.attrs["port"], Value::Int(6379));
        assert!(seen.lock().unwrap().iter().any(|m| m.ends_with("(now creating)")), "{seen:?}");
        assert_eq!(describe.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn create_failed_ends_the_wait_with_an_error() {
        let describe = mock!(Client::describe_replication_groups)
            .sequence()
            .output(described("creating"))
            .output(described("create-failed"))
            .build();
        let (got, _) = create(&[&create_ok(), &describe]).await;
        assert!(matches!(&got, Err(AwsError::Failed(m)) if m.contains("create-failed")), "{got:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn create_times_out_when_never_available() {
        let describe = mock!(Client::describe_replication_groups).then_output(described("creating"));
        let (got, _) = create(&[&create_ok(), &describe]).await;
        assert!(matches!(got, Err(AwsError::WaitTimeout { .. })), "{got:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn delete_waits_while_deleting_until_not_found() {
        let ok = mock!(Client::delete_replication_group)
            .then_output(|| DeleteReplicationGroupOutput::builder().replication_group(group("deleting")).build());
        let describe = mock!(Client::describe_replication_groups)
            .sequence()
            .output(described("deleting"))
            .times(3)
            .error(|| DescribeReplicationGroupsError::generic(meta("ReplicationGroupNotFoundFault")))
            .build();
        let (c, seen) = cx(&[&ok, &describe]);
        let p = Props::new();
        let req = DeleteReq { id: "cache", physical_id: "s-cache", props: &p, attrs: &p };
        assert_eq!(CacheReplicationGroup.delete(&c, &req).await, Ok(()));
        assert_eq!(describe.num_calls(), 4);
        assert!(seen.lock().unwrap().iter().any(|m| m.ends_with("(now deleting)")));

        let gone = mock!(Client::delete_replication_group)
            .then_error(|| DeleteReplicationGroupError::generic(meta("ReplicationGroupNotFoundFault")));
        let (c, _) = cx(&[&gone]);
        assert_eq!(CacheReplicationGroup.delete(&c, &req).await, Ok(()));

        let busy = mock!(Client::delete_replication_group)
            .then_error(|| DeleteReplicationGroupError::generic(meta("InvalidReplicationGroupState")));
        let (c, _) = cx(&[&busy]);
        assert!(matches!(CacheReplicationGroup.delete(&c, &req).await, Err(AwsError::InUse(_))));
    }

    #[test]
    fn versions_compare_as_aws_takes_them() {
        assert_eq!(version_key("7.1.0"), "7.1");
        assert_eq!(version_key("7.1"), "7.1");
        assert_eq!(version_key("8.0"), "8.0");
        assert_eq!(version_key("5.0.6"), "5.0.6");
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::{check_rules, problems};

    fn group(extra: &str) -> String {
        format!("c: {{ type: cache_replication_group, node_type: cache.t4g.small{extra} }}")
    }

    #[test]
    fn ids_and_node_types() {
        check_rules(&group(""), &[]);
        check_rules(&group(", id: Shop-Cache"), &[]);
        check_rules(
            &group(", id: shop--cache"),
            &["id | replication group id `shop--cache` must not contain two hyphens"],
        );
        check_rules(&group(", id: 1cache"), &["must start with a letter"]);
        check_rules(
            &format!("c: {{ type: cache_replication_group, node_type: cache.t4g.small, id: {} }}", "a".repeat(41)),
            &["is 41 characters; AWS allows 1 to 40"],
        );
        check_rules(
            "a_very_long_resource_id_for_a_cache_group: { type: cache_replication_group, node_type: cache.t4g.small }",
            &[
                "the default replication group id `s-a-very-long-resource-id-for-a-cache-group` (`<stack>-<id>`) is 43 characters | give `id`",
            ],
        );
        check_rules(
            "c: { type: cache_replication_group, node_type: t4g.small }",
            &["node type `t4g.small` is not `cache.<family>.<size>` | cache.t4g.small"],
        );
        check_rules(
            "c: { type: cache_replication_group, node_type: cache.x9.large }",
            &["ElastiCache has no node family `x9`"],
        );
        check_rules(
            "c: { type: cache_replication_group, node_type: cache.r7g.large, engine: redis, engine_version: \"7.1\" }",
            &[],
        );
    }

    #[test]
    fn replicas_failover_and_multi_az() {
        check_rules(&group(", replicas: 2, automatic_failover: true, multi_az: true"), &[]);
        check_rules(&group(", replicas: 1, automatic_failover: true"), &[]);
        check_rules(&group(", replicas: 6"), &["6 replicas: AWS allows 0 to 5"]);
        check_rules(&group(", replicas: -1"), &["-1 replicas: AWS allows 0 to 5"]);
        check_rules(
            &group(", automatic_failover: true"),
            &["automatic failover needs at least one replica | replicas: 1"],
        );
        check_rules(
            &group(", multi_az: true"),
            &["Multi-AZ needs `automatic_failover: true`", "Multi-AZ needs at least one replica"],
        );
        check_rules(&group(", replicas: 1, multi_az: true"), &["Multi-AZ needs `automatic_failover: true`"]);
        check_rules(&group(", snapshot_retention_days: 36"), &["snapshots kept 36 days: AWS allows 0 to 35"]);
        check_rules(&group(", at_rest_encryption: false, kms_key: alias/x"), &["needs `at_rest_encryption: true`"]);
    }

    #[test]
    fn auth_tokens_are_checked_without_being_shown() {
        check_rules(&group(", auth_token: \"Str0ng-and-long-enough!\""), &[]);
        for (token, why) in [
            ("short-token", "is 11 characters; AWS takes 16 to 128"),
            ("has@sign-1234567890", "contains `@`"),
            ("has/slash-1234567890", "contains `/`"),
            ("has space 1234567890", "contains ` `"),
            ("has\\\"quote-1234567890", "contains `\"`"),
            ("unicode-é-1234567890", "not printable ASCII"),
        ] {
            let stack = group(&format!(", auth_token: \"{token}\""));
            check_rules(&stack, &[why]);
            let secret = token.replace("\\\"", "\"");
            assert!(
                problems(&stack).iter().all(|p| !p.contains(&secret)),
                "the token is shown: {:?}",
                problems(&stack)
            );
        }
        check_rules(
            &group(", transit_encryption: false, auth_token: \"0123456789abcdef\""),
            &["an AUTH token is sent only over TLS: it needs `transit_encryption: true`"],
        );
    }

    #[test]
    fn references_name_the_right_kinds() {
        let net = "vpc: { type: vpc, cidr: 10.0.0.0/16 }
a: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.0.0.0/24 }
sg: { type: security_group, vpc: \"${vpc.id}\" }
net: { type: cache_subnet_group, subnets: [\"${a.id}\"] }
";
        check_rules(
            &format!(
                "{net}c: {{ type: cache_replication_group, node_type: cache.t4g.small, subnet_group: \"${{net.id}}\", security_groups: [\"${{sg.id}}\"] }}"
            ),
            &[],
        );
        check_rules(
            &format!(
                "{net}c: {{ type: cache_replication_group, node_type: cache.t4g.small, subnet_group: \"${{a.id}}\", security_groups: [\"${{a.id}}\"] }}"
            ),
            &["`subnet_group` refers to `a`, a subnet", "`security_groups.0` refers to `a`, a subnet"],
        );
    }
}
