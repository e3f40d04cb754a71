//! What the ECS kinds share: the client, tag conversion, retagging by ARN, and the name
//! helpers (ECS takes a cluster by name or ARN; rprov compares names).

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::Tag;

use crate::aws::{AwsError, Cx, classify};
use crate::kinds::{Tags, tag_changes, without_aws_tags};
use crate::value::{Props, Value};

pub fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

/// Config override for RegisterTaskDefinition, which has no idempotency token: a resend after a
/// lost response would register a second revision, so the SDK retries only throttling and the
/// executor decides the rest, after looking the revision up by its ownership tags.
pub fn no_resend() -> aws_sdk_ecs::config::Builder {
    aws_sdk_ecs::config::Builder::default().retry_classifier(crate::aws::LookupBeforeResend)
}

pub fn to_sdk(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Tags as rprov compares them: AWS's own `aws:` tags left out.
pub fn from_sdk(tags: &[Tag]) -> Tags {
    without_aws_tags(tags.iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))))
}

/// Brings a resource's tags from `old` to `new` with TagResource/UntagResource.
pub async fn retag(cx: &Cx, arn: &str, old: &Tags, new: &Tags) -> Result<(), AwsError> {
    let ecs = client(cx);
    let (stale, changed) = tag_changes(old, new);
    if !stale.is_empty() {
        ecs.untag_resource().resource_arn(arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
    }
    if !changed.is_empty() {
        ecs.tag_resource().resource_arn(arn).set_tags(Some(to_sdk(&changed))).send().await.map_err(classify)?;
    }
    Ok(())
}

/// `arn:aws:ecs:region:account:cluster/NAME` -> `NAME`; a plain name stays as it is.
pub fn cluster_name(arn_or_name: &str) -> &str {
    match arn_or_name.split_once(":cluster/") {
        Some((_, name)) => name,
        None => arn_or_name,
    }
}

/// The default name of a named resource: `<stack>-<id>`, with `_` (not allowed in ECS names)
/// turned into `-`.
pub fn default_name(stack: &str, id: &str) -> String {
    format!("{stack}-{}", id.replace('_', "-"))
}

/// Fills in `name` (or another name property) with the default when the stack leaves it out.
pub fn default_name_into(props: &mut Props, prop: &str, stack: &str, id: &str) {
    if props.get(prop).is_none_or(Value::is_null) {
        props.insert(prop.into(), Value::str(default_name(stack, id)));
    }
}

pub fn str_prop<'a>(props: &'a Props, name: &str) -> Option<&'a str> {
    props.get(name).and_then(Value::as_str)
}

pub fn int_prop(props: &Props, name: &str) -> Option<i64> {
    props.get(name).and_then(Value::as_i64)
}

pub fn bool_prop(props: &Props, name: &str) -> Option<bool> {
    props.get(name).and_then(Value::as_bool)
}

pub fn changed(changed: &[String], name: &str) -> bool {
    changed.iter().any(|c| c == name)
}

/// Every cluster ARN of the region (ListClusters, paginated); within a refresh, listed once for
/// the cluster and service kinds together.
pub async fn list_clusters(cx: &Cx) -> Result<std::sync::Arc<Vec<String>>, AwsError> {
    cx.once("ecs:ListClusters", || async {
        crate::aws::all_items(client(cx).list_clusters().into_paginator().items().send()).await
    })
    .await
}

/// ECS's names (clusters, services, task definition families, containers, volumes): "Up to 255
/// letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed." (AWS: the
/// CreateCluster, CreateService and RegisterTaskDefinition references; ECS answers e.g.
/// "Container.name contains invalid characters."). `what` names the value in the message.
pub fn name_problem(path: &str, what: &str, name: &str) -> Option<crate::spec::Problem> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let len = name.chars().count();
    if (1..=255).contains(&len) && name.chars().all(allowed) {
        return None;
    }
    let message = match name.chars().find(|c| !allowed(*c)) {
        _ if len == 0 => format!("{what} is empty; AWS allows 1 to 255 letters, digits, `_` and `-`"),
        Some(c) => format!("{what} `{name}` contains `{c}`; AWS allows only letters, digits, `_` and `-`"),
        None => format!("{what} `{name}` is {len} characters; AWS allows at most 255"),
    };
    let p = crate::spec::Problem::new(path, message);
    let fixed: String = name.chars().map(|c| if allowed(c) { c } else { '-' }).collect();
    let hint = len <= 255 && fixed.chars().any(|c| c != '-');
    Some(if hint { p.help(format!("did you mean `{fixed}`?")) } else { p })
}

/// The cluster a service (or its scaling) names in `cluster`: the stack's cluster it refers
/// to, or the name written out (an ARN counts by its name).
pub fn cluster_of(props: &crate::expr::ExprMap) -> Option<crate::spec::rules::Named<'_>> {
    use crate::spec::rules::{Named, named};
    named(props.get("cluster")).map(|n| match n {
        Named::Literal(c) => Named::Literal(cluster_name(c)),
        other => other,
    })
}
