//! `rprov-bench s3state`: applies `stacks/network.yaml` with its state in S3 (the strict local
//! AWS, bucket versioned) the way `rprov apply --state s3://...` does: lock, read, execute with
//! a checkpoint after every operation, unlock. Prints the checkpoint write latency (each a
//! conditional PutObject) and the S3 calls per applied resource.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use localaws::LocalAws;
use rprov::apply::{ApplyConfig, execute};
use rprov::aws::{AwsSettings, Cx, WaitConfig, load_sdk_config};
use rprov::graph::Graph;
use rprov::plan::plan;
use rprov::state::State;
use rprov::store::{LockInfo, Observed, S3Backend, S3Location, StateBackend};

pub async fn run() {
    let aws = LocalAws::start();
    let path = crate::repo().join("stacks/network.yaml");
    let stack = rprov::stack::load(&rprov::kinds::KINDS, &path, &Default::default())
        .unwrap_or_else(|_| panic!("{} is valid", path.display()));
    let graph = Graph::build(&stack).expect("graph");
    let settings = AwsSettings { endpoint_url: Some(aws.endpoint()), ..Default::default() };
    let sdk = load_sdk_config(&settings, &stack.region).await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    s3.create_bucket().bucket("bench-state").send().await.expect("bucket");
    let on = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning().bucket("bench-state").versioning_configuration(on).send().await.expect("versioning");
    let loc = S3Location::parse("s3://bench-state/envs/").expect("url");
    // Times every checkpoint write.
    let writes: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let timed = writes.clone();
    let backend = Arc::new(Observed::new(
        S3Backend::new(&loc, &stack.name, &settings, &stack.region, false),
        move |_: &State, took: Duration, _: bool| timed.lock().unwrap().push(took),
    ));
    let cx =
        Arc::new(Cx::new(&stack.name, sdk, WaitConfig { poll: Duration::from_millis(200), ..WaitConfig::default() }));

    aws.clear_calls();
    let info = LockInfo::new("apply");
    backend.lock(&info).await.expect("lock");
    let state = backend.read().await.expect("read");
    let live = crate::refresh(&cx, &stack, state.as_ref()).await;
    let p = plan(&stack, &graph, state.as_ref(), &live);
    let state = state.unwrap_or_else(|| State::new(&stack.name, &stack.region));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let (_, outcome) = execute(cx, &stack, &p, state, backend.clone(), ApplyConfig::default(), Arc::new(|_| {}), rx)
        .await
        .expect("state");
    backend.unlock(&info).await.expect("unlock");
    assert!(outcome.ok(), "apply failed: {:?}", outcome.failed);

    let calls = aws.calls();
    let s3_calls: Vec<_> = calls.iter().filter(|c| c.service == "s3").collect();
    let mut by_op = std::collections::BTreeMap::new();
    for c in &s3_calls {
        *by_op.entry(c.operation.as_str()).or_insert(0usize) += 1;
    }
    let writes = writes.lock().unwrap().clone();
    let n = outcome.done.len();
    let mean = writes.iter().sum::<Duration>().as_secs_f64() * 1000.0 / writes.len().max(1) as f64;
    let mut sorted = writes.clone();
    sorted.sort();
    let max = sorted.last().copied().unwrap_or_default().as_secs_f64() * 1000.0;
    println!("network stack with state in S3: {n} operations, {} checkpoint writes (group commit)", writes.len());
    for (op, k) in &by_op {
        println!("  s3:{op} {k}");
    }
    println!(
        "bench s3state: resources={n} checkpoint_ms={mean:.1} checkpoint_max_ms={max:.1} s3_calls_per_resource={:.2}",
        s3_calls.len() as f64 / n.max(1) as f64
    );
}
