//! `rprov import`: seed 003's network built by hand (the console's way, with the SDK), imported
//! by VPC and adopted; the generated file validates, plans to ownership tags only, applies, plans
//! empty, and destroys what was imported and nothing else.

use aws_sdk_ec2::types::{
    AttributeBooleanValue, BlockDeviceMapping, DomainType, EbsBlockDevice, Filter, HttpTokensState,
    InstanceMetadataOptionsRequest, InstanceType, IpPermission, IpRange, PortRange, ResourceType, RuleAction, Tag,
    TagSpecification, UserIdGroupPair, VolumeType,
};

use crate::support::Ctx;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEHwmVXgMOiDA15NBvOau33Ox19BHta3IgYGbDpn+IF ops@example";
const AMI_PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

fn tags(ty: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(ty)
        .tags(Tag::builder().key("Name").value(name).build())
        .tags(Tag::builder().key("team").value("portal").build())
        .build()
}

/// The VPC wizard's layout in one zone, made the way the console makes it. Returns the VPC id.
async fn build_by_hand(ec2: &aws_sdk_ec2::Client, ssm: &aws_sdk_ssm::Client) -> String {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.60.0.0/16")
        .tag_specifications(tags(ResourceType::Vpc, "portal-vpc"))
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    ec2.modify_vpc_attribute()
        .vpc_id(&vpc)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .unwrap();
    let subnet = |cidr: &'static str, name: &'static str| {
        let vpc = vpc.clone();
        async move {
            let out = ec2
                .create_subnet()
                .vpc_id(vpc)
                .cidr_block(cidr)
                .availability_zone("us-east-1a")
                .tag_specifications(tags(ResourceType::Subnet, name))
                .send()
                .await
                .unwrap();
            out.subnet().unwrap().subnet_id().unwrap().to_owned()
        }
    };
    let public = subnet("10.60.0.0/20", "portal-subnet-public1-us-east-1a").await;
    let private = subnet("10.60.128.0/20", "portal-subnet-private1-us-east-1a").await;

    let igw = ec2
        .create_internet_gateway()
        .tag_specifications(tags(ResourceType::InternetGateway, "portal-igw"))
        .send()
        .await
        .unwrap();
    let igw = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_owned();
    ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.unwrap();

    let eip = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tags(ResourceType::ElasticIp, "portal-eip-us-east-1a"))
        .send()
        .await
        .unwrap();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&public)
        .allocation_id(eip.allocation_id().unwrap())
        .tag_specifications(tags(ResourceType::Natgateway, "portal-nat-public1-us-east-1a"))
        .send()
        .await
        .unwrap();
    let nat = nat.nat_gateway().unwrap().nat_gateway_id().unwrap().to_owned();

    for (name, subnet, route) in
        [("portal-rtb-public", &public, true), ("portal-rtb-private1-us-east-1a", &private, false)]
    {
        let rt = ec2
            .create_route_table()
            .vpc_id(&vpc)
            .tag_specifications(tags(ResourceType::RouteTable, name))
            .send()
            .await
            .unwrap();
        let rt = rt.route_table().unwrap().route_table_id().unwrap().to_owned();
        let r = ec2.create_route().route_table_id(&rt).destination_cidr_block("0.0.0.0/0");
        let r = if route { r.gateway_id(&igw) } else { r.nat_gateway_id(&nat) };
        r.send().await.unwrap();
        ec2.associate_route_table().route_table_id(&rt).subnet_id(subnet).send().await.unwrap();
    }

    // A network ACL for both subnets, in place of the default one.
    let acl = ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .tag_specifications(tags(ResourceType::NetworkAcl, "portal-acl"))
        .send()
        .await
        .unwrap();
    let acl = acl.network_acl().unwrap().network_acl_id().unwrap().to_owned();
    for (egress, rule, protocol, cidr, ports) in [
        (false, 100, "6", "203.0.113.0/24", Some((22, 22))),
        (false, 110, "6", "0.0.0.0/0", Some((1024, 65535))),
        (true, 100, "-1", "0.0.0.0/0", None),
    ] {
        ec2.create_network_acl_entry()
            .network_acl_id(&acl)
            .egress(egress)
            .rule_number(rule)
            .protocol(protocol)
            .rule_action(RuleAction::Allow)
            .cidr_block(cidr)
            .set_port_range(ports.map(|(f, t)| PortRange::builder().from(f).to(t).build()))
            .send()
            .await
            .unwrap();
    }
    let default_acl = ec2
        .describe_network_acls()
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .filters(Filter::builder().name("default").values("true").build())
        .send()
        .await
        .unwrap();
    for a in default_acl.network_acls()[0].associations() {
        if [&public, &private].iter().any(|s| a.subnet_id() == Some(s.as_str())) {
            ec2.replace_network_acl_association()
                .association_id(a.network_acl_association_id().unwrap())
                .network_acl_id(&acl)
                .send()
                .await
                .unwrap();
        }
    }

    // Two security groups, one admitting the other.
    let group = |name: &'static str, description: &'static str| {
        let vpc = vpc.clone();
        async move {
            let out = ec2
                .create_security_group()
                .vpc_id(vpc)
                .group_name(name)
                .description(description)
                .tag_specifications(tags(ResourceType::SecurityGroup, name))
                .send()
                .await
                .unwrap();
            out.group_id().unwrap().to_owned()
        }
    };
    let bastion_sg = group("portal-bastion", "SSH from the admin range").await;
    let app_sg = group("portal-app", "App servers, SSH from the bastion").await;
    ec2.authorize_security_group_ingress()
        .group_id(&bastion_sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("203.0.113.0/24").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.authorize_security_group_ingress()
        .group_id(&app_sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&bastion_sg).build())
                .build(),
        )
        .send()
        .await
        .unwrap();

    // The bastion: a key pair, an instance with an encrypted root volume, an Elastic IP.
    ec2.import_key_pair()
        .key_name("portal-bastion")
        .public_key_material(aws_smithy_types::Blob::new(KEY.as_bytes()))
        .tag_specifications(tags(ResourceType::KeyPair, "portal-bastion-key"))
        .send()
        .await
        .unwrap();
    let ami = ssm.get_parameter().name(AMI_PARAMETER).send().await.unwrap();
    let ami = ami.parameter().unwrap().value().unwrap().to_owned();
    let image = ec2.describe_images().image_ids(&ami).send().await.unwrap();
    let root = image.images()[0].root_device_name().unwrap().to_owned();
    let run = ec2
        .run_instances()
        .image_id(&ami)
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(&public)
        .security_group_ids(&bastion_sg)
        .key_name("portal-bastion")
        .metadata_options(InstanceMetadataOptionsRequest::builder().http_tokens(HttpTokensState::Required).build())
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name(root)
                .ebs(
                    EbsBlockDevice::builder()
                        .volume_size(8)
                        .volume_type(VolumeType::Gp3)
                        .encrypted(true)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        .tag_specifications(tags(ResourceType::Instance, "portal-bastion"))
        .send()
        .await
        .unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_owned();
    let bastion_ip = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tags(ResourceType::ElasticIp, "portal-bastion-ip"))
        .send()
        .await
        .unwrap();
    ec2.associate_address()
        .allocation_id(bastion_ip.allocation_id().unwrap())
        .instance_id(&instance)
        .send()
        .await
        .unwrap();
    vpc
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_built_by_hand_is_imported_adopted_and_destroyed_with_tag_updates_only() {
    let cx = Ctx::new();
    let ec2 = cx.ec2().await;
    let ssm = aws_sdk_ssm::Client::new(&cx.sdk().await);
    let vpc = build_by_hand(&ec2, &ssm).await;
    // Another VPC, which the import must leave alone.
    let other = ec2.create_vpc().cidr_block("10.9.0.0/16").send().await.unwrap();
    let other = other.vpc().unwrap().vpc_id().unwrap().to_owned();
    let other_subnet = ec2.create_subnet().vpc_id(&other).cidr_block("10.9.0.0/24").send().await.unwrap();
    let other_subnet = other_subnet.subnet().unwrap().subnet_id().unwrap().to_owned();

    cx.aws.clear_calls();
    let run = cx.rprov(&[
        "import",
        "--region",
        "us-east-1",
        "--vpc",
        &vpc,
        "--stack",
        "portal-net",
        "--adopt",
        "--out",
        "portal-net.yaml",
    ]);
    run.expect(0);
    let calls = cx.aws.calls();
    let text = std::fs::read_to_string(cx.dir.path().join("portal-net.yaml")).unwrap();
    println!("--- portal-net.yaml\n{text}--- {}", run.stderr);
    println!(
        "import made {} AWS calls: {:?}",
        calls.len(),
        calls.iter().map(|c| c.operation.as_str()).collect::<Vec<_>>()
    );
    let read_only = |op: &str| ["Describe", "List", "Get"].iter().any(|p| op.starts_with(p));
    assert!(calls.iter().all(|c| read_only(&c.operation)), "{calls:?}");
    // One read per kind in or attached to a VPC (16), none per resource.
    assert!(calls.len() <= 24, "one describe per kind, not per resource: {calls:?}");
    // References, not literals; nothing of the other VPC.
    assert!(text.contains("vpc: \"${portal_vpc.id}\""), "{text}");
    assert!(text.contains("nat_gateway: \"${portal_nat_public1_us_east_1a.id}\""), "{text}");
    assert!(text.contains("security_group: \"${portal_bastion_security_group.id}\""), "{text}");
    assert!(text.contains("key_name: \"${portal_bastion_key.name}\""), "{text}");
    assert!(!text.contains(&other) && !text.contains(&other_subnet), "{text}");
    assert!(text.contains("main route table") && text.contains("default security group"), "{text}");

    // Resources named by id: those only, what they name left literal with a comment.
    let state = crate::support::read_json(&cx.state_path("portal-net"));
    let id_of = |kind: &str| {
        let found = state["resources"].as_object().unwrap().values().find(|r| r["type"] == kind);
        found.unwrap()["physical_id"].as_str().unwrap().to_owned()
    };
    let (subnet, key) = (id_of("subnet"), id_of("key_pair"));
    let by_id = cx.rprov(&[
        "import",
        "--region",
        "us-east-1",
        "--id",
        &format!("subnet:{subnet}"),
        "--id",
        &format!("key_pair:{key}"),
        "--stack",
        "picked",
    ]);
    by_id.expect(0);
    assert_eq!(by_id.stdout.matches("\n    type: ").count(), 2, "{}", by_id.stdout);
    assert!(by_id.stdout.contains(&format!("vpc: {vpc}  # not imported")), "{}", by_id.stdout);
    let missing = cx.rprov(&["import", "--region", "us-east-1", "--id", "subnet:subnet-0000000000000000f"]);
    missing.expect(1);
    assert!(missing.stderr.contains("subnet subnet-0000000000000000f not found in us-east-1"), "{}", missing.stderr);
    let unknown = cx.rprov(&["import", "--region", "us-east-1", "--id", "subnets:subnet-1"]);
    unknown.expect(1);
    assert!(unknown.stderr.contains("unknown kind `subnets`"), "{}", unknown.stderr);

    cx.rprov(&["validate", "portal-net.yaml"]).expect(0);
    let plan = cx.rprov(&["plan", "portal-net.yaml", "--json", "--detailed-exitcode"]);
    plan.expect(2);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let changes = json["changes"].as_array().unwrap();
    // VPC, 2 subnets, IGW, 2 EIPs, NAT, 2 route tables, NACL, 2 groups, key pair, instance.
    assert_eq!(changes.len(), 14, "{}", plan.stdout);
    for c in changes {
        assert_eq!(c["action"], "update", "{c}");
        let diffs = c["diffs"].as_array().unwrap();
        assert!(diffs.len() == 1 && diffs[0]["name"] == "tags", "{c}");
        let before = diffs[0]["before"].as_object().unwrap();
        let mut after = diffs[0]["after"].as_object().unwrap().clone();
        after.retain(|k, _| !k.starts_with("rprov:"));
        assert_eq!(*before, after, "only the ownership tags are added: {c}");
    }

    cx.rprov(&["apply", "portal-net.yaml", "--yes"]).expect(0);
    cx.rprov(&["plan", "portal-net.yaml", "--detailed-exitcode"]).expect(0);

    cx.rprov(&["destroy", "portal-net.yaml", "--yes"]).expect(0);
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    let ids: Vec<&str> = vpcs.vpcs().iter().filter_map(|v| v.vpc_id()).collect();
    assert!(!ids.contains(&vpc.as_str()), "{ids:?}");
    assert!(ids.contains(&other.as_str()), "{ids:?}");
    let subnets = ec2.describe_subnets().send().await.unwrap();
    let subnets: Vec<&str> = subnets.subnets().iter().filter_map(|s| s.subnet_id()).collect();
    assert!(subnets.contains(&other_subnet.as_str()), "{subnets:?}");
    let keys = ec2.describe_key_pairs().send().await.unwrap();
    assert!(keys.key_pairs().iter().all(|k| k.key_name() != Some("portal-bastion")));
}

/// A stack whose state was lost: its resources still carry their ownership tags. `import --tag`
/// finds them, names them by their `rprov:id` and adopts them back into their deployment: the
/// generated file plans no change at all and declares the stack's own resources.
#[tokio::test(flavor = "multi_thread")]
async fn a_stack_whose_state_was_lost_is_imported_by_its_tag_with_no_change() {
    let cx = Ctx::new();
    let stack = crate::support::repo().join("stacks/network.yaml");
    let stack = stack.display().to_string();
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    let state = cx.state_path("network");
    let lineage = crate::support::read_json(&state)["lineage"].as_str().unwrap().to_owned();
    std::fs::remove_file(&state).unwrap();

    let run = cx.rprov(&[
        "import",
        "--region",
        "us-east-1",
        "--tag",
        "rprov:stack=network",
        "--stack",
        "network",
        "--adopt",
        "--out",
        "network.yaml",
    ]);
    run.expect(0);
    let text = std::fs::read_to_string(cx.dir.path().join("network.yaml")).unwrap();
    println!("--- network.yaml (imported)\n{text}--- {}", run.stderr);
    assert_eq!(crate::support::read_json(&state)["lineage"], lineage.as_str(), "adopted into its deployment");

    // The same resources under the same ids as the stack file declares.
    let ids = |yaml: &str| -> Vec<String> {
        let v = rprov::stack::yaml_to_json(&rprov::stack::Source::new("stack", yaml)).unwrap();
        let mut ids: Vec<String> = v["resources"].as_object().unwrap().keys().cloned().collect();
        ids.sort();
        ids
    };
    let original = std::fs::read_to_string(&stack).unwrap();
    assert_eq!(ids(&text), ids(&original), "{text}");

    let plan = cx.rprov(&["plan", "network.yaml", "--detailed-exitcode"]);
    plan.expect(0);
    cx.rprov(&["destroy", "network.yaml", "--yes"]).expect(0);
    let conf = cx.sdk().await;
    assert!(crate::support::tagged_and_alive(&conf, "network").await.is_empty());
}

/// Equal JSON values, a number whatever its written form (`60` and `60.0`).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Leaf values of a stack file, one line each (`resources.vpc.cidr = "10.20.0.0/16"`), with
/// resource ids renamed by `rename`: what the file says, whatever its layout.
fn leaves(yaml: &str, rename: &std::collections::HashMap<String, String>) -> std::collections::BTreeSet<String> {
    fn walk(
        path: &str,
        v: &serde_json::Value,
        rename: &dyn Fn(&str) -> String,
        out: &mut std::collections::BTreeSet<String>,
    ) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    walk(&format!("{path}.{k}"), v, rename, out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&format!("{path}[{i}]"), v, rename, out);
                }
            }
            other => {
                out.insert(rename(&format!("{path} = {other}")));
            }
        }
    }
    let v = rprov::stack::yaml_to_json(&rprov::stack::Source::new("stack", yaml)).unwrap();
    let rename = |line: &str| {
        let mut line = line.to_owned();
        for (new, old) in rename {
            line = line.replace(&format!("resources.{new}."), &format!("resources.{old}."));
            line = line.replace(&format!("${{{new}."), &format!("${{{old}."));
        }
        line
    };
    let mut out = std::collections::BTreeSet::new();
    walk("", &v, &rename, &mut out);
    out
}

/// The reference stack with its state and its file lost: imported by its stack tag, the
/// generated file validates and plans no change at all; every resource comes back under its
/// physical id with the properties the original state recorded; the file differs from
/// `stacks/upload-service.yaml` in naming and layout only (printed), and destroys to nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_reference_stack_imported_by_its_tag_plans_no_change() {
    let cx = Ctx::new();
    let stack = crate::support::repo().join("stacks/upload-service.yaml").display().to_string();
    cx.rprov(&["apply", &stack, "--yes", "--param", &cx.image_param()]).expect(0);
    let state_path = cx.state_path("upload-service");
    let before = crate::support::read_json(&state_path);
    std::fs::remove_file(&state_path).unwrap();

    cx.aws.clear_calls();
    let run = cx.rprov(&[
        "import",
        "--region",
        "us-east-1",
        "--tag",
        "rprov:stack=upload-service",
        "--stack",
        "upload-service",
        "--adopt",
        "--out",
        "imported.yaml",
    ]);
    run.expect(0);
    let calls = cx.aws.calls();
    let text = std::fs::read_to_string(cx.dir.path().join("imported.yaml")).unwrap();
    println!("--- imported.yaml\n{text}--- {}", run.stderr);
    let mut by_op: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for c in &calls {
        *by_op.entry(format!("{}:{}", c.service, c.operation)).or_default() += 1;
    }
    println!(
        "import: {} AWS calls for {} resources: {by_op:?}",
        calls.len(),
        before["resources"].as_object().unwrap().len()
    );
    assert!(
        calls.iter().all(|c| !c.operation.starts_with("Create")
            && !c.operation.starts_with("Put")
            && !c.operation.starts_with("Delete")),
        "{by_op:?}"
    );

    // Every resource but the image (a build output, declared by its source) is back, under
    // the same physical id, kind and recorded properties.
    let after = crate::support::read_json(&state_path);
    assert_eq!(after["lineage"], before["lineage"], "adopted into its own deployment");
    let was = before["resources"].as_object().unwrap();
    let now = after["resources"].as_object().unwrap();
    let mut rename = std::collections::HashMap::new();
    for (old_id, old) in was {
        if old["type"] == "container_image" {
            assert!(now.values().all(|r| r["type"] != "container_image"));
            continue;
        }
        let Some((new_id, new)) = now.iter().find(|(_, r)| r["physical_id"] == old["physical_id"]) else {
            panic!("{old_id} ({}) not imported:\n{text}", old["physical_id"]);
        };
        assert_eq!(new["type"], old["type"], "{old_id}");
        let (a, b) = (old["properties"].as_object().unwrap(), new["properties"].as_object().unwrap());
        for (name, value) in a {
            // What only rprov knows: a repository's images go with it on destroy.
            if old["type"] == "ecr_repository" && name == "force_delete" {
                continue;
            }
            assert!(
                b.get(name).is_some_and(|v| same(v, value)),
                "{old_id}.{name}: recorded {value}, imported {:?}",
                b.get(name)
            );
        }
        if new_id != old_id {
            rename.insert(new_id.clone(), old_id.clone());
        }
    }
    assert_eq!(now.len(), was.len() - 1, "nothing more than the stack's own");

    // The file, leaf by leaf, against the original's (ids renamed back).
    let original = std::fs::read_to_string(&stack).unwrap();
    let (old_leaves, new_leaves) = (leaves(&original, &Default::default()), leaves(&text, &rename));
    println!("--- renamed: {rename:?}\n--- only in stacks/upload-service.yaml:");
    old_leaves.difference(&new_leaves).for_each(|l| println!("- {l}"));
    println!("--- only in the imported file:");
    new_leaves.difference(&old_leaves).for_each(|l| println!("+ {l}"));

    cx.rprov(&["validate", "imported.yaml"]).expect(0);
    cx.rprov(&["plan", "imported.yaml", "--detailed-exitcode"]).expect(0);

    // The same VPC by id: what is in and attached to it, load balancing, storage and the
    // service included; what is outside it stays literal, with a comment.
    let vpc = now.values().find(|r| r["type"] == "vpc").unwrap()["physical_id"].as_str().unwrap().to_owned();
    let run =
        cx.rprov(&["import", "--region", "us-east-1", "--vpc", &vpc, "--stack", "by-vpc", "--out", "by-vpc.yaml"]);
    run.expect(0);
    let by_vpc = std::fs::read_to_string(cx.dir.path().join("by-vpc.yaml")).unwrap();
    println!("--- by-vpc.yaml\n{by_vpc}");
    for kind in [
        "vpc",
        "subnet",
        "internet_gateway",
        "nat_gateway",
        "elastic_ip",
        "route_table",
        "security_group",
        "load_balancer",
        "target_group",
        "listener",
        "file_system",
        "mount_target",
        "access_point",
        "ecs_cluster",
        "task_definition",
        "ecs_service",
    ] {
        assert!(by_vpc.contains(&format!("    type: {kind}\n")), "{kind} imported by VPC:\n{by_vpc}");
    }
    for kind in ["iam_role", "hosted_zone", "certificate", "log_group", "ssm_parameter", "ecr_repository"] {
        assert!(!by_vpc.contains(&format!("    type: {kind}\n")), "{kind} is not in the VPC:\n{by_vpc}");
    }
    assert!(by_vpc.contains("# not imported"), "{by_vpc}");
    assert!(!by_vpc.contains("network interface"), "every interface belongs to something imported:\n{by_vpc}");

    // The repository's images are not the imported stack's: destroy keeps the repository and
    // says why, until the file says they go with it.
    let refused = cx.rprov(&["destroy", "imported.yaml", "--yes"]);
    refused.expect(1);
    assert!(refused.stderr.contains("set `force_delete: true` on `repo`"), "{}", refused.stderr);
    let conf = cx.sdk().await;
    let ecr = aws_sdk_ecr::Client::new(&conf);
    let repos = ecr.describe_repositories().send().await.unwrap();
    let names: Vec<_> = repos.repositories().iter().filter_map(|r| r.repository_name()).collect();
    assert_eq!(names, ["upload-service-repo"]);
    let text = text.replace("    type: ecr_repository\n", "    type: ecr_repository\n    force_delete: true\n");
    std::fs::write(cx.dir.path().join("imported.yaml"), text).unwrap();
    cx.rprov(&["apply", "imported.yaml", "--yes"]).expect(0);
    cx.rprov(&["destroy", "imported.yaml", "--yes"]).expect(0);
    assert!(crate::support::tagged_and_alive(&conf, "upload-service").await.is_empty());
    assert!(ecr.describe_repositories().send().await.unwrap().repositories().is_empty());
}
