//! `rprov-bench push`: `rprov apply` of a stack whose image has one 200 MB layer (incompressible;
//! `RPROV_BENCH_LAYER_MB` for another size),
//! against the strict local AWS, as a child process: wall time and ECR calls of the fresh push,
//! of an apply with nothing changed, and of a push whose layer the repository already has (a new
//! config on the same layer); rprov's peak RSS while pushing, against its peak on a stack
//! without an image (the layer is streamed in ECR's parts, never held whole).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use localaws::LocalAws;
use sha2::{Digest, Sha256};

/// The layer's size: 200 MB, or `RPROV_BENCH_LAYER_MB` (to show the peak RSS does not grow with it).
fn layer_mb() -> usize {
    std::env::var("RPROV_BENCH_LAYER_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

fn rprov_bin() -> PathBuf {
    std::env::current_exe().expect("own path").with_file_name("rprov")
}

/// Writes `bytes` as a blob of the layout; returns its descriptor JSON.
fn blob(dir: &Path, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    let hex = format!("{:x}", Sha256::digest(bytes));
    std::fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
    serde_json::json!({ "mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len() })
}

/// `mb` MB of pseudo-random (incompressible) bytes at `path`, hashed as written; its hex digest.
fn random_layer(path: &Path, mb: usize) -> String {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut hash = Sha256::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..mb {
        for b in chunk.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes());
        }
        hash.update(&chunk);
        file.write_all(&chunk).unwrap();
    }
    file.flush().unwrap();
    format!("{:x}", hash.finalize())
}

/// An OCI image layout at `dir` whose one layer is the file `layer` (digest `hex`) and whose
/// config carries `label`: two labels, two images sharing the layer.
fn layout(dir: &Path, layer: &Path, hex: &str, label: &str) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::hard_link(layer, dir.join("blobs/sha256").join(hex)).unwrap();
    let size = std::fs::metadata(layer).unwrap().len();
    let layer = serde_json::json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{hex}"), "size": size
    });
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": { "Labels": { "bench": label } },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{hex}")] }
    });
    let config = blob(dir, "application/vnd.oci.image.config.v1+json", config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": [layer]
    });
    let manifest = blob(dir, "application/vnd.oci.image.manifest.v1+json", manifest.to_string().as_bytes());
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": [manifest] });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn children_peak_rss_mb() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    u.ru_maxrss as f64 / 1024.0
}

/// Runs `rprov apply` in `dir`; returns (wall seconds, ECR calls by operation).
fn apply(aws: &LocalAws, dir: &Path, stack: &Path, params: &[&str]) -> (f64, Vec<(String, usize)>) {
    aws.clear_calls();
    let started = Instant::now();
    let mut cmd = Command::new(rprov_bin());
    cmd.current_dir(dir).env("AWS_ENDPOINT_URL", aws.endpoint()).env("NO_COLOR", "1").args([
        "apply",
        stack.to_str().unwrap(),
        "--yes",
    ]);
    for p in params {
        cmd.args(["--param", p]);
    }
    let out = cmd.output().expect("run rprov");
    let wall = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let mut by_op = std::collections::BTreeMap::<String, usize>::new();
    for c in aws.calls().iter().filter(|c| c.service == "ecr") {
        *by_op.entry(c.operation.clone()).or_default() += 1;
    }
    (wall, by_op.into_iter().collect())
}

fn total(calls: &[(String, usize)]) -> usize {
    calls.iter().map(|(_, n)| n).sum()
}

pub fn run() {
    let layer_mb = layer_mb();
    let aws = LocalAws::start();
    let dir = std::env::temp_dir().join(format!("rprov-bench-push-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stack = dir.join("push.yaml");
    std::fs::write(
        &stack,
        "stack: push\nregion: us-east-1\nresources:\n  repo: { type: ecr_repository, force_delete: true }\n",
    )
    .unwrap();
    // Baseline: rprov applying a repository, no image.
    apply(&aws, &dir, &stack, &[]);
    let baseline_rss = children_peak_rss_mb();

    let made = Instant::now();
    let layer = dir.join("layer");
    let hex = random_layer(&layer, layer_mb);
    layout(&dir.join("a"), &layer, &hex, "a");
    layout(&dir.join("b"), &layer, &hex, "b");
    let layout_s = made.elapsed().as_secs_f64();
    std::fs::write(
        &stack,
        "stack: push\nregion: us-east-1\nparams:\n  image: { default: a }\nresources:\n  repo: { type: ecr_repository, force_delete: true }\n  image: { type: container_image, repository: \"${repo.url}\", source: \"${params.image}\" }\n",
    )
    .unwrap();
    let (fresh_s, fresh) = apply(&aws, &dir, &stack, &["image=a"]);
    let push_rss = children_peak_rss_mb();
    let (same_s, same) = apply(&aws, &dir, &stack, &["image=a"]);
    let (shared_s, shared) = apply(&aws, &dir, &stack, &["image=b"]);
    println!("fresh push of a {layer_mb} MB layer: {fresh_s:.2}s, {} ECR calls {fresh:?}", total(&fresh));
    println!("apply with nothing changed: {same_s:.2}s, {} ECR calls {same:?}", total(&same));
    println!("new image on the same layer: {shared_s:.2}s, {} ECR calls {shared:?}", total(&shared));
    println!("rprov peak RSS: {push_rss:.1} MB pushing, {baseline_rss:.1} MB without an image");
    println!(
        "bench push: layer_mb={layer_mb} fresh_s={fresh_s:.2} fresh_mb_per_s={:.0} fresh_calls={} nochange_s={same_s:.2} nochange_ecr_calls={} shared_layer_calls={} peak_rss_mb={push_rss:.1} baseline_rss_mb={baseline_rss:.1} layout_s={layout_s:.1}",
        layer_mb as f64 / fresh_s,
        total(&fresh),
        total(&same),
        total(&shared)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
