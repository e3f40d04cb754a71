use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{AttachmentStatus, InternetGateway as SdkGateway, ResourceType};

use super::ec2::blockers::Scope;
use super::ec2::settle;
use super::ec2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, KindSchema, Prop, Ty};
use crate::spec::network::{earlier_in_vpc, named_vpc};
use crate::spec::rules::wrong_kind;
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct InternetGateway;

static SCHEMA: KindSchema = KindSchema {
    name: "internet_gateway",
    doc: "An internet gateway attached to a VPC: the route to and from the internet for public subnets.",
    props: &[Prop::new(
        "vpc",
        Ty::Str,
        "The VPC id (vpc-...) to attach to. Changing it detaches the gateway and attaches it to the new VPC.",
    )
    .aws("ec2:AttachInternetGatewayRequest.VpcId")
    .required()],
    attrs: &[Attr::new("id", "The gateway id (igw-...).")],
    taggable: true,
};

/// The VPCs the gateway is attached to (at most one). AWS reports a live attachment as
/// `available`, a state missing from the SDK's `AttachmentStatus` enum, so anything that is not
/// on its way out counts.
fn attached(g: &SdkGateway) -> impl Iterator<Item = &str> {
    g.attachments()
        .iter()
        .filter(|a| !matches!(a.state(), Some(AttachmentStatus::Detached | AttachmentStatus::Detaching)))
        .filter_map(|a| a.vpc_id())
}

fn live(g: &SdkGateway) -> Live {
    let id = g.internet_gateway_id().unwrap_or_default().to_owned();
    let mut props = Props::new();
    // A detached gateway reports `vpc: null` rather than leaving the property out: absent would
    // mean "AWS cannot tell" and hide that the attachment is gone.
    props.insert("vpc".into(), attached(g).next().map(Value::str).unwrap_or(Value::Null));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    Live { physical_id: id, props, attrs, tags: ec2::from_sdk(g.tags()) }
}

async fn describe_one(cx: &Cx, id: &str) -> Result<SdkGateway, AwsError> {
    let out = client(cx).describe_internet_gateways().internet_gateway_ids(id).send().await.map_err(classify)?;
    out.internet_gateways().first().cloned().ok_or_else(|| AwsError::NotFound(id.into()))
}

async fn attach(cx: &Cx, logical_id: &str, igw: &str, vpc: &str) -> Result<(), AwsError> {
    let op = client(cx).attach_internet_gateway().internet_gateway_id(igw).vpc_id(vpc);
    settle(cx, logical_id, &format!("attachment of {igw} to {vpc}"), || {
        let op = op.clone();
        async move {
            match op.send().await {
                Ok(_) => Ok(()),
                // What the SDK's retry of an attach whose response was lost gets back, and also
                // what a VPC that already has another gateway answers: only the first is done.
                Err(e) if e.code() == Some("Resource.AlreadyAssociated") => {
                    if attached(&describe_one(cx, igw).await?).any(|v| v == vpc) { Ok(()) } else { Err(classify(e)) }
                }
                Err(e) => Err(classify(e)),
            }
        }
    })
    .await
}

async fn detach(cx: &Cx, igw: &str, vpc: &str) -> Result<(), AwsError> {
    match client(cx).detach_internet_gateway().internet_gateway_id(igw).vpc_id(vpc).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("Gateway.NotAttached") => Ok(()),
        // DependencyViolation while the VPC still has public addresses mapped: InUse, retried
        // by the executor, while AWS releases them (a deleted NAT gateway's EIP, a load
        // balancer's ENIs); Blocked when they belong to something nobody is deleting.
        Err(e) => {
            let scope = Scope::Gateway { gateway: igw, vpc };
            ec2::gone_ok::<()>(ec2::blockers::refused(cx, scope, Err(classify(e))).await)
        }
    }
}

impl KindSpec for InternetGateway {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (AttachInternetGateway): a VPC has at most one internet gateway attached
    /// (Resource.AlreadyAssociated).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let Some(e) = s.get("vpc") else { return vec![] };
        let mut out: Vec<Problem> = wrong_kind(s, "vpc", e, &["vpc"]).into_iter().collect();
        let Some(vpc) = named_vpc(s.stack, e) else { return out };
        if let Some((other, _)) = earlier_in_vpc(s.stack, "internet_gateway", s.id, vpc).first() {
            out.push(
                Problem::new(
                    "vpc",
                    format!("{vpc} already has internet gateway `{other}`: AWS attaches one internet gateway to a VPC"),
                )
                .help(format!("route through `{other}` instead of a second gateway")),
            );
        }
        out
    }

    fn holds(&self) -> &'static [&'static str] {
        &["vpc"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "internet-gateway"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "DetachInternetGateway"), ("ec2", "DeleteInternetGateway")])
    }
}

#[async_trait]
impl Kind for InternetGateway {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let gateways =
            crate::aws::all_items(client(cx).describe_internet_gateways().into_paginator().items().send()).await?;
        Ok(gateways.iter().map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let out = client(cx)
            .create_internet_gateway()
            .tag_specifications(ec2::tag_spec(ResourceType::InternetGateway, req.tags))
            .customize()
            .config_override(ec2::no_resend())
            .send()
            .await
            .map_err(crate::aws::classify_unretried)?;
        let gateway = out
            .internet_gateway()
            .ok_or_else(|| AwsError::Failed("CreateInternetGateway returned no gateway".into()))?;
        let id = gateway.internet_gateway_id().unwrap_or_default();
        let mut l = live(gateway);
        if let Some(vpc) = req.props.get("vpc").and_then(Value::as_str) {
            attach(cx, req.id, id, vpc).await?;
            l.props.insert("vpc".into(), Value::str(vpc));
        }
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if req.changed.iter().any(|c| c == "vpc") {
            let want = req.new.get("vpc").and_then(Value::as_str);
            // The attachment AWS has, not the recorded one: a gateway detached or moved by hand
            // is brought back all the same.
            let gateway = describe_one(cx, req.physical_id).await?;
            let current: Vec<String> = attached(&gateway).map(str::to_owned).collect();
            for vpc in current.iter().filter(|v| Some(v.as_str()) != want) {
                detach(cx, req.physical_id, vpc).await?;
            }
            if let Some(vpc) = want.filter(|w| !current.iter().any(|v| v == w)) {
                attach(cx, req.id, req.physical_id, vpc).await?;
            }
        }
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        Ok(live(&describe_one(cx, req.physical_id).await?))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // AWS refuses to delete an attached gateway (DependencyViolation); detach from whatever
        // VPC it is really attached to, which may differ from the recorded one.
        let gateway = match describe_one(cx, req.physical_id).await {
            Err(AwsError::NotFound(_)) => return Ok(()),
            other => other?,
        };
        for vpc in attached(&gateway) {
            detach(cx, req.physical_id, vpc).await?;
        }
        // Refused (DependencyViolation) only while attached, which it is again only if someone
        // attached it since the detach above: InUse, and the retry detaches again.
        ec2::gone_ok(
            client(cx)
                .delete_internet_gateway()
                .internet_gateway_id(req.physical_id)
                .send()
                .await
                .map(|_| ())
                .map_err(classify),
        )
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    #[test]
    fn one_gateway_per_vpc() {
        let vpcs = "  a: { type: vpc, cidr: 10.0.0.0/16 }\n  b: { type: vpc, cidr: 10.1.0.0/16 }\n";
        valid(&format!(
            "{vpcs}  ga: {{ type: internet_gateway, vpc: '${{a.id}}' }}\n  gb: {{ type: internet_gateway, vpc: '${{b.id}}' }}"
        ));
        let p = problems(&format!(
            "{vpcs}  ga: {{ type: internet_gateway, vpc: '${{a.id}}' }}\n  again: {{ type: internet_gateway, vpc: '${{a.id}}' }}"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("4:41: VPC `a` already has internet gateway `ga`"), "{p:?}");
    }
}
