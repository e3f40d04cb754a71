//! The Lambda kinds (function, permission) against the strict local AWS: through the `Kind`
//! trait (create in a VPC with ownership tags, `read_many` equal to the stack's values, the code
//! hash Lambda computes equal to the one rprov planned, in-place updates of configuration and
//! code, a permission sent again taken or refused, deletes that wait for Lambda's network
//! interfaces so the subnets and the security group can be deleted right after), and through
//! the `rprov` binary (apply, a re-plan with nothing to do, one changed source file planned as
//! exactly the code hash's update, destroy waiting for the interfaces with progress).
//!
//! moto makes every Lambda state transition instant (Active at once, LastUpdateStatus
//! Successful): the waits (Pending -> Active, InProgress -> Successful, Failed, a role not yet
//! assumable) are unit-tested with aws-smithy-mocks in the kind.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use localaws::{Config, LocalAws};
use rprov::aws::{AwsError, Cx, WaitConfig};
use rprov::kinds::testing::{self, Res, map, props, read};
use rprov::kinds::{CreateReq, Kind, Live, Tags, UpdateReq, kind};
use rprov::value::{Props, Value};

const STACK: &str = "fnit";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

type Seen = Arc<Mutex<Vec<String>>>;

async fn cx(aws: &LocalAws, base: &std::path::Path) -> (Cx, Seen) {
    let wait = WaitConfig {
        timeout: Duration::from_secs(30),
        poll: Duration::from_millis(100),
        max_poll: Duration::from_millis(500),
    };
    let seen = Seen::default();
    let sink = seen.clone();
    let cx = testing::local_cx(STACK, &aws.endpoint(), wait)
        .await
        .with_base(base)
        .with_status(Arc::new(move |id: &str, m: &str| sink.lock().unwrap().push(format!("{id}: {m}"))));
    (cx, seen)
}

fn owned_tags(id: &str) -> Tags {
    testing::owned_tags(STACK, id, "portal")
}

/// The stack's values as the planner compares them, with what the kind computes from local
/// files (the package's hash) bound first, as `plan` does.
fn desired(k: &dyn Kind, cx: &Cx, id: &str, given: &Props) -> Props {
    let mut given = given.clone();
    given.extend(k.local(&cx.base, &given, None).unwrap_or_else(|(p, m)| panic!("{id}.{p}: {m}")));
    rprov::plan::compared_props(k, STACK, id, &given)
}

fn compared(live: &Live, want: &Props) -> Props {
    live.props.iter().filter(|(k, _)| want.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// What AWS reports of the stack's values: `code` (a local path) and a bucket's
/// `force_destroy` (what a delete does) are compared with the state.
fn reported(want: &Props) -> Props {
    want.iter()
        .filter(|(n, _)| !matches!(n.as_str(), "code" | "force_destroy"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

async fn create(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)], ids: &[String]) -> Res {
    let k = kind(kind_name).unwrap();
    let want = desired(k, cx, id, &props(given));
    let tags = if k.schema().taggable { owned_tags(id) } else { Tags::new() };
    let made = k
        .create(cx, &CreateReq { id, props: &want, tags: &tags, token: "unused" })
        .await
        .unwrap_or_else(|e| panic!("create {id}: {e}"));
    let mut ids = ids.to_vec();
    ids.push(made.physical_id.clone());
    let found = read(cx, k, &ids, &made.physical_id).await.unwrap_or_else(|| panic!("read_many finds {id}"));
    let expected = reported(&want);
    assert_eq!(compared(&found, &expected), expected, "{id}: live props differ from the stack's (perpetual diff)");
    assert_eq!(found.tags, tags, "{id}: tags");
    assert_eq!(made.props, found.props, "{id}: create returns what read_many reads");
    Res { kind: k, id, live: found, applied: want }
}

async fn make(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)]) -> Value {
    let k = kind(kind_name).unwrap();
    let want = rprov::plan::compared_props(k, STACK, id, &props(given));
    let made = k.create(cx, &CreateReq { id, props: &want, tags: &owned_tags(id), token: id }).await.unwrap();
    made.attrs["id"].clone()
}

async fn role(cx: &Cx, name: &str) -> String {
    let iam = aws_sdk_iam::Client::new(&cx.sdk);
    let out = iam.create_role().role_name(name).assume_role_policy_document(TRUST).send().await.unwrap();
    out.role().unwrap().arn().to_owned()
}

fn write_code(dir: &std::path::Path, body: &str) {
    std::fs::create_dir_all(dir.join("fn/lib")).unwrap();
    std::fs::write(dir.join("fn/app.py"), body).unwrap();
    std::fs::write(dir.join("fn/lib/util.py"), "ANSWER = 42\n").unwrap();
}

#[tokio::test]
async fn function_in_a_vpc_and_its_permission_round_trip() {
    let aws = LocalAws::start();
    aws.configure(&Config::new().lambda_eni_hold(Duration::from_secs(2)));
    let dir = tempfile::tempdir().unwrap();
    write_code(dir.path(), "def handler(event, context):\n    return 1\n");
    let (cx, seen) = cx(&aws, dir.path()).await;

    let vpc = make(&cx, "vpc", "vpc", &[("cidr", "10.30.0.0/16".into())]).await;
    let mut subnets = Vec::new();
    for (i, (id, az)) in [("a", "us-east-1a"), ("b", "us-east-1b")].into_iter().enumerate() {
        let cidr = format!("10.30.{i}.0/24");
        subnets.push(make(&cx, "subnet", id, &[("vpc", vpc.clone()), ("cidr", cidr.into()), ("az", az.into())]).await);
    }
    let sg = make(&cx, "security_group", "fnsg", &[("vpc", vpc)]).await;
    let role = role(&cx, "fnit-exec").await;

    let given = [
        ("code", map(&[("path", Value::str("fn"))])),
        ("runtime", Value::str("python3.13")),
        ("handler", Value::str("app.handler")),
        ("role", Value::str(&role)),
        ("memory", Value::Int(256)),
        ("timeout", Value::Int(10)),
        ("environment", map(&[("BUCKET", Value::str("uploads")), ("TOKEN", Value::str("s3cr3t-value"))])),
        ("vpc", map(&[("subnets", Value::List(subnets.clone())), ("security_groups", Value::List(vec![sg.clone()]))])),
    ];
    let mut f = create(&cx, "function", "upload", &given, &[]).await;
    assert_eq!(f.pid(), "fnit-upload");
    assert_eq!(f.live.props["log_group"], Value::str("/aws/lambda/fnit-upload"));
    // Lambda computed the hash of the bytes it was sent: the one rprov planned.
    let planned = f.applied["code_sha256"].clone();
    assert_eq!(f.live.props["code_sha256"], planned);
    assert!(f.attr("invoke_arn").as_str().is_some_and(|a| a.ends_with(":function:fnit-upload/invocations")));
    assert_eq!(aws.count("lambda", "CreateFunction"), 1);

    // One ListFunctions for the kind (tags: the Tagging API's index within a refresh, else one
    // ListTags for a function the stack may own).
    aws.clear_calls();
    read(&cx, f.kind, &[], f.pid()).await.unwrap();
    assert_eq!(aws.count("lambda", "ListFunctions"), 1);
    assert!(aws.count("lambda", "GetFunction") == 0, "the code hash is in ListFunctions");

    // In place: configuration (UpdateFunctionConfiguration) and code (UpdateFunctionCode).
    write_code(dir.path(), "def handler(event, context):\n    return 2\n");
    let mut changed_given = given.to_vec();
    changed_given.retain(|(k, _)| *k != "memory");
    changed_given.push(("memory", Value::Int(512)));
    let new = desired(f.kind, &cx, "upload", &props(&changed_given));
    assert_ne!(new["code_sha256"], planned, "a changed file changes the hash");
    let changed: Vec<String> =
        new.iter().filter(|(k, v)| f.applied.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect();
    assert_eq!(changed, ["code_sha256", "memory"]);
    let tags = f.live.tags.clone();
    let req = UpdateReq {
        id: "upload",
        physical_id: f.pid(),
        old: &f.applied,
        new: &new,
        changed: &changed,
        old_tags: &tags,
        tags: &tags,
    };
    let out = f.kind.update(&cx, &req).await.unwrap();
    assert_eq!(out.props["code_sha256"], new["code_sha256"]);
    assert_eq!(out.props["memory"], Value::Int(512));
    assert_eq!((aws.count("lambda", "UpdateFunctionConfiguration"), aws.count("lambda", "UpdateFunctionCode")), (1, 1));
    f.live = out;
    f.applied = new;

    // A permission; sent again (a lost answer) it is taken, with other content it is refused.
    let fn_name = f.attr("name");
    let perm_given = [("function", fn_name.clone()), ("principal", Value::str("apigateway.amazonaws.com"))];
    let perm = create(&cx, "lambda_permission", "invoke", &perm_given, &[]).await;
    assert_eq!(perm.pid(), "fnit-upload/invoke");
    let none = Tags::new();
    let again = perm.kind.create(&cx, &CreateReq { id: "invoke", props: &perm.applied, tags: &none, token: "t" }).await;
    assert_eq!(again.unwrap().physical_id, "fnit-upload/invoke");
    let mut other = perm.applied.clone();
    other.insert("principal".into(), Value::str("s3.amazonaws.com"));
    let refused = perm.kind.create(&cx, &CreateReq { id: "invoke", props: &other, tags: &none, token: "t" }).await;
    assert!(matches!(&refused, Err(AwsError::AlreadyExists(m)) if m.contains("says something else")), "{refused:?}");
    assert_eq!(aws.count("lambda", "AddPermission"), 3);
    perm.kind.delete(&cx, &perm.delete_req()).await.unwrap();
    assert!(read(&cx, perm.kind, &[perm.pid().to_owned()], perm.pid()).await.is_none());

    // Delete: it waits until Lambda released its interfaces; the subnets and the group go
    // right after, without a DependencyViolation.
    let start = Instant::now();
    f.kind.delete(&cx, &f.delete_req()).await.unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(1500), "the delete waited for the interfaces ({waited:?})");
    let lines = seen.lock().unwrap().join("\n");
    assert!(lines.contains("upload: waiting for Lambda's network interfaces to be released (now 2 in use)"), "{lines}");
    let ec2 = aws_sdk_ec2::Client::new(&cx.sdk);
    for s in &subnets {
        ec2.delete_subnet().subnet_id(s.as_str().unwrap()).send().await.unwrap();
    }
    ec2.delete_security_group().group_id(sg.as_str().unwrap()).send().await.unwrap();
    assert_eq!(f.kind.delete(&cx, &f.delete_req()).await, Ok(()), "a second delete is success");
    eprintln!("function delete waited {waited:?} for a 2 s hold");
}

#[tokio::test]
async fn a_secret_in_the_environment_never_reaches_the_state_or_the_plan() {
    let aws = LocalAws::start();
    let dir = tempfile::tempdir().unwrap();
    write_code(&dir.path().join("app"), "def handler(event, context):\n    return 1\n");
    std::fs::write(
        dir.path().join("stack.yaml"),
        r#"stack: fnsecret
region: us-east-1
params:
  token: { secret: true }
resources:
  exec: { type: iam_role, trust: [lambda.amazonaws.com] }
  upload:
    type: function
    code: { path: app/fn }
    runtime: python3.13
    handler: app.handler
    role: ${exec.arn}
    environment: { TOKEN: "${params.token}", MODE: portal }
"#,
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_rprov");
    let run = |args: &[&str]| {
        let out = testing::rprov_command(bin, &aws.endpoint(), dir.path())
            .env("RPROV_PARAM_token", "hunter2-token")
            .args(args)
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let (code, text) = run(&["plan", "stack.yaml"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("(sensitive)") && !text.contains("hunter2-token"), "{text}");
    assert!(text.contains("code_sha256"), "the plan shows the package's hash:\n{text}");
    let (code, text) = run(&["apply", "stack.yaml", "--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("hunter2-token"), "{text}");
    // The environment holds a secret param: it is recorded as a digest, as a whole.
    let state = std::fs::read_to_string(dir.path().join(".rprov/fnsecret.json")).unwrap();
    assert!(state.contains("fnsecret-upload") && state.contains("code_sha256"), "{state}");
    assert!(!state.contains("hunter2-token") && !state.contains("portal"), "the state holds a digest only:\n{state}");
    // Lambda has the value.
    let lam =
        aws_sdk_lambda::Client::new(&testing::local_cx("fnsecret", &aws.endpoint(), WaitConfig::default()).await.sdk);
    let got = lam.get_function_configuration().function_name("fnsecret-upload").send().await.unwrap();
    assert_eq!(
        got.environment().and_then(|e| e.variables()).and_then(|v| v.get("TOKEN")).map(String::as_str),
        Some("hunter2-token")
    );
    let (code, text) = run(&["plan", "stack.yaml", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "nothing to change after apply:\n{text}");

    // One changed source file: exactly the hash's update.
    std::fs::write(dir.path().join("app/fn/lib/util.py"), "ANSWER = 43\n").unwrap();
    let (code, text) = run(&["plan", "stack.yaml", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("code_sha256") && text.contains("1 to change"), "{text}");
    assert!(!text.contains("memory") && !text.contains("hunter2-token"), "{text}");
    let (code, text) = run(&["apply", "stack.yaml", "--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(aws.count("lambda", "UpdateFunctionCode"), 1);
    assert_eq!(aws.count("lambda", "UpdateFunctionConfiguration"), 0);
    let (code, text) = run(&["destroy", "stack.yaml", "--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(lam.list_functions().send().await.unwrap().functions().is_empty());
}

#[tokio::test]
async fn destroy_waits_for_lambdas_network_interfaces_before_the_subnets_and_group() {
    let aws = LocalAws::start();
    let hold = Duration::from_secs(3);
    aws.configure(&Config::new().lambda_eni_hold(hold));
    let dir = tempfile::tempdir().unwrap();
    write_code(dir.path(), "def handler(event, context):\n    return 1\n");
    std::fs::write(
        dir.path().join("stack.yaml"),
        r#"stack: fnvpc
region: us-east-1
resources:
  vpc: { type: vpc, cidr: 10.40.0.0/16 }
  a: { type: subnet, vpc: "${vpc.id}", cidr: 10.40.0.0/24, az: us-east-1a }
  b: { type: subnet, vpc: "${vpc.id}", cidr: 10.40.1.0/24, az: us-east-1b }
  fnsg: { type: security_group, vpc: "${vpc.id}" }
  exec: { type: iam_role, trust: [lambda.amazonaws.com] }
  upload:
    type: function
    code: { path: fn }
    runtime: python3.13
    handler: app.handler
    role: ${exec.arn}
    vpc: { subnets: ["${a.id}", "${b.id}"], security_groups: ["${fnsg.id}"] }
  invoke: { type: lambda_permission, function: "${upload.name}", principal: apigateway.amazonaws.com }
"#,
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_rprov");
    let run = |args: &[&str]| {
        let out = testing::rprov_command(bin, &aws.endpoint(), dir.path()).args(args).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let (code, text) = run(&["apply", "stack.yaml", "--yes"]);
    assert_eq!(code, Some(0), "{text}");
    aws.clear_calls();
    let (code, text) = run(&["plan", "stack.yaml", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "nothing to change after apply:\n{text}");
    let lambda_calls: Vec<_> =
        aws.count_by_operation().into_iter().filter(|((s, _), _)| s == "lambda").collect::<Vec<_>>();
    eprintln!("re-plan, Lambda calls: {lambda_calls:?}");
    assert_eq!(aws.count("lambda", "ListFunctions"), 1);
    assert_eq!(aws.count("lambda", "GetPolicy"), 1);

    let start = Instant::now();
    let (code, text) = run(&["destroy", "stack.yaml", "--yes"]);
    let took = start.elapsed();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("waiting for Lambda's network interfaces to be released"), "{text}");
    assert!(took >= hold, "{took:?}");
    // The subnets and the group went after the interfaces, at the first attempt.
    assert_eq!(aws.count("ec2", "DeleteSubnet"), 2, "{text}");
    assert_eq!(aws.count("ec2", "DeleteSecurityGroup"), 1, "{text}");
    eprintln!("destroy took {took:?} with a {hold:?} hold");
}

#[tokio::test]
async fn bucket_notifications_invoke_a_function_once_s3_may() {
    let aws = LocalAws::start();
    let dir = tempfile::tempdir().unwrap();
    write_code(dir.path(), "def handler(event, context):\n    return 1\n");
    let (cx, _) = cx(&aws, dir.path()).await;
    let role = role(&cx, "fnit-notified").await;
    let f = create(
        &cx,
        "function",
        "scan",
        &[
            ("code", map(&[("path", Value::str("fn"))])),
            ("runtime", Value::str("python3.13")),
            ("handler", Value::str("app.handler")),
            ("role", Value::str(&role)),
        ],
        &[],
    )
    .await;
    let bucket = create(&cx, "bucket", "uploads", &[], &[]).await;
    let arn = f.attr("arn");
    let entry = |prefix: &str| {
        map(&[
            ("function", arn.clone()),
            ("events", Value::List(vec![Value::str("s3:ObjectCreated:*")])),
            ("prefix", Value::str(prefix)),
            ("suffix", Value::str(".zip")),
        ])
    };
    let given = [("bucket", bucket.attr("name")), ("notifications", Value::List(vec![entry("incoming/")]))];

    // Without a permission for S3, S3 cannot validate the destination: refused, with what to do.
    let quick = testing::local_cx(
        STACK,
        &aws.endpoint(),
        WaitConfig {
            timeout: Duration::from_secs(1),
            poll: Duration::from_millis(100),
            max_poll: Duration::from_millis(200),
        },
    )
    .await;
    let k = kind("bucket_notification").unwrap();
    let want = desired(k, &cx, "notify", &props(&given));
    let refused = k.create(&quick, &CreateReq { id: "notify", props: &want, tags: &Tags::new(), token: "t" }).await;
    assert!(
        matches!(&refused, Err(AwsError::Invalid(m)) if m.contains("Unable to validate") && m.contains("lambda_permission")),
        "{refused:?}"
    );

    let perm = create(
        &cx,
        "lambda_permission",
        "s3_invoke",
        &[
            ("function", f.attr("name")),
            ("principal", Value::str("s3.amazonaws.com")),
            ("source_arn", bucket.attr("arn")),
        ],
        &[],
    )
    .await;
    let mut notify = create(&cx, "bucket_notification", "notify", &given, &[]).await;
    assert_eq!(notify.pid(), bucket.pid());
    let listed = notify.live.props["notifications"].as_list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].as_map().unwrap()["prefix"], Value::str("incoming/"));

    // In place: another prefix.
    let new =
        desired(k, &cx, "notify", &props(&[given[0].clone(), ("notifications", Value::List(vec![entry("scans/")]))]));
    let changed = ["notifications".to_string()];
    let none = Tags::new();
    let req = UpdateReq {
        id: "notify",
        physical_id: notify.pid(),
        old: &notify.applied,
        new: &new,
        changed: &changed,
        old_tags: &none,
        tags: &none,
    };
    notify.live = k.update(&cx, &req).await.unwrap();
    assert_eq!(compared(&notify.live, &new), new);

    // Deleted: the bucket has no notification any more; a second delete is success.
    k.delete(&cx, &notify.delete_req()).await.unwrap();
    let left = read(&cx, k, &[bucket.pid().to_owned()], bucket.pid()).await.unwrap();
    assert_eq!(left.props["notifications"], Value::List(vec![]));
    assert_eq!(k.delete(&cx, &notify.delete_req()).await, Ok(()));
    perm.kind.delete(&cx, &perm.delete_req()).await.unwrap();
    bucket.kind.delete(&cx, &bucket.delete_req()).await.unwrap();
    f.kind.delete(&cx, &f.delete_req()).await.unwrap();
}
