//! What the EFS kinds share: tag conversion, retagging, and how a life-cycle state reads for a
//! waiter (file systems, mount targets and access points all report `LifeCycleState`).

use aws_sdk_efs::Client;
use aws_sdk_efs::types::{LifeCycleState, Tag};

use crate::aws::{AwsError, Cx, Poll, classify};
use crate::kinds::{Tags, tag_changes, without_aws_tags};

pub fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

pub fn to_sdk(tags: &Tags) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

/// Tags as rprov compares them: AWS's own `aws:` tags left out.
pub fn from_sdk(tags: &[Tag]) -> Tags {
    without_aws_tags(tags.iter().map(|t| (t.key(), t.value())))
}

/// Brings an EFS resource's tags (file system or access point) from `old` to `new`.
pub async fn retag(cx: &Cx, resource_id: &str, old: &Tags, new: &Tags) -> Result<(), AwsError> {
    let efs = client(cx);
    let (stale, changed) = tag_changes(old, new);
    if !stale.is_empty() {
        efs.untag_resource().resource_id(resource_id).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
    }
    if !changed.is_empty() {
        efs.tag_resource().resource_id(resource_id).set_tags(Some(to_sdk(&changed))).send().await.map_err(classify)?;
    }
    Ok(())
}

/// One observation of a resource being created or updated: `None` is "not listed yet" (EFS
/// is eventually consistent right after a create).
pub fn creation(state: Option<&LifeCycleState>) -> Poll<()> {
    match state {
        Some(LifeCycleState::Available) => Poll::Ready(()),
        Some(LifeCycleState::Error) => Poll::Failed("ended in state error".into()),
        Some(LifeCycleState::Deleting | LifeCycleState::Deleted) => Poll::Failed("deleted while being created".into()),
        Some(s) => Poll::Pending(s.as_str().to_owned()),
        None => Poll::Pending("not visible yet".into()),
    }
}

/// One observation of a resource being deleted: not listed any more, or `deleted`, is gone.
pub fn deletion(state: Option<&LifeCycleState>) -> Poll<()> {
    match state {
        None | Some(LifeCycleState::Deleted) => Poll::Ready(()),
        Some(s) => Poll::Pending(s.as_str().to_owned()),
    }
}

/// Whether a described resource still exists for rprov (a `deleted` one is listed for a while).
pub fn exists(state: &LifeCycleState) -> bool {
    !matches!(state, LifeCycleState::Deleted)
}

/// Every file system of the region (DescribeFileSystems, paginated); within a refresh, read once
/// for the file system and mount target kinds together.
pub async fn file_systems(cx: &Cx) -> Result<std::sync::Arc<Vec<aws_sdk_efs::types::FileSystemDescription>>, AwsError> {
    cx.once("efs:DescribeFileSystems", || async {
        crate::aws::all_items(client(cx).describe_file_systems().into_paginator().items().send()).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn life_cycle_states_read_for_waiters() {
        assert_eq!(creation(Some(&LifeCycleState::Available)), Poll::Ready(()));
        assert_eq!(creation(Some(&LifeCycleState::Creating)), Poll::Pending("creating".into()));
        assert_eq!(creation(Some(&LifeCycleState::Updating)), Poll::Pending("updating".into()));
        assert_eq!(creation(None), Poll::Pending("not visible yet".into()));
        assert!(matches!(creation(Some(&LifeCycleState::Error)), Poll::Failed(_)));
        assert!(matches!(creation(Some(&LifeCycleState::Deleting)), Poll::Failed(_)));
        assert_eq!(deletion(None), Poll::Ready(()));
        assert_eq!(deletion(Some(&LifeCycleState::Deleted)), Poll::Ready(()));
        assert_eq!(deletion(Some(&LifeCycleState::Deleting)), Poll::Pending("deleting".into()));
        assert_eq!(deletion(Some(&LifeCycleState::Available)), Poll::Pending("available".into()));
    }
}
