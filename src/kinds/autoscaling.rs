use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalableTarget, ScalableTargetAction,
    ScalingPolicy, ScheduledAction, ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};

use super::ecs;
use super::{CreateReq, DeleteReq, Kind, Live, Selection, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{lit_int, lit_str};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct Autoscaling;

static SCHEDULED_ACTION: Ty = Ty::Obj(&[
    Prop::new("name", Ty::Str, "Action name, unique for the service.")
        .aws("application-autoscaling:PutScheduledActionRequest.ScheduledActionName")
        .required(),
    Prop::new("schedule", Ty::Str, "`cron(0 22 * * ? *)`, `at(2026-12-24T18:00:00)` or `rate(1 day)`.")
        .aws("application-autoscaling:PutScheduledActionRequest.Schedule")
        .required(),
    Prop::new("min", Ty::Int, "New minimum number of tasks.")
        .aws("application-autoscaling:ScalableTargetAction.MinCapacity"),
    Prop::new("max", Ty::Int, "New maximum number of tasks.")
        .aws("application-autoscaling:ScalableTargetAction.MaxCapacity"),
    Prop::new("timezone", Ty::Str, "IANA time zone of the schedule.")
        .aws("application-autoscaling:PutScheduledActionRequest.Timezone")
        .default(Default::Str("UTC")),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "autoscaling",
    doc: "Application Auto Scaling of an ECS service's task count: bounds, a CPU target-tracking \
          policy, and scheduled changes of the bounds (e.g. scale to zero at night).",
    props: &[
        Prop::new("cluster", Ty::Str, "The cluster's name (`${cluster.name}`).").required().replaces(),
        Prop::new("service", Ty::Str, "The service's name (`${svc.name}`).").required().replaces(),
        Prop::new("min", Ty::Int, "Fewest tasks.")
            .aws("application-autoscaling:RegisterScalableTargetRequest.MinCapacity")
            .required(),
        Prop::new("max", Ty::Int, "Most tasks.")
            .aws("application-autoscaling:RegisterScalableTargetRequest.MaxCapacity")
            .required(),
        Prop::new("cpu_target", Ty::Num, "Average CPU utilisation (percent) to track; no policy when absent.")
            .aws("application-autoscaling:TargetTrackingScalingPolicyConfiguration.TargetValue"),
        Prop::new("scale_in_cooldown", Ty::Int, "Seconds after a scale-in before the next one.")
            .aws("application-autoscaling:TargetTrackingScalingPolicyConfiguration.ScaleInCooldown")
            .default(Default::Int(300)),
        Prop::new("scale_out_cooldown", Ty::Int, "Seconds after a scale-out before the next one.")
            .aws("application-autoscaling:TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown")
            .default(Default::Int(300)),
        Prop::new("scheduled_actions", Ty::List(&SCHEDULED_ACTION), "Changes of min/max on a schedule.")
            .keyed(&["name"])
            .default(Default::EmptyList)
            .unordered(),
    ],
    attrs: &[Attr::new("id", "`service/<cluster>/<service>`, the scalable target's resource id.")],
    taggable: false,
};

/// The target-tracking policy rprov manages on each target.
const CPU_POLICY: &str = "rprov-cpu";

type Map = crate::value::Props;

fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

fn resource_id(props: &Props) -> String {
    format!(
        "service/{}/{}",
        ecs::cluster_name(ecs::str_prop(props, "cluster").unwrap_or_default()),
        ecs::str_prop(props, "service").unwrap_or_default()
    )
}

fn dimension() -> ScalableDimension {
    ScalableDimension::EcsServiceDesiredCount
}

fn action_value(a: &ScheduledAction) -> Value {
    let mut m = Map::from([
        ("name".to_string(), Value::str(a.scheduled_action_name())),
        ("schedule".to_string(), Value::str(a.schedule())),
        ("timezone".to_string(), Value::str(a.timezone().unwrap_or("UTC"))),
    ]);
    if let Some(t) = a.scalable_target_action() {
        if let Some(n) = t.min_capacity() {
            m.insert("min".into(), Value::from(n));
        }
        if let Some(n) = t.max_capacity() {
            m.insert("max".into(), Value::from(n));
        }
    }
    Value::Map(m)
}

fn canonical_action(v: &Value) -> Value {
    let Value::Map(m) = v else { return v.clone() };
    let mut out: Map = m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    out.entry("timezone".into()).or_insert_with(|| Value::str("UTC"));
    Value::Map(out)
}

fn sorted(mut l: Vec<Value>) -> Value {
    l.sort_by_cached_key(|v| v.to_string());
    Value::List(l)
}

fn live(t: &ScalableTarget, policies: &[&ScalingPolicy], actions: &[&ScheduledAction]) -> Live {
    let id = t.resource_id().to_owned();
    let mut parts = id.splitn(3, '/').skip(1);
    let (cluster, service) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let mut props = Props::new();
    props.insert("cluster".into(), Value::str(cluster));
    props.insert("service".into(), Value::str(service));
    props.insert("min".into(), Value::from(t.min_capacity()));
    props.insert("max".into(), Value::from(t.max_capacity()));
    let cpu = policies
        .iter()
        .find(|p| p.policy_name() == CPU_POLICY)
        .and_then(|p| p.target_tracking_scaling_policy_configuration());
    if let Some(c) = cpu {
        props.insert("cpu_target".into(), Value::Num(c.target_value()));
        // The cooldowns only exist with the policy; without one they are compared as recorded.
        props.insert("scale_in_cooldown".into(), Value::from(c.scale_in_cooldown().unwrap_or(300)));
        props.insert("scale_out_cooldown".into(), Value::from(c.scale_out_cooldown().unwrap_or(300)));
    }
    props.insert("scheduled_actions".into(), sorted(actions.iter().map(|a| action_value(a)).collect()));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    Live { physical_id: id, props, attrs, tags: super::Tags::new() }
}

/// A target belongs in `read_many`'s answer when asked for, or when its service carries the
/// stack's name prefix (`<stack>-`, the service kind's default name). Tags are not read: they
/// take one ListTagsForResource per target.
fn selected(cx: &Cx, ids: &[String], resource_id: &str) -> bool {
    let prefix = format!("{}-", cx.stack);
    ids.iter().any(|i| i == resource_id) || resource_id.rsplit('/').next().is_some_and(|s| s.starts_with(&prefix))
}

/// Three paginated calls for the whole kind: DescribeScalableTargets, DescribeScalingPolicies
/// and DescribeScheduledActions, each for the ECS namespace, filtered here by resource id (the
/// last two take one resource id per call, not a list).
async fn read(cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
    let aas = client(cx);
    let targets: Vec<ScalableTarget> = crate::aws::all_items(
        aas.describe_scalable_targets().service_namespace(ServiceNamespace::Ecs).into_paginator().items().send(),
    )
    .await?;
    let targets: Vec<ScalableTarget> = targets
        .into_iter()
        .filter(|t| t.scalable_dimension() == &dimension() && selected(cx, ids, t.resource_id()))
        .collect();
    if targets.is_empty() {
        return Ok(vec![]);
    }
    let policies: Vec<ScalingPolicy> = crate::aws::all_items(
        aas.describe_scaling_policies().service_namespace(ServiceNamespace::Ecs).into_paginator().items().send(),
    )
    .await?;
    let actions: Vec<ScheduledAction> = crate::aws::all_items(
        aas.describe_scheduled_actions().service_namespace(ServiceNamespace::Ecs).into_paginator().items().send(),
    )
    .await?;
    let mut policies_of: HashMap<&str, Vec<&ScalingPolicy>> = HashMap::new();
    for p in &policies {
        policies_of.entry(p.resource_id()).or_default().push(p);
    }
    let mut actions_of: HashMap<&str, Vec<&ScheduledAction>> = HashMap::new();
    for a in &actions {
        actions_of.entry(a.resource_id()).or_default().push(a);
    }
    Ok(targets
        .iter()
        .map(|t| {
            let id = t.resource_id();
            live(
                t,
                policies_of.get(id).map(Vec::as_slice).unwrap_or_default(),
                actions_of.get(id).map(Vec::as_slice).unwrap_or_default(),
            )
        })
        .collect())
}

/// Whether an error means the target, policy or action does not exist. AWS answers
/// ObjectNotFoundException; moto answers ValidationException "No scalable target found ...".
fn gone(r: Result<(), AwsError>) -> Result<(), AwsError> {
    match r {
        Err(AwsError::NotFound(_)) => Ok(()),
        Err(AwsError::Invalid(m)) if m.starts_with("ValidationException") && m.contains("No scalable target") => Ok(()),
        other => other,
    }
}

fn i32_of(v: Option<&Value>) -> Option<i32> {
    v.and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

async fn register(cx: &Cx, props: &Props, tags: Option<&super::Tags>) -> Result<(), AwsError> {
    // RegisterScalableTarget creates or updates: repeating it is harmless.
    // https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html
    let tags = tags.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>());
    client(cx)
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource_id(props))
        .scalable_dimension(dimension())
        .set_min_capacity(i32_of(props.get("min")))
        .set_max_capacity(i32_of(props.get("max")))
        .set_tags(tags)
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

async fn put_cpu_policy(cx: &Cx, props: &Props) -> Result<(), AwsError> {
    let id = resource_id(props);
    let Some(target) = props.get("cpu_target").and_then(Value::as_f64) else {
        let r = client(cx)
            .delete_scaling_policy()
            .policy_name(CPU_POLICY)
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&id)
            .scalable_dimension(dimension())
            .send()
            .await
            .map(|_| ())
            .map_err(classify);
        return gone(r);
    };
    let metric = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::EcsServiceAverageCpuUtilization)
        .build()
        .map_err(|e| AwsError::Invalid(format!("cpu_target: {e}")))?;
    let config = TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(target)
        .predefined_metric_specification(metric)
        .set_scale_in_cooldown(i32_of(props.get("scale_in_cooldown")))
        .set_scale_out_cooldown(i32_of(props.get("scale_out_cooldown")))
        .build()
        .map_err(|e| AwsError::Invalid(format!("cpu_target: {e}")))?;
    client(cx)
        .put_scaling_policy()
        .policy_name(CPU_POLICY)
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&id)
        .scalable_dimension(dimension())
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(config)
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

fn action_name(v: &Value) -> Option<&str> {
    v.as_map().and_then(|m| m.get("name")).and_then(Value::as_str)
}

/// Puts every scheduled action of `new` (PutScheduledAction creates or replaces by name) and
/// deletes those of `old` that are gone.
async fn put_actions(cx: &Cx, props: &Props, old: &[Value]) -> Result<(), AwsError> {
    let id = resource_id(props);
    let new = props.get("scheduled_actions").map(Value::as_list).unwrap_or_default();
    for a in new {
        let Some(m) = a.as_map() else { continue };
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        let target = ScalableTargetAction::builder()
            .set_min_capacity(i32_of(m.get("min")))
            .set_max_capacity(i32_of(m.get("max")));
        client(cx)
            .put_scheduled_action()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&id)
            .scalable_dimension(dimension())
            .set_scheduled_action_name(s("name"))
            .set_schedule(s("schedule"))
            .set_timezone(s("timezone"))
            .scalable_target_action(target.build())
            .send()
            .await
            .map_err(classify)?;
    }
    for name in old.iter().filter_map(action_name).filter(|n| !new.iter().any(|a| action_name(a) == Some(n))) {
        let r = client(cx)
            .delete_scheduled_action()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&id)
            .scalable_dimension(dimension())
            .scheduled_action_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(classify);
        gone(r)?;
    }
    Ok(())
}

async fn read_one(cx: &Cx, id: &str) -> Result<Live, AwsError> {
    read(cx, &[id.to_owned()])
        .await?
        .into_iter()
        .find(|l| l.physical_id == id)
        .ok_or_else(|| AwsError::NotFound(id.into()))
}

// ---- what Application Auto Scaling refuses --------------------------------------------------

/// A pair of bounds: "For the following resources, the minimum value allowed is 0: ... ECS
/// services" (AWS: RegisterScalableTarget MinCapacity), and a minimum above the maximum is
/// refused (ValidationException "Minimum capacity cannot be greater than maximum capacity").
fn bounds(min: Option<i64>, max: Option<i64>, at: &str, out: &mut Vec<Problem>) {
    for (key, n) in [("min", min), ("max", max)] {
        if let Some(n) = n.filter(|n| *n < 0) {
            out.push(Problem::new(format!("{at}{key}"), format!("{key} {n}: AWS allows 0 or more tasks")));
        }
    }
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        out.push(
            Problem::new(
                format!("{at}min"),
                format!("min {min} is more than max {max}; AWS refuses a minimum above the maximum"),
            )
            .help(format!("did you mean min: {max}, max: {min}?")),
        );
    }
}

/// AWS (PutScheduledAction Schedule): "At expressions - at(yyyy-mm-ddThh:mm:ss)", "Rate
/// expressions - rate(value unit)" where "value is a positive integer and unit is minute |
/// minutes | hour | hours | day | days", "Cron expressions - cron(fields)" where "The cron
/// format consists of six fields".
fn schedule_problem(schedule: &str) -> Option<String> {
    let inner =
        |kind: &str| schedule.strip_prefix(kind).and_then(|r| r.strip_prefix('(')).and_then(|r| r.strip_suffix(')'));
    if let Some(at) = inner("at") {
        let shape = "dddd-dd-ddTdd:dd:dd";
        let fits = at.len() == shape.len()
            && at.bytes().zip(shape.bytes()).all(|(c, s)| if s == b'd' { c.is_ascii_digit() } else { c == s });
        return (!fits).then(|| format!("`at(...)` takes a time as yyyy-mm-ddThh:mm:ss, not `{at}`"));
    }
    if let Some(rate) = inner("rate") {
        let parts: Vec<&str> = rate.split(' ').collect();
        let fits = matches!(parts.as_slice(), [value, unit]
            if value.parse::<u64>().is_ok_and(|n| n > 0)
                && ["minute", "minutes", "hour", "hours", "day", "days"].contains(unit));
        return (!fits).then(|| {
            format!("`rate(...)` takes a positive number and minute(s), hour(s) or day(s), e.g. `rate(5 minutes)`, not `{rate}`")
        });
    }
    if let Some(cron) = inner("cron") {
        let n = cron.split_whitespace().count();
        return (n != 6).then(|| {
            format!("`cron(...)` takes six fields (minutes hours day-of-month month day-of-week year), not {n}")
        });
    }
    Some("a schedule is `at(yyyy-mm-ddThh:mm:ss)`, `rate(5 minutes)` or `cron(0 20 * * ? *)`".to_owned())
}

fn scheduled_action_rules(s: &Subject, out: &mut Vec<Problem>) {
    let mut names: Vec<&str> = Vec::new();
    for (i, e) in s.list("scheduled_actions").iter().enumerate() {
        let Expr::Map(a) = e else { continue };
        let at = format!("scheduled_actions.{i}.");
        bounds(lit_int(a.get("min")), lit_int(a.get("max")), &at, out);
        if let Some(schedule) = lit_str(a.get("schedule"))
            && let Some(m) = schedule_problem(schedule)
        {
            out.push(Problem::new(format!("{at}schedule"), m));
        }
        // AWS: the name "must be unique among all other scheduled actions on the specified
        // scalable target"; PutScheduledAction of a name already there replaces that action.
        if let Some(name) = lit_str(a.get("name")) {
            if names.contains(&name) {
                out.push(Problem::new(
                    format!("{at}name"),
                    format!("an earlier scheduled action is named `{name}` too; AWS would keep only the last of them"),
                ));
            }
            names.push(name);
        }
    }
}

/// The scalable target is `service/<cluster>/<service name>`: the service must be named by its
/// name, and run in that cluster (AWS: RegisterScalableTarget answers ObjectNotFoundException
/// for a service that does not exist there).
fn target_rules(s: &Subject, out: &mut Vec<Problem>) {
    if let Some(Expr::Ref(r)) = s.get("service")
        && r.target != "params"
        && r.attr != "name"
    {
        out.push(
            Problem::new("service", format!("`service` takes the service's name, not its {}", r.attr))
                .help(format!("write `${{{}.name}}`", r.target)),
        );
    }
    let Some((svc, "ecs_service", props)) = s.referenced("service") else { return };
    if let (Some(mine), Some(theirs)) = (ecs::cluster_of(s.props), ecs::cluster_of(props))
        && mine.differs(&theirs)
    {
        out.push(Problem::new("cluster", format!("service `{svc}` runs in cluster {theirs}, not {mine}")));
    }
}

impl KindSpec for Autoscaling {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// Bounds, schedules and the service's cluster: what RegisterScalableTarget and
    /// PutScheduledAction refuse, where the stack writes it out. (A service's `desired_count`
    /// outside min..max is no error: AWS moves it inside.)
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        bounds(s.int("min"), s.int("max"), "", &mut out);
        scheduled_action_rules(s, &mut out);
        target_rules(s, &mut out);
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        if let Some(Value::Str(c)) = props.get("cluster") {
            let name = ecs::cluster_name(c).to_owned();
            props.insert("cluster".into(), Value::Str(name));
        }
        if let Some(Value::List(l)) = props.get("scheduled_actions") {
            let l = sorted(l.iter().map(canonical_action).collect());
            props.insert("scheduled_actions".into(), l);
        }
    }

    fn create_is_idempotent(&self) -> bool {
        // RegisterScalableTarget, PutScalingPolicy and PutScheduledAction all create or update
        // by name: sending them again converges on the same target.
        true
    }

    /// A scalable target exists for its ECS service: its id, `service/<cluster>/<service>`, is
    /// the resource part of the service's ARN.
    fn owner(&self, live: &Live) -> Option<String> {
        Some(live.physical_id.clone())
    }

    fn holds(&self) -> &'static [&'static str] {
        &["ecs_service", "ecs_cluster"]
    }

    fn governs(&self) -> &'static [(&'static str, &'static str)] {
        &[("service", "desired_count")]
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[
            ("application-autoscaling", "RegisterScalableTarget"),
            ("application-autoscaling", "PutScalingPolicy"),
        ])
    }
}

#[async_trait]
impl Kind for Autoscaling {
    /// Scalable targets carry no tags (reading them takes one call per target): the stack's
    /// are those of its services, picked by the services' name prefix `<stack>-`.
    fn selection(&self) -> Selection {
        Selection::Own
    }

    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        read(cx, ids).await
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        register(cx, req.props, Some(req.tags)).await?;
        if req.props.get("cpu_target").is_some_and(|v| !v.is_null()) {
            put_cpu_policy(cx, req.props).await?;
        }
        put_actions(cx, req.props, &[]).await?;
        read_one(cx, &resource_id(req.props)).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let has = |n: &str| ecs::changed(req.changed, n);
        if has("min") || has("max") {
            register(cx, req.new, None).await?;
        }
        if has("cpu_target") || has("scale_in_cooldown") || has("scale_out_cooldown") {
            put_cpu_policy(cx, req.new).await?;
        }
        if has("scheduled_actions") {
            let old = req.old.get("scheduled_actions").map(Value::as_list).unwrap_or_default();
            put_actions(cx, req.new, old).await?;
        }
        read_one(cx, req.physical_id).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // Deregistering the target deletes its scaling policies and scheduled actions with it.
        // https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DeregisterScalableTarget.html
        let r = client(cx)
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(req.physical_id)
            .scalable_dimension(dimension())
            .send()
            .await
            .map(|_| ())
            .map_err(classify);
        gone(r)
    }
}

#[cfg(test)]
mod tests {
    use super::schedule_problem;
    use crate::kinds::testing::check_rules;

    const BASE: &str = r#"cluster: { type: ecs_cluster }
other: { type: ecs_cluster }
svc: { type: ecs_service, cluster: "${cluster.arn}", task_definition: t, subnets: [subnet-1], security_groups: [sg-1] }
"#;

    fn scaling(fields: &str) -> String {
        format!(
            "{BASE}scale: {{ type: autoscaling, cluster: \"${{cluster.name}}\", service: \"${{svc.name}}\", {fields} }}\n"
        )
    }

    #[test]
    fn bounds() {
        check_rules(&scaling("min: 0, max: 0"), &[]);
        check_rules(&scaling("min: 2, max: 2"), &[]);
        check_rules(&scaling("min: 5, max: 2"), &["7:88: min 5 is more than max 2 | did you mean min: 2, max: 5?"]);
        check_rules(&scaling("min: -1, max: 2"), &["min -1: AWS allows 0 or more tasks"]);
        check_rules(
            &scaling(
                "min: 1, max: 4, scheduled_actions: [{ name: night, schedule: \"cron(0 20 * * ? *)\", min: 3, max: 1 }]",
            ),
            &["min 3 is more than max 1"],
        );
    }

    #[test]
    fn scheduled_actions() {
        let action = |name: &str, schedule: &str| format!("{{ name: {name}, schedule: \"{schedule}\", min: 1 }}");
        let with =
            |actions: &[String]| scaling(&format!("min: 1, max: 4, scheduled_actions: [{}]", actions.join(", ")));
        check_rules(
            &with(&[
                action("a", "cron(0 20 * * ? *)"),
                action("b", "rate(1 day)"),
                action("c", "at(2026-12-24T18:00:00)"),
            ]),
            &[],
        );
        check_rules(
            &with(&[action("a", "cron(0 20 * * ?)"), action("a", "rate(1 day)")]),
            &["takes six fields", "an earlier scheduled action is named `a` too"],
        );
        check_rules(&with(&[action("a", "every day")]), &["a schedule is `at(yyyy-mm-ddThh:mm:ss)`"]);
    }

    #[test]
    fn schedules() {
        for ok in ["rate(5 minutes)", "rate(1 hour)", "cron(15 10 ? * 6L 2019-2022)", "at(2026-01-31T23:59:00)"] {
            assert_eq!(schedule_problem(ok), None, "{ok}");
        }
        for no in [
            "rate(0 minutes)",
            "rate(5 weeks)",
            "rate(5)",
            "at(2026-01-31 23:59:00)",
            "at(tomorrow)",
            "cron(* * * *)",
            "Rate(1 day)",
        ] {
            assert!(schedule_problem(no).is_some(), "{no}");
        }
    }

    #[test]
    fn the_service_and_its_cluster() {
        check_rules(&scaling("min: 1, max: 2"), &[]);
        check_rules(
            &format!(
                "{BASE}scale: {{ type: autoscaling, cluster: \"${{other.name}}\", service: \"${{svc.name}}\", min: 1, max: 2 }}\n"
            ),
            &["service `svc` runs in cluster `cluster`, not `other`"],
        );
        check_rules(
            &format!(
                "{BASE}scale: {{ type: autoscaling, cluster: \"${{cluster.name}}\", service: \"${{svc.arn}}\", min: 1, max: 2 }}\n"
            ),
            &["`service` takes the service's name, not its arn | write `${svc.name}`"],
        );
        // Names written out: AWS's to check.
        check_rules(&format!("{BASE}scale: {{ type: autoscaling, cluster: c, service: s, min: 1, max: 2 }}\n"), &[]);
    }
}
