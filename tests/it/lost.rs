//! Lost answers: a create that landed while its answer did not (or that lands after the client
//! gave up) never leaves a second resource, whatever the API's idempotency.

use std::time::{Duration, Instant};

use localaws::{Fault, Faults, LocalAws};

use crate::support::{Ctx, Run, count_kind, owned, read_json, repo};

/// Token-less creates whose request lands 1.5 s after the client saw its connection reset:
/// the first lookup cannot see them, later ones do; nothing is sent twice.
#[tokio::test(flavor = "multi_thread")]
async fn late_landing_creates_without_a_token_make_exactly_one_resource_each() {
    let late = || Fault::Late(Duration::from_millis(1500));
    let faults = Faults::none()
        .next("ec2", "CreateVpc", late())
        .next("ec2", "CreateSubnet", late())
        .next("ec2", "AllocateAddress", late())
        .next("ec2", "CreateInternetGateway", late());
    let cx = Ctx::with(LocalAws::builder().faults(faults).start());
    let stack = cx.stack_copy("network.yaml", |t| t).display().to_string();
    let started = Instant::now();
    let run =
        Run::from(cx.command(&["apply", &stack, "--yes"]).env("RPROV_LOST_CREATE_WINDOW", "20s").output().unwrap());
    run.expect(0);
    let late_calls = cx.aws.calls().iter().filter(|c| c.fault.as_deref() == Some("late")).count();
    assert_eq!(late_calls, 4, "each create's first request landed late");
    let sent = |op: &str| cx.aws.count("ec2", op);
    println!(
        "late landings: apply in {:.1}s; CreateVpc sent {}, CreateSubnet {}, AllocateAddress {}, CreateInternetGateway {}",
        started.elapsed().as_secs_f64(),
        sent("CreateVpc"),
        sent("CreateSubnet"),
        sent("AllocateAddress"),
        sent("CreateInternetGateway")
    );
    assert_eq!(sent("CreateVpc"), 1, "found, not sent again");
    assert_eq!(sent("AllocateAddress"), 1);
    assert_eq!(sent("CreateInternetGateway"), 1);
    assert_eq!(sent("CreateSubnet"), 4, "one per subnet");
    assert!(run.stdout.contains("made by the request that got no answer; adopting it"), "{}", run.stdout);
    let ours = owned(&cx.ec2().await, "network").await;
    for (kind, n) in [("vpc", 1), ("subnet", 4), ("elastic_ip", 1), ("internet_gateway", 1)] {
        assert_eq!(count_kind(&ours, kind), n, "{kind}: {ours:?}");
    }
    cx.rprov(&["plan", &stack, "--detailed-exitcode"]).expect(0);
}

/// A run killed after CreateHostedZone and before the zone is tagged (its tagging held by the
/// local AWS): the zone exists, untagged, invisible to an ownership lookup. The next run sends
/// the same caller reference (derived from stack, lineage, id and generation), meets
/// HostedZoneAlreadyExists, finds the zone by its reference and takes it: one zone.
#[tokio::test(flavor = "multi_thread")]
async fn a_kill_between_creating_a_zone_and_tagging_it_leaves_one_zone() {
    let aws = LocalAws::builder().op_latency_ms("route53", "ChangeTagsForResource", 30_000).start();
    let cx = Ctx::with(aws);
    let path = cx.dir.path().join("zone.yaml");
    std::fs::write(
        &path,
        "stack: zonekill\nregion: us-east-1\nresources:\n  zone: { type: hosted_zone, name: kill.example.com }\n",
    )
    .unwrap();
    let stack = path.display().to_string();
    let mut child = cx.command(&["apply", &stack, "--yes"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while cx.aws.count("route53", "ChangeTagsForResource") == 0 {
        assert!(Instant::now() < deadline, "the apply never got to tagging the zone");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let lock = read_json(&cx.state_path("zonekill").with_extension("json.lock"));
    cx.rprov(&["force-unlock", lock["id"].as_str().unwrap()]).expect(0);
    cx.aws.configure(&localaws::Config::new().op_latency_ms("route53", "ChangeTagsForResource", 0));

    let r53 = aws_sdk_route53::Client::new(&cx.sdk().await);
    let zones = || async { r53.list_hosted_zones().send().await.unwrap().hosted_zones().to_vec() };
    assert_eq!(zones().await.len(), 1, "the killed run made the zone");
    let rerun = cx.rprov(&["apply", &stack, "--yes"]);
    rerun.expect(0);
    let now = zones().await;
    assert_eq!(now.len(), 1, "one zone after the re-run: {now:?}");
    assert_eq!(cx.aws.count("route53", "CreateHostedZone"), 2, "the re-run sent the same reference once");
    cx.rprov(&["plan", &stack, "--detailed-exitcode"]).expect(0);
    let state = read_json(&cx.state_path("zonekill"));
    assert_eq!(state["resources"]["zone"]["physical_id"].as_str(), now[0].id().rsplit('/').next());
    println!(
        "killed between CreateHostedZone and tagging: the re-run took the same zone (1 zone, 2 CreateHostedZone calls)"
    );
}

/// What a stack leaves in AWS, counted per kind through each kind's own describe (the stack's
/// tags), plus the untagged pieces counted where they live.
async fn census(cx: &Ctx, stack: &str) -> std::collections::BTreeMap<String, usize> {
    let conf = cx.sdk().await;
    let rcx = rprov::aws::Cx::new(stack, conf.clone(), rprov::aws::WaitConfig::default());
    let mut out = std::collections::BTreeMap::new();
    for k in rprov::kinds::KINDS.all() {
        let found = rprov::kinds::read_owned(*k, &rcx, &[]).await.unwrap();
        let n = found.iter().filter(|l| l.stack() == Some(stack)).count();
        if n > 0 {
            out.insert(k.schema().name.to_owned(), n);
        }
    }
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    for lb in elb.describe_load_balancers().send().await.unwrap().load_balancers() {
        let listeners =
            elb.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await.unwrap();
        *out.entry("listeners on load balancers".into()).or_default() += listeners.listeners().len();
    }
    *out.entry("load balancers".into()).or_default() +=
        elb.describe_load_balancers().send().await.unwrap().load_balancers().len();
    *out.entry("target groups".into()).or_default() +=
        elb.describe_target_groups().send().await.unwrap().target_groups().len();
    let efs = aws_sdk_efs::Client::new(&conf);
    for fs in efs.describe_file_systems().send().await.unwrap().file_systems() {
        let mts = efs.describe_mount_targets().file_system_id(fs.file_system_id()).send().await.unwrap();
        *out.entry("mount targets".into()).or_default() += mts.mount_targets().len();
    }
    let r53 = aws_sdk_route53::Client::new(&conf);
    for z in r53.list_hosted_zones().send().await.unwrap().hosted_zones() {
        let sets = r53.list_resource_record_sets().hosted_zone_id(z.id()).send().await.unwrap();
        *out.entry("records".into()).or_default() += sets.resource_record_sets().len();
    }
    let ec2 = cx.ec2().await;
    *out.entry("route tables".into()).or_default() +=
        ec2.describe_route_tables().send().await.unwrap().route_tables().len();
    *out.entry("vpcs".into()).or_default() += ec2.describe_vpcs().send().await.unwrap().vpcs().len();
    out
}

async fn apply_reference(aws: LocalAws, window: &str) -> (std::collections::BTreeMap<String, usize>, Run, usize) {
    let cx = Ctx::with(aws);
    let stack = repo().join("stacks/upload-service.yaml").display().to_string();
    let run = Run::from(
        cx.command(&["apply", &stack, "--yes", "--parallelism", "8", "--param", &cx.image_param()])
            .env("RPROV_LOST_CREATE_WINDOW", window)
            .output()
            .unwrap(),
    );
    let lost = cx.aws.calls().iter().filter(|c| matches!(c.fault.as_deref(), Some("reset_after" | "late"))).count();
    cx.aws.configure(&localaws::Config::new().faults(Faults::none()));
    if run.code == 0 {
        let replan = cx.rprov(&["plan", &stack, "--json", "--detailed-exitcode", "--param", &cx.image_param()]);
        replan.expect(0);
        let json: serde_json::Value = serde_json::from_str(&replan.stdout).unwrap();
        assert_eq!(json["unmanaged"], serde_json::json!([]), "nothing tagged with the stack outside its state");
    }
    (census(&cx, "upload-service").await, run, lost)
}

/// The reference stack applied while answers get lost (after the request landed, or landing a
/// second after the client gave up) leaves exactly what a fault-free apply leaves, per kind.
#[tokio::test(flavor = "multi_thread")]
async fn the_reference_stack_under_lost_answers_leaves_exactly_what_a_clean_apply_leaves() {
    let (clean, run, _) = apply_reference(LocalAws::start(), "5s").await;
    run.expect(0);
    for seed in [3, 11, 29] {
        let faults = Faults::seeded(seed).reset_after(0.06).late(0.02, Duration::from_millis(800));
        let (got, run, lost) = apply_reference(LocalAws::builder().faults(faults).start(), "5s").await;
        run.expect(0);
        println!("seed {seed}: {lost} answers lost; census equal to the clean apply's: {}", got == clean);
        assert_eq!(got, clean, "seed {seed}:\n{}", run.stdout);
    }
}
