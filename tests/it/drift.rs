//! Drift on the network stack: changes made behind rprov's back with the SDK are reported by
//! category with recorded and live values, and apply repairs them.

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, Tag, TagSpecification};

use crate::support::{Ctx, repo, tag_filter};

fn network() -> String {
    repo().join("stacks/network.yaml").display().to_string()
}

/// Out of band: an SSH rule from `cidr` added to `group`.
async fn add_ingress(ec2: &aws_sdk_ec2::Client, group: &str, cidr: &str) {
    let rule = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
        .build();
    ec2.authorize_security_group_ingress().group_id(group).ip_permissions(rule).send().await.unwrap();
}

/// Out of band: a security group made by hand with the stack's ownership tag copied onto it.
async fn stray_group(ec2: &aws_sdk_ec2::Client, vpc: &str, stack: &str) -> String {
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::SecurityGroup)
        .tags(Tag::builder().key("rprov:stack").value(stack).build())
        .build();
    let made = ec2
        .create_security_group()
        .group_name("copied-tags")
        .description("made by hand")
        .vpc_id(vpc)
        .tag_specifications(tags)
        .send()
        .await
        .unwrap();
    made.group_id().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_reports_each_change_in_its_category_and_apply_repairs() {
    let cx = Ctx::new();
    let stack = network();
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    let clean = cx.rprov(&["drift", &stack]);
    clean.expect(0);
    assert!(clean.stdout.contains("No drift"), "{}", clean.stdout);

    let ec2 = cx.ec2().await;
    let state = crate::support::read_json(&cx.state_path("network"));
    let pid = |id: &str| state["resources"][id]["physical_id"].as_str().unwrap().to_owned();
    // (a) an ingress rule added to the app group
    add_ingress(&ec2, &pid("app_sg"), "0.0.0.0/0").await;
    // (c) a tag removed from the VPC
    ec2.delete_tags().resources(pid("vpc")).tags(Tag::builder().key("team").build()).send().await.unwrap();
    // (e) a resource deleted: the public route table
    let rt = ec2.describe_route_tables().route_table_ids(pid("public_routes")).send().await.unwrap();
    for a in rt.route_tables()[0].associations() {
        ec2.disassociate_route_table().association_id(a.route_table_association_id().unwrap()).send().await.unwrap();
    }
    ec2.delete_route_table().route_table_id(pid("public_routes")).send().await.unwrap();
    // (f) a group created by hand with the stack's tag
    let stray_id = stray_group(&ec2, &pid("vpc"), "network").await;

    cx.aws.clear_calls();
    let md = cx.dir.path().join("drift.md");
    let run = cx.rprov(&["drift", &stack, "--json", "--markdown", md.to_str().unwrap()]);
    run.expect(2);
    println!("drift of the network stack made {} AWS calls", cx.aws.calls().len());
    // One identity check, then one describe per kind.
    assert!(cx.aws.calls().len() <= 8, "{:?}", cx.aws.calls());
    assert_eq!(cx.aws.count("sts", "GetCallerIdentity"), 1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["format_version"], 1);
    let by_id = |id: &str| report["resources"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
    let drifted: Vec<String> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "in_sync")
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(drifted, ["app_sg", "public_routes", "vpc"], "{report:#}");
    let app = by_id("app_sg");
    assert_eq!(app["status"], "changed");
    assert_eq!(app["properties"].as_array().unwrap().len(), 1);
    assert_eq!(app["properties"][0]["name"], "ingress");
    assert!(app["properties"][0]["live"].to_string().contains("\"from_port\":22"), "{app}");
    assert!(!app["properties"][0]["recorded"].to_string().contains("\"from_port\":22"));
    let vpc = by_id("vpc");
    assert_eq!(vpc["properties"][0]["name"], "tags");
    assert_eq!(vpc["properties"][0]["recorded"]["team"], "support");
    assert!(vpc["properties"][0]["live"].get("team").is_none());
    assert_eq!(by_id("public_routes")["status"], "missing");
    let unmanaged = report["unmanaged"].as_array().unwrap();
    assert_eq!(unmanaged.len(), 1);
    assert_eq!(unmanaged[0]["physical_id"], stray_id.as_str());
    assert_eq!(report["stack_file_has_unapplied_changes"], false);
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("| `public_routes` | route_table |") && md.contains("missing"), "{md}");
    assert!(md.contains("**2 changed, 1 missing, 1 unmanaged.**"), "{md}");

    // Apply repairs what rprov manages; the hand-made group stays reported until removed.
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    let after = cx.rprov(&["drift", &stack, "--json"]);
    after.expect(2);
    let after: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    assert!(after["resources"].as_array().unwrap().iter().all(|r| r["status"] == "in_sync"), "{after:#}");
    assert_eq!(after["unmanaged"].as_array().unwrap().len(), 1);
    ec2.delete_security_group().group_id(&stray_id).send().await.unwrap();
    cx.rprov(&["drift", &stack]).expect(0);
    let left = ec2.describe_security_groups().filters(tag_filter("network")).send().await.unwrap();
    assert_eq!(left.security_groups().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn ignored_drift_is_reported_but_not_counted_and_refresh_only_accepts() {
    let cx = Ctx::new();
    let stack_path = cx.stack_copy("network.yaml", |t| t);
    std::fs::write(cx.dir.path().join(".rprovignore"), "# accepted by the team\nvpc.tags\n").unwrap();
    let stack = stack_path.display().to_string();
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    let ec2 = cx.ec2().await;
    let state = crate::support::read_json(&cx.state_path("network"));
    let vpc = state["resources"]["vpc"]["physical_id"].as_str().unwrap().to_owned();
    let subnet = state["resources"]["private_b"]["physical_id"].as_str().unwrap().to_owned();
    ec2.delete_tags().resources(&vpc).tags(Tag::builder().key("env").build()).send().await.unwrap();
    let run = cx.rprov(&["drift", &stack]);
    run.expect(0);
    assert!(run.stdout.contains("(ignored)"), "{}", run.stdout);

    ec2.modify_subnet_attribute()
        .subnet_id(&subnet)
        .map_public_ip_on_launch(aws_sdk_ec2::types::AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .unwrap();
    cx.rprov(&["drift", &stack]).expect(2);
    cx.rprov(&["apply", &stack, "--refresh-only", "--yes"]).expect(0);
    let state = crate::support::read_json(&cx.state_path("network"));
    assert_eq!(state["resources"]["private_b"]["properties"]["map_public_ip_on_launch"], true);
    cx.rprov(&["drift", &stack]).expect(0);
    // The stack file still says false: that is a pending change now, not drift.
    cx.rprov(&["plan", &stack, "--detailed-exitcode"]).expect(2);
}

/// The drift report's documented schema (`schema/drift-report.schema.json`).
fn report_validator() -> jsonschema::Validator {
    let schema = crate::support::read_json(&repo().join("schema/drift-report.schema.json"));
    jsonschema::validator_for(&schema).expect("the drift report schema is a valid JSON Schema")
}

/// `text` with every physical id of `state` (and each extra `(id, name)`) replaced by a
/// placeholder naming its resource: a report fit for a snapshot.
fn placeholders(mut text: String, state: &serde_json::Value, extra: &[(&str, &str)]) -> String {
    let mut ids: Vec<(String, String)> = state["resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, r)| (r["physical_id"].as_str().unwrap().to_owned(), format!("<{id}>")))
        .chain(extra.iter().map(|(p, n)| (p.to_string(), format!("<{n}>"))))
        .collect();
    // Longest first: an ARN may contain another resource's id.
    ids.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    for (physical, name) in ids {
        text = text.replace(&physical, &name);
    }
    text
}

/// Acceptance on the reference stack: a clean apply has no drift; six changes made with the SDK
/// are reported exactly, each in its category with recorded and live values; the JSON validates
/// against the documented schema; the Markdown matches its snapshot; apply repairs what rprov
/// manages and the hand-made group stays reported (unmanaged) until it is deleted.
#[tokio::test(flavor = "multi_thread")]
async fn reference_stack_drift_reports_exactly_the_six_changes_and_apply_repairs_them() {
    let cx = Ctx::new();
    // The shipped stack accepts drift of the service's desired count (autoscaling owns it; see
    // the planner's `accepted_drift_*` test). Here the count is watched like any property.
    let stack_path = cx.stack_copy("upload-service.yaml", |t| {
        let watched = t.replace("    ignore_drift: [desired_count]", "");
        assert_ne!(watched, t, "the reference stack no longer accepts desired-count drift");
        let image = format!("default: {}", cx.image_path().display());
        let with_image = watched.replace("default: ../target/image/upload-service.tar", &image);
        assert_ne!(with_image, watched, "the reference stack's image archive default moved");
        with_image
    });
    let stack = stack_path.display().to_string();
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    let clean = cx.rprov(&["drift", &stack, "--json"]);
    clean.expect(0);
    let clean: serde_json::Value = serde_json::from_str(&clean.stdout).unwrap();
    let validator = report_validator();
    assert!(validator.is_valid(&clean), "{clean:#}");
    assert!(clean["resources"].as_array().unwrap().iter().all(|r| r["status"] == "in_sync"), "{clean:#}");
    assert_eq!(clean["resources"].as_array().unwrap().len(), 35);
    assert!(clean["unmanaged"].as_array().unwrap().is_empty());

    let state = crate::support::read_json(&cx.state_path("upload-service"));
    let pid = |id: &str| state["resources"][id]["physical_id"].as_str().unwrap().to_owned();
    let conf = cx.sdk().await;
    let ec2 = cx.ec2().await;
    // (a) an ingress rule added to the app group
    add_ingress(&ec2, &pid("app_sg"), "10.0.0.0/8").await;
    // (b) the service's desired count changed
    let ecs = aws_sdk_ecs::Client::new(&conf);
    ecs.update_service().cluster(pid("cluster")).service(pid("service")).desired_count(5).send().await.unwrap();
    // (c) a tag removed from the VPC
    ec2.delete_tags().resources(pid("vpc")).tags(Tag::builder().key("team").build()).send().await.unwrap();
    // (d) the target group's health-check path changed
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    elb.modify_target_group().target_group_arn(pid("tg")).health_check_path("/changed").send().await.unwrap();
    // (e) the log group deleted
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    logs.delete_log_group().log_group_name(pid("logs")).send().await.unwrap();
    // (f) a group created by hand with the stack's tag
    let stray_id = stray_group(&ec2, &pid("vpc"), "upload-service").await;

    cx.aws.clear_calls();
    let md = cx.dir.path().join("drift.md");
    let run = cx.rprov(&["drift", &stack, "--json", "--markdown", md.to_str().unwrap()]);
    run.expect(2);
    let calls = cx.aws.calls();
    let mut ops: Vec<String> = calls.iter().map(|c| format!("{} {}", c.service, c.operation)).collect();
    println!("drift of the reference stack (33 resources, 17 kinds) made {} AWS calls", ops.len());
    ops.sort();
    let distinct = ops.len();
    ops.dedup();
    assert_eq!(ops.len(), distinct, "an operation made more than once: {ops:?}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        validator.is_valid(&report),
        "{:?}",
        validator.iter_errors(&report).map(|e| e.to_string()).collect::<Vec<_>>()
    );
    let drifted: Vec<(String, String)> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "in_sync")
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["status"].as_str().unwrap().to_owned()))
        .collect();
    let mut drifted = drifted;
    drifted.sort();
    let expected =
        [("app_sg", "changed"), ("logs", "missing"), ("service", "changed"), ("tg", "changed"), ("vpc", "changed")];
    assert_eq!(drifted, expected.map(|(a, b)| (a.to_owned(), b.to_owned())), "{report:#}");
    let by_id = |id: &str| report["resources"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
    let only = |id: &str, name: &str| {
        let r = by_id(id);
        let props = r["properties"].as_array().unwrap().clone();
        assert_eq!(props.len(), 1, "{r:#}");
        assert_eq!(props[0]["name"], name, "{r:#}");
        assert_eq!(props[0]["ignored"], false);
        (props[0]["recorded"].clone(), props[0]["live"].clone())
    };
    let (rec, live) = only("app_sg", "ingress");
    assert!(live.to_string().contains("10.0.0.0/8") && !rec.to_string().contains("10.0.0.0/8"), "{rec} -> {live}");
    assert_eq!(only("service", "desired_count"), (serde_json::json!(2), serde_json::json!(5)));
    let (rec, live) = only("vpc", "tags");
    assert_eq!(rec["team"], "support");
    assert!(live.get("team").is_none() && live["rprov:id"] == "vpc", "{live}");
    let (rec, live) = only("tg", "health_check");
    assert_eq!((rec["path"].as_str(), live["path"].as_str()), (Some("/health"), Some("/changed")));
    let unmanaged = report["unmanaged"].as_array().unwrap();
    assert_eq!(unmanaged.len(), 1, "{report:#}");
    assert_eq!(
        (unmanaged[0]["type"].as_str(), unmanaged[0]["physical_id"].as_str()),
        (Some("security_group"), Some(stray_id.as_str()))
    );
    assert_eq!(report["stack_file_has_unapplied_changes"], false);

    let md = placeholders(std::fs::read_to_string(md).unwrap(), &state, &[(&stray_id, "stray")]);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("drift-reference", md);
    });

    // Apply repairs (a)-(e); the hand-made group stays reported until it is removed.
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    let after = cx.rprov(&["drift", &stack, "--json"]);
    after.expect(2);
    let after: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    assert!(after["resources"].as_array().unwrap().iter().all(|r| r["status"] == "in_sync"), "{after:#}");
    assert_eq!(after["unmanaged"][0]["physical_id"], stray_id.as_str());
    ec2.delete_security_group().group_id(&stray_id).send().await.unwrap();
    cx.rprov(&["drift", &stack]).expect(0);
    cx.rprov(&["plan", &stack, "--detailed-exitcode"]).expect(0);
}
