//! `rprov-bench network`: applies (then destroys) `stacks/network.yaml` against the strict local AWS with a fixed
//! latency on every call, and compares the wall time with the critical-path lower bound: the
//! longest chain of dependent operations, each weighted by the time it took in this very run.
//! A ratio near 1 means the scheduler lost no time to ordering or concurrency limits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use localaws::LocalAws;
use rprov::apply::{ApplyConfig, Event, Progress, execute};
use rprov::aws::{AwsSettings, Cx, WaitConfig, load_sdk_config};
use rprov::graph::Graph;
use rprov::kinds;
use rprov::plan::{LiveSet, plan};
use rprov::stack::{Imported, Inputs};
use rprov::state::State;
use rprov::store::{LocalBackend, StateBackend};
use rprov::value::Value;

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
        "data" => rt.block_on(data(100)),
        "portal" => rt.block_on(portal(100)),
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
            eprintln!("unknown benchmark `{other}`; available: network, data, portal, scale, s3state, push");
            std::process::exit(1);
        }
    }
}

pub(crate) async fn refresh(cx: &Cx, stack: &rprov::stack::Stack, state: Option<&State>) -> LiveSet {
    kinds::refresh(cx, stack, state).await.unwrap_or_else(|(k, e)| panic!("reading {k}: {e}"))
}

async fn network(latency_ms: u64) {
    let aws = LocalAws::builder().latency_ms(latency_ms).start();
    let stack = load(&repo().join("stacks/network.yaml"), &Inputs::default());
    let dir = std::env::temp_dir().join(format!("rprov-bench-{}", std::process::id()));
    let m = apply_measured(&aws, &stack, &dir).await;
    m.print("network", latency_ms);
    destroy_measured(&aws, &stack, &dir, m.state, "network").await;
    let _ = std::fs::remove_dir_all(dir);
}

/// `rprov-bench data`: seed 004's data tier (`examples/api-platform/data.yaml`) on its network
/// stack. The network is applied first without latency (it is the `network` benchmark's
/// subject); the data stack is then applied and re-planned with `latency_ms` on every call.
async fn data(latency_ms: u64) {
    let aws = LocalAws::start();
    let dir = std::env::temp_dir().join(format!("rprov-bench-{}", std::process::id()));
    let examples = repo().join("examples/api-platform");
    let net = load(&examples.join("network.yaml"), &Inputs::default());
    let net_outputs = network_outputs(&aws, &dir, &net).await;
    let mut inputs = Inputs::default();
    inputs.params.insert("cache_auth_token".into(), "bench-token-0123456789abcdef".into());
    inputs.imports.insert("net".into(), net_outputs);
    let stack = load(&examples.join("data.yaml"), &inputs);
    aws.configure(&localaws::Config::new().latency_ms(latency_ms));
    let m = apply_measured(&aws, &stack, &dir).await;
    m.print("data", latency_ms);
    destroy_measured(&aws, &stack, &dir, m.state, "data").await;
    let _ = std::fs::remove_dir_all(dir);
}

/// `rprov-bench portal`: seed 003's serverless app (`examples/portal/app.yaml`: functions
/// packaged from local code, HTTP API, custom domain, bucket notifications) on its network stack,
/// which is applied first without latency; the app is then applied and re-planned with
/// `latency_ms` on every call.
async fn portal(latency_ms: u64) {
    let aws = LocalAws::start();
    let dir = std::env::temp_dir().join(format!("rprov-bench-{}", std::process::id()));
    let examples = repo().join("examples/portal");
    let mut net_inputs = Inputs::default();
    net_inputs.params.insert(
        "bastion_public_key".into(),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEHwmVXgMOiDA15NBvOau33Ox19BHta3IgYGbDpn+IF bench@example".into(),
    );
    let net = load(&examples.join("network.yaml"), &net_inputs);
    let net_outputs = network_outputs(&aws, &dir, &net).await;
    let mut inputs = Inputs::default();
    inputs.params.insert("account_id".into(), "123456789012".into());
    inputs.imports.insert("net".into(), net_outputs);
    let stack = load(&examples.join("app.yaml"), &inputs);
    aws.configure(&localaws::Config::new().latency_ms(latency_ms));
    let m = apply_measured(&aws, &stack, &dir).await;
    m.print("portal", latency_ms);
    destroy_measured(&aws, &stack, &dir, m.state, "portal").await;
    let _ = std::fs::remove_dir_all(dir);
}

/// The stack at `path`, with what its kinds compute from local files (a function's package
/// hash) bound, as the CLI does before planning.
fn load(path: &std::path::Path, inputs: &Inputs) -> rprov::stack::Stack {
    let mut stack = rprov::stack::load_file(&rprov::kinds::KINDS, path, inputs)
        .unwrap_or_else(|(_, d)| panic!("{} must be valid: {d:?}", path.display()));
    let base = base_of(&stack);
    let (problems, _) = kinds::bind_local(&mut stack, &base, None, false);
    assert!(problems.is_empty(), "{problems:?}");
    stack
}

/// The directory local files named in the stack are relative to: the stack file's.
fn base_of(stack: &rprov::stack::Stack) -> PathBuf {
    std::path::Path::new(&stack.source.name).parent().map_or_else(|| PathBuf::from("."), std::path::Path::to_owned)
}

struct Measured {
    resources: usize,
    kinds: usize,
    apply_calls: std::collections::BTreeMap<(String, String), usize>,
    wall: Duration,
    critical: Duration,
    plan_calls: std::collections::BTreeMap<(String, String), usize>,
    state: State,
}

impl Measured {
    fn print(&self, name: &str, latency_ms: u64) {
        println!("{name} stack, {} resources, {latency_ms} ms injected latency per call", self.resources);
        for (what, calls) in [("apply", &self.apply_calls), ("re-plan", &self.plan_calls)] {
            println!("{what}: {} AWS calls", calls.values().sum::<usize>());
            for ((svc, op), n) in calls {
                println!("  {svc}:{op} {n}");
            }
        }
        let ratio = self.wall.as_secs_f64() / self.critical.as_secs_f64().max(1e-9);
        println!(
            "bench {name}: apply_s={:.2} critical_path_s={:.2} ratio={:.2} plan_calls={} kinds={}",
            self.wall.as_secs_f64(),
            self.critical.as_secs_f64(),
            ratio,
            self.plan_calls.values().sum::<usize>(),
            self.kinds
        );
    }
}

/// Applies `stack` from nothing, times it against the critical-path bound (each resource
/// weighted by its own measured duration), then refreshes and re-plans it (which must be
/// empty), counting that plan's AWS calls.
async fn apply_measured(aws: &LocalAws, stack: &rprov::stack::Stack, dir: &std::path::Path) -> Measured {
    let graph = Graph::build(stack).expect("graph");
    let cx = context(aws, stack).await;
    let backend = Arc::new(LocalBackend::for_stack(dir, &stack.name));

    let live = refresh(&cx, stack, None).await;
    let p = plan(stack, &graph, None, &live);
    let spans: Arc<Mutex<Spans>> = Arc::default();
    let progress = timed(spans.clone());
    let (_tx, rx) = tokio::sync::watch::channel(false);
    aws.clear_calls();
    let start = Instant::now();
    let (state, outcome) = execute(
        cx.clone(),
        stack,
        &p,
        State::new(&stack.name, &stack.region),
        backend.clone(),
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
    let critical = longest(graph.order(), |id| stack.resources[id].dependencies(), dur);

    aws.clear_calls();
    let live = refresh(&cx, stack, Some(&state)).await;
    let replan = plan(stack, &graph, Some(&state), &live);
    assert!(!replan.has_changes(), "re-plan after apply is not empty");
    let plan_calls = aws.count_by_operation();
    let kinds_n = {
        let mut k: Vec<&str> = stack.resources.values().map(|r| r.kind_name()).collect();
        k.sort_unstable();
        k.dedup();
        k.len()
    };
    Measured { resources: stack.resources.len(), kinds: kinds_n, apply_calls, wall, critical, plan_calls, state }
}

/// Destroys what `state` records of `stack`, as `rprov destroy` does (the stack emptied,
/// planned against the state), and times it against its bound: a delete may start once
/// everything depending on it is deleted, so the bound is the longest chain of dependents,
/// each weighted by its own measured delete. Prints the figures.
async fn destroy_measured(
    aws: &LocalAws,
    stack: &rprov::stack::Stack,
    dir: &std::path::Path,
    state: State,
    name: &str,
) {
    let graph = Graph::build(stack).expect("graph");
    let cx = context(aws, stack).await;
    let backend = Arc::new(LocalBackend::for_stack(dir, &stack.name));
    // The backend writes over what it read last.
    backend.read().await.expect("state");
    let mut empty = stack.clone();
    empty.resources.clear();
    empty.outputs.clear();
    let empty_graph = Graph::build(&empty).expect("graph");
    let live = refresh(&cx, &empty, Some(&state)).await;
    let p = plan(&empty, &empty_graph, Some(&state), &live);
    let spans: Arc<Mutex<Spans>> = Arc::default();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    aws.clear_calls();
    let start = Instant::now();
    let (_, outcome) =
        execute(cx.clone(), &empty, &p, state, backend, ApplyConfig::default(), timed(spans.clone()), rx)
            .await
            .expect("state");
    let wall = start.elapsed();
    assert!(outcome.ok(), "destroy failed: {:?}", outcome.failed);
    let calls = aws.count_by_operation();
    let spans = spans.lock().unwrap().clone();
    let dur = |id: &str| spans.get(id).and_then(|(s, e)| e.map(|e| e - *s)).unwrap_or_default();
    let dependents = |id: &str| {
        stack
            .resources
            .iter()
            .filter(|(_, r)| r.dependencies().iter().any(|d| d == id))
            .map(|(d, _)| d.clone())
            .collect()
    };
    let critical = longest(graph.order().into_iter().rev(), dependents, dur);
    println!("destroy: {} AWS calls", calls.values().sum::<usize>());
    for ((svc, op), n) in &calls {
        println!("  {svc}:{op} {n}");
    }
    println!(
        "bench {name}: destroy_s={:.2} destroy_critical_path_s={:.2} ratio={:.2} destroy_calls={}",
        wall.as_secs_f64(),
        critical.as_secs_f64(),
        wall.as_secs_f64() / critical.as_secs_f64().max(1e-9),
        calls.values().sum::<usize>(),
    );
}

/// The context the benchmarks' runs use: the local AWS's endpoint, quick polls.
async fn context(aws: &LocalAws, stack: &rprov::stack::Stack) -> Arc<Cx> {
    let settings = AwsSettings { endpoint_url: Some(aws.endpoint()), ..Default::default() };
    let sdk = load_sdk_config(&settings, &stack.region).await;
    let wait = WaitConfig { poll: Duration::from_millis(200), ..WaitConfig::default() };
    Arc::new(Cx::new(&stack.name, sdk, wait).with_base(&base_of(stack)))
}

/// The longest chain of operations, each weighted by its measured `dur`: `order` lists each
/// operation after every one that must finish before it (`before`).
fn longest(
    order: impl IntoIterator<Item = String>,
    before: impl Fn(&str) -> Vec<String>,
    dur: impl Fn(&str) -> Duration,
) -> Duration {
    let mut finish: HashMap<String, Duration> = HashMap::new();
    for id in order {
        let ready = before(&id).iter().filter_map(|d| finish.get(d)).max().copied().unwrap_or_default();
        finish.insert(id.clone(), ready + dur(&id));
    }
    finish.values().max().copied().unwrap_or_default()
}

/// Applies a network stack (without latency) and returns its outputs, as a stack importing
/// it as `net` reads them.
async fn network_outputs(aws: &LocalAws, dir: &std::path::Path, net: &rprov::stack::Stack) -> Imported {
    let net_state = apply_measured(aws, net, dir).await.state;
    let lookup = |r: &rprov::expr::Ref| {
        net_state.resources.get(&r.target).and_then(|rs| rs.attributes.get(&r.attr)).cloned().unwrap_or(Value::Unknown)
    };
    let outputs = net.outputs.iter().map(|(k, e)| (k.clone(), e.resolve(&lookup))).collect();
    Imported::Read { location: "bench".into(), outputs }
}

/// Per logical id: when its operation (create, update or delete) started and ended.
type Spans = HashMap<String, (Instant, Option<Instant>)>;

/// Progress that records each operation's span into `spans`.
fn timed(spans: Arc<Mutex<Spans>>) -> Progress {
    Arc::new(move |e: Event<'_>| match e {
        Event::Started { id, .. } => {
            spans.lock().unwrap().insert(id.to_owned(), (Instant::now(), None));
        }
        Event::Done { id, .. } => {
            if let Some(s) = spans.lock().unwrap().get_mut(id) {
                s.1 = Some(Instant::now());
            }
        }
        Event::Failed { id, error, .. } => eprintln!("{id}: {error}"),
        _ => {}
    })
}
