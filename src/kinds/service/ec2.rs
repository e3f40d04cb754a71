//! What the EC2 kinds share: tag conversion, creates that the SDK must not retry blindly, and
//! what a refused delete is waiting for ([`blockers`]).

pub mod blockers;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

use crate::aws::{AwsError, Cx};
use crate::kinds::{Tags, tag_changes, without_aws_tags};

pub fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

/// Config override for create calls without an idempotency token (CreateVpc, CreateSubnet,
/// AllocateAddress, ...): a resend after a lost response would create a second resource, so
/// the SDK retries only throttling and the executor decides the rest, after looking the
/// resource up by its ownership tags.
pub fn no_resend() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_classifier(crate::aws::LookupBeforeResend)
}

pub fn tag_spec(resource_type: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder().resource_type(resource_type).set_tags(Some(to_sdk(tags))).build()
}

pub fn to_sdk(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Tags as rprov compares them: AWS's own `aws:` tags left out.
pub fn from_sdk(tags: &[Tag]) -> Tags {
    without_aws_tags(tags.iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))))
}

/// Brings a resource's tags from `old` to `new` with CreateTags/DeleteTags.
pub async fn retag(cx: &Cx, resource_id: &str, old: &Tags, new: &Tags) -> Result<(), AwsError> {
    let ec2 = client(cx);
    let (stale, changed) = tag_changes(old, new);
    if !stale.is_empty() {
        let stale = stale.iter().map(|k| Tag::builder().key(k).build()).collect();
        ec2.delete_tags().resources(resource_id).set_tags(Some(stale)).send().await.map_err(crate::aws::classify)?;
    }
    if !changed.is_empty() {
        ec2.create_tags()
            .resources(resource_id)
            .set_tags(Some(to_sdk(&changed)))
            .send()
            .await
            .map_err(crate::aws::classify)?;
    }
    Ok(())
}

pub(crate) use crate::kinds::gone_ok;

/// Upper bound for [`settle`]; Terraform's AWS provider allows the same two minutes
/// (`PropagationTimeout`) for EC2 ids to propagate.
const SETTLE_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs `op` again while it fails with NotFound, and only then. EC2 is eventually consistent:
/// an id another call just returned (a new VPC, subnet, EIP or gateway) can be unknown to the
/// next call for a few seconds
/// (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html). A request
/// refused as NotFound changed nothing, so sending it again is safe. Any other error — above all
/// a transient one, after which the request may have taken effect — goes straight back to the
/// executor, whose error policy knows whether the call may be repeated. After the budget the
/// last NotFound is returned, so a wrong id still reads as "not found".
pub async fn settle<T, F, Fut>(cx: &Cx, logical_id: &str, what: &str, mut op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let budget = cx.wait.timeout.min(SETTLE_BUDGET);
    let start = tokio::time::Instant::now();
    let mut interval = cx.wait.poll.min(std::time::Duration::from_secs(1));
    let mut reported = false;
    loop {
        match op().await {
            Err(AwsError::NotFound(m)) => {
                if start.elapsed() + interval > budget {
                    return Err(AwsError::NotFound(m));
                }
                if !reported {
                    cx.status(logical_id, &format!("waiting for {what} to become visible: {m}"));
                    reported = true;
                }
                tokio::time::sleep(interval).await;
                interval = (interval * 2).min(cx.wait.max_poll);
            }
            other => return other,
        }
    }
}
