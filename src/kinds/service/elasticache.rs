//! What the ElastiCache kinds share: the client, tag conversion and the per-resource tag calls
//! (ElastiCache's describes report no tags, and it has no batch tag read), the naming rule of
//! its identifiers, and how its refusals read.

use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::Tag;

use crate::aws::{AwsError, Cx, classify};
use crate::kinds::{Tags, tag_changes, without_aws_tags};

pub fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

/// Config override for the creates without an idempotency token (CreateCacheSubnetGroup,
/// CreateReplicationGroup): the SDK retries only throttling; after a lost answer the create
/// meets "already exists" and takes what it finds only if it carries the resource's ownership
/// tags.
pub fn no_resend() -> aws_sdk_elasticache::config::Builder {
    aws_sdk_elasticache::config::Builder::default().retry_classifier(crate::aws::LookupBeforeResend)
}

pub fn to_sdk(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Tags as rprov compares them: AWS's own `aws:` tags left out.
pub fn from_sdk(tags: &[Tag]) -> Tags {
    without_aws_tags(tags.iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))))
}

/// ListTagsForResource: one resource per call (ElastiCache has no batch tag read).
pub async fn tags_of(cx: &Cx, arn: &str) -> Result<Tags, AwsError> {
    let out = client(cx).list_tags_for_resource().resource_name(arn).send().await.map_err(classify)?;
    Ok(from_sdk(out.tag_list()))
}

/// Brings a resource's tags from `old` to `new` (RemoveTagsFromResource, AddTagsToResource).
pub async fn retag(cx: &Cx, arn: &str, old: &Tags, new: &Tags) -> Result<(), AwsError> {
    let ec = client(cx);
    let (stale, changed) = tag_changes(old, new);
    if !stale.is_empty() {
        ec.remove_tags_from_resource().resource_name(arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
    }
    if !changed.is_empty() {
        ec.add_tags_to_resource().resource_name(arn).set_tags(Some(to_sdk(&changed))).send().await.map_err(classify)?;
    }
    Ok(())
}

/// `<stack>-<id>` as ElastiCache keeps identifiers: lower case, `_` as `-`.
pub fn default_name(stack: &str, id: &str) -> String {
    format!("{stack}-{id}").replace('_', "-").to_ascii_lowercase()
}

/// ElastiCache's rule for subnet group names and replication group ids (CreateCacheSubnetGroup,
/// CreateReplicationGroup): 1 to `max` letters, digits or hyphens, the first a letter, no two
/// hyphens in a row, none at the end. AWS stores them in lower case. What breaks it, if anything.
pub fn name_problem(name: &str, max: usize) -> Option<String> {
    let len = name.chars().count();
    if len == 0 || len > max {
        Some(format!("is {len} characters; AWS allows 1 to {max}"))
    } else if let Some(c) = name.chars().find(|c| !c.is_ascii_alphanumeric() && *c != '-') {
        Some(format!("contains `{c}`; AWS allows only letters, digits and hyphens"))
    } else if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must start with a letter".into())
    } else if name.contains("--") {
        Some("must not contain two hyphens in a row".into())
    } else if name.ends_with('-') {
        Some("must not end with a hyphen".into())
    } else {
        None
    }
}

/// An ElastiCache refusal by its code: `code` in an [`AwsError::Invalid`] (how `classify`
/// reads codes it does not know) becomes what `into` makes of the message.
pub fn refusal(e: AwsError, code: &str, into: impl FnOnce(String) -> AwsError) -> AwsError {
    match e {
        AwsError::Invalid(m) if m.starts_with(code) => into(m),
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_rules() {
        assert_eq!(name_problem("shop-cache", 40), None);
        assert_eq!(name_problem("a", 40), None);
        assert!(name_problem("", 40).unwrap().contains("1 to 40"));
        assert!(name_problem(&"a".repeat(41), 40).unwrap().contains("41 characters"));
        assert!(name_problem("1cache", 40).unwrap().contains("letter"));
        assert!(name_problem("a--b", 40).unwrap().contains("two hyphens"));
        assert!(name_problem("ab-", 40).unwrap().contains("end with a hyphen"));
        assert!(name_problem("a_b", 40).unwrap().contains("`_`"));
        assert_eq!(default_name("Shop", "Web_Cache"), "shop-web-cache");
    }
}
