use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::types::{
    AuthScheme, ClientPasswordAuthType, ConnectionPoolConfiguration, DbProxy as Proxy, DbProxyStatus, DbProxyTarget,
    DbProxyTargetGroup, IamAuthMode, Tag, TargetType, UserAuthConfig,
};

use super::service::elasticache::name_problem;
use super::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq, tag_changes, without_aws_tags};
use crate::aws::{AwsError, Cx, Poll, all_items, classify, classify_unretried, tagging, wait_gone, wait_until};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::network::{Zone, subnet_zone};
use crate::spec::rules::{lit_str, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct DbProxy;

/// AWS (CreateDBProxy): 1 to 63 characters.
const NAME_MAX: usize = 63;
/// The one target group every proxy has, which rprov configures.
const TARGET_GROUP: &str = "default";

static AUTH: Ty = Ty::Obj(&[
    Prop::new("secret", Ty::Str, "The ARN of the Secrets Manager secret holding the database user's name and password.")
        .aws("rds:UserAuthConfig.SecretArn")
        .required(),
    Prop::new(
        "iam_auth",
        Ty::Enum(&["DISABLED", "REQUIRED", "ENABLED"]),
        "IAM authentication of clients: DISABLED (passwords), REQUIRED (IAM tokens only), ENABLED (either; SQL Server proxies only).",
    )
    .aws("rds:UserAuthConfig.IAMAuth")
    .default(Default::Str("DISABLED")),
    Prop::new(
        "client_password_auth_type",
        Ty::Enum(&[
            "MYSQL_NATIVE_PASSWORD",
            "MYSQL_CACHING_SHA2_PASSWORD",
            "POSTGRES_SCRAM_SHA_256",
            "POSTGRES_MD5",
            "SQL_SERVER_AUTHENTICATION",
        ]),
        "How clients send passwords to the proxy, of the engine family. Default: POSTGRES_SCRAM_SHA_256, MYSQL_NATIVE_PASSWORD or SQL_SERVER_AUTHENTICATION (sent explicitly, so AWS's own default cannot drift).",
    )
    .aws("rds:UserAuthConfig.ClientPasswordAuthType"),
]);

static POOL: Ty = Ty::Obj(&[
    Prop::new(
        "max_connections_percent",
        Ty::Int,
        "Most connections the proxy opens, in percent of the database's max_connections (1-100).",
    )
    .aws("rds:ConnectionPoolConfiguration.MaxConnectionsPercent")
    .default(Default::Int(100)),
    Prop::new(
        "max_idle_connections_percent",
        Ty::Int,
        "Idle connections the proxy keeps, in percent of the database's max_connections (at most `max_connections_percent`).",
    )
    .aws("rds:ConnectionPoolConfiguration.MaxIdleConnectionsPercent")
    .default(Default::Int(50)),
    Prop::new(
        "connection_borrow_timeout",
        Ty::Int,
        "Seconds a client waits for a free connection before its request fails (0-3600).",
    )
    .aws("rds:ConnectionPoolConfiguration.ConnectionBorrowTimeout")
    .default(Default::Int(120)),
    Prop::new("init_query", Ty::Str, "SQL run on each new database connection (e.g. `SET x=1`).")
        .aws("rds:ConnectionPoolConfiguration.InitQuery"),
    Prop::new(
        "session_pinning_filters",
        Ty::List(&Ty::Enum(&["EXCLUDE_VARIABLE_SETS"])),
        "Operations that do not pin a client's session to one connection.",
    )
    .aws("rds:ConnectionPoolConfiguration.SessionPinningFilters")
    .unordered(),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "db_proxy",
    doc: "An RDS Proxy: pooled, failover-aware connections to an Aurora cluster, authenticating with Secrets Manager secrets.",
    props: &[
        Prop::new(
            "name",
            Ty::Str,
            "Proxy name: up to 63 letters, digits or hyphens, a letter first, no `--`, no hyphen at the end. Default: `<stack>-<id>`, lower-cased.",
        )
        .aws("rds:CreateDBProxyRequest.DBProxyName")
        .replaces(),
        Prop::new("engine_family", Ty::Enum(&["POSTGRESQL", "MYSQL", "SQLSERVER"]), "The database protocol it speaks.")
            .aws("rds:CreateDBProxyRequest.EngineFamily")
            .required()
            .replaces(),
        Prop::new("auth", Ty::List(&AUTH), "The database users clients connect as: one secret each.")
            .aws("rds:CreateDBProxyRequest.Auth")
            .required()
            .keyed(&["secret"]),
        Prop::new("role_arn", Ty::Str, "The IAM role the proxy assumes to read the secrets (`secretsmanager:GetSecretValue`).")
            .aws("rds:CreateDBProxyRequest.RoleArn")
            .required(),
        Prop::new("subnets", Ty::List(&Ty::Str), "Subnet ids (subnet-...) in at least two availability zones.")
            .aws("rds:CreateDBProxyRequest.VpcSubnetIds")
            .required()
            .unordered()
            .replaces(),
        Prop::new(
            "security_groups",
            Ty::List(&Ty::Str),
            "VPC security group ids (sg-...) of the proxy; AWS uses the VPC's default group when left out.",
        )
        .aws("rds:CreateDBProxyRequest.VpcSecurityGroupIds")
        .unordered(),
        Prop::new("require_tls", Ty::Bool, "Clients must connect with TLS.")
            .aws("rds:CreateDBProxyRequest.RequireTLS")
            .default(Default::Bool(true)),
        Prop::new("idle_client_timeout", Ty::Int, "Seconds an idle client connection is kept open (1-28800).")
            .aws("rds:CreateDBProxyRequest.IdleClientTimeout")
            .default(Default::Int(1800)),
        Prop::new("debug_logging", Ty::Bool, "Log the SQL statements it sees (for debugging only: they may hold data).")
            .aws("rds:CreateDBProxyRequest.DebugLogging")
            .default(Default::Bool(false)),
        Prop::new(
            "target_cluster",
            Ty::Str,
            "The Aurora cluster identifier (a `db_cluster`'s id) the proxy connects to, registered in its default target group.",
        ),
        Prop::new("connection_pool", POOL, "The default target group's connection pool.").default(Default::EmptyMap),
    ],
    attrs: &[
        Attr::new("id", "The proxy name."),
        Attr::new("arn", "The proxy's ARN."),
        Attr::new("endpoint", "The host name clients connect to."),
        Attr::new("vpc", "The VPC it is in."),
    ],
    taggable: true,
};

fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

/// Config override for CreateDBProxy, which takes no idempotency token (see
/// `aws::LookupBeforeResend`).
fn no_resend() -> aws_sdk_rds::config::Builder {
    aws_sdk_rds::config::Builder::default().retry_classifier(crate::aws::LookupBeforeResend)
}

fn default_name(stack: &str, id: &str) -> String {
    format!("{stack}-{id}").replace('_', "-").to_ascii_lowercase()
}

fn name_of(stack: &str, id: &str, props: &Props) -> String {
    props.get("name").and_then(Value::as_str).map_or_else(|| default_name(stack, id), str::to_owned)
}

/// What rprov sends when `client_password_auth_type` is left out, per engine family.
fn default_password_auth(family: &str) -> Option<&'static str> {
    match family {
        "POSTGRESQL" => Some("POSTGRES_SCRAM_SHA_256"),
        "MYSQL" => Some("MYSQL_NATIVE_PASSWORD"),
        "SQLSERVER" => Some("SQL_SERVER_AUTHENTICATION"),
        _ => None,
    }
}

/// The engine family a client password auth type belongs to.
fn family_of_password_auth(t: &str) -> &'static str {
    match t {
        t if t.starts_with("POSTGRES") => "POSTGRESQL",
        t if t.starts_with("MYSQL") => "MYSQL",
        _ => "SQLSERVER",
    }
}

fn text<'p>(p: &'p Props, name: &str) -> Option<&'p str> {
    p.get(name).and_then(Value::as_str)
}

fn int(p: &Props, name: &str) -> Option<i32> {
    p.get(name).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn sdk_auth(props: &Props) -> Vec<UserAuthConfig> {
    let items = match props.get("auth") {
        Some(Value::List(items)) => items.as_slice(),
        _ => &[],
    };
    items
        .iter()
        .filter_map(Value::as_map)
        .map(|a| {
            UserAuthConfig::builder()
                .auth_scheme(AuthScheme::Secrets)
                .set_secret_arn(text(a, "secret").map(str::to_owned))
                .iam_auth(IamAuthMode::from(text(a, "iam_auth").unwrap_or("DISABLED")))
                .set_client_password_auth_type(text(a, "client_password_auth_type").map(ClientPasswordAuthType::from))
                .build()
        })
        .collect()
}

fn pool_config(props: &Props) -> ConnectionPoolConfiguration {
    let empty = Props::new();
    let pool = props.get("connection_pool").and_then(Value::as_map).unwrap_or(&empty);
    ConnectionPoolConfiguration::builder()
        .set_max_connections_percent(int(pool, "max_connections_percent"))
        .set_max_idle_connections_percent(int(pool, "max_idle_connections_percent"))
        .set_connection_borrow_timeout(int(pool, "connection_borrow_timeout"))
        // An empty query and no filters clear what was set before.
        .init_query(text(pool, "init_query").unwrap_or_default())
        .set_session_pinning_filters(Some(
            pool.get("session_pinning_filters").map(Value::string_list).unwrap_or_default(),
        ))
        .build()
}

/// What the proxy's default target group and targets add to it: the pool and the cluster.
#[derive(Default)]
struct Targets {
    group: Option<DbProxyTargetGroup>,
    targets: Vec<DbProxyTarget>,
}

fn live(p: &Proxy, t: &Targets, tags: Tags) -> Live {
    let name = p.db_proxy_name().unwrap_or_default().to_owned();
    let sorted = |ids: &[String]| {
        let mut v: Vec<Value> = ids.iter().map(Value::str).collect();
        v.sort_by_cached_key(|v| v.to_string());
        Value::List(v)
    };
    let mut auth: Vec<Value> = p
        .auth()
        .iter()
        .map(|a| {
            let mut m = Props::new();
            m.insert("secret".into(), Value::str(a.secret_arn().unwrap_or_default()));
            m.insert("iam_auth".into(), Value::str(a.iam_auth().map_or("DISABLED", IamAuthMode::as_str)));
            if let Some(c) = a.client_password_auth_type() {
                m.insert("client_password_auth_type".into(), Value::str(c.as_str()));
            }
            Value::Map(m)
        })
        .collect();
    auth.sort_by_cached_key(|v| v.as_map().and_then(|m| text(m, "secret")).unwrap_or_default().to_owned());
    let mut props = Props::new();
    props.insert("name".into(), Value::str(&name));
    if let Some(f) = p.engine_family() {
        props.insert("engine_family".into(), Value::str(f));
    }
    props.insert("auth".into(), Value::List(auth));
    if let Some(r) = p.role_arn() {
        props.insert("role_arn".into(), Value::str(r));
    }
    props.insert("subnets".into(), sorted(p.vpc_subnet_ids()));
    props.insert("security_groups".into(), sorted(p.vpc_security_group_ids()));
    props.insert("require_tls".into(), Value::Bool(p.require_tls().unwrap_or(false)));
    props.insert("idle_client_timeout".into(), Value::Int(i64::from(p.idle_client_timeout().unwrap_or(1800))));
    props.insert("debug_logging".into(), Value::Bool(p.debug_logging().unwrap_or(false)));
    let cluster = t.targets.iter().find_map(|t| {
        t.tracked_cluster_id().map(str::to_owned).or_else(|| {
            (t.r#type() == Some(&TargetType::TrackedCluster))
                .then(|| t.rds_resource_id().unwrap_or_default().to_owned())
        })
    });
    props.insert("target_cluster".into(), cluster.map(Value::str).unwrap_or(Value::Null));
    if let Some(c) = t.group.as_ref().and_then(DbProxyTargetGroup::connection_pool_config) {
        let mut pool = Props::new();
        let mut put = |k: &str, v: Option<i32>| {
            if let Some(v) = v {
                pool.insert(k.into(), Value::Int(i64::from(v)));
            }
        };
        put("max_connections_percent", c.max_connections_percent());
        put("max_idle_connections_percent", c.max_idle_connections_percent());
        put("connection_borrow_timeout", c.connection_borrow_timeout());
        if let Some(q) = c.init_query().filter(|q| !q.is_empty()) {
            pool.insert("init_query".into(), Value::str(q));
        }
        if !c.session_pinning_filters().is_empty() {
            pool.insert("session_pinning_filters".into(), sorted(c.session_pinning_filters()));
        }
        props.insert("connection_pool".into(), Value::Map(pool));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&name));
    attrs.insert("arn".into(), Value::str(p.db_proxy_arn().unwrap_or_default()));
    attrs.insert("endpoint".into(), p.endpoint().map(Value::str).unwrap_or(Value::Null));
    attrs.insert("vpc".into(), p.vpc_id().map(Value::str).unwrap_or(Value::Null));
    super::set_created(&mut attrs, super::sdk_time(p.created_date()));
    Live { physical_id: name, props, attrs, tags }
}

async fn describe_one(cx: &Cx, name: &str) -> Result<Option<Proxy>, AwsError> {
    match client(cx).describe_db_proxies().db_proxy_name(name).send().await.map_err(classify) {
        Ok(out) => Ok(out.db_proxies().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// ListTagsForResource: one resource per call (RDS has no batch tag read).
async fn tags_of(cx: &Cx, arn: &str) -> Result<Tags, AwsError> {
    let out = client(cx).list_tags_for_resource().resource_name(arn).send().await.map_err(classify)?;
    Ok(without_aws_tags(out.tag_list().iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))))
}

/// The default target group and the targets of one proxy: one DescribeDBProxyTargetGroups and
/// one DescribeDBProxyTargets (both take one proxy; there is no batch form).
async fn targets_of(cx: &Cx, name: &str) -> Result<Targets, AwsError> {
    let rds = client(cx);
    let groups = rds.describe_db_proxy_target_groups().db_proxy_name(name).target_group_name(TARGET_GROUP);
    let targets = rds.describe_db_proxy_targets().db_proxy_name(name).target_group_name(TARGET_GROUP);
    let (groups, targets) = futures_util::future::join(
        all_items(groups.into_paginator().items().send()),
        all_items(targets.into_paginator().items().send()),
    )
    .await;
    Ok(Targets { group: groups?.into_iter().next(), targets: targets? })
}

async fn read_back(cx: &Cx, p: &Proxy) -> Result<Live, AwsError> {
    let name = p.db_proxy_name().unwrap_or_default();
    let (tags, targets) =
        futures_util::future::join(tags_of(cx, p.db_proxy_arn().unwrap_or_default()), targets_of(cx, name)).await;
    Ok(live(p, &targets?, tags?))
}

fn readiness(p: Option<&Proxy>) -> Poll<()> {
    match p.and_then(Proxy::status) {
        Some(DbProxyStatus::Available) => Poll::Ready(()),
        Some(
            s @ (DbProxyStatus::IncompatibleNetwork
            | DbProxyStatus::InsufficientResourceLimits
            | DbProxyStatus::Suspended
            | DbProxyStatus::Deleting),
        ) => Poll::Failed(format!("ended in state {}", s.as_str())),
        Some(s) => Poll::Pending(s.as_str().to_owned()),
        None => Poll::Pending("not visible yet".into()),
    }
}

async fn wait_available(cx: &Cx, logical_id: &str, name: &str) -> Result<Proxy, AwsError> {
    wait_until(
        &cx.wait,
        &format!("DB proxy {name}"),
        |m| cx.status(logical_id, m),
        || async move {
            let p = describe_one(cx, name).await?;
            Ok(match readiness(p.as_ref()) {
                Poll::Ready(()) => Poll::Ready(p.expect("ready means described")),
                Poll::Pending(s) => Poll::Pending(s),
                Poll::Failed(s) => Poll::Failed(s),
            })
        },
    )
    .await
}

async fn set_pool(cx: &Cx, name: &str, props: &Props) -> Result<(), AwsError> {
    client(cx)
        .modify_db_proxy_target_group()
        .db_proxy_name(name)
        .target_group_name(TARGET_GROUP)
        .connection_pool_config(pool_config(props))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

/// Registers `cluster` in the default target group. The targets' health (which depends on the
/// cluster's instances and the secrets) is not waited for: a cluster whose instance is still
/// being created is a healthy registration.
async fn register(cx: &Cx, name: &str, cluster: &str) -> Result<(), AwsError> {
    let sent = client(cx)
        .register_db_proxy_targets()
        .db_proxy_name(name)
        .target_group_name(TARGET_GROUP)
        .db_cluster_identifiers(cluster)
        .send()
        .await;
    match sent.map_err(classify) {
        // DBProxyTargetAlreadyRegisteredFault: a resend after a lost answer.
        Err(AwsError::AlreadyExists(_)) => Ok(()),
        Err(AwsError::Invalid(m)) if m.contains("AlreadyRegistered") => Ok(()),
        r => r.map(|_| ()),
    }
}

impl KindSpec for DbProxy {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateDBProxy, ModifyDBProxyTargetGroup): the name rule; at least one secret;
    /// password auth types of the engine family; IAM auth ENABLED for SQL Server only; subnets
    /// in at least two zones; timeouts and pool percentages in AWS's ranges.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        match s.get("name") {
            None | Some(Expr::Lit(Value::Null)) => {
                let n = default_name(s.stack.name(), s.id);
                if let Some(why) = name_problem(&n, NAME_MAX) {
                    out.push(
                        Problem::new("", format!("the default proxy name `{n}` (`<stack>-<id>`) {why}"))
                            .help("give `name`, or shorten the stack name or the resource id"),
                    );
                }
            }
            _ => {
                if let Some(n) = s.str("name")
                    && let Some(why) = name_problem(n, NAME_MAX)
                {
                    out.push(Problem::new("name", format!("proxy name `{n}` {why}")));
                }
            }
        }
        let family = s.str("engine_family");
        if matches!(s.get("auth"), Some(Expr::List(l)) if l.is_empty()) {
            out.push(Problem::new("auth", "a proxy needs at least one `auth` entry (a secret clients log in with)"));
        }
        for (i, item) in s.list("auth").iter().enumerate() {
            let Expr::Map(a) = item else { continue };
            if let Some(e) = a.get("secret") {
                out.extend(wrong_kind(s, &format!("auth.{i}.secret"), e, &["secret"]));
                if let Some(arn) = lit_str(Some(e))
                    && !(arn.starts_with("arn:") && arn.contains(":secretsmanager:"))
                {
                    out.push(
                        Problem::new(
                            format!("auth.{i}.secret"),
                            format!("`{arn}` is not a Secrets Manager secret ARN"),
                        )
                        .help("arn:aws:secretsmanager:<region>:<account>:secret:<name>, e.g. `${db_secret.arn}`"),
                    );
                }
            }
            if let (Some(t), Some(f)) = (lit_str(a.get("client_password_auth_type")), family)
                && family_of_password_auth(t) != f
            {
                out.push(
                    Problem::new(
                        format!("auth.{i}.client_password_auth_type"),
                        format!("{t} is not a password auth type of engine family {f}"),
                    )
                    .help(format!("e.g. {}", default_password_auth(f).unwrap_or_default())),
                );
            }
            if lit_str(a.get("iam_auth")) == Some("ENABLED") && family.is_some_and(|f| f != "SQLSERVER") {
                out.push(
                    Problem::new(format!("auth.{i}.iam_auth"), "iam_auth ENABLED is for SQL Server proxies only")
                        .help("REQUIRED (IAM tokens only) or DISABLED (passwords)"),
                );
            }
        }
        if let Some(e) = s.get("role_arn") {
            out.extend(wrong_kind(s, "role_arn", e, &["iam_role"]));
            if let Some(arn) = s.str("role_arn")
                && !(arn.starts_with("arn:") && arn.contains(":iam::") && arn.contains(":role/"))
            {
                out.push(
                    Problem::new("role_arn", format!("`{arn}` is not an IAM role ARN"))
                        .help("arn:aws:iam::<account>:role/<name>, e.g. `${proxy_role.arn}`"),
                );
            }
        }
        let subnets = s.list("subnets");
        for (i, e) in subnets.iter().enumerate() {
            out.extend(wrong_kind(s, &format!("subnets.{i}"), e, &["subnet"]));
        }
        if matches!(s.get("subnets"), Some(Expr::List(_))) {
            let zones: Vec<Option<Zone>> = subnets.iter().map(|e| subnet_zone(s.stack, e)).collect();
            let named: Vec<&str> =
                zones.iter().filter_map(|z| if let Some(Zone::Named(z)) = z { Some(*z) } else { None }).collect();
            let all_named = named.len() == subnets.len();
            let mut distinct = named.clone();
            distinct.sort_unstable();
            distinct.dedup();
            // Zones written out are known; zones AWS picks, or of subnets written as ids, are not.
            if subnets.len() < 2 || (all_named && distinct.len() < 2) {
                out.push(
                    Problem::new("subnets", "a proxy needs subnets in at least two availability zones")
                        .help("AWS refuses a proxy whose subnets are all in one zone"),
                );
            }
        }
        for (i, e) in s.list("security_groups").iter().enumerate() {
            out.extend(wrong_kind(s, &format!("security_groups.{i}"), e, &["security_group"]));
        }
        if let Some(n) = s.int("idle_client_timeout").filter(|n| !(1..=28800).contains(n)) {
            out.push(Problem::new("idle_client_timeout", format!("{n} seconds: AWS allows 1 to 28800 (8 hours)")));
        }
        if let Some(e) = s.get("target_cluster") {
            out.extend(wrong_kind(s, "target_cluster", e, &["db_cluster"]));
            if let (Some(f), Some((id, "db_cluster", props))) = (family, s.referenced("target_cluster"))
                && let Some(engine) = lit_str(props.get("engine"))
            {
                let wanted = if engine.contains("postgres") {
                    "POSTGRESQL"
                } else if engine.contains("mysql") {
                    "MYSQL"
                } else {
                    f
                };
                if wanted != f {
                    out.push(Problem::new(
                        "engine_family",
                        format!("cluster `{id}` runs {engine}: the proxy's engine family must be {wanted}"),
                    ));
                }
            }
        }
        if let Some(Expr::Map(pool)) = s.get("connection_pool") {
            let n = |k: &str| crate::spec::rules::lit_int(pool.get(k));
            let max = n("max_connections_percent");
            if let Some(m) = max.filter(|m| !(1..=100).contains(m)) {
                out.push(Problem::new("connection_pool.max_connections_percent", format!("{m}%: AWS allows 1 to 100")));
            }
            let idle = n("max_idle_connections_percent").or(Some(50));
            if let (Some(i), Some(m)) = (idle, max.or(Some(100)))
                && (i < 0 || i > m)
            {
                out.push(Problem::new(
                    "connection_pool.max_idle_connections_percent",
                    format!("{i}% idle: AWS allows 0 to max_connections_percent ({m}%)"),
                ));
            }
            if let Some(t) = n("connection_borrow_timeout").filter(|t| !(0..=3600).contains(t)) {
                out.push(Problem::new(
                    "connection_pool.connection_borrow_timeout",
                    format!("{t} seconds: AWS allows 0 to 3600"),
                ));
            }
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        let name = name_of(stack, id, props);
        props.insert("name".into(), Value::str(name));
        let family = text(props, "engine_family").map(str::to_owned);
        if let Some(Value::List(items)) = props.get_mut("auth") {
            for item in items {
                if let Value::Map(a) = item
                    && a.get("client_password_auth_type").is_none_or(Value::is_null)
                    && let Some(d) = family.as_deref().and_then(default_password_auth)
                {
                    a.insert("client_password_auth_type".into(), Value::str(d));
                }
            }
        }
        // No cluster in the stack: none registered (one registered by hand is drift).
        props.entry("target_cluster".into()).or_insert(Value::Null);
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("rds", "db-proxy"))
    }

    /// Its network interfaces sit in its subnets and security groups until it is gone.
    fn holds(&self) -> &'static [&'static str] {
        &["subnet", "security_group"]
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("rds", "CreateDBProxy"), ("rds", "DeleteDBProxy")])
    }
}

#[async_trait]
impl Kind for DbProxy {
    /// One paginated DescribeDBProxies for the region. It reports no tags, and RDS has no batch
    /// tag read: tags come from the refresh's Tagging API index, and one ListTagsForResource per
    /// proxy where the index lacks a recorded one or disagrees with the state (per proxy
    /// without an index). The target group and targets have no batch describe either: one
    /// DescribeDBProxyTargetGroups and one DescribeDBProxyTargets per proxy the stack owns.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let proxies = all_items(client(cx).describe_db_proxies().into_paginator().items().send()).await?;
        let every = ids.is_empty() || tagging::has_index(cx).await;
        let candidates: Vec<(String, String)> = proxies
            .iter()
            .filter_map(|p| Some((p.db_proxy_name()?.to_owned(), p.db_proxy_arn()?.to_owned())))
            .filter(|(name, _)| every || ids.contains(name))
            .collect();
        let mut tags = tagging::tags_by_id(cx, &candidates, |arns| {
            tagging::each(arns, |arn| async move { tags_of(cx, &arn).await })
        })
        .await?;
        let owned: Vec<&Proxy> = proxies
            .iter()
            .filter(|p| p.db_proxy_name().is_some_and(|n| tags.contains_key(n)))
            .filter(|p| {
                ids.iter().any(|i| Some(i.as_str()) == p.db_proxy_name())
                    || owned_by(cx, tags.get(p.db_proxy_name().unwrap_or_default()))
            })
            .collect();
        let reads = owned.iter().map(|p| async move {
            let name = p.db_proxy_name().unwrap_or_default();
            (name.to_owned(), targets_of(cx, name).await)
        });
        let mut targets = HashMap::new();
        for (name, t) in futures_util::future::join_all(reads).await {
            match t {
                Ok(t) => {
                    targets.insert(name, t);
                }
                // Deleted between the two reads.
                Err(AwsError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(owned
            .iter()
            .filter_map(|p| {
                let name = p.db_proxy_name()?;
                let t = targets.remove(name)?;
                Some(live(p, &t, tags.remove(name)?))
            })
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        let name = name_of(&cx.stack, req.id, p);
        let sent = client(cx)
            .create_db_proxy()
            .db_proxy_name(&name)
            .set_engine_family(text(p, "engine_family").map(aws_sdk_rds::types::EngineFamily::from))
            .set_auth(Some(sdk_auth(p)))
            .set_role_arn(text(p, "role_arn").map(str::to_owned))
            .set_vpc_subnet_ids(Some(p.get("subnets").map(Value::string_list).unwrap_or_default()))
            .set_vpc_security_group_ids(p.get("security_groups").map(Value::string_list).filter(|g| !g.is_empty()))
            .require_tls(p.get("require_tls").and_then(Value::as_bool).unwrap_or(true))
            .idle_client_timeout(int(p, "idle_client_timeout").unwrap_or(1800))
            .debug_logging(p.get("debug_logging").and_then(Value::as_bool).unwrap_or(false))
            .set_tags(Some(sdk_tags(req.tags)))
            .customize()
            .config_override(no_resend())
            .send()
            .await;
        // No idempotency token: a resend after a lost answer meets DBProxyAlreadyExistsFault;
        // the proxy is taken only if it carries this resource's ownership tags.
        let existing = || async {
            Ok(match describe_one(cx, &name).await? {
                Some(p) => Some(tags_of(cx, p.db_proxy_arn().unwrap_or_default()).await?),
                None => None,
            })
        };
        let what = format!("DB proxy {name}");
        super::created_or_ours(cx, req, sent.map_err(classify_unretried), &what, "choose another name, or `adopt: true`", existing).await?;
        wait_available(cx, req.id, &name).await?;
        set_pool(cx, &name, p).await?;
        if let Some(cluster) = text(p, "target_cluster") {
            register(cx, &name, cluster).await?;
        }
        let proxy = wait_available(cx, req.id, &name).await?;
        read_back(cx, &proxy).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let (name, new) = (req.physical_id, req.new);
        let changed = |p: &str| req.changed.iter().any(|c| c == p);
        let rds = client(cx);
        let mut m = rds.modify_db_proxy().db_proxy_name(name);
        let mut any = false;
        if changed("auth") {
            m = m.set_auth(Some(sdk_auth(new)));
            any = true;
        }
        if changed("role_arn") {
            m = m.set_role_arn(text(new, "role_arn").map(str::to_owned));
            any = true;
        }
        if changed("security_groups") {
            m = m.set_security_groups(Some(new.get("security_groups").map(Value::string_list).unwrap_or_default()));
            any = true;
        }
        if changed("require_tls") {
            m = m.require_tls(new.get("require_tls").and_then(Value::as_bool).unwrap_or(true));
            any = true;
        }
        if changed("idle_client_timeout") {
            m = m.idle_client_timeout(int(new, "idle_client_timeout").unwrap_or(1800));
            any = true;
        }
        if changed("debug_logging") {
            m = m.debug_logging(new.get("debug_logging").and_then(Value::as_bool).unwrap_or(false));
            any = true;
        }
        if any {
            m.send().await.map_err(classify)?;
            wait_available(cx, req.id, name).await?;
        }
        if changed("connection_pool") {
            set_pool(cx, name, new).await?;
        }
        if changed("target_cluster") {
            if let Some(old) = text(req.old, "target_cluster") {
                let sent = rds
                    .deregister_db_proxy_targets()
                    .db_proxy_name(name)
                    .target_group_name(TARGET_GROUP)
                    .db_cluster_identifiers(old)
                    .send()
                    .await;
                super::gone_ok(sent.map_err(classify))?;
            }
            if let Some(cluster) = text(new, "target_cluster") {
                register(cx, name, cluster).await?;
            }
        }
        let proxy = wait_available(cx, req.id, name).await?;
        if changed("tags") {
            let arn = proxy.db_proxy_arn().unwrap_or_default();
            let (stale, fresh) = tag_changes(req.old_tags, req.tags);
            if !stale.is_empty() {
                rds.remove_tags_from_resource()
                    .resource_name(arn)
                    .set_tag_keys(Some(stale))
                    .send()
                    .await
                    .map_err(classify)?;
            }
            if !fresh.is_empty() {
                rds.add_tags_to_resource()
                    .resource_name(arn)
                    .set_tags(Some(sdk_tags(&fresh)))
                    .send()
                    .await
                    .map_err(classify)?;
            }
        }
        read_back(cx, &proxy).await
    }

    /// DeleteDBProxy, then waits until DescribeDBProxies answers DBProxyNotFoundFault (its
    /// network interfaces go with it). AWS refuses while the proxy is being created or changed
    /// (InvalidDBProxyStateFault): in use, retried.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let sent = client(cx).delete_db_proxy().db_proxy_name(req.physical_id).send().await;
        let r = match sent.map_err(classify) {
            Err(AwsError::Invalid(m)) if m.starts_with("InvalidDBProxyState") => {
                Err(AwsError::InUse(format!("DB proxy {} is busy ({m})", req.physical_id)))
            }
            r => r.map(|_| ()),
        };
        match r {
            Err(AwsError::NotFound(_)) => return Ok(()),
            r => r?,
        }
        let what = format!("deletion of DB proxy {}", req.physical_id);
        let state = |p: &Proxy| Poll::Pending(p.status().map_or("listed", DbProxyStatus::as_str).to_owned());
        wait_gone(cx, req.id, &what, || describe_one(cx, req.physical_id), state).await
    }
}

/// Whether tags say the proxy is the stack's (read_many's answer is filtered by `kinds::owned`
/// too; this only spares the per-proxy target reads of other stacks' proxies).
fn owned_by(cx: &Cx, tags: Option<&Tags>) -> bool {
    tags.and_then(|t| t.get(super::TAG_STACK)).is_some_and(|s| *s == cx.stack)
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::Client;
    use aws_sdk_rds::operation::create_db_proxy::CreateDbProxyOutput;
    use aws_sdk_rds::operation::delete_db_proxy::{DeleteDBProxyError, DeleteDbProxyOutput};
    use aws_sdk_rds::operation::describe_db_proxies::{DescribeDBProxiesError, DescribeDbProxiesOutput};
    use aws_sdk_rds::operation::describe_db_proxy_target_groups::DescribeDbProxyTargetGroupsOutput;
    use aws_sdk_rds::operation::describe_db_proxy_targets::DescribeDbProxyTargetsOutput;
    use aws_sdk_rds::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_rds::operation::modify_db_proxy_target_group::ModifyDbProxyTargetGroupOutput;
    use aws_sdk_rds::operation::register_db_proxy_targets::RegisterDbProxyTargetsOutput;
    use aws_sdk_rds::types::{ConnectionPoolConfigurationInfo, UserAuthConfigInfo};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::{Status, map, mocked, owned_tags, props, strs};

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("m").build()
    }

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_rds, RuleMode::MatchAny, rules))
    }

    fn proxy(status: DbProxyStatus) -> Proxy {
        Proxy::builder()
            .db_proxy_name("s-proxy")
            .db_proxy_arn("arn:aws:rds:us-east-1:123456789012:db-proxy:prx-0123456789abcdef0")
            .status(status)
            .engine_family("POSTGRESQL")
            .vpc_id("vpc-1")
            .vpc_subnet_ids("subnet-b")
            .vpc_subnet_ids("subnet-a")
            .vpc_security_group_ids("sg-1")
            .auth(
                UserAuthConfigInfo::builder()
                    .secret_arn(SECRET)
                    .auth_scheme(AuthScheme::Secrets)
                    .iam_auth(IamAuthMode::Disabled)
                    .client_password_auth_type(ClientPasswordAuthType::PostgresScramSha256)
                    .build(),
            )
            .role_arn("arn:aws:iam::123456789012:role/proxy")
            .endpoint("s-proxy.proxy-x.us-east-1.rds.amazonaws.com")
            .require_tls(true)
            .idle_client_timeout(1800)
            .debug_logging(false)
            .build()
    }

    fn described(status: DbProxyStatus) -> impl Fn() -> DescribeDbProxiesOutput {
        move || DescribeDbProxiesOutput::builder().db_proxies(proxy(status.clone())).build()
    }

    fn wanted() -> Props {
        let mut p = props(&[
            ("engine_family", Value::str("POSTGRESQL")),
            ("auth", Value::List(vec![map(&[("secret", Value::str(SECRET)), ("iam_auth", Value::str("DISABLED"))])])),
            ("role_arn", Value::str("arn:aws:iam::123456789012:role/proxy")),
            ("subnets", strs(&["subnet-a", "subnet-b"])),
            ("security_groups", strs(&["sg-1"])),
            ("require_tls", Value::Bool(true)),
            ("idle_client_timeout", Value::Int(1800)),
            ("debug_logging", Value::Bool(false)),
            ("target_cluster", Value::str("s-db")),
            (
                "connection_pool",
                map(&[
                    ("max_connections_percent", Value::Int(100)),
                    ("max_idle_connections_percent", Value::Int(50)),
                    ("connection_borrow_timeout", Value::Int(120)),
                ]),
            ),
        ]);
        DbProxy.normalise("s", "proxy", &mut p);
        p
    }

    fn after_create() -> [Rule; 5] {
        let pool = mock!(Client::modify_db_proxy_target_group)
            .then_output(|| ModifyDbProxyTargetGroupOutput::builder().build());
        let register = mock!(Client::register_db_proxy_targets)
            .match_requests(|r| r.db_cluster_identifiers() == ["s-db"] && r.target_group_name() == Some("default"))
            .then_output(|| RegisterDbProxyTargetsOutput::builder().build());
        let groups = mock!(Client::describe_db_proxy_target_groups).then_output(|| {
            DescribeDbProxyTargetGroupsOutput::builder()
                .target_groups(
                    DbProxyTargetGroup::builder()
                        .target_group_name("default")
                        .connection_pool_config(
                            ConnectionPoolConfigurationInfo::builder()
                                .max_connections_percent(100)
                                .max_idle_connections_percent(50)
                                .connection_borrow_timeout(120)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let targets = mock!(Client::describe_db_proxy_targets).then_output(|| {
            DescribeDbProxyTargetsOutput::builder()
                .targets(DbProxyTarget::builder().r#type(TargetType::TrackedCluster).rds_resource_id("s-db").build())
                .build()
        });
        let tags = mock!(Client::list_tags_for_resource).then_output(|| {
            ListTagsForResourceOutput::builder().set_tag_list(Some(sdk_tags(&owned_tags("s", "proxy", "t")))).build()
        });
        [pool, register, groups, targets, tags]
    }

    fn create_ok() -> Rule {
        mock!(Client::create_db_proxy)
            .match_requests(|r| {
                r.auth().first().and_then(|a| a.client_password_auth_type())
                    == Some(&ClientPasswordAuthType::PostgresScramSha256)
            })
            .then_output(|| CreateDbProxyOutput::builder().db_proxy(proxy(DbProxyStatus::Creating)).build())
    }

    #[tokio::test(start_paused = true)]
    async fn create_waits_until_available_then_sets_the_pool_and_registers_the_cluster() {
        let describe = mock!(Client::describe_db_proxies)
            .sequence()
            .output(described(DbProxyStatus::Creating))
            .times(2)
            .output(described(DbProxyStatus::Available))
            .repeatedly()
            .build();
        let [pool, register, groups, targets, tags] = after_create();
        let (cx, seen) = cx(&[&create_ok(), &describe, &pool, &register, &groups, &targets, &tags]);
        let (p, t) = (wanted(), owned_tags("s", "proxy", "t"));
        let l = DbProxy.create(&cx, &CreateReq { id: "proxy", props: &p, tags: &t, token: "t" }).await.unwrap();
        assert_eq!(l.physical_id, "s-proxy");
        for (k, v) in &p {
            assert_eq!(l.props.get(k), Some(v), "{k}");
        }
        assert_eq!(l.attrs["endpoint"], Value::str("s-proxy.proxy-x.us-east-1.rds.amazonaws.com"));
        assert_eq!((pool.num_calls(), register.num_calls()), (1, 1));
        assert!(seen.lock().unwrap().iter().any(|m| m.ends_with("(now creating)")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_proxy_that_cannot_reach_its_network_fails_and_one_never_available_times_out() {
        let describe = mock!(Client::describe_db_proxies).then_output(described(DbProxyStatus::IncompatibleNetwork));
        let (cx1, _) = cx(&[&create_ok(), &describe]);
        let (p, t) = (wanted(), owned_tags("s", "proxy", "t"));
        let req = CreateReq { id: "proxy", props: &p, tags: &t, token: "t" };
        let got = DbProxy.create(&cx1, &req).await;
        assert!(matches!(&got, Err(AwsError::Failed(m)) if m.contains("incompatible-network")), "{got:?}");

        let describe = mock!(Client::describe_db_proxies).then_output(described(DbProxyStatus::Creating));
        let (cx2, _) = cx(&[&create_ok(), &describe]);
        assert!(matches!(DbProxy.create(&cx2, &req).await, Err(AwsError::WaitTimeout { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn delete_waits_until_not_found_and_a_missing_proxy_is_gone() {
        let ok = mock!(Client::delete_db_proxy).then_output(|| DeleteDbProxyOutput::builder().build());
        let describe = mock!(Client::describe_db_proxies)
            .sequence()
            .output(described(DbProxyStatus::Deleting))
            .times(2)
            .error(|| DescribeDBProxiesError::generic(meta("DBProxyNotFoundFault")))
            .build();
        let (c, _) = cx(&[&ok, &describe]);
        let none = Props::new();
        let req = DeleteReq { id: "proxy", physical_id: "s-proxy", props: &none, attrs: &none };
        assert_eq!(DbProxy.delete(&c, &req).await, Ok(()));
        assert_eq!(describe.num_calls(), 3);

        let gone =
            mock!(Client::delete_db_proxy).then_error(|| DeleteDBProxyError::generic(meta("DBProxyNotFoundFault")));
        let (c, _) = cx(&[&gone]);
        assert_eq!(DbProxy.delete(&c, &req).await, Ok(()));

        let busy =
            mock!(Client::delete_db_proxy).then_error(|| DeleteDBProxyError::generic(meta("InvalidDBProxyStateFault")));
        let (c, _) = cx(&[&busy]);
        assert!(matches!(DbProxy.delete(&c, &req).await, Err(AwsError::InUse(_))));
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    const NET: &str = "vpc: { type: vpc, cidr: 10.0.0.0/16 }
a: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.0.0.0/24, az: us-east-1a }
b: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.0.1.0/24, az: us-east-1b }
c: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.0.2.0/24, az: us-east-1a }
";
    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
    const ROLE: &str = "arn:aws:iam::123456789012:role/proxy";

    fn proxy(subnets: &str, extra: &str) -> String {
        format!(
            "{NET}p: {{ type: db_proxy, engine_family: POSTGRESQL, role_arn: \"{ROLE}\", subnets: [{subnets}], auth: [{{ secret: \"{SECRET}\"{extra} }}] }}"
        )
    }

    #[test]
    fn names_zones_and_auth() {
        let two = "\"${a.id}\", \"${b.id}\"";
        check_rules(&proxy(two, ""), &[]);
        check_rules(&proxy(two, ", iam_auth: REQUIRED, client_password_auth_type: POSTGRES_MD5"), &[]);
        check_rules(
            &proxy("\"${a.id}\", \"${c.id}\"", ""),
            &["a proxy needs subnets in at least two availability zones"],
        );
        check_rules(&proxy("\"${a.id}\"", ""), &["at least two availability zones"]);
        check_rules(
            &proxy(two, ", client_password_auth_type: MYSQL_NATIVE_PASSWORD"),
            &["MYSQL_NATIVE_PASSWORD is not a password auth type of engine family POSTGRESQL | POSTGRES_SCRAM_SHA_256"],
        );
        check_rules(&proxy(two, ", iam_auth: ENABLED"), &["iam_auth ENABLED is for SQL Server proxies only"]);
        check_rules(
            &format!(
                "{NET}p: {{ type: db_proxy, engine_family: MYSQL, role_arn: \"{ROLE}\", subnets: [subnet-1, subnet-2], auth: [{{ secret: production-db-password }}] }}"
            ),
            &["`production-db-password` is not a Secrets Manager secret ARN"],
        );
        check_rules(
            &format!(
                "{NET}p: {{ type: db_proxy, engine_family: MYSQL, role_arn: proxy-role-for-the-database, subnets: [subnet-1, subnet-2], auth: [] }}"
            ),
            &["`proxy-role-for-the-database` is not an IAM role ARN", "at least one `auth` entry"],
        );
        check_rules(
            &format!(
                "{NET}p: {{ type: db_proxy, name: my--proxy, engine_family: SQLSERVER, role_arn: \"{ROLE}\", subnets: [subnet-1, subnet-2], auth: [{{ secret: \"{SECRET}\", iam_auth: ENABLED }}] }}"
            ),
            &["name"],
        );
    }

    #[test]
    fn timeouts_and_pool() {
        let two = "\"${a.id}\", \"${b.id}\"";
        let with = |extra: &str| proxy(two, "").replace(" }] }", &format!(" }}], {extra} }}"));
        check_rules(
            &with(
                "idle_client_timeout: 28800, connection_pool: { max_connections_percent: 90, max_idle_connections_percent: 10 }",
            ),
            &[],
        );
        check_rules(&with("idle_client_timeout: 0"), &["0 seconds: AWS allows 1 to 28800"]);
        check_rules(
            &with("connection_pool: { max_connections_percent: 40 }"),
            &["50% idle: AWS allows 0 to max_connections_percent (40%)"],
        );
        check_rules(
            &with("connection_pool: { max_connections_percent: 101, max_idle_connections_percent: 10 }"),
            &["101%: AWS allows 1 to 100"],
        );
        check_rules(
            &with("connection_pool: { connection_borrow_timeout: 3601 }"),
            &["3601 seconds: AWS allows 0 to 3600"],
        );
    }
}
