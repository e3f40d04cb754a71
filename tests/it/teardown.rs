//! Sandbox teardown (issue: nothing left behind): `teardown` without state finds exactly what a
//! stack created and removes it, leaving other stacks alone; `destroy` and `teardown` get
//! through DependencyViolation and report the retries; a destroy killed with SIGKILL finishes on
//! a re-run; `--older-than` spares younger stacks. Each prints what it deleted and the wall time.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use localaws::{Config, Fault, Faults};

use crate::support::{Ctx, count_kind, kill_when, owned, read_json, repo};

/// The account of plain credentials on the local AWS.
const ACCOUNT: &str = "123456789012";

fn stack_file(name: &str) -> String {
    repo().join("stacks").join(name).display().to_string()
}

/// The network stack under another name (and address range), as a neighbour in the same region.
fn neighbour(cx: &Ctx, name: &str) -> String {
    cx.stack_copy("network.yaml", |t| t.replace("stack: network", &format!("stack: {name}"))).display().to_string()
}

/// `rprov teardown` in us-east-1, allowed in the local AWS's account.
fn teardown(cx: &Ctx, args: &[&str]) -> crate::support::Run {
    let mut line = vec!["teardown", "--region", "us-east-1", "--account", ACCOUNT];
    line.extend_from_slice(args);
    cx.rprov(&line)
}

fn json(run: &crate::support::Run) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    assert_eq!(v["format_version"], 1);
    v
}

fn pids(report: &serde_json::Value, list: &str) -> BTreeSet<String> {
    report[list].as_array().unwrap().iter().map(|e| e["physical_id"].as_str().unwrap().to_owned()).collect()
}

fn sdk(cx: &Ctx) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(cx.aws.endpoint())
        .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
            aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .build()
}

/// ARNs the Tagging API lists with `rprov:stack=<stack>`.
async fn tagging_api(cx: &Ctx, stack: &str) -> Vec<String> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let client = aws_sdk_resourcegroupstagging::Client::new(&sdk(cx));
    let out = client
        .get_resources()
        .tag_filters(TagFilter::builder().key("rprov:stack").values(stack).build())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    out.iter().filter_map(|m| m.resource_arn().map(str::to_owned)).collect()
}

fn state_pids(cx: &Ctx, stack: &str) -> BTreeSet<String> {
    let state = read_json(&cx.state_path(stack));
    state["resources"].as_object().unwrap().values().map(|r| r["physical_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_without_state_finds_everything_the_stack_made_and_only_that() {
    let cx = Ctx::new();
    cx.rprov(&["apply", &stack_file("upload-service.yaml"), "--yes", "--param", &cx.image_param()]).expect(0);
    let other = neighbour(&cx, "neighbour");
    cx.rprov(&["apply", &other, "--yes"]).expect(0);
    let created = state_pids(&cx, "upload-service");
    assert_eq!(created.len(), 35);
    // An image carries no tags of its own: teardown deletes it with its repository.
    let image = created.iter().find(|p| p.contains("@sha256:")).cloned().expect("the image in the state");
    let created: BTreeSet<String> = created.into_iter().filter(|p| *p != image).collect();
    let ec2 = cx.ec2().await;
    let neighbour_before = owned(&ec2, "neighbour").await;
    assert_eq!(neighbour_before.len(), 12);
    std::fs::remove_file(cx.state_path("upload-service")).unwrap();

    // What the Tagging API covers of what the stack made (the rest only the kinds' describes find).
    let listed = tagging_api(&cx, "upload-service").await;
    let by_kind = |pid: &str| listed.iter().any(|a| a == pid || a.ends_with(&format!("/{pid}")) || a.contains(pid));

    // Dry run: lists every resource the stack created, deletes nothing.
    cx.aws.clear_calls();
    let dry =
        cx.rprov(&["teardown", "--region", "us-east-1", "--account", ACCOUNT, "--stack", "upload-service", "--json"]);
    dry.expect(0);
    let report = json(&dry);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["account"], "123456789012");
    let planned = pids(&report, "planned");
    assert_eq!(planned, created, "dry run vs the state taken before deleting it");
    let writes: Vec<String> = cx
        .aws
        .calls()
        .iter()
        .filter(|c| !["Describe", "List", "Get"].iter().any(|p| c.operation.starts_with(p)))
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect();
    assert!(writes.is_empty(), "a dry run changed something: {writes:?}");
    let mut uncovered: Vec<String> = report["planned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !by_kind(e["physical_id"].as_str().unwrap()))
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    uncovered.sort();
    uncovered.dedup();
    println!(
        "Tagging API lists {} of the {} resources of the stack; not listed (found by the kinds' describes): {uncovered:?}",
        created.iter().filter(|p| by_kind(p)).count(),
        created.len()
    );
    assert!(report["order"].as_array().unwrap().len() >= 4, "{}", report["order"]);

    // The human dry run says where, what and in which order.
    let human = cx.rprov(&["teardown", "--region", "us-east-1", "--account", ACCOUNT, "--stack", "upload-service"]);
    human.expect(0);
    for want in ["Account 123456789012, region us-east-1", "34 resource(s) to delete", "Order", "Dry run"] {
        assert!(human.stdout.contains(want), "{want}:\n{}", human.stdout);
    }

    // For real.
    let started = Instant::now();
    let run = cx.rprov(&[
        "teardown",
        "--region",
        "us-east-1",
        "--account",
        ACCOUNT,
        "--stack",
        "upload-service",
        "--yes",
        "--json",
    ]);
    run.expect(0);
    let done = json(&run);
    assert_eq!(pids(&done, "deleted"), created);
    assert!(done["failed"].as_array().unwrap().is_empty() && done["skipped"].as_array().unwrap().is_empty());
    println!(
        "teardown --stack upload-service: {} resources deleted in {:.1}s (report: {:.1}s)",
        created.len(),
        started.elapsed().as_secs_f64(),
        done["wall_time_s"].as_f64().unwrap()
    );

    // Nothing left: the kinds' describes (through rprov and the SDK) and the Tagging API.
    assert!(owned(&ec2, "upload-service").await.is_empty());
    let again = json(&cx.rprov(&[
        "teardown",
        "--region",
        "us-east-1",
        "--account",
        ACCOUNT,
        "--stack",
        "upload-service",
        "--json",
    ]));
    assert!(pids(&again, "planned").is_empty(), "{again:#}");
    assert!(pids(&again, "skipped").is_empty(), "{again:#}");
    let conf = sdk(&cx);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    assert!(elb.describe_load_balancers().send().await.unwrap().load_balancers().is_empty());
    let repos = aws_sdk_ecr::Client::new(&conf).describe_repositories().send().await.unwrap();
    assert!(repos.repositories().is_empty(), "the repository and its images: {:?}", repos.repositories());
    assert!(aws_sdk_efs::Client::new(&conf).describe_file_systems().send().await.unwrap().file_systems().is_empty());
    for arn in tagging_api(&cx, "upload-service").await {
        // moto keeps listing a deleted NAT gateway and an INACTIVE cluster: check each is gone.
        if arn.contains(":natgateway/") {
            let id = arn.rsplit('/').next().unwrap();
            let n = ec2.describe_nat_gateways().nat_gateway_ids(id).send().await.unwrap();
            assert_eq!(n.nat_gateways()[0].state().map(|s| s.as_str()), Some("deleted"), "{arn}");
        } else if arn.contains(":service/") {
            let ecs = aws_sdk_ecs::Client::new(&conf);
            let (cluster, _) = arn.rsplit_once('/').unwrap();
            let cluster = cluster.replace(":service/", ":cluster/");
            let s = ecs.describe_services().cluster(cluster).services(&arn).send().await.unwrap();
            assert!(s.services().iter().all(|s| s.status() == Some("INACTIVE")), "{arn}: {s:?}");
        } else if arn.contains(":cluster/") {
            let ecs = aws_sdk_ecs::Client::new(&conf);
            let c = ecs.describe_clusters().clusters(&arn).send().await.unwrap();
            assert!(c.clusters().iter().all(|c| c.status() == Some("INACTIVE")), "{arn}");
        } else {
            panic!("still listed by the Tagging API: {arn}");
        }
    }
    for e in again["ignored"].as_array().unwrap() {
        assert!(["nat_gateway", "ecs_cluster", "ecs_service"].contains(&e["type"].as_str().unwrap()), "{again:#}");
    }

    // The neighbour is untouched.
    assert_eq!(owned(&ec2, "neighbour").await, neighbour_before);
    cx.rprov(&["plan", &other, "--detailed-exitcode"]).expect(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_refuses_without_a_filter_and_rejects_bad_input() {
    let cx = Ctx::new();
    let none = cx.rprov(&["teardown", "--region", "us-east-1", "--yes"]);
    none.expect(1);
    assert!(none.stderr.contains("--stack NAME or at least one --tag"), "{}", none.stderr);
    let bad = cx.rprov(&["teardown", "--region", "us-east-1", "--tag", "novalue", "--yes"]);
    bad.expect(1);
    assert!(bad.stderr.contains("KEY=VALUE"), "{}", bad.stderr);
    let age =
        cx.rprov(&["teardown", "--region", "us-east-1", "--account", ACCOUNT, "--stack", "x", "--older-than", "soon"]);
    age.expect(1);
    assert!(age.stderr.contains("--older-than"), "{}", age.stderr);
    // An empty value would select by the key alone (an unset `$TEAM`): every team's resources.
    for (args, want) in [
        (&["--tag", "team=", "--stack", "x"][..], "--tag `team=`: the value is empty"),
        (&["--tag", "team= "][..], "the value is empty"),
        (&["--stack", ""][..], "--stack: the stack name is empty"),
        (&["--stack", "x", "--account", "12345"][..], "--account `12345`: an AWS account id is 12 digits"),
    ] {
        let mut line = vec!["teardown", "--region", "us-east-1", "--account", ACCOUNT, "--yes"];
        line.extend_from_slice(args);
        let run = cx.rprov(&line);
        run.expect(1);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
        println!("refused {args:?}: {}", run.stderr.trim());
    }
    assert!(cx.aws.calls().is_empty(), "bad input must reach no AWS API: {:?}", cx.aws.calls());
}

/// Writes (anything but a read) the local AWS saw since the last `clear_calls`.
fn writes(cx: &Ctx) -> Vec<String> {
    cx.aws
        .calls()
        .iter()
        .filter(|c| !["Describe", "List", "Get"].iter().any(|p| c.operation.starts_with(p)))
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect()
}

fn lineage_of(state: &std::path::Path) -> String {
    read_json(state)["lineage"].as_str().expect("state lineage").to_owned()
}

fn pids_of_state(state: &std::path::Path) -> BTreeSet<String> {
    let state = read_json(state);
    state["resources"].as_object().unwrap().values().map(|r| r["physical_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_deployments_of_one_stack_name_are_refused_unless_one_is_picked() {
    let cx = Ctx::new();
    let stack = neighbour(&cx, "twin");
    let (a, b, c) = (cx.dir.path().join("a.json"), cx.dir.path().join("b.json"), cx.dir.path().join("c.json"));
    for state in [&a, &b] {
        cx.rprov(&["apply", &stack, "--state", state.to_str().unwrap(), "--yes"]).expect(0);
    }
    let (la, lb) = (lineage_of(&a), lineage_of(&b));
    assert_ne!(la, lb);
    let (made_a, made_b) = (pids_of_state(&a), pids_of_state(&b));
    let ec2 = cx.ec2().await;
    assert_eq!(owned(&ec2, "twin").await.len(), 24);

    // By name alone: refused, even with --yes; the report names both deployments.
    cx.aws.clear_calls();
    let refused = teardown(&cx, &["--stack", "twin", "--yes", "--json"]);
    refused.expect(1);
    assert_eq!(writes(&cx), Vec::<String>::new(), "a refused teardown changed something");
    assert_eq!(owned(&ec2, "twin").await.len(), 24);
    let report = json(&refused);
    let instances: BTreeSet<(String, u64)> = report["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["lineage"].as_str().unwrap().to_owned(), i["resources"].as_u64().unwrap()))
        .collect();
    assert_eq!(instances, BTreeSet::from([(la.clone(), 12), (lb.clone(), 12)]), "{report:#}");
    assert!(report["refused"].is_string() && report["deleted"].as_array().unwrap().is_empty(), "{report:#}");
    for want in ["stack `twin` matches 2 deployments", "--tag rprov:lineage=", "--all-instances"] {
        assert!(refused.stderr.contains(want), "{want}: {}", refused.stderr);
    }
    let human = teardown(&cx, &["--stack", "twin", "--yes"]);
    human.expect(1);
    for want in ["Instances", &la, &lb, "24 resource(s) matched; none will be deleted"] {
        assert!(human.stdout.contains(want), "{want}:\n{}", human.stdout);
    }
    println!(
        "teardown --stack twin with 2 deployments: refused, nothing deleted:
{}",
        refused.stderr.trim()
    );

    // One picked by its lineage: exactly its resources go; the other deployment stays whole.
    let tag = format!("rprov:lineage={la}");
    let run = teardown(&cx, &["--stack", "twin", "--tag", &tag, "--yes", "--json"]);
    run.expect(0);
    let done = json(&run);
    assert_eq!(pids(&done, "deleted"), made_a, "{done:#}");
    assert_eq!(pids(&done, "not_matched"), made_b, "listed as not matching, kept: {done:#}");
    let left: BTreeSet<String> = owned(&ec2, "twin").await.into_iter().map(|(_, id)| id).collect();
    assert_eq!(left, made_b);
    cx.rprov(&["plan", &stack, "--state", b.to_str().unwrap(), "--detailed-exitcode"]).expect(0);
    println!("--tag {tag}: {} of a's resources deleted, b's {} kept and in sync", made_a.len(), made_b.len());

    // --all-instances takes every deployment of the name.
    cx.rprov(&["apply", &stack, "--state", c.to_str().unwrap(), "--yes"]).expect(0);
    let run = teardown(&cx, &["--stack", "twin", "--all-instances", "--yes", "--json"]);
    run.expect(0);
    let done = json(&run);
    let both: BTreeSet<String> = made_b.union(&pids_of_state(&c)).cloned().collect();
    assert_eq!(pids(&done, "deleted"), both, "{done:#}");
    assert_eq!(done["instances"].as_array().unwrap().len(), 2);
    assert!(owned(&ec2, "twin").await.is_empty());
    println!("--all-instances: both remaining deployments deleted ({} resources)", both.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn hand_made_log_groups_under_the_stack_prefix_are_kept() {
    let cx = Ctx::new();
    let file = cx.dir.path().join("app.yaml");
    std::fs::write(
        &file,
        "stack: app\nregion: us-east-1\ntags: { team: support }\nresources:\n  logs: { type: log_group, retention_days: 7 }\n  cluster: { type: ecs_cluster }\n",
    )
    .unwrap();
    cx.rprov(&["apply", file.to_str().unwrap(), "--yes"]).expect(0);
    let made = state_pids(&cx, "app");
    assert!(made.contains("/rprov/app/logs"), "log_group names its groups /rprov/<stack>/<id>: {made:?}");
    // Named like the stack's own: one without tags, one carrying the stack's tag but another team.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk(&cx));
    logs.create_log_group().log_group_name("/rprov/app/by-hand").send().await.unwrap();
    logs.create_log_group()
        .log_group_name("/rprov/app/other-team")
        .tags("rprov:stack", "app")
        .tags("team", "other")
        .send()
        .await
        .unwrap();

    let dry = json(&teardown(&cx, &["--stack", "app", "--tag", "team=support", "--json"]));
    assert_eq!(pids(&dry, "planned"), made, "{dry:#}");
    let why = |pid: &str| {
        dry["not_matched"].as_array().unwrap().iter().find(|e| e["physical_id"] == pid).map(|e| e["reason"].clone())
    };
    let (by_hand, other) = (why("/rprov/app/by-hand"), why("/rprov/app/other-team"));
    assert!(by_hand.as_ref().and_then(|r| r.as_str()).is_some_and(|r| r.contains("no tags of its own")), "{dry:#}");
    assert!(other.as_ref().and_then(|r| r.as_str()).is_some_and(|r| r.contains("`team=other`")), "{dry:#}");
    println!("kept: /rprov/app/by-hand ({by_hand:?}), /rprov/app/other-team ({other:?})");

    let run = teardown(&cx, &["--stack", "app", "--tag", "team=support", "--yes", "--json"]);
    run.expect(0);
    assert_eq!(pids(&json(&run), "deleted"), made);
    let left: BTreeSet<String> = logs
        .describe_log_groups()
        .log_group_name_prefix("/rprov/app/")
        .send()
        .await
        .unwrap()
        .log_groups()
        .iter()
        .filter_map(|g| g.log_group_name().map(str::to_owned))
        .collect();
    assert_eq!(left, BTreeSet::from(["/rprov/app/by-hand".to_owned(), "/rprov/app/other-team".to_owned()]));
    // By the stack's name only, the one carrying its tag matches (its tags say so); the untagged one never.
    let by_name = json(&teardown(&cx, &["--stack", "app", "--json"]));
    assert_eq!(pids(&by_name, "planned"), BTreeSet::from(["/rprov/app/other-team".to_owned()]), "{by_name:#}");
    println!("teardown --stack app --tag team=support: {} deleted, both hand-made groups kept", made.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_is_bound_to_the_accounts_given() {
    let cx = Ctx::new();
    let stack = stack_file("network.yaml");
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    let ec2 = cx.ec2().await;

    cx.aws.clear_calls();
    let none = cx.rprov(&["teardown", "--region", "us-east-1", "--stack", "network", "--yes"]);
    none.expect(1);
    assert!(none.stderr.contains("teardown needs --account ID"), "{}", none.stderr);
    assert!(cx.aws.calls().is_empty(), "without --account nothing is sent: {:?}", cx.aws.calls());
    println!("without --account: {}", none.stderr.trim());

    let wrong =
        cx.rprov(&["teardown", "--region", "us-east-1", "--account", "111111111111", "--stack", "network", "--yes"]);
    wrong.expect(1);
    for want in
        ["account 123456789012", "arn:aws:", "--account allows only 111111111111", "nothing was read or deleted"]
    {
        assert!(wrong.stderr.contains(want), "{want}: {}", wrong.stderr);
    }
    let sent: Vec<String> = cx.aws.calls().iter().map(|c| format!("{}:{}", c.service, c.operation)).collect();
    assert_eq!(sent, ["sts:GetCallerIdentity"], "only the identity is asked for");
    assert_eq!(owned(&ec2, "network").await.len(), 12);
    println!("--account 111111111111: {}", wrong.stderr.trim());

    // Several allowed: the credentials' one among them is enough.
    let run = cx.rprov(&[
        "teardown",
        "--region",
        "us-east-1",
        "--account",
        "111111111111",
        "--account",
        ACCOUNT,
        "--stack",
        "network",
        "--yes",
        "--json",
    ]);
    run.expect(0);
    let report = json(&run);
    assert_eq!(report["allowed_accounts"], serde_json::json!(["111111111111", ACCOUNT]));
    assert_eq!(report["deleted"].as_array().unwrap().len(), 12);
    assert!(owned(&ec2, "network").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dependency_violations_are_retried_and_reported_by_destroy_and_teardown() {
    let cx = Ctx::new();
    let stack = stack_file("network.yaml");
    let violation = || Fault::error(400, "DependencyViolation", "The subnet has dependencies and cannot be deleted.");
    let faults = || {
        Faults::none().first("ec2", "DeleteSubnet", 2, violation()).first("ec2", "DeleteSecurityGroup", 1, violation())
    };

    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    cx.aws.configure(&Config::new().faults(faults()));
    let started = Instant::now();
    let d = cx.rprov(&["destroy", &stack, "--yes"]);
    d.expect(0);
    let retried = d.stdout.lines().filter(|l| l.contains("will retry") && l.contains("DependencyViolation")).count();
    assert_eq!(retried, 3, "{}", d.stdout);
    assert!(d.stdout.contains("3 retried call(s)"), "{}", d.stdout);
    assert!(d.stdout.lines().any(|l| l.contains("retried call(s); last: in use: DependencyViolation")), "{}", d.stdout);
    let ec2 = cx.ec2().await;
    assert!(owned(&ec2, "network").await.is_empty());
    println!("destroy through 3 DependencyViolations: 12 resources deleted in {:.1}s", started.elapsed().as_secs_f64());

    cx.aws.configure(&Config::new().faults(Faults::none()));
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    std::fs::remove_file(cx.state_path("network")).unwrap();
    cx.aws.configure(&Config::new().faults(faults()));
    let started = Instant::now();
    let t =
        cx.rprov(&["teardown", "--region", "us-east-1", "--account", ACCOUNT, "--stack", "network", "--yes", "--json"]);
    t.expect(0);
    let report = json(&t);
    assert_eq!(report["retries"], 3, "{report:#}");
    let per: u64 = report["deleted"].as_array().unwrap().iter().map(|e| e["retries"].as_u64().unwrap()).sum();
    assert_eq!(per, 3);
    assert!(t.stderr.contains("will retry"), "{}", t.stderr);
    assert!(owned(&ec2, "network").await.is_empty());
    println!(
        "teardown through 3 DependencyViolations: {} resources deleted in {:.1}s",
        report["deleted"].as_array().unwrap().len(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_killed_midway_finishes_on_a_rerun_and_teardown_takes_late_creates() {
    let cx = Ctx::new();
    let stack = stack_file("network.yaml");
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    // Slow deletes so the kill lands mid-run.
    cx.aws.configure(&Config::new().op_latency_ms("ec2", "Delete*", 300).op_latency_ms("ec2", "Release*", 300));
    let child = cx.command(&["destroy", &stack, "--yes"]).stdout(std::process::Stdio::null()).spawn().unwrap();
    let state = cx.state_path("network");
    kill_when(&cx, child, &state, |n| n <= 9);
    let left = read_json(&state)["resources"].as_object().unwrap().len();
    assert!(left > 0, "the kill came too late to test anything");
    cx.aws.configure(&Config::new().op_latency_ms("ec2", "Delete*", 0).op_latency_ms("ec2", "Release*", 0));
    let started = Instant::now();
    let rerun = cx.rprov(&["destroy", &stack, "--yes"]);
    rerun.expect(0);
    let ec2 = cx.ec2().await;
    assert!(owned(&ec2, "network").await.is_empty(), "{}", rerun.stdout);
    println!("destroy killed with {left} of 12 left; the re-run finished in {:.1}s", started.elapsed().as_secs_f64());

    // A create of a killed apply that landed after its last checkpoint: in no state, but tagged.
    let tags = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
        .tags(aws_sdk_ec2::types::Tag::builder().key("rprov:stack").value("network").build())
        .tags(aws_sdk_ec2::types::Tag::builder().key("rprov:id").value("vpc").build())
        .build();
    ec2.create_vpc().cidr_block("10.0.0.0/16").tag_specifications(tags).send().await.unwrap();
    assert_eq!(count_kind(&owned(&ec2, "network").await, "vpc"), 1);
    cx.rprov(&["destroy", &stack, "--yes"]).expect(0);
    assert_eq!(count_kind(&owned(&ec2, "network").await, "vpc"), 1, "destroy only knows its state");
    let t = json(&cx.rprov(&[
        "teardown",
        "--region",
        "us-east-1",
        "--account",
        ACCOUNT,
        "--stack",
        "network",
        "--yes",
        "--json",
    ]));
    assert_eq!(t["deleted"].as_array().unwrap().len(), 1, "{t:#}");
    assert!(owned(&ec2, "network").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn older_than_leaves_younger_stacks_alone() {
    let cx = Ctx::new();
    let old = neighbour(&cx, "old-net");
    cx.rprov(&["apply", &old, "--yes"]).expect(0);
    let young = cx.dir.path().join("young.yaml");
    std::fs::write(
        &young,
        "stack: young\nregion: us-east-1\ntags: { team: support }\nresources:\n  logs: { type: log_group, retention_days: 7 }\n  cluster: { type: ecs_cluster }\n",
    )
    .unwrap();
    // Ages without waiting: the old stack says it was made two hours ago (`rprov:created`, what a
    // pipeline sets where AWS reports no creation time); the young one's age is its log group's
    // creation time, now. A stack is as old as its oldest resource.
    let ec2 = cx.ec2().await;
    let vpc = ec2.describe_vpcs().filters(crate::support::tag_filter("old-net")).send().await.unwrap();
    let two_hours_ago =
        humantime::format_rfc3339_seconds(SystemTime::now() - Duration::from_secs(2 * 3600)).to_string();
    ec2.create_tags()
        .resources(vpc.vpcs()[0].vpc_id().unwrap())
        .tags(aws_sdk_ec2::types::Tag::builder().key("rprov:created").value(&two_hours_ago).build())
        .send()
        .await
        .unwrap();
    cx.rprov(&["apply", young.to_str().unwrap(), "--yes"]).expect(0);
    let threshold = "1h".to_owned();
    let started = Instant::now();
    let run = cx.rprov(&[
        "teardown",
        "--region",
        "us-east-1",
        "--account",
        ACCOUNT,
        "--tag",
        "team=support",
        "--older-than",
        &threshold,
        "--yes",
        "--json",
    ]);
    run.expect(1); // the young stack is kept: not everything matched was deleted
    let report = json(&run);
    let deleted: BTreeSet<String> =
        report["deleted"].as_array().unwrap().iter().map(|e| e["stack"].as_str().unwrap().to_owned()).collect();
    assert_eq!(deleted, BTreeSet::from(["old-net".to_owned()]), "{report:#}");
    assert_eq!(report["deleted"].as_array().unwrap().len(), 12);
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{report:#}");
    for s in skipped {
        assert_eq!(s["stack"], "young");
        assert!(s["reason"].as_str().unwrap().contains("younger than"), "{report:#}");
    }
    println!(
        "teardown --older-than {threshold}: {} resources deleted, 2 kept, in {:.1}s",
        report["deleted"].as_array().unwrap().len(),
        started.elapsed().as_secs_f64()
    );
    let ec2 = cx.ec2().await;
    assert!(owned(&ec2, "old-net").await.is_empty());
    // Its state file was there: the deleted resources are no longer in it.
    assert_eq!(crate::support::recorded(&cx.state_path("old-net")), Some(0));
    assert!(run.stderr.contains("removed 12 deleted resource(s)"), "{}", run.stderr);
    cx.rprov(&["plan", young.to_str().unwrap(), "--detailed-exitcode"]).expect(0);
}
