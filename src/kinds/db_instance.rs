use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance as SdkInstance;

use super::db_cluster::ENGINES;
use super::rds::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, all_items, classify, wait_gone};
use crate::expr::{Expr, ExprMap};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{earlier_with_same_name, lit_str, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject, regions};
use crate::value::{Props, Value};

pub struct DbInstance;

static SCHEMA: KindSchema = KindSchema {
    name: "db_instance",
    doc: "A member of an Aurora `db_cluster`: the instance that serves it (the first one the writer, the others \
          readers). Created and waited until `available`; a delete waits until it is gone. Backups and the final \
          snapshot are the cluster's.",
    props: &[
        Prop::new(
            "identifier",
            Ty::Str,
            "The instance identifier: 1 to 63 letters, digits and hyphens, a letter first, no two hyphens in a row, \
             none at the end; AWS keeps it lower-case. Default: `<stack>-<id>`, lower-case, `_` made `-`.",
        )
        .aws("rds:CreateDBInstanceMessage.DBInstanceIdentifier")
        .replaces(),
        Prop::new("cluster", Ty::Str, "The identifier of the cluster it belongs to (its `${cluster.id}`).")
            .aws("rds:CreateDBInstanceMessage.DBClusterIdentifier")
            .required()
            .replaces(),
        Prop::new(
            "instance_class",
            Ty::Str,
            "The instance class: `db.serverless` (Aurora Serverless v2: the cluster needs `serverless_v2`), or a \
             provisioned class such as `db.r6g.large` or `db.t4g.medium`.",
        )
        .aws("rds:CreateDBInstanceMessage.DBInstanceClass")
        .required(),
        Prop::new("engine", Ty::Enum(ENGINES), "The cluster's engine (AWS requires it again for each member).")
            .aws("rds:CreateDBInstanceMessage.Engine")
            .required()
            .replaces(),
        Prop::new(
            "availability_zone",
            Ty::Str,
            "The availability zone to place it in (one of its cluster's subnet group); AWS picks one when left out.",
        )
        .aws("rds:CreateDBInstanceMessage.AvailabilityZone")
        .replaces(),
        Prop::new(
            "publicly_accessible",
            Ty::Bool,
            "Give the instance a public DNS name that resolves to a public address (its subnets need a route to an \
             internet gateway).",
        )
        .aws("rds:CreateDBInstanceMessage.PubliclyAccessible")
        .default(Default::Bool(false)),
        Prop::new("performance_insights", Ty::Bool, "Turn on Performance Insights (7 days of history, free tier).")
            .aws("rds:CreateDBInstanceMessage.EnablePerformanceInsights")
            .default(Default::Bool(false)),
        Prop::new(
            "promotion_tier",
            Ty::Int,
            "The order (0 to 15, lowest first) in which readers are promoted to writer when the writer fails.",
        )
        .aws("rds:CreateDBInstanceMessage.PromotionTier")
        .default(Default::Int(1)),
        Prop::new("auto_minor_version_upgrade", Ty::Bool, "Apply minor engine upgrades in the maintenance window.")
            .aws("rds:CreateDBInstanceMessage.AutoMinorVersionUpgrade")
            .default(Default::Bool(true)),
        Prop::new(
            "apply_immediately",
            Ty::Bool,
            "Apply changes now. With false, a new instance class waits for the maintenance window, and plans show it \
             as still to make until then.",
        )
        .aws("rds:ModifyDBInstanceMessage.ApplyImmediately")
        .default(Default::Bool(true)),
    ],
    attrs: &[
        Attr::new("id", "The instance identifier."),
        Attr::new("arn", "The instance's ARN (arn:aws:rds:REGION:ACCOUNT:db:IDENTIFIER)."),
        Attr::new("endpoint", "The instance's own DNS name (clients normally use the cluster's endpoints)."),
        Attr::new("port", "The port it listens on."),
        Attr::new("availability_zone", "The availability zone it runs in."),
    ],
    taggable: true,
};

fn text<'a>(props: &'a Props, name: &str) -> Option<&'a str> {
    props.get(name).and_then(Value::as_str)
}

fn flag(props: &Props, name: &str) -> Option<bool> {
    props.get(name).and_then(Value::as_bool)
}

fn int(props: &Props, name: &str) -> Option<i32> {
    props.get(name).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

fn live(i: &SdkInstance) -> Live {
    let ident = i.db_instance_identifier().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("identifier".into(), Value::str(&ident));
    props.insert("cluster".into(), i.db_cluster_identifier().map(Value::str).unwrap_or(Value::Null));
    props.insert("instance_class".into(), Value::str(i.db_instance_class().unwrap_or_default()));
    props.insert("engine".into(), Value::str(i.engine().unwrap_or_default()));
    if let Some(z) = i.availability_zone() {
        props.insert("availability_zone".into(), Value::str(z));
    }
    props.insert("publicly_accessible".into(), Value::Bool(i.publicly_accessible().unwrap_or(false)));
    props.insert("performance_insights".into(), Value::Bool(i.performance_insights_enabled().unwrap_or(false)));
    props.insert("promotion_tier".into(), i.promotion_tier().map_or(Value::Null, |t| Value::Int(t.into())));
    props.insert("auto_minor_version_upgrade".into(), Value::Bool(i.auto_minor_version_upgrade().unwrap_or(true)));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&ident));
    attrs.insert("arn".into(), i.db_instance_arn().map(Value::str).unwrap_or(Value::Null));
    let endpoint = i.endpoint();
    attrs.insert("endpoint".into(), endpoint.and_then(|e| e.address()).map(Value::str).unwrap_or(Value::Null));
    attrs.insert("port".into(), endpoint.and_then(|e| e.port()).map_or(Value::Null, |p| Value::Int(p.into())));
    attrs.insert("availability_zone".into(), i.availability_zone().map(Value::str).unwrap_or(Value::Null));
    super::set_created(&mut attrs, super::sdk_time(i.instance_create_time()));
    Live { physical_id: ident, props, attrs, tags: rds::from_sdk(i.tag_list()) }
}

async fn describe_one(cx: &Cx, ident: &str) -> Result<Option<SdkInstance>, AwsError> {
    match client(cx).describe_db_instances().db_instance_identifier(ident).send().await.map_err(classify) {
        Ok(out) => Ok(out.db_instances().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn wait_available(cx: &Cx, logical_id: &str, ident: &str) -> Result<SdkInstance, AwsError> {
    let what = format!("DB instance {ident}");
    rds::wait_ready(cx, logical_id, &what, || describe_one(cx, ident), |x: &SdkInstance| x.db_instance_status()).await
}

fn identifier_written(stack: &str, id: &str, props: &ExprMap) -> Option<String> {
    match props.get("identifier") {
        None | Some(Expr::Lit(Value::Null)) => Some(rds::default_identifier(stack, id)),
        e => lit_str(e).map(str::to_lowercase),
    }
}

/// Aurora's instance classes: `db.serverless`, or `db.<family>.<size>` of the memory-optimised
/// (r, x) and burstable (t) families.
/// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.DBInstanceClass.html
fn class_problem(class: &str) -> Option<String> {
    if class == "db.serverless" {
        return None;
    }
    let parts: Vec<&str> = class.split('.').collect();
    let ok = parts.len() == 3
        && parts[0] == "db"
        && parts[1].starts_with(['r', 'x', 't'])
        && parts[1].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !parts[2].is_empty()
        && parts[2].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (!ok).then(|| {
        format!("`{class}` is not an Aurora instance class: `db.serverless`, or `db.<r, x or t family>.<size>`")
    })
}

impl KindSpec for DbInstance {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateDBInstance, an Aurora member): the identifier's rules and uniqueness in the
    /// region; the instance class one Aurora offers (`db.serverless` only in a cluster with
    /// Serverless v2 capacity: "InvalidParameterCombination"); the engine the cluster's; the
    /// promotion tier 0 to 15; a zone of the region.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        let stack = s.stack.name();
        match s.str("identifier") {
            Some(i) => out.extend(rds::identifier_problem(&i.to_lowercase()).map(|m| Problem::new("identifier", m))),
            None if matches!(s.get("identifier"), None | Some(Expr::Lit(Value::Null))) => {
                if let Some(m) = rds::identifier_problem(&rds::default_identifier(stack, s.id)) {
                    out.push(
                        Problem::new("", format!("the default identifier (`<stack>-<id>`): {m}"))
                            .help("give `identifier`, or shorten the stack name or the resource id"),
                    );
                }
            }
            None => {}
        }
        if let Some((other, ident)) = earlier_with_same_name(s, "db_instance", |id, p| identifier_written(stack, id, p))
        {
            out.push(Problem::new(
                "identifier",
                format!("db_instance `{other}` has the identifier `{ident}` too; AWS keeps instance identifiers unique in a region"),
            ));
        }
        if let Some(m) = s.str("instance_class").and_then(class_problem) {
            out.push(Problem::new("instance_class", m));
        }
        if let Some(t) = s.int("promotion_tier").filter(|t| !(0..=15).contains(t)) {
            out.push(Problem::new("promotion_tier", format!("{t}: AWS takes a promotion tier of 0 to 15")));
        }
        if let (Some(region), Some(z)) = (s.stack.region(), s.str("availability_zone")) {
            out.extend(regions::zone_problem(region, z, "availability_zone"));
        }
        if let Some(e) = s.get("cluster") {
            out.extend(wrong_kind(s, "cluster", e, &["db_cluster"]));
        }
        if let Some((cid, "db_cluster", cluster)) = s.referenced("cluster") {
            if let (Some(mine), Some(theirs)) = (s.str("engine"), lit_str(cluster.get("engine")))
                && mine != theirs
            {
                out.push(
                    Problem::new(
                        "engine",
                        format!("`{mine}`, but cluster `{cid}` runs `{theirs}`: AWS wants the cluster's engine"),
                    )
                    .help(format!("write `engine: {theirs}`")),
                );
            }
            if s.str("instance_class") == Some("db.serverless")
                && matches!(cluster.get("serverless_v2"), None | Some(Expr::Lit(Value::Null)))
            {
                out.push(
                    Problem::new(
                        "instance_class",
                        format!(
                            "`db.serverless` runs on Serverless v2 capacity, and cluster `{cid}` has no `serverless_v2`"
                        ),
                    )
                    .help(format!(
                        "give `{cid}` `serverless_v2: {{ min_capacity: 0.5, max_capacity: 4 }}`, or a provisioned class"
                    )),
                );
            }
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        let ident = match props.get("identifier").and_then(Value::as_str) {
            Some(i) => i.to_lowercase(),
            None => rds::default_identifier(stack, id),
        };
        props.insert("identifier".into(), Value::str(ident));
        // AWS keeps cluster identifiers lower-case too.
        if let Some(c) = props.get("cluster").and_then(Value::as_str).map(str::to_lowercase) {
            props.insert("cluster".into(), Value::str(c));
        }
    }

    fn holds(&self) -> &'static [&'static str] {
        &["db_cluster", "subnet", "security_group"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("rds", "db"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("rds", "CreateDBInstance")])
    }
}

#[async_trait]
impl Kind for DbInstance {
    /// One paginated DescribeDBInstances (its answer carries each instance's tags); instances
    /// outside any cluster (RDS for PostgreSQL, MySQL, ...) are not this kind's.
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let all = all_items(client(cx).describe_db_instances().into_paginator().items().send()).await?;
        Ok(all.iter().filter(|i| i.db_cluster_identifier().is_some()).map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        let ident = text(p, "identifier").map_or_else(|| rds::default_identifier(&cx.stack, req.id), str::to_lowercase);
        let sent = client(cx)
            .create_db_instance()
            .db_instance_identifier(&ident)
            .set_db_cluster_identifier(text(p, "cluster").map(str::to_owned))
            .set_db_instance_class(text(p, "instance_class").map(str::to_owned))
            .set_engine(text(p, "engine").map(str::to_owned))
            .set_availability_zone(text(p, "availability_zone").map(str::to_owned))
            .publicly_accessible(flag(p, "publicly_accessible").unwrap_or(false))
            .enable_performance_insights(flag(p, "performance_insights").unwrap_or(false))
            .set_promotion_tier(int(p, "promotion_tier"))
            .auto_minor_version_upgrade(flag(p, "auto_minor_version_upgrade").unwrap_or(true))
            .set_tags(Some(rds::to_sdk(req.tags)))
            .send()
            .await;
        // No idempotency token: a resend after a lost answer meets DBInstanceAlreadyExists; the
        // instance is taken if it carries this resource's ownership tags.
        let existing = || async { Ok(describe_one(cx, &ident).await?.map(|i| rds::from_sdk(i.tag_list()))) };
        let what = format!("DB instance {ident}");
        super::created_or_ours(cx, req, sent.map_err(classify), &what, "give another `identifier`", existing).await?;
        Ok(live(&wait_available(cx, req.id, &ident).await?))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let ident = req.physical_id;
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        let new = req.new;
        let mut op = client(cx)
            .modify_db_instance()
            .db_instance_identifier(ident)
            .apply_immediately(flag(new, "apply_immediately").unwrap_or(true));
        let mut any = false;
        if changed("instance_class") {
            op = op.set_db_instance_class(text(new, "instance_class").map(str::to_owned));
            any = true;
        }
        if changed("publicly_accessible") {
            op = op.publicly_accessible(flag(new, "publicly_accessible").unwrap_or(false));
            any = true;
        }
        if changed("performance_insights") {
            op = op.enable_performance_insights(flag(new, "performance_insights").unwrap_or(false));
            any = true;
        }
        if changed("promotion_tier") {
            op = op.set_promotion_tier(int(new, "promotion_tier"));
            any = true;
        }
        if changed("auto_minor_version_upgrade") {
            op = op.auto_minor_version_upgrade(flag(new, "auto_minor_version_upgrade").unwrap_or(true));
            any = true;
        }
        if any {
            op.send().await.map_err(classify)?;
        }
        if changed("tags") {
            let arn = describe_one(cx, ident)
                .await?
                .and_then(|i| i.db_instance_arn().map(str::to_owned))
                .ok_or_else(|| AwsError::NotFound(format!("DB instance {ident}")))?;
            rds::retag(cx, &arn, req.old_tags, req.tags).await?;
        }
        let i = wait_available(cx, req.id, ident).await?;
        if let Some(class) = i.pending_modified_values().and_then(|p| p.db_instance_class()) {
            cx.status(
                req.id,
                &format!("DB instance {ident}: instance class {class} pending until the maintenance window (apply_immediately is false)"),
            );
        }
        Ok(live(&i))
    }

    /// DeleteDBInstance, then a wait until it is gone (its network interfaces leave the
    /// subnets and security groups with it). An Aurora member has no snapshot of its own (the
    /// cluster's final snapshot holds the data), so none is asked for.
    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let ident = req.physical_id;
        let sent = client(cx)
            .delete_db_instance()
            .db_instance_identifier(ident)
            .skip_final_snapshot(true)
            .send()
            .await
            .map_err(classify);
        match sent {
            Err(AwsError::Invalid(m)) if m.to_lowercase().contains("deletion protection") => {
                return Err(AwsError::Blocked(format!(
                    "DB instance {ident} cannot be deleted while deletion protection is on: set `deletion_protection: false` on its cluster and apply, then delete ({m})"
                )));
            }
            // Already gone: nothing to wait for.
            Err(AwsError::NotFound(_)) => return Ok(()),
            r => {
                r?;
            }
        }
        let what = format!("deletion of DB instance {ident}");
        let state = |i: &SdkInstance| Poll::Pending(i.db_instance_status().unwrap_or("listed").to_owned());
        wait_gone(cx, req.id, &what, || describe_one(cx, ident), state).await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::Client;
    use aws_sdk_rds::operation::create_db_instance::{CreateDBInstanceError, CreateDbInstanceOutput};
    use aws_sdk_rds::operation::delete_db_instance::{DeleteDBInstanceError, DeleteDbInstanceOutput};
    use aws_sdk_rds::operation::describe_db_instances::{DescribeDBInstancesError, DescribeDbInstancesOutput};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::{Status, mocked, owned_tags};

    const IDENT: &str = "s-writer";

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("m").build()
    }

    fn tags() -> Tags {
        owned_tags("s", "writer", "t")
    }

    fn instance(status: &str, tags: &Tags) -> SdkInstance {
        SdkInstance::builder()
            .db_instance_identifier(IDENT)
            .db_instance_arn(format!("arn:aws:rds:us-east-1:123456789012:db:{IDENT}"))
            .db_cluster_identifier("s-db")
            .db_instance_class("db.serverless")
            .engine("aurora-postgresql")
            .db_instance_status(status)
            .availability_zone("us-east-1a")
            .promotion_tier(1)
            .endpoint(
                aws_sdk_rds::types::Endpoint::builder().address("s-writer.x.rds.amazonaws.com").port(5432).build(),
            )
            .set_tag_list(Some(rds::to_sdk(tags)))
            .build()
    }

    fn described(status: &'static str) -> impl Fn() -> DescribeDbInstancesOutput + Send + Sync + 'static {
        move || DescribeDbInstancesOutput::builder().db_instances(instance(status, &tags())).build()
    }

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_rds, RuleMode::MatchAny, rules))
    }

    async fn create(cx: &Cx) -> Result<Live, AwsError> {
        let mut p = crate::kinds::testing::props(&[
            ("cluster", Value::str("s-db")),
            ("instance_class", Value::str("db.serverless")),
            ("engine", Value::str("aurora-postgresql")),
        ]);
        DbInstance.normalise("s", "writer", &mut p);
        let t = tags();
        DbInstance.create(cx, &CreateReq { id: "writer", props: &p, tags: &t, token: "t" }).await
    }

    fn create_ok() -> Rule {
        mock!(Client::create_db_instance)
            .match_requests(|r| r.db_cluster_identifier() == Some("s-db") && r.db_instance_identifier() == Some(IDENT))
            .then_output(|| CreateDbInstanceOutput::builder().db_instance(instance("creating", &tags())).build())
    }

    #[tokio::test(start_paused = true)]
    async fn create_waits_until_available() {
        let describe = mock!(Client::describe_db_instances)
            .sequence()
            .output(described("creating"))
            .times(2)
            .output(described("configuring-enhanced-monitoring"))
            .output(described("available"))
            .repeatedly()
            .build();
        let create_rule = create_ok();
        let (cx, seen) = cx(&[&create_rule, &describe]);
        let l = create(&cx).await.unwrap();
        assert_eq!(l.attrs["endpoint"], Value::str("s-writer.x.rds.amazonaws.com"));
        assert_eq!(l.attrs["availability_zone"], Value::str("us-east-1a"));
        assert!(seen.lock().unwrap().iter().any(|m| m.ends_with("(now creating)")));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_states_and_timeouts_end_the_wait() {
        let describe = mock!(Client::describe_db_instances).then_output(described("incompatible-network"));
        let create_rule = create_ok();
        let (cx1, _) = cx(&[&create_rule, &describe]);
        let err = create(&cx1).await;
        assert!(matches!(err, Err(AwsError::Failed(ref m)) if m.contains("incompatible-network")), "{err:?}");

        let describe = mock!(Client::describe_db_instances).then_output(described("creating"));
        let create_rule = create_ok();
        let (cx2, _) = cx(&[&create_rule, &describe]);
        assert!(matches!(create(&cx2).await, Err(AwsError::WaitTimeout { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_create_takes_the_instance_only_with_its_ownership_tags() {
        let exists = || {
            mock!(Client::create_db_instance)
                .then_error(|| CreateDBInstanceError::generic(meta("DBInstanceAlreadyExists")))
        };
        let (create_rule, describe) =
            (exists(), mock!(Client::describe_db_instances).then_output(described("available")));
        let (cx1, _) = cx(&[&create_rule, &describe]);
        assert_eq!(create(&cx1).await.unwrap().physical_id, IDENT);

        let theirs = mock!(Client::describe_db_instances).then_output(|| {
            DescribeDbInstancesOutput::builder()
                .db_instances(instance("available", &owned_tags("x", "writer", "t")))
                .build()
        });
        let create_rule = exists();
        let (cx2, _) = cx(&[&create_rule, &theirs]);
        assert!(
            matches!(create(&cx2).await, Err(AwsError::AlreadyExists(ref m)) if m.contains("not created for writer"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn delete_waits_until_gone_and_a_busy_instance_is_in_use() {
        let p = Props::new();
        let req = DeleteReq { id: "writer", physical_id: IDENT, props: &p, attrs: &p };
        let ok = mock!(Client::delete_db_instance).then_output(|| DeleteDbInstanceOutput::builder().build());
        let describe = mock!(Client::describe_db_instances)
            .sequence()
            .output(described("deleting"))
            .times(2)
            .error(|| DescribeDBInstancesError::generic(meta("DBInstanceNotFound")))
            .build();
        let (cx1, _) = cx(&[&ok, &describe]);
        DbInstance.delete(&cx1, &req).await.unwrap();
        assert_eq!(describe.num_calls(), 3);

        let busy = mock!(Client::delete_db_instance)
            .then_error(|| DeleteDBInstanceError::generic(meta("InvalidDBInstanceState")));
        let (cx2, _) = cx(&[&busy]);
        assert!(matches!(DbInstance.delete(&cx2, &req).await, Err(AwsError::InUse(_))));

        let gone =
            mock!(Client::delete_db_instance).then_error(|| DeleteDBInstanceError::generic(meta("DBInstanceNotFound")));
        let (cx3, _) = cx(&[&gone]);
        assert_eq!(DbInstance.delete(&cx3, &req).await, Ok(()));
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    const CLUSTER: &str = "db: { type: db_cluster, engine: aurora-postgresql, master_username: app, manage_master_password: true, serverless_v2: { min_capacity: 0.5, max_capacity: 4 } }
prov: { type: db_cluster, engine: aurora-mysql, master_username: app, manage_master_password: true }
";

    fn with(member: &str) -> String {
        format!("{CLUSTER}m: {{ type: db_instance, {member} }}")
    }

    #[test]
    fn class_engine_and_cluster() {
        check_rules(&with("cluster: \"${db.id}\", engine: aurora-postgresql, instance_class: db.serverless"), &[]);
        check_rules(&with("cluster: \"${prov.id}\", engine: aurora-mysql, instance_class: db.r6g.large"), &[]);
        check_rules(
            &with("cluster: \"${prov.id}\", engine: aurora-mysql, instance_class: db.serverless"),
            &["6: | cluster `prov` has no `serverless_v2`"],
        );
        check_rules(
            &with("cluster: \"${db.id}\", engine: aurora-mysql, instance_class: db.serverless"),
            &["`aurora-mysql`, but cluster `db` runs `aurora-postgresql`"],
        );
        check_rules(
            &with("cluster: \"${db.id}\", engine: aurora-postgresql, instance_class: m5.large"),
            &["`m5.large` is not an Aurora instance class"],
        );
        check_rules(
            &with(
                "cluster: \"${db.id}\", engine: aurora-postgresql, instance_class: db.serverless, promotion_tier: 16",
            ),
            &["16: AWS takes a promotion tier of 0 to 15"],
        );
        check_rules(
            &with("cluster: \"${db.id}\", engine: aurora-postgresql, instance_class: db.serverless, identifier: -x"),
            &["does not begin with a letter"],
        );
        check_rules(&with("cluster: existing-cluster, engine: aurora-postgresql, instance_class: db.t4g.medium"), &[]);
    }
}
