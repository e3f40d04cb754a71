//! The reference stack end to end (issue: the whole diagnostics-upload architecture): apply
//! from nothing with an image archive, check the architecture with the SDK (the image pushed
//! to ECR, tasks running it by digest), re-plan empty, a changed image plans exactly its new
//! digest, a new task definition revision and a service update, destroy leaves nothing.

use crate::support::{Ctx, image_archive, owned, read_json, repo};

/// How many times the plan text shows `name` changing from `old` to `new` (on one line, or
/// wrapped onto a second line starting with `->`).
fn changes(text: &str, name: &str, old: &str, new: &str) -> usize {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let from = format!(r#"~ {name} = "{old}""#);
    let to = format!(r#"-> "{new}""#);
    let one_line = format!("{from} {to}");
    (0..lines.len())
        .filter(|&i| lines[i] == one_line || (lines[i] == from && lines.get(i + 1) == Some(&to.as_str())))
        .count()
}

fn stack() -> String {
    repo().join("stacks/upload-service.yaml").display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn reference_stack_applies_matches_the_architecture_replans_empty_and_destroys_to_zero() {
    let cx = Ctx::new();
    let stack = stack();
    let mut binary = b"\x7fELF upload-service build 1".repeat(1000);
    let v1 = image_archive(&cx.dir.path().join("v1.tar"), &binary);
    let v1_digest = rprov_oci::Image::open(&v1).unwrap().digest;
    let arg_v1 = format!("image_archive={}", v1.display());
    let run = cx.rprov(&["apply", &stack, "--yes", "--param", &arg_v1]);
    run.expect(0);
    assert!(run.stdout.contains("Plan: 35 to add"), "{}", run.stdout);
    // The plan names the digest before anything is pushed.
    assert!(run.stdout.contains(&v1_digest), "{}", run.stdout);
    let state = read_json(&cx.state_path("upload-service"));
    let pid = |id: &str| {
        state["resources"][id]["physical_id"].as_str().unwrap_or_else(|| panic!("{id} not in state")).to_owned()
    };
    let conf = cx.sdk().await;

    // Listeners: HTTP redirects to HTTPS; HTTPS carries the certificate and forwards to the tasks.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let listeners = elb.describe_listeners().load_balancer_arn(pid("alb")).send().await.unwrap();
    let http = listeners.listeners().iter().find(|l| l.port() == Some(80)).expect("port 80 listener");
    let redirect = http.default_actions()[0].redirect_config().expect("a redirect");
    assert_eq!(
        (redirect.protocol(), redirect.port(), redirect.status_code().map(|s| s.as_str())),
        (Some("HTTPS"), Some("443"), Some("HTTP_301"))
    );
    let https = listeners.listeners().iter().find(|l| l.port() == Some(443)).expect("port 443 listener");
    assert_eq!(https.certificates()[0].certificate_arn(), Some(pid("cert").as_str()));
    assert_eq!(https.default_actions()[0].target_group_arn(), Some(pid("tg").as_str()));

    // The image: in the stack's repository by its digest, and what the task runs.
    let ecr = aws_sdk_ecr::Client::new(&conf);
    let images = ecr.describe_images().repository_name(pid("repo")).send().await.unwrap();
    let pushed: Vec<&str> = images.image_details().iter().filter_map(|d| d.image_digest()).collect();
    assert_eq!(pushed, [v1_digest.as_str()]);
    let repo_uri = state["resources"]["repo"]["attributes"]["url"].as_str().unwrap().to_owned();

    // Task definition: EFS with TLS in transit through the access point; the password from SSM.
    let ecs = aws_sdk_ecs::Client::new(&conf);
    let td = ecs.describe_task_definition().task_definition(pid("task")).send().await.unwrap();
    let td = td.task_definition().unwrap();
    assert_eq!(td.container_definitions()[0].image(), Some(format!("{repo_uri}@{v1_digest}").as_str()));
    let efs = td.volumes()[0].efs_volume_configuration().expect("an EFS volume");
    assert_eq!(efs.file_system_id(), pid("files").as_str());
    assert_eq!(efs.transit_encryption().map(|t| t.as_str()), Some("ENABLED"));
    assert_eq!(efs.authorization_config().and_then(|a| a.access_point_id()), Some(pid("uploads_dir").as_str()));
    let container = &td.container_definitions()[0];
    let secret = container.secrets().iter().find(|s| s.name() == "UPLOAD_PASSWORD").expect("password secret");
    assert_eq!(Some(secret.value_from()), state["resources"]["password"]["attributes"]["arn"].as_str());
    assert!(!state.to_string().contains("change-me-before-production"), "a secret is in the state in clear");

    // The service runs in the private subnets with the app group only.
    let svc = ecs.describe_services().cluster(pid("cluster")).services(pid("service")).send().await.unwrap();
    let net = svc.services()[0].network_configuration().unwrap().awsvpc_configuration().unwrap();
    let mut subnets: Vec<&str> = net.subnets().iter().map(String::as_str).collect();
    subnets.sort();
    let mut private = [pid("private_a"), pid("private_b")];
    private.sort();
    assert_eq!(subnets, private.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(net.security_groups(), [pid("app_sg")]);

    // The security-group chain: ALB -> app:8000 -> EFS:2049, nothing else inbound.
    let ec2 = cx.ec2().await;
    let groups = ec2.describe_security_groups().group_ids(pid("app_sg")).group_ids(pid("efs_sg")).send().await.unwrap();
    for g in groups.security_groups() {
        let (port, from) =
            if g.group_id() == Some(pid("app_sg").as_str()) { (8000, pid("lb_sg")) } else { (2049, pid("app_sg")) };
        assert_eq!(g.ip_permissions().len(), 1, "{g:?}");
        let p = &g.ip_permissions()[0];
        assert_eq!((p.from_port(), p.to_port()), (Some(port), Some(port)));
        assert_eq!(p.user_id_group_pairs()[0].group_id(), Some(from.as_str()));
        assert!(p.ip_ranges().is_empty());
    }

    // Ownership tags on a non-EC2 resource too.
    let tags = elb.describe_tags().resource_arns(pid("alb")).send().await.unwrap();
    let t = tags.tag_descriptions()[0].tags();
    assert!(t.iter().any(|t| t.key() == Some("rprov:stack") && t.value() == Some("upload-service")));
    assert!(t.iter().any(|t| t.key() == Some("team") && t.value() == Some("support")));

    // Re-plan: nothing to do.
    cx.aws.clear_calls();
    cx.rprov(&["plan", &stack, "--detailed-exitcode", "--param", &arg_v1]).expect(0);
    let calls = cx.aws.calls();
    let mut by_op = std::collections::BTreeMap::<String, usize>::new();
    for c in &calls {
        *by_op.entry(format!("{} {}", c.service, c.operation)).or_default() += 1;
    }
    println!("plan of the applied reference stack (35 resources, 19 kinds): {} AWS calls: {by_op:?}", calls.len());
    // Batched: no operation is repeated per resource (the stack has two subnets of each kind,
    // two mount targets, three listeners...); the Tagging API answers for the kinds whose own
    // describe has no tags.
    assert!(by_op.values().all(|n| *n == 1), "an operation made more than once: {by_op:?}");
    assert_eq!(by_op.get("tagging GetResources"), Some(&1));

    // One byte of the binary changes: the image's new digest (known now, from the archive), a new
    // task definition revision running it and a service update, nothing else.
    let at = binary.len() / 2;
    binary[at] ^= 1;
    let v2 = image_archive(&cx.dir.path().join("v2.tar"), &binary);
    let v2_digest = rprov_oci::Image::open(&v2).unwrap().digest;
    assert_ne!(v1_digest, v2_digest);
    let arg_v2 = format!("image_archive={}", v2.display());
    let p = cx.rprov(&["plan", &stack, "--param", &arg_v2, "--json", "--detailed-exitcode"]);
    p.expect(2);
    let json: serde_json::Value = serde_json::from_str(&p.stdout).unwrap();
    let changed: Vec<(String, String)> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c["action"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        changed,
        [
            ("image".to_owned(), "update".to_owned()),
            ("task".to_owned(), "update".to_owned()),
            ("service".to_owned(), "update".to_owned())
        ],
        "{json:#}"
    );
    // The same plan for people, read from the real state and AWS: the one changed leaf inside
    // its container, with the exact image the tasks will run, on the terminal and in the
    // pull-request comment.
    let md = cx.dir.path().join("plan.md");
    let p = cx.rprov(&["plan", &stack, "--param", &arg_v2, "--markdown", md.to_str().unwrap()]);
    p.expect(0);
    let old_image = format!("{repo_uri}@{v1_digest}");
    let new_image = format!("{repo_uri}@{v2_digest}");
    assert_eq!(changes(&p.stdout, "image", &old_image, &new_image), 1, "{}", p.stdout);
    assert_eq!(changes(&p.stdout, "digest", &v1_digest, &v2_digest), 1, "{}", p.stdout);
    assert!(p.stdout.contains(r#"name  = "upload-service""#), "{}", p.stdout);
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.len() <= rprov::plan::COMMENT_LIMIT, "{} bytes", md.len());
    assert!(md.contains("<code>~ task</code>") && md.contains(&v2_digest), "{md}");
    cx.rprov(&["apply", &stack, "--param", &arg_v2, "--yes"]).expect(0);
    let svc = ecs.describe_services().cluster(pid("cluster")).services(pid("service")).send().await.unwrap();
    let new_td = svc.services()[0].task_definition().unwrap().to_owned();
    assert_ne!(new_td, pid("task"));
    assert!(new_td.ends_with(":2"), "{new_td}");
    let td = ecs.describe_task_definition().task_definition(&new_td).send().await.unwrap();
    assert_eq!(
        td.task_definition().unwrap().container_definitions()[0].image(),
        Some(format!("{repo_uri}@{v2_digest}").as_str())
    );
    // The earlier image stays for rollbacks (the lifecycle policy expires it).
    let images = ecr.describe_images().repository_name(pid("repo")).send().await.unwrap();
    assert_eq!(images.image_details().len(), 2);
    cx.rprov(&["plan", &stack, "--param", &arg_v2, "--detailed-exitcode"]).expect(0);

    // Deleted behind rprov's back: drift, then pushed again by the next apply.
    ecr.batch_delete_image()
        .repository_name(pid("repo"))
        .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_digest(&v2_digest).build())
        .send()
        .await
        .unwrap();
    let d = cx.rprov(&["drift", &stack, "--json"]);
    assert!(d.stdout.contains(&v2_digest) && d.stdout.contains("missing"), "{}", d.stdout);
    cx.rprov(&["apply", &stack, "--param", &arg_v2, "--yes"]).expect(0);
    cx.rprov(&["plan", &stack, "--param", &arg_v2, "--detailed-exitcode"]).expect(0);

    // Destroy: nothing left that carries the stack's tag, by each service's own describe.
    cx.rprov(&["destroy", &stack, "--yes", "--param", &arg_v2]).expect(0);
    assert!(owned(&ec2, "upload-service").await.is_empty());
    let repos = ecr.describe_repositories().send().await.unwrap();
    assert!(repos.repositories().is_empty(), "{:?}", repos.repositories());
    assert!(elb.describe_load_balancers().send().await.unwrap().load_balancers().is_empty());
    assert!(elb.describe_target_groups().send().await.unwrap().target_groups().is_empty());
    let clusters = ecs.list_clusters().send().await.unwrap();
    let active = if clusters.cluster_arns().is_empty() {
        0
    } else {
        let d = ecs.describe_clusters().set_clusters(Some(clusters.cluster_arns().to_vec())).send().await.unwrap();
        d.clusters().iter().filter(|c| c.status() == Some("ACTIVE")).count()
    };
    assert_eq!(active, 0);
    let fs = aws_sdk_efs::Client::new(&conf).describe_file_systems().send().await.unwrap();
    assert!(fs.file_systems().is_empty());
    let params = aws_sdk_ssm::Client::new(&conf).describe_parameters().send().await.unwrap();
    assert!(params.parameters().is_empty());
    let roles = aws_sdk_iam::Client::new(&conf).list_roles().path_prefix("/rprov/").send().await.unwrap();
    assert!(roles.roles().is_empty());
    // The Tagging API covers ELBv2, ACM, EFS, ECS, logs, SSM, alarms and NAT gateways; Route 53
    // by its own list.
    let left = crate::support::tagged_and_alive(&conf, "upload-service").await;
    assert!(left.is_empty(), "still tagged with the stack: {left:?}");
    let zones = aws_sdk_route53::Client::new(&conf).list_hosted_zones().send().await.unwrap();
    assert!(zones.hosted_zones().is_empty(), "{:?}", zones.hosted_zones());
    let state = read_json(&cx.state_path("upload-service"));
    assert_eq!(state["resources"].as_object().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn quest_example_applies_replans_empty_and_destroys_cleanly() {
    let cx = Ctx::new();
    let stack = repo().join("examples/quest.yaml").display().to_string();
    cx.rprov(&["apply", &stack, "--yes", "--param", "secret_word=plenty-of-fish"]).expect(0);
    cx.rprov(&["plan", &stack, "--detailed-exitcode", "--param", "secret_word=plenty-of-fish"]).expect(0);
    let conf = cx.sdk().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    assert_eq!(lbs.load_balancers()[0].r#type().map(|t| t.as_str()), Some("network"));
    cx.rprov(&["destroy", &stack, "--yes"]).expect(0);
    let ec2 = cx.ec2().await;
    assert!(owned(&ec2, "quest").await.is_empty());
    assert!(elb.describe_load_balancers().send().await.unwrap().load_balancers().is_empty());
}
