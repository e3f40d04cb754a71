//! Seed 003's bastion: an instance and the Elastic IP associated with it, against the strict
//! local AWS, through the `Kind` trait only. The image comes from the public SSM parameter
//! (`resolve:ssm:/aws/service/ami-amazon-linux-latest/...`, which the local AWS's SSM holds, with
//! an image its DescribeImages knows); IMDSv2 required, encrypted root volume. Create, then a
//! plan against what `read_many` reads shows no difference (launch settings AWS does not report
//! are compared with what was applied, as the planner does); a resent create with the same
//! token gets the same instance; security groups, the IMDS hop limit and the type change in
//! place; the address is associated (DescribeAddresses names the instance), moved off and back;
//! delete the address, then the instance: gone, and a second delete is success.
//!
//! moto makes every state transition instant: the waits (pending, stopping, shutting-down) are
//! unit-tested with aws-smithy-mocks in the kind.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{Filter, HttpTokensState, InstanceAttributeName};
use localaws::LocalAws;
use rprov::aws::Cx;
use rprov::kinds::testing::{Res, RoundTrip, map, props, read, strs};
use rprov::kinds::{CreateReq, DeleteReq, Kind, Live, TAG_ID, Tags, UpdateReq, kind};
use rprov::value::{Props, Value};

const STACK: &str = "bastion";
const PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const USER_DATA: &str = "#!/bin/sh\necho bastion > /etc/motd\n";
/// The state's digest key, for the planner's comparison of secrets.
const KEY: &str = "k";

const T: RoundTrip = RoundTrip { stack: STACK, team: "ops" };

async fn cx(aws: &LocalAws) -> Cx {
    T.cx(&aws.endpoint()).await
}

fn owned_tags(id: &str) -> Tags {
    T.tags(id)
}

fn desired(k: &dyn Kind, id: &str, given: &Props) -> Props {
    T.desired(k, id, given)
}

/// What the planner would change, comparing `want` with what is known: the recorded values
/// (`applied`, secrets as digests) with the live ones over them.
fn plan_diff(k: &dyn Kind, applied: &Props, want: &Props, live: &Live, tags: &Tags) -> Vec<String> {
    let schema = k.schema();
    let none = BTreeSet::new();
    let mut current = rprov::apply::recorded_props(schema, &none, KEY, applied);
    current.extend(live.props.clone());
    rprov::plan::diff(schema, &none, KEY, want, tags, &current, &live.tags).into_iter().map(|d| d.name).collect()
}

/// Creates through the trait and checks that a second plan finds no difference.
async fn create(cx: &Cx, kind_name: &str, id: &'static str, given: &[(&str, Value)]) -> Res {
    let k = kind(kind_name).unwrap_or_else(|| panic!("{kind_name} is registered"));
    let want = desired(k, id, &props(given));
    let token = format!("{id}-token");
    let tags = owned_tags(id);
    let made = k
        .create(cx, &CreateReq { id, props: &want, tags: &tags, token: &token })
        .await
        .unwrap_or_else(|e| panic!("create {id}: {e}"));
    let found = read(cx, k, &[], &made.physical_id).await.unwrap_or_else(|| panic!("read_many finds {id}"));
    assert_eq!(
        plan_diff(k, &want, &want, &found, &tags),
        Vec::<String>::new(),
        "{id}: a second plan changes something"
    );
    assert_eq!(found.tags, tags, "{id}: tags");
    assert_eq!(made.props, found.props, "{id}: create returns what read_many reads");
    assert_eq!(made.attrs, found.attrs, "{id}: attributes");
    Res { kind: k, id, live: found, applied: want }
}

/// Changes what differs from `given` in place and checks a plan after it finds no difference.
async fn update(cx: &Cx, res: &mut Res, given: &[(&str, Value)]) -> Vec<String> {
    let new = desired(res.kind, res.id, &props(given));
    let tags = res.live.tags.clone();
    let changed = plan_diff(res.kind, &res.applied, &new, &res.live, &tags);
    assert!(!changed.is_empty(), "{}: update test changes nothing", res.id);
    let req = UpdateReq {
        id: res.id,
        physical_id: &res.live.physical_id,
        old: &res.applied,
        new: &new,
        changed: &changed,
        old_tags: &tags,
        tags: &tags,
    };
    let out = res.kind.update(cx, &req).await.unwrap_or_else(|e| panic!("update {} ({changed:?}): {e}", res.id));
    let found = read(cx, res.kind, &[], res.pid()).await.unwrap();
    assert_eq!(plan_diff(res.kind, &new, &new, &found, &tags), Vec::<String>::new(), "{}: after update", res.id);
    assert_eq!(out.props, found.props, "{}: update returns what read_many reads", res.id);
    res.live = found;
    res.applied = new;
    changed
}

async fn delete(cx: &Cx, res: &Res) {
    let req = DeleteReq { id: res.id, physical_id: res.pid(), props: &res.applied, attrs: &res.live.attrs };
    res.kind.delete(cx, &req).await.unwrap_or_else(|e| panic!("delete {}: {e}", res.id));
    assert!(read(cx, res.kind, &[], res.pid()).await.is_none(), "{} still listed after delete", res.id);
    assert_eq!(res.kind.delete(cx, &req).await, Ok(()), "{}: a second delete is success", res.id);
}

/// The instance ids DescribeAddresses names for the address.
async fn associated_instance(cx: &Cx, allocation: &str) -> Option<String> {
    let ec2 = cx.client(aws_sdk_ec2::Client::new);
    let out = ec2.describe_addresses().allocation_ids(allocation).send().await.unwrap();
    out.addresses()[0].instance_id().filter(|i| !i.is_empty()).map(str::to_owned)
}

#[tokio::test]
async fn bastion_round_trip() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let ec2 = cx.client(aws_sdk_ec2::Client::new);

    // The VPC is made directly: its DNS settings are read by another call than read_many's
    // (kinds_network covers the VPC).
    let k = kind("vpc").unwrap();
    let (vpc_tags, vpc_props) = (owned_tags("vpc"), desired(k, "vpc", &props(&[("cidr", "10.0.0.0/16".into())])));
    let made =
        k.create(&cx, &CreateReq { id: "vpc", props: &vpc_props, tags: &vpc_tags, token: "vpc-token" }).await.unwrap();
    let vpc = Res { kind: k, id: "vpc", live: made, applied: vpc_props };
    let vpc_id = Value::str(vpc.pid());
    let public = create(
        &cx,
        "subnet",
        "public",
        &[("vpc", vpc_id.clone()), ("cidr", "10.0.0.0/24".into()), ("map_public_ip_on_launch", true.into())],
    )
    .await;
    let ssh = create(&cx, "security_group", "ssh", &[("vpc", vpc_id.clone())]).await;
    let admin = create(&cx, "security_group", "admin", &[("vpc", vpc_id.clone())]).await;
    let public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEHwmVXgMOiDA15NBvOau33Ox19BHta3IgYGbDpn+IF ops@example";
    let key = create(&cx, "key_pair", "key", &[("public_key", public_key.into())]).await;

    let mut given = vec![
        ("ami", Value::str(format!("resolve:ssm:{PARAMETER}"))),
        ("subnet", Value::str(public.pid())),
        ("security_groups", strs(&[ssh.pid()])),
        ("key_name", key.attr("name")),
        ("user_data", USER_DATA.into()),
        ("root_volume", map(&[("size_gb", Value::Int(10))])),
    ];
    let mut bastion = create(&cx, "instance", "bastion", &given).await;
    let id = bastion.pid().to_owned();

    // What read_many does not report is what the planner takes from the state: the launch settings.
    let unreported: Vec<&String> = bastion.applied.keys().filter(|k| !bastion.live.props.contains_key(*k)).collect();
    assert_eq!(unreported, ["ami", "associate_public_ip", "user_data"]);
    assert_eq!(
        bastion.live.props["metadata"],
        map(&[("hop_limit", Value::Int(1)), ("http_tokens", "required".into())])
    );
    assert_eq!(
        bastion.live.props["root_volume"],
        map(&[("encrypted", true.into()), ("size_gb", Value::Int(10)), ("type", "gp3".into())])
    );

    // The image is the parameter's value, one DescribeImages knows.
    let ssm = cx.client(aws_sdk_ssm::Client::new);
    let parameter = ssm.get_parameter().name(PARAMETER).send().await.unwrap();
    let image = parameter.parameter().and_then(|p| p.value()).unwrap().to_owned();
    assert_eq!(bastion.attr("image_id"), Value::str(&image));
    assert_eq!(bastion.attr("public_ip"), Value::str(""), "no public address in a public subnet unless asked");
    assert!(bastion.attr("private_ip").as_str().is_some_and(|ip| ip.starts_with("10.0.0.")));
    assert!(bastion.attr("availability_zone").as_str().is_some_and(|z| z.starts_with("us-east-1")));

    // As AWS has it: IMDSv2, user data in base64, the root volume encrypted and tagged.
    let described = ec2.describe_instances().instance_ids(&id).send().await.unwrap();
    let instance = &described.reservations()[0].instances()[0];
    let metadata = instance.metadata_options().unwrap();
    assert_eq!(metadata.http_tokens(), Some(&HttpTokensState::Required));
    assert_eq!(metadata.http_put_response_hop_limit(), Some(1));
    let user_data = ec2
        .describe_instance_attribute()
        .instance_id(&id)
        .attribute(InstanceAttributeName::UserData)
        .send()
        .await
        .unwrap();
    let sent = user_data.user_data().and_then(|u| u.value()).unwrap();
    assert_eq!(aws_smithy_types::base64::decode(sent).unwrap(), USER_DATA.as_bytes());
    let volumes = ec2
        .describe_volumes()
        .filters(Filter::builder().name("attachment.instance-id").values(&id).build())
        .send()
        .await
        .unwrap();
    let root = &volumes.volumes()[0];
    assert_eq!(root.encrypted(), Some(true));
    let volume_tags: Tags =
        root.tags().iter().map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned())).collect();
    assert_eq!(volume_tags, owned_tags("bastion"), "the root volume carries the instance's tags");

    // A create sent again with the same token (a lost answer) gets the same instance.
    let tags = owned_tags("bastion");
    let again = bastion
        .kind
        .create(&cx, &CreateReq { id: "bastion", props: &bastion.applied, tags: &tags, token: "bastion-token" })
        .await
        .unwrap();
    assert_eq!(again.physical_id, id);
    let ours = ec2
        .describe_instances()
        .filters(Filter::builder().name(format!("tag:{TAG_ID}")).values("bastion").build())
        .send()
        .await
        .unwrap();
    assert_eq!(ours.reservations().iter().flat_map(|r| r.instances()).count(), 1, "one instance after the resend");

    // In place: security groups and the hop limit; then the type (stop, change, start).
    given[2] = ("security_groups", strs(&[admin.pid(), ssh.pid()]));
    given.push(("metadata", map(&[("hop_limit", Value::Int(2))])));
    let changed = update(&cx, &mut bastion, &given).await;
    assert_eq!(changed, ["metadata", "security_groups"]);
    given.push(("instance_type", "t3.small".into()));
    assert_eq!(update(&cx, &mut bastion, &given).await, ["instance_type"]);
    assert_eq!(bastion.pid(), id, "changed in place, not replaced");
    assert_eq!(bastion.live.props["instance_type"], Value::str("t3.small"));

    // The bastion's address: associated at create.
    let mut eip = create(&cx, "elastic_ip", "bastion_ip", &[("instance", Value::str(&id))]).await;
    assert_eq!(associated_instance(&cx, eip.pid()).await.as_deref(), Some(id.as_str()));
    assert!(eip.attr("association_id").as_str().is_some_and(|a| a.starts_with("eipassoc-")));
    let now = read(&cx, bastion.kind, &[], &id).await.unwrap();
    assert_eq!(now.attrs["public_ip"], eip.attr("public_ip"), "the instance's public address is the Elastic IP");

    // Moved off the instance, then back.
    update(&cx, &mut eip, &[]).await;
    assert_eq!(associated_instance(&cx, eip.pid()).await, None);
    update(&cx, &mut eip, &[("instance", Value::str(&id))]).await;
    assert_eq!(associated_instance(&cx, eip.pid()).await.as_deref(), Some(id.as_str()));

    // The address first (disassociated before release: the strict local AWS refuses to release
    // an associated address, as AWS does), then the instance, then what it held.
    delete(&cx, &eip).await;
    delete(&cx, &bastion).await;
    for r in [&admin, &ssh, &public, &key, &vpc] {
        delete(&cx, r).await;
    }
}
