//! Stacks that compose: one stack's outputs read by another (`imports:`) from its state; the
//! consumer list kept in the exporting state; secret params kept out of every output and state.

use crate::support::{Ctx, read_json};

const NET: &str = "stack: net
region: us-east-1
resources:
  vpc: { type: vpc, cidr: 10.40.0.0/16 }
  a: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.40.0.0/24, az: us-east-1a }
  b: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.40.1.0/24, az: us-east-1b }
outputs:
  vpc_id: ${vpc.id}
  subnet_ids: [\"${a.id}\", \"${b.id}\"]
";

/// The network grown by a subnet: its exported list changes.
const NET_GROWN: &str = "stack: net
region: us-east-1
resources:
  vpc: { type: vpc, cidr: 10.40.0.0/16 }
  a: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.40.0.0/24, az: us-east-1a }
  b: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.40.1.0/24, az: us-east-1b }
  c: { type: subnet, vpc: \"${vpc.id}\", cidr: 10.40.2.0/24, az: us-east-1a }
outputs:
  vpc_id: ${vpc.id}
  subnet_ids: [\"${a.id}\", \"${b.id}\", \"${c.id}\"]
";

const SECRET: &str = "s3cr3t-t0ken-4711";

/// A list output where a list is expected (`subnets`), a string output where a string is, and a
/// secret param inside a property that is not secret by itself (a container's environment).
const APP: &str = "stack: app
region: us-east-1
imports:
  network: { stack: net }
params:
  token: { secret: true }
resources:
  sg: { type: security_group, vpc: \"${network.outputs.vpc_id}\", description: app tasks }
  routes: { type: route_table, vpc: \"${network.outputs.vpc_id}\", subnets: \"${network.outputs.subnet_ids}\" }
  task:
    type: task_definition
    cpu: 256
    memory: 512
    containers:
      - name: web
        image: nginx:stable
        environment: { API_TOKEN: \"${params.token}\", MODE: \"token=${params.token}\" }
outputs:
  group: ${sg.id}
";

fn write(cx: &Ctx, name: &str, text: &str) -> String {
    let path = cx.dir.path().join(name);
    std::fs::write(&path, text).expect("write stack");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_stacks_apply_replan_follow_an_exported_change_and_warn_on_destroy() {
    let cx = Ctx::new();
    let net = write(&cx, "net.yaml", NET);
    let app = write(&cx, "app.yaml", APP);
    let token = format!("token={SECRET}");
    let with_token = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--param", token.as_str()]);
        cx.rprov(&all)
    };
    let mut printed = String::new();

    // The app cannot be planned before the network has state: located, nothing sent.
    let run = with_token(&["plan", &app]);
    run.expect(1);
    assert!(run.stderr.contains("app.yaml:4:"), "{}", run.stderr);
    assert!(run.stderr.contains("stack `net` (imported as `network`) has no state"), "{}", run.stderr);
    assert_eq!(cx.aws.calls().len(), 0, "an invalid import reached AWS");

    cx.rprov(&["apply", &net, "--yes"]).expect(0);
    let run = with_token(&["apply", &app, "--yes"]);
    run.expect(0);
    printed += &run.stdout;
    printed += &run.stderr;
    assert!(run.stdout.contains("network.outputs.subnet_ids = "), "the plan shows imported values:\n{}", run.stdout);

    // The route table is associated with exactly the exported subnets, in the exported VPC.
    let net_state = read_json(&cx.state_path("net"));
    let ids = |st: &serde_json::Value| -> Vec<String> {
        let mut v: Vec<String> =
            st["outputs"]["subnet_ids"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
        v.sort();
        v
    };
    let ec2 = cx.ec2().await;
    let tables = ec2.describe_route_tables().filters(crate::support::tag_filter("app")).send().await.unwrap();
    let mut associated: Vec<String> =
        tables.route_tables()[0].associations().iter().filter_map(|a| a.subnet_id().map(str::to_owned)).collect();
    associated.sort();
    assert_eq!(associated, ids(&net_state));
    assert_eq!(tables.route_tables()[0].vpc_id(), net_state["outputs"]["vpc_id"].as_str());

    // The exporting state names its consumer and the outputs it uses.
    assert_eq!(net_state["consumers"]["app"], serde_json::json!(["subnet_ids", "vpc_id"]), "{net_state:#}");

    // Re-plan: nothing to do; imported values are shown, also in JSON.
    let run = with_token(&["plan", &app, "--detailed-exitcode"]);
    run.expect(0);
    printed += &run.stdout;
    let run = with_token(&["plan", &app, "--json"]);
    run.expect(0);
    printed += &run.stdout;
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan json");
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["imports"]["network"]["stack"], "net");
    assert_eq!(plan["imports"]["network"]["outputs"]["vpc_id"], net_state["outputs"]["vpc_id"]);

    // The network grows a subnet; the consumer's plan updates the route table using the list.
    write(&cx, "net.yaml", NET_GROWN);
    cx.rprov(&["apply", &net, "--yes"]).expect(0);
    let run = with_token(&["plan", &app, "--json", "--detailed-exitcode"]);
    run.expect(2);
    printed += &run.stdout;
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan json");
    let changed: Vec<(&str, &str)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| (c["id"].as_str().unwrap(), c["action"].as_str().unwrap()))
        .collect();
    assert_eq!(changed, [("routes", "update")], "{plan:#}");
    let grown = ids(&read_json(&cx.state_path("net")));
    assert_eq!(grown.len(), 3);
    let routes = plan["changes"].as_array().unwrap().iter().find(|c| c["id"] == "routes").unwrap();
    let mut after: Vec<String> =
        routes["diffs"][0]["after"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    after.sort();
    assert_eq!((routes["diffs"][0]["name"].as_str(), after), (Some("subnets"), grown));

    // Secrets: never printed, never in a state file in clear.
    let drift = with_token(&["drift", &app]);
    printed += &drift.stdout;
    printed += &drift.stderr;
    for f in ["app", "net"] {
        let text = std::fs::read_to_string(cx.state_path(f)).unwrap();
        assert!(!text.contains(SECRET), "the secret is stored in clear in {f}'s state:\n{text}");
    }
    assert!(!printed.contains(SECRET), "the secret was printed:\n{printed}");
    let app_state = read_json(&cx.state_path("app"));
    let containers = &app_state["resources"]["task"]["properties"]["containers"];
    assert!(containers.as_str().is_some_and(|s| s.starts_with("hmac-sha256:")), "{containers}");

    // Destroying the network while `app` imports it: warned, named, refused without --yes.
    let run = cx.rprov(&["destroy", &net]);
    run.expect(1);
    assert!(
        run.stderr.contains("warning: stack `net` is imported by `app` (uses subnet_ids, vpc_id)"),
        "{}",
        run.stderr
    );

    // A second consumer whose resources are outside the network's VPC.
    let audit = write(&cx, "audit.yaml", AUDIT);
    cx.rprov(&["apply", &audit, "--yes"]).expect(0);
    // Destroying a consumer removes it from the exporter's list.
    with_token(&["destroy", &app, "--yes"]).expect(0);
    let net_state = read_json(&cx.state_path("net"));
    assert_eq!(net_state["consumers"], serde_json::json!({ "audit": ["vpc_id"] }), "{net_state:#}");

    // With --yes the destroy proceeds, the warning still printed.
    let run = cx.rprov(&["destroy", &net, "--yes"]);
    run.expect(0);
    assert!(run.stderr.contains("is imported by `audit` (uses vpc_id)"), "{}", run.stderr);
    // The consumer's next plan fails, located at the use, before any AWS call.
    cx.aws.clear_calls();
    let run = cx.rprov(&["plan", &audit]);
    run.expect(1);
    assert!(run.stderr.contains("audit.yaml:6:"), "{}", run.stderr);
    assert!(run.stderr.contains("declares no output `vpc_id`"), "{}", run.stderr);
    assert_eq!(cx.aws.calls().len(), 0, "a failed import reached AWS");
    cx.rprov(&["destroy", &audit, "--yes"]).expect(0);
    assert!(read_json(&cx.state_path("net")).get("consumers").is_none());
}

const AUDIT: &str = "stack: audit
region: us-east-1
imports:
  network: net
resources:
  note: { type: ssm_parameter, value: \"${network.outputs.vpc_id}\" }
";

#[tokio::test(flavor = "multi_thread")]
async fn secret_change_is_planned_without_showing_it() {
    let cx = Ctx::new();
    let net = write(&cx, "net.yaml", NET);
    let app = write(&cx, "app.yaml", APP);
    cx.rprov(&["apply", &net, "--yes"]).expect(0);
    cx.rprov(&["apply", &app, "--yes", "--param", &format!("token={SECRET}")]).expect(0);
    let other = "an0ther-s3cret-99";
    let run = cx.rprov(&["plan", &app, "--detailed-exitcode", "--param", &format!("token={other}")]);
    run.expect(2);
    assert!(run.stdout.contains("~ task (task_definition)") || run.stdout.contains("-/+ task"), "{}", run.stdout);
    assert!(run.stdout.contains("(sensitive)"), "{}", run.stdout);
    for s in [SECRET, other] {
        assert!(!run.stdout.contains(s) && !run.stderr.contains(s), "printed:\n{}{}", run.stdout, run.stderr);
    }
}

/// Seed 002's shape: the network stack, then the application on top of it (ALB in the imported
/// public subnets, Fargate service in the private ones, CPU tracking and a night schedule).
#[tokio::test(flavor = "multi_thread")]
async fn devops_app_example_applies_on_its_network_and_replans_empty() {
    let cx = Ctx::new();
    let dir = crate::support::repo().join("examples/devops-app");
    let (net, app) = (dir.join("network.yaml").display().to_string(), dir.join("app.yaml").display().to_string());
    cx.rprov(&["apply", &net, "--yes"]).expect(0);
    cx.rprov(&["apply", &app, "--yes"]).expect(0);
    cx.rprov(&["plan", &app, "--detailed-exitcode"]).expect(0);
    let app_state = read_json(&cx.state_path("devops-app"));
    let net_state = read_json(&cx.state_path("devops-network"));
    let mut subnets = app_state["resources"]["service"]["properties"]["subnets"].clone();
    let mut exported = net_state["outputs"]["private_subnet_ids"].clone();
    subnets.as_array_mut().unwrap().sort_by_key(|v| v.to_string());
    exported.as_array_mut().unwrap().sort_by_key(|v| v.to_string());
    assert_eq!(subnets, exported);
    assert_eq!(
        net_state["consumers"]["devops-app"],
        serde_json::json!(["private_subnet_ids", "public_subnet_ids", "vpc_id"])
    );
    cx.rprov(&["destroy", &app, "--yes"]).expect(0);
    cx.rprov(&["destroy", &net, "--yes"]).expect(0);
}

/// A consumer never writes into an exporting state another process holds locked (its running
/// apply's next checkpoint would conflict): it warns, and its next apply makes the record.
#[tokio::test(flavor = "multi_thread")]
async fn consumer_record_waits_for_the_exporters_lock() {
    let cx = Ctx::new();
    let net = write(&cx, "net.yaml", NET);
    let audit = write(&cx, "audit.yaml", AUDIT);
    cx.rprov(&["apply", &net, "--yes"]).expect(0);
    let before = read_json(&cx.state_path("net"));

    let mut lock = cx.state_path("net").into_os_string();
    lock.push(".lock");
    let held =
        r#"{"id":"held-by-test","who":"ci@runner","operation":"apply","version":"0","created":"2026-01-01T00:00:00Z"}"#;
    std::fs::write(&lock, held).unwrap();
    let run = cx.rprov(&["apply", &audit, "--yes"]);
    run.expect(0);
    assert!(
        run.stderr.contains("could not record in the state of stack `net`") && run.stderr.contains("locked"),
        "{}",
        run.stderr
    );
    assert_eq!(read_json(&cx.state_path("net")), before, "the locked exporting state was written");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), held, "another process's lock was touched");

    std::fs::remove_file(&lock).unwrap();
    cx.rprov(&["apply", &audit, "--yes"]).expect(0);
    let net_state = read_json(&cx.state_path("net"));
    assert_eq!(net_state["consumers"], serde_json::json!({ "audit": ["vpc_id"] }), "{net_state:#}");
    assert!(!std::path::Path::new(&lock).exists(), "the consumer left the exporter locked");
    cx.rprov(&["destroy", &audit, "--yes"]).expect(0);
    cx.rprov(&["destroy", &net, "--yes"]).expect(0);
}

/// AWS echoes refused values in its errors ("Value '...' at 'value' failed to satisfy
/// constraint"); a secret param's value is masked in retry lines and failures alike.
#[tokio::test(flavor = "multi_thread")]
async fn aws_errors_that_echo_a_secret_are_printed_masked() {
    let cx = Ctx::new();
    let stack = write(
        &cx,
        "vault.yaml",
        "stack: vault\nregion: us-east-1\nparams:\n  token: { secret: true }\nresources:\n  p: { type: ssm_parameter, value: \"${params.token}\" }\n",
    );
    let echo = |code: &str| {
        localaws::Fault::error(
            400,
            code,
            &format!("1 validation error detected: Value '{SECRET}' at 'value' failed to satisfy constraint"),
        )
    };
    cx.aws.configure(&localaws::Config::new().faults(
        localaws::Faults::none().on_calls("ssm", "PutParameter", [1], echo("ResourceInUseException")).on_calls(
            "ssm",
            "PutParameter",
            [2],
            echo("ValidationException"),
        ),
    ));
    let run = cx.rprov(&["apply", &stack, "--yes", "--param", &format!("token={SECRET}")]);
    run.expect(1);
    let printed = format!("{}{}", run.stdout, run.stderr);
    assert!(printed.contains("will retry in"), "{printed}");
    assert!(printed.contains("Value '***' at 'value'"), "{printed}");
    assert!(!printed.contains(SECRET), "the secret was printed:\n{printed}");
    cx.aws.configure(&localaws::Config::new().faults(localaws::Faults::none()));
    cx.rprov(&["destroy", &stack, "--yes", "--param", &format!("token={SECRET}")]).expect(0);
}
