//! The spine end to end on `stacks/network.yaml`: apply, verify with the SDK, re-plan empty,
//! update one rule, crash mid-apply and converge, lost responses, destroy to zero.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use localaws::{Config, Fault, Faults, LocalAws};

use crate::support::{Ctx, SETTLE, count_kind, owned, read_json, repo, wait_recorded};

fn network() -> String {
    repo().join("stacks/network.yaml").display().to_string()
}

const KINDS: usize = 7;

#[tokio::test(flavor = "multi_thread")]
async fn apply_verify_replan_update_destroy() {
    let cx = Ctx::new();
    let stack = network();
    let run = cx.rprov(&["apply", &stack, "--yes"]);
    run.expect(0);
    assert!(run.stdout.contains("Plan: 12 to add"), "{}", run.stdout);

    // Every resource, as AWS has it.
    let ec2 = cx.ec2().await;
    let all = owned(&ec2, "network").await;
    for (kind, n) in [
        ("vpc", 1),
        ("subnet", 4),
        ("internet_gateway", 1),
        ("elastic_ip", 1),
        ("nat_gateway", 1),
        ("route_table", 2),
        ("security_group", 2),
    ] {
        assert_eq!(count_kind(&all, kind), n, "{kind}: {all:?}");
    }
    let vpcs = ec2.describe_vpcs().filters(crate::support::tag_filter("network")).send().await.unwrap();
    let vpc = &vpcs.vpcs()[0];
    assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));
    let tags: Vec<(String, String)> =
        vpc.tags().iter().map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned())).collect();
    for want in [("rprov:stack", "network"), ("rprov:id", "vpc"), ("team", "support"), ("env", "sandbox")] {
        assert!(tags.contains(&(want.0.into(), want.1.into())), "{tags:?}");
    }
    let vpc_id = vpc.vpc_id().unwrap();
    let subnets = ec2.describe_subnets().filters(crate::support::tag_filter("network")).send().await.unwrap();
    let mut cidrs: Vec<&str> = subnets.subnets().iter().map(|s| s.cidr_block().unwrap()).collect();
    cidrs.sort();
    assert_eq!(cidrs, ["10.0.0.0/24", "10.0.1.0/24", "10.0.10.0/24", "10.0.11.0/24"]);
    assert!(subnets.subnets().iter().all(|s| s.vpc_id() == Some(vpc_id)));
    let igws = ec2.describe_internet_gateways().filters(crate::support::tag_filter("network")).send().await.unwrap();
    assert_eq!(igws.internet_gateways()[0].attachments()[0].vpc_id(), Some(vpc_id));
    let nats = ec2.describe_nat_gateways().filter(crate::support::tag_filter("network")).send().await.unwrap();
    assert_eq!(nats.nat_gateways()[0].state().map(|s| s.as_str()), Some("available"));
    let groups = ec2.describe_security_groups().filters(crate::support::tag_filter("network")).send().await.unwrap();
    let lb = groups.security_groups().iter().find(|g| g.tags().iter().any(|t| t.value() == Some("lb_sg"))).unwrap();
    let app = groups.security_groups().iter().find(|g| g.tags().iter().any(|t| t.value() == Some("app_sg"))).unwrap();
    let from_lb = app.ip_permissions().iter().find(|p| p.from_port() == Some(8000)).expect("app ingress 8000");
    assert_eq!(from_lb.user_id_group_pairs()[0].group_id(), lb.group_id());
    let rts = ec2.describe_route_tables().filters(crate::support::tag_filter("network")).send().await.unwrap();
    let private =
        rts.route_tables().iter().find(|r| r.tags().iter().any(|t| t.value() == Some("private_routes"))).unwrap();
    assert!(private.routes().iter().any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
        && r.nat_gateway_id() == nats.nat_gateways()[0].nat_gateway_id()));
    assert_eq!(private.associations().iter().filter(|a| a.subnet_id().is_some()).count(), 2);

    // Outputs recorded.
    let out = cx.rprov(&["output", &stack, "vpc_id"]);
    out.expect(0);
    assert_eq!(out.stdout.trim(), vpc_id);

    // A second plan: nothing to do, one describe per kind.
    cx.aws.clear_calls();
    let again = cx.rprov(&["plan", &stack, "--detailed-exitcode"]);
    again.expect(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
    let calls = cx.aws.calls();
    println!(
        "plan of the applied network stack: {} AWS calls for {KINDS} kinds: {:?}",
        calls.len(),
        calls.iter().map(|c| &c.operation).collect::<Vec<_>>()
    );
    // One identity check (whose account is this?) per run, then one describe per kind.
    let (identity, reads): (Vec<_>, Vec<_>) = calls.iter().partition(|c| c.operation == "GetCallerIdentity");
    assert_eq!(identity.len(), 1, "{calls:?}");
    assert!(reads.len() <= KINDS, "plan made {} reads: {calls:?}", reads.len());
    assert!(reads.iter().all(|c| c.operation.starts_with("Describe")), "{calls:?}");

    // Change one rule: the plan shows exactly that update, and apply performs it.
    let edited = cx.stack_copy("network.yaml", |t| {
        t.replace("      - { protocol: tcp, port: 443, cidr: 0.0.0.0/0 }\n", "      - { protocol: tcp, port: 443, cidr: 0.0.0.0/0 }\n      - { protocol: tcp, port: 8443, cidr: 10.0.0.0/8 }\n")
    });
    let edited = edited.display().to_string();
    let p = cx.rprov(&["plan", &edited, "--json", "--detailed-exitcode"]);
    p.expect(2);
    let json: serde_json::Value = serde_json::from_str(&p.stdout).unwrap();
    assert_eq!(json["format_version"], 1);
    let changes: Vec<&serde_json::Value> =
        json["changes"].as_array().unwrap().iter().filter(|c| c["action"] != "no_op").collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["id"], "lb_sg");
    assert_eq!(changes[0]["action"], "update");
    let diffs = changes[0]["diffs"].as_array().unwrap();
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0]["name"], "ingress");
    cx.rprov(&["apply", &edited, "--yes"]).expect(0);
    let g = ec2.describe_security_groups().group_ids(lb.group_id().unwrap()).send().await.unwrap();
    assert!(g.security_groups()[0].ip_permissions().iter().any(|p| p.from_port() == Some(8443)));
    cx.rprov(&["plan", &edited, "--detailed-exitcode"]).expect(0);

    // Destroy: nothing left carrying the tag.
    let d = cx.rprov(&["destroy", &edited, "--yes"]);
    d.expect(0);
    let left = owned(&ec2, "network").await;
    assert!(left.is_empty(), "left after destroy: {left:?}");
    let state = read_json(&cx.state_path("network"));
    assert_eq!(state["resources"].as_object().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_without_yes_and_without_a_terminal_refuses() {
    let cx = Ctx::new();
    let run = cx.rprov(&["apply", &network()]);
    run.expect(1);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    let ec2 = cx.ec2().await;
    assert!(owned(&ec2, "network").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_apply_then_rerun_converges_without_duplicates() {
    // Slow creates so the kill lands mid-run.
    let aws = LocalAws::builder().op_latency_ms("ec2", "Create*", 300).op_latency_ms("ec2", "Allocate*", 300).start();
    let cx = Ctx::with(aws);
    let stack = network();
    let mut child = cx.command(&["apply", &stack, "--yes"]).stdout(std::process::Stdio::null()).spawn().unwrap();
    let state = cx.state_path("network");
    wait_recorded(&state, |n| n >= 3);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // A request the dead process had already sent still completes on the server side (here it
    // sits out its injected 300 ms first); on AWS that window is milliseconds. Let it land, so
    // the re-run sees it and adopts it by its tags. (A create landing after the re-run's read is
    // a different race: it shows up as unmanaged, see the drift and teardown work.)
    cx.aws.wait_idle(SETTLE);
    let recorded = read_json(&state)["resources"].as_object().unwrap().len();
    assert!(recorded < 12, "the kill came too late to test anything ({recorded} recorded)");
    // The lock of the killed run is still there: the re-run must be told who holds it.
    let blocked = cx.rprov(&["apply", &stack, "--yes"]);
    blocked.expect(1);
    assert!(blocked.stderr.contains("force-unlock"), "{}", blocked.stderr);
    let lock: serde_json::Value = read_json(&state.with_extension("json.lock"));
    cx.rprov(&["force-unlock", lock["id"].as_str().unwrap()]).expect(0);

    cx.aws.configure(&Config::new().op_latency_ms("ec2", "Create*", 0).op_latency_ms("ec2", "Allocate*", 0));
    let rerun = cx.rprov(&["apply", &stack, "--yes"]);
    rerun.expect(0);
    assert_network_exists_once(&cx).await;
    let ec2 = cx.ec2().await;
    cx.rprov(&["plan", &stack, "--detailed-exitcode"]).expect(0);
    let d = cx.rprov(&["destroy", &stack, "--yes"]);
    d.expect(0);
    let left = owned(&ec2, "network").await;
    assert!(left.is_empty(), "left after destroy: {left:?}\n{}", d.stdout);
}

/// Each resource of the network stack exists exactly once (after a kill and a re-run, say).
pub(crate) async fn assert_network_exists_once(cx: &Ctx) {
    let all = owned(&cx.ec2().await, "network").await;
    for (kind, n) in [
        ("vpc", 1),
        ("subnet", 4),
        ("internet_gateway", 1),
        ("elastic_ip", 1),
        ("nat_gateway", 1),
        ("route_table", 2),
        ("security_group", 2),
    ] {
        assert_eq!(count_kind(&all, kind), n, "{kind}: {all:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_create_responses_and_throttling_create_nothing_twice() {
    // The first CreateVpc and CreateSubnet reach moto, then the connection is reset: the
    // resources exist but rprov never hears so. Plus throttling on a fifth of all calls.
    let faults = Faults::seeded(7)
        .throttle(0.2)
        .first("ec2", "CreateVpc", 1, Fault::ResetAfter)
        .first("ec2", "CreateSubnet", 1, Fault::ResetAfter)
        .first("ec2", "AllocateAddress", 1, Fault::ResetAfter);
    let cx = Ctx::with(LocalAws::builder().faults(faults).start());
    let stack = network();
    let run = cx.rprov(&["apply", &stack, "--yes"]);
    run.expect(0);
    let throttled = cx.aws.calls().iter().filter(|c| c.fault.as_deref() == Some("throttle")).count();
    let reset = cx.aws.calls().iter().filter(|c| c.fault.as_deref() == Some("reset_after")).count();
    println!("apply survived {throttled} throttled calls and {reset} lost responses");
    assert!(reset >= 3 && throttled > 0);
    cx.aws.configure(&Config::new().faults(Faults::none()));
    let ec2 = cx.ec2().await;
    let all = owned(&ec2, "network").await;
    assert_eq!(count_kind(&all, "vpc"), 1, "{all:?}");
    assert_eq!(count_kind(&all, "subnet"), 4, "{all:?}");
    assert_eq!(count_kind(&all, "elastic_ip"), 1, "{all:?}");
    cx.rprov(&["plan", &stack, "--detailed-exitcode"]).expect(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_plan_applies_exactly_and_refuses_when_stale() {
    let cx = Ctx::new();
    let stack = network();
    let plan = cx.dir.path().join("net.plan");
    let plan = plan.display().to_string();
    cx.rprov(&["plan", &stack, "--out", &plan]).expect(0);
    let stale = cx.dir.path().join("stale.plan").display().to_string();
    cx.rprov(&["plan", &stack, "--out", &stale]).expect(0);
    cx.rprov(&["apply", &plan, "--yes"]).expect(0);
    let again = cx.rprov(&["apply", &stale, "--yes"]);
    again.expect(1);
    assert!(again.stderr.contains("stale plan"), "{}", again.stderr);
    let ec2 = cx.ec2().await;
    assert_eq!(count_kind(&owned(&ec2, "network").await, "vpc"), 1);
}

/// `apply` started in the background, returned once its state records the VPC.
fn apply_until_the_vpc_is_recorded(cx: &Ctx, stack: &str) -> (std::process::Child, std::path::PathBuf) {
    let child = cx
        .command(&["apply", stack, "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let state = cx.state_path("network");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&state).map(|t| !t.contains("\"vpc\"")).unwrap_or(true) {
        assert!(Instant::now() < deadline, "apply made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, state)
}

/// Ctrl-C: SIGINT to the child.
fn interrupt(child: &std::process::Child) {
    let kill = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
}

/// The lines of a child's output as they come.
fn lines(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (up to a minute) for a line containing `needle`; returns the lines read so far.
fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = String::new();
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(needle) {
                    return seen;
                }
            }
            Err(e) => panic!("no line with {needle:?} ({e}); so far:\n{seen}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_finishes_what_is_in_flight_saves_state_and_releases_the_lock() {
    let aws = LocalAws::builder().op_latency_ms("ec2", "Create*", 400).op_latency_ms("ec2", "Allocate*", 400).start();
    let cx = Ctx::with(aws);
    let stack = network();
    let (child, state) = apply_until_the_vpc_is_recorded(&cx, &stack);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!state.with_extension("json.lock").exists(), "the lock must be released on Ctrl-C");
    let recorded = read_json(&state)["resources"].as_object().unwrap().len();
    assert!((1..12).contains(&recorded), "{recorded} recorded");
    // Everything that was started is recorded: a re-run creates only the rest, no duplicates.
    cx.aws.configure(&Config::new().op_latency_ms("ec2", "Create*", 0).op_latency_ms("ec2", "Allocate*", 0));
    let rerun = cx.rprov(&["apply", &stack, "--yes"]);
    rerun.expect(0);
    assert!(rerun.stdout.contains(&format!("Plan: {} to add", 12 - recorded)), "{}", rerun.stdout);
    let ec2 = cx.ec2().await;
    let all = owned(&ec2, "network").await;
    assert_eq!(all.len(), 12, "{all:?}");
}

/// A second Ctrl-C leaves at once (exit 130) and still releases the state lock; what a create
/// cut short made carries the ownership tags, so the re-run adopts it instead of duplicating.
#[tokio::test(flavor = "multi_thread")]
async fn second_ctrl_c_leaves_at_once_releases_the_lock_and_the_rerun_duplicates_nothing() {
    let aws = LocalAws::builder().op_latency_ms("ec2", "Create*", 600).op_latency_ms("ec2", "Allocate*", 600).start();
    let cx = Ctx::with(aws);
    let stack = network();
    let (mut child, state) = apply_until_the_vpc_is_recorded(&cx, &stack);
    let stdout = lines(child.stdout.take().unwrap());
    interrupt(&child);
    // The second Ctrl-C once the first has been acted on (before, the two may arrive as one).
    let seen = wait_for_line(&stdout, "interrupted: starting nothing new");
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{seen}\n{stderr}");
    assert!(stderr.contains("Interrupted twice"), "{stderr}");
    assert!(!state.with_extension("json.lock").exists(), "the lock must be released on a second Ctrl-C");

    // Creates that were in flight may land after the exit: the re-run must see them.
    cx.aws.wait_idle(SETTLE);
    cx.aws.configure(&Config::new().op_latency_ms("ec2", "Create*", 0).op_latency_ms("ec2", "Allocate*", 0));
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    let ec2 = cx.ec2().await;
    let all = owned(&ec2, "network").await;
    assert_eq!(all.len(), 12, "{all:?}");
}
