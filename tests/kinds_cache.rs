//! The cache tier's kinds (`cache_subnet_group`, `cache_replication_group`, `db_proxy`) against
//! the strict local AWS, through the `Kind` trait only: create with ownership tags, find it
//! again with `read_many` with props equal to the stack's normalised values (a second plan
//! shows no diff), update in place, delete, gone.
//!
//! moto 5.2.5 lacks ModifyCacheSubnetGroup, DeleteCacheSubnetGroup and ModifyDBProxy; the
//! strict local AWS adds them, and every step here requires them. Waits and refusals are
//! unit-tested with aws-smithy-mocks in the kinds.

use std::time::Duration;

use localaws::LocalAws;
use rprov::aws::{AwsError, Cx, WaitConfig};
use rprov::kinds::testing::{self, Res, props, read};
use rprov::kinds::{CreateReq, Kind, Live, Tags, UpdateReq, kind};
use rprov::value::{Props, Value};

const STACK: &str = "itest";

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

/// What the planner compares: the live value of every property the stack gives a value that
/// AWS reports (what it cannot report, a secret or a setting of the request, stays as
/// recorded). `reported` are the properties that must be read back.
fn compared(live: &Live, want: &Props, reported: &[&str]) -> Props {
    for name in reported {
        assert!(live.props.contains_key(*name), "{name} is not read back: {:?}", live.props);
    }
    live.props.iter().filter(|(k, _)| want.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn reported_part(want: &Props, live: &Live) -> Props {
    want.iter().filter(|(k, _)| live.props.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

async fn create(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)], reported: &[&str]) -> Res {
    let k = kind(kind_name).unwrap_or_else(|| panic!("{kind_name} is registered"));
    let want = desired(k, id, &props(given));
    let tags = owned_tags(id);
    let made = k
        .create(cx, &CreateReq { id, props: &want, tags: &tags, token: "token" })
        .await
        .unwrap_or_else(|e| panic!("create {id}: {e}"));
    let found = read(cx, k, &[], &made.physical_id).await.unwrap_or_else(|| panic!("read_many finds {id}"));
    assert_eq!(
        compared(&found, &want, reported),
        reported_part(&want, &found),
        "{id}: live props differ (perpetual diff)"
    );
    assert_eq!(found.tags, tags, "{id}: tags");
    assert_eq!(made.props, found.props, "{id}: create returns what read_many reads");
    assert_eq!(made.attrs, found.attrs, "{id}: attributes");
    Res { kind: k, id, live: found, applied: want }
}

async fn update(cx: &Cx, res: &mut Res, given: &[(&str, Value)], tags: Option<Tags>) -> Result<(), AwsError> {
    let new = desired(res.kind, res.id, &props(given));
    let old_tags = res.live.tags.clone();
    let tags = tags.unwrap_or_else(|| old_tags.clone());
    let mut changed: Vec<String> = new
        .iter()
        .filter(|(k, v)| res.live.props.get(*k).or(res.applied.get(*k)) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    if tags != old_tags {
        changed.push("tags".into());
    }
    assert!(!changed.is_empty(), "{}: update test changes nothing", res.id);
    let req = UpdateReq {
        id: res.id,
        physical_id: &res.live.physical_id,
        old: &res.applied,
        new: &new,
        changed: &changed,
        old_tags: &old_tags,
        tags: &tags,
    };
    let out = res.kind.update(cx, &req).await?;
    let found =
        read(cx, res.kind, &[], res.pid()).await.unwrap_or_else(|| panic!("read_many finds {} after update", res.id));
    assert_eq!(compared(&found, &new, &[]), reported_part(&new, &found), "{}: props after update", res.id);
    assert_eq!(found.tags, tags, "{}: tags after update", res.id);
    assert_eq!(out.props, found.props, "{}: update returns what read_many reads", res.id);
    res.live = found;
    res.applied = new;
    Ok(())
}

async fn delete(cx: &Cx, res: &Res) -> Result<(), AwsError> {
    let req = res.delete_req();
    res.kind.delete(cx, &req).await?;
    assert!(read(cx, res.kind, &[], res.pid()).await.is_none(), "{} still listed after delete", res.id);
    assert_eq!(res.kind.delete(cx, &req).await, Ok(()), "{}: a second delete is success", res.id);
    Ok(())
}

/// A VPC and two subnets in two zones, through the network kinds.
async fn network(cx: &Cx) -> (Value, Value, Value, Value) {
    let vpc = kind("vpc").unwrap();
    let v = vpc
        .create(
            cx,
            &CreateReq {
                id: "vpc",
                props: &desired(vpc, "vpc", &props(&[("cidr", "10.0.0.0/16".into())])),
                tags: &owned_tags("vpc"),
                token: "t",
            },
        )
        .await
        .unwrap();
    let vpc_id = Value::str(&v.physical_id);
    let subnet = |id: &'static str, cidr: &'static str, az: &'static str| {
        let vpc_id = vpc_id.clone();
        async move {
            let k = kind("subnet").unwrap();
            let p = desired(k, id, &props(&[("vpc", vpc_id), ("cidr", cidr.into()), ("az", az.into())]));
            k.create(cx, &CreateReq { id, props: &p, tags: &owned_tags(id), token: "t" }).await.unwrap()
        }
    };
    let a = subnet("a", "10.0.0.0/24", "us-east-1a").await;
    let b = subnet("b", "10.0.1.0/24", "us-east-1b").await;
    let sg = kind("security_group").unwrap();
    let sgp = desired(sg, "sg", &props(&[("vpc", vpc_id.clone())]));
    let g = sg.create(cx, &CreateReq { id: "sg", props: &sgp, tags: &owned_tags("sg"), token: "t" }).await.unwrap();
    (vpc_id, Value::str(&a.physical_id), Value::str(&b.physical_id), Value::str(&g.physical_id))
}

#[tokio::test]
async fn cache_subnet_group_and_replication_group_round_trip() {
    // The strict local AWS shows `creating` and, after a delete, `deleting` for a few polls and
    // then ends the deletion; bare moto keeps a deleted group `deleting` forever.
    let aws = LocalAws::builder().eventual("replication_group", 2).eventual("replication_group_deleting", 2).start();
    let cx = cx(&aws).await;
    let (vpc, a, b, sg) = network(&cx).await;

    let group_props = [("subnets", Value::List(vec![b.clone(), a.clone()]))];
    let mut group =
        create(&cx, "cache_subnet_group", "cache_net", &group_props, &["name", "description", "subnets"]).await;
    assert_eq!(group.pid(), "itest-cache-net");
    assert_eq!(group.attr("vpc"), vpc);
    assert_eq!(group.attr("arn"), Value::str("arn:aws:elasticache:us-east-1:123456789012:subnetgroup:itest-cache-net"));

    // In place (ModifyCacheSubnetGroup): the description and the subnets; then the subnets
    // back, with tags.
    let described = [("subnets", Value::List(vec![a.clone()])), ("description", "cache subnets".into())];
    update(&cx, &mut group, &described, None).await.unwrap_or_else(|e| panic!("modify: {e}"));
    assert_eq!(group.live.props["description"], Value::str("cache subnets"));
    assert_eq!(group.live.props["subnets"], Value::List(vec![a.clone()]));
    assert_eq!(group.attr("vpc"), vpc);
    assert_eq!(aws.count("elasticache", "ModifyCacheSubnetGroup"), 1);
    let mut retagged = group.live.tags.clone();
    retagged.insert("tier".into(), "cache".into());
    retagged.remove("team");
    let both = [("subnets", Value::List(vec![a.clone(), b.clone()])), ("description", "cache subnets".into())];
    update(&cx, &mut group, &both, Some(retagged)).await.unwrap_or_else(|e| panic!("retag: {e}"));
    assert_eq!(group.live.props["subnets"].as_list().len(), 2);

    let rg_props = [
        ("node_type", "cache.t4g.small".into()),
        ("engine", "redis".into()),
        ("subnet_group", group.attr("id")),
        ("security_groups", Value::List(vec![sg.clone()])),
        ("auth_token", "a-long-enough-auth-token".into()),
        ("snapshot_retention_days", 1.into()),
    ];
    let reported = [
        "id",
        "description",
        "engine",
        "node_type",
        "replicas",
        "automatic_failover",
        "multi_az",
        "port",
        "at_rest_encryption",
        "transit_encryption",
        "snapshot_retention_days",
    ];
    let mut rg = create(&cx, "cache_replication_group", "cache", &rg_props, &reported).await;
    assert_eq!(rg.pid(), "itest-cache");
    assert!(!rg.live.props.contains_key("auth_token"), "a secret is never read back");
    assert!(
        rg.attr("primary_endpoint").as_str().is_some_and(|e| e.contains("itest-cache")),
        "{:?}",
        rg.attr("primary_endpoint")
    );
    assert_eq!(rg.attr("port"), Value::Int(6379));
    assert!(rg.attr("arn").as_str().is_some_and(|a| a.ends_with(":replicationgroup:itest-cache")));

    // In place: description and snapshot retention.
    let mut changed = rg_props.to_vec();
    changed.push(("description", "sessions".into()));
    changed.retain(|(k, _)| *k != "snapshot_retention_days");
    changed.push(("snapshot_retention_days", 5.into()));
    update(&cx, &mut rg, &changed, None).await.unwrap();
    assert_eq!(rg.live.props["description"], Value::str("sessions"));
    assert_eq!(rg.live.props["snapshot_retention_days"], Value::Int(5));

    delete(&cx, &rg).await.unwrap();
    delete(&cx, &group).await.unwrap();
}

#[tokio::test]
async fn db_proxy_round_trip() {
    let aws = LocalAws::builder().eventual("db_proxy", 2).start();
    let cx = cx(&aws).await;
    let (_, a, b, sg) = network(&cx).await;

    // The database side, made with the SDKs directly (their kinds are another area's).
    let secret = aws_sdk_secretsmanager::Client::new(&cx.sdk)
        .create_secret()
        .name("itest/db")
        .secret_string(r#"{"username":"app","password":"not-a-real-password-1"}"#)
        .send()
        .await
        .unwrap();
    let secret_arn = Value::str(secret.arn().unwrap());
    let rds = aws_sdk_rds::Client::new(&cx.sdk);
    rds.create_db_cluster()
        .db_cluster_identifier("itest-db")
        .engine("aurora-postgresql")
        .master_username("app")
        .master_user_password("not-a-real-password-1")
        .send()
        .await
        .unwrap();

    let auth = Value::List(vec![testing::map(&[("secret", secret_arn.clone())])]);
    let given = |idle: i64, tls: bool| -> Vec<(&'static str, Value)> {
        vec![
            ("engine_family", "POSTGRESQL".into()),
            ("auth", auth.clone()),
            ("role_arn", "arn:aws:iam::123456789012:role/itest-proxy".into()),
            ("subnets", Value::List(vec![a.clone(), b.clone()])),
            ("security_groups", Value::List(vec![sg.clone()])),
            ("target_cluster", "itest-db".into()),
            ("idle_client_timeout", idle.into()),
            ("require_tls", tls.into()),
            (
                "connection_pool",
                testing::map(&[("max_connections_percent", 90.into()), ("max_idle_connections_percent", 20.into())]),
            ),
        ]
    };
    let reported = [
        "name",
        "engine_family",
        "auth",
        "role_arn",
        "subnets",
        "security_groups",
        "require_tls",
        "idle_client_timeout",
        "debug_logging",
        "target_cluster",
        "connection_pool",
    ];
    let mut proxy = create(&cx, "db_proxy", "proxy", &given(1800, true), &reported).await;
    assert_eq!(proxy.pid(), "itest-proxy");
    assert!(
        proxy.attr("endpoint").as_str().is_some_and(|e| e.starts_with("itest-proxy.")),
        "{:?}",
        proxy.attr("endpoint")
    );
    assert!(proxy.attr("arn").as_str().is_some_and(|a| a.starts_with("arn:aws:rds:us-east-1:123456789012:db-proxy:")));
    assert_eq!(proxy.live.props["target_cluster"], Value::str("itest-db"));

    // In place: the pool (ModifyDBProxyTargetGroup), then idle timeout and TLS (ModifyDBProxy).
    let mut pooled = given(1800, true);
    pooled.retain(|(k, _)| *k != "connection_pool");
    pooled.push((
        "connection_pool",
        testing::map(&[("max_connections_percent", 80.into()), ("max_idle_connections_percent", 10.into())]),
    ));
    update(&cx, &mut proxy, &pooled, None).await.unwrap();
    let mut relaxed = given(900, false);
    relaxed.retain(|(k, _)| *k != "connection_pool");
    relaxed.push(pooled.last().unwrap().clone());
    update(&cx, &mut proxy, &relaxed, None).await.unwrap_or_else(|e| panic!("relax: {e}"));
    assert_eq!(proxy.live.props["idle_client_timeout"], Value::Int(900));
    assert_eq!(proxy.live.props["require_tls"], Value::Bool(false));
    assert_eq!(aws.count("rds", "ModifyDBProxy"), 1);

    let req = proxy.delete_req();
    proxy.kind.delete(&cx, &req).await.unwrap();
    assert!(read(&cx, proxy.kind, &[], proxy.pid()).await.is_none(), "proxy still listed after delete");
}
