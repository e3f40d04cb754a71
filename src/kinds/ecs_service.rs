use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentRolloutState,
    LaunchType, LoadBalancer, NetworkConfiguration, Service, ServiceField,
};

use super::ecs::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, classify, wait_gone, wait_until};
use crate::diag::did_you_mean;
use crate::expr::{Expr, ExprMap};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{Named, earlier_with_same_name, lit_int, lit_str, ref_target, vpc_of};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct EcsService;

static CIRCUIT_BREAKER: Ty = Ty::Obj(&[
    Prop::new("enable", Ty::Bool, "Stop a deployment whose tasks keep failing to start.")
        .aws("ecs:DeploymentCircuitBreaker.enable")
        .default(Default::Bool(true)),
    Prop::new("rollback", Ty::Bool, "Roll a stopped deployment back to the last completed one.")
        .aws("ecs:DeploymentCircuitBreaker.rollback")
        .default(Default::Bool(true)),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "ecs_service",
    doc: "An ECS service on Fargate: keeps `desired_count` tasks of a task definition running in the \
          given subnets, optionally registered with a target group. Apply waits for a steady state \
          (one deployment, all tasks running).",
    props: &[
        Prop::new("name", Ty::Str, "Service name, unique in the cluster. Default: `<stack>-<id>`.")
            .aws("ecs:CreateServiceRequest.serviceName")
            .replaces(),
        Prop::new("cluster", Ty::Str, "The cluster (`${cluster.arn}` or its name).")
            .aws("ecs:CreateServiceRequest.cluster")
            .required()
            .replaces(),
        Prop::new("task_definition", Ty::Str, "The task definition ARN with revision (`${td.arn}`).")
            .aws("ecs:CreateServiceRequest.taskDefinition")
            .required(),
        Prop::new("desired_count", Ty::Int, "Tasks to keep running.")
            .aws("ecs:CreateServiceRequest.desiredCount")
            .default(Default::Int(1)),
        Prop::new("subnets", Ty::List(&Ty::Str), "Subnet ids the tasks' ENIs go in (private subnets).")
            .aws("ecs:AwsVpcConfiguration.subnets")
            .required()
            .unordered(),
        Prop::new("security_groups", Ty::List(&Ty::Str), "Security group ids of the tasks' ENIs.")
            .aws("ecs:AwsVpcConfiguration.securityGroups")
            .required()
            .unordered(),
        Prop::new("assign_public_ip", Ty::Bool, "Give tasks public IPs (only in public subnets).")
            .default(Default::Bool(false)),
        Prop::new("target_group", Ty::Str, "Target group ARN the tasks register with (`${tg.arn}`).")
            .aws("ecs:LoadBalancer.targetGroupArn")
            .replaces(),
        Prop::new("container_name", Ty::Str, "Container that receives the target group's traffic.")
            .aws("ecs:LoadBalancer.containerName")
            .replaces(),
        Prop::new("container_port", Ty::Int, "Its port.").aws("ecs:LoadBalancer.containerPort").replaces(),
        Prop::new("platform_version", Ty::Str, "Fargate platform version.")
            .aws("ecs:CreateServiceRequest.platformVersion")
            .default(Default::Str("LATEST")),
        Prop::new("circuit_breaker", CIRCUIT_BREAKER, "Deployment circuit breaker. Default: on, with rollback.")
            .aws("ecs:DeploymentConfiguration.deploymentCircuitBreaker"),
        Prop::new(
            "health_check_grace_period",
            Ty::Int,
            "Seconds the load balancer's health checks are ignored after a task starts.",
        )
        .aws("ecs:CreateServiceRequest.healthCheckGracePeriodSeconds")
        .default(Default::Int(0)),
        Prop::new("enable_execute_command", Ty::Bool, "Allow `aws ecs execute-command` into the tasks.")
            .aws("ecs:CreateServiceRequest.enableExecuteCommand")
            .default(Default::Bool(false)),
    ],
    attrs: &[
        Attr::new("id", "The service ARN."),
        Attr::new("arn", "The service ARN."),
        Attr::new("name", "The service name."),
    ],
    taggable: true,
};

/// DescribeServices takes at most 10 services per call.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html
const DESCRIBE_BATCH: usize = 10;

/// clientToken: "Up to 36 ASCII characters in the range of 33-126 (inclusive) are allowed."
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
const TOKEN_MAX: usize = 36;

type Map = crate::value::Props;

fn live(s: &Service) -> Live {
    let arn = s.service_arn().unwrap_or_default().to_owned();
    let name = s.service_name().unwrap_or_default();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(name));
    props.insert("cluster".into(), Value::str(ecs::cluster_name(s.cluster_arn().unwrap_or_default())));
    props.insert("task_definition".into(), Value::str(s.task_definition().unwrap_or_default()));
    props.insert("desired_count".into(), Value::from(s.desired_count()));
    if let Some(vpc) = s.network_configuration().and_then(|n| n.awsvpc_configuration()) {
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            Value::List(v.into_iter().map(Value::Str).collect())
        };
        props.insert("subnets".into(), sorted(vpc.subnets()));
        props.insert("security_groups".into(), sorted(vpc.security_groups()));
        props.insert("assign_public_ip".into(), Value::Bool(vpc.assign_public_ip() == Some(&AssignPublicIp::Enabled)));
    }
    if let Some(lb) = s.load_balancers().first() {
        props.insert("target_group".into(), lb.target_group_arn().map_or(Value::Null, Value::str));
        props.insert("container_name".into(), lb.container_name().map_or(Value::Null, Value::str));
        props.insert("container_port".into(), lb.container_port().map_or(Value::Null, Value::from));
    }
    if let Some(v) = s.platform_version() {
        props.insert("platform_version".into(), Value::str(v));
    }
    // AWS always reports these; moto leaves out what its CreateService ignores. Absent, they are
    // compared with the recorded values.
    if let Some(cb) = s.deployment_configuration().and_then(|d| d.deployment_circuit_breaker()) {
        props.insert(
            "circuit_breaker".into(),
            Value::Map(Map::from([
                ("enable".into(), Value::Bool(cb.enable())),
                ("rollback".into(), Value::Bool(cb.rollback())),
            ])),
        );
    }
    if let Some(g) = s.health_check_grace_period_seconds() {
        props.insert("health_check_grace_period".into(), Value::from(g));
    }
    props.insert("enable_execute_command".into(), Value::Bool(s.enable_execute_command()));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&arn));
    attrs.insert("arn".into(), Value::str(&arn));
    attrs.insert("name".into(), Value::str(name));
    Live { physical_id: arn, props, attrs, tags: ecs::from_sdk(s.tags()) }
}

/// `arn:aws:ecs:region:account:service/CLUSTER/NAME` -> (CLUSTER, NAME). The old short format
/// (`service/NAME`, before 2021) names no cluster and is not supported.
fn service_path(arn: &str) -> Option<(&str, &str)> {
    arn.rsplit_once(":service/")?.1.split_once('/')
}

fn exists(s: &Service) -> bool {
    // DRAINING is on its way to INACTIVE; a new service of that name cannot be created
    // meanwhile, but nothing about it can be changed either.
    s.status() == Some("ACTIVE")
}

fn network(props: &Props) -> Result<NetworkConfiguration, AwsError> {
    let list = |k: &str| props.get(k).map(Value::string_list);
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(list("subnets"))
        // moto answers 500 to an awsvpcConfiguration without securityGroups (AWS would use the
        // VPC's default group); the schema requires them, so they are always sent.
        .set_security_groups(list("security_groups"))
        .assign_public_ip(if ecs::bool_prop(props, "assign_public_ip").unwrap_or(false) {
            AssignPublicIp::Enabled
        } else {
            AssignPublicIp::Disabled
        })
        .build()
        .map_err(|e| AwsError::Invalid(format!("network configuration: {e}")))?;
    Ok(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
}

fn deployment_config(props: &Props) -> DeploymentConfiguration {
    let cb = props.get("circuit_breaker").and_then(Value::as_map);
    let flag = |k: &str| cb.and_then(|m| m.get(k)).and_then(Value::as_bool).unwrap_or(true);
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder().enable(flag("enable")).rollback(flag("rollback")).build(),
        )
        .build()
}

fn load_balancer(props: &Props) -> Result<Option<LoadBalancer>, AwsError> {
    let Some(tg) = ecs::str_prop(props, "target_group") else { return Ok(None) };
    let (Some(name), Some(port)) = (ecs::str_prop(props, "container_name"), ecs::int_prop(props, "container_port"))
    else {
        return Err(AwsError::Invalid("target_group needs container_name and container_port".into()));
    };
    Ok(Some(
        LoadBalancer::builder()
            .target_group_arn(tg)
            .container_name(name)
            .container_port(i32::try_from(port).map_err(|_| AwsError::Invalid(format!("container_port {port}")))?)
            .build(),
    ))
}

fn i32_prop(props: &Props, name: &str) -> Option<i32> {
    ecs::int_prop(props, name).and_then(|n| i32::try_from(n).ok())
}

async fn describe(cx: &Cx, cluster: &str, services: &[String]) -> Result<Vec<Service>, AwsError> {
    let mut out = vec![];
    for chunk in services.chunks(DESCRIBE_BATCH) {
        let page = client(cx)
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(classify)?;
        out.extend(page.services().iter().cloned());
    }
    Ok(out)
}

/// The service as it is now; None when it is INACTIVE or unknown.
async fn describe_one(cx: &Cx, arn: &str) -> Result<Option<Service>, AwsError> {
    let (cluster, _) = service_path(arn).ok_or_else(|| AwsError::Invalid(format!("not a service ARN: {arn}")))?;
    match describe(cx, cluster, &[arn.to_owned()]).await {
        Ok(s) => Ok(s.into_iter().find(|s| s.status() != Some("INACTIVE"))),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One observation of a service settling after a create or an update. Steady means what
/// AWS's own `services-stable` waiter means: one deployment, and as many tasks running as
/// desired. A deployment the circuit breaker stopped (rolloutState FAILED), or a service that
/// rolled back to another task definition than the one deployed, will not become steady.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
fn stability(s: &Service, task_definition: Option<&str>) -> Poll<()> {
    if s.status() != Some("ACTIVE") {
        return Poll::Failed(format!("service is {}", s.status().unwrap_or("gone")));
    }
    let deployments = s.deployments();
    if let Some(d) = deployments.iter().find(|d| d.rollout_state() == Some(&DeploymentRolloutState::Failed)) {
        return Poll::Failed(format!(
            "deployment {} failed: {}",
            d.id().unwrap_or("?"),
            d.rollout_state_reason().unwrap_or("no reason given")
        ));
    }
    // After a rollback the service's task definition is the last completed one again.
    if let (Some(now), Some(want)) = (s.task_definition(), task_definition)
        && now != want
    {
        return Poll::Failed(format!("the service runs {now} instead of {want} (rolled back)"));
    }
    if deployments.len() <= 1 && s.running_count() == s.desired_count() {
        Poll::Ready(())
    } else {
        Poll::Pending(format!(
            "{} deployments, {} of {} tasks running",
            deployments.len(),
            s.running_count(),
            s.desired_count()
        ))
    }
}

async fn wait_stable(cx: &Cx, logical_id: &str, arn: &str, task_definition: Option<&str>) -> Result<(), AwsError> {
    wait_until(
        &cx.wait,
        &format!("service {arn} to reach a steady state"),
        |m| cx.status(logical_id, m),
        || async move {
            match describe_one(cx, arn).await? {
                Some(s) => Ok(stability(&s, task_definition)),
                None => Ok(Poll::Failed("the service is gone".into())),
            }
        },
    )
    .await
}

/// One observation of a service being deleted: listed until it is INACTIVE.
fn draining(s: &Service) -> Poll<()> {
    Poll::Pending(format!("{}, {} tasks running", s.status().unwrap_or("?"), s.running_count()))
}

async fn read_back(cx: &Cx, arn: &str) -> Result<Live, AwsError> {
    describe_one(cx, arn).await?.map(|s| live(&s)).ok_or_else(|| AwsError::NotFound(arn.into()))
}

/// Whether an error says the service is not active any more (already deleted).
fn not_active(e: &AwsError) -> bool {
    match e {
        AwsError::NotFound(_) => true,
        AwsError::Invalid(m) => m.starts_with("ServiceNotActiveException"),
        _ => false,
    }
}

// ---- what CreateService refuses ---------------------------------------------------------------

/// AWS (AwsVpcConfiguration): "There's a limit of 16 subnets that can be specified", "There's a
/// limit of 5 security groups", "All specified subnets must be from the same VPC", "All
/// specified security groups must be from the same VPC".
const MAX_SUBNETS: usize = 16;
const MAX_SECURITY_GROUPS: usize = 5;

/// The name the service gets: its `name`, else `<stack>-<id>`; None when known only at apply.
fn service_name(stack: &str, id: &str, props: &ExprMap) -> Option<String> {
    match props.get("name") {
        None | Some(Expr::Lit(Value::Null)) => Some(ecs::default_name(stack, id)),
        e => lit_str(e).map(str::to_owned),
    }
}

fn is_empty_list(e: Option<&Expr>) -> bool {
    match e {
        Some(Expr::List(l)) => l.is_empty(),
        Some(Expr::Lit(Value::List(l))) => l.is_empty(),
        _ => false,
    }
}

fn list_of(e: Option<&Expr>) -> &[Expr] {
    match e {
        Some(Expr::List(l)) => l,
        _ => &[],
    }
}

/// The target group, and the container and port it sends traffic to. AWS (CreateService,
/// loadBalancers): "this object must contain the load balancer target group ARN, the container
/// name, and the container port"; "The container name must be as it appears in a container
/// definition"; the port "must correspond to a containerPort in the task definition" ("The
/// container ... did not have a container port ... defined."); awsvpc tasks need target groups
/// of type `ip`; a target group no load balancer uses is refused ("The target group ... does not
/// have an associated load balancer.").
fn load_balancer_rules(s: &Subject, out: &mut Vec<Problem>) {
    if !matches!(s.get("target_group"), Some(e) if *e != Expr::Lit(Value::Null)) {
        return;
    }
    if s.get("container_name").is_none() || s.get("container_port").is_none() {
        out.push(Problem::new(
            "target_group",
            "a service registered with a target group needs `container_name` and `container_port`: the container and port the target group sends traffic to",
        ));
    }
    if let (Some((td, "task_definition", props)), Some(name)) =
        (s.referenced("task_definition"), s.str("container_name"))
    {
        let containers: Vec<&ExprMap> = list_of(props.get("containers"))
            .iter()
            .filter_map(|c| match c {
                Expr::Map(m) => Some(m),
                _ => None,
            })
            .collect();
        let names: Option<Vec<&str>> = containers.iter().map(|c| lit_str(c.get("name"))).collect();
        match (containers.iter().find(|c| lit_str(c.get("name")) == Some(name)), names) {
            (None, Some(names)) => {
                let help = did_you_mean(name, names.iter().copied()).unwrap_or_else(|| {
                    format!("its containers: {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
                });
                out.push(
                    Problem::new("container_name", format!("task definition `{td}` has no container `{name}`"))
                        .help(help),
                );
            }
            (Some(c), _) => {
                let ports: Option<Vec<i64>> = list_of(c.get("port_mappings"))
                    .iter()
                    .map(|p| match p {
                        Expr::Map(p) => lit_int(p.get("container_port")),
                        _ => None,
                    })
                    .collect();
                if let (Some(port), Some(ports)) = (s.int("container_port"), ports)
                    && !ports.contains(&port)
                {
                    let help = match ports.as_slice() {
                        [] => "add it to the container's `port_mappings`".to_owned(),
                        _ => format!("it maps {}", ports.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
                    };
                    out.push(
                        Problem::new(
                            "container_port",
                            format!("container `{name}` of task definition `{td}` maps no port {port}"),
                        )
                        .help(help),
                    );
                }
            }
            (None, None) => {}
        }
    }
    if let Some((tg, "target_group", props)) = s.referenced("target_group") {
        if let Some(t) = lit_str(props.get("target_type")).filter(|t| *t != "ip") {
            out.push(
                Problem::new(
                    "target_group",
                    format!("target group `{tg}` has target_type `{t}`; Fargate tasks (awsvpc) register by ip"),
                )
                .help("leave out the target group's `target_type` (ip by default)"),
            );
        }
        let forwarded = s.stack.resources().iter().any(|(_, kind, p)| {
            kind.starts_with("listener") && p.values().any(|e| e.refs().iter().any(|r| r.target == tg))
        });
        if !forwarded {
            out.push(
                Problem::new(
                    "target_group",
                    format!("no listener of this stack forwards to target group `{tg}`; AWS refuses a service whose target group no load balancer uses"),
                )
                .help("add a listener forwarding to it, and list that listener in this service's `depends_on`"),
            );
        }
    }
}

fn network_rules(s: &Subject, out: &mut Vec<Problem>) {
    let (subnets, groups) = (s.list("subnets"), s.list("security_groups"));
    if is_empty_list(s.get("subnets")) {
        out.push(Problem::new("subnets", "a service needs at least one subnet for its tasks"));
    }
    if subnets.len() > MAX_SUBNETS {
        out.push(Problem::new("subnets", format!("{} subnets; AWS allows at most {MAX_SUBNETS}", subnets.len())));
    }
    if groups.len() > MAX_SECURITY_GROUPS {
        out.push(Problem::new(
            "security_groups",
            format!("{} security groups; AWS allows at most {MAX_SECURITY_GROUPS}", groups.len()),
        ));
    }
    let mut first: Option<(&str, Named)> = None;
    for (i, e) in subnets.iter().enumerate() {
        let (Some(id), Some(vpc)) = (ref_target(e), vpc_of(s.stack, e)) else { continue };
        match first {
            None => first = Some((id, vpc)),
            Some((other, theirs)) if theirs.differs(&vpc) => out.push(Problem::new(
                format!("subnets.{i}"),
                format!("subnet `{id}` is in VPC {vpc}, subnet `{other}` in {theirs}; AWS wants a service's subnets in one VPC"),
            )),
            Some(_) => {}
        }
    }
    let Some((subnet, vpc)) = first else { return };
    for (i, e) in groups.iter().enumerate() {
        if let (Some(id), Some(theirs)) = (ref_target(e), vpc_of(s.stack, e))
            && theirs.differs(&vpc)
        {
            out.push(Problem::new(
                format!("security_groups.{i}"),
                format!("security group `{id}` is of VPC {theirs}, the service's subnet `{subnet}` of {vpc}; AWS wants them in one VPC"),
            ));
        }
    }
}

impl KindSpec for EcsService {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// The name, the load balancer's container and port, the network: what CreateService
    /// refuses, where the stack writes it out.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(name) = s.str("name") {
            out.extend(ecs::name_problem("name", "service name", name));
        }
        // AWS: "Service names must be unique within a cluster"; a second CreateService of the
        // name answers "Creation of service was not idempotent."
        let stack = s.stack.name();
        if let Some(cluster) = ecs::cluster_of(s.props)
            && let Some((other, name)) = earlier_with_same_name(s, "ecs_service", |id, p| {
                if ecs::cluster_of(p) == Some(cluster) { service_name(stack, id, p) } else { None }
            })
        {
            out.push(Problem::new(
                "name",
                format!("service `{other}` is named `{name}` in the same cluster; AWS keeps service names unique in a cluster"),
            ));
        }
        load_balancer_rules(s, &mut out);
        network_rules(s, &mut out);
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        ecs::default_name_into(props, "name", stack, id);
        if let Some(Value::Str(c)) = props.get("cluster") {
            let name = ecs::cluster_name(c).to_owned();
            props.insert("cluster".into(), Value::Str(name));
        }
        let cb = props.get("circuit_breaker").and_then(Value::as_map).cloned().unwrap_or_default();
        let flag = |k: &str| cb.get(k).filter(|v| !v.is_null()).cloned().unwrap_or(Value::Bool(true));
        let cb = Map::from([("enable".into(), flag("enable")), ("rollback".into(), flag("rollback"))]);
        props.insert("circuit_breaker".into(), Value::Map(cb));
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["ecs_cluster", "task_definition", "target_group", "listener", "subnet", "security_group"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ecs", "service"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ecs", "CreateService")])
    }
}

/// DescribeServices per cluster (10 per call), of the services named: those still there.
async fn services_of(cx: &Cx, clusters: &BTreeMap<String, Vec<String>>) -> Result<Vec<Live>, AwsError> {
    let mut out = vec![];
    for (cluster, arns) in clusters {
        let services = match describe(cx, cluster, arns).await {
            Ok(s) => s,
            // A cluster deleted outside rprov: its services are gone with it.
            Err(AwsError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        out.extend(services.iter().filter(|s| exists(s)).map(live));
    }
    Ok(out)
    }

#[async_trait]
impl Kind for EcsService {
    /// Services are listed and described per cluster: ListClusters once, then for each cluster
    /// of an id in `ids` or named `<stack>-...` (the cluster kind's default name encodes the
    /// stack), ListServices (for adoption) and DescribeServices with tags, 10 services per call.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let prefix = format!("{}-", cx.stack);
        let mut clusters: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in ids {
            if let Some((cluster, _)) = service_path(id) {
                clusters.entry(cluster.to_owned()).or_default().push(id.clone());
            }
        }
        let listed = ecs::list_clusters(cx).await?;
        let owned: Vec<String> =
            listed.iter().map(|a| ecs::cluster_name(a).to_owned()).filter(|n| n.starts_with(&prefix)).collect();
        for cluster in &owned {
            let arns: Vec<String> =
                crate::aws::all_items(client(cx).list_services().cluster(cluster).into_paginator().items().send())
                    .await?;
            let entry = clusters.entry(cluster.clone()).or_default();
            for a in arns {
                if !entry.contains(&a) {
                    entry.push(a);
                }
            }
        }
        services_of(cx, &clusters).await
    }

    /// The services of the given clusters: ListServices and DescribeServices per cluster.
    async fn read_of(&self, cx: &Cx, owners: &[String]) -> Result<Vec<Live>, AwsError> {
        let mut clusters: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for cluster in owners {
            let name = ecs::cluster_name(cluster).to_owned();
            let arns = crate::aws::all_items(client(cx).list_services().cluster(&name).into_paginator().items().send());
            match arns.await {
                Ok(a) if !a.is_empty() => {
                    clusters.insert(name, a);
                }
                Ok(_) | Err(AwsError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        services_of(cx, &clusters).await
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        let token = &req.token[..req.token.len().min(TOKEN_MAX)];
        let lb = load_balancer(p)?;
        let out = client(cx)
            .create_service()
            .cluster(ecs::str_prop(p, "cluster").unwrap_or_default())
            .service_name(ecs::str_prop(p, "name").unwrap_or_default())
            .task_definition(ecs::str_prop(p, "task_definition").unwrap_or_default())
            .set_desired_count(i32_prop(p, "desired_count"))
            .launch_type(LaunchType::Fargate)
            .platform_version(ecs::str_prop(p, "platform_version").unwrap_or("LATEST"))
            .network_configuration(network(p)?)
            .deployment_configuration(deployment_config(p))
            .set_health_check_grace_period_seconds(lb.as_ref().and_then(|_| i32_prop(p, "health_check_grace_period")))
            .set_load_balancers(lb.map(|l| vec![l]))
            .enable_execute_command(ecs::bool_prop(p, "enable_execute_command").unwrap_or(false))
            .set_tags(Some(ecs::to_sdk(req.tags)))
            // The same token makes a repeated CreateService (lost response, executor retry)
            // return the first service instead of failing or creating another.
            .client_token(token)
            .send()
            .await
            .map_err(classify)?;
        let arn = out
            .service()
            .and_then(|s| s.service_arn())
            .ok_or_else(|| AwsError::Failed("CreateService returned no service".into()))?
            .to_owned();
        wait_stable(cx, req.id, &arn, ecs::str_prop(p, "task_definition")).await?;
        let mut l = read_back(cx, &arn).await?;
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let p = req.new;
        let has = |n: &str| ecs::changed(req.changed, n);
        if req.changed.iter().any(|c| c != "tags") {
            let cluster = ecs::str_prop(p, "cluster").unwrap_or_default();
            let mut op = client(cx).update_service().cluster(cluster).service(req.physical_id);
            if has("task_definition") {
                op = op.set_task_definition(ecs::str_prop(p, "task_definition").map(str::to_owned));
            }
            if has("desired_count") {
                op = op.set_desired_count(i32_prop(p, "desired_count"));
            }
            if has("subnets") || has("security_groups") || has("assign_public_ip") {
                op = op.network_configuration(network(p)?);
            }
            if has("circuit_breaker") {
                op = op.deployment_configuration(deployment_config(p));
            }
            if has("platform_version") {
                op = op.set_platform_version(ecs::str_prop(p, "platform_version").map(str::to_owned));
            }
            if has("health_check_grace_period") && ecs::str_prop(p, "target_group").is_some() {
                op = op.set_health_check_grace_period_seconds(i32_prop(p, "health_check_grace_period"));
            }
            if has("enable_execute_command") {
                op = op.set_enable_execute_command(ecs::bool_prop(p, "enable_execute_command"));
            }
            op.send().await.map_err(classify)?;
            wait_stable(cx, req.id, req.physical_id, ecs::str_prop(p, "task_definition")).await?;
        }
        if has("tags") {
            ecs::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        read_back(cx, req.physical_id).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let Some((cluster, _)) = service_path(req.physical_id) else {
            return Err(AwsError::Invalid(format!("not a service ARN: {}", req.physical_id)));
        };
        let ecs = client(cx);
        // Scaled to 0 first so the tasks stop (and deregister from the target group) before the
        // service goes; DeleteService with force would also do, but this drains the same way
        // the console does.
        match ecs.update_service().cluster(cluster).service(req.physical_id).desired_count(0).send().await {
            Ok(_) => {}
            Err(e) => match classify(e) {
                e if not_active(&e) => return Ok(()),
                e => return Err(e),
            },
        }
        match ecs.delete_service().cluster(cluster).service(req.physical_id).force(true).send().await {
            Ok(_) => {}
            Err(e) => match classify(e) {
                e if not_active(&e) => return Ok(()),
                e => return Err(e),
            },
        }
        // The service drains (DRAINING) until its tasks have stopped; until then their ENIs hold
        // the subnets and security groups, and the cluster refuses deletion.
        let what = format!("service {} to drain", req.physical_id);
        wait_gone(cx, req.id, &what, || describe_one(cx, req.physical_id), draining).await
    }
}

#[cfg(test)]
mod rules {
    use crate::kinds::testing::check_rules;

    /// A network of two VPCs, a load balancer, a target group and a task definition.
    const BASE: &str = r#"
vpc: { type: vpc, cidr: 10.0.0.0/16 }
other: { type: vpc, cidr: 10.1.0.0/16 }
a: { type: subnet, vpc: "${vpc.id}", cidr: 10.0.0.0/24, az: us-east-1a }
b: { type: subnet, vpc: "${vpc.id}", cidr: 10.0.1.0/24, az: us-east-1b }
c: { type: subnet, vpc: "${other.id}", cidr: 10.1.0.0/24, az: us-east-1a }
sg: { type: security_group, vpc: "${vpc.id}" }
sg_other: { type: security_group, vpc: "${other.id}" }
alb: { type: load_balancer, subnets: ["${a.id}", "${b.id}"], security_groups: ["${sg.id}"] }
tg: { type: target_group, vpc: "${vpc.id}", protocol: HTTP, port: 80 }
tg_instance: { type: target_group, vpc: "${vpc.id}", protocol: HTTP, port: 80, target_type: instance }
web: { type: listener, load_balancer: "${alb.arn}", port: 80, protocol: HTTP, default_action: { type: forward, target_group: "${tg.arn}" } }
cluster: { type: ecs_cluster }
td: { type: task_definition, cpu: 256, memory: 512, containers: [{ name: app, image: x, port_mappings: [{ container_port: 8000 }] }] }
"#;

    /// BASE and a service with the fields given (`svc:` is on the base's last line + 1).
    fn svc(fields: &str) -> String {
        format!(
            "{BASE}svc: {{ type: ecs_service, cluster: \"${{cluster.arn}}\", task_definition: \"${{td.arn}}\", subnets: [\"${{a.id}}\", \"${{b.id}}\"], security_groups: [\"${{sg.id}}\"], {fields} }}\n"
        )
    }

    const LB: &str = "target_group: \"${tg.arn}\", container_name: app, container_port: 8000";

    #[test]
    fn the_load_balancers_container_and_port() {
        check_rules(&svc(LB), &[]);
        check_rules(&svc("target_group: \"${tg.arn}\""), &["needs `container_name` and `container_port`"]);
        check_rules(
            &svc("target_group: \"${tg.arn}\", container_name: ap, container_port: 8000"),
            &["task definition `td` has no container `ap` | did you mean `app`?"],
        );
        check_rules(
            &svc("target_group: \"${tg.arn}\", container_name: app, container_port: 80"),
            &["container `app` of task definition `td` maps no port 80 | it maps 8000"],
        );
    }

    #[test]
    fn the_target_group() {
        check_rules(
            &svc("target_group: \"${tg_instance.arn}\", container_name: app, container_port: 8000"),
            &[
                "no listener of this stack forwards to target group `tg_instance`",
                "target group `tg_instance` has target_type `instance`; Fargate tasks (awsvpc) register by ip",
            ],
        );
        // A target group written out as an ARN is AWS's to check.
        check_rules(
            &svc(
                "target_group: arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1, container_name: app, container_port: 8000",
            ),
            &[],
        );
    }

    #[test]
    fn the_network() {
        let net = |subnets: &str, groups: &str| {
            format!(
                "{BASE}svc: {{ type: ecs_service, cluster: c, task_definition: t, subnets: [{subnets}], security_groups: [{groups}] }}\n"
            )
        };
        check_rules(&net("\"${a.id}\", subnet-1", "\"${sg.id}\", sg-1"), &[]);
        check_rules(&net("", "\"${sg.id}\""), &["a service needs at least one subnet"]);
        check_rules(
            &net("\"${a.id}\", \"${c.id}\"", "\"${sg.id}\""),
            &["subnet `c` is in VPC `other`, subnet `a` in `vpc`; AWS wants a service's subnets in one VPC"],
        );
        check_rules(
            &net("\"${a.id}\"", "\"${sg_other.id}\""),
            &["security group `sg_other` is of VPC `other`, the service's subnet `a` of `vpc`"],
        );
        let many = (1..=17).map(|n| format!("subnet-{n}")).collect::<Vec<_>>().join(", ");
        check_rules(&net(&many, "sg-1, sg-2, sg-3, sg-4, sg-5"), &["17 subnets; AWS allows at most 16"]);
        check_rules(
            &net("subnet-1", "sg-1, sg-2, sg-3, sg-4, sg-5, sg-6"),
            &["6 security groups; AWS allows at most 5"],
        );
    }

    #[test]
    fn names() {
        check_rules(&svc("name: web_2"), &[]);
        check_rules(&svc("name: web.2"), &["service name `web.2` contains `.`"]);
        // Two services of one name: in one cluster refused, in two clusters fine.
        let two = |cluster: &str| {
            format!(
                "{}svc2: {{ type: ecs_service, cluster: {cluster}, task_definition: t, subnets: [subnet-1], security_groups: [sg-1], name: s-svc }}\n",
                svc("")
            )
        };
        check_rules(&two("\"${cluster.arn}\""), &["service `svc` is named `s-svc` in the same cluster"]);
        check_rules(&two("other-cluster"), &[]);
    }
}

#[cfg(test)]
mod tests {

    use aws_sdk_ecs::Client;
    use aws_sdk_ecs::operation::create_service::CreateServiceOutput;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    use aws_sdk_ecs::types::Deployment;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::{Status, mocked};

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/s-cluster/s-web";
    const TD1: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/s-app:1";
    const TD2: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/s-app:2";

    fn deployment(id: &str, td: &str, state: DeploymentRolloutState) -> Deployment {
        Deployment::builder()
            .id(id)
            .task_definition(td)
            .rollout_state(state)
            .rollout_state_reason(format!("ECS deployment {id} reason"))
            .build()
    }

    fn service(status: &str, running: i32, desired: i32, deployments: Vec<Deployment>) -> Service {
        Service::builder()
            .service_arn(ARN)
            .service_name("s-web")
            .cluster_arn("arn:aws:ecs:us-east-1:123456789012:cluster/s-cluster")
            .status(status)
            .task_definition(deployments.first().and_then(|d| d.task_definition()).unwrap_or(TD1))
            .running_count(running)
            .desired_count(desired)
            .set_deployments(Some(deployments))
            .build()
    }

    fn described(s: Service) -> DescribeServicesOutput {
        DescribeServicesOutput::builder().services(s).build()
    }

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_ecs, RuleMode::Sequential, rules))
    }

    fn props(td: &str) -> Props {
        let mut p = Props::from([
            ("cluster".to_string(), Value::str("arn:aws:ecs:us-east-1:123456789012:cluster/s-cluster")),
            ("task_definition".to_string(), Value::str(td)),
            ("desired_count".to_string(), Value::Int(2)),
            ("subnets".to_string(), Value::List(vec![Value::str("subnet-1")])),
            ("security_groups".to_string(), Value::List(vec![Value::str("sg-1")])),
        ]);
        EcsService.normalise("s", "web", &mut p);
        p
    }

    #[tokio::test(start_paused = true)]
    async fn create_sends_the_token_and_waits_until_two_deployments_become_one() {
        let create = mock!(Client::create_service)
            .match_requests(|r| {
                r.client_token().is_some_and(|t| t.len() == TOKEN_MAX)
                    && r.network_configuration()
                        .and_then(|n| n.awsvpc_configuration())
                        .is_some_and(|v| v.security_groups() == ["sg-1"])
                    && r.deployment_configuration()
                        .and_then(|d| d.deployment_circuit_breaker())
                        .is_some_and(|c| c.enable() && c.rollback())
            })
            .then_output(|| {
                CreateServiceOutput::builder()
                    .service(service(
                        "ACTIVE",
                        0,
                        2,
                        vec![deployment("ecs-svc/1", TD1, DeploymentRolloutState::InProgress)],
                    ))
                    .build()
            });
        let describe = mock!(Client::describe_services)
            .sequence()
            .output(|| {
                described(service(
                    "ACTIVE",
                    0,
                    2,
                    vec![deployment("ecs-svc/1", TD1, DeploymentRolloutState::InProgress)],
                ))
            })
            .output(|| {
                described(service(
                    "ACTIVE",
                    1,
                    2,
                    vec![
                        deployment("ecs-svc/1", TD1, DeploymentRolloutState::InProgress),
                        deployment("ecs-svc/0", TD1, DeploymentRolloutState::Completed),
                    ],
                ))
            })
            .output(|| {
                described(service(
                    "ACTIVE",
                    2,
                    2,
                    vec![deployment("ecs-svc/1", TD1, DeploymentRolloutState::Completed)],
                ))
            })
            .times(2)
            .build();
        let (cx, seen) = cx(&[&create, &describe]);
        let (p, tags) = (props(TD1), Tags::new());
        let token = "rprov-0123456789abcdef0123456789abcdef01";

        let live = EcsService.create(&cx, &CreateReq { id: "web", props: &p, tags: &tags, token }).await.unwrap();

        assert_eq!(live.physical_id, ARN);
        assert_eq!(describe.num_calls(), 4, "three polls, then the read back");
        let seen = seen.lock().unwrap().join("\n");
        assert!(seen.contains("(now 1 deployments, 0 of 2 tasks running)"), "{seen}");
        assert!(seen.contains("(now 2 deployments, 1 of 2 tasks running)"), "{seen}");
    }

    #[tokio::test(start_paused = true)]
    async fn update_to_a_new_revision_that_the_circuit_breaker_stops_fails_naming_the_deployment() {
        let update = mock!(Client::update_service)
            .match_requests(|r| r.task_definition() == Some(TD2) && r.desired_count().is_none())
            .then_output(|| UpdateServiceOutput::builder().build());
        let describe = mock!(Client::describe_services)
            .sequence()
            .output(|| {
                described(service(
                    "ACTIVE",
                    2,
                    2,
                    vec![
                        deployment("ecs-svc/2", TD2, DeploymentRolloutState::InProgress),
                        deployment("ecs-svc/1", TD1, DeploymentRolloutState::Completed),
                    ],
                ))
            })
            .output(|| {
                described(service(
                    "ACTIVE",
                    2,
                    2,
                    vec![
                        deployment("ecs-svc/2", TD2, DeploymentRolloutState::Failed),
                        deployment("ecs-svc/1", TD1, DeploymentRolloutState::InProgress),
                    ],
                ))
            })
            .build();
        let (cx, _) = cx(&[&update, &describe]);
        let (old, new, tags) = (props(TD1), props(TD2), Tags::new());
        let changed = vec!["task_definition".to_string()];
        let req = UpdateReq {
            id: "web",
            physical_id: ARN,
            old: &old,
            new: &new,
            changed: &changed,
            old_tags: &tags,
            tags: &tags,
        };

        let err = EcsService.update(&cx, &req).await.unwrap_err();

        assert_eq!(
            err,
            AwsError::Failed(format!(
                "service {ARN} to reach a steady state: deployment ecs-svc/2 failed: ECS deployment ecs-svc/2 reason"
            ))
        );
    }

    #[test]
    fn a_completed_rollback_is_not_success() {
        let s = service("ACTIVE", 2, 2, vec![deployment("ecs-svc/1", TD1, DeploymentRolloutState::Completed)]);
        assert_eq!(stability(&s, Some(TD1)), Poll::Ready(()));
        assert!(matches!(stability(&s, Some(TD2)), Poll::Failed(m) if m.contains("rolled back")));
        assert!(matches!(stability(&service("DRAINING", 0, 0, vec![]), None), Poll::Failed(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_service_that_never_settles_runs_out_of_budget() {
        let update = mock!(Client::update_service).then_output(|| UpdateServiceOutput::builder().build());
        let describe = mock!(Client::describe_services)
            .sequence()
            .output(|| {
                described(service(
                    "ACTIVE",
                    1,
                    3,
                    vec![deployment("ecs-svc/1", TD1, DeploymentRolloutState::InProgress)],
                ))
            })
            .repeatedly()
            .build();
        let (cx, _) = cx(&[&update, &describe]);
        let (old, mut new, tags) = (props(TD1), props(TD1), Tags::new());
        new.insert("desired_count".into(), Value::Int(3));
        let changed = vec!["desired_count".to_string()];
        let req = UpdateReq {
            id: "web",
            physical_id: ARN,
            old: &old,
            new: &new,
            changed: &changed,
            old_tags: &tags,
            tags: &tags,
        };

        let err = EcsService.update(&cx, &req).await.unwrap_err();

        assert!(matches!(&err, AwsError::WaitTimeout { what, .. } if what.contains("steady state")), "{err:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn delete_scales_to_zero_then_waits_for_inactive() {
        let scale = mock!(Client::update_service)
            .match_requests(|r| r.desired_count() == Some(0) && r.cluster() == Some("s-cluster"))
            .then_output(|| UpdateServiceOutput::builder().build());
        let delete = mock!(Client::delete_service)
            .match_requests(|r| r.force() == Some(true))
            .then_output(|| aws_sdk_ecs::operation::delete_service::DeleteServiceOutput::builder().build());
        let describe = mock!(Client::describe_services)
            .sequence()
            .output(|| described(service("DRAINING", 1, 0, vec![])))
            .times(2)
            .output(|| described(service("INACTIVE", 0, 0, vec![])))
            .build();
        let (cx, seen) = cx(&[&scale, &delete, &describe]);
        let none = Props::new();

        EcsService.delete(&cx, &DeleteReq { id: "web", physical_id: ARN, props: &none, attrs: &none }).await.unwrap();

        assert_eq!(describe.num_calls(), 3);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![format!("web: waiting for service {ARN} to drain (now DRAINING, 1 tasks running)")]
        );
    }

    #[test]
    fn service_arns() {
        assert_eq!(service_path(ARN), Some(("s-cluster", "s-web")));
        assert_eq!(service_path("arn:aws:ecs:us-east-1:123456789012:service/old-format"), None);
    }
}
