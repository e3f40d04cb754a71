//! A destroy that AWS refuses because something else sits in the stack's VPC fails at once,
//! naming the blocker and the way out, instead of retrying for the in-use deadline.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

use crate::support::{Ctx, owned, tag_filter};

/// Far below the 20 minutes a refusal used to be retried for; the whole destroy runs in this.
const FAST: Duration = Duration::from_secs(60);

/// The network stack applied from a copy in the test directory, and its VPC's id.
async fn applied_network(cx: &Ctx) -> (String, String) {
    let stack = cx.stack_copy("network.yaml", |t| t).display().to_string();
    cx.rprov(&["apply", &stack, "--yes"]).expect(0);
    let vpcs = cx.ec2().await.describe_vpcs().filters(tag_filter("network")).send().await.unwrap();
    let vpc = vpcs.vpcs()[0].vpc_id().unwrap().to_owned();
    (stack, vpc)
}

fn tags(resource: ResourceType, pairs: &[(&str, &str)]) -> TagSpecification {
    let tags = pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build());
    TagSpecification::builder().resource_type(resource).set_tags(Some(tags.collect())).build()
}

/// Runs `rprov destroy --yes`, which must fail within [`FAST`] without retrying the VPC's delete.
fn destroy_fails_fast(cx: &Ctx, stack: &str) -> (String, Duration) {
    let started = Instant::now();
    let d = cx.rprov(&["destroy", stack, "--yes"]);
    let took = started.elapsed();
    d.expect(1);
    assert!(took < FAST, "destroy took {took:?}\n{}", d.stdout);
    let retried_vpc = d.stdout.lines().filter(|l| l.contains("vpc:") && l.contains("will retry")).count();
    assert_eq!(retried_vpc, 0, "the VPC's delete was retried:\n{}", d.stdout);
    println!("destroy failed in {:.1}s:\n{}", took.as_secs_f64(), d.stderr.trim_end());
    (d.stderr.clone(), took)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_made_group_in_the_vpc_fails_destroy_at_once_naming_it() {
    let cx = Ctx::new();
    let (stack, vpc) = applied_network(&cx).await;
    let ec2 = cx.ec2().await;
    let made = ec2
        .create_security_group()
        .group_name("hand-made")
        .description("made by hand, no rprov tags")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let group = made.group_id().unwrap();

    let (stderr, took) = destroy_fails_fast(&cx, &stack);
    assert!(stderr.contains(&format!("security group {group} \"hand-made\" (no rprov tags)")), "{stderr}");
    assert!(stderr.contains("it is not rprov's: delete it (or move it out) by hand"), "{stderr}");
    let left = owned(&ec2, "network").await;
    assert_eq!(left, [("vpc", vpc.clone())], "all but the VPC is gone");

    ec2.delete_security_group().group_id(group).send().await.unwrap();
    cx.rprov(&["destroy", &stack, "--yes"]).expect(0);
    assert!(owned(&ec2, "network").await.is_empty());
    println!(
        "hand-made group {group} in {vpc}: destroy failed in {:.1}s naming it as not rprov's; \
         after deleting it by hand, destroy finished",
        took.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stray_route_table_of_the_stack_fails_destroy_at_once_and_teardown_removes_it() {
    let cx = Ctx::new();
    let (stack, vpc) = applied_network(&cx).await;
    let ec2 = cx.ec2().await;
    // What a run that crashed after CreateRouteTable leaves: the stack's tags, a logical id the
    // state does not have.
    let ownership = [("rprov:stack", "network"), ("rprov:id", "stray_routes"), ("Name", "stray")];
    let made = ec2
        .create_route_table()
        .vpc_id(&vpc)
        .tag_specifications(tags(ResourceType::RouteTable, &ownership))
        .send()
        .await
        .unwrap();
    let table = made.route_table().unwrap().route_table_id().unwrap();

    let (stderr, took) = destroy_fails_fast(&cx, &stack);
    assert!(
        stderr.contains(&format!("route table {table} \"stray\" (rprov:stack=network, rprov:id=stray_routes)")),
        "{stderr}"
    );
    assert!(stderr.contains("it was made for this stack but is not in its state"), "{stderr}");
    let teardown =
        "rprov teardown --stack network --tag rprov:id=stray_routes --account 123456789012 --region us-east-1";
    assert!(stderr.contains(&format!("`{teardown}` removes it")), "{stderr}");

    // The command the message gives takes the route table and nothing else.
    let args: Vec<&str> = teardown.split(' ').skip(1).chain(["--yes"]).collect();
    cx.rprov(&args).expect(0);
    let left = owned(&ec2, "network").await;
    assert_eq!(left, [("vpc", vpc.clone())], "teardown took only the stray table");
    cx.rprov(&["destroy", &stack, "--yes"]).expect(0);
    assert!(owned(&ec2, "network").await.is_empty());
    println!(
        "stray route table {table} tagged for the stack: destroy failed in {:.1}s pointing to `{teardown}`, \
         which removed it; destroy then finished",
        took.as_secs_f64()
    );
}
