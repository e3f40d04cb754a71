//! A test context: a strict local AWS of its own, a scratch working directory, and a way to run
//! the rprov binary there the way a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_sdk_ec2::types::Filter;
use localaws::LocalAws;

pub struct Ctx {
    pub aws: LocalAws,
    pub dir: tempfile::TempDir,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Ctx {
    pub fn new() -> Ctx {
        Ctx { aws: LocalAws::start(), dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn with(aws: LocalAws) -> Ctx {
        Ctx { aws, dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c =
            rprov::kinds::testing::rprov_command(env!("CARGO_BIN_EXE_rprov"), &self.aws.endpoint(), self.dir.path());
        c.args(args);
        c
    }

    pub fn rprov(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run rprov");
        Run::from(out)
    }

    /// `--param` value pointing the reference stack at a small stand-in for the upload-service
    /// image (`scripts/image` writes the real one), written in the working directory.
    pub fn image_param(&self) -> String {
        format!("image_archive={}", self.image_path().display())
    }

    /// The stand-in image archive of [`Ctx::image_param`].
    pub fn image_path(&self) -> PathBuf {
        let path = self.dir.path().join("upload-service.tar");
        if !path.exists() {
            image_archive(&path, b"upload-service stand-in");
        }
        path
    }

    /// A copy of a stack file in the working directory, edited by `edit`.
    pub fn stack_copy(&self, name: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
        let text = std::fs::read_to_string(repo().join("stacks").join(name)).expect("stack file");
        let path = self.dir.path().join(name);
        std::fs::write(&path, edit(text)).expect("write stack copy");
        path
    }

    pub async fn ec2(&self) -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new("us-east-1"))
            .endpoint_url(self.aws.endpoint())
            .credentials_provider(aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "test"))
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    /// The SDK configuration rprov itself builds, pointed at this context's local AWS.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        let settings = rprov::aws::AwsSettings { endpoint_url: Some(self.aws.endpoint()), ..Default::default() };
        // SAFETY: the same constant values in every test of this process, set before any client
        // reads the environment.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        }
        rprov::aws::load_sdk_config(&settings, "us-east-1").await
    }

    pub fn state_path(&self, stack: &str) -> PathBuf {
        self.dir.path().join(".rprov").join(format!("{stack}.json"))
    }
}

/// Writes an OCI archive whose one file, `/usr/local/bin/upload-service`, holds `binary`: two
/// archives differing in one byte of it are two images.
pub fn image_archive(out: &Path, binary: &[u8]) -> PathBuf {
    use rprov_oci::{Entry, ImageBuilder};
    ImageBuilder::new()
        .layer([
            Entry::dir("usr", 0o755),
            Entry::dir("usr/local", 0o755),
            Entry::dir("usr/local/bin", 0o755),
            Entry::file("usr/local/bin/upload-service", binary.to_vec(), 0o755),
        ])
        .user("65532:65532")
        .entrypoint(["/usr/local/bin/upload-service"])
        .write_oci_archive(out)
        .expect("write an image archive");
    out.to_owned()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        assert!(!self.stderr.contains("panicked"), "panic:\n{}", self.stderr);
        self
    }
}

pub fn tag_filter(stack: &str) -> Filter {
    Filter::builder().name("tag:rprov:stack").values(stack).build()
}

/// Resources of every network kind that carry the stack's ownership tag, by kind. Uses each
/// kind's own describe: the tagging API misses EIPs, and moto files some EC2 tags oddly.
pub async fn owned(ec2: &aws_sdk_ec2::Client, stack: &str) -> Vec<(&'static str, String)> {
    let f = || tag_filter(stack);
    let mut out = Vec::new();
    for v in ec2.describe_vpcs().filters(f()).send().await.unwrap().vpcs() {
        out.push(("vpc", v.vpc_id().unwrap().to_owned()));
    }
    for s in ec2.describe_subnets().filters(f()).send().await.unwrap().subnets() {
        out.push(("subnet", s.subnet_id().unwrap().to_owned()));
    }
    for g in ec2.describe_internet_gateways().filters(f()).send().await.unwrap().internet_gateways() {
        out.push(("internet_gateway", g.internet_gateway_id().unwrap().to_owned()));
    }
    for a in ec2.describe_addresses().filters(f()).send().await.unwrap().addresses() {
        out.push(("elastic_ip", a.allocation_id().unwrap().to_owned()));
    }
    // moto ignores a tag filter on DescribeNatGateways: the tags are checked here.
    for n in ec2.describe_nat_gateways().filter(f()).send().await.unwrap().nat_gateways() {
        let ours = n.tags().iter().any(|t| t.key() == Some("rprov:stack") && t.value() == Some(stack));
        if ours && n.state().map(|s| s.as_str()) != Some("deleted") {
            out.push(("nat_gateway", n.nat_gateway_id().unwrap().to_owned()));
        }
    }
    for r in ec2.describe_route_tables().filters(f()).send().await.unwrap().route_tables() {
        out.push(("route_table", r.route_table_id().unwrap().to_owned()));
    }
    for g in ec2.describe_security_groups().filters(f()).send().await.unwrap().security_groups() {
        out.push(("security_group", g.group_id().unwrap().to_owned()));
    }
    out
}

pub fn count_kind(owned: &[(&str, String)], kind: &str) -> usize {
    owned.iter().filter(|(k, _)| *k == kind).count()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read json")).expect("json")
}

/// What the Resource Groups Tagging API still lists with `rprov:stack=<stack>`, less the
/// tombstones AWS keeps showing for a while after a delete (a NAT gateway `deleted`, an instance
/// `terminated`, an ECS
/// cluster or service `INACTIVE`, a task definition `INACTIVE` or `DELETE_IN_PROGRESS`), each
/// confirmed with its own service. Anything else listed is a resource left behind.
pub async fn tagged_and_alive(conf: &aws_config::SdkConfig, stack: &str) -> Vec<String> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let tagging = aws_sdk_resourcegroupstagging::Client::new(conf);
    let ecs = aws_sdk_ecs::Client::new(conf);
    let ec2 = aws_sdk_ec2::Client::new(conf);
    let filter = TagFilter::builder().key("rprov:stack").values(stack).build();
    let listed = tagging.get_resources().tag_filters(filter).send().await.unwrap();
    let mut alive = Vec::new();
    for arn in listed.resource_tag_mapping_list().iter().filter_map(|r| r.resource_arn()) {
        let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
        let tombstone = if let Some(id) = resource.strip_prefix("natgateway/") {
            let n = ec2.describe_nat_gateways().nat_gateway_ids(id).send().await.unwrap();
            n.nat_gateways().iter().all(|n| n.state().map(|s| s.as_str()) == Some("deleted"))
        } else if let Some(id) = resource.strip_prefix("instance/") {
            // A terminated instance stays listed for about an hour on AWS.
            let i = ec2.describe_instances().instance_ids(id).send().await.unwrap();
            i.reservations().iter().flat_map(|r| r.instances()).all(|i| {
                i.state().and_then(|s| s.name()).map(|n| n.as_str().to_owned()).as_deref() == Some("terminated")
            })
        } else if resource.starts_with("cluster/") {
            let c = ecs.describe_clusters().clusters(arn).send().await.unwrap();
            c.clusters().iter().all(|c| c.status() == Some("INACTIVE"))
        } else if let Some(path) = resource.strip_prefix("service/") {
            let cluster = path.split('/').next().unwrap_or_default();
            let s = ecs.describe_services().cluster(cluster).services(arn).send().await.unwrap();
            s.services().iter().all(|s| s.status() == Some("INACTIVE"))
        } else if resource.starts_with("task-definition/") {
            let t = ecs.describe_task_definition().task_definition(arn).send().await.unwrap();
            let status = t.task_definition().and_then(|t| t.status()).map(|s| s.as_str().to_owned());
            matches!(status.as_deref(), Some("INACTIVE" | "DELETE_IN_PROGRESS"))
        } else {
            false
        };
        if !tombstone {
            alive.push(arn.to_owned());
        }
    }
    alive
}

/// The most a killed run's requests may stay in the local AWS: the slowest injected latency in
/// these tests is well under a second; the rest is a loaded machine.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(60);

/// How many resources a state file records now (none while it is missing or half-written).
pub fn recorded(state: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(state).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["resources"].as_object().map(|o| o.len())
}

/// Waits (up to a minute) until the state file's resource count satisfies `ready`: the moment
/// to kill a running apply or destroy.
pub fn wait_recorded(state: &Path, ready: impl Fn(usize) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !recorded(state).is_some_and(&ready) {
        assert!(std::time::Instant::now() < deadline, "no progress recorded in {}", state.display());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Kills (SIGKILL) a running rprov once the state satisfies `ready`, waits until the requests it
/// had already sent have gone through the local AWS (the injected latency holds them there),
/// and releases the lock it held.
pub fn kill_when(cx: &Ctx, mut child: std::process::Child, state: &Path, ready: impl Fn(usize) -> bool) {
    wait_recorded(state, ready);
    child.kill().unwrap();
    child.wait().unwrap();
    cx.aws.wait_idle(SETTLE);
    let lock = read_json(&state.with_extension("json.lock"));
    cx.rprov(&["force-unlock", lock["id"].as_str().unwrap()]).expect(0);
}
