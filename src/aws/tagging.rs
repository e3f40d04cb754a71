//! Tags through the Resource Groups Tagging API: ONE paginated `GetResources` per refresh,
//! filtered by the stack's ownership tag, answers "which resources carry `rprov:stack=<stack>`,
//! with which tags" for every service whose own describe reports no tags (ELBv2, ACM, CloudWatch
//! Logs, SSM, CloudWatch alarms). Without it, those kinds need one tag call per resource.
//!
//! The index is trusted only where it agrees with the tags the state recorded: the Tagging API
//! is eventually consistent (a tag changed seconds ago may not show yet), so a resource whose
//! indexed tags differ from the record, or that is missing from the index (its ownership tag
//! removed by hand), is read with the service's own tag call — one call per drifted resource,
//! none for the resources in sync. Where the API is not allowed (no `tag:GetResources`
//! permission) every resource is read directly, as without an index.

use std::collections::HashMap;
use std::future::Future;

use super::{AwsError, Cx, classify};

pub type Tags = crate::sorted_map::SortedMap<String, String>;

/// ARN -> tags of everything carrying `rprov:stack=<cx.stack>`, from one paginated call.
pub async fn stack_index(cx: &Cx) -> Result<HashMap<String, Tags>, AwsError> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let client = cx.client(aws_sdk_resourcegroupstagging::Client::new);
    let filter = TagFilter::builder().key(crate::model::TAG_STACK).values(&cx.stack).build();
    // The most resources a page may hold (100): fewer pages than the default, which on the
    // local AWS pages by 100 tags (a stack of 33 resources with 5 tags each takes 2 pages).
    let mut pages = client.get_resources().tag_filters(filter).resources_per_page(100).into_paginator().send();
    let mut index = HashMap::new();
    while let Some(page) = pages.next().await {
        for r in page.map_err(classify)?.resource_tag_mapping_list() {
            let Some(arn) = r.resource_arn() else { continue };
            let tags = crate::model::without_aws_tags(r.tags().iter().map(|t| (t.key(), t.value())));
            index.insert(arn.to_owned(), tags);
        }
    }
    Ok(index)
}

/// The refresh's index, read once; `None` outside a refresh or where the API refuses.
async fn index(cx: &Cx) -> Option<std::sync::Arc<HashMap<String, Tags>>> {
    if !cx.scope()?.tag_index() {
        return None;
    }
    match cx.once("tagging:stack", || stack_index(cx)).await {
        Ok(i) => Some(i),
        Err(e) => {
            tracing::debug!("the Tagging API is not available ({e}); reading tags per resource");
            None
        }
    }
}

/// Whether this refresh has the Tagging API's index (so unrecorded resources outside it need
/// no tag read of their own).
pub async fn has_index(cx: &Cx) -> bool {
    index(cx).await.is_some()
}

/// Tags of the resources named by `(physical id, ARN)`, keyed by physical id: from the index
/// where it agrees with the state, otherwise from `direct` (the service's own tag read, given
/// the ARNs left over). Within a refresh, a resource neither in the state nor in the index is
/// not the stack's and is left out unread. A resource that `direct` finds gone is absent too.
pub async fn tags_by_id<F, Fut>(
    cx: &Cx,
    wanted: &[(String, String)],
    direct: F,
) -> Result<HashMap<String, Tags>, AwsError>
where
    F: FnOnce(Vec<String>) -> Fut,
    Fut: Future<Output = Result<HashMap<String, Tags>, AwsError>>,
{
    let index = index(cx).await;
    let mut out = HashMap::new();
    let mut rest = Vec::new();
    for (pid, arn) in wanted {
        let recorded = cx.scope().and_then(|s| s.recorded_tags(pid));
        match (index.as_ref().map(|i| i.get(arn)), recorded) {
            // Not in the state and without the stack's tag: someone else's, not read.
            (Some(None), None) => {}
            (Some(Some(tags)), None) => {
                out.insert(pid.clone(), tags.clone());
            }
            (Some(Some(tags)), Some(r)) if r == tags => {
                out.insert(pid.clone(), tags.clone());
            }
            // No index; or recorded and the index disagrees or lacks it: drift, or an index
            // not yet consistent. The service's own answer decides.
            _ => rest.push((pid, arn)),
        }
    }
    if !rest.is_empty() {
        let mut read = direct(rest.iter().map(|(_, arn)| (*arn).clone()).collect()).await?;
        for (pid, arn) in rest {
            if let Some(tags) = read.remove(arn) {
                out.insert(pid.clone(), tags);
            }
        }
    }
    Ok(out)
}

/// `direct` for services whose tag read takes one resource per call: the reads run together;
/// a resource found gone is left out.
pub async fn each<F, Fut>(arns: Vec<String>, read: F) -> Result<HashMap<String, Tags>, AwsError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Tags, AwsError>>,
{
    let reads = arns.into_iter().map(|arn| {
        let r = read(arn.clone());
        async move { (arn, r.await) }
    });
    let mut out = HashMap::new();
    for (arn, r) in futures_util::future::join_all(reads).await {
        match r {
            Ok(tags) => {
                out.insert(arn, tags);
            }
            Err(AwsError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
