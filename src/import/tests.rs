use super::*;
use crate::kinds::KINDS;
use crate::spec::Catalog;

fn s(v: &str) -> Value {
    Value::str(v)
}

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

fn found(kind: &str, pid: &str, props: &[(&str, Value)], attrs: &[(&str, Value)], tags: &[(&str, &str)]) -> Found {
    let mut a: Props = attrs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    a.entry("id".into()).or_insert_with(|| s(pid));
    Found {
        kind: KINDS.spec(kind).unwrap(),
        live: Live {
            physical_id: pid.into(),
            props: props.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            attrs: a,
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        },
    }
}

fn rule(pairs: &[(&str, Value)]) -> Value {
    map(pairs)
}

/// A console-built VPC as the kinds read it back, and one thing of another VPC.
fn inventory() -> Vec<Found> {
    let team = ("team", "portal");
    let all_out = rule(&[("protocol", s("all")), ("cidr", s("0.0.0.0/0"))]);
    vec![
        found(
            "vpc",
            "vpc-0a1b2c3d",
            &[("cidr", s("10.60.0.0/16")), ("enable_dns_support", true.into()), ("enable_dns_hostnames", false.into())],
            &[],
            &[("Name", "Portal VPC"), team],
        ),
        found("vpc", "vpc-99999999", &[("cidr", s("10.9.0.0/16"))], &[], &[("Name", "other")]),
        found(
            "subnet",
            "subnet-11111111",
            &[
                ("vpc", s("vpc-0a1b2c3d")),
                ("cidr", s("10.60.0.0/24")),
                ("az", s("us-east-1a")),
                ("map_public_ip_on_launch", false.into()),
            ],
            &[],
            &[("Name", "portal-subnet-public1-us-east-1a"), team],
        ),
        found(
            "subnet",
            "subnet-99999999",
            &[("vpc", s("vpc-99999999")), ("cidr", s("10.9.0.0/24")), ("az", s("us-east-1a"))],
            &[],
            &[],
        ),
        found(
            "route_table",
            "rtb-00000000",
            &[("vpc", s("vpc-0a1b2c3d")), ("routes", Value::List(vec![])), ("subnets", Value::List(vec![]))],
            &[("main", true.into())],
            &[team],
        ),
        found(
            "route_table",
            "rtb-11111111",
            &[
                ("vpc", s("vpc-0a1b2c3d")),
                ("routes", Value::List(vec![map(&[("destination", s("0.0.0.0/0")), ("gateway", s("igw-11111111"))])])),
                ("subnets", Value::List(vec![s("subnet-11111111"), s("subnet-22222222")])),
            ],
            &[],
            &[team],
        ),
        found(
            "security_group",
            "sg-00000000",
            &[("vpc", s("vpc-0a1b2c3d")), ("name", s("default")), ("description", s("default VPC security group"))],
            &[],
            &[],
        ),
        found(
            "security_group",
            "sg-11111111",
            &[
                ("vpc", s("vpc-0a1b2c3d")),
                ("name", s("web")),
                ("description", s("Managed by rprov")),
                (
                    "ingress",
                    Value::List(vec![rule(&[
                        ("protocol", s("tcp")),
                        ("from_port", Value::Int(443)),
                        ("to_port", Value::Int(443)),
                        ("cidr", s("0.0.0.0/0")),
                    ])]),
                ),
                ("egress", Value::List(vec![all_out.clone()])),
            ],
            &[],
            &[("Name", "web"), team],
        ),
        found(
            "security_group",
            "sg-22222222",
            &[
                ("vpc", s("vpc-0a1b2c3d")),
                ("name", s("app")),
                ("description", s("app servers")),
                (
                    "ingress",
                    Value::List(vec![rule(&[
                        ("protocol", s("tcp")),
                        ("from_port", Value::Int(8000)),
                        ("to_port", Value::Int(8000)),
                        ("security_group", s("sg-11111111")),
                    ])]),
                ),
                ("egress", Value::List(vec![])),
            ],
            &[],
            &[("Name", "web"), team, ("rprov:stack", "old")],
        ),
    ]
}

#[test]
fn a_vpc_and_what_names_it() {
    let all = inventory();
    let picked: Vec<&str> = in_vpc("vpc-0a1b2c3d", &all).iter().map(|&i| all[i].live.physical_id.as_str()).collect();
    assert_eq!(
        picked,
        [
            "vpc-0a1b2c3d",
            "subnet-11111111",
            "rtb-00000000",
            "rtb-11111111",
            "sg-00000000",
            "sg-11111111",
            "sg-22222222"
        ]
    );
}

#[test]
fn referenced_minimal_and_loadable() {
    let all = inventory();
    let picked = in_vpc("vpc-0a1b2c3d", &all);
    let mut all: Vec<Option<Found>> = all.into_iter().map(Some).collect();
    let found: Vec<Found> = picked.iter().map(|&i| all[i].take().unwrap()).collect();
    let skipped =
        [Skipped { what: "network interface".into(), id: "eni-12345678".into(), why: "no rprov kind".into() }];
    let req = Request { stack: "portal-net", region: "us-east-1", selection: "--vpc vpc-0a1b2c3d" };
    let g = generate(&req, found, &skipped);
    let text = &g.text;
    println!("{text}");
    let ids: Vec<&str> = g.resources.iter().map(|r| r.id.as_str()).collect();
    // Dependency order, ids from the Name tags (unique), else kind and number.
    assert_eq!(ids, ["portal_vpc", "portal_subnet_public1_us_east_1a", "route_table_1", "web", "web_2"]);
    // References, and literals that name nothing imported say so.
    assert!(text.contains("    vpc: \"${portal_vpc.id}\"\n"), "{text}");
    assert!(text.contains("      - \"${portal_subnet_public1_us_east_1a.id}\"\n"), "{text}");
    assert!(text.contains("      - subnet-22222222  # not imported\n"), "{text}");
    assert!(text.contains("gateway: igw-11111111  # not imported\n"), "{text}");
    assert!(text.contains("security_group: \"${web.id}\"\n"), "{text}");
    assert_eq!(g.resources[4].depends_on, ["portal_vpc", "web"]);
    // Defaults left out: DNS support, the subnet's public IPs, the default description and egress.
    assert!(!text.contains("enable_dns_support") && text.contains("enable_dns_hostnames: false"), "{text}");
    assert!(!text.contains("map_public_ip_on_launch") && !text.contains("Managed by rprov"), "{text}");
    assert!(text.contains("    egress: []\n"), "an explicit empty egress stays: {text}");
    assert_eq!(text.matches("egress").count(), 1, "{text}");
    // Tags: common hoisted, ownership dropped, Name kept.
    assert!(text.contains("tags:\n  team: portal\nresources:\n"), "{text}");
    assert!(!text.contains("rprov:stack"), "{text}");
    assert!(text.contains("    tags:\n      Name: Portal VPC\n"), "{text}");
    // AWS's own, and what was seen, in comments.
    assert!(text.contains("#   route_table rtb-00000000: the VPC's main route table"), "{text}");
    assert!(text.contains("#   security_group sg-00000000: the VPC's default security group"), "{text}");
    assert!(text.contains("#   network interface eni-12345678: no rprov kind"), "{text}");

    // The file loads, and plans to what is recorded.
    let stack = crate::stack::load_with(
        &KINDS,
        crate::stack::Source::new("portal-net.yaml", text.clone()),
        &crate::stack::Inputs::default(),
    )
    .unwrap_or_else(|(_, d)| panic!("{d:?}\n{text}"));
    assert_eq!(stack.resources.len(), 5);
    let attr = |r: &crate::stack::Ref| {
        g.resources.iter().find(|x| x.id == r.target).and_then(|x| x.attrs.get(&r.attr).cloned()).unwrap()
    };
    for r in &g.resources {
        let (props, tags) = crate::plan::desired_props(&stack, &stack.resources[&r.id], None, &attr);
        assert_eq!(props, r.props, "{}", r.id);
        let mut own = tags.clone();
        own.retain(|k, _| !k.starts_with("rprov:"));
        let mut want = r.tags.clone();
        want.retain(|k, _| !k.starts_with("rprov:"));
        assert_eq!(own, want, "{}", r.id);
    }
}

#[test]
fn names_and_scalars() {
    assert_eq!(sanitise("Portal VPC (prod)").as_deref(), Some("portal_vpc_prod"));
    assert_eq!(sanitise("portal-rtb-public").as_deref(), Some("portal_rtb_public"));
    assert_eq!(sanitise("10 net"), None);
    assert_eq!(sanitise("params"), None);
    assert_eq!(sanitise("--"), None);
    for (text, want) in [
        ("10.0.0.0/16", "10.0.0.0/16"),
        ("us-east-1a", "us-east-1a"),
        ("6", "\"6\""),
        ("-1", "\"-1\""),
        ("true", "\"true\""),
        ("", "\"\""),
        ("a: b", "\"a: b\""),
        ("${vpc.id}", "\"${vpc.id}\""),
        ("say \"hi\"\n", "\"say \\\"hi\\\"\\n\""),
    ] {
        assert_eq!(scalar(text), want, "{text}");
    }
    assert!(looks_like_id("subnet-0a1b2c3d4e5f60718") && looks_like_id("eipalloc-12345678"));
    assert!(!looks_like_id("us-east-1a") && !looks_like_id("portal-web"));
}

#[test]
fn resources_of_this_stack_keep_their_ids_and_deployment() {
    let own = |id: &'static str, lineage: &'static str| {
        vec![("Name", "something else"), ("rprov:stack", "shop"), ("rprov:id", id), ("rprov:lineage", lineage)]
    };
    let req = Request { stack: "shop", region: "us-east-1", selection: "--tag rprov:stack=shop" };
    let vpc = |tags: Vec<(&str, &str)>| found("vpc", "vpc-1", &[("cidr", s("10.0.0.0/16"))], &[], &tags);
    let subnet = |tags: Vec<(&str, &str)>| {
        found("subnet", "subnet-1", &[("vpc", s("vpc-1")), ("cidr", s("10.0.0.0/24"))], &[], &tags)
    };

    let g = generate(&req, vec![vpc(own("net", "L1")), subnet(own("public_a", "L1"))], &[]);
    let ids: Vec<&str> = g.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["net", "public_a"]);
    assert!(g.text.contains("vpc: \"${net.id}\""), "{}", g.text);
    assert_eq!(g.lineage.as_deref(), Some("L1"));

    // Two deployments, or another stack's resources: a new deployment, ids from the names.
    let g = generate(&req, vec![vpc(own("net", "L1")), subnet(own("public_a", "L2"))], &[]);
    assert_eq!(g.lineage, None);
    let other = Request { stack: "other", ..req };
    let g = generate(&other, vec![vpc(own("net", "L1"))], &[]);
    assert_eq!((g.lineage.as_deref(), g.resources[0].id.as_str()), (None, "something_else"));
}

/// A service's resources as a stack made them: values that are not ids (a load balancer's DNS
/// name and zone id, an ARN suffix, a service's name, a repository URL within an image) become
/// references to what the resource may hold; untagged resources are named after their owner
/// and do not stop the deployment being recovered; what a scalable target changes is no drift.
#[test]
fn held_values_owners_and_what_others_change() {
    let own = |id: &'static str| vec![("rprov:stack", "svc"), ("rprov:id", id), ("rprov:lineage", "L1")];
    let lb = |id: &'static str, n: &str| {
        let arn = format!("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/svc-{n}/abc{n}");
        found(
            "load_balancer",
            &arn.clone(),
            &[],
            &[
                ("arn", s(&arn)),
                ("arn_suffix", s(&format!("app/svc-{n}/abc{n}"))),
                ("dns_name", s(&format!("svc-{n}-1.us-east-1.elb.amazonaws.com"))),
                ("zone_id", s("Z35SXDOTRQ7X7K")),
            ],
            &own(id),
        )
    };
    let cluster_arn = "arn:aws:ecs:us-east-1:1:cluster/svc-cluster";
    let service_arn = "arn:aws:ecs:us-east-1:1:service/svc-cluster/svc-web";
    let repo_url = "1.dkr.ecr.us-east-1.amazonaws.com/svc-repo";
    let image = format!("{repo_url}@sha256:{}", "ab".repeat(32));
    let found = vec![
        lb("front", "a"),
        lb("back", "b"),
        found("hosted_zone", "Z0ZONE", &[("name", s("example.com"))], &[("name", s("example.com."))], &own("zone")),
        found(
            "dns_record",
            "Z0ZONE/www.example.com./A",
            &[
                ("zone", s("Z0ZONE")),
                ("name", s("www.example.com")),
                ("record_type", s("A")),
                // Route 53 answers with the final dot; two load balancers share the zone id.
                (
                    "alias",
                    map(&[("dns_name", s("svc-b-1.us-east-1.elb.amazonaws.com.")), ("zone_id", s("Z35SXDOTRQ7X7K"))]),
                ),
            ],
            &[],
            &[],
        ),
        found("ecs_cluster", cluster_arn, &[], &[("arn", s(cluster_arn)), ("name", s("svc-cluster"))], &own("cluster")),
        found(
            "ecs_service",
            service_arn,
            &[("cluster", s("svc-cluster")), ("desired_count", 2.into())],
            &[("arn", s(service_arn)), ("name", s("svc-web"))],
            &own("web"),
        ),
        found(
            "autoscaling",
            "service/svc-cluster/svc-web",
            &[("cluster", s("svc-cluster")), ("service", s("svc-web")), ("min", 1.into()), ("max", 4.into())],
            &[],
            &[],
        ),
        found(
            "alarm",
            "svc-alarm",
            &[("dimensions", map(&[("LoadBalancer", s("app/svc-a/abca"))]))],
            &[],
            &own("alarm"),
        ),
        found(
            "ecr_repository",
            "svc-repo",
            &[],
            &[("url", s(repo_url)), ("arn", s("arn:aws:ecr:us-east-1:1:repository/svc-repo"))],
            &own("repo"),
        ),
        found(
            "task_definition",
            "arn:aws:ecs:us-east-1:1:task-definition/svc-task:1",
            &[("containers", Value::List(vec![map(&[("name", s("web")), ("image", s(&image))])]))],
            &[],
            &own("task"),
        ),
    ];
    let req = Request { stack: "svc", region: "us-east-1", selection: "--tag rprov:stack=svc" };
    let g = generate(&req, found, &[]);
    let text = &g.text;
    println!("{text}");
    assert_eq!(g.lineage.as_deref(), Some("L1"), "untagged resources say nothing of the deployment");
    let ids: Vec<&str> = g.resources.iter().map(|r| r.id.as_str()).collect();
    for id in ["front", "back", "zone", "zone_dns_record", "cluster", "web", "web_autoscaling", "alarm", "repo", "task"]
    {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    // The alias names `back` by its DNS name (without the dot); the zone id both share is
    // `back`'s, the one named beside it.
    assert!(text.contains("      dns_name: \"${back.dns_name}\"\n      zone_id: \"${back.zone_id}\"\n"), "{text}");
    assert!(text.contains("LoadBalancer: \"${front.arn_suffix}\""), "{text}");
    assert!(text.contains("    cluster: \"${cluster.name}\"\n    service: \"${web.name}\"\n"), "{text}");
    assert!(
        text.contains(&format!("image: \"${{repo.url}}@sha256:{}\"  # an image by digest", "ab".repeat(32))),
        "{text}"
    );
    assert!(text.contains("    ignore_drift:\n      - desired_count\n"), "{text}");
    let autoscaling = g.resources.iter().find(|r| r.id == "web_autoscaling").unwrap();
    assert_eq!(autoscaling.depends_on, ["cluster", "web"]);
}

/// `--vpc` takes a service in its subnets with its cluster (named, not by id: a service holds
/// its cluster), a mount target with its file system and that file system's access point; not
/// another VPC's service, nor a cluster only that one uses.
#[test]
fn a_vpc_takes_its_services_clusters_and_storage() {
    let cluster = |name: &str| {
        let arn = format!("arn:aws:ecs:us-east-1:1:cluster/{name}");
        found("ecs_cluster", &arn.clone(), &[], &[("arn", s(&arn)), ("name", s(name))], &[])
    };
    let service = |name: &str, cluster: &str, subnet: &str| {
        let arn = format!("arn:aws:ecs:us-east-1:1:service/{cluster}/{name}");
        found(
            "ecs_service",
            &arn.clone(),
            &[("cluster", s(cluster)), ("subnets", Value::List(vec![s(subnet)]))],
            &[("arn", s(&arn)), ("name", s(name))],
            &[],
        )
    };
    let all = vec![
        found("vpc", "vpc-0a1b2c3d", &[("cidr", s("10.0.0.0/16"))], &[], &[]),
        found("subnet", "subnet-11111111", &[("vpc", s("vpc-0a1b2c3d"))], &[], &[]),
        found("vpc", "vpc-99999999", &[("cidr", s("10.9.0.0/16"))], &[], &[]),
        found("subnet", "subnet-99999999", &[("vpc", s("vpc-99999999"))], &[], &[]),
        cluster("web"),
        cluster("other"),
        service("web", "web", "subnet-11111111"),
        service("other", "other", "subnet-99999999"),
        found("file_system", "fs-12345678", &[], &[], &[]),
        found(
            "mount_target",
            "fsmt-12345678",
            &[("file_system", s("fs-12345678")), ("subnet", s("subnet-11111111"))],
            &[],
            &[],
        ),
        found("access_point", "fsap-12345678", &[("file_system", s("fs-12345678"))], &[], &[]),
    ];
    let picked: Vec<&str> = in_vpc("vpc-0a1b2c3d", &all).iter().map(|&i| all[i].live.physical_id.as_str()).collect();
    assert_eq!(
        picked,
        [
            "vpc-0a1b2c3d",
            "subnet-11111111",
            "arn:aws:ecs:us-east-1:1:cluster/web",
            "arn:aws:ecs:us-east-1:1:service/web/web",
            "fs-12345678",
            "fsmt-12345678",
            "fsap-12345678"
        ]
    );
}
