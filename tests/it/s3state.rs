//! State on S3 (`--state s3://...`, a stack file's `backend:` block): the lock object taken with
//! `If-None-Match: *`, compare-and-swap writes with `If-Match`, lost responses, kill -9,
//! migration there and back, and the versioning requirement. All against the strict local AWS.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use localaws::{Config, Fault, Faults, LocalAws};

use crate::network::assert_network_exists_once;
use crate::support::{Ctx, SETTLE, count_kind, owned, read_json, repo};

const BUCKET: &str = "team-state";

fn network() -> String {
    repo().join("stacks/network.yaml").display().to_string()
}

/// A stack of three quick resources, for the tests about state rather than scheduling.
const SMALL: &str = "stack: small
region: us-east-1
resources:
  vpc: { type: vpc, cidr: 10.20.0.0/16 }
  subnet: { type: subnet, vpc: '${vpc.id}', cidr: 10.20.1.0/24, az: us-east-1a }
  sg: { type: security_group, vpc: '${vpc.id}', description: small }
outputs:
  vpc_id: ${vpc.id}
";

fn small(cx: &Ctx, extra: &str) -> String {
    let path = cx.dir.path().join("small.yaml");
    std::fs::write(&path, format!("{SMALL}{extra}")).unwrap();
    path.display().to_string()
}

fn s3(aws: &LocalAws) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(aws.endpoint())
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn bucket(aws: &LocalAws, versioned: bool) -> aws_sdk_s3::Client {
    let c = s3(aws);
    c.create_bucket().bucket(BUCKET).send().await.unwrap();
    if versioned {
        let on = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        c.put_bucket_versioning().bucket(BUCKET).versioning_configuration(on).send().await.unwrap();
    }
    c
}

async fn get(c: &aws_sdk_s3::Client, key: &str) -> Option<Vec<u8>> {
    match c.get_object().bucket(BUCKET).key(key).send().await {
        Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
        Err(e) => panic!("get {key}: {e:?}"),
    }
}

async fn get_json(c: &aws_sdk_s3::Client, key: &str) -> Option<serde_json::Value> {
    get(c, key).await.map(|b| serde_json::from_slice(&b).expect("state is JSON"))
}

fn recorded(v: &serde_json::Value) -> usize {
    v["resources"].as_object().map(|o| o.len()).unwrap_or(0)
}

/// Waits until the state object records at least `n` resources.
async fn wait_recorded(c: &aws_sdk_s3::Client, key: &str, n: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = get_json(c, key).await.filter(|v| recorded(v) >= n) {
            return v;
        }
        assert!(Instant::now() < deadline, "apply made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spawn(cx: &Ctx, args: &[&str]) -> Child {
    cx.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn finish(child: Child) -> crate::support::Run {
    crate::support::Run::from(child.wait_with_output().unwrap())
}

fn slow_creates(ms: u64) -> LocalAws {
    LocalAws::builder().op_latency_ms("ec2", "Create*", ms).op_latency_ms("ec2", "Allocate*", ms).start()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_applies_started_together_one_proceeds_the_other_names_the_holder() {
    let cx = Ctx::with(slow_creates(150));
    let c = bucket(&cx.aws, true).await;
    let stack = network();
    let url = format!("s3://{BUCKET}/envs/");
    let args = ["apply", &stack, "--yes", "--state", &url];
    let (a, b) = (spawn(&cx, &args), spawn(&cx, &args));
    let runs = [finish(a), finish(b)];
    let won: Vec<_> = runs.iter().filter(|r| r.code == 0).collect();
    let lost: Vec<_> = runs.iter().filter(|r| r.code == 1).collect();
    assert_eq!((won.len(), lost.len()), (1, 1), "{:?}", runs.iter().map(|r| &r.stderr).collect::<Vec<_>>());
    let refused = &lost[0].stderr;
    assert!(refused.contains("state is locked by") && refused.contains("for `apply`"), "{refused}");
    assert!(refused.contains("(pid ") && refused.contains("rprov force-unlock"), "{refused}");
    assert!(!lost[0].stdout.contains("Plan:"), "the refused run must not plan:\n{}", lost[0].stdout);
    assert!(get(&c, "envs/network.json.lock").await.is_none(), "the winner released its lock");

    // The second run, once the first has finished: it succeeds and has nothing to do.
    let again = cx.rprov(&args);
    again.expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_network_exists_once(&cx).await;
    let state = get_json(&c, "envs/network.json").await.unwrap();
    assert_eq!(recorded(&state), 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_writer_whose_lock_was_taken_over_is_stopped_by_s3_and_overwrites_nothing() {
    let cx = Ctx::with(slow_creates(400));
    let c = bucket(&cx.aws, true).await;
    let stack = network();
    let url = format!("s3://{BUCKET}/net.json");
    let child = spawn(&cx, &["apply", &stack, "--yes", "--state", &url]);
    let mine = wait_recorded(&c, "net.json", 2).await;
    // Someone decides the run is dead: removes its lock and writes the state themselves.
    let lock = get_json(&c, "net.json.lock").await.expect("the run holds a lock");
    let id = lock["id"].as_str().unwrap();
    let wrong = cx.rprov(&["force-unlock", "not-the-id", "--state", &url]);
    wrong.expect(1);
    assert!(get(&c, "net.json.lock").await.is_some(), "a wrong id must not release the lock");
    cx.rprov(&["force-unlock", id, "--state", &url]).expect(0);
    let mut theirs = mine.clone();
    theirs["serial"] = serde_json::json!(mine["serial"].as_u64().unwrap() + 100);
    theirs["outputs"] = serde_json::json!({ "written_by": "someone else" });
    let theirs = serde_json::to_vec_pretty(&theirs).unwrap();
    c.put_object().bucket(BUCKET).key("net.json").body(ByteStream::from(theirs.clone())).send().await.unwrap();

    let run = finish(child);
    run.expect(1);
    assert!(
        run.stderr.contains("was changed by someone else") && run.stderr.contains("nothing was overwritten"),
        "{}",
        run.stderr
    );
    assert_eq!(get(&c, "net.json").await.unwrap(), theirs, "the stale writer must not overwrite");
    // Stopped at once: what had not started by then was never started.
    assert!(!run.stdout.contains("12 operation(s) done"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_apply_with_s3_state_then_rerun_converges_without_duplicates() {
    let cx = Ctx::with(slow_creates(300));
    let c = bucket(&cx.aws, true).await;
    let stack = network();
    let url = format!("s3://{BUCKET}/net.json");
    let mut child = cx.command(&["apply", &stack, "--yes", "--state", &url]).stdout(Stdio::null()).spawn().unwrap();
    wait_recorded(&c, "net.json", 3).await;
    child.kill().unwrap(); // SIGKILL: no unlock, no last write
    child.wait().unwrap();
    // Let requests the dead process already sent land (see the local kill test).
    cx.aws.wait_idle(SETTLE);
    let at_kill = recorded(&get_json(&c, "net.json").await.unwrap());
    assert!(at_kill < 12, "the kill came too late to test anything ({at_kill} recorded)");

    let blocked = cx.rprov(&["apply", &stack, "--yes", "--state", &url]);
    blocked.expect(1);
    assert!(blocked.stderr.contains("force-unlock"), "{}", blocked.stderr);
    let lock = get_json(&c, "net.json.lock").await.unwrap();
    cx.rprov(&["force-unlock", lock["id"].as_str().unwrap(), "--state", &url]).expect(0);
    assert!(get(&c, "net.json.lock").await.is_none());

    cx.aws.configure(&Config::new().op_latency_ms("ec2", "Create*", 0).op_latency_ms("ec2", "Allocate*", 0));
    cx.rprov(&["apply", &stack, "--yes", "--state", &url]).expect(0);
    assert_network_exists_once(&cx).await;
    cx.rprov(&["plan", &stack, "--detailed-exitcode", "--state", &url]).expect(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_local_to_s3_and_back_keeps_lineage_and_serial() {
    let cx = Ctx::new();
    let c = bucket(&cx.aws, true).await;
    let stack = small(&cx, "");
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    let local = read_json(&cx.state_path("small"));
    let identity = |v: &serde_json::Value| (v["lineage"].clone(), v["serial"].clone(), v["resources"].clone());

    let url = format!("s3://{BUCKET}/rprov/");
    let there = cx.rprov(&["state", "migrate", &stack, "--to", &url]);
    there.expect(0);
    let remote = get_json(&c, "rprov/small.json").await.expect("migrated to PREFIX<stack>.json");
    assert_eq!(identity(&remote), identity(&local));
    assert!(get(&c, "rprov/small.json.lock").await.is_none(), "migrate released the target's lock");
    assert!(!cx.state_path("small").with_extension("json.lock").exists(), "and the source's");
    cx.rprov(&["plan", &stack, "--detailed-exitcode", "--state", &url]).expect(0);
    let shown = cx.rprov(&["state", "show", &stack, "--state", &url]);
    shown.expect(0);
    assert_eq!(identity(&serde_json::from_str(&shown.stdout).unwrap()), identity(&local));

    // And back, to a new file.
    let back = cx.dir.path().join("back.json").display().to_string();
    cx.rprov(&["state", "migrate", &stack, "--to", &back, "--state", &url]).expect(0);
    assert_eq!(identity(&read_json(std::path::Path::new(&back))), identity(&local));
    cx.rprov(&["plan", &stack, "--detailed-exitcode", "--state", &back]).expect(0);
    // Again: nothing to do.
    let same = cx.rprov(&["state", "migrate", &stack, "--to", &back, "--state", &url]);
    same.expect(0);
    assert!(same.stdout.contains("already holds this state"), "{}", same.stdout);

    // A target holding another stack's history is refused, untouched.
    let other = serde_json::json!({"format_version": 1, "lineage": "other", "serial": 9, "stack": "small",
        "region": "us-east-1", "rprov_version": "0", "resources": {}, "outputs": {}});
    let other = serde_json::to_vec(&other).unwrap();
    c.put_object().bucket(BUCKET).key("taken.json").body(ByteStream::from(other.clone())).send().await.unwrap();
    let refused = cx.rprov(&["state", "migrate", &stack, "--to", &format!("s3://{BUCKET}/taken.json")]);
    refused.expect(1);
    assert!(refused.stderr.contains("already holds another state (lineage other"), "{}", refused.stderr);
    assert_eq!(get(&c, "taken.json").await.unwrap(), other);

    // The local file keeps no history, and says so.
    let none = cx.rprov(&["state", "list-versions", &stack]);
    none.expect(1);
    assert!(none.stderr.contains("keeps no earlier versions"), "{}", none.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_faults_are_retried_and_a_lost_answer_after_a_conditional_put_is_no_conflict() {
    // Every first PutObject answer is lost after S3 stored the object (the lock, the first
    // state write with If-None-Match, a later one with If-Match); plus throttling and 5xx.
    let cx = Ctx::new();
    let c = bucket(&cx.aws, true).await;
    cx.aws.configure(&Config::new().faults(
        Faults::seeded(11).throttle(0.15).server_error(0.1).reset_before(0.05).only("s3", "*").on_calls(
            "s3",
            "PutObject",
            [1, 2, 4],
            Fault::ResetAfter,
        ),
    ));
    let stack = small(&cx, "");
    let url = format!("s3://{BUCKET}/small.json");
    let run = cx.rprov(&["apply", &stack, "--yes", "--state", &url]);
    run.expect(0);
    let calls = cx.aws.calls();
    let fault = |f: &str| calls.iter().filter(|c| c.service == "s3" && c.fault.as_deref() == Some(f)).count();
    println!(
        "S3 faults survived: {} lost answers, {} throttled, {} server errors, {} resets before",
        fault("reset_after"),
        fault("throttle"),
        fault("server_error"),
        fault("reset_before")
    );
    assert_eq!(fault("reset_after"), 3);
    assert!(fault("throttle") + fault("server_error") > 0, "{calls:?}");
    cx.aws.configure(&Config::new().faults(Faults::none()));
    assert!(get(&c, "small.json.lock").await.is_none(), "lock released");
    let state = get_json(&c, "small.json").await.unwrap();
    assert_eq!(recorded(&state), 3);
    assert_eq!(count_kind(&owned(&cx.ec2().await, "small").await, "vpc"), 1);
    cx.rprov(&["plan", &stack, "--detailed-exitcode", "--state", &url]).expect(0);

    // Every checkpoint is a version: list them, pull an earlier one.
    let listed = cx.rprov(&["state", "list-versions", &stack, "--state", &url, "--json"]);
    listed.expect(0);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed["format_version"], 1);
    let versions = listed["versions"].as_array().unwrap();
    assert!(versions.len() >= 3, "{versions:?}");
    assert_eq!(versions[0]["latest"], true);
    let oldest = versions.last().unwrap()["id"].as_str().unwrap();
    let pulled = cx.rprov(&["state", "pull", &stack, "--state", &url, "--version", oldest]);
    pulled.expect(0);
    let pulled: serde_json::Value = serde_json::from_str(&pulled.stdout).unwrap();
    assert_eq!(pulled["lineage"], state["lineage"]);
    assert!(pulled["serial"].as_u64() < state["serial"].as_u64(), "{pulled}");
    let missing = cx.rprov(&["state", "pull", &stack, "--state", &url, "--version", "no-such-version"]);
    missing.expect(1);
    assert!(missing.stderr.contains("no state version `no-such-version`"), "{}", missing.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn unversioned_bucket_is_refused_unless_allowed_and_the_stack_file_backend_is_used() {
    let cx = Ctx::new();
    let c = bucket(&cx.aws, false).await;
    let stack = small(&cx, &format!("backend:\n  s3: {{ bucket: {BUCKET}, key: teams/ }}\n"));
    let refused = cx.rprov(&["apply", &stack, "--yes"]);
    refused.expect(1);
    assert!(refused.stderr.contains(&format!("bucket `{BUCKET}` does not keep versions")), "{}", refused.stderr);
    assert!(refused.stderr.contains("--allow-unversioned"), "{}", refused.stderr);
    assert_eq!(count_kind(&owned(&cx.ec2().await, "small").await, "vpc"), 0, "nothing may be created");
    assert!(get(&c, "teams/small.json.lock").await.is_none());

    cx.rprov(&["apply", &stack, "--yes", "--allow-unversioned"]).expect(0);
    assert_eq!(recorded(&get_json(&c, "teams/small.json").await.expect("the backend block's prefix")), 3);
    assert!(!cx.state_path("small").exists(), "no local state when the stack file names S3");
    // --state wins over the block: a local file that does not exist yet is another deployment
    // of the stack; the resources of the S3 state's lineage are named as such, never adopted.
    let local = cx.rprov(&["plan", &stack, "--detailed-exitcode", "--state", "elsewhere.json"]);
    local.expect(2);
    assert!(local.stdout.contains("of another deployment"), "{}", local.stdout);
    assert!(!local.stdout.contains("adopting it"), "{}", local.stdout);
    cx.rprov(&["plan", &stack, "--detailed-exitcode"]).expect(0);
}

#[test]
fn bad_backend_blocks_and_urls_are_located_errors() {
    let cx = Ctx::new();
    let stack = small(&cx, "backend:\n  s3: { bucket: No_Such, key: /abs, regoin: us-east-1 }\n");
    let run = cx.rprov(&["validate", &stack]);
    run.expect(1);
    for needle in ["small.yaml:10:", "invalid bucket name `No_Such`", "invalid key `/abs`", "unknown key `regoin`"] {
        assert!(run.stderr.contains(needle), "{needle}:\n{}", run.stderr);
    }
    let stack = small(&cx, "");
    for (url, needle) in [
        ("s3://ab/k", "invalid bucket name `ab`"),
        ("s3://bucket", "no key"),
        ("gs://b/k", "expected a file path or s3://"),
    ] {
        let run = cx.rprov(&["plan", &stack, "--state", url]);
        run.expect(1);
        assert!(run.stderr.contains(needle), "{url}: {}", run.stderr);
    }
}

/// `import --adopt` writes the state where `--state` says, under apply's lock: a stack whose
/// state object was deleted comes back from its tag into the bucket, in its own deployment,
/// and plans no change from there; a second import into that state is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_adopts_into_the_s3_state() {
    let cx = Ctx::new();
    let c = bucket(&cx.aws, true).await;
    let stack = small(&cx, "");
    let url = format!("s3://{BUCKET}/envs/");
    cx.rprov(&["apply", &stack, "--yes", "--state", &url]).expect(0);
    let lineage = get_json(&c, "envs/small.json").await.unwrap()["lineage"].clone();
    c.delete_object().bucket(BUCKET).key("envs/small.json").send().await.unwrap();
    assert!(get(&c, "envs/small.json").await.is_none());

    let args = [
        "import",
        "--region",
        "us-east-1",
        "--tag",
        "rprov:stack=small",
        "--stack",
        "small",
        "--adopt",
        "--state",
        &url,
        "--out",
        "imported.yaml",
    ];
    cx.rprov(&args).expect(0);
    let state = get_json(&c, "envs/small.json").await.unwrap();
    assert_eq!((recorded(&state), &state["lineage"]), (3, &lineage));
    assert!(get(&c, "envs/small.json.lock").await.is_none(), "the import released its lock");
    let imported = cx.dir.path().join("imported.yaml").display().to_string();
    cx.rprov(&["plan", &imported, "--state", &url, "--detailed-exitcode"]).expect(0);

    let again = cx.rprov(&args);
    again.expect(1);
    assert!(again.stderr.contains("has a state with resources already"), "{}", again.stderr);
}
