//! The local AWS seen through the AWS SDK for Rust, as rprov's integration tests see it.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::{Credentials, Region};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::Filter;
use localaws::{Call, Config, Fault, Faults, LocalAws};

async fn ec2(aws: &LocalAws, retry: RetryConfig) -> Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(aws.endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "localaws"))
        .retry_config(retry)
        .load()
        .await;
    Client::new(&config)
}

fn call(operation: &str, status: u16, fault: Option<&str>) -> Call {
    Call { service: "ec2".into(), operation: operation.into(), status, fault: fault.map(str::to_owned) }
}

async fn user_vpcs(client: &Client) -> Vec<String> {
    let filter = Filter::builder().name("is-default").values("false").build();
    let vpcs = client.describe_vpcs().filters(filter).send().await.unwrap();
    vpcs.vpcs().iter().filter_map(|v| v.vpc_id().map(str::to_owned)).collect()
}

#[tokio::test]
async fn counting_matches_the_calls_made() {
    let aws = LocalAws::start();
    let client = ec2(&aws, RetryConfig::standard()).await;
    let vpc = client.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap();
    client.describe_vpcs().vpc_ids(vpc_id).send().await.unwrap();
    client.describe_vpcs().send().await.unwrap();
    let missing = client.delete_vpc().vpc_id("vpc-00000000000000000").send().await;
    assert!(missing.is_err());

    assert_eq!(
        aws.calls(),
        vec![
            call("CreateVpc", 200, None),
            call("DescribeVpcs", 200, None),
            call("DescribeVpcs", 200, None),
            call("DeleteVpc", 400, None),
        ]
    );
    assert_eq!(aws.count("ec2", "DescribeVpcs"), 2);
    aws.clear_calls();
    assert!(aws.calls().is_empty());
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_standard_retry() {
    let throttle_once = Faults::none().next("ec2", "DescribeVpcs", Fault::Throttle);
    let aws = LocalAws::builder().faults(throttle_once).start();
    let client = ec2(&aws, RetryConfig::standard()).await;

    client.describe_vpcs().send().await.unwrap();

    assert_eq!(aws.count("ec2", "DescribeVpcs"), 2);
    assert_eq!(aws.calls(), vec![call("DescribeVpcs", 503, Some("throttle")), call("DescribeVpcs", 200, None)]);
}

async fn faulted_indices(seed: u64) -> (Vec<usize>, Vec<usize>) {
    let aws = LocalAws::builder().faults(Faults::seeded(seed).throttle(0.3)).start();
    let client = ec2(&aws, RetryConfig::disabled()).await;
    let mut failed = Vec::new();
    for index in 0..30 {
        if let Err(error) = client.describe_vpcs().send().await {
            assert_eq!(error.code(), Some("RequestLimitExceeded"));
            failed.push(index);
        }
    }
    let recorded = aws.calls().iter().enumerate().filter(|(_, c)| c.fault.is_some()).map(|(i, _)| i).collect();
    (failed, recorded)
}

#[tokio::test]
async fn seeded_faults_are_reproducible() {
    let (first, recorded) = faulted_indices(7).await;
    assert_eq!(first, recorded);
    assert!(!first.is_empty() && first.len() < 30, "{first:?}");
    let (again, _) = faulted_indices(7).await;
    assert_eq!(first, again);
    let (other, _) = faulted_indices(8).await;
    assert_ne!(first, other);
}

/// Why rprov must not let the SDK retry a create that has no idempotency token: the first
/// CreateVpc reached AWS, its answer was lost, the SDK's standard retry sent it again.
#[tokio::test]
async fn reset_after_create_vpc_leaves_two_vpcs_with_the_sdk_retry() {
    let lose_answer = Faults::none().next("ec2", "CreateVpc", Fault::ResetAfter);
    let aws = LocalAws::builder().faults(lose_answer).start();
    let client = ec2(&aws, RetryConfig::standard()).await;

    let created = client.create_vpc().cidr_block("10.0.0.0/16").send().await;

    assert!(created.is_ok(), "the SDK retried and reported success");
    assert_eq!(user_vpcs(&client).await.len(), 2, "one VPC asked for, two exist");
    assert_eq!(aws.calls()[..2], [call("CreateVpc", 0, Some("reset_after")), call("CreateVpc", 200, None)]);
}

#[tokio::test]
async fn deleting_a_subnet_that_holds_a_nat_gateway_is_refused() {
    let aws = LocalAws::start();
    let client = ec2(&aws, RetryConfig::disabled()).await;
    let vpc = client.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap();
    let subnet = client.create_subnet().vpc_id(vpc_id).cidr_block("10.0.1.0/24").send().await.unwrap();
    let subnet_id = subnet.subnet().and_then(|s| s.subnet_id()).unwrap();
    let address = client.allocate_address().send().await.unwrap();
    let nat = client
        .create_nat_gateway()
        .subnet_id(subnet_id)
        .allocation_id(address.allocation_id().unwrap())
        .send()
        .await
        .unwrap();
    let nat_id = nat.nat_gateway().and_then(|n| n.nat_gateway_id()).unwrap();

    let refused = client.delete_subnet().subnet_id(subnet_id).send().await.unwrap_err();
    assert_eq!(refused.code(), Some("DependencyViolation"));
    assert_eq!(
        refused.message(),
        Some(format!("The subnet '{subnet_id}' has dependencies and cannot be deleted.").as_str())
    );

    client.delete_nat_gateway().nat_gateway_id(nat_id).send().await.unwrap();
    client.delete_subnet().subnet_id(subnet_id).send().await.unwrap();
}

#[tokio::test]
async fn configuration_changes_at_runtime_and_reset_empties_moto() {
    let aws = LocalAws::builder().lax().eventual("nat_gateway", 1).start();
    let client = ec2(&aws, RetryConfig::disabled()).await;
    client.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();

    aws.configure(&Config::new().faults(Faults::none().next("ec2", "*", Fault::ServerError)));
    let error = client.describe_vpcs().send().await.unwrap_err();
    assert_eq!(error.code(), Some("InternalError"));

    aws.reset();
    assert!(aws.calls().is_empty());
    assert!(user_vpcs(&client).await.is_empty());

    aws.configure(&Config::new().latency_ms(200));
    let started = std::time::Instant::now();
    client.describe_vpcs().send().await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
}

/// What a test that kills a client waits on: the calls it had sent, answered or landed.
#[tokio::test(flavor = "multi_thread")]
async fn a_call_held_by_latency_is_in_flight_until_answered() {
    let aws = LocalAws::builder().op_latency_ms("ec2", "CreateVpc", 2000).start();
    let client = ec2(&aws, RetryConfig::disabled()).await;
    assert_eq!(aws.inflight(), 0);
    let create = tokio::spawn(async move { client.create_vpc().cidr_block("10.0.0.0/16").send().await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while aws.count("ec2", "CreateVpc") == 0 {
        assert!(std::time::Instant::now() < deadline, "CreateVpc never arrived");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(aws.inflight(), 1);
    let timed_out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        aws.wait_idle(std::time::Duration::from_millis(50));
    }));
    let message = timed_out.unwrap_err();
    let message = message.downcast_ref::<String>().map(String::as_str).unwrap_or_default();
    assert!(message.starts_with("the local AWS still had 1 call(s) in flight: ec2 CreateVpc after "), "{message}");

    aws.wait_idle(std::time::Duration::from_secs(30));
    // Answered: moto has made the VPC, whether or not the client has read the answer yet.
    let vpcs = ec2(&aws, RetryConfig::disabled()).await;
    assert_eq!(user_vpcs(&vpcs).await.len(), 1);
    create.await.unwrap().unwrap();
    assert_eq!(aws.inflight(), 0);
}
