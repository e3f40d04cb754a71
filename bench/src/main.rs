//! `rprov-bench network`: applies `stacks/network.yaml` against the strict local AWS with a fixed
//! latency on every call, and compares the wall time with the critical-path lower bound: the
//! longest chain of dependent operations, each weighted by the time it took in this very run.
//! A ratio near 1 means the scheduler lost no time to ordering or concurrency limits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use localaws::LocalAws;
use rprov::apply::{ApplyConfig, Event, Progress, Step, execute};
use rprov::aws::{AwsSettings, Cx, WaitConfig, load_sdk_config};
use rprov::graph::Graph;
use rprov::kinds;
use rprov::plan::{LiveSet, plan};
use rprov::state::State;
use rprov::store::LocalBackend;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

mod push;
mod s3state;
mod scale;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "network".into());
    // Set before any thread exists: the SDK's default chain reads them.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    match which.as_str() {
        "network" => rt.block_on(network(100)),
        "scale" => rt.block_on(scale::run()),
        "s3state" => rt.block_on(s3state::run()),
        "push" => push::run(),
        "scale-measure" => scale::measure(std::path::Path::new(&std::env::args().nth(2).expect("dir"))),
        // Writes the inputs of `scale-measure` for N resources, to profile it on its own.
        "scale-gen" => {
            let n = std::env::args().nth(2).and_then(|n| n.parse().ok()).expect("resources");
            scale::generate(n, std::path::Path::new(&std::env::args().nth(3).expect("dir")));
        }
        other => {
            eprintln!("unknown benchmark `{other}`; available: network, scale, s3state, push");
            std::process::exit(1);
        }
    }
}

pub(crate) async fn refresh(cx: &Cx, stack: &rprov::stack::Stack, state: Option<&State>) -> LiveSet {
    kinds::refresh(cx, stack, state).await.unwrap_or_else(|(k, e)| panic!("reading {k}: {e}"))
}

async fn network(latency_ms: u64) {
    let aws = LocalAws::builder().latency_ms(latency_ms).start();
    let path = repo().join("stacks/network.yaml");
    let stack = rprov::stack::load(&rprov::kinds::KINDS, &path, &Default::default())
        .unwrap_or_else(|_| panic!("{} must be valid", path.display()));
    let graph = Graph::build(&stack).expect("graph");
    let settings = AwsSettings { endpoint_url: Some(aws.endpoint()), ..Default::default() };
    let sdk = load_sdk_config(&settings, &stack.region).await;
    let wait = WaitConfig { poll: Duration::from_millis(200), ..WaitConfig::default() };
    let cx = Arc::new(Cx::new(&stack.name, sdk, wait));
    let dir = std::env::temp_dir().join(format!("rprov-bench-{}", std::process::id()));
    let backend = Arc::new(LocalBackend::for_stack(&dir, &stack.name));

    let live = refresh(&cx, &stack, None).await;
    let p = plan(&stack, &graph, None, &live);
    // Per logical id: when its create or update started and ended.
    type Spans = HashMap<String, (Instant, Option<Instant>)>;
    let spans: Arc<Mutex<Spans>> = Arc::default();
    let s2 = spans.clone();
    let progress: Progress = Arc::new(move |e: Event<'_>| match e {
        Event::Started { id, step: Step::Up(_) } => {
            s2.lock().unwrap().insert(id.to_owned(), (Instant::now(), None));
        }
        Event::Done { id, step: Step::Up(_), .. } => {
            if let Some(s) = s2.lock().unwrap().get_mut(id) {
                s.1 = Some(Instant::now());
            }
        }
        Event::Failed { id, error, .. } => eprintln!("{id}: {error}"),
        _ => {}
    });
    let (_tx, rx) = tokio::sync::watch::channel(false);
    aws.clear_calls();
    let start = Instant::now();
    let (state, outcome) = execute(
        cx.clone(),
        &stack,
        &p,
        State::new(&stack.name, &stack.region),
        backend,
        ApplyConfig::default(),
        progress,
        rx,
    )
    .await
    .expect("state");
    let wall = start.elapsed();
    assert!(outcome.ok(), "apply failed: {:?}", outcome.failed);
    let apply_calls = aws.count_by_operation();

    // Longest path through the DAG, each resource weighted by its own measured duration.
    let spans = spans.lock().unwrap().clone();
    let dur = |id: &str| spans.get(id).and_then(|(s, e)| e.map(|e| e - *s)).unwrap_or_default();
    let mut finish: HashMap<String, Duration> = HashMap::new();
    for id in graph.order() {
        let deps = stack.resources[&id].dependencies();
        let ready = deps.iter().filter_map(|d| finish.get(d)).max().copied().unwrap_or_default();
        finish.insert(id.clone(), ready + dur(&id));
    }
    let critical = finish.values().max().copied().unwrap_or_default();

    aws.clear_calls();
    let live = refresh(&cx, &stack, Some(&state)).await;
    let replan = plan(&stack, &graph, Some(&state), &live);
    assert!(!replan.has_changes(), "re-plan after apply is not empty");
    let plan_calls = aws.calls().len();
    let kinds_n = {
        let mut k: Vec<&str> = stack.resources.values().map(|r| r.kind_name()).collect();
        k.sort_unstable();
        k.dedup();
        k.len()
    };
    println!("network stack, {} resources, {} ms injected latency per call", stack.resources.len(), latency_ms);
    println!("apply: {} AWS calls", apply_calls.values().sum::<usize>());
    for ((svc, op), n) in &apply_calls {
        println!("  {svc}:{op} {n}");
    }
    let ratio = wall.as_secs_f64() / critical.as_secs_f64().max(1e-9);
    println!(
        "bench network: apply_s={:.2} critical_path_s={:.2} ratio={:.2} plan_calls={} kinds={}",
        wall.as_secs_f64(),
        critical.as_secs_f64(),
        ratio,
        plan_calls,
        kinds_n
    );
    let _ = std::fs::remove_dir_all(dir);
}
