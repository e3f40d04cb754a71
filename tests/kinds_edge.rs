//! The storage, identity and operations kinds (file_system, mount_target, access_point,
//! iam_role, log_group, ssm_parameter, alarm) against the strict local AWS, through the `Kind`
//! trait only: create with ownership tags, `read_many` reports the stack's normalised values (a
//! second plan shows no diff), one update in place, delete, `read_many` no longer finds it.
//!
//! The local AWS makes every state transition instant unless told otherwise; here the file
//! system and mount targets show `creating` for their first describes, and the waiters are
//! also unit-tested with aws-smithy-mocks in the kinds.

use std::time::Duration;

use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};
use localaws::LocalAws;
use rprov::aws::{AwsError, Cx, WaitConfig};
use rprov::kinds::testing::{self, Res, map, props, read};
use rprov::kinds::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq, kind, read_owned};
use rprov::value::{Props, Value};

const STACK: &str = "edge";

async fn cx(aws: &LocalAws) -> Cx {
    let wait = WaitConfig {
        timeout: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        max_poll: Duration::from_millis(200),
    };
    testing::local_cx(STACK, &aws.endpoint(), wait).await
}

fn list(items: &[&str]) -> Value {
    testing::strs(items)
}

fn json(text: &str) -> Value {
    Value::from(&serde_json::from_str::<serde_json::Value>(text).expect("test JSON"))
}

fn owned_tags(id: &str) -> Tags {
    testing::owned_tags(STACK, id, "support")
}

/// The stack's values as the planner compares them: schema defaults, `normalise`, unordered
/// lists sorted.
fn desired(k: &dyn Kind, id: &str, given: &Props) -> Props {
    rprov::plan::compared_props(k, STACK, id, given)
}

/// What the planner would find different: a property the stack sets whose live value differs.
/// Props AWS cannot report (absent from live) are compared with the recorded value instead.
#[track_caller]
fn assert_no_diff(id: &str, k: &dyn Kind, live: &Live, want: &Props) {
    let diffs: Vec<String> = want
        .iter()
        .filter(|(name, v)| match live.props.get(*name) {
            Some(l) => !l.same(v),
            None => !v.is_null() && !unreported(k).contains(&name.as_str()),
        })
        .map(|(name, v)| format!("{name}: live {:?} vs stack {v}", live.props.get(name)))
        .collect();
    assert!(diffs.is_empty(), "{id}: perpetual diff:\n{}", diffs.join("\n"));
}

/// Props AWS cannot report back (the planner compares them with the recorded value).
fn unreported(k: &dyn Kind) -> &'static [&'static str] {
    match k.schema().name {
        "ssm_parameter" => &["value", "generate"],
        "file_system" => &["transition_to_ia"],
        _ => &[],
    }
}

async fn create(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)]) -> Res {
    let k = kind(kind_name).unwrap_or_else(|| panic!("{kind_name} is registered"));
    let want = desired(k, id, &props(given));
    let token = format!("{id}-token");
    let tags = owned_tags(id);
    let made = k
        .create(cx, &CreateReq { id, props: &want, tags: &tags, token: &token })
        .await
        .unwrap_or_else(|e| panic!("create {id}: {e}"));
    let ids = vec![made.physical_id.clone()];
    let found = read(cx, k, &ids, &made.physical_id).await.unwrap_or_else(|| panic!("read_many finds {id}"));
    for (name, v) in &want {
        if unreported(k).contains(&name.as_str()) {
            assert!(!found.props.contains_key(name), "{id}: {name} must not be read back");
            continue;
        }
        let live = found.props.get(name);
        assert!(
            live.is_some_and(|l| l.same(v)) || (live.is_none() && v.is_null()),
            "{id}: {name} reads back as {live:?}, the stack says {v} (perpetual diff)"
        );
    }
    assert_no_diff(id, k, &found, &want);
    let expected = if k.schema().taggable { tags.clone() } else { Tags::new() };
    assert_eq!(found.tags, expected, "{id}: tags");
    assert_eq!(made.attrs, found.attrs, "{id}: create returns the attributes read_many reads");
    for (name, v) in &made.props {
        if let Some(f) = found.props.get(name) {
            assert!(f.same(v), "{id}: create reports {name} = {v}, read_many {f}");
        }
    }
    Res { kind: k, id, live: found, applied: want }
}

/// Updates in place and checks the result reads back as the new values, with no diff left.
async fn update(cx: &Cx, res: &mut Res, given: &[(&str, Value)], tags: Option<Tags>) {
    let new = desired(res.kind, res.id, &props(given));
    let old_tags = res.live.tags.clone();
    let tags = tags.unwrap_or_else(|| old_tags.clone());
    let mut current = res.applied.clone();
    current.extend(res.live.props.clone());
    let mut changed: Vec<String> =
        new.iter().filter(|(k, v)| !current.get(*k).is_some_and(|c| c.same(v))).map(|(k, _)| k.clone()).collect();
    if tags != old_tags {
        changed.push("tags".into());
    }
    assert!(!changed.is_empty(), "{}: update test changes nothing", res.id);
    for c in &changed {
        if let Some(p) = res.kind.schema().prop(c) {
            assert_eq!(p.on_change, rprov::schema::OnChange::UpdateInPlace, "{}: {c} is not updatable", res.id);
        }
    }
    let req = UpdateReq {
        id: res.id,
        physical_id: &res.live.physical_id,
        old: &current,
        new: &new,
        changed: &changed,
        old_tags: &old_tags,
        tags: &tags,
    };
    let out = res.kind.update(cx, &req).await.unwrap_or_else(|e| panic!("update {} ({changed:?}): {e}", res.id));
    let ids = vec![res.live.physical_id.clone()];
    let found = read(cx, res.kind, &ids, &res.live.physical_id)
        .await
        .unwrap_or_else(|| panic!("read_many finds {} after update", res.id));
    assert_no_diff(res.id, res.kind, &found, &new);
    for (name, v) in &new {
        if let Some(f) = found.props.get(name) {
            assert!(f.same(v), "{}: after update {name} reads {f}, the stack says {v}", res.id);
        }
    }
    assert_eq!(found.tags, tags, "{}: tags after update", res.id);
    for (name, v) in &out.props {
        if let Some(f) = found.props.get(name) {
            assert!(f.same(v), "{}: update reports {name} = {v}, read_many {f}", res.id);
        }
    }
    res.live = found;
    res.applied = new;
}

/// Deletes, checks it is gone (also when asked for by id), and that deleting again is success.
async fn delete(cx: &Cx, res: Res) {
    let req =
        DeleteReq { id: res.id, physical_id: &res.live.physical_id, props: &res.live.props, attrs: &res.live.attrs };
    res.kind.delete(cx, &req).await.unwrap_or_else(|e| panic!("delete {}: {e}", res.id));
    let ids = vec![res.live.physical_id.clone()];
    assert!(read(cx, res.kind, &ids, &res.live.physical_id).await.is_none(), "{} still listed after delete", res.id);
    assert!(read(cx, res.kind, &[], &res.live.physical_id).await.is_none(), "{} still listed by ownership", res.id);
    assert_eq!(res.kind.delete(cx, &req).await, Ok(()), "{}: a second delete is success", res.id);
}

struct Network {
    subnets: [String; 2],
    efs_sg: String,
    other_sg: String,
}

async fn network(aws: &LocalAws) -> (aws_sdk_ec2::Client, Network) {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new("us-east-1"))
        .endpoint_url(aws.endpoint())
        .credentials_provider(aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let ec2 = aws_sdk_ec2::Client::from_conf(conf);
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.0.10.0/24", "us-east-1a"), ("10.0.11.0/24", "us-east-1b")] {
        let s = ec2.create_subnet().vpc_id(&vpc).cidr_block(cidr).availability_zone(az).send().await.unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    let group = async |name: &str| {
        let g = ec2.create_security_group().group_name(name).description(name).vpc_id(&vpc).send().await.unwrap();
        g.group_id().unwrap().to_owned()
    };
    let app_sg = group("app").await;
    let efs_sg = group("efs").await;
    let other_sg = group("other").await;
    ec2.authorize_security_group_ingress()
        .group_id(&efs_sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(2049)
                .to_port(2049)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&app_sg).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let [a, b]: [String; 2] = subnets.try_into().unwrap();
    (ec2, Network { subnets: [a, b], efs_sg, other_sg })
}

#[tokio::test(flavor = "multi_thread")]
async fn efs_chain_file_system_mount_targets_access_point() {
    let aws = LocalAws::builder().eventual("file_system", 2).eventual("mount_target", 2).start();
    let cx = cx(&aws).await;
    let (ec2, net) = network(&aws).await;

    let mut fs = create(
        &cx,
        "file_system",
        "fs",
        &[("transition_to_ia", "AFTER_30_DAYS".into()), ("throughput_mode", "elastic".into())],
    )
    .await;
    let fs_id = fs.attr("id");
    assert_eq!(fs.live.props["encrypted"], Value::Bool(true));
    assert!(fs.attr("arn").as_str().is_some_and(|a| a.contains("file-system/")), "{:?}", fs.attr("arn"));
    assert_eq!(fs.attr("dns_name"), Value::str(format!("{}.efs.us-east-1.amazonaws.com", fs_id.as_str().unwrap())));
    // A repeated create with the same token (lost response) finds the same file system.
    let again = kind("file_system")
        .unwrap()
        .create(&cx, &CreateReq { id: "fs", props: &fs.applied, tags: &owned_tags("fs"), token: "fs-token" })
        .await
        .unwrap();
    assert_eq!(again.physical_id, fs.live.physical_id);

    let mount = |subnet: &str, groups: &[&str]| {
        vec![("file_system", fs_id.clone()), ("subnet", Value::str(subnet)), ("security_groups", list(groups))]
    };
    let mut mt_a = create(&cx, "mount_target", "mt_a", &mount(&net.subnets[0], &[&net.efs_sg])).await;
    let mt_b = create(&cx, "mount_target", "mt_b", &mount(&net.subnets[1], &[&net.efs_sg])).await;
    assert!(
        mt_a.attr("ip_address").as_str().is_some_and(|ip| ip.starts_with("10.0.10.")),
        "{:?}",
        mt_a.attr("ip_address")
    );
    assert!(mt_b.attr("ip_address").as_str().is_some_and(|ip| ip.starts_with("10.0.11.")));
    // Both mount targets are found through the owned file system without being asked for.
    let owned = read_owned(kind("mount_target").unwrap(), &cx, &[]).await.unwrap();
    assert_eq!(owned.len(), 2, "{owned:?}");

    let ap_props = [
        ("file_system", fs_id.clone()),
        ("posix_user", map(&[("uid", 1000.into()), ("gid", 1000.into())])),
        (
            "root_directory",
            map(&[
                ("path", "/uploads".into()),
                (
                    "creation_info",
                    map(&[("owner_uid", 1000.into()), ("owner_gid", 1000.into()), ("permissions", "755".into())]),
                ),
            ]),
        ),
    ];
    let mut ap = create(&cx, "access_point", "ap", &ap_props).await;
    assert!(ap.attr("arn").as_str().is_some_and(|a| a.contains("access-point/")), "{:?}", ap.attr("arn"));

    // In place: the file system's lifecycle and tags, a mount target's groups, an access
    // point's tags. (UpdateFileSystem, for the throughput mode, is missing from moto 5.2: it is
    // unit-tested with mocks in the kind.)
    let mut fs_tags = owned_tags("fs");
    fs_tags.insert("team".into(), "storage".into());
    update(
        &cx,
        &mut fs,
        &[("transition_to_ia", "AFTER_7_DAYS".into()), ("throughput_mode", "elastic".into())],
        Some(fs_tags),
    )
    .await;
    update(&cx, &mut mt_a, &mount(&net.subnets[0], &[&net.efs_sg, &net.other_sg]), None).await;
    let mut tags = owned_tags("ap");
    tags.insert("team".into(), "storage".into());
    update(&cx, &mut ap, &ap_props, Some(tags)).await;

    // The file system cannot go while mount targets exist (strict rule: FileSystemInUse).
    let fs_req =
        DeleteReq { id: "fs", physical_id: &fs.live.physical_id, props: &fs.live.props, attrs: &fs.live.attrs };
    let busy = fs.kind.delete(&cx, &fs_req).await;
    assert!(matches!(busy, Err(AwsError::InUse(_))), "{busy:?}");

    delete(&cx, ap).await;
    delete(&cx, mt_a).await;
    delete(&cx, mt_b).await;
    delete(&cx, fs).await;
    // With the mount targets gone, their ENIs no longer hold the subnets and groups.
    for s in &net.subnets {
        ec2.delete_subnet().subnet_id(s).send().await.unwrap();
    }
    ec2.delete_security_group().group_id(&net.efs_sg).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_role_trust_managed_and_inline_policies() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let read_logs =
        json(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"*"}}"#);
    let given = |managed: &[&str], extra: Option<(&str, Value)>| {
        let mut inline = vec![("logs", read_logs.clone())];
        inline.extend(extra);
        vec![
            ("trust", list(&["ecs-tasks.amazonaws.com"])),
            ("managed_policy_arns", list(managed)),
            ("policies", map(&inline)),
        ]
    };
    // The local AWS does not load AWS's managed policies: two customer managed ones stand in.
    let iam = aws_sdk_iam::Client::new(&cx.sdk);
    let mut arns = Vec::new();
    for name in ["edge-exec", "edge-read"] {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}"#;
        let p = iam.create_policy().policy_name(name).policy_document(doc).send().await.unwrap();
        arns.push(p.policy().unwrap().arn().unwrap().to_owned());
    }
    let (exec, ro) = (arns[0].as_str(), arns[1].as_str());
    let mut role = create(&cx, "iam_role", "task_role", &given(&[exec], None)).await;
    assert_eq!(role.attr("name"), Value::str("edge-task_role"));
    assert_eq!(role.attr("id"), role.attr("name"));
    assert!(
        role.attr("arn").as_str().is_some_and(|a| a.ends_with(":role/rprov/edge/edge-task_role")),
        "{:?}",
        role.attr("arn")
    );

    // A full document instead of `trust`, written differently, is the same trust policy.
    let same_trust = json(
        r#"{"Statement":[{"Action":["sts:AssumeRole"],"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"}}],"Version":"2012-10-17"}"#,
    );
    let mut alt = props(&[("assume_role_policy", same_trust)]);
    alt.insert("managed_policy_arns".into(), list(&[exec]));
    alt.insert("policies".into(), map(&[("logs", read_logs.clone())]));
    let alt = desired(role.kind, "task_role", &alt);
    assert_no_diff("task_role", role.kind, &role.live, &alt);

    let s3 = json(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::uploads/*"}]}"#,
    );
    update(&cx, &mut role, &given(&[ro], Some(("s3", s3))), None).await;
    // Trust changes in place too.
    let mut trust_change = given(&[ro], None);
    trust_change[0] = ("trust", list(&["ecs-tasks.amazonaws.com", "ecs.amazonaws.com"]));
    update(&cx, &mut role, &trust_change, None).await;
    delete(&cx, role).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn log_group_with_retention() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let mut logs = create(&cx, "log_group", "logs", &[("retention_days", 14.into())]).await;
    assert_eq!(logs.attr("name"), Value::str("/rprov/edge/logs"));
    assert!(logs.attr("arn").as_str().is_some_and(|a| !a.ends_with(":*")), "{:?}", logs.attr("arn"));
    update(&cx, &mut logs, &[("retention_days", 30.into())], None).await;
    // Retention removed from the stack: the policy goes.
    update(&cx, &mut logs, &[], None).await;
    assert!(!logs.live.props.contains_key("retention_days"));
    let named = create(&cx, "log_group", "named", &[("name", "/ecs/edge-app".into())]).await;
    delete(&cx, named).await;
    delete(&cx, logs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ssm_parameter_secure_string() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let mut param =
        create(&cx, "ssm_parameter", "password", &[("value", "hunter2".into()), ("description", "basic auth".into())])
            .await;
    assert_eq!(param.live.props["type"], Value::str("SecureString"));
    assert!(
        param.attr("arn").as_str().is_some_and(|a| a.ends_with(":parameter/rprov/edge/password")),
        "{:?}",
        param.attr("arn")
    );
    let text = format!("{:?}", param.live);
    assert!(!text.contains("hunter2"), "the value is never read back: {text}");
    update(&cx, &mut param, &[("value", "correct horse".into()), ("description", "basic auth".into())], None).await;
    let ssm = aws_sdk_ssm::Client::new(&cx.sdk);
    let got = ssm.get_parameter().name("/rprov/edge/password").with_decryption(true).send().await.unwrap();
    assert_eq!(got.parameter().and_then(|p| p.value()), Some("correct horse"));
    delete(&cx, param).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn alarm_on_target_group_dimensions() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let dims = map(&[
        ("TargetGroup", "targetgroup/edge-tg/0123456789abcdef".into()),
        ("LoadBalancer", "app/edge-alb/0123456789abcdef".into()),
    ]);
    let given = |threshold: i64| {
        vec![
            ("namespace", Value::str("AWS/ApplicationELB")),
            ("metric", "UnHealthyHostCount".into()),
            ("statistic", "Maximum".into()),
            ("threshold", threshold.into()),
            ("dimensions", dims.clone()),
            ("treat_missing_data", "notBreaching".into()),
        ]
    };
    let mut alarm = create(&cx, "alarm", "unhealthy", &given(0)).await;
    assert_eq!(alarm.attr("name"), Value::str("edge-unhealthy"));
    assert!(alarm.attr("arn").as_str().is_some_and(|a| a.contains(":alarm:edge-unhealthy")), "{:?}", alarm.attr("arn"));
    let mut tags = owned_tags("unhealthy");
    tags.insert("team".into(), "ops".into());
    update(&cx, &mut alarm, &given(1), Some(tags)).await;
    delete(&cx, alarm).await;
}

/// The same kinds through the rprov binary and the real planner (the stack loader's defaults
/// included): apply, a second plan finds nothing to do, one change is planned as an in-place
/// update and nothing else, the plan reads each kind with few calls, destroy leaves nothing.
/// Runs the rprov binary in `dir` against `aws`; (exit code, stdout + stderr).
fn rprov(aws: &LocalAws, dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rprov"))
        .args(args)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", aws.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RPROV_PARAM_password", "hunter2")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap_or(-1), format!("{stdout}\n{stderr}"))
}

fn stack_file(dir: &std::path::Path) -> (String, String) {
    let stack = dir.join("edge.yaml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kinds_edge.yaml")).unwrap();
    std::fs::write(&stack, &text).unwrap();
    (stack.to_str().unwrap().to_owned(), text)
}

/// Every create of these kinds without an idempotency token loses its first response (AWS
/// did the work, the client saw a reset) and describes are throttled: the SDK's retry meets
/// AlreadyExists / MountTargetConflict and the kinds take what the first call made, so the
/// apply ends with exactly one of each and a clean re-plan.
#[tokio::test(flavor = "multi_thread")]
async fn lost_create_responses_create_nothing_twice() {
    use localaws::{Fault, Faults};
    let mut faults = Faults::none();
    for (service, op) in [
        ("elasticfilesystem", "CreateFileSystem"),
        ("elasticfilesystem", "CreateMountTarget"),
        ("iam", "CreateRole"),
        ("logs", "CreateLogGroup"),
        ("ssm", "PutParameter"),
        ("monitoring", "PutMetricAlarm"),
    ] {
        faults = faults.next(service, op, Fault::ResetAfter);
    }
    for (service, op) in [
        ("elasticfilesystem", "DescribeFileSystems"),
        ("iam", "GetAccountAuthorizationDetails"),
        ("logs", "DescribeLogGroups"),
        ("ssm", "DescribeParameters"),
        ("monitoring", "DescribeAlarms"),
    ] {
        faults = faults.first(service, op, 2, Fault::Throttle);
    }
    let aws = LocalAws::builder().faults(faults).start();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = stack_file(dir.path());
    let (code, out) = rprov(&aws, dir.path(), &["apply", &path, "--yes"]);
    assert_eq!(code, 0, "{out}");
    let lost = aws.calls().iter().filter(|c| c.fault.as_deref() == Some("reset_after")).count();
    assert_eq!(lost, 6, "the first call of each create operation lost its response");
    let (code, out) = rprov(&aws, dir.path(), &["plan", &path, "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");

    let cx = Cx::new("edgecli", cx(&aws).await.sdk, WaitConfig::default());
    let efs = aws_sdk_efs::Client::new(&cx.sdk);
    let systems = efs.describe_file_systems().send().await.unwrap();
    assert_eq!(systems.file_systems().len(), 1);
    let fs_id = systems.file_systems()[0].file_system_id();
    let targets = efs.describe_mount_targets().file_system_id(fs_id).send().await.unwrap();
    assert_eq!(targets.mount_targets().len(), 2);
    for k in ["iam_role", "log_group", "ssm_parameter", "alarm", "access_point"] {
        let found = read_owned(kind(k).unwrap(), &cx, &[]).await.unwrap();
        assert_eq!(found.len(), 1, "{k}: {found:?}");
    }
}

#[test]
fn stack_round_trip_through_the_cli() {
    let aws = LocalAws::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("edge.yaml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kinds_edge.yaml")).unwrap();
    std::fs::write(&stack, &text).unwrap();
    let run = |args: &[&str]| {
        let out = testing::rprov_command(env!("CARGO_BIN_EXE_rprov"), &aws.endpoint(), dir.path())
            .args(args)
            .env("RPROV_PARAM_password", "hunter2")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (out.status.code().unwrap_or(-1), format!("{stdout}\n{stderr}"))
    };
    let path = stack.to_str().unwrap();

    let (code, out) = run(&["apply", path, "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("hunter2"), "the secret is never printed:\n{out}");

    aws.clear_calls();
    let (code, out) = run(&["plan", path, "--detailed-exitcode"]);
    assert_eq!(code, 0, "a second plan must find no change:\n{out}");
    let mut counts: Vec<String> = aws.count_by_operation().iter().map(|((s, o), n)| format!("{n} {s}:{o}")).collect();
    counts.sort();
    println!("calls of a plan of the 12-resource stack:\n  {}", counts.join("\n  "));
    assert!(aws.calls().len() <= 20, "{counts:?}");

    std::fs::write(&stack, text.replace("retention_days: 14", "retention_days: 30")).unwrap();
    let (code, out) = run(&["plan", path, "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("retention_days = 14 -> 30") && out.contains("0 to add, 1 to change, 0 to replace"), "{out}");
    let (code, out) = run(&["apply", path, "--yes"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["plan", path, "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");

    let (code, out) = run(&["destroy", path, "--yes"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["plan", path]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("12 to add"), "nothing of the stack is left:\n{out}");
}
