//! What the RDS kinds share (subnet groups, Aurora clusters and their instances): the client,
//! tag conversion and retagging by ARN, AWS's identifier rules, the default identifiers, and
//! how a cluster's or instance's status reads for a waiter.

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;

use crate::aws::{AwsError, Cx, Poll, classify, wait_until};
use crate::kinds::{Tags, tag_changes, without_aws_tags};

pub fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

pub fn to_sdk(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Tags as rprov compares them: AWS's own `aws:` tags left out.
pub fn from_sdk(tags: &[Tag]) -> Tags {
    without_aws_tags(tags.iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))))
}

/// The tags of one RDS resource (ListTagsForResource takes one ARN per call).
pub async fn tags_of(cx: &Cx, arn: &str) -> Result<Tags, AwsError> {
    let out = client(cx).list_tags_for_resource().resource_name(arn).send().await.map_err(classify)?;
    Ok(from_sdk(out.tag_list()))
}

/// Brings an RDS resource's tags from `old` to `new` (AddTagsToResource / RemoveTagsFromResource).
pub async fn retag(cx: &Cx, arn: &str, old: &Tags, new: &Tags) -> Result<(), AwsError> {
    let rds = client(cx);
    let (stale, changed) = tag_changes(old, new);
    if !stale.is_empty() {
        rds.remove_tags_from_resource().resource_name(arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
    }
    if !changed.is_empty() {
        rds.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(to_sdk(&changed)))
            .send()
            .await
            .map_err(classify)?;
    }
    Ok(())
}

/// The identifier rprov gives a cluster or instance (and the name it gives a subnet group)
/// when the stack leaves it out: `<stack>-<id>` as AWS keeps it, lower-case (RDS stores
/// identifiers lower-cased), with what an identifier cannot hold (`_`) made a hyphen and no
/// two hyphens in a row.
pub fn default_identifier(stack: &str, id: &str) -> String {
    let mut out = String::new();
    for c in format!("{stack}-{id}").chars() {
        let c = if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// AWS's rule for DB cluster and instance identifiers (CreateDBCluster, CreateDBInstance):
/// "1 to 63 letters, numbers, or hyphens. First character must be a letter. Can't end with a
/// hyphen or contain two consecutive hyphens." What is wrong with `ident`, if anything.
pub fn identifier_problem(ident: &str) -> Option<String> {
    identifier_problem_max(ident, 63)
}

/// [`identifier_problem`] for names of up to `max` characters (a snapshot's: 255).
pub fn identifier_problem_max(ident: &str, max: usize) -> Option<String> {
    let n = ident.chars().count();
    if n == 0 || n > max {
        return Some(format!("`{ident}` is {n} characters: AWS takes 1 to {max}"));
    }
    if !ident.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some(format!("`{ident}` does not begin with a letter, as AWS requires"));
    }
    if let Some(c) = ident.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Some(format!("`{ident}` holds `{c}`: AWS takes letters, digits and hyphens"));
    }
    if ident.contains("--") || ident.ends_with('-') {
        return Some(format!("`{ident}` has two hyphens in a row or ends with one, which AWS refuses"));
    }
    None
}

/// Waits until `describe` shows the DB cluster or instance `what` usable ([`readiness`] of the
/// `status` it reports), reporting each state seen as `logical_id`'s progress; its last answer.
pub async fn wait_ready<T, Fut>(
    cx: &Cx,
    logical_id: &str,
    what: &str,
    describe: impl Fn() -> Fut,
    status: impl Fn(&T) -> Option<&str>,
) -> Result<T, AwsError>
where
    Fut: std::future::Future<Output = Result<Option<T>, AwsError>>,
{
    wait_until(
        &cx.wait,
        what,
        |m| cx.status(logical_id, m),
        || async {
            let found = describe().await?;
            Ok(match readiness(found.as_ref().and_then(&status)) {
                Poll::Ready(()) => Poll::Ready(found.expect("ready means described")),
                Poll::Pending(s) => Poll::Pending(s),
                Poll::Failed(s) => Poll::Failed(s),
            })
        },
    )
    .await
}

/// A DB cluster's or instance's `Status` while rprov waits for it to be usable.
/// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/accessing-monitoring.html
pub fn readiness(status: Option<&str>) -> Poll<()> {
    match status {
        Some("available") => Poll::Ready(()),
        // States it will not leave by itself: AWS or the account's operator must act.
        Some(
            s @ ("failed"
            | "inaccessible-encryption-credentials"
            | "inaccessible-encryption-credentials-recoverable"
            | "incompatible-parameters"
            | "incompatible-restore"
            | "incompatible-network"
            | "incompatible-option-group"
            | "storage-full"
            | "restore-error"
            | "stopped"
            | "stopping"
            | "deleting"),
        ) => Poll::Failed(format!("ended in state `{s}`")),
        Some(s) => Poll::Pending(s.to_owned()),
        None => Poll::Pending("not visible yet".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_identifiers_follow_aws_rules() {
        assert_eq!(default_identifier("Data", "main_db"), "data-main-db");
        assert_eq!(default_identifier("s", "a__b_"), "s-a-b");
        assert_eq!(identifier_problem("data-main-db"), None);
        assert!(identifier_problem("1db").is_some());
        assert!(identifier_problem("a--b").is_some());
        assert!(identifier_problem("ab-").is_some());
        assert!(identifier_problem("a_b").is_some());
        assert!(identifier_problem(&"a".repeat(64)).is_some());
    }

    #[test]
    fn statuses_read_for_waiters() {
        assert_eq!(readiness(Some("available")), Poll::Ready(()));
        assert_eq!(readiness(Some("creating")), Poll::Pending("creating".into()));
        assert_eq!(readiness(Some("backing-up")), Poll::Pending("backing-up".into()));
        assert!(matches!(readiness(Some("failed")), Poll::Failed(_)));
        assert!(matches!(readiness(Some("inaccessible-encryption-credentials")), Poll::Failed(_)));
    }
}
