//! Seed 003's network kinds (network ACL, key pair) against the strict local AWS, through the
//! `Kind` trait only: create with ownership tags, find it again with `read_many` with props equal
//! to the stack's normalised values (a second plan shows no diff), update in place, a change made
//! behind rprov's back seen by `read_many`, delete, gone, and a second delete is success.
//!
//! moto makes every state transition instant: waits and refused deletes are unit-tested with
//! aws-smithy-mocks in the kinds.

use localaws::LocalAws;
use rprov::aws::Cx;
use rprov::kinds::testing::{Res, RoundTrip, compared, map, props, read, strs};
use rprov::kinds::{CreateReq, Kind, Tags, UpdateReq, kind};
use rprov::value::{Props, Value};

const T: RoundTrip = RoundTrip { stack: "portalnet", team: "net" };

async fn cx(aws: &LocalAws) -> Cx {
    T.cx(&aws.endpoint()).await
}

fn owned_tags(id: &str) -> Tags {
    T.tags(id)
}

fn desired(k: &dyn Kind, id: &str, given: &Props) -> Props {
    T.desired(k, id, given)
}

async fn create(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)]) -> Res {
    T.create(cx, kind_name, id, given).await
}

async fn update(cx: &Cx, res: &mut Res, given: &[(&str, Value)]) {
    T.update(cx, res, given, None).await
}

async fn delete(cx: &Cx, res: &Res) {
    T.delete(cx, res).await
}

fn entry(rule: i64, protocol: &str, action: &str, cidr: &str, ports: Option<(i64, i64)>) -> Value {
    let mut fields = vec![
        ("rule", Value::Int(rule)),
        ("protocol", Value::str(protocol)),
        ("action", Value::str(action)),
        ("cidr", Value::str(cidr)),
    ];
    if let Some((from, to)) = ports {
        fields.push(("from_port", Value::Int(from)));
        fields.push(("to_port", Value::Int(to)));
    }
    map(&fields)
}

/// The ACL a subnet uses, read from AWS.
async fn acl_of(cx: &Cx, subnet: &str) -> String {
    let ec2 = cx.client(aws_sdk_ec2::Client::new);
    let out = ec2
        .describe_network_acls()
        .filters(aws_sdk_ec2::types::Filter::builder().name("association.subnet-id").values(subnet).build())
        .send()
        .await
        .unwrap();
    out.network_acls()[0].network_acl_id().unwrap().to_owned()
}

#[tokio::test]
async fn network_acl_round_trip() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    // The VPC is made directly: its DNS settings are read by another call than read_many's
    // (kinds_network covers the VPC).
    let k = kind("vpc").unwrap();
    let (vpc_tags, vpc_props) = (owned_tags("vpc"), desired(k, "vpc", &props(&[("cidr", "10.0.0.0/16".into())])));
    let made =
        k.create(&cx, &CreateReq { id: "vpc", props: &vpc_props, tags: &vpc_tags, token: "vpc-token" }).await.unwrap();
    let vpc = Res { kind: k, id: "vpc", live: made, applied: vpc_props };
    let vpc_id = Value::str(vpc.pid());
    let a = create(&cx, "subnet", "a", &[("vpc", vpc_id.clone()), ("cidr", "10.0.0.0/24".into())]).await;
    let b = create(&cx, "subnet", "b", &[("vpc", vpc_id.clone()), ("cidr", "10.0.1.0/24".into())]).await;
    let default = acl_of(&cx, a.pid()).await;

    let ssh = entry(100, "tcp", "allow", "203.0.113.0/24", Some((22, 22)));
    let ephemeral = entry(100, "tcp", "allow", "0.0.0.0/0", Some((1024, 65535)));
    // No ICMP entry here: moto 5.2.5 stores IcmpTypeCode but DescribeNetworkAcls leaves it
    // out, so an ICMP entry would read back without its type and code (the unit test
    // `live_shape_equals_the_normalised_stack_shape` covers AWS's shape).
    let ping = entry(110, "udp", "allow", "10.0.0.0/16", Some((53, 53)));
    let mut acl = create(
        &cx,
        "network_acl",
        "acl",
        &[
            ("vpc", vpc_id.clone()),
            ("ingress", Value::List(vec![ping.clone(), ssh.clone()])),
            ("egress", Value::List(vec![ephemeral.clone()])),
            ("subnets", strs(&[a.pid()])),
        ],
    )
    .await;
    assert_eq!(acl_of(&cx, a.pid()).await, acl.pid());
    let protocols: Vec<&Value> =
        acl.live.props["ingress"].as_list().iter().map(|e| &e.as_map().unwrap()["protocol"]).collect();
    assert_eq!(protocols, [&Value::str("17"), &Value::str("6")], "protocols as AWS stores them");

    // In place: an entry changed, one added, one removed; subnet a back to the default, b here.
    let https = entry(120, "tcp", "allow", "0.0.0.0/0", Some((443, 443)));
    let ssh_denied = entry(100, "tcp", "deny", "203.0.113.0/24", Some((22, 22)));
    update(
        &cx,
        &mut acl,
        &[
            ("vpc", vpc_id.clone()),
            ("ingress", Value::List(vec![ssh_denied, https])),
            ("egress", Value::List(vec![ephemeral.clone(), entry(200, "all", "deny", "192.0.2.0/24", None)])),
            ("subnets", strs(&[b.pid()])),
        ],
    )
    .await;
    assert_eq!(acl_of(&cx, a.pid()).await, default, "a subnet left out goes back to the default ACL");
    assert_eq!(acl_of(&cx, b.pid()).await, acl.pid());

    // Drift: an entry added by hand shows up in read_many.
    let ec2 = cx.client(aws_sdk_ec2::Client::new);
    ec2.create_network_acl_entry()
        .network_acl_id(acl.pid())
        .rule_number(300)
        .egress(false)
        .protocol("-1")
        .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
        .cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let drifted = read(&cx, acl.kind, &[], acl.pid()).await.unwrap();
    assert_ne!(drifted.props["ingress"], acl.applied["ingress"], "a hand-made entry is drift");
    assert_eq!(drifted.props["ingress"].as_list().len(), 3);

    // Delete: the associated subnet goes back to the default ACL first (the strict local AWS
    // refuses to delete an associated ACL, as AWS does).
    delete(&cx, &acl).await;
    assert_eq!(acl_of(&cx, b.pid()).await, default);
    for r in [&a, &b, &vpc] {
        delete(&cx, r).await;
    }
}

#[tokio::test]
async fn key_pair_round_trip() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEHwmVXgMOiDA15NBvOau33Ox19BHta3IgYGbDpn+IF ops@example";
    let key = create(&cx, "key_pair", "bastion_key", &[("public_key", public.into())]).await;
    assert_eq!(key.pid(), "portalnet-bastion-key");
    assert_eq!(key.attr("name"), Value::str("portalnet-bastion-key"));
    assert!(key.attr("fingerprint").as_str().is_some_and(|f| !f.is_empty()), "{:?}", key.attr("fingerprint"));
    assert!(key.attr("id").as_str().is_some_and(|i| i.starts_with("key-")), "{:?}", key.attr("id"));

    // The key's comment is not compared: the same key with another comment is no change.
    let again = desired(key.kind, key.id, &props(&[("public_key", format!("{} other", &public[..80]).into())]));
    assert_eq!(again["public_key"], key.live.props["public_key"]);

    // Tags change in place.
    let mut tags = key.live.tags.clone();
    tags.insert("team".into(), "edge".into());
    let changed = ["tags".to_string()];
    let req = UpdateReq {
        id: key.id,
        physical_id: key.pid(),
        old: &key.live.props,
        new: &key.applied,
        changed: &changed,
        old_tags: &key.live.tags,
        tags: &tags,
    };
    let out = key.kind.update(&cx, &req).await.unwrap();
    assert_eq!(out.tags, tags);

    delete(&cx, &key).await;
}

/// The routes of a route table whose target is a gateway endpoint, as `(prefix list, endpoint)`.
async fn endpoint_routes(cx: &Cx, table: &str) -> Vec<(String, String)> {
    let ec2 = cx.client(aws_sdk_ec2::Client::new);
    let out = ec2.describe_route_tables().route_table_ids(table).send().await.unwrap();
    out.route_tables()[0]
        .routes()
        .iter()
        .filter(|r| r.gateway_id().is_some_and(|g| g.starts_with("vpce-")))
        .map(|r| (r.destination_prefix_list_id().unwrap_or_default().to_owned(), r.gateway_id().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn vpc_endpoint_round_trip() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let k = kind("vpc").unwrap();
    let (vpc_tags, vpc_props) = (owned_tags("vpc"), desired(k, "vpc", &props(&[("cidr", "10.0.0.0/16".into())])));
    let made =
        k.create(&cx, &CreateReq { id: "vpc", props: &vpc_props, tags: &vpc_tags, token: "vpc-token" }).await.unwrap();
    let vpc = Res { kind: k, id: "vpc", live: made, applied: vpc_props };
    let vpc_id = Value::str(vpc.pid());
    let subnet =
        |cidr: &str, az: &str| vec![("vpc", vpc_id.clone()), ("cidr", Value::str(cidr)), ("az", Value::str(az))];
    let a = create(&cx, "subnet", "a", &subnet("10.0.0.0/24", "us-east-1a")).await;
    let b = create(&cx, "subnet", "b", &subnet("10.0.1.0/24", "us-east-1b")).await;
    let public = create(&cx, "route_table", "public", &[("vpc", vpc_id.clone())]).await;
    let private = create(&cx, "route_table", "private", &[("vpc", vpc_id.clone())]).await;
    let sg =
        create(&cx, "security_group", "endpoints", &[("vpc", vpc_id.clone()), ("description", "endpoints".into())])
            .await;

    // Gateway endpoint for S3 in the private table: its route is there, and the route table's
    // own properties do not see it (no perpetual diff on the table).
    let mut s3 = create(
        &cx,
        "vpc_endpoint",
        "s3",
        &[("vpc", vpc_id.clone()), ("service", "s3".into()), ("route_tables", strs(&[private.pid()]))],
    )
    .await;
    assert_eq!(s3.live.props["endpoint_type"], Value::str("gateway"));
    assert_eq!(s3.live.props["private_dns"], Value::Bool(false));
    assert_eq!(s3.live.props["policy"], Value::Null, "AWS's default policy reads as none");
    let routes = endpoint_routes(&cx, private.pid()).await;
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert!(routes[0].0.starts_with("pl-") && routes[0].1 == s3.pid(), "{routes:?}");
    let table = read(&cx, private.kind, &[], private.pid()).await.unwrap();
    assert_eq!(compared(&table, &private.applied), private.applied, "the endpoint's route is not the table's drift");

    // Moved to the public table and given a policy: the route follows.
    let policy = map(&[
        ("Version", "2012-10-17".into()),
        (
            "Statement",
            Value::List(vec![map(&[
                ("Effect", "Allow".into()),
                ("Principal", "*".into()),
                ("Action", "s3:GetObject".into()),
                ("Resource", "arn:aws:s3:::portal-uploads/*".into()),
            ])]),
        ),
    ]);
    update(
        &cx,
        &mut s3,
        &[
            ("vpc", vpc_id.clone()),
            ("service", "s3".into()),
            ("route_tables", strs(&[public.pid()])),
            ("policy", policy),
        ],
    )
    .await;
    assert!(endpoint_routes(&cx, private.pid()).await.is_empty(), "the route left the private table");
    assert_eq!(endpoint_routes(&cx, public.pid()).await.len(), 1);
    // The policy removed: AWS's default again.
    update(&cx, &mut s3, &[("vpc", vpc_id.clone()), ("service", "s3".into()), ("route_tables", strs(&[public.pid()]))])
        .await;
    assert_eq!(s3.live.props["policy"], Value::Null);

    // Interface endpoint for SSM in subnet a, then a and b.
    let mut ssm = create(
        &cx,
        "vpc_endpoint",
        "ssm",
        &[
            ("vpc", vpc_id.clone()),
            ("service", "ssm".into()),
            ("subnets", strs(&[a.pid()])),
            ("security_groups", strs(&[sg.pid()])),
        ],
    )
    .await;
    assert_eq!(ssm.live.props["endpoint_type"], Value::str("interface"));
    assert_eq!(ssm.live.props["private_dns"], Value::Bool(true));
    update(
        &cx,
        &mut ssm,
        &[
            ("vpc", vpc_id.clone()),
            ("service", "ssm".into()),
            ("subnets", strs(&[a.pid(), b.pid()])),
            ("security_groups", strs(&[sg.pid()])),
        ],
    )
    .await;

    // A resend of the create (same token) is the same endpoint, and no second route.
    let again = s3
        .kind
        .create(
            &cx,
            &CreateReq {
                id: "s3",
                props: &desired(
                    s3.kind,
                    "s3",
                    &props(&[
                        ("vpc", vpc_id.clone()),
                        ("service", "s3".into()),
                        ("route_tables", strs(&[private.pid()])),
                    ]),
                ),
                tags: &owned_tags("s3"),
                token: "s3-token",
            },
        )
        .await
        .unwrap();
    assert_eq!(again.physical_id, s3.pid(), "same ClientToken, same endpoint");

    // The interface endpoint holds its subnets and group until deleted (refused meanwhile).
    let ec2 = cx.client(aws_sdk_ec2::Client::new);
    let refused = ec2.delete_subnet().subnet_id(b.pid()).send().await;
    assert!(refused.is_err(), "a subnet with an endpoint's interface cannot be deleted");
    for r in [&ssm, &s3] {
        delete(&cx, r).await;
    }
    assert!(endpoint_routes(&cx, public.pid()).await.is_empty(), "the endpoint's routes went with it");
    for r in [&sg, &private, &public, &a, &b, &vpc] {
        delete(&cx, r).await;
    }
}
