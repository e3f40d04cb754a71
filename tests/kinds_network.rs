//! The network kinds against the strict local AWS (`localaws`: moto behind the AWS rules it
//! lacks), through the `Kind` trait only: create with ownership tags, find it again with
//! `read_many` with props equal to the stack's normalised values (a second plan shows no diff),
//! update in place, delete, gone.
//!
//! moto makes every state transition instant (see the project's moto notes): waiters and
//! retries are unit-tested with aws-smithy-mocks in the kinds instead.

use localaws::LocalAws;
use rprov::aws::{AwsError, Cx};
use rprov::kinds::testing::{Res, RoundTrip, list, map, props};
use rprov::kinds::{CreateReq, DeleteReq, Kind, Tags, kind};
use rprov::value::{Props, Value};

const T: RoundTrip = RoundTrip { stack: "itest", team: "net" };

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

async fn update(cx: &Cx, res: &mut Res, given: &[(&str, Value)], tags: Option<Tags>) {
    T.update(cx, res, given, tags).await
}

async fn delete(cx: &Cx, res: Res) {
    T.delete(cx, &res).await
}

fn route(destination: &str, target: &str, id: &Value) -> Value {
    map(&[("destination", destination.into()), (target, id.clone())])
}

#[tokio::test]
async fn network_chain_round_trip() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;

    let vpc = kind("vpc").unwrap();
    let tags = owned_tags("vpc");
    let vpc_props = props(&[("cidr", "10.0.0.0/16".into())]);
    let vpc = vpc
        .create(&cx, &CreateReq { id: "vpc", props: &desired(vpc, "vpc", &vpc_props), tags: &tags, token: "vpc-token" })
        .await
        .unwrap();
    let vpc_id = Value::str(&vpc.physical_id);

    let mut igw = create(&cx, "internet_gateway", "igw", &[("vpc", vpc_id.clone())]).await;
    let mut public = create(
        &cx,
        "subnet",
        "public",
        &[("vpc", vpc_id.clone()), ("cidr", "10.0.0.0/24".into()), ("az", "us-east-1a".into())],
    )
    .await;
    assert_eq!(public.attr("vpc_id"), vpc_id);
    assert!(public.attr("arn").as_str().is_some_and(|a| a.starts_with("arn:aws:ec2:")), "{:?}", public.attr("arn"));
    let private = create(
        &cx,
        "subnet",
        "private",
        &[("vpc", vpc_id.clone()), ("cidr", "10.0.1.0/24".into()), ("az", "us-east-1b".into())],
    )
    .await;
    let spare = create(&cx, "subnet", "spare", &[("vpc", vpc_id.clone()), ("cidr", "10.0.2.0/24".into())]).await;
    let mut eip = create(&cx, "elastic_ip", "eip", &[]).await;
    let nat =
        create(&cx, "nat_gateway", "nat", &[("subnet", public.attr("id")), ("allocation_id", eip.attr("id"))]).await;
    assert_eq!(nat.attr("public_ip"), eip.attr("public_ip"));
    assert!(nat.attr("private_ip").as_str().is_some());

    let public_rt = [
        ("vpc", vpc_id.clone()),
        ("routes", list(vec![route("0.0.0.0/0", "gateway", &igw.attr("id"))])),
        ("subnets", list(vec![public.attr("id")])),
    ];
    let mut public_rt = create(&cx, "route_table", "public_rt", &public_rt).await;
    let private_rt = [
        ("vpc", vpc_id.clone()),
        ("routes", list(vec![route("0.0.0.0/0", "nat_gateway", &nat.attr("id"))])),
        ("subnets", list(vec![private.attr("id")])),
    ];
    let private_rt = create(&cx, "route_table", "private_rt", &private_rt).await;

    // In place: a subnet attribute; tags.
    let public_props = [
        ("vpc", vpc_id.clone()),
        ("cidr", "10.0.0.0/24".into()),
        ("az", "us-east-1a".into()),
        ("map_public_ip_on_launch", true.into()),
    ];
    update(&cx, &mut public, &public_props, None).await;
    let mut retagged = eip.live.tags.clone();
    retagged.insert("role".into(), "nat".into());
    retagged.remove("team");
    update(&cx, &mut eip, &[], Some(retagged)).await;

    // Routes: replace a target, add one; then drop one. Associations: add, then move off.
    let two_routes = [
        ("vpc", vpc_id.clone()),
        (
            "routes",
            list(vec![
                route("10.9.0.0/16", "gateway", &igw.attr("id")),
                route("0.0.0.0/0", "nat_gateway", &nat.attr("id")),
            ]),
        ),
        ("subnets", list(vec![spare.attr("id"), public.attr("id")])),
    ];
    update(&cx, &mut public_rt, &two_routes, None).await;
    let one_route = [
        ("vpc", vpc_id.clone()),
        ("routes", list(vec![route("10.9.0.0/16", "gateway", &igw.attr("id"))])),
        ("subnets", list(vec![spare.attr("id")])),
    ];
    update(&cx, &mut public_rt, &one_route, None).await;

    // Reverse order, as destroy does: NAT gateway waited to `deleted` before its EIP goes.
    for res in [private_rt, public_rt, nat, eip] {
        delete(&cx, res).await;
    }

    // The gateway moves to another VPC: detached and attached in place. Only now: AWS refuses to
    // detach a gateway while its VPC has mapped public addresses (the NAT gateway's EIP).
    let other = kind("vpc").unwrap();
    let other_tags = owned_tags("other_vpc");
    let other_vpc = other
        .create(
            &cx,
            &CreateReq {
                id: "other_vpc",
                props: &props(&[("cidr", "10.1.0.0/16".into())]),
                tags: &other_tags,
                token: "t",
            },
        )
        .await
        .unwrap();
    update(&cx, &mut igw, &[("vpc", Value::str(&other_vpc.physical_id))], None).await;

    for res in [public, private, spare, igw] {
        delete(&cx, res).await;
    }
    for v in [&vpc, &other_vpc] {
        let none = Props::new();
        let req = DeleteReq { id: "vpc", physical_id: &v.physical_id, props: &none, attrs: &none };
        kind("vpc").unwrap().delete(&cx, &req).await.unwrap();
    }
}

#[tokio::test]
async fn security_groups_that_reference_each_other() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;

    let vpc = kind("vpc").unwrap();
    let tags = owned_tags("vpc");
    let vpc = vpc
        .create(
            &cx,
            &CreateReq { id: "vpc", props: &props(&[("cidr", "10.0.0.0/16".into())]), tags: &tags, token: "t" },
        )
        .await
        .unwrap();
    let vpc_id = Value::str(&vpc.physical_id);
    let everywhere = Value::str("0.0.0.0/0");

    // Default name, description and egress (AWS's own allow-all egress: no diff).
    let lb = [
        ("vpc", vpc_id.clone()),
        (
            "ingress",
            list(vec![
                map(&[("port", 443.into()), ("cidr", everywhere.clone())]),
                map(&[
                    ("protocol", "tcp".into()),
                    ("port", 80.into()),
                    ("cidr", everywhere.clone()),
                    ("description", "redirect".into()),
                ]),
            ]),
        ),
    ];
    let mut lb = create(&cx, "security_group", "lb", &lb).await;
    assert_eq!(lb.attr("name"), Value::str("itest-lb"));
    assert!(
        lb.attr("arn").as_str().is_some_and(|a| a.ends_with(&format!("security-group/{}", lb.pid()))),
        "{:?}",
        lb.attr("arn")
    );

    // A port range from another group; egress other than AWS's default (revoked on create).
    let app = [
        ("vpc", vpc_id.clone()),
        ("name", "itest-app-tier".into()),
        ("description", "app tier".into()),
        (
            "ingress",
            list(vec![map(&[("from_port", 8000.into()), ("to_port", 8100.into()), ("security_group", lb.attr("id"))])]),
        ),
        ("egress", list(vec![map(&[("port", 443.into()), ("cidr", everywhere.clone())])])),
    ];
    let mut app = create(&cx, "security_group", "app", &app).await;
    let db = [
        ("vpc", vpc_id.clone()),
        (
            "ingress",
            list(vec![map(&[
                ("port", 5432.into()),
                ("security_group", app.attr("id")),
                ("description", "from app".into()),
            ])]),
        ),
        ("egress", list(vec![])),
    ];
    let db = create(&cx, "security_group", "db", &db).await;

    // A create sent again (lost response) finds the same group; another resource with the same
    // name does not take it over.
    let given = desired(app.kind, "app", &app.live.props);
    let again = app
        .kind
        .create(&cx, &CreateReq { id: "app", props: &given, tags: &owned_tags("app"), token: "other" })
        .await
        .expect("a repeated create adopts the group it made");
    assert_eq!(again.physical_id, app.pid());
    let taken = app
        .kind
        .create(&cx, &CreateReq { id: "intruder", props: &given, tags: &owned_tags("intruder"), token: "x" })
        .await;
    assert!(matches!(taken, Err(AwsError::AlreadyExists(_))), "{taken:?}");

    // In place: a rule added (icmp), a description changed, egress back to the default.
    let app_props = [
        ("vpc", vpc_id.clone()),
        ("name", "itest-app-tier".into()),
        ("description", "app tier".into()),
        (
            "ingress",
            list(vec![
                map(&[("from_port", 8000.into()), ("to_port", 8100.into()), ("security_group", lb.attr("id"))]),
                map(&[("protocol", "icmp".into()), ("cidr", "10.0.0.0/16".into())]),
            ]),
        ),
    ];
    update(&cx, &mut app, &app_props, None).await;
    let lb_props = [
        ("vpc", vpc_id.clone()),
        (
            "ingress",
            list(vec![
                map(&[("port", 443.into()), ("cidr", everywhere.clone())]),
                map(&[("port", 80.into()), ("cidr", everywhere.clone()), ("description", "http redirect".into())]),
            ]),
        ),
    ];
    update(&cx, &mut lb, &lb_props, None).await;
    let lb_props =
        [("vpc", vpc_id.clone()), ("ingress", list(vec![map(&[("port", 443.into()), ("cidr", everywhere.clone())])]))];
    update(&cx, &mut lb, &lb_props, None).await;

    for res in [db, app, lb] {
        delete(&cx, res).await;
    }
    let none = Props::new();
    kind("vpc")
        .unwrap()
        .delete(&cx, &DeleteReq { id: "vpc", physical_id: &vpc.physical_id, props: &none, attrs: &none })
        .await
        .unwrap();
}
