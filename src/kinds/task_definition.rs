use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, EfsAuthorizationConfig, EfsAuthorizationConfigIam, EfsTransitEncryption,
    EfsVolumeConfiguration, HealthCheck, KeyValuePair, LogConfiguration, LogDriver, MountPoint, NetworkMode,
    PortMapping, Secret, TaskDefinition as SdkTaskDefinition, TaskDefinitionField, TaskDefinitionStatus,
    TransportProtocol, Volume,
};

use super::ecs::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::diag::did_you_mean;
use crate::expr::{Expr, ExprMap};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{lit_int, lit_str, named, ref_target};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct TaskDefinition;

static PORT_MAPPING: Ty = Ty::Obj(&[
    Prop::new("container_port", Ty::Int, "Port the container listens on.")
        .aws("ecs:PortMapping.containerPort")
        .required(),
    Prop::new("protocol", Ty::Enum(&["tcp", "udp"]), "Transport protocol.")
        .aws("ecs:PortMapping.protocol")
        .default(Default::Str("tcp")),
]);

static HEALTH_CHECK: Ty = Ty::Obj(&[
    Prop::new("command", Ty::List(&Ty::Str), "E.g. [CMD-SHELL, \"curl -f http://localhost:8000/ || exit 1\"].")
        .aws("ecs:HealthCheck.command")
        .required(),
    Prop::new("interval", Ty::Int, "Seconds between checks (5-300).")
        .aws("ecs:HealthCheck.interval")
        .default(Default::Int(30)),
    Prop::new("timeout", Ty::Int, "Seconds before a check counts as failed (2-60).")
        .aws("ecs:HealthCheck.timeout")
        .default(Default::Int(5)),
    Prop::new("retries", Ty::Int, "Failures in a row before the container is unhealthy (1-10).")
        .aws("ecs:HealthCheck.retries")
        .default(Default::Int(3)),
    Prop::new("start_period", Ty::Int, "Grace period in seconds after start (0-300).")
        .aws("ecs:HealthCheck.startPeriod")
        .default(Default::Int(0)),
]);

static MOUNT_POINT: Ty = Ty::Obj(&[
    Prop::new("volume", Ty::Str, "Name of a volume of this task definition.")
        .aws("ecs:MountPoint.sourceVolume")
        .required(),
    Prop::new("path", Ty::Str, "Where the volume appears in the container.")
        .aws("ecs:MountPoint.containerPath")
        .required(),
    Prop::new("read_only", Ty::Bool, "Mount read-only.").aws("ecs:MountPoint.readOnly").default(Default::Bool(false)),
]);

static CONTAINER: Ty = Ty::Obj(&[
    Prop::new("name", Ty::Str, "Container name, unique in the task definition.")
        .aws("ecs:ContainerDefinition.name")
        .required(),
    Prop::new("image", Ty::Str, "Image reference (repository:tag or @digest).")
        .aws("ecs:ContainerDefinition.image")
        .required(),
    Prop::new("essential", Ty::Bool, "The task stops when this container stops.")
        .aws("ecs:ContainerDefinition.essential")
        .default(Default::Bool(true)),
    Prop::new("port_mappings", Ty::List(&PORT_MAPPING), "Ports the container exposes.")
        .aws("ecs:ContainerDefinition.portMappings")
        .default(Default::EmptyList)
        .keyed(&["container_port", "protocol"]),
    Prop::new("environment", Ty::StrMap, "Environment variables (plain values).").default(Default::EmptyMap),
    Prop::new(
        "secrets",
        Ty::StrMap,
        "Environment variables read at start from SSM parameters or Secrets Manager: NAME -> ARN.",
    )
    .default(Default::EmptyMap),
    Prop::new("health_check", HEALTH_CHECK, "Container health check.").aws("ecs:ContainerDefinition.healthCheck"),
    Prop::new(
        "log_group",
        Ty::Str,
        "CloudWatch Logs group for the awslogs driver (in the stack's region); no logging when absent.",
    ),
    Prop::new("stream_prefix", Ty::Str, "awslogs stream prefix. Default: `ecs` when `log_group` is set."),
    Prop::new("mount_points", Ty::List(&MOUNT_POINT), "Volumes mounted into the container.")
        .aws("ecs:ContainerDefinition.mountPoints")
        .default(Default::EmptyList)
        .keyed(&["path"]),
    Prop::new("cpu", Ty::Int, "CPU units reserved for this container.").aws("ecs:ContainerDefinition.cpu"),
    Prop::new("memory", Ty::Int, "Hard memory limit of this container in MiB.").aws("ecs:ContainerDefinition.memory"),
]);

static VOLUME: Ty = Ty::Obj(&[
    Prop::new("name", Ty::Str, "Volume name, referenced by mount points.").aws("ecs:Volume.name").required(),
    Prop::new("file_system", Ty::Str, "EFS file system id (fs-...); without it, a task-local volume.")
        .aws("ecs:EFSVolumeConfiguration.fileSystemId"),
    Prop::new("access_point", Ty::Str, "EFS access point id (fsap-...).")
        .aws("ecs:EFSAuthorizationConfig.accessPointId"),
    Prop::new("transit_encryption", Ty::Bool, "Encrypt NFS traffic to EFS in transit (TLS).")
        .default(Default::Bool(true)),
    Prop::new("root_directory", Ty::Str, "Directory of the file system to mount; `/` with an access point.")
        .aws("ecs:EFSVolumeConfiguration.rootDirectory")
        .default(Default::Str("/")),
    Prop::new("iam", Ty::Bool, "Authorise with the task role (EFS IAM). Default: true with an access point."),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "task_definition",
    doc: "An ECS task definition for Fargate (network mode awsvpc). Task definitions are immutable: \
          any change registers a new revision, services referencing `${id.arn}` move to it, and the \
          old revision is deregistered.",
    props: &[
        Prop::new("family", Ty::Str, "Family name; revisions are numbered within it. Default: `<stack>-<id>`.")
            .aws("ecs:RegisterTaskDefinitionRequest.family"),
        Prop::new("cpu", Ty::Int, "Task CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384.").required(),
        Prop::new("memory", Ty::Int, "Task memory in MiB; must fit the cpu (Fargate sizes).").required(),
        Prop::new("execution_role", Ty::Str, "ARN of the role ECS uses to pull images, read secrets, write logs.")
            .aws("ecs:RegisterTaskDefinitionRequest.executionRoleArn"),
        Prop::new("task_role", Ty::Str, "ARN of the role the containers' code runs as.")
            .aws("ecs:RegisterTaskDefinitionRequest.taskRoleArn"),
        Prop::new("containers", Ty::List(&CONTAINER), "The containers of the task.")
            .aws("ecs:RegisterTaskDefinitionRequest.containerDefinitions")
            .required()
            .keyed(&["name"]),
        Prop::new("volumes", Ty::List(&VOLUME), "Volumes the containers may mount (EFS or task-local).")
            .aws("ecs:RegisterTaskDefinitionRequest.volumes")
            .default(Default::EmptyList)
            .keyed(&["name"]),
    ],
    attrs: &[
        Attr::new("id", "The task definition ARN, revision included."),
        Attr::new("arn", "The task definition ARN, revision included."),
        Attr::new("family", "The family name."),
        Attr::new("revision", "The revision number."),
    ],
    taggable: true,
};

// ---- Fargate sizes -------------------------------------------------------------------------

/// Memory sizes (MiB) Fargate accepts for each task cpu value.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
fn fargate_memory(cpu: i64) -> Option<Vec<i64>> {
    let range = |from: i64, to: i64, step: i64| (from..=to).step_by(step as usize).collect::<Vec<_>>();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122880, 8192),
        _ => return None,
    })
}

/// The task cpu values Fargate runs.
const FARGATE_CPU: &[i64] = &[256, 512, 1024, 2048, 4096, 8192, 16384];

/// `a, b or c`.
fn either(v: &[i64]) -> String {
    match v {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// A list of sizes as a reader takes it in: a few listed, a long one as its range and step.
fn sizes_text(sizes: &[i64]) -> String {
    match sizes {
        [first, second, .., last] if sizes.len() > 7 => format!("{first} to {last} in steps of {}", second - first),
        _ => either(sizes),
    }
}

/// The candidate closest to `n` (the smaller of two as close).
fn nearest(candidates: &[i64], n: i64) -> i64 {
    candidates.iter().copied().min_by_key(|c| (c - n).abs()).unwrap_or(n)
}

/// The task cpu values that take `memory`.
fn cpus_taking(memory: i64) -> Vec<i64> {
    FARGATE_CPU.iter().copied().filter(|c| fargate_memory(*c).is_some_and(|m| m.contains(&memory))).collect()
}

/// A task size against Fargate's table, with the nearest size that would do. AWS:
/// RegisterTaskDefinition `memory`, "If using the Fargate launch type, this field is required
/// and you must use one of the following values", answered with a ClientException; moto
/// registers any pair. `memory` is None when it is known only at apply.
fn fargate_problem(cpu: i64, memory: Option<i64>) -> Option<Problem> {
    let Some(sizes) = fargate_memory(cpu) else {
        let fitting = memory.map(cpus_taking).filter(|c| !c.is_empty());
        let near = nearest(fitting.as_deref().unwrap_or(FARGATE_CPU), cpu);
        return Some(
            Problem::new("cpu", format!("Fargate task cpu {cpu} is not one AWS allows: {}", either(FARGATE_CPU)))
                .help(format!("did you mean {near}?")),
        );
    };
    let memory = memory.filter(|m| !sizes.contains(m))?;
    let mut help = format!("did you mean {}?", nearest(&sizes, memory));
    let cpus = cpus_taking(memory);
    if !cpus.is_empty() {
        help += &format!(" (memory {memory} takes cpu {})", either(&cpus));
    }
    Some(
        Problem::new(
            "memory",
            format!("Fargate task cpu {cpu} takes memory {} (MiB), not {memory}", sizes_text(&sizes)),
        )
        .help(help),
    )
}

/// Checks a task size against Fargate's table before RegisterTaskDefinition is sent (values
/// known only at apply are checked here).
pub fn check_fargate_size(cpu: i64, memory: i64) -> Result<(), String> {
    fargate_problem(cpu, Some(memory)).map_or(Ok(()), |p| Err(p.message))
}

// ---- what else RegisterTaskDefinition refuses ------------------------------------------------

/// The health check ranges: "You may specify between 5 and 300 seconds" (interval), "between
/// 2 and 60 seconds" (timeout), "between 1 and 10 retries", "between 0 and 300 seconds" (start
/// period). AWS: ECS API reference, HealthCheck.
const HEALTH_RANGES: &[(&str, i64, i64)] =
    &[("interval", 5, 300), ("timeout", 2, 60), ("retries", 1, 10), ("start_period", 0, 300)];

/// The maps of a list property (items of another shape have their own diagnostics).
fn maps(items: &[Expr]) -> impl Iterator<Item = (usize, &ExprMap)> {
    items.iter().enumerate().filter_map(|(i, e)| match e {
        Expr::Map(m) => Some((i, m)),
        _ => None,
    })
}

/// Whether a value is given and not empty (`secrets: {}` is no secret).
fn given(e: Option<&Expr>) -> bool {
    match e {
        None | Some(Expr::Lit(Value::Null)) => false,
        Some(Expr::Lit(Value::Map(m))) => !m.is_empty(),
        Some(Expr::Map(m)) => !m.is_empty(),
        Some(Expr::Lit(Value::List(l))) => !l.is_empty(),
        Some(Expr::List(l)) => !l.is_empty(),
        Some(_) => true,
    }
}

/// An image pulled from a private ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com/...`).
fn private_ecr(image: &str) -> bool {
    let host = image.split('/').next().unwrap_or_default();
    image.contains('/')
        && host.contains(".dkr.ecr")
        && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
}

fn container_rules(s: &Subject, out: &mut Vec<Problem>) {
    let containers = s.list("containers");
    // AWS: containerDefinitions is required; RegisterTaskDefinition refuses an empty list.
    if containers.is_empty() && matches!(s.get("containers"), Some(Expr::List(_) | Expr::Lit(Value::List(_)))) {
        out.push(Problem::new("containers", "a task definition needs at least one container"));
        return;
    }
    let volumes: Option<Vec<&str>> = maps(s.list("volumes")).map(|(_, v)| lit_str(v.get("name"))).collect();
    let mut names: Vec<&str> = Vec::new();
    let mut cpu_total = 0;
    let mut cpu_reported = false;
    for (i, c) in maps(containers) {
        let at = |k: &str| format!("containers.{i}.{k}");
        if let Some(name) = lit_str(c.get("name")) {
            out.extend(ecs::name_problem(&at("name"), "container name", name));
            // AWS: "Container names must be unique within a Task Definition."
            if names.contains(&name) {
                out.push(Problem::new(
                    at("name"),
                    format!("container name `{name}` is used by an earlier container; AWS wants container names unique in a task definition"),
                ));
            }
            names.push(name);
        }
        // AWS: "The 'memory' setting for container '...' is greater than for the task."
        if let (Some(memory), Some(task)) = (lit_int(c.get("memory")), s.int("memory"))
            && memory > task
        {
            out.push(
                Problem::new(at("memory"), format!("container memory {memory} MiB is more than the task's {task} MiB"))
                    .help(format!("give the container at most {task}, or the task more memory")),
            );
        }
        // AWS: "The sum of all container 'cpu' values cannot be greater than the value of the
        // task 'cpu'." Values known only at apply count as nothing: a lower bound.
        if let Some(cpu) = lit_int(c.get("cpu")) {
            cpu_total += cpu;
            if let Some(task) = s.int("cpu")
                && cpu_total > task
                && !cpu_reported
            {
                cpu_reported = true;
                out.push(Problem::new(
                    at("cpu"),
                    format!("the containers reserve {cpu_total} cpu units in all, more than the task's {task}"),
                ));
            }
        }
        // AWS: "The secret name must be unique and not shared with any new or existing
        // environment variables set on the container", "Environment variable name cannot be
        // null or blank."
        let keys = |k: &str| match c.get(k) {
            Some(Expr::Map(m)) => m.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        let environment = keys("environment");
        if environment.contains(&"") {
            out.push(Problem::new(at("environment"), "an environment variable has an empty name"));
        }
        for name in keys("secrets").into_iter().filter(|n| environment.contains(n)) {
            out.push(Problem::new(
                format!("containers.{i}.secrets.{name}"),
                format!("secret `{name}` has the name of an environment variable of this container; AWS wants each name once"),
            ));
        }
        if let Some(Expr::Map(h)) = c.get("health_check") {
            for (field, low, high) in HEALTH_RANGES {
                if let Some(n) = lit_int(h.get(*field)).filter(|n| !(*low..=*high).contains(n)) {
                    out.push(Problem::new(
                        format!("containers.{i}.health_check.{field}"),
                        format!("health check `{field}` {n} is out of range: AWS allows {low} to {high}"),
                    ));
                }
            }
        }
        // AWS: a mount point's sourceVolume "Must be a volume name referenced in the name
        // parameter of task definition volume" ("Unknown volume '...'.").
        for (k, m) in maps(match c.get("mount_points") {
            Some(Expr::List(l)) => l.as_slice(),
            _ => &[],
        }) {
            let (Some(volume), Some(declared)) = (lit_str(m.get("volume")), volumes.as_deref()) else { continue };
            if !declared.contains(&volume) {
                let help = did_you_mean(volume, declared.iter().copied()).unwrap_or_else(|| match declared {
                    [] => "declare it under `volumes`".to_owned(),
                    _ => format!(
                        "the volumes are {}",
                        declared.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                    ),
                });
                out.push(
                    Problem::new(
                        format!("containers.{i}.mount_points.{k}.volume"),
                        format!("mount point names volume `{volume}`, which this task definition does not declare"),
                    )
                    .help(help),
                );
            }
        }
    }
    // AWS: "All tasks must have at least one essential container."
    let all_optional = maps(containers).all(|(_, c)| matches!(c.get("essential"), Some(Expr::Lit(Value::Bool(false)))));
    if all_optional && !containers.is_empty() {
        out.push(
            Problem::new("containers", "no container is essential; AWS requires at least one")
                .help("set `essential: true` (the default) on the container the task lives for"),
        );
    }
    execution_role_rule(s, out);
}

/// What needs a task execution role, which ECS uses on the task's behalf; AWS answers
/// RegisterTaskDefinition without one with "Fargate requires task definition to have execution
/// role ARN to support log driver awslogs.", "... to support ECR images.", and "When you are
/// specifying container secrets, you must also specify a value for 'executionRoleArn'."
fn execution_role_rule(s: &Subject, out: &mut Vec<Problem>) {
    if given(s.get("execution_role")) {
        return;
    }
    let mut first = None;
    let mut reasons = Vec::new();
    for (i, c) in maps(s.list("containers")) {
        let mut need = |key: &str, why: &'static str| {
            first.get_or_insert_with(|| format!("containers.{i}.{key}"));
            if !reasons.contains(&why) {
                reasons.push(why);
            }
        };
        if given(c.get("log_group")) {
            need("log_group", "to send logs to CloudWatch (`log_group`)");
        }
        if given(c.get("secrets")) {
            need("secrets", "to read `secrets`");
        }
        if lit_str(c.get("image")).is_some_and(private_ecr) {
            need("image", "to pull an image from a private ECR registry");
        }
    }
    if let Some(path) = first {
        out.push(Problem::new(path, format!("Fargate needs the task's `execution_role` {}", reasons.join(", "))).help(
            "give `execution_role` a role ecs-tasks.amazonaws.com may assume (AmazonECSTaskExecutionRolePolicy)",
        ));
    }
}

/// EFS volumes. AWS (EFSVolumeConfiguration, EFSAuthorizationConfig): "Transit encryption must
/// be turned on if Amazon EFS IAM authorization is used"; "If an access point is used, transit
/// encryption must be on"; "If an access point is specified, the root directory value ... must
/// either be omitted or set to /". An access point opens one file system only: a volume naming
/// another fails to mount when the tasks start.
fn volume_rules(s: &Subject, out: &mut Vec<Problem>) {
    for (i, v) in maps(s.list("volumes")) {
        let at = |k: &str| format!("volumes.{i}.{k}");
        if let Some(name) = lit_str(v.get("name")) {
            out.extend(ecs::name_problem(&at("name"), "volume name", name));
        }
        if !given(v.get("file_system")) {
            continue;
        }
        let access_point = given(v.get("access_point"));
        let flag = |k: &str| match v.get(k) {
            Some(Expr::Lit(Value::Bool(b))) => Some(*b),
            _ => None,
        };
        if flag("transit_encryption") == Some(false) && (access_point || flag("iam") == Some(true)) {
            let with = if access_point { "an access point" } else { "IAM authorization (`iam: true`)" };
            out.push(
                Problem::new(
                    at("transit_encryption"),
                    format!("an EFS volume with {with} needs transit encryption; AWS refuses it off"),
                )
                .help("leave out `transit_encryption` (on by default)"),
            );
        }
        if access_point && let Some(root) = lit_str(v.get("root_directory")).filter(|r| *r != "/") {
            out.push(
                Problem::new(
                    at("root_directory"),
                    format!("root directory `{root}` with an access point: AWS wants `/`, the access point's own path applies"),
                )
                .help("set the directory as the access point's `root_directory.path`"),
            );
        }
        let point = v.get("access_point").and_then(ref_target).and_then(|id| Some((id, s.stack.resource(id)?)));
        if let (Some((ap, ("access_point", props))), Some(fs)) = (point, named(v.get("file_system")))
            && let Some(its) = named(props.get("file_system"))
            && its.differs(&fs)
        {
            out.push(Problem::new(
                at("access_point"),
                format!("access point `{ap}` opens file system {its}, not this volume's {fs}"),
            ));
        }
    }
}

// ---- the canonical shape -------------------------------------------------------------------
//
// Both the stack's values (after `normalise`) and what DescribeTaskDefinition reports become:
// containers as maps with `name`, `image`, `essential`, `port_mappings` (list of
// {container_port, protocol}), `environment` and `secrets` (maps), `mount_points` (list of
// {volume, path, read_only}), and only when set: `health_check` (all five fields), `log_group`
// with `stream_prefix`, `cpu`, `memory`. Volumes as {name} or, for EFS, {name, file_system,
// transit_encryption, root_directory, iam} plus `access_point` when set.

type Map = crate::value::Props;

fn map_or_empty(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Map(Map::new()),
        Some(v) => v.clone(),
    }
}

fn list_or_empty(v: Option<&Value>) -> Vec<Value> {
    match v {
        None | Some(Value::Null) => vec![],
        Some(v) => v.as_list().to_vec(),
    }
}

fn or_default(m: &Map, key: &str, d: Value) -> Value {
    match m.get(key) {
        None | Some(Value::Null) => d,
        Some(v) => v.clone(),
    }
}

fn canonical_container(m: &Map) -> Value {
    let mut out = Map::new();
    for k in ["name", "image"] {
        out.insert(k.into(), m.get(k).cloned().unwrap_or(Value::Null));
    }
    out.insert("essential".into(), or_default(m, "essential", Value::Bool(true)));
    let ports = list_or_empty(m.get("port_mappings"))
        .iter()
        .map(|p| match p {
            Value::Map(p) => Value::Map(Map::from([
                ("container_port".into(), p.get("container_port").cloned().unwrap_or(Value::Null)),
                ("protocol".into(), or_default(p, "protocol", Value::str("tcp"))),
            ])),
            other => other.clone(),
        })
        .collect();
    out.insert("port_mappings".into(), Value::List(ports));
    out.insert("environment".into(), map_or_empty(m.get("environment")));
    out.insert("secrets".into(), map_or_empty(m.get("secrets")));
    let mounts = list_or_empty(m.get("mount_points"))
        .iter()
        .map(|p| match p {
            Value::Map(p) => Value::Map(Map::from([
                ("volume".into(), p.get("volume").cloned().unwrap_or(Value::Null)),
                ("path".into(), p.get("path").cloned().unwrap_or(Value::Null)),
                ("read_only".into(), or_default(p, "read_only", Value::Bool(false))),
            ])),
            other => other.clone(),
        })
        .collect();
    out.insert("mount_points".into(), Value::List(mounts));
    match m.get("health_check") {
        Some(Value::Map(h)) => {
            let h = Map::from([
                ("command".into(), h.get("command").cloned().unwrap_or(Value::List(vec![]))),
                ("interval".into(), or_default(h, "interval", Value::Int(30))),
                ("timeout".into(), or_default(h, "timeout", Value::Int(5))),
                ("retries".into(), or_default(h, "retries", Value::Int(3))),
                ("start_period".into(), or_default(h, "start_period", Value::Int(0))),
            ]);
            out.insert("health_check".into(), Value::Map(h));
        }
        None | Some(Value::Null) => {}
        Some(other) => {
            out.insert("health_check".into(), other.clone());
        }
    }
    if let Some(g) = m.get("log_group").filter(|v| !v.is_null()) {
        out.insert("log_group".into(), g.clone());
        out.insert("stream_prefix".into(), or_default(m, "stream_prefix", Value::str("ecs")));
    }
    for k in ["cpu", "memory"] {
        // AWS reports a container without a cpu reservation as cpu 0.
        if let Some(v) = m.get(k).filter(|v| !v.is_null() && v.as_i64() != Some(0)) {
            out.insert(k.into(), v.clone());
        }
    }
    Value::Map(out)
}

fn canonical_volume(m: &Map) -> Value {
    let mut out = Map::from([("name".to_string(), m.get("name").cloned().unwrap_or(Value::Null))]);
    if let Some(fs) = m.get("file_system").filter(|v| !v.is_null()) {
        let ap = m.get("access_point").filter(|v| !v.is_null());
        out.insert("file_system".into(), fs.clone());
        out.insert("transit_encryption".into(), or_default(m, "transit_encryption", Value::Bool(true)));
        out.insert("root_directory".into(), or_default(m, "root_directory", Value::str("/")));
        out.insert("iam".into(), or_default(m, "iam", Value::Bool(ap.is_some())));
        if let Some(ap) = ap {
            out.insert("access_point".into(), ap.clone());
        }
    }
    Value::Map(out)
}

fn canonical_list(v: Option<&Value>, f: fn(&Map) -> Value) -> Value {
    Value::List(
        list_or_empty(v)
            .iter()
            .map(|x| match x {
                Value::Map(m) => f(m),
                other => other.clone(),
            })
            .collect(),
    )
}

fn container_from_sdk(c: &ContainerDefinition, region: &str) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), Value::str(c.name().unwrap_or_default()));
    m.insert("image".into(), Value::str(c.image().unwrap_or_default()));
    m.insert("essential".into(), Value::Bool(c.essential().unwrap_or(true)));
    let ports = c
        .port_mappings()
        .iter()
        .map(|p| {
            Value::Map(Map::from([
                ("container_port".into(), Value::from(p.container_port().unwrap_or_default())),
                ("protocol".into(), Value::str(p.protocol().map_or("tcp", |t| t.as_str()))),
            ]))
        })
        .collect();
    m.insert("port_mappings".into(), Value::List(ports));
    let env: Map = c
        .environment()
        .iter()
        .filter_map(|kv| Some((kv.name()?.to_owned(), Value::str(kv.value().unwrap_or_default()))))
        .collect();
    m.insert("environment".into(), Value::Map(env));
    let secrets: Map = c.secrets().iter().map(|s| (s.name().to_owned(), Value::str(s.value_from()))).collect();
    m.insert("secrets".into(), Value::Map(secrets));
    let mounts = c
        .mount_points()
        .iter()
        .map(|p| {
            Value::Map(Map::from([
                ("volume".into(), Value::str(p.source_volume().unwrap_or_default())),
                ("path".into(), Value::str(p.container_path().unwrap_or_default())),
                ("read_only".into(), Value::Bool(p.read_only().unwrap_or(false))),
            ]))
        })
        .collect();
    m.insert("mount_points".into(), Value::List(mounts));
    if let Some(h) = c.health_check() {
        m.insert(
            "health_check".into(),
            Value::Map(Map::from([
                ("command".into(), Value::List(h.command().iter().map(Value::str).collect())),
                ("interval".into(), Value::from(h.interval().unwrap_or(30))),
                ("timeout".into(), Value::from(h.timeout().unwrap_or(5))),
                ("retries".into(), Value::from(h.retries().unwrap_or(3))),
                ("start_period".into(), Value::from(h.start_period().unwrap_or(0))),
            ])),
        );
    }
    if let Some(log) = c.log_configuration().filter(|l| l.log_driver() == &LogDriver::Awslogs) {
        let opts = log.options();
        let opt = |k: &str| opts.and_then(|o| o.get(k)).map(Value::str);
        m.insert("log_group".into(), opt("awslogs-group").unwrap_or(Value::Null));
        m.insert("stream_prefix".into(), opt("awslogs-stream-prefix").unwrap_or(Value::Null));
        // The stack cannot name another region: one that differs shows up as drift.
        if let Some(r) = opt("awslogs-region").filter(|r| r.as_str() != Some(region)) {
            m.insert("log_region".into(), r);
        }
    }
    if c.cpu() != 0 {
        m.insert("cpu".into(), Value::from(c.cpu()));
    }
    if let Some(mem) = c.memory() {
        m.insert("memory".into(), Value::from(mem));
    }
    Value::Map(m)
}

fn volume_from_sdk(v: &Volume) -> Value {
    let mut m = Map::from([("name".to_string(), Value::str(v.name().unwrap_or_default()))]);
    if let Some(efs) = v.efs_volume_configuration() {
        let auth = efs.authorization_config();
        m.insert("file_system".into(), Value::str(efs.file_system_id()));
        m.insert(
            "transit_encryption".into(),
            Value::Bool(efs.transit_encryption() == Some(&EfsTransitEncryption::Enabled)),
        );
        m.insert("root_directory".into(), Value::str(efs.root_directory().unwrap_or("/")));
        m.insert("iam".into(), Value::Bool(auth.and_then(|a| a.iam()) == Some(&EfsAuthorizationConfigIam::Enabled)));
        if let Some(ap) = auth.and_then(|a| a.access_point_id()) {
            m.insert("access_point".into(), Value::str(ap));
        }
    }
    Value::Map(m)
}

fn family_of(arn: &str) -> &str {
    let tail = arn.rsplit_once(":task-definition/").map_or(arn, |(_, t)| t);
    tail.split_once(':').map_or(tail, |(f, _)| f)
}

fn live(td: &SdkTaskDefinition, tags: Tags, region: &str) -> Live {
    let arn = td.task_definition_arn().unwrap_or_default().to_owned();
    let family = td.family().unwrap_or_default();
    let mut props = Props::new();
    props.insert("family".into(), Value::str(family));
    let int = |s: Option<&str>| s.and_then(|s| s.parse::<i64>().ok()).map_or(Value::Null, Value::Int);
    props.insert("cpu".into(), int(td.cpu()));
    props.insert("memory".into(), int(td.memory()));
    if let Some(r) = td.execution_role_arn() {
        props.insert("execution_role".into(), Value::str(r));
    }
    if let Some(r) = td.task_role_arn() {
        props.insert("task_role".into(), Value::str(r));
    }
    props.insert(
        "containers".into(),
        Value::List(td.container_definitions().iter().map(|c| container_from_sdk(c, region)).collect()),
    );
    props.insert("volumes".into(), Value::List(td.volumes().iter().map(volume_from_sdk).collect()));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&arn));
    attrs.insert("arn".into(), Value::str(&arn));
    attrs.insert("family".into(), Value::str(family));
    attrs.insert("revision".into(), Value::from(td.revision()));
    Live { physical_id: arn, props, attrs, tags }
}

// ---- to the SDK ----------------------------------------------------------------------------

fn bad(what: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::Invalid(format!("{what}: {e}"))
}

fn i32_of(v: Option<&Value>) -> Option<i32> {
    v.and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

fn container_to_sdk(v: &Value, region: &str) -> Result<ContainerDefinition, AwsError> {
    let empty = Map::new();
    let m = v.as_map().unwrap_or(&empty);
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut c = ContainerDefinition::builder()
        .set_name(s("name"))
        .set_image(s("image"))
        .essential(m.get("essential").and_then(Value::as_bool).unwrap_or(true));
    for p in m.get("port_mappings").map(Value::as_list).unwrap_or_default() {
        let p = p.as_map().unwrap_or(&empty);
        let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("tcp");
        c = c.port_mappings(
            PortMapping::builder()
                .set_container_port(i32_of(p.get("container_port")))
                .protocol(TransportProtocol::from(protocol))
                .build(),
        );
    }
    for (k, val) in m.get("environment").and_then(Value::as_map).unwrap_or(&empty) {
        c = c.environment(KeyValuePair::builder().name(k).value(val.as_str().unwrap_or_default()).build());
    }
    for (k, val) in m.get("secrets").and_then(Value::as_map).unwrap_or(&empty) {
        let secret =
            Secret::builder().name(k).value_from(val.as_str().unwrap_or_default()).build().map_err(|e| bad(k, e))?;
        c = c.secrets(secret);
    }
    for p in m.get("mount_points").map(Value::as_list).unwrap_or_default() {
        let p = p.as_map().unwrap_or(&empty);
        c = c.mount_points(
            MountPoint::builder()
                .set_source_volume(p.get("volume").and_then(Value::as_str).map(str::to_owned))
                .set_container_path(p.get("path").and_then(Value::as_str).map(str::to_owned))
                .read_only(p.get("read_only").and_then(Value::as_bool).unwrap_or(false))
                .build(),
        );
    }
    if let Some(h) = m.get("health_check").and_then(Value::as_map) {
        let hc = HealthCheck::builder()
            .set_command(h.get("command").map(Value::string_list))
            .set_interval(i32_of(h.get("interval")))
            .set_timeout(i32_of(h.get("timeout")))
            .set_retries(i32_of(h.get("retries")))
            .set_start_period(i32_of(h.get("start_period")))
            .build()
            .map_err(|e| bad("health_check", e))?;
        c = c.health_check(hc);
    }
    if let Some(group) = s("log_group") {
        let log = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", group)
            .options("awslogs-region", region)
            .options("awslogs-stream-prefix", s("stream_prefix").unwrap_or_else(|| "ecs".into()))
            .build()
            .map_err(|e| bad("log configuration", e))?;
        c = c.log_configuration(log);
    }
    if let Some(cpu) = i32_of(m.get("cpu")) {
        c = c.cpu(cpu);
    }
    c = c.set_memory(i32_of(m.get("memory")));
    Ok(c.build())
}

fn volume_to_sdk(v: &Value) -> Result<Volume, AwsError> {
    let empty = Map::new();
    let m = v.as_map().unwrap_or(&empty);
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut vol = Volume::builder().set_name(s("name"));
    if let Some(fs) = s("file_system") {
        let on = |k: &str, d: bool| m.get(k).and_then(Value::as_bool).unwrap_or(d);
        let access_point = s("access_point");
        let iam = on("iam", access_point.is_some());
        let mut efs = EfsVolumeConfiguration::builder()
            .file_system_id(fs)
            .set_root_directory(s("root_directory"))
            .transit_encryption(if on("transit_encryption", true) {
                EfsTransitEncryption::Enabled
            } else {
                EfsTransitEncryption::Disabled
            });
        if access_point.is_some() || iam {
            efs = efs.authorization_config(
                EfsAuthorizationConfig::builder()
                    .set_access_point_id(access_point)
                    .iam(if iam { EfsAuthorizationConfigIam::Enabled } else { EfsAuthorizationConfigIam::Disabled })
                    .build(),
            );
        }
        vol = vol.efs_volume_configuration(efs.build().map_err(|e| bad("volume", e))?);
    }
    Ok(vol.build())
}

async fn register(cx: &Cx, props: &Props, tags: &Tags) -> Result<Live, AwsError> {
    let cpu = ecs::int_prop(props, "cpu").unwrap_or_default();
    let memory = ecs::int_prop(props, "memory").unwrap_or_default();
    check_fargate_size(cpu, memory).map_err(AwsError::Invalid)?;
    let containers = props
        .get("containers")
        .map(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(|c| container_to_sdk(c, &cx.region))
        .collect::<Result<Vec<_>, _>>()?;
    let volumes = props
        .get("volumes")
        .map(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(volume_to_sdk)
        .collect::<Result<Vec<_>, _>>()?;
    let out = client(cx)
        .register_task_definition()
        .family(ecs::str_prop(props, "family").unwrap_or_default())
        .cpu(cpu.to_string())
        .memory(memory.to_string())
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .set_execution_role_arn(ecs::str_prop(props, "execution_role").map(str::to_owned))
        .set_task_role_arn(ecs::str_prop(props, "task_role").map(str::to_owned))
        .set_container_definitions(Some(containers))
        .set_volumes(Some(volumes))
        .set_tags(Some(ecs::to_sdk(tags)))
        .customize()
        .config_override(ecs::no_resend())
        .send()
        .await
        .map_err(crate::aws::classify_unretried)?;
    let td = out
        .task_definition()
        .ok_or_else(|| AwsError::Failed("RegisterTaskDefinition returned no task definition".into()))?;
    let got = ecs::from_sdk(out.tags());
    Ok(live(td, if got.is_empty() { tags.clone() } else { got }, &cx.region))
}

/// Whether an error of DescribeTaskDefinition means "no such task definition": ECS answers
/// ClientException "Unable to describe task definition." rather than a NotFound code.
fn missing(e: &AwsError) -> bool {
    match e {
        AwsError::NotFound(_) => true,
        AwsError::Invalid(m) => m.starts_with("ClientException"),
        _ => false,
    }
}

/// One task definition (by ARN, or a family's newest ACTIVE revision), None when it does not
/// exist or is deregistered.
async fn describe(cx: &Cx, arn_or_family: &str) -> Result<Option<Live>, AwsError> {
    let out = match client(cx)
        .describe_task_definition()
        .task_definition(arn_or_family)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(classify)
    {
        Ok(out) => out,
        Err(e) if missing(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(out
        .task_definition()
        .filter(|td| td.status() == Some(&TaskDefinitionStatus::Active))
        .map(|td| live(td, ecs::from_sdk(out.tags()), &cx.region)))
}

async fn deregister(cx: &Cx, arn: &str) -> Result<(), AwsError> {
    // An INACTIVE revision keeps running the tasks and services that use it; it can no longer be
    // used for new ones.
    // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeregisterTaskDefinition.html
    match client(cx).deregister_task_definition().task_definition(arn).send().await.map_err(classify) {
        Ok(_) => Ok(()),
        Err(e) if missing(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

impl KindSpec for TaskDefinition {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn attrs_changed_by_update(&self, changed: &[String]) -> &'static [&'static str] {
        if changed.iter().all(|c| c == "tags") { &[] } else { &["id", "arn", "revision"] }
    }

    /// Fargate's task sizes, the family's name, the containers and the volumes: what
    /// RegisterTaskDefinition refuses (or the tasks fail on), where the values are written out.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(cpu) = s.int("cpu") {
            out.extend(fargate_problem(cpu, s.int("memory")));
        }
        if let Some(family) = s.str("family") {
            out.extend(ecs::name_problem("family", "family", family));
        }
        container_rules(s, &mut out);
        volume_rules(s, &mut out);
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        ecs::default_name_into(props, "family", stack, id);
        let containers = canonical_list(props.get("containers"), canonical_container);
        props.insert("containers".into(), containers);
        let volumes = canonical_list(props.get("volumes"), canonical_volume);
        props.insert("volumes".into(), volumes);
    }

    fn holds(&self) -> &'static [&'static str] {
        &["iam_role", "log_group", "file_system", "access_point", "ssm_parameter"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ecs", "task-definition"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ecs", "RegisterTaskDefinition")])
    }
}

#[async_trait]
impl Kind for TaskDefinition {
    /// ECS has no batch describe for task definitions: one DescribeTaskDefinition per ARN in
    /// `ids`, plus, for adoption, ListTaskDefinitionFamilies with the prefix `<stack>-` (the
    /// default family names encode the stack) and one describe of the newest revision of each
    /// such family not already covered by `ids`, kept when tagged `rprov:stack`.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let mut out = vec![];
        for id in ids {
            if let Some(l) = describe(cx, id).await? {
                out.push(l);
            }
        }
        let families: Vec<String> = crate::aws::all_items(
            client(cx)
                .list_task_definition_families()
                .family_prefix(format!("{}-", cx.stack))
                .status(aws_sdk_ecs::types::TaskDefinitionFamilyStatus::Active)
                .into_paginator()
                .items()
                .send(),
        )
        .await?;
        for family in families {
            if ids.iter().any(|i| family_of(i) == family) {
                continue;
            }
            if let Some(l) = describe(cx, &family).await? {
                out.push(l);
            }
        }
        Ok(out)
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        register(cx, req.props, req.tags).await
    }

    /// Every property "updates in place" in the schema, and that update registers the new
    /// revision first and deregisters the old one after: the executor's replace deletes first,
    /// which would leave a service pointing at a deregistered revision meanwhile. The Live
    /// returned carries the new ARN as its physical id.
    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if req.changed.iter().all(|c| c == "tags") {
            ecs::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
            return describe(cx, req.physical_id).await?.ok_or_else(|| AwsError::NotFound(req.physical_id.into()));
        }
        // A revision registered by an earlier attempt of this update (lost response, crash
        // before the checkpoint) is the family's newest: taken instead of registering another.
        let family = ecs::str_prop(req.new, "family").unwrap_or_default();
        let earlier = describe(cx, family).await?.filter(|l| {
            l.physical_id != req.physical_id
                && l.logical_id() == Some(req.id)
                && req.new.iter().all(|(k, v)| l.props.get(k).is_some_and(|w| w.same(v)))
        });
        let new = match earlier {
            Some(l) => l,
            None => register(cx, req.new, req.tags).await?,
        };
        if let Err(e) = deregister(cx, req.physical_id).await {
            // The new revision is in place; the old one stays ACTIVE and is reported, not fatal.
            cx.status(req.id, &format!("could not deregister the old revision {}: {e}", req.physical_id));
        }
        Ok(new)
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        deregister(cx, req.physical_id).await?;
        // A deregistered revision stays listed (with its tags) until DeleteTaskDefinitions.
        // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteTaskDefinitions.html
        match client(cx).delete_task_definitions().task_definitions(req.physical_id).send().await.map_err(classify) {
            Ok(_) => Ok(()),
            Err(e) if missing(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::testing::check_rules;

    #[test]
    fn fargate_sizes() {
        let ok = |cpu, mem| assert_eq!(check_fargate_size(cpu, mem), Ok(()), "{cpu}/{mem}");
        let no = |cpu, mem, msg: &str| assert_eq!(check_fargate_size(cpu, mem), Err(msg.into()));
        ok(256, 512);
        ok(256, 2048);
        ok(512, 4096);
        ok(1024, 8192);
        ok(4096, 30720);
        ok(8192, 20480);
        ok(16384, 122880);
        no(256, 4096, "Fargate task cpu 256 takes memory 512, 1024 or 2048 (MiB), not 4096");
        no(512, 512, "Fargate task cpu 512 takes memory 1024, 2048, 3072 or 4096 (MiB), not 512");
        no(8192, 17408, "Fargate task cpu 8192 takes memory 16384 to 61440 in steps of 4096 (MiB), not 17408");
        no(300, 1024, "Fargate task cpu 300 is not one AWS allows: 256, 512, 1024, 2048, 4096, 8192 or 16384");
    }

    /// The hint is the nearest size that fits, and which cpu the memory written would take.
    #[test]
    fn fargate_hints() {
        let help = |cpu, mem| fargate_problem(cpu, mem).and_then(|p| p.help);
        assert_eq!(
            help(256, Some(8192)).as_deref(),
            Some("did you mean 2048? (memory 8192 takes cpu 1024, 2048 or 4096)")
        );
        assert_eq!(help(1024, Some(1000)).as_deref(), Some("did you mean 2048?"));
        assert_eq!(help(300, None).as_deref(), Some("did you mean 256?"));
        // A cpu that takes the memory written is preferred to the nearest one.
        assert_eq!(help(300, Some(8192)).as_deref(), Some("did you mean 1024?"));
        assert_eq!(help(256, None), None);
    }

    const TD: &str = "td:\n  type: task_definition\n  cpu: 256\n  memory: 512\n";

    fn td(rest: &str) -> String {
        format!("{TD}  {rest}")
    }

    #[test]
    fn task_sizes_are_located() {
        let t = |cpu: &str, mem: &str| {
            format!("td: {{ type: task_definition, cpu: {cpu}, memory: {mem}, containers: [{{ name: a, image: x }}] }}")
        };
        check_rules(&t("256", "2048"), &[]);
        check_rules(&t("256", "8192"), &["4:50: Fargate task cpu 256 takes memory | did you mean 2048?"]);
        check_rules(&t("300", "512"), &["4:37: Fargate task cpu 300 is not one AWS allows | did you mean 256?"]);
    }

    #[test]
    fn containers() {
        let ok = "containers: [{ name: app, image: x, memory: 512, cpu: 128 }, { name: side_car-2, image: y, cpu: 128, essential: false }]";
        check_rules(&td(ok), &[]);
        check_rules(&td("containers: []"), &["needs at least one container"]);
        check_rules(
            &td("containers: [{ name: app, image: x }, { name: app, image: y }]"),
            &["8:51: container name `app` is used by an earlier container"],
        );
        check_rules(&td("containers: [{ name: my.app, image: x }]"), &["contains `.` | did you mean `my-app`?"]);
        check_rules(
            &td("containers: [{ name: app, image: x, memory: 1024 }]"),
            &["container memory 1024 MiB is more than the task's 512"],
        );
        check_rules(
            &td("containers: [{ name: a, image: x, cpu: 200 }, { name: b, image: y, cpu: 100 }]"),
            &["8:77: the containers reserve 300 cpu units in all, more than the task's 256"],
        );
        check_rules(&td("containers: [{ name: a, image: x, essential: false }]"), &["no container is essential"]);
        check_rules(
            &td(
                "containers: [{ name: a, image: x, environment: { A: '1', B: '2' }, secrets: { B: arn, C: arn } }]\n  execution_role: r",
            ),
            &["8:86: secret `B` has the name of an environment variable of this container"],
        );
        check_rules(
            &td("containers: [{ name: a, image: x, environment: { '': x } }]"),
            &["an environment variable has an empty name"],
        );
    }

    #[test]
    fn health_check_ranges() {
        let hc = |fields: &str| {
            td(&format!("containers: [{{ name: a, image: x, health_check: {{ command: [CMD, 'true'], {fields} }} }}]"))
        };
        check_rules(&hc("interval: 5, timeout: 60, retries: 10, start_period: 300"), &[]);
        check_rules(&hc("interval: 300, timeout: 2, retries: 1, start_period: 0"), &[]);
        check_rules(
            &hc("interval: 4, timeout: 61, retries: 11, start_period: 301"),
            &[
                "health check `interval` 4 is out of range: AWS allows 5 to 300",
                "`timeout` 61 is out of range: AWS allows 2 to 60",
                "`retries` 11",
                "`start_period` 301",
            ],
        );
    }

    #[test]
    fn mount_points_name_declared_volumes() {
        let mounts = "containers: [{ name: a, image: x, mount_points: [{ volume: data, path: /d }] }]\n";
        check_rules(&td(&format!("{mounts}  volumes: [{{ name: data }}]")), &[]);
        check_rules(
            &td(&format!("{mounts}  volumes: [{{ name: date }}]")),
            &["8:64: mount point names volume `data` | did you mean `date`?"],
        );
        check_rules(&td(mounts), &["declare it under `volumes`"]);
    }

    #[test]
    fn what_needs_an_execution_role() {
        let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1";
        check_rules(
            &td(&format!(
                "containers: [{{ name: a, image: {ecr}, log_group: /l, secrets: {{ P: arn }} }}]\n  execution_role: arn:aws:iam::1:role/x"
            )),
            &[],
        );
        check_rules(&td("containers: [{ name: a, image: public.ecr.aws/nginx/nginx:1 }]"), &[]);
        check_rules(
            &td(&format!(
                "containers: [{{ name: a, image: x, secrets: {{ P: arn }} }}, {{ name: b, image: {ecr}, log_group: /l }}]"
            )),
            &[
                "8:48: Fargate needs the task's `execution_role` to read `secrets`, to send logs to CloudWatch (`log_group`), to pull an image from a private ECR registry",
            ],
        );
    }

    #[test]
    fn efs_volumes() {
        let vol = |fields: &str| {
            td(&format!(
                "containers: [{{ name: a, image: x }}]\n  volumes: [{{ name: v, file_system: fs-1, {fields} }}]"
            ))
        };
        check_rules(&vol("access_point: fsap-1, iam: true, root_directory: /"), &[]);
        check_rules(&vol("transit_encryption: false, root_directory: /data"), &[]);
        check_rules(
            &vol("access_point: fsap-1, transit_encryption: false"),
            &["with an access point needs transit encryption"],
        );
        check_rules(
            &vol("iam: true, transit_encryption: false"),
            &["with IAM authorization (`iam: true`) needs transit encryption"],
        );
        check_rules(
            &vol("access_point: fsap-1, root_directory: /data"),
            &["root directory `/data` with an access point"],
        );
        check_rules(
            &td("containers: [{ name: a, image: x }]\n  volumes: [{ name: my vol }]"),
            &["volume name `my vol` contains ` `"],
        );
        // The access point of another file system.
        let stack = "fs1: { type: file_system }\nfs2: { type: file_system }\nap: { type: access_point, file_system: \"${fs2.id}\" }\n";
        let vol = |fs: &str| {
            format!(
                "{stack}{}",
                td(&format!(
                    "containers: [{{ name: a, image: x }}]\n  volumes: [{{ name: v, file_system: \"${{{fs}.id}}\", access_point: \"${{ap.id}}\" }}]"
                ))
            )
        };
        check_rules(&vol("fs2"), &[]);
        // A file system written out by id may be the stack's own, adopted: not refused.
        let literal = format!(
            "{stack}{}",
            td(
                "containers: [{ name: a, image: x }]\n  volumes: [{ name: v, file_system: fs-1, access_point: \"${ap.id}\" }]"
            )
        );
        check_rules(&literal, &[]);
        check_rules(&vol("fs1"), &["access point `ap` opens file system `fs2`, not this volume's `fs1`"]);
    }

    #[test]
    fn family_names() {
        check_rules(&td("family: web_app-2\n  containers: [{ name: a, image: x }]"), &[]);
        check_rules(
            &td("family: web.app\n  containers: [{ name: a, image: x }]"),
            &["8:13: family `web.app` contains `.`"],
        );
    }

    #[test]
    fn normalise_fills_defaults_and_keeps_unknowns() {
        let mut p = Props::from([
            ("cpu".to_string(), Value::Int(256)),
            (
                "containers".to_string(),
                Value::List(vec![Value::Map(Map::from([
                    ("name".to_string(), Value::str("app")),
                    ("image".to_string(), Value::str("app:1")),
                    ("log_group".to_string(), Value::Unknown),
                ]))]),
            ),
            (
                "volumes".to_string(),
                Value::List(vec![Value::Map(Map::from([
                    ("name".to_string(), Value::str("data")),
                    ("file_system".to_string(), Value::Unknown),
                    ("access_point".to_string(), Value::str("fsap-1")),
                ]))]),
            ),
        ]);
        TaskDefinition.normalise("s", "app_td", &mut p);
        assert_eq!(p["family"], Value::str("s-app-td"));
        let c = p["containers"].as_list()[0].as_map().unwrap().clone();
        assert_eq!(c["essential"], Value::Bool(true));
        assert_eq!(c["stream_prefix"], Value::str("ecs"));
        assert_eq!(c["log_group"], Value::Unknown);
        assert_eq!(c["port_mappings"], Value::List(vec![]));
        let v = p["volumes"].as_list()[0].as_map().unwrap().clone();
        assert_eq!(v["iam"], Value::Bool(true));
        assert_eq!(v["transit_encryption"], Value::Bool(true));
        assert_eq!(v["root_directory"], Value::str("/"));
    }

    /// What `create` sends, read back as AWS reports it, is the normalised stack value: no
    /// perpetual diff from the shape conversion itself.
    #[test]
    fn sdk_round_trip_keeps_the_canonical_shape() {
        let container = Value::Map(Map::from([
            ("name".to_string(), Value::str("app")),
            ("image".to_string(), Value::str("app:1")),
            (
                "port_mappings".to_string(),
                Value::List(vec![Value::Map(Map::from([("container_port".to_string(), Value::Int(8000))]))]),
            ),
            ("environment".to_string(), Value::Map(Map::from([("A".to_string(), Value::str("1"))]))),
            (
                "secrets".to_string(),
                Value::Map(Map::from([("P".to_string(), Value::str("arn:aws:ssm:r:1:parameter/p"))])),
            ),
            (
                "health_check".to_string(),
                Value::Map(Map::from([(
                    "command".to_string(),
                    Value::List(vec![Value::str("CMD"), Value::str("true")]),
                )])),
            ),
            ("log_group".to_string(), Value::str("/app")),
            (
                "mount_points".to_string(),
                Value::List(vec![Value::Map(Map::from([
                    ("volume".to_string(), Value::str("data")),
                    ("path".to_string(), Value::str("/data")),
                    ("read_only".to_string(), Value::Bool(true)),
                ]))]),
            ),
            ("memory".to_string(), Value::Int(256)),
        ]));
        let volumes = [
            Value::Map(Map::from([("name".to_string(), Value::str("scratch"))])),
            Value::Map(Map::from([
                ("name".to_string(), Value::str("data")),
                ("file_system".to_string(), Value::str("fs-1")),
                ("access_point".to_string(), Value::str("fsap-1")),
            ])),
            Value::Map(Map::from([
                ("name".to_string(), Value::str("plain")),
                ("file_system".to_string(), Value::str("fs-1")),
                ("transit_encryption".to_string(), Value::Bool(false)),
                ("root_directory".to_string(), Value::str("/exports")),
            ])),
        ];
        let mut p = Props::from([
            ("containers".to_string(), Value::List(vec![container])),
            ("volumes".to_string(), Value::List(volumes.to_vec())),
        ]);
        TaskDefinition.normalise("s", "td", &mut p);
        for c in p["containers"].as_list() {
            assert_eq!(&container_from_sdk(&container_to_sdk(c, "us-east-1").unwrap(), "us-east-1"), c);
        }
        for v in p["volumes"].as_list() {
            assert_eq!(&volume_from_sdk(&volume_to_sdk(v).unwrap()), v);
        }
        // A log group in another region than the stack's shows up as drift.
        let c = container_to_sdk(&p["containers"].as_list()[0], "eu-west-1").unwrap();
        assert_eq!(container_from_sdk(&c, "us-east-1").as_map().unwrap()["log_region"], Value::str("eu-west-1"));
    }

    #[test]
    fn family_from_arn() {
        assert_eq!(family_of("arn:aws:ecs:us-east-1:123456789012:task-definition/s-app:7"), "s-app");
        assert_eq!(family_of("s-app:7"), "s-app");
    }
}
