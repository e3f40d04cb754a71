use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, Listener as SdkListener, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};

use super::ec2::settle;
use super::elbv2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, TAG_STACK, Tags, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Refusals};
use crate::value::{Props, Value};

pub struct Listener;

const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"];

static ACTION: Ty = Ty::Obj(&[
    Prop::new("type", Ty::Enum(&["forward", "redirect"]), "Forward to a target group, or redirect.")
        .aws("elbv2:Action.Type")
        .required(),
    Prop::new("target_group", Ty::Str, "forward: the target group's ARN.").aws("elbv2:Action.TargetGroupArn"),
    Prop::new("protocol", Ty::Enum(&["HTTP", "HTTPS", "#{protocol}"]), "redirect: protocol. Default: unchanged.")
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
    let lbs = crate::aws::all_items(client(cx).describe_load_balancers().into_paginator().items().send()).await?;
    let arns: Vec<String> = lbs.iter().filter_map(|l| l.load_balancer_arn().map(str::to_owned)).collect();
    let tags = elbv2::tags_of(cx, &arns).await?;
    Ok(arns
        .into_iter()
        .filter(|a| tags.get(a).and_then(|t| t.get(TAG_STACK)).is_some_and(|s| *s == cx.stack))
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

impl KindSpec for Listener {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
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
