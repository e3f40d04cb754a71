use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Address, DomainType, ResourceType};

use super::ec2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, KindSchema};
use crate::spec::{KindSpec, Refusals};
use crate::value::{Props, Value};

pub struct ElasticIp;

static SCHEMA: KindSchema = KindSchema {
    name: "elastic_ip",
    doc: "A static public IPv4 address (VPC domain), e.g. for a NAT gateway.",
    props: &[],
    attrs: &[Attr::new("id", "The allocation id (eipalloc-...)."), Attr::new("public_ip", "The public IPv4 address.")],
    taggable: true,
};

fn live(a: &Address) -> Live {
    let id = a.allocation_id().unwrap_or_default().to_owned();
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("public_ip".into(), Value::str(a.public_ip().unwrap_or_default()));
    // Tags come from DescribeAddresses itself: moto files EIP tags under another resource type
    // in DescribeTags, and one call per kind is the rule anyway.
    Live { physical_id: id, props: Props::new(), attrs, tags: ec2::from_sdk(a.tags()) }
}

async fn describe_one(cx: &Cx, id: &str) -> Result<Address, AwsError> {
    let out = client(cx).describe_addresses().allocation_ids(id).send().await.map_err(classify)?;
    out.addresses().first().cloned().ok_or_else(|| AwsError::NotFound(id.into()))
}

impl KindSpec for ElasticIp {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn holds(&self) -> &'static [&'static str] {
        &["internet_gateway"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "elastic-ip"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "ReleaseAddress"), ("ec2", "AllocateAddress")])
    }
}

#[async_trait]
impl Kind for ElasticIp {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        // DescribeAddresses is not paginated: one call returns every address of the region.
        let out = client(cx).describe_addresses().send().await.map_err(classify)?;
        Ok(out
            .addresses()
            .iter()
            .filter(|a| a.domain() != Some(&DomainType::Standard) && a.allocation_id().is_some())
            .map(live)
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let out = client(cx)
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(ec2::tag_spec(ResourceType::ElasticIp, req.tags))
            .customize()
            .config_override(ec2::no_resend())
            .send()
            .await
            .map_err(crate::aws::classify_unretried)?;
        let id =
            out.allocation_id().ok_or_else(|| AwsError::Failed("AllocateAddress returned no allocation id".into()))?;
        let mut attrs = Props::new();
        attrs.insert("id".into(), Value::str(id));
        attrs.insert("public_ip".into(), Value::str(out.public_ip().unwrap_or_default()));
        Ok(Live { physical_id: id.to_owned(), props: Props::new(), attrs, tags: req.tags.clone() })
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        Ok(live(&describe_one(cx, req.physical_id).await?))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        match client(cx).release_address().allocation_id(req.physical_id).send().await {
            Ok(_) => Ok(()),
            // AWS answers AuthFailure, not InvalidIPAddress.InUse, while a NAT gateway holds the
            // address, and for a short while after the gateway reached `deleted` (kops#938,
            // grafiti#89, sno-for-100#9). It also answers AuthFailure for an address released
            // before and since allocated to another account (ReleaseAddress docs). Whether the
            // address is still ours tells the two apart; AuthFailure is not InUse in general
            // (bad credentials), so it is classified here and not in `aws::error`.
            Err(e) if e.code() == Some("AuthFailure") => match describe_one(cx, req.physical_id).await {
                Err(AwsError::NotFound(_)) => Ok(()),
                Err(other) => Err(other),
                Ok(_) => Err(AwsError::InUse(format!(
                    "{}: still held by a NAT gateway or another AWS service ({})",
                    req.physical_id,
                    e.message().unwrap_or("AuthFailure")
                ))),
            },
            // InvalidIPAddress.InUse (associated with an instance or ENI) is InUse, retried by
            // the executor; InvalidAllocationID.NotFound means released already.
            Err(e) => ec2::gone_ok::<()>(Err(classify(e))),
        }
    }
}
