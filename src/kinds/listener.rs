use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, Listener as SdkListener, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};

use super::ec2::settle;
use super::elbv2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, TAG_STACK, Tags, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::expr::{Expr, ExprMap};
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::network::vpc_of;
use crate::spec::rules::{lit_int, lit_str, ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct Listener;

const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"];

static ACTION: Ty = Ty::Obj(&[
    Prop::new("type", Ty::Enum(&["forward", "redirect"]), "Forward to a target group, or redirect.")
        .aws("elbv2:Action.Type")
        .required(),
    Prop::new("target_group", Ty::Str, "forward: the target group's ARN.").aws("elbv2:Action.TargetGroupArn"),
    Prop::new("protocol", Ty::Enum(&["HTTP", "HTTPS"]), "redirect: protocol. Default: unchanged.")
        .aws("elbv2:RedirectActionConfig.Protocol"),
    Prop::new("port", Ty::Str, "redirect: port (a number). Default: unchanged.").aws("elbv2:RedirectActionConfig.Port"),
    Prop::new("host", Ty::Str, "redirect: host name. Default: unchanged.").aws("elbv2:RedirectActionConfig.Host"),
    Prop::new("path", Ty::Str, "redirect: path, starting with `/`. Default: unchanged.")
        .aws("elbv2:RedirectActionConfig.Path"),
    Prop::new("query", Ty::Str, "redirect: query string. Default: unchanged.").aws("elbv2:RedirectActionConfig.Query"),
    Prop::new(
        "status_code",
        Ty::Enum(&["HTTP_301", "HTTP_302"]),
        "redirect: permanent (HTTP_301, the default) or temporary (HTTP_302).",
    )
    .aws("elbv2:RedirectActionConfig.StatusCode"),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "listener",
    doc: "A load balancer listener: a port and protocol, with a certificate for HTTPS/TLS, and its default \
          action (forward to a target group, or redirect, e.g. HTTP to HTTPS). Changed in place \
          (ModifyListener).",
    props: &[
        Prop::new("load_balancer", Ty::Str, "The load balancer's ARN.")
            .aws("elbv2:CreateListenerInput.LoadBalancerArn")
            .required()
            .replaces(),
        Prop::new("port", Ty::Int, "Port the load balancer listens on.")
            .aws("elbv2:CreateListenerInput.Port")
            .required(),
        Prop::new("protocol", Ty::Enum(PROTOCOLS), "HTTP/HTTPS (application), TCP/TLS/UDP (network).")
            .aws("elbv2:CreateListenerInput.Protocol")
            .required(),
        Prop::new("certificate", Ty::Str, "HTTPS/TLS: the default certificate's ARN (ACM).")
            .aws("elbv2:Certificate.CertificateArn"),
        Prop::new("ssl_policy", Ty::Str, "HTTPS/TLS: the security policy. Default: AWS's current default policy.")
            .aws("elbv2:CreateListenerInput.SslPolicy"),
        Prop::new("default_action", ACTION, "What the listener does with requests no rule matches.").required(),
    ],
    attrs: &[Attr::new("id", "The listener's ARN."), Attr::new("arn", "The listener's ARN.")],
    taggable: true,
};

/// The stack's or AWS's action in canonical form: `{type: forward, target_group}`, or a
/// redirect with every field AWS reports (its defaults `#{protocol}`, `#{port}`, ... where the
/// stack says nothing), the port as text (AWS's type).
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RedirectActionConfig.html
fn canonical_action(given: &crate::value::Props) -> Value {
    let get = |k: &str| given.get(k).filter(|v| !v.is_null()).cloned();
    let mut m = Props::new();
    let kind = get("type").unwrap_or_else(|| Value::str("forward"));
    if kind.as_str() == Some("redirect") {
        let text = |k: &str, default: &str| match get(k) {
            Some(Value::Int(i)) => Value::Str(i.to_string()),
            Some(v) => v,
            None => Value::str(default),
        };
        m.insert("protocol".to_string(), text("protocol", "#{protocol}"));
        m.insert("port".to_string(), text("port", "#{port}"));
        m.insert("host".to_string(), text("host", "#{host}"));
        m.insert("path".to_string(), text("path", "/#{path}"));
        m.insert("query".to_string(), text("query", "#{query}"));
        m.insert("status_code".to_string(), text("status_code", "HTTP_301"));
    } else if let Some(tg) = get("target_group") {
        m.insert("target_group".to_string(), tg);
    }
    m.insert("type".to_string(), kind);
    Value::Map(m)
}

fn action_from_sdk(a: &Action) -> Value {
    let mut m = Props::new();
    m.insert("type".to_string(), Value::str(a.r#type().map_or("", |t| t.as_str())));
    if let Some(r) = a.redirect_config() {
        let text = |v: Option<&str>| v.map_or(Value::Null, Value::str);
        m.insert("protocol".to_string(), text(r.protocol()));
        m.insert("port".to_string(), text(r.port()));
        m.insert("host".to_string(), text(r.host()));
        m.insert("path".to_string(), text(r.path()));
        m.insert("query".to_string(), text(r.query()));
        m.insert("status_code".to_string(), text(r.status_code().map(|c| c.as_str())));
    }
    // AWS reports a single-group forward both as TargetGroupArn and as ForwardConfig.
    let tg = a
        .target_group_arn()
        .or_else(|| a.forward_config().and_then(|f| f.target_groups().first()).and_then(|t| t.target_group_arn()));
    if let Some(tg) = tg {
        m.insert("target_group".to_string(), Value::str(tg));
    }
    Value::Map(m)
}

fn action_to_sdk(v: &Value) -> Action {
    let empty = Props::new();
    let m = v.as_map().unwrap_or(&empty);
    let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    match text("type").as_deref() {
        Some("redirect") => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .set_protocol(text("protocol"))
                    .set_port(text("port"))
                    .set_host(text("host"))
                    .set_path(text("path"))
                    .set_query(text("query"))
                    .status_code(RedirectActionStatusCodeEnum::from(
                        text("status_code").as_deref().unwrap_or("HTTP_301"),
                    ))
                    .build(),
            )
            .build(),
        _ => Action::builder().r#type(ActionTypeEnum::Forward).set_target_group_arn(text("target_group")).build(),
    }
}

fn live(l: &SdkListener, tags: Tags) -> Live {
    let arn = l.listener_arn().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("load_balancer".into(), l.load_balancer_arn().map_or(Value::Null, Value::str));
    props.insert("port".into(), l.port().map_or(Value::Null, Value::from));
    props.insert("protocol".into(), l.protocol().map_or(Value::Null, |p| Value::str(p.as_str())));
    // DescribeListeners lists the default certificate only (the others need
    // DescribeListenerCertificates).
    if let Some(cert) =
        l.certificates().iter().find(|c| c.is_default() != Some(false)).and_then(|c| c.certificate_arn())
    {
        props.insert("certificate".into(), Value::str(cert));
    }
    if let Some(p) = l.ssl_policy() {
        props.insert("ssl_policy".into(), Value::str(p));
    }
    if let Some(a) = l.default_actions().first() {
        props.insert("default_action".into(), action_from_sdk(a));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&arn));
    attrs.insert("arn".into(), Value::str(&arn));
    Live { physical_id: arn, props, attrs, tags }
}

/// The load balancer a listener belongs to, from the listener's ARN
/// (`...:listener/app/name/hash/id` -> `...:loadbalancer/app/name/hash`).
fn load_balancer_of(listener_arn: &str) -> Option<String> {
    let (head, rest) = listener_arn.split_once(":listener/")?;
    let (lb, _) = rest.rsplit_once('/')?;
    Some(format!("{head}:loadbalancer/{lb}"))
}

/// The stack's load balancers (DescribeLoadBalancers + DescribeTags): where listeners that
/// are in no state yet (a create that crashed before its checkpoint, teardown without state)
/// can be.
async fn stack_load_balancers(cx: &Cx) -> Result<Vec<String>, AwsError> {
    let read = elbv2::load_balancers(cx).await?;
    let (lbs, tags) = &*read;
    Ok(lbs
        .iter()
        .filter_map(|l| l.load_balancer_arn())
        .filter(|a| tags.get(*a).and_then(|t| t.get(TAG_STACK)).is_some_and(|s| *s == cx.stack))
        .map(str::to_owned)
        .collect())
}

fn int(props: &Props, k: &str) -> Option<i32> {
    props.get(k).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

fn text(props: &Props, k: &str) -> Option<String> {
    props.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn certificates(props: &Props) -> Option<Vec<Certificate>> {
    text(props, "certificate").map(|c| vec![Certificate::builder().certificate_arn(c).build()])
}

async fn read_back(cx: &Cx, arn: &str) -> Result<Live, AwsError> {
    let out = client(cx).describe_listeners().listener_arns(arn).send().await.map_err(classify)?;
    let l = out.listeners().first().ok_or_else(|| AwsError::NotFound(arn.into()))?;
    let mut tags = elbv2::tags_of(cx, &[arn.to_owned()]).await?;
    Ok(live(l, tags.remove(arn).unwrap_or_default()))
}

/// "an HTTPS", "a TLS" (as the letters are read).
fn a_protocol(p: &str) -> String {
    format!("{} {p}", if p.starts_with('H') { "an" } else { "a" })
}

/// Why a listener of `protocol` on a `lb_type` load balancer cannot forward to a target group
/// of `tg_protocol` and `target_type`, if it cannot.
fn forward_problem(lb_type: &str, protocol: Option<&str>, tg_protocol: &str, target_type: &str) -> Option<String> {
    let http = matches!(tg_protocol, "HTTP" | "HTTPS");
    match lb_type {
        "application" if !http => {
            Some(format!("speaks {tg_protocol}: an application load balancer forwards to HTTP and HTTPS target groups"))
        }
        "application" if target_type == "alb" => {
            Some("registers load balancers (`target_type: alb`): only a network load balancer forwards to it".into())
        }
        "network" if http => Some(format!(
            "speaks {tg_protocol}: a network load balancer forwards to TCP, TLS, UDP and TCP_UDP target groups"
        )),
        "network" if target_type == "lambda" => {
            Some("registers Lambda functions: only an application load balancer forwards to them".into())
        }
        "network" => {
            let fits = match protocol? {
                "UDP" => matches!(tg_protocol, "UDP" | "TCP_UDP"),
                "TCP_UDP" => tg_protocol == "TCP_UDP",
                _ => tg_protocol != "UDP",
            };
            (!fits).then(|| {
                format!(
                    "speaks {tg_protocol}: {} listener forwards to {}",
                    a_protocol(protocol.unwrap_or_default()),
                    match protocol {
                        Some("UDP") => "UDP and TCP_UDP target groups",
                        Some("TCP_UDP") => "TCP_UDP target groups",
                        _ => "TCP, TLS and TCP_UDP target groups",
                    }
                )
            })
        }
        _ => None,
    }
}

/// What AWS refuses in the default action: a forward without a target group; a redirect on a
/// network load balancer; a target group the load balancer cannot use.
fn action_problems(
    s: &Subject,
    action: &ExprMap,
    lb: Option<(&str, &'static str, &ExprMap)>,
    lb_type: Option<&str>,
    protocol: Option<&str>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let tg = action.get("target_group").filter(|e| !matches!(e, Expr::Lit(Value::Null)));
    match lit_str(action.get("type")) {
        Some("forward") if tg.is_none() => out.push(
            Problem::new("default_action", "a forward action needs `target_group`: AWS forwards to a target group")
                .help("e.g. `target_group: ${tg.arn}`"),
        ),
        Some("redirect") if lb_type == Some("network") => out.push(Problem::new(
            "default_action.type",
            "a network load balancer only forwards: AWS refuses a redirect action on its listeners",
        )),
        _ => {}
    }
    let (Some("forward"), Some(e)) = (lit_str(action.get("type")), tg) else { return out };
    out.extend(wrong_kind(s, "default_action.target_group", e, &["target_group"]));
    let Some((tg_id, "target_group", tg_props)) = s.referenced_in(e) else { return out };
    let path = "default_action.target_group";
    if let (Some(lb_type), Some(tg_protocol)) = (lb_type, lit_str(tg_props.get("protocol"))) {
        let target_type = lit_str(tg_props.get("target_type")).unwrap_or("ip");
        if let Some(why) = forward_problem(lb_type, protocol, tg_protocol, target_type) {
            out.push(Problem::new(path, format!("target group `{tg_id}` {why}")));
        }
    }
    let Some((lb_id, _, _)) = lb else { return out };
    if let (Some(theirs), Some(home)) = (vpc_of(s.stack, tg_id), vpc_of(s.stack, lb_id))
        && theirs.differs(home)
    {
        out.push(Problem::new(
            path,
            format!("target group `{tg_id}` is in {theirs}, load balancer `{lb_id}` in {home}: AWS forwards to target groups of the load balancer's VPC"),
        ));
    }
    let listeners = s.stack.referrers(tg_id).filter(|(_, kind, _)| *kind == "listener");
    let elsewhere = listeners.take_while(|(id, _, _)| *id != s.id).find_map(|(id, _, props)| {
        let Some(Expr::Map(a)) = props.get("default_action") else { return None };
        let other_lb = props.get("load_balancer").and_then(ref_target)?;
        (a.get("target_group").and_then(ref_target) == Some(tg_id) && other_lb != lb_id).then_some((id, other_lb))
    });
    if let Some((listener, other_lb)) = elsewhere {
        out.push(
            Problem::new(
                path,
                format!("target group `{tg_id}` already takes traffic from load balancer `{other_lb}` (listener `{listener}`): AWS uses a target group with one load balancer"),
            )
            .help("give each load balancer a target group of its own"),
        );
    }
    out
}

impl KindSpec for Listener {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateListener, ModifyListener): HTTP/HTTPS listeners on application load
    /// balancers, TCP/TLS/UDP/TCP_UDP on network ones; "A certificate must be specified for
    /// HTTPS listeners" (and TLS), "A certificate cannot be specified for HTTP listeners", nor an
    /// SSL policy; a forward action names a target group that the load balancer can use (its
    /// protocol and target type, "A TCP_UDP listener must be associated with a TCP_UDP target
    /// group"), of the load balancer's VPC, and used by no other load balancer; a network load
    /// balancer only forwards; one listener per port (DuplicateListener).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(e) = s.get("load_balancer") {
            out.extend(wrong_kind(s, "load_balancer", e, &["load_balancer"]));
        }
        let certificate = s.get("certificate").filter(|e| !matches!(e, Expr::Lit(Value::Null)));
        if let Some(e) = certificate {
            out.extend(wrong_kind(s, "certificate", e, &["certificate"]));
        }
        let lb = s.referenced("load_balancer").filter(|(_, kind, _)| *kind == "load_balancer");
        let lb_type = lb.and_then(|(_, _, props)| lit_str(props.get("load_balancer_type")));
        let protocol = s.str("protocol");
        if let Some(p) = protocol {
            match lb_type {
                Some("application") if !matches!(p, "HTTP" | "HTTPS") => out.push(
                    Problem::new("protocol", format!("an application load balancer listens on HTTP or HTTPS, not {p}"))
                        .help("TCP, TLS, UDP and TCP_UDP listeners are a network load balancer's (`load_balancer_type: network`)"),
                ),
                Some("network") if matches!(p, "HTTP" | "HTTPS") => out.push(
                    Problem::new("protocol", format!("a network load balancer listens on TCP, TLS, UDP or TCP_UDP, not {p}"))
                        .help("HTTP and HTTPS listeners are an application load balancer's"),
                ),
                _ => {}
            }
            let secure = matches!(p, "HTTPS" | "TLS");
            if secure && certificate.is_none() {
                out.push(
                    Problem::new(
                        "protocol",
                        format!("{} listener needs a `certificate`: AWS refuses one without", a_protocol(p)),
                    )
                    .help("e.g. `certificate: ${cert.arn}` of a certificate resource"),
                );
            }
            if !secure && certificate.is_some() {
                out.push(
                    Problem::new(
                        "certificate",
                        format!(
                            "a certificate on {} listener: AWS takes certificates on HTTPS and TLS listeners only",
                            a_protocol(p)
                        ),
                    )
                    .help("remove `certificate`, or listen on HTTPS"),
                );
            }
            if !secure && s.get("ssl_policy").is_some_and(|e| !matches!(e, Expr::Lit(Value::Null))) {
                out.push(Problem::new(
                    "ssl_policy",
                    format!(
                        "an SSL policy on {} listener: AWS takes one on HTTPS and TLS listeners only",
                        a_protocol(p)
                    ),
                ));
            }
        }
        if let (Some((lb_id, _, _)), Some(port)) = (lb, s.int("port")) {
            let twin = s
                .stack
                .referrers(lb_id)
                .filter(|(_, kind, _)| *kind == "listener")
                .take_while(|(id, _, _)| *id != s.id)
                .find(|(_, _, props)| {
                    props.get("load_balancer").and_then(ref_target) == Some(lb_id)
                        && lit_int(props.get("port")) == Some(port)
                });
            if let Some((other, _, _)) = twin {
                out.push(Problem::new(
                    "port",
                    format!("load balancer `{lb_id}` already listens on port {port} (listener `{other}`): AWS takes one listener per port"),
                ));
            }
        }
        if let Some(Expr::Map(action)) = s.get("default_action") {
            out.extend(action_problems(s, action, lb, lb_type, protocol));
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        // Values not known yet (a target group being created) are carried over as they are.
        if let Some(Value::Map(m)) = props.get("default_action") {
            let a = canonical_action(m);
            props.insert("default_action".into(), a);
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["load_balancer", "target_group", "certificate"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("elasticloadbalancing", "listener"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("elasticloadbalancing", "CreateListener")])
    }
}

/// DescribeListeners per load balancer (one gone meanwhile has none), then DescribeTags per 20.
async fn listeners_of(cx: &Cx, mut lbs: Vec<String>) -> Result<Vec<Live>, AwsError> {
    lbs.sort();
    lbs.dedup();
    let elb = client(cx);
    let mut listeners = vec![];
    for lb in &lbs {
        let found =
            elb.describe_listeners().load_balancer_arn(lb).into_paginator().items().send().try_collect().await;
        match found.map_err(classify) {
            Ok(mut ls) => listeners.append(&mut ls),
            // The load balancer is gone, and its listeners with it.
            Err(AwsError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let arns: Vec<String> = listeners.iter().filter_map(|l| l.listener_arn().map(str::to_owned)).collect();
    let mut tags = elbv2::tags_of(cx, &arns).await?;
    Ok(listeners
        .iter()
        .map(|l| live(l, tags.remove(l.listener_arn().unwrap_or_default()).unwrap_or_default()))
        .collect())
    }

#[async_trait]
impl Kind for Listener {
    /// DescribeListeners takes a load balancer (or listener ARNs, and then fails whole when one
    /// is gone): one paginated call per load balancer that holds a listener in `ids`, then
    /// DescribeTags per 20 listeners. Without ids (adoption after a crash, teardown) the
    /// stack's load balancers are found first with DescribeLoadBalancers + DescribeTags.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let mut lbs: Vec<String> = ids.iter().filter_map(|i| load_balancer_of(i)).collect();
        if ids.is_empty() {
            lbs = stack_load_balancers(cx).await?;
        }
        listeners_of(cx, lbs).await
    }

    /// The listeners of the given load balancers.
    async fn read_of(&self, cx: &Cx, owners: &[String]) -> Result<Vec<Live>, AwsError> {
        listeners_of(cx, owners.to_vec()).await
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        // CreateListener is idempotent: the same settings again answer with the same listener.
        // https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html
        let op = client(cx)
            .create_listener()
            .set_load_balancer_arn(text(p, "load_balancer"))
            .set_port(int(p, "port"))
            .set_protocol(text(p, "protocol").map(|s| ProtocolEnum::from(s.as_str())))
            .set_certificates(certificates(p))
            .set_ssl_policy(text(p, "ssl_policy"))
            .set_default_actions(p.get("default_action").map(|a| vec![action_to_sdk(a)]))
            .set_tags(Some(elbv2::to_sdk(req.tags)));
        // A certificate issued a moment ago can be unknown to ELB for a while
        // (CertificateNotFound; hashicorp/terraform-provider-aws retries it for two minutes).
        let out = settle(cx, req.id, "the certificate and target group", || {
            let op = op.clone();
            async move { op.send().await.map_err(classify) }
        })
        .await?;
        let l =
            out.listeners().first().ok_or_else(|| AwsError::Failed("CreateListener returned no listener".into()))?;
        Ok(live(l, req.tags.clone()))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let p = req.new;
        let arn = req.physical_id;
        if req.changed.iter().any(|c| c != "tags") {
            let op = client(cx)
                .modify_listener()
                .listener_arn(arn)
                .set_port(int(p, "port"))
                .set_protocol(text(p, "protocol").map(|s| ProtocolEnum::from(s.as_str())))
                .set_certificates(certificates(p))
                .set_ssl_policy(text(p, "ssl_policy"))
                .set_default_actions(p.get("default_action").map(|a| vec![action_to_sdk(a)]));
            settle(cx, req.id, "the certificate and target group", || {
                let op = op.clone();
                async move { op.send().await.map_err(classify) }
            })
            .await?;
        }
        if req.changed.iter().any(|c| c == "tags") {
            elbv2::retag(cx, arn, req.old_tags, req.tags).await?;
        }
        read_back(cx, arn).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        super::gone_ok(client(cx).delete_listener().listener_arn(req.physical_id).send().await.map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Value)]) -> crate::value::Props {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn redirect_gets_aws_defaults_and_a_text_port() {
        let given = map(&[
            ("type", "redirect".into()),
            ("protocol", "HTTPS".into()),
            ("port", 443.into()),
            ("status_code", "HTTP_301".into()),
        ]);
        let want = map(&[
            ("type", "redirect".into()),
            ("protocol", "HTTPS".into()),
            ("port", "443".into()),
            ("host", "#{host}".into()),
            ("path", "/#{path}".into()),
            ("query", "#{query}".into()),
            ("status_code", "HTTP_301".into()),
        ]);
        assert_eq!(canonical_action(&given), Value::Map(want.clone()));
        assert_eq!(action_from_sdk(&action_to_sdk(&Value::Map(want.clone()))), Value::Map(want));
    }

    #[test]
    fn forward_round_trips() {
        let given = map(&[("type", "forward".into()), ("target_group", "arn:tg".into())]);
        assert_eq!(canonical_action(&given), Value::Map(given.clone()));
        assert_eq!(action_from_sdk(&action_to_sdk(&Value::Map(given.clone()))), Value::Map(given));
    }

    #[test]
    fn listener_arn_names_its_load_balancer() {
        let arn =
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/s-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
        assert_eq!(
            load_balancer_of(arn).as_deref(),
            Some("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/s-alb/50dc6c495c0c9188")
        );
        assert_eq!(load_balancer_of("nonsense"), None);
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    const FRONT: &str = "  vpc: { type: vpc, cidr: 10.0.0.0/16 }
  a: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.0.0/24, az: us-east-1a }
  b: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.1.0/24, az: us-east-1b }
  alb: { type: load_balancer, subnets: ['${a.id}', '${b.id}'] }
  nlb: { type: load_balancer, load_balancer_type: network, subnets: ['${a.id}'] }
  web: { type: target_group, vpc: '${vpc.id}', port: 80 }
  tcp: { type: target_group, vpc: '${vpc.id}', port: 80, protocol: TCP }
  zone: { type: hosted_zone, name: example.com }
  cert: { type: certificate, domain: app.example.com, zone: '${zone.id}' }
";

    #[test]
    fn protocols_and_certificates() {
        valid(&format!(
            "{FRONT}  https: {{ type: listener, load_balancer: '${{alb.arn}}', port: 443, protocol: HTTPS, certificate: '${{cert.arn}}', ssl_policy: ELBSecurityPolicy-TLS13-1-2-2021-06, default_action: {{ type: forward, target_group: '${{web.arn}}' }} }}\n  http: {{ type: listener, load_balancer: '${{alb.arn}}', port: 80, protocol: HTTP, default_action: {{ type: redirect, protocol: HTTPS, port: '443' }} }}\n  tls: {{ type: listener, load_balancer: '${{nlb.arn}}', port: 443, protocol: TLS, certificate: '${{cert.arn}}', default_action: {{ type: forward, target_group: '${{tcp.arn}}' }} }}"
        ));
        let p = problems(&format!(
            "{FRONT}  l1: {{ type: listener, load_balancer: '${{alb.arn}}', port: 443, protocol: HTTPS, default_action: {{ type: forward, target_group: '${{web.arn}}' }} }}\n  l2: {{ type: listener, load_balancer: '${{alb.arn}}', port: 80, protocol: HTTP, certificate: '${{cert.arn}}', ssl_policy: ELBSecurityPolicy-2016-08, default_action: {{ type: forward, target_group: '${{web.arn}}' }} }}\n  l3: {{ type: listener, load_balancer: '${{alb.arn}}', port: 81, protocol: TCP, default_action: {{ type: forward, target_group: '${{web.arn}}' }} }}"
        ));
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].starts_with("10:75: an HTTPS listener needs a `certificate`"), "{p:?}");
        assert!(
            p[1].contains("a certificate on an HTTP listener: AWS takes certificates on HTTPS and TLS listeners only"),
            "{p:?}"
        );
        assert!(p[2].contains("an SSL policy on an HTTP listener"), "{p:?}");
        assert!(p[3].contains("an application load balancer listens on HTTP or HTTPS, not TCP"), "{p:?}");
    }

    #[test]
    fn target_groups_the_load_balancer_can_use() {
        let p = problems(&format!(
            "{FRONT}  l1: {{ type: listener, load_balancer: '${{alb.arn}}', port: 80, protocol: HTTP, default_action: {{ type: forward, target_group: '${{tcp.arn}}' }} }}\n  l2: {{ type: listener, load_balancer: '${{nlb.arn}}', port: 80, protocol: TCP, default_action: {{ type: forward, target_group: '${{web.arn}}' }} }}\n  l3: {{ type: listener, load_balancer: '${{nlb.arn}}', port: 53, protocol: UDP, default_action: {{ type: forward, target_group: '${{tcp.arn}}' }} }}\n  l4: {{ type: listener, load_balancer: '${{nlb.arn}}', port: 81, protocol: TCP, default_action: {{ type: redirect, protocol: HTTPS }} }}\n  l5: {{ type: listener, load_balancer: '${{alb.arn}}', port: 82, protocol: HTTP, default_action: {{ type: forward }} }}"
        ));
        assert_eq!(p.len(), 6, "{p:?}");
        assert!(
            p[0].contains(
                "target group `tcp` speaks TCP: an application load balancer forwards to HTTP and HTTPS target groups"
            ),
            "{p:?}"
        );
        assert!(
            p[1].contains(
                "target group `web` speaks HTTP: a network load balancer forwards to TCP, TLS, UDP and TCP_UDP"
            ),
            "{p:?}"
        );
        assert!(
            p[2].contains("target group `tcp` already takes traffic from load balancer `alb` (listener `l1`)"),
            "{p:?}"
        );
        assert!(
            p[3].contains("target group `tcp` speaks TCP: a UDP listener forwards to UDP and TCP_UDP target groups"),
            "{p:?}"
        );
        assert!(p[4].contains("a network load balancer only forwards"), "{p:?}");
        assert!(p[5].contains("a forward action needs `target_group`"), "{p:?}");
    }

    #[test]
    fn one_listener_per_port_and_one_vpc() {
        let p = problems(&format!(
            "{FRONT}  other: {{ type: vpc, cidr: 10.1.0.0/16 }}\n  far: {{ type: target_group, vpc: '${{other.id}}', port: 80 }}\n  l1: {{ type: listener, load_balancer: '${{alb.arn}}', port: 80, protocol: HTTP, default_action: {{ type: forward, target_group: '${{far.arn}}' }} }}\n  l2: {{ type: listener, load_balancer: '${{alb.arn}}', port: 80, protocol: HTTP, default_action: {{ type: forward, target_group: '${{web.arn}}' }} }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("target group `far` is in VPC `other`, load balancer `alb` in VPC `vpc`"), "{p:?}");
        assert!(p[1].contains("load balancer `alb` already listens on port 80 (listener `l1`)"), "{p:?}");
    }
}
