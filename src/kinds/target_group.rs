use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as SdkTargetGroup, TargetGroupAttribute, TargetTypeEnum,
};

use super::ec2::settle;
use super::elbv2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{lit_int, lit_str, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct TargetGroup;

const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"];

static HEALTH_CHECK: Ty = Ty::Obj(&[
    Prop::new("path", Ty::Str, "HTTP(S) health checks: the path requested. Default: `/`.")
        .aws("elbv2:CreateTargetGroupInput.HealthCheckPath"),
    Prop::new(
        "protocol",
        Ty::Enum(&["HTTP", "HTTPS", "TCP"]),
        "Default: the target group's protocol for HTTP/HTTPS, else TCP.",
    )
    .aws("elbv2:CreateTargetGroupInput.HealthCheckProtocol"),
    Prop::new("port", Ty::Str, "A port number, or `traffic-port` (the default): the port targets receive traffic on.")
        .aws("elbv2:CreateTargetGroupInput.HealthCheckPort"),
    Prop::new("interval", Ty::Int, "Seconds between checks. Default: 30.")
        .aws("elbv2:CreateTargetGroupInput.HealthCheckIntervalSeconds"),
    Prop::new("timeout", Ty::Int, "Seconds without a response that fail a check. Default: 5 (HTTP/HTTPS), 10 (TCP).")
        .aws("elbv2:CreateTargetGroupInput.HealthCheckTimeoutSeconds"),
    Prop::new("healthy_threshold", Ty::Int, "Consecutive successes that make a target healthy. Default: 5.")
        .aws("elbv2:CreateTargetGroupInput.HealthyThresholdCount"),
    Prop::new("unhealthy_threshold", Ty::Int, "Consecutive failures that make a target unhealthy. Default: 2.")
        .aws("elbv2:CreateTargetGroupInput.UnhealthyThresholdCount"),
    Prop::new("matcher", Ty::Str, "HTTP(S) health checks: success codes, e.g. `200` or `200-299`. Default: `200`.")
        .aws("elbv2:Matcher.HttpCode"),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "target_group",
    doc: "A target group: where a listener forwards to, with its health check. Every health-check field the \
          stack leaves out is sent with AWS's default, so the whole check is compared.",
    props: &[
        Prop::new("name", Ty::Str, "Up to 32 letters, digits and hyphens. Default: `<stack>-<id>`.")
            .aws("elbv2:CreateTargetGroupInput.Name")
            .replaces(),
        Prop::new("protocol", Ty::Enum(PROTOCOLS), "Protocol to the targets: HTTP/HTTPS (ALB), TCP/TLS/UDP (NLB).")
            .aws("elbv2:CreateTargetGroupInput.Protocol")
            .default(Default::Str("HTTP"))
            .replaces(),
        Prop::new("port", Ty::Int, "Port the targets receive traffic on.")
            .aws("elbv2:CreateTargetGroupInput.Port")
            .required()
            .replaces(),
        Prop::new("vpc", Ty::Str, "The VPC id (vpc-...).")
            .aws("elbv2:CreateTargetGroupInput.VpcId")
            .required()
            .replaces(),
        Prop::new(
            "target_type",
            Ty::Enum(&["ip", "instance", "lambda", "alb"]),
            "How targets are named; Fargate tasks (awsvpc) register by `ip`.",
        )
        .aws("elbv2:CreateTargetGroupInput.TargetType")
        .default(Default::Str("ip"))
        .replaces(),
        Prop::new("health_check", HEALTH_CHECK, "Health check settings; each field has AWS's default."),
        Prop::new(
            "deregistration_delay",
            Ty::Int,
            "Seconds a deregistering target keeps its connections (the attribute \
             `deregistration_delay.timeout_seconds`). Not read back in a plan (DescribeTargetGroupAttributes \
             takes one group per call): compared with what was applied.",
        )
        .default(Default::Int(300)),
    ],
    attrs: &[
        Attr::new("id", "The target group's ARN."),
        Attr::new("arn", "The target group's ARN."),
        Attr::new("arn_suffix", "`targetgroup/<name>/<hash>`: the CloudWatch `TargetGroup` dimension."),
        Attr::new("name", "The target group's name."),
    ],
    taggable: true,
};

fn is_http(p: &str) -> bool {
    matches!(p, "HTTP" | "HTTPS")
}

/// The health check in canonical form: every field present, AWS's defaults where the stack
/// says nothing. `path` and `matcher` only exist for HTTP(S) checks.
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
fn canonical_health_check(protocol: &str, given: Option<&crate::value::Props>) -> Value {
    let empty = Props::new();
    let given = given.unwrap_or(&empty);
    let get = |k: &str| given.get(k).filter(|v| !v.is_null()).cloned();
    let hc_protocol = get("protocol").unwrap_or_else(|| Value::str(if is_http(protocol) { protocol } else { "TCP" }));
    let http = hc_protocol.as_str().is_some_and(is_http);
    let mut m = Props::new();
    m.insert("protocol".to_string(), hc_protocol);
    m.insert("port".to_string(), get("port").unwrap_or_else(|| Value::str("traffic-port")));
    m.insert("interval".to_string(), get("interval").unwrap_or(Value::Int(30)));
    m.insert("timeout".to_string(), get("timeout").unwrap_or(Value::Int(if http { 5 } else { 10 })));
    m.insert("healthy_threshold".to_string(), get("healthy_threshold").unwrap_or(Value::Int(5)));
    m.insert("unhealthy_threshold".to_string(), get("unhealthy_threshold").unwrap_or(Value::Int(2)));
    if http {
        m.insert("path".to_string(), get("path").unwrap_or_else(|| Value::str("/")));
        m.insert("matcher".to_string(), get("matcher").unwrap_or_else(|| Value::str("200")));
    }
    Value::Map(m)
}

fn health_check_from_sdk(tg: &SdkTargetGroup) -> Value {
    let mut m = Props::new();
    let protocol = tg.health_check_protocol().map_or("TCP", |p| p.as_str());
    m.insert("protocol".to_string(), Value::str(protocol));
    m.insert("port".to_string(), Value::str(tg.health_check_port().unwrap_or("traffic-port")));
    let int = |v: Option<i32>| v.map_or(Value::Null, Value::from);
    m.insert("interval".to_string(), int(tg.health_check_interval_seconds()));
    m.insert("timeout".to_string(), int(tg.health_check_timeout_seconds()));
    m.insert("healthy_threshold".to_string(), int(tg.healthy_threshold_count()));
    m.insert("unhealthy_threshold".to_string(), int(tg.unhealthy_threshold_count()));
    if is_http(protocol) {
        m.insert("path".to_string(), tg.health_check_path().map_or(Value::Null, Value::str));
        m.insert("matcher".to_string(), tg.matcher().and_then(|x| x.http_code()).map_or(Value::Null, Value::str));
    }
    Value::Map(m)
}

fn live(tg: &SdkTargetGroup, tags: super::Tags) -> Live {
    let arn = tg.target_group_arn().unwrap_or_default().to_owned();
    let name = tg.target_group_name().unwrap_or_default();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(name));
    props.insert("protocol".into(), tg.protocol().map_or(Value::Null, |p| Value::str(p.as_str())));
    props.insert("port".into(), tg.port().map_or(Value::Null, Value::from));
    props.insert("vpc".into(), tg.vpc_id().map_or(Value::Null, Value::str));
    props.insert("target_type".into(), Value::str(tg.target_type().map_or("instance", |t| t.as_str())));
    props.insert("health_check".into(), health_check_from_sdk(tg));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&arn));
    attrs.insert("arn".into(), Value::str(&arn));
    attrs.insert("arn_suffix".into(), Value::str(elbv2::arn_suffix(&arn)));
    attrs.insert("name".into(), Value::str(name));
    Live { physical_id: arn, props, attrs, tags }
}

/// The health check fields as sent to CreateTargetGroup and ModifyTargetGroup.
struct HealthCheck {
    protocol: Option<ProtocolEnum>,
    port: Option<String>,
    path: Option<String>,
    interval: Option<i32>,
    timeout: Option<i32>,
    healthy: Option<i32>,
    unhealthy: Option<i32>,
    matcher: Option<Matcher>,
}

fn health_check(props: &Props) -> HealthCheck {
    let protocol = props.get("protocol").and_then(Value::as_str).unwrap_or("HTTP");
    let hc = canonical_health_check(protocol, props.get("health_check").and_then(Value::as_map));
    let m = hc.as_map().cloned().unwrap_or_default();
    let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let int = |k: &str| m.get(k).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok());
    HealthCheck {
        protocol: text("protocol").map(|p| ProtocolEnum::from(p.as_str())),
        port: text("port"),
        path: text("path"),
        interval: int("interval"),
        timeout: int("timeout"),
        healthy: int("healthy_threshold"),
        unhealthy: int("unhealthy_threshold"),
        matcher: text("matcher").map(|c| Matcher::builder().http_code(c).build()),
    }
}

async fn set_deregistration_delay(cx: &Cx, arn: &str, props: &Props) -> Result<(), AwsError> {
    let Some(delay) = props.get("deregistration_delay").and_then(Value::as_i64) else { return Ok(()) };
    client(cx)
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key("deregistration_delay.timeout_seconds")
                .value(delay.to_string())
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

async fn read_back(cx: &Cx, arn: &str) -> Result<Live, AwsError> {
    let out = client(cx).describe_target_groups().target_group_arns(arn).send().await.map_err(classify)?;
    let tg = out.target_groups().first().ok_or_else(|| AwsError::NotFound(arn.into()))?;
    let mut tags = elbv2::tags_of(cx, &[arn.to_owned()]).await?;
    Ok(live(tg, tags.remove(arn).unwrap_or_default()))
}

/// What is wrong with a matcher's HTTP codes (`200`, `200,202`, `200-299`) for codes from `low`
/// to `high`.
fn matcher_problem(codes: &str, low: u16, high: u16) -> Option<String> {
    for part in codes.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (Ok(a), Ok(b)) = (a.trim().parse::<u16>(), b.trim().parse::<u16>()) else {
            return Some(format!("`{part}` is no HTTP code or range of codes (e.g. `200`, `200,202`, `200-299`)"));
        };
        if a > b {
            return Some(format!("the range `{part}` runs backwards"));
        }
        if a < low || b > high {
            return Some(format!("`{part}` is outside {low}-{high}"));
        }
    }
    None
}

impl KindSpec for TargetGroup {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateTargetGroup, ModifyTargetGroup, ModifyTargetGroupAttributes): names as
    /// load balancers' (no `internal-` rule); "The TCP protocol is not supported for health
    /// checks if the protocol of the target group is HTTP or HTTPS"; paths and matchers are
    /// HTTP(S) health checks' ("Health check paths/matchers are not supported for TCP health
    /// checks"), a path begins with `/`; matcher codes 200-499 for an application load
    /// balancer's (HTTP/HTTPS) group, 200-599 for a network load balancer's; the health check
    /// port is `traffic-port` or 1-65535; the timeout is below the interval ("Health check
    /// interval must be greater than the timeout"; a TCP, TLS or UDP group's may equal it);
    /// `deregistration_delay.timeout_seconds` is 0-3600; Lambda targets take no port, protocol
    /// or VPC.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = elbv2::name_problems(s, "target_group", "target group");
        if let Some(e) = s.get("vpc") {
            out.extend(wrong_kind(s, "vpc", e, &["vpc"]));
        }
        if s.str("target_type") == Some("lambda") {
            out.push(
                Problem::new("target_type", "a target_group always sends its `port`, `protocol` and `vpc`, which AWS refuses for Lambda targets")
                    .help("Lambda targets are not supported by target_group; use `ip` or `instance`"),
            );
        }
        if let Some(d) = s.int("deregistration_delay").filter(|d| !(0..=3600).contains(d)) {
            out.push(Problem::new(
                "deregistration_delay",
                format!("`deregistration_delay` {d} is out of range: AWS takes 0 to 3600 seconds"),
            ));
        }
        let Some(protocol) = s.str("protocol") else { return out };
        let empty = crate::expr::ExprMap::new();
        let hc = match s.get("health_check") {
            Some(Expr::Map(m)) => m,
            None | Some(Expr::Lit(Value::Null)) => &empty,
            Some(_) => return out,
        };
        let http_group = is_http(protocol);
        let check_protocol = match hc.get("protocol") {
            None => {
                if http_group {
                    protocol
                } else {
                    "TCP"
                }
            }
            Some(e) => match lit_str(Some(e)) {
                Some(p) => p,
                None => return out,
            },
        };
        let http_check = is_http(check_protocol);
        if http_group && !http_check {
            out.push(
                Problem::new(
                    "health_check.protocol",
                    format!("a {check_protocol} health check of an {protocol} target group: AWS checks HTTP and HTTPS target groups over HTTP or HTTPS"),
                )
                .help("leave `protocol` out: the check then uses the group's"),
            );
        }
        for field in ["path", "matcher"] {
            if !http_check && hc.contains_key(field) {
                out.push(
                    Problem::new(
                        format!("health_check.{field}"),
                        format!("`{field}` belongs to HTTP and HTTPS health checks: AWS refuses it for this {check_protocol} health check"),
                    )
                    .help("remove it, or check over HTTP with `protocol: HTTP`"),
                );
            }
        }
        if http_check {
            if let Some(path) = lit_str(hc.get("path")).filter(|p| !p.starts_with('/')) {
                out.push(
                    Problem::new("health_check.path", format!("health check path `{path}` does not begin with `/`"))
                        .help(format!("AWS takes the path of the URL, e.g. `/{}`", path.trim_start_matches('/'))),
                );
            }
            if let Some(codes) = lit_str(hc.get("matcher")) {
                let (high, lb) = if http_group { (499, "an application") } else { (599, "a network") };
                if let Some(why) = matcher_problem(codes, 200, high) {
                    out.push(Problem::new("health_check.matcher", format!("matcher `{codes}`: {why}")).help(format!(
                        "AWS takes HTTP codes 200-{high} for {lb} load balancer's target group, e.g. `200` or `200-299`"
                    )));
                }
            }
        }
        if let Some(port) = lit_str(hc.get("port"))
            && port != "traffic-port"
            && !port.parse::<u16>().is_ok_and(|p| p >= 1)
        {
            out.push(Problem::new(
                "health_check.port",
                format!("health check port `{port}` is neither `traffic-port` nor a port number 1-65535"),
            ));
        }
        let interval = match hc.get("interval") {
            None => Some((30, false)),
            e => lit_int(e).map(|i| (i, true)),
        };
        let timeout = match hc.get("timeout") {
            None => Some((if http_check { 5 } else { 10 }, false)),
            e => lit_int(e).map(|t| (t, true)),
        };
        if let (Some((interval, iw)), Some((timeout, tw))) = (interval, timeout) {
            let too_long = if http_group { timeout >= interval } else { timeout > interval };
            if too_long {
                let default = |written: bool| if written { "" } else { " (the default)" };
                let bound = if http_group { "shorter than" } else { "at most" };
                out.push(
                    Problem::new(
                        if tw { "health_check.timeout" } else { "health_check.interval" },
                        format!(
                            "health check timeout {timeout} s{} is not {bound} the interval {interval} s{}: AWS wants each check to end before the next",
                            default(tw),
                            default(iw)
                        ),
                    )
                    .help(if http_group { format!("e.g. `timeout: {}`", interval - 1) } else { format!("e.g. `timeout: {interval}`") }),
                );
            }
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        if props.get("name").is_none_or(Value::is_null) {
            props.insert("name".into(), Value::str(elbv2::default_name(stack, id)));
        }
        let protocol = props.get("protocol").and_then(Value::as_str).unwrap_or("HTTP").to_owned();
        let hc = props.get("health_check");
        if !hc.is_some_and(Value::has_unknown) {
            let hc = canonical_health_check(&protocol, hc.and_then(Value::as_map));
            props.insert("health_check".into(), hc);
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["vpc"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("elasticloadbalancing", "targetgroup"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[
            ("elasticloadbalancing", "DeleteTargetGroup"),
            ("elasticloadbalancing", "CreateTargetGroup"),
        ])
    }
}

#[async_trait]
impl Kind for TargetGroup {
    /// One paginated DescribeTargetGroups, then DescribeTags per 20 target groups. The
    /// deregistration delay is not read (one DescribeTargetGroupAttributes per group).
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let groups = crate::aws::all_items(client(cx).describe_target_groups().into_paginator().items().send()).await?;
        let arns: Vec<String> = groups.iter().filter_map(|g| g.target_group_arn().map(str::to_owned)).collect();
        let mut tags = elbv2::tags_of(cx, &arns).await?;
        Ok(groups
            .iter()
            .map(|g| live(g, tags.remove(g.target_group_arn().unwrap_or_default()).unwrap_or_default()))
            .collect())
    }

    /// The deregistration delay of imported groups: DescribeTargetGroupAttributes, one per group.
    async fn read_unreported(&self, cx: &Cx, live: &mut [Live]) -> Result<(), AwsError> {
        for l in live.iter_mut() {
            let out = client(cx)
                .describe_target_group_attributes()
                .target_group_arn(&l.physical_id)
                .send()
                .await
                .map_err(classify)?;
            let delay = out
                .attributes()
                .iter()
                .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
                .and_then(|a| a.value()?.parse::<i64>().ok());
            if let Some(d) = delay {
                l.props.insert("deregistration_delay".into(), Value::Int(d));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let text = |k: &str| req.props.get(k).and_then(Value::as_str);
        let name = text("name").map_or_else(|| elbv2::default_name(&cx.stack, req.id), str::to_owned);
        let hc = health_check(req.props);
        // CreateTargetGroup is idempotent by name and settings, like CreateLoadBalancer.
        // https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
        let op = client(cx)
            .create_target_group()
            .name(&name)
            .protocol(ProtocolEnum::from(text("protocol").unwrap_or("HTTP")))
            .set_port(req.props.get("port").and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok()))
            .set_vpc_id(text("vpc").map(str::to_owned))
            .target_type(TargetTypeEnum::from(text("target_type").unwrap_or("ip")))
            .health_check_enabled(true)
            .set_health_check_protocol(hc.protocol)
            .set_health_check_port(hc.port)
            .set_health_check_path(hc.path)
            .set_health_check_interval_seconds(hc.interval)
            .set_health_check_timeout_seconds(hc.timeout)
            .set_healthy_threshold_count(hc.healthy)
            .set_unhealthy_threshold_count(hc.unhealthy)
            .set_matcher(hc.matcher)
            .set_tags(Some(elbv2::to_sdk(req.tags)));
        let out = settle(cx, req.id, "the VPC", || {
            let op = op.clone();
            async move { op.send().await.map_err(classify) }
        })
        .await?;
        let tg = out
            .target_groups()
            .first()
            .ok_or_else(|| AwsError::Failed("CreateTargetGroup returned no target group".into()))?;
        let arn = tg.target_group_arn().unwrap_or_default();
        if req.props.get("deregistration_delay").and_then(Value::as_i64) != Some(300) {
            set_deregistration_delay(cx, arn, req.props).await?;
        }
        Ok(live(tg, req.tags.clone()))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        let arn = req.physical_id;
        if changed("health_check") {
            let hc = health_check(req.new);
            client(cx)
                .modify_target_group()
                .target_group_arn(arn)
                .health_check_enabled(true)
                .set_health_check_protocol(hc.protocol)
                .set_health_check_port(hc.port)
                .set_health_check_path(hc.path)
                .set_health_check_interval_seconds(hc.interval)
                .set_health_check_timeout_seconds(hc.timeout)
                .set_healthy_threshold_count(hc.healthy)
                .set_unhealthy_threshold_count(hc.unhealthy)
                .set_matcher(hc.matcher)
                .send()
                .await
                .map_err(classify)?;
        }
        if changed("deregistration_delay") {
            set_deregistration_delay(cx, arn, req.new).await?;
        }
        if changed("tags") {
            elbv2::retag(cx, arn, req.old_tags, req.tags).await?;
        }
        read_back(cx, arn).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // ResourceInUse while a listener or rule still forwards here (classified InUse: the
        // executor retries while the listener's delete goes through).
        super::gone_ok(
            client(cx).delete_target_group().target_group_arn(req.physical_id).send().await.map_err(classify),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Value)]) -> crate::value::Props {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn health_check_defaults_follow_the_protocol() {
        let http = canonical_health_check("HTTP", Some(&map(&[("path", "/health".into())])));
        assert_eq!(
            http,
            Value::Map(map(&[
                ("protocol", "HTTP".into()),
                ("port", "traffic-port".into()),
                ("path", "/health".into()),
                ("interval", 30.into()),
                ("timeout", 5.into()),
                ("healthy_threshold", 5.into()),
                ("unhealthy_threshold", 2.into()),
                ("matcher", "200".into()),
            ]))
        );
        let tcp = canonical_health_check("TLS", None);
        assert_eq!(
            tcp,
            Value::Map(map(&[
                ("protocol", "TCP".into()),
                ("port", "traffic-port".into()),
                ("interval", 30.into()),
                ("timeout", 10.into()),
                ("healthy_threshold", 5.into()),
                ("unhealthy_threshold", 2.into()),
            ]))
        );
    }
}

#[cfg(test)]
mod rule_tests {
    use super::matcher_problem;
    use crate::spec::rules::testing::{problems, valid};

    const VPC: &str = "  vpc: { type: vpc, cidr: 10.0.0.0/16 }\n";

    #[test]
    fn names() {
        valid(&format!("{VPC}  tg: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, name: internal-api-2 }}"));
        let p = problems(&format!("{VPC}  tg: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, name: api.v2 }}"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("2:63: target group name `api.v2` has characters AWS refuses: `.`"), "{p:?}");
        let p = problems(&format!("{VPC}  tg: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, name: '' }}"));
        assert!(p.len() == 1 && p[0].contains("the target group name is empty"), "{p:?}");
    }

    #[test]
    fn health_check_by_protocol() {
        valid(&format!(
            "{VPC}  a: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, health_check: {{ path: /health, matcher: '200-299,302', port: '8080' }} }}\n  b: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, protocol: TCP, health_check: {{ protocol: HTTP, path: /health, matcher: '503' }} }}"
        ));
        let p = problems(&format!(
            "{VPC}  a: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, health_check: {{ protocol: TCP }} }}\n  b: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, protocol: TCP, health_check: {{ path: /health, matcher: '200' }} }}\n  c: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, health_check: {{ path: health, matcher: '503', port: '0' }} }}"
        ));
        assert_eq!(p.len(), 6, "{p:?}");
        assert!(p[0].contains("a TCP health check of an HTTP target group"), "{p:?}");
        assert!(
            p[1].contains("`path` belongs to HTTP and HTTPS health checks: AWS refuses it for this TCP health check"),
            "{p:?}"
        );
        assert!(p[2].contains("`matcher` belongs to HTTP and HTTPS health checks"), "{p:?}");
        assert!(
            p[3].contains(
                "health check path `health` does not begin with `/` | AWS takes the path of the URL, e.g. `/health`"
            ),
            "{p:?}"
        );
        assert!(p[4].contains("matcher `503`: `503` is outside 200-499"), "{p:?}");
        assert!(p[5].contains("health check port `0` is neither `traffic-port` nor a port number 1-65535"), "{p:?}");
    }

    #[test]
    fn timeout_below_interval() {
        valid(&format!(
            "{VPC}  a: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, health_check: {{ interval: 6 }} }}\n  b: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, protocol: TCP, health_check: {{ interval: 10 }} }}"
        ));
        let p = problems(&format!(
            "{VPC}  a: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, health_check: {{ interval: 5 }} }}\n  b: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, protocol: TCP, health_check: {{ interval: 20, timeout: 21 }} }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("health check timeout 5 s (the default) is not shorter than the interval 5 s")
                && p[0].ends_with("| e.g. `timeout: 4`"),
            "{p:?}"
        );
        assert!(p[1].contains("health check timeout 21 s is not at most the interval 20 s"), "{p:?}");
    }

    #[test]
    fn deregistration_delay_and_lambda() {
        let p = problems(&format!(
            "{VPC}  a: {{ type: target_group, vpc: '${{vpc.id}}', port: 80, deregistration_delay: 3601, target_type: lambda }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("`deregistration_delay` 3601 is out of range: AWS takes 0 to 3600 seconds"), "{p:?}");
        assert!(p[1].contains("which AWS refuses for Lambda targets"), "{p:?}");
    }

    #[test]
    fn matchers() {
        assert_eq!(matcher_problem("200", 200, 499), None);
        assert_eq!(matcher_problem("200,202,300-399", 200, 499), None);
        assert!(matcher_problem("299-200", 200, 499).unwrap().contains("backwards"));
        assert!(matcher_problem("2xx", 200, 499).unwrap().contains("no HTTP code"));
        assert!(matcher_problem("200-500", 200, 499).unwrap().contains("outside 200-499"));
    }
}
