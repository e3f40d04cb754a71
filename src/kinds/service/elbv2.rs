//! What the ELBv2 kinds (load balancer, target group, listener) share: tags, which come from a
//! second, batched call (DescribeTags takes at most 20 ARNs), and generated names.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancer, Tag};

use crate::aws::{AwsError, Cx, classify};
use crate::expr::{Expr, ExprMap};
use crate::kinds::{Tags, tag_changes, without_aws_tags};
use crate::spec::{Problem, Subject};
use crate::value::Value;

pub fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

pub fn to_sdk(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// DescribeTags accepts up to 20 resource ARNs per call.
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTags.html
const TAGS_PER_CALL: usize = 20;

/// Tags of every ARN: within a refresh from the Tagging API's index where it agrees with the
/// state, otherwise one DescribeTags per 20 ARNs.
pub async fn tags_of(cx: &Cx, arns: &[String]) -> Result<HashMap<String, Tags>, AwsError> {
    let wanted: Vec<(String, String)> = arns.iter().map(|a| (a.clone(), a.clone())).collect();
    crate::aws::tagging::tags_by_id(cx, &wanted, |rest| describe_tags(cx, rest)).await
}

/// DescribeTags, 20 ARNs per call; AWS's own `aws:` tags left out.
async fn describe_tags(cx: &Cx, arns: Vec<String>) -> Result<HashMap<String, Tags>, AwsError> {
    let elb = client(cx);
    let mut out = HashMap::new();
    for chunk in arns.chunks(TAGS_PER_CALL) {
        let resp = elb.describe_tags().set_resource_arns(Some(chunk.to_vec())).send().await.map_err(classify)?;
        for d in resp.tag_descriptions() {
            let Some(arn) = d.resource_arn() else { continue };
            let tags = d.tags().iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())));
            out.insert(arn.to_owned(), without_aws_tags(tags));
        }
    }
    Ok(out)
}

/// Every load balancer of the region with its tags (DescribeLoadBalancers, paginated, then
/// [`tags_of`]); within a refresh or a discovery, read once for the load balancer and listener
/// kinds together.
pub async fn load_balancers(cx: &Cx) -> Result<Arc<(Vec<LoadBalancer>, HashMap<String, Tags>)>, AwsError> {
    cx.once("elbv2:DescribeLoadBalancers", || async {
        let lbs = crate::aws::all_items(client(cx).describe_load_balancers().into_paginator().items().send()).await?;
        let arns: Vec<String> = lbs.iter().filter_map(|l| l.load_balancer_arn().map(str::to_owned)).collect();
        let tags = tags_of(cx, &arns).await?;
        Ok((lbs, tags))
    })
    .await
}

/// Brings a resource's tags from `old` to `new` with AddTags/RemoveTags.
pub async fn retag(cx: &Cx, arn: &str, old: &Tags, new: &Tags) -> Result<(), AwsError> {
    let elb = client(cx);
    let (stale, changed) = tag_changes(old, new);
    if !stale.is_empty() {
        elb.remove_tags().resource_arns(arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
    }
    if !changed.is_empty() {
        elb.add_tags().resource_arns(arn).set_tags(Some(to_sdk(&changed))).send().await.map_err(classify)?;
    }
    Ok(())
}

/// Load balancer and target group names: at most 32 characters, letters, digits and hyphens,
/// not starting or ending with a hyphen.
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
pub fn default_name(stack: &str, id: &str) -> String {
    let raw: String =
        format!("{stack}-{id}").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(32).collect();
    raw.trim_matches('-').to_owned()
}

/// The name a load balancer or target group is created with: its `name` (`given`), else
/// [`default_name`]; none while the name is known only at apply.
pub fn name_of(stack: &str, id: &str, props: &ExprMap) -> Option<(String, bool)> {
    match props.get("name") {
        None | Some(Expr::Lit(Value::Null)) => Some((default_name(stack, id), false)),
        Some(Expr::Lit(Value::Str(n))) => Some((n.clone(), true)),
        Some(_) => None,
    }
}

/// What AWS refuses in the name of a load balancer (`kind` load_balancer) or target group:
/// "a maximum of 32 characters, must contain only alphanumeric characters or hyphens, must not
/// begin or end with a hyphen", for a load balancer "must not begin with internal-"
/// (CreateLoadBalancer, CreateTargetGroup); and a name two of the stack's share: names are
/// unique per account and region, and a second create with the same name and settings answers
/// with the first one (both resources would be one).
pub fn name_problems(s: &Subject, kind: &str, what: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some((name, given)) = name_of(s.stack.name(), s.id, s.props) else { return out };
    let (path, fix) = if given {
        ("name", "choose another `name`".to_owned())
    } else {
        ("", format!("give the {what} a `name` (the default is `<stack>-<id>`, cut to 32 characters, `_` as `-`)"))
    };
    if given {
        let len = name.chars().count();
        let bad: String = name.chars().filter(|c| !(c.is_ascii_alphanumeric() || *c == '-')).collect();
        if len > 32 {
            out.push(
                Problem::new(path, format!("{what} name `{name}` is {len} characters; AWS allows at most 32"))
                    .help(format!("shorten it by {}", len - 32)),
            );
        }
        if !bad.is_empty() {
            out.push(
                Problem::new(path, format!("{what} name `{name}` has characters AWS refuses: `{bad}`"))
                    .help("AWS allows letters, digits and hyphens"),
            );
        }
        if name.is_empty() {
            out.push(
                Problem::new(path, format!("the {what} name is empty")).help("leave `name` out for `<stack>-<id>`"),
            );
        } else if name.starts_with('-') || name.ends_with('-') {
            out.push(Problem::new(
                path,
                format!("{what} name `{name}` begins or ends with a hyphen, which AWS refuses"),
            ));
        }
    }
    if kind == "load_balancer" && name.starts_with("internal-") {
        out.push(
            Problem::new(path, format!("load balancer name `{name}` begins with `internal-`, which AWS keeps for the DNS names of internal load balancers"))
                .help(fix.clone()),
        );
    }
    let twin = s
        .stack
        .of_kind(kind)
        .take_while(|(id, _)| *id != s.id)
        .find(|(id, props)| name_of(s.stack.name(), id, props).is_some_and(|(n, _)| n == name));
    if let Some((other, _)) = twin {
        out.push(
            Problem::new(
                path,
                format!("{what} name `{name}` is also `{other}`'s: AWS names a {what} once per account and region"),
            )
            .help(fix),
        );
    }
    out
}

/// The resource part of an ELBv2 ARN, as CloudWatch dimensions name it: `app/name/hash` for a
/// load balancer (`LoadBalancer` dimension), `targetgroup/name/hash` for a target group.
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
pub fn arn_suffix(arn: &str) -> String {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    resource.strip_prefix("loadbalancer/").unwrap_or(resource).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_elb_rules() {
        assert_eq!(default_name("shop", "alb"), "shop-alb");
        assert_eq!(default_name("shop", "web_tg"), "shop-web-tg");
        assert_eq!(default_name("a-very-long-stack-name", "and_a_long_logical_id"), "a-very-long-stack-name-and-a-lon");
        assert_eq!(default_name("s", "abcdefghijklmnopqrstuvwxyz0123_x"), "s-abcdefghijklmnopqrstuvwxyz0123");
    }

    #[test]
    fn suffixes_for_cloudwatch() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-alb/50dc6c495c0c9188";
        assert_eq!(arn_suffix(lb), "app/shop-alb/50dc6c495c0c9188");
        let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-tg/73e2d6bc24d8a067";
        assert_eq!(arn_suffix(tg), "targetgroup/shop-tg/73e2d6bc24d8a067");
    }
}
