//! `rprov-bench scale`: stacks of 1,000 and 10,000 resources (VPCs, gateways, subnets, route
//! tables, security groups whose rules reference each other). Measured in a child process so
//! the figures are rprov's alone: validate + graph + plan against a recorded state in which 1%
//! of the resources drifted — CPU time and peak RSS. Then a plan of the 1,000-resource stack,
//! applied first, against the strict local AWS with 50 ms per call: calls made and wall time.

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use localaws::{Config, LocalAws};
use rprov::graph::Graph;
use rprov::kinds::Live;
use rprov::plan::{LiveSet, desired_props, plan};
use rprov::stack::{Source, load_str};
use rprov::state::{ResourceState, State};
use rprov::value::Value;

/// Ten resources per cell.
pub fn stack_text(resources: usize) -> String {
    let cells = resources.div_ceil(10);
    let mut y = String::from("stack: scale\nregion: us-east-1\ntags: { team: bench }\nresources:\n");
    for c in 0..cells {
        let _ = write!(
            y,
            "  vpc{c}: {{ type: vpc, cidr: 10.{}.0.0/16 }}\n  igw{c}: {{ type: internet_gateway, vpc: '${{vpc{c}.id}}' }}\n",
            c % 250
        );
        for s in 0..4 {
            let _ = writeln!(
                y,
                "  sub{c}_{s}: {{ type: subnet, vpc: '${{vpc{c}.id}}', cidr: 10.{}.{s}.0/24, az: us-east-1a }}",
                c % 250
            );
        }
        let _ = writeln!(
            y,
            "  rt{c}:\n    type: route_table\n    vpc: ${{vpc{c}.id}}\n    routes: [{{ destination: 0.0.0.0/0, gateway: '${{igw{c}.id}}' }}]\n    subnets: ['${{sub{c}_0.id}}', '${{sub{c}_1.id}}', '${{sub{c}_2.id}}', '${{sub{c}_3.id}}']"
        );
        let _ = writeln!(
            y,
            "  lb{c}: {{ type: security_group, vpc: '${{vpc{c}.id}}', ingress: [{{ port: 443, cidr: 0.0.0.0/0 }}] }}\n  app{c}: {{ type: security_group, vpc: '${{vpc{c}.id}}', ingress: [{{ port: 8000, security_group: '${{lb{c}.id}}' }}] }}\n  db{c}: {{ type: security_group, vpc: '${{vpc{c}.id}}', ingress: [{{ port: 5432, security_group: '${{app{c}.id}}' }}] }}"
        );
    }
    y
}

/// A state recording the whole stack as applied (made-up physical ids), and live copies of
/// it in which every hundredth resource has a changed tag.
pub fn recorded(text: &str) -> (State, LiveSet) {
    let stack = load_str(&rprov::kinds::KINDS, Source::new("scale.yaml", text), &Default::default())
        .unwrap_or_else(|(_, d)| panic!("{:?}", &d[..1]));
    let graph = Graph::build(&stack).expect("graph");
    let mut state = State::new(&stack.name, &stack.region);
    let mut live = LiveSet::new();
    let mut attrs: std::collections::HashMap<String, rprov::value::Props> = Default::default();
    for (n, id) in graph.order().into_iter().enumerate() {
        let r = &stack.resources[&id];
        let pid = format!("{}-{n:08x}", r.kind_name());
        let lookup = |rf: &rprov::stack::Ref| {
            attrs.get(&rf.target).and_then(|a| a.get(&rf.attr)).cloned().unwrap_or(Value::Unknown)
        };
        let (props, tags) = desired_props(&stack, r, Some(&state.lineage), &lookup);
        let a: rprov::value::Props = [("id".to_owned(), Value::str(&pid))].into();
        attrs.insert(id.clone(), a.clone());
        let mut live_tags = tags.clone();
        if n % 100 == 0 {
            live_tags.insert("changed-by".into(), "hand".into());
        }
        live.entry(r.kind_name().to_owned()).or_default().push(Live {
            physical_id: pid.clone(),
            props: props.clone(),
            attrs: a.clone(),
            tags: live_tags,
        });
        state.resources.insert(
            id.clone(),
            ResourceState {
                kind: r.kind_name().into(),
                physical_id: pid,
                properties: props,
                attributes: a,
                tags,
                depends_on: r.dependencies(),
            },
        );
    }
    (state, live)
}

/// The files `measure` reads: the stack, its recorded state, and the live snapshot.
pub fn generate(resources: usize, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let text = stack_text(resources);
    let (state, live) = recorded(&text);
    std::fs::write(dir.join("stack.yaml"), &text).unwrap();
    std::fs::write(dir.join("state.json"), serde_json::to_vec(&state).unwrap()).unwrap();
    write_live(&dir.join("live.json"), &live);
}

fn cpu_seconds() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// The measured part, in its own process: read the stack, state and live snapshot as `rprov
/// plan` would (files), validate, build the graph, plan.
pub fn measure(dir: &Path) {
    let cpu0 = cpu_seconds();
    let text = std::fs::read_to_string(dir.join("stack.yaml")).unwrap();
    let state: State = serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    let live = read_live(&dir.join("live.json"));
    let read = cpu_seconds() - cpu0;
    let t0 = cpu_seconds();
    let stack = load_str(&rprov::kinds::KINDS, Source::new("scale.yaml", text), &Default::default())
        .unwrap_or_else(|_| panic!("invalid"));
    let graph = Graph::build(&stack).expect("graph");
    let p = plan(&stack, &graph, Some(&state), &live);
    let cpu = cpu_seconds() - t0;
    let changed = p.changes.iter().filter(|c| c.action != rprov::plan::Action::NoOp).count();
    println!("{} {cpu:.3} {read:.3} {:.1} {changed}", stack.resources.len(), peak_rss_mb());
}

fn write_live(path: &Path, live: &LiveSet) {
    let j: serde_json::Value = live
        .iter()
        .map(|(k, ls)| {
            let items: Vec<serde_json::Value> = ls
                .iter()
                .map(|l| serde_json::json!({"physical_id": l.physical_id, "props": l.props, "attrs": l.attrs, "tags": l.tags}))
                .collect();
            (k.clone(), serde_json::Value::Array(items))
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    std::fs::write(path, serde_json::to_vec(&j).unwrap()).unwrap();
}

fn read_live(path: &Path) -> LiveSet {
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut set = LiveSet::new();
    for (k, ls) in j.as_object().unwrap() {
        let items = ls
            .as_array()
            .unwrap()
            .iter()
            .map(|l| Live {
                physical_id: l["physical_id"].as_str().unwrap().to_owned(),
                props: serde_json::from_value(l["props"].clone()).unwrap(),
                attrs: serde_json::from_value(l["attrs"].clone()).unwrap(),
                tags: serde_json::from_value(l["tags"].clone()).unwrap(),
            })
            .collect();
        set.insert(k.clone(), items);
    }
    set
}

pub async fn run() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut last = (0, 0.0, 0.0);
    for n in [1_000, 10_000] {
        let dir = std::env::temp_dir().join(format!("rprov-scale-{}-{n}", std::process::id()));
        generate(n, &dir);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["scale-measure", dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let f: Vec<&str> = line.split(' ').collect();
        println!(
            "{} resources: validate+graph+plan cpu {} s (reading files {} s), peak RSS {} MB, {} changes planned (1% drifted)",
            f[0], f[1], f[2], f[3], f[4]
        );
        last = (n, f[1].parse().unwrap_or(0.0), f[3].parse().unwrap_or(0.0));
        let _ = std::fs::remove_dir_all(dir);
    }

    // The 1,000-resource stack applied to the strict local AWS, then planned at 50 ms a call.
    let aws = LocalAws::start();
    let text = stack_text(1_000);
    let stack = load_str(&rprov::kinds::KINDS, Source::new("scale.yaml", text), &Default::default())
        .unwrap_or_else(|_| panic!("invalid"));
    let graph = Graph::build(&stack).unwrap();
    let settings = rprov::aws::AwsSettings { endpoint_url: Some(aws.endpoint()), ..Default::default() };
    let sdk = rprov::aws::load_sdk_config(&settings, &stack.region).await;
    let cx = Arc::new(rprov::aws::Cx::new(&stack.name, sdk, Default::default()));
    let dir = std::env::temp_dir().join(format!("rprov-scale-apply-{}", std::process::id()));
    let backend = Arc::new(rprov::store::LocalBackend::for_stack(&dir, &stack.name));
    let live = crate::refresh(&cx, &stack, None).await;
    let p = plan(&stack, &graph, None, &live);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let t = Instant::now();
    let (state, outcome) = rprov::apply::execute(
        cx.clone(),
        &stack,
        &p,
        State::new(&stack.name, &stack.region),
        backend,
        Default::default(),
        Arc::new(|_| {}),
        rx,
    )
    .await
    .unwrap();
    assert!(outcome.ok(), "{:?}", &outcome.failed[..outcome.failed.len().min(3)]);
    println!("applied {} resources to the local AWS in {:.1} s", state.resources.len(), t.elapsed().as_secs_f64());
    aws.configure(&Config::new().latency_ms(50));
    aws.clear_calls();
    let t = Instant::now();
    let live = crate::refresh(&cx, &stack, Some(&state)).await;
    let replan = plan(&stack, &graph, Some(&state), &live);
    let wall = t.elapsed().as_secs_f64();
    let calls = aws.calls().len();
    let kinds = live.len();
    assert!(!replan.has_changes(), "re-plan of the applied 1,000-resource stack is not empty");
    println!(
        "plan of 1,000 applied resources at 50 ms per call: {calls} AWS calls for {kinds} kinds, {wall:.2} s wall"
    );
    let _ = std::fs::remove_dir_all(dir);
    println!(
        "bench scale: resources={} cpu_s={:.3} rss_mb={:.1} plan1000_calls={calls} plan1000_kinds={kinds} cores={cores} profile={}",
        last.0,
        last.1,
        last.2,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
}
