//! The compute kinds (ecs_cluster, task_definition, ecs_service, autoscaling) against the strict
//! local AWS, through the `Kind` trait only: create with ownership tags, find it again with
//! `read_many` with props equal to the stack's normalised values (a second plan shows no
//! diff), update in place, delete, gone.
//!
//! moto never runs tasks: a service's runningCount is the `MOTO_ECS_SERVICE_RUNNING`
//! environment variable of the moto process at CreateService (0 by default, which would never
//! be steady), and after UpdateService with a desired count it is that count. The test starts
//! the local AWS with it set to the first desired count (1). The steady-state waiter's pending,
//! failure and timeout paths are unit-tested with aws-smithy-mocks in `kinds::ecs_service`.
//! IAM roles, EFS ids, SSM parameter ARNs and the log group are plain strings here: moto does
//! not check that they exist.

use std::time::Duration;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use localaws::LocalAws;
use rprov::aws::{AwsError, Cx, WaitConfig};
use rprov::kinds::testing::{self, Res, map, props, read, strs};
use rprov::kinds::{CreateReq, DeleteReq, Kind, Live, TAG_STACK, Tags, UpdateReq, kind, read_owned};
use rprov::value::{Props, Value};

const STACK: &str = "itest";
const ACCOUNT: &str = "123456789012";

fn start() -> LocalAws {
    testing::credentials();
    // SAFETY: the only test of this binary; set before any thread reads the environment, and
    // inherited by the moto process started next (with the credentials).
    unsafe { std::env::set_var("MOTO_ECS_SERVICE_RUNNING", "1") };
    LocalAws::start()
}

async fn cx(aws: &LocalAws) -> Cx {
    let wait = WaitConfig {
        timeout: Duration::from_secs(20),
        poll: Duration::from_millis(50),
        max_poll: Duration::from_millis(500),
    };
    testing::local_cx(STACK, &aws.endpoint(), wait).await
}

fn owned_tags(id: &str) -> Tags {
    testing::owned_tags(STACK, id, "compute")
}

/// The stack's values as the planner compares them: schema defaults, `normalise`, unordered
/// lists sorted.
fn desired(k: &dyn Kind, id: &str, given: &Props) -> Props {
    rprov::plan::compared_props(k, STACK, id, given)
}

/// What the planner compares: props the stack gives; a prop AWS does not report is compared
/// with the recorded value, so it is taken from `want`.
fn compared(live: &Live, want: &Props) -> Props {
    want.iter().map(|(k, v)| (k.clone(), live.props.get(k).unwrap_or(v).clone())).collect()
}

fn same(a: &Props, b: &Props) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v.same(w)))
}

async fn create(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)]) -> Res {
    let k = kind(kind_name).unwrap_or_else(|| panic!("{kind_name} is registered"));
    let want = desired(k, id, &props(given));
    let tags = owned_tags(id);
    let token = format!("rprov-{id}-0123456789abcdef0123456789abcdef");
    let made = k
        .create(cx, &CreateReq { id, props: &want, tags: &tags, token: &token })
        .await
        .unwrap_or_else(|e| panic!("create {id}: {e}"));
    let found = read(cx, k, &[], &made.physical_id).await.unwrap_or_else(|| panic!("read_many finds {id}"));
    let got = compared(&found, &want);
    assert!(
        same(&got, &want),
        "{id}: live props differ from the stack's (perpetual diff)\n live: {got:#?}\n want: {want:#?}"
    );
    if k.schema().taggable {
        assert_eq!(found.tags, tags, "{id}: tags");
    }
    assert_eq!(made.props, found.props, "{id}: create returns what read_many reads");
    assert_eq!(made.attrs, found.attrs, "{id}: attributes");
    Res { kind: k, id, live: found, applied: want }
}

/// Updates in place; returns the Live `update` returned (its physical id may be new).
async fn update(cx: &Cx, res: &mut Res, given: &[(&str, Value)], tags: Option<Tags>) -> Live {
    let new = desired(res.kind, res.id, &props(given));
    let old_tags = res.live.tags.clone();
    let tags = tags.unwrap_or_else(|| old_tags.clone());
    let mut changed: Vec<String> = new
        .iter()
        // A prop AWS does not report is compared with the recorded value: unchanged here.
        .filter(|(k, v)| res.live.props.get(*k).is_some_and(|l| !l.same(v)))
        .map(|(k, _)| k.clone())
        .collect();
    if res.kind.schema().taggable && tags != old_tags {
        changed.push("tags".into());
    }
    assert!(!changed.is_empty(), "{}: update test changes nothing", res.id);
    let req = UpdateReq {
        id: res.id,
        physical_id: &res.live.physical_id,
        old: &res.live.props,
        new: &new,
        changed: &changed,
        old_tags: &old_tags,
        tags: &tags,
    };
    let out = res.kind.update(cx, &req).await.unwrap_or_else(|e| panic!("update {} ({changed:?}): {e}", res.id));
    let found = read(cx, res.kind, &[], &out.physical_id)
        .await
        .unwrap_or_else(|| panic!("read_many finds {} after update", res.id));
    let got = compared(&found, &new);
    assert!(same(&got, &new), "{}: props after update\n live: {got:#?}\n want: {new:#?}", res.id);
    if res.kind.schema().taggable {
        assert_eq!(found.tags, tags, "{}: tags after update", res.id);
    }
    assert_eq!(out.props, found.props, "{}: update returns what read_many reads", res.id);
    res.live = found;
    out
}

async fn delete(cx: &Cx, res: Res) {
    let req = DeleteReq { id: res.id, physical_id: res.pid(), props: &res.live.props, attrs: &res.live.attrs };
    res.kind.delete(cx, &req).await.unwrap_or_else(|e| panic!("delete {}: {e}", res.id));
    assert!(read(cx, res.kind, &[], res.pid()).await.is_none(), "{} still listed after delete", res.id);
    let again = read_owned(res.kind, cx, &[res.pid().to_owned()]).await.expect("read_many by id");
    assert!(again.is_empty(), "{}: read_many by id after delete: {again:?}", res.id);
    assert_eq!(res.kind.delete(cx, &req).await, Ok(()), "{}: a second delete is success", res.id);
}

/// A VPC with two subnets and a security group, made with the EC2 SDK directly.
async fn network(cx: &Cx) -> (Vec<String>, String) {
    let ec2 = aws_sdk_ec2::Client::new(&cx.sdk);
    let vpc = ec2.create_vpc().cidr_block("10.1.0.0/16").send().await.unwrap();
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).unwrap().to_owned();
    let mut subnets = vec![];
    for (cidr, az) in [("10.1.1.0/24", "us-east-1a"), ("10.1.2.0/24", "us-east-1b")] {
        let s = ec2.create_subnet().vpc_id(&vpc).cidr_block(cidr).availability_zone(az).send().await.unwrap();
        subnets.push(s.subnet().and_then(|s| s.subnet_id()).unwrap().to_owned());
    }
    let sg = ec2
        .create_security_group()
        .vpc_id(&vpc)
        .group_name("itest-app")
        .description("app tasks")
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(Tag::builder().key(TAG_STACK).value(STACK).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    (subnets, sg.group_id().unwrap().to_owned())
}

fn container(image: &str) -> Value {
    map(&[
        ("name", "app".into()),
        ("image", image.into()),
        ("port_mappings", Value::List(vec![map(&[("container_port", Value::Int(8000))])])),
        ("environment", map(&[("UPLOAD_DIR", "/data".into()), ("PORT", "8000".into())])),
        (
            "secrets",
            map(&[("BASIC_AUTH_PASSWORD", format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/itest/password").into())]),
        ),
        (
            "health_check",
            map(&[
                ("command", strs(&["CMD-SHELL", "curl -f http://localhost:8000/health || exit 1"])),
                ("start_period", Value::Int(10)),
            ]),
        ),
        ("log_group", "/itest/app".into()),
        ("mount_points", Value::List(vec![map(&[("volume", "uploads".into()), ("path", "/data".into())])])),
    ])
}

fn task_props(image: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("cpu", Value::Int(256)),
        ("memory", Value::Int(512)),
        ("execution_role", format!("arn:aws:iam::{ACCOUNT}:role/itest-exec").into()),
        ("task_role", format!("arn:aws:iam::{ACCOUNT}:role/itest-task").into()),
        ("containers", Value::List(vec![container(image)])),
        (
            "volumes",
            Value::List(vec![map(&[
                ("name", "uploads".into()),
                ("file_system", "fs-0123456789abcdef0".into()),
                ("access_point", "fsap-0123456789abcdef0".into()),
            ])]),
        ),
    ]
}

#[tokio::test]
async fn compute_chain_round_trip() {
    let aws = start();
    let cx = cx(&aws).await;
    let ecs = aws_sdk_ecs::Client::new(&cx.sdk);

    // ---- cluster
    let mut cluster = create(&cx, "ecs_cluster", "cluster", &[]).await;
    assert_eq!(cluster.attr("name"), Value::str("itest-cluster"));
    assert_eq!(cluster.attr("arn"), cluster.attr("id"));
    update(&cx, &mut cluster, &[("container_insights", true.into())], Some(owned_tags("cluster"))).await;
    let mut retagged = owned_tags("cluster");
    retagged.insert("team".into(), "platform".into());
    update(&cx, &mut cluster, &[("container_insights", true.into())], Some(retagged)).await;

    // ---- task definition
    let td_kind = kind("task_definition").unwrap();
    let bad = desired(td_kind, "bad", &props(&[("cpu", Value::Int(256)), ("memory", Value::Int(4096))]));
    let before = aws.count("ecs", "RegisterTaskDefinition");
    let err = td_kind
        .create(&cx, &CreateReq { id: "bad", props: &bad, tags: &owned_tags("bad"), token: "t" })
        .await
        .unwrap_err();
    assert_eq!(err, AwsError::Invalid("Fargate task cpu 256 takes memory 512, 1024 or 2048 (MiB), not 4096".into()));
    assert_eq!(aws.count("ecs", "RegisterTaskDefinition"), before, "an invalid size is refused before any call");

    let mut td = create(&cx, "task_definition", "app", &task_props("upload-service:1")).await;
    assert_eq!(td.attr("family"), Value::str("itest-app"));
    assert_eq!(td.attr("revision"), Value::Int(1));
    let described = ecs.describe_task_definition().task_definition(td.pid()).send().await.unwrap();
    let sdk_td = described.task_definition().unwrap();
    let efs = sdk_td.volumes()[0].efs_volume_configuration().unwrap();
    assert_eq!(efs.transit_encryption().map(|t| t.as_str()), Some("ENABLED"));
    let auth = efs.authorization_config().unwrap();
    assert_eq!(auth.access_point_id(), Some("fsap-0123456789abcdef0"));
    assert_eq!(auth.iam().map(|i| i.as_str()), Some("ENABLED"));
    let log = sdk_td.container_definitions()[0].log_configuration().unwrap();
    assert_eq!(log.log_driver().as_str(), "awslogs");
    assert_eq!(log.options().unwrap().get("awslogs-region").map(String::as_str), Some("us-east-1"));
    assert_eq!(sdk_td.network_mode().map(|n| n.as_str()), Some("awsvpc"));

    // ---- service
    let (subnets, sg) = network(&cx).await;
    let service_props = |td: &Value, count: i64| {
        vec![
            ("cluster", cluster.attr("arn")),
            ("task_definition", td.clone()),
            ("desired_count", Value::Int(count)),
            ("subnets", Value::List(subnets.iter().rev().map(Value::str).collect())),
            ("security_groups", Value::List(vec![Value::str(&sg)])),
        ]
    };
    let first_td = td.attr("arn");
    let mut svc = create(&cx, "ecs_service", "web", &service_props(&first_td, 1)).await;
    assert_eq!(svc.attr("name"), Value::str("itest-web"));
    update(&cx, &mut svc, &service_props(&first_td, 2), None).await;

    // The cluster refuses deletion while the service is active (AWS's rule, enforced by the
    // local AWS): InUse, which the executor retries.
    let busy = cluster
        .kind
        .delete(
            &cx,
            &DeleteReq { id: "cluster", physical_id: cluster.pid(), props: &Props::new(), attrs: &Props::new() },
        )
        .await;
    assert!(matches!(busy, Err(AwsError::InUse(_))), "{busy:?}");

    // A new image registers revision 2 first, then deregisters revision 1; the service moves.
    let old_arn = td.pid().to_owned();
    let new_td = update(&cx, &mut td, &task_props("upload-service:2"), None).await;
    assert_ne!(new_td.physical_id, old_arn, "a new revision has a new ARN");
    assert_eq!(new_td.attrs["revision"], Value::Int(2));
    let old = ecs.describe_task_definition().task_definition(&old_arn).send().await.unwrap();
    assert_eq!(old.task_definition().and_then(|t| t.status()).map(|s| s.as_str()), Some("INACTIVE"));
    assert!(
        read_owned(td_kind, &cx, std::slice::from_ref(&old_arn)).await.unwrap().is_empty(),
        "old revision reads as gone"
    );
    // The same update again from the old revision (a retry after a lost response): the
    // revision registered before is taken, none is registered.
    let registered = aws.count("ecs", "RegisterTaskDefinition");
    let (new, tags) = (desired(td_kind, "app", &props(&task_props("upload-service:2"))), owned_tags("app"));
    let changed = vec!["containers".to_string()];
    let old_props = Props::new();
    let retried = td_kind
        .update(
            &cx,
            &UpdateReq {
                id: "app",
                physical_id: &old_arn,
                old: &old_props,
                new: &new,
                changed: &changed,
                old_tags: &tags,
                tags: &tags,
            },
        )
        .await
        .unwrap();
    assert_eq!(retried.physical_id, new_td.physical_id);
    assert_eq!(aws.count("ecs", "RegisterTaskDefinition"), registered);

    update(&cx, &mut svc, &service_props(&new_td.attrs["arn"], 2), None).await;
    let moved = ecs.describe_services().cluster("itest-cluster").services(svc.pid()).send().await.unwrap();
    assert_eq!(moved.services()[0].task_definition(), new_td.attrs["arn"].as_str());

    // ---- autoscaling: CPU target 60 %, scale to zero at night (seed 002)
    let night = map(&[
        ("name", "night".into()),
        ("schedule", "cron(0 20 * * ? *)".into()),
        ("min", Value::Int(0)),
        ("max", Value::Int(0)),
        ("timezone", "Europe/Berlin".into()),
    ]);
    let morning = map(&[
        ("name", "morning".into()),
        ("schedule", "cron(0 7 * * ? *)".into()),
        ("min", Value::Int(1)),
        ("max", Value::Int(4)),
    ]);
    let scaling_props = |max: i64, actions: Vec<Value>| {
        vec![
            ("cluster", cluster.attr("name")),
            ("service", svc.attr("name")),
            ("min", Value::Int(1)),
            ("max", Value::Int(max)),
            ("cpu_target", Value::Int(60)),
            ("scheduled_actions", Value::List(actions)),
        ]
    };
    let mut scaling =
        create(&cx, "autoscaling", "scaling", &scaling_props(4, vec![night.clone(), morning.clone()])).await;
    assert_eq!(scaling.pid(), "service/itest-cluster/itest-web");
    update(&cx, &mut scaling, &scaling_props(6, vec![night.clone()]), None).await;
    // What one plan costs: read_many of each kind with the recorded ids.
    let reads: [(&str, &str, &[&str]); 4] = [
        ("ecs_cluster", cluster.pid(), &["ListClusters", "DescribeClusters"]),
        // No batch describe exists for task definitions: one call per recorded ARN.
        ("task_definition", td.pid(), &["DescribeTaskDefinition", "ListTaskDefinitionFamilies"]),
        ("ecs_service", svc.pid(), &["ListClusters", "ListServices", "DescribeServices"]),
        (
            "autoscaling",
            scaling.pid(),
            &["DescribeScalableTargets", "DescribeScalingPolicies", "DescribeScheduledActions"],
        ),
    ];
    for (name, id, expected) in reads {
        aws.clear_calls();
        let found = read_owned(kind(name).unwrap(), &cx, &[id.to_owned()]).await.unwrap();
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        let calls: Vec<String> = aws.calls().iter().map(|c| c.operation.clone()).collect();
        println!("read_many {name}: {} calls {calls:?}", calls.len());
        assert_eq!(calls, expected, "{name}");
    }

    // ---- teardown, dependents first
    delete(&cx, scaling).await;
    delete(&cx, svc).await;
    delete(&cx, td).await;
    delete(&cx, cluster).await;
}
