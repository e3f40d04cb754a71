//! The RDS kinds (DB subnet group, Aurora cluster, cluster member) against the strict local AWS,
//! through the `Kind` trait only: create with ownership tags, find it again with `read_many`
//! with props equal to the stack's normalised values (a second plan shows no diff), update in
//! place, a change made behind rprov's back seen by `read_many`, refused deletes, delete in
//! order, gone; and a CreateDBCluster whose answer is lost makes one cluster, not two.
//!
//! moto makes every state transition instant: the waits (creating -> available, failed states,
//! timeouts, deleting -> gone) are unit-tested with aws-smithy-mocks in the kinds.

use std::collections::HashMap;
use std::time::Duration;

use localaws::{Fault, Faults, LocalAws};
use rprov::aws::{AwsError, Cx, RefreshScope, WaitConfig};
use rprov::kinds::testing::{self, Res, map, props, read};
use rprov::kinds::{CreateReq, Kind, Live, Tags, UpdateReq, kind, read_owned};
use rprov::value::{Props, Value};

const STACK: &str = "rdsit";

async fn cx(aws: &LocalAws) -> Cx {
    let wait = WaitConfig {
        timeout: Duration::from_secs(30),
        poll: Duration::from_millis(50),
        max_poll: Duration::from_millis(500),
    };
    testing::local_cx(STACK, &aws.endpoint(), wait).await
}

fn owned_tags(id: &str) -> Tags {
    testing::owned_tags(STACK, id, "data")
}

/// The stack's values as the planner compares them: schema defaults, then `normalise`.
fn desired(k: &dyn Kind, id: &str, given: &Props) -> Props {
    rprov::plan::compared_props(k, STACK, id, given)
}

/// What the planner compares: the live value of every property the stack gives a value, and
/// that AWS reports (rprov's own settings such as `skip_final_snapshot`, and secrets, are
/// compared with what was recorded).
fn compared(live: &Live, want: &Props) -> Props {
    live.props.iter().filter(|(k, _)| want.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn reported(want: &Props) -> Props {
    const LOCAL: &[&str] =
        &["skip_final_snapshot", "final_snapshot_identifier", "apply_immediately", "master_password"];
    want.iter().filter(|(n, _)| !LOCAL.contains(&n.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

async fn create(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)]) -> Res {
    let k = kind(kind_name).unwrap_or_else(|| panic!("{kind_name} is registered"));
    let want = desired(k, id, &props(given));
    let tags = owned_tags(id);
    let made = k
        .create(cx, &CreateReq { id, props: &want, tags: &tags, token: "unused" })
        .await
        .unwrap_or_else(|e| panic!("create {id}: {e}"));
    let found = read(cx, k, &[], &made.physical_id).await.unwrap_or_else(|| panic!("read_many finds {id}"));
    let expected = reported(&want);
    assert_eq!(compared(&found, &expected), expected, "{id}: live props differ from the stack's (perpetual diff)");
    assert_eq!(found.tags, tags, "{id}: tags");
    assert_eq!(made.props, found.props, "{id}: create returns what read_many reads");
    Res { kind: k, id, live: found, applied: want }
}

async fn update(cx: &Cx, res: &mut Res, given: &[(&str, Value)]) {
    let new = desired(res.kind, res.id, &props(given));
    let changed: Vec<String> =
        new.iter().filter(|(k, v)| res.applied.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect();
    assert!(!changed.is_empty(), "{}: update test changes nothing", res.id);
    let tags = res.live.tags.clone();
    let req = UpdateReq {
        id: res.id,
        physical_id: &res.live.physical_id,
        old: &res.applied,
        new: &new,
        changed: &changed,
        old_tags: &tags,
        tags: &tags,
    };
    let out = res.kind.update(cx, &req).await.unwrap_or_else(|e| panic!("update {} ({changed:?}): {e}", res.id));
    let found = read(cx, res.kind, &[], res.pid()).await.unwrap_or_else(|| panic!("{} after update", res.id));
    let expected = reported(&new);
    assert_eq!(compared(&found, &expected), expected, "{}: props after update", res.id);
    assert_eq!(out.props, found.props, "{}: update returns what read_many reads", res.id);
    res.live = found;
    res.applied = new;
}

async fn delete(cx: &Cx, res: &Res) {
    res.kind.delete(cx, &res.delete_req()).await.unwrap_or_else(|e| panic!("delete {}: {e}", res.id));
    assert!(read(cx, res.kind, &[], res.pid()).await.is_none(), "{} still listed after delete", res.id);
    assert_eq!(res.kind.delete(cx, &res.delete_req()).await, Ok(()), "{}: a second delete is success", res.id);
}

/// A resource of another service the RDS kinds need, made through its kind (tested elsewhere).
async fn make(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)]) -> Value {
    let k = kind(kind_name).unwrap();
    let want = desired(k, id, &props(given));
    let made = k.create(cx, &CreateReq { id, props: &want, tags: &owned_tags(id), token: id }).await.unwrap();
    made.attrs["id"].clone()
}

/// A VPC with a subnet in each of three zones, and a security group.
async fn network(cx: &Cx) -> (Vec<Value>, Value) {
    let vpc = make(cx, "vpc", "vpc", &[("cidr", "10.20.0.0/16".into())]).await;
    let mut subnets = Vec::new();
    for (i, (id, az)) in [("a", "us-east-1a"), ("b", "us-east-1b"), ("c", "us-east-1c")].into_iter().enumerate() {
        let cidr = format!("10.20.{i}.0/24");
        subnets.push(make(cx, "subnet", id, &[("vpc", vpc.clone()), ("cidr", cidr.into()), ("az", az.into())]).await);
    }
    (subnets, make(cx, "security_group", "dbsg", &[("vpc", vpc)]).await)
}

#[tokio::test]
async fn subnet_group_cluster_and_member_round_trip() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let (subnets, sg) = network(&cx).await;

    let mut group = create(&cx, "db_subnet_group", "dbnet", &[("subnets", Value::List(subnets[..2].to_vec()))]).await;
    assert_eq!(group.pid(), "rdsit-dbnet");
    assert_eq!(group.live.props["description"], Value::str("rprov rdsit dbnet"));
    assert!(group.attr("arn").as_str().is_some_and(|a| a.ends_with(":subgrp:rdsit-dbnet")));
    assert!(group.attr("vpc").as_str().is_some_and(|v| v.starts_with("vpc-")));

    // In place (ModifyDBSubnetGroup): the description and the subnets, read back by read_many;
    // the group keeps its name, ARN, VPC and tags.
    let (arn, vpc, tags) = (group.attr("arn"), group.attr("vpc"), group.live.tags.clone());
    let moved = [("subnets", Value::List(subnets[1..].to_vec())), ("description", Value::str("rdsit databases"))];
    update(&cx, &mut group, &moved).await;
    assert_eq!(group.live.props["description"], Value::str("rdsit databases"));
    let mut placed = subnets[1..].to_vec();
    placed.sort_by_cached_key(|v| v.to_string());
    assert_eq!(group.live.props["subnets"], Value::List(placed));
    assert_eq!((group.attr("arn"), group.attr("vpc"), &group.live.tags), (arn, vpc, &tags));
    assert_eq!(aws.count("rds", "ModifyDBSubnetGroup"), 1);

    let cluster_props = [
        ("engine", Value::str("aurora-postgresql")),
        ("engine_version", Value::str("16.4")),
        ("database_name", Value::str("app")),
        ("master_username", Value::str("app")),
        ("manage_master_password", Value::Bool(true)),
        ("db_subnet_group", group.attr("id")),
        ("security_groups", Value::List(vec![sg.clone()])),
        ("serverless_v2", map(&[("min_capacity", Value::Num(0.5)), ("max_capacity", Value::Num(4.0))])),
        ("deletion_protection", Value::Bool(true)),
    ];
    let mut cluster = create(&cx, "db_cluster", "main", &cluster_props).await;
    assert_eq!(cluster.pid(), "rdsit-main");
    assert_eq!(cluster.live.props["storage_encrypted"], Value::Bool(true), "encrypted by default");
    assert_eq!(cluster.live.props["deletion_protection"], Value::Bool(true));
    assert_eq!(cluster.live.props["backup_retention_days"], Value::Int(7));
    assert!(
        cluster.attr("master_user_secret_arn").as_str().is_some_and(|a| a.starts_with("arn:aws:secretsmanager:")),
        "{:?}",
        cluster.attr("master_user_secret_arn")
    );
    assert!(cluster.attr("endpoint").as_str().is_some_and(|e| e.starts_with("rdsit-main.cluster-")));
    assert!(cluster.attr("reader_endpoint").as_str().is_some());
    assert_eq!(cluster.attr("port"), Value::Int(5432));

    let writer = create(
        &cx,
        "db_instance",
        "writer",
        &[
            ("cluster", cluster.attr("id")),
            ("engine", "aurora-postgresql".into()),
            ("instance_class", "db.serverless".into()),
        ],
    )
    .await;
    assert!(writer.attr("endpoint").as_str().is_some());
    assert!(writer.attr("arn").as_str().is_some_and(|a| a.ends_with(":db:rdsit-writer")));

    // A cluster with a member is refused (in use: the executor retries after the member goes).
    let refused = cluster.kind.delete(&cx, &cluster.delete_req()).await;
    assert!(matches!(refused, Err(AwsError::InUse(_) | AwsError::Blocked(_))), "{refused:?}");
    delete(&cx, &writer).await;
    // Deletion protection refuses, saying what to do.
    let refused = cluster.kind.delete(&cx, &cluster.delete_req()).await;
    assert!(
        matches!(refused, Err(AwsError::Blocked(ref m)) if m.contains("`deletion_protection: false` on `main`")),
        "{refused:?}"
    );

    let mut changed = cluster_props.to_vec();
    changed.retain(|(k, _)| *k != "deletion_protection");
    changed.push(("backup_retention_days", Value::Int(14)));
    changed.push(("deletion_protection", Value::Bool(false)));
    update(&cx, &mut cluster, &changed).await;
    assert_eq!(cluster.live.props["backup_retention_days"], Value::Int(14));

    // Changed behind rprov's back: a refresh sees it.
    let rds = aws_sdk_rds::Client::new(&cx.sdk);
    rds.modify_db_cluster()
        .db_cluster_identifier(cluster.pid())
        .backup_retention_period(3)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let seen = read(&cx, cluster.kind, &[], cluster.pid()).await.unwrap();
    assert_eq!(seen.props["backup_retention_days"], Value::Int(3));

    // The refresh's reads: one describe per kind, and for the subnet groups (whose describe has
    // no tags) one tag read per group of the stack that the Tagging API does not list.
    let recorded: HashMap<String, Tags> =
        [&group, &cluster].iter().map(|r| (r.pid().to_owned(), r.live.tags.clone())).collect();
    let refresh = cx.for_refresh(RefreshScope::new(recorded));
    aws.clear_calls();
    for (name, pid) in [("db_subnet_group", group.pid()), ("db_cluster", cluster.pid())] {
        let found = read_owned(kind(name).unwrap(), &refresh, &[pid.to_owned()]).await.unwrap();
        assert_eq!(found.len(), 1, "{name}: {found:?}");
    }
    let calls = aws.count_by_operation();
    eprintln!("refresh calls: {calls:?}");
    assert_eq!(aws.count("rds", "DescribeDBSubnetGroups"), 1);
    assert_eq!(aws.count("rds", "DescribeDBClusters"), 1);
    assert!(aws.count("rds", "ListTagsForResource") <= 1);

    delete(&cx, &cluster).await;
    let snapshots = rds.describe_db_cluster_snapshots().db_cluster_identifier(cluster.pid()).send().await.unwrap();
    assert!(
        snapshots
            .db_cluster_snapshots()
            .iter()
            .any(|s| s.db_cluster_snapshot_identifier().is_some_and(|i| i.starts_with("rdsit-main-final-"))),
        "a final snapshot was taken: {snapshots:?}"
    );
    delete(&cx, &group).await;
}

/// CreateDBCluster has no idempotency token. The first one's answer is lost after the local
/// AWS made the cluster; the SDK sends it again and meets the cluster (DBClusterAlreadyExists),
/// which carries this resource's ownership tags: it is taken, and there is one cluster. (That
/// another deployment's cluster is not taken is unit-tested: moto overwrites a cluster created
/// twice, which only the strict local AWS's CreateDBCluster rule turns into AWS's refusal.)
#[tokio::test]
async fn a_lost_create_answer_makes_one_cluster() {
    let aws = LocalAws::builder().faults(Faults::none().next("rds", "CreateDBCluster", Fault::ResetAfter)).start();
    let cx = cx(&aws).await;
    let given = [
        ("engine", Value::str("aurora-mysql")),
        ("master_username", Value::str("admin")),
        ("master_password", Value::str("not-a-real-secret-1")),
        ("skip_final_snapshot", Value::Bool(true)),
    ];
    let cluster = create(&cx, "db_cluster", "lost", &given).await;
    let lost = aws.calls().iter().filter(|c| c.fault.as_deref() == Some("reset_after")).count();
    assert_eq!(lost, 1, "the first CreateDBCluster lost its answer");
    assert!(aws.count("rds", "CreateDBCluster") >= 2, "sent again");
    let rds = aws_sdk_rds::Client::new(&cx.sdk);
    let all = rds.describe_db_clusters().send().await.unwrap();
    assert_eq!(all.db_clusters().len(), 1, "{all:?}");
    assert_eq!(all.db_clusters()[0].db_cluster_identifier(), Some("rdsit-lost"));

    delete(&cx, &cluster).await;
}
