//! The executor against mocked AWS clients: retries, lookups after lost answers, checkpoints.

use aws_sdk_ec2::operation::delete_subnet::{DeleteSubnetError, DeleteSubnetOutput};
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;

use super::*;
use crate::aws::WaitConfig;

fn delete_plan(id: &str, kind: &str, pid: &str) -> (Plan, State) {
    let mut state = State::new("s", "us-east-1");
    state.resources.insert(
        id.into(),
        ResourceState {
            kind: kind.into(),
            physical_id: pid.into(),
            properties: Props::new(),
            attributes: Props::new(),
            tags: Tags::new(),
            depends_on: vec![],
        },
    );
    let change = Change {
        id: id.into(),
        kind: kind.into(),
        action: Action::Delete,
        physical_id: Some(pid.into()),
        diffs: vec![],
        reason: None,
        attrs: Props::new(),
        unchanged: 0,
    };
    let plan = Plan {
        stack: "s".into(),
        lineage: None,
        serial: None,
        changes: vec![change],
        unmanaged: vec![],
        other_deployments: Default::default(),
        outputs: Default::default(),
        imports: Default::default(),
    };
    (plan, state)
}

/// The retry loop meets DependencyViolation here from a mocked EC2 client (twice, then the
/// subnet goes) while a deleted load balancer's ENI lingers in the subnet, and must report
/// each retry with its reason.
#[tokio::test(start_paused = true)]
async fn delete_retries_dependency_violation_with_backoff_and_reports_each_retry() {
    let violation = || {
        let meta = ErrorMetadata::builder()
            .code("DependencyViolation")
            .message("The subnet 'subnet-1' has dependencies and cannot be deleted.")
            .build();
        DeleteSubnetError::generic(meta)
    };
    let delete = mock!(aws_sdk_ec2::Client::delete_subnet)
        .sequence()
        .error(violation)
        .times(2)
        .output(|| DeleteSubnetOutput::builder().build())
        .build();
    // What the subnet's delete looks up after each refusal.
    let lingering = mock!(aws_sdk_ec2::Client::describe_network_interfaces).then_output(|| {
        let eni = aws_sdk_ec2::types::NetworkInterface::builder()
            .network_interface_id("eni-1")
            .requester_managed(true)
            .description("ELB app/web/0123")
            .build();
        DescribeNetworkInterfacesOutput::builder().network_interfaces(eni).build()
    });
    let instances =
        mock!(aws_sdk_ec2::Client::describe_instances).then_output(|| DescribeInstancesOutput::builder().build());
    let nat_gateways =
        mock!(aws_sdk_ec2::Client::describe_nat_gateways).then_output(|| DescribeNatGatewaysOutput::builder().build());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&delete, &lingering, &instances, &nat_gateways]);
    let cx = Cx::new("s", aws_config::SdkConfig::builder().build(), WaitConfig::default()).with_client(client);
    let (plan, state) = delete_plan("private_a", "subnet", "subnet-1");
    let seen: Arc<Mutex<Vec<(String, String, Duration)>>> = Arc::default();
    let sink = seen.clone();
    let progress: Progress = Arc::new(move |e: Event<'_>| {
        if let Event::Retrying { id, error, after, .. } = e {
            sink.lock().unwrap().push((id.to_owned(), error.to_string(), after));
        }
    });
    let backend = Arc::new(crate::store::Unrecorded::default());
    let (_cancel, rx) = watch::channel(false);
    let stack = crate::teardown::empty_stack(&crate::kinds::KINDS, "us-east-1");
    let (state, outcome) =
        execute(Arc::new(cx), &stack, &plan, state, backend, ApplyConfig::default(), progress, rx).await.unwrap();
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(delete.num_calls(), 3);
    assert_eq!(outcome.retries, 2);
    assert_eq!(outcome.retried["private_a"].0, 2);
    assert!(outcome.retried["private_a"].1.contains("DependencyViolation"), "{outcome:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|(id, e, _)| id == "private_a"
        && e.starts_with("in use: DependencyViolation")
        && e.ends_with("Waiting for AWS to release eni-1 of \"ELB app/web/0123\".")));
    assert!(seen[1].2 > seen[0].2, "backoff grows: {seen:?}");
    assert!(state.resources.is_empty(), "the deletion is checkpointed");
}

/// The SDK's standard retry, as `aws::load_sdk_config` sets it (8 attempts), with backoffs
/// short enough for a test.
fn sdk_retry(c: aws_sdk_ec2::config::Builder) -> aws_sdk_ec2::config::Builder {
    c.retry_config(
        aws_sdk_ec2::config::retry::RetryConfig::standard()
            .with_max_attempts(8)
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(5)),
    )
}

fn ec2_error(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(format!("{code} (mocked)")).build()
}

/// Runs `plan` through the executor with `client` for EC2; what happened, and the state after.
async fn run(
    client: aws_sdk_ec2::Client,
    stack: &Stack,
    plan: &Plan,
    state: State,
    cfg: ApplyConfig,
) -> (State, Outcome) {
    let cx = Cx::new(&stack.name, aws_config::SdkConfig::builder().build(), WaitConfig::default()).with_client(client);
    let backend = Arc::new(crate::store::Unrecorded::default());
    let (_cancel, rx) = watch::channel(false);
    let progress: Progress = Arc::new(|_: Event<'_>| {});
    execute(Arc::new(cx), stack, plan, state, backend, cfg, progress, rx).await.unwrap()
}

/// A stack of one VPC, its new state and the plan that creates it.
fn vpc_to_create() -> (Stack, Plan, State) {
    let text = "stack: s\nregion: us-east-1\nresources:\n  vpc: { type: vpc, cidr: 10.0.0.0/16 }\n";
    let stack =
        crate::stack::load_str(&crate::kinds::KINDS, crate::stack::Source::new("s.yaml", text), &Default::default())
            .unwrap_or_else(|(_, d)| panic!("{d:?}"));
    let graph = crate::graph::Graph::build(&stack).unwrap();
    let mut state = State::new("s", "us-east-1");
    state.lineage = "lin-1".into();
    let plan = crate::plan::plan(&stack, &graph, Some(&state), &Default::default());
    assert_eq!(plan.changes[0].action, Action::Create);
    (stack, plan, state)
}

fn our_vpc() -> aws_sdk_ec2::types::Vpc {
    use aws_sdk_ec2::types::Tag;
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    aws_sdk_ec2::types::Vpc::builder()
        .vpc_id("vpc-1")
        .cidr_block("10.0.0.0/16")
        .tags(tag("rprov:stack", "s"))
        .tags(tag("rprov:id", "vpc"))
        .tags(tag("rprov:lineage", "lin-1"))
        .build()
}

fn short_window() -> ApplyConfig {
    let mut cfg = ApplyConfig::default();
    cfg.retry.lost_create_window = Duration::from_secs(5);
    cfg
}

/// One retry layer: a throttled delete is the SDK's to retry (8 attempts), and the executor
/// does not run that again (it did: 8 x 8 = 64 sends).
#[tokio::test(start_paused = true)]
async fn a_throttled_call_is_sent_as_often_as_the_sdk_tries_and_no_more() {
    let delete = mock!(aws_sdk_ec2::Client::delete_subnet)
        .sequence()
        .error(|| DeleteSubnetError::generic(ec2_error("RequestLimitExceeded")))
        .times(20)
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&delete], sdk_retry);
    let (plan, state) = delete_plan("private_a", "subnet", "subnet-1");
    let (state, outcome) = run(
        client,
        &crate::teardown::empty_stack(&crate::kinds::KINDS, "us-east-1"),
        &plan,
        state,
        ApplyConfig::default(),
    )
    .await;
    println!("throttled DeleteSubnet: {} sends, {} executor retries", delete.num_calls(), outcome.retries);
    assert_eq!(delete.num_calls(), 8);
    assert_eq!(outcome.retries, 0);
    assert!(outcome.failed[0].1.contains("RequestLimitExceeded"), "{outcome:?}");
    assert!(state.resources.contains_key("private_a"), "still recorded: not deleted");
}

/// A permanent error fails at once: one send, AWS's message.
#[tokio::test(start_paused = true)]
async fn a_refused_create_is_sent_once() {
    use aws_sdk_ec2::operation::create_vpc::CreateVpcError;
    let create = mock!(aws_sdk_ec2::Client::create_vpc)
        .then_error(|| CreateVpcError::generic(ec2_error("InvalidParameterValue")));
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&create], sdk_retry);
    let (stack, plan, state) = vpc_to_create();
    let (_, outcome) = run(client, &stack, &plan, state, short_window()).await;
    assert_eq!(create.num_calls(), 1);
    assert_eq!(outcome.retries, 0);
    assert!(outcome.failed[0].1.contains("InvalidParameterValue"), "{outcome:?}");
}

/// A throttled token-less create was refused (nothing happened): the SDK sends it again, no
/// lookup needed; the executor sees only the success.
#[tokio::test(start_paused = true)]
async fn a_throttled_create_without_token_is_retried_by_the_sdk() {
    use aws_sdk_ec2::operation::create_vpc::{CreateVpcError, CreateVpcOutput};
    use aws_sdk_ec2::operation::modify_vpc_attribute::ModifyVpcAttributeOutput;
    let create = mock!(aws_sdk_ec2::Client::create_vpc)
        .sequence()
        .error(|| CreateVpcError::generic(ec2_error("RequestLimitExceeded")))
        .output(|| CreateVpcOutput::builder().vpc(our_vpc()).build())
        .build();
    let modify = mock!(aws_sdk_ec2::Client::modify_vpc_attribute)
        .sequence()
        .output(|| ModifyVpcAttributeOutput::builder().build())
        .times(2)
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&create, &modify], sdk_retry);
    let (stack, plan, state) = vpc_to_create();
    let (state, outcome) = run(client, &stack, &plan, state, short_window()).await;
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(create.num_calls(), 2);
    assert_eq!(outcome.retries, 0);
    assert_eq!(state.resources["vpc"].physical_id, "vpc-1");
}

/// A token-less create whose answer is lost (a 500: it may have landed) is never sent blindly
/// again: neither by the SDK nor by the executor, which looks for it by its ownership tags
/// until it shows up, adopts it, and completes it (the DNS attributes its describe does not
/// report are applied, not assumed).
#[tokio::test(start_paused = true)]
async fn an_unanswered_create_is_looked_up_until_it_shows_and_is_completed_not_resent() {
    use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
    use aws_sdk_ec2::operation::modify_vpc_attribute::ModifyVpcAttributeOutput;
    let create = mock!(aws_sdk_ec2::Client::create_vpc).sequence().http_status(500, None).build();
    // Eventually consistent: not visible to the first two lookups.
    let describe = mock!(aws_sdk_ec2::Client::describe_vpcs)
        .sequence()
        .output(|| DescribeVpcsOutput::builder().build())
        .times(2)
        .output(|| DescribeVpcsOutput::builder().vpcs(our_vpc()).build())
        .repeatedly()
        .build();
    let modify = mock!(aws_sdk_ec2::Client::modify_vpc_attribute)
        .sequence()
        .output(|| ModifyVpcAttributeOutput::builder().build())
        .times(2)
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&create, &describe, &modify], sdk_retry);
    let (stack, plan, state) = vpc_to_create();
    let (state, outcome) = run(client, &stack, &plan, state, short_window()).await;
    println!(
        "lost CreateVpc: {} create sends, {} lookups, {} attribute calls",
        create.num_calls(),
        describe.num_calls(),
        modify.num_calls()
    );
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(create.num_calls(), 1, "never sent twice");
    assert!(describe.num_calls() >= 3);
    assert_eq!(modify.num_calls(), 2, "enable_dns_support and enable_dns_hostnames applied to the adopted VPC");
    assert_eq!(state.resources["vpc"].physical_id, "vpc-1");
}

/// Not there after the whole window: the create is sent again (once), and the lookups were
/// spread over the window, not one describe right after the failure.
#[tokio::test(start_paused = true)]
async fn an_unanswered_create_not_found_within_the_window_is_sent_again() {
    use aws_sdk_ec2::operation::create_vpc::CreateVpcOutput;
    use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
    use aws_sdk_ec2::operation::modify_vpc_attribute::ModifyVpcAttributeOutput;
    let create = mock!(aws_sdk_ec2::Client::create_vpc)
        .sequence()
        .http_status(500, None)
        .output(|| CreateVpcOutput::builder().vpc(our_vpc()).build())
        .build();
    let describe = mock!(aws_sdk_ec2::Client::describe_vpcs)
        .sequence()
        .output(|| DescribeVpcsOutput::builder().build())
        .repeatedly()
        .build();
    let modify = mock!(aws_sdk_ec2::Client::modify_vpc_attribute)
        .sequence()
        .output(|| ModifyVpcAttributeOutput::builder().build())
        .times(2)
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&create, &describe, &modify], sdk_retry);
    let (stack, plan, state) = vpc_to_create();
    let start = tokio::time::Instant::now();
    let (_, outcome) = run(client, &stack, &plan, state, short_window()).await;
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(create.num_calls(), 2);
    assert!(start.elapsed() >= Duration::from_secs(5), "waited the window: {:?}", start.elapsed());
    assert!(describe.num_calls() >= 4, "looked up repeatedly: {}", describe.num_calls());
    assert_eq!(outcome.retries, 1);
}
