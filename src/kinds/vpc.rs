use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};

use super::ec2::blockers::Scope;
use super::ec2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::network::cidr;
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct Vpc;

static SCHEMA: KindSchema = KindSchema {
    name: "vpc",
    doc: "A virtual private cloud: an isolated IPv4 network.",
    props: &[
        Prop::new("cidr", Ty::Cidr, "The VPC's IPv4 address range, /16 to /28.")
            .aws("ec2:CreateVpcRequest.CidrBlock")
            .required()
            .replaces(),
        Prop::new("enable_dns_support", Ty::Bool, "Resolve DNS names through the Amazon-provided resolver.")
            .default(Default::Bool(true)),
        Prop::new(
            "enable_dns_hostnames",
            Ty::Bool,
            "Give instances and ENIs DNS host names (EFS mount by name needs it).",
        )
        .default(Default::Bool(true)),
    ],
    attrs: &[
        Attr::new("id", "The VPC id (vpc-...)."),
        Attr::new("cidr", "The VPC's CIDR block."),
        Attr::new("default_security_group_id", "The group AWS creates with the VPC."),
    ],
    taggable: true,
};

fn live(v: &aws_sdk_ec2::types::Vpc, dns: Option<(bool, bool)>) -> Live {
    let id = v.vpc_id().unwrap_or_default().to_owned();
    let cidr = v.cidr_block().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("cidr".into(), Value::str(&cidr));
    // DescribeVpcs does not report the DNS attributes and DescribeVpcAttribute takes one VPC and
    // one attribute per call; outside of create/update they are compared with what was recorded.
    if let Some((support, hostnames)) = dns {
        props.insert("enable_dns_support".into(), support.into());
        props.insert("enable_dns_hostnames".into(), hostnames.into());
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("cidr".into(), Value::str(cidr));
    Live { physical_id: id, props, attrs, tags: ec2::from_sdk(v.tags()) }
}

async fn set_dns(cx: &Cx, id: &str, props: &Props, changed: Option<&[String]>) -> Result<(), AwsError> {
    let ec2 = client(cx);
    // ModifyVpcAttribute takes one attribute per call.
    for (name, hostnames) in [("enable_dns_support", false), ("enable_dns_hostnames", true)] {
        if changed.is_some_and(|c| !c.iter().any(|n| n == name)) {
            continue;
        }
        let Some(on) = props.get(name).and_then(Value::as_bool) else { continue };
        let value = AttributeBooleanValue::builder().value(on).build();
        let req = ec2.modify_vpc_attribute().vpc_id(id);
        let req = if hostnames { req.enable_dns_hostnames(value) } else { req.enable_dns_support(value) };
        req.send().await.map_err(classify)?;
    }
    Ok(())
}

impl KindSpec for Vpc {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS: CreateVpc takes a netmask between /16 and /28; ModifyVpcAttribute enables DNS
    /// host names only with DNS support ("You can only enable DNS hostnames if you've enabled
    /// DNS support").
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(net) = cidr(s.get("cidr"))
            && !(16..=28).contains(&net.prefix_len())
        {
            out.push(
                Problem::new("cidr", format!("VPC CIDR block {net} must be between /16 and /28"))
                    .help("AWS: a VPC's range has from 65,536 (/16) to 16 (/28) addresses"),
            );
        }
        if s.bool("enable_dns_support") == Some(false) && s.bool("enable_dns_hostnames") != Some(false) {
            out.push(
                Problem::new(
                    "enable_dns_support",
                    "DNS host names (`enable_dns_hostnames`, true by default) need DNS support: AWS refuses them when `enable_dns_support` is false",
                )
                .help("set `enable_dns_hostnames: false` as well, or keep DNS support"),
            );
        }
        out
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "vpc"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "DeleteVpc"), ("ec2", "CreateVpc")])
    }
}

#[async_trait]
impl Kind for Vpc {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let vpcs = crate::aws::all_items(client(cx).describe_vpcs().into_paginator().items().send()).await?;
        Ok(vpcs.iter().map(|v| live(v, None)).collect())
    }

    /// DescribeVpcAttribute: one VPC and one attribute per call.
    async fn read_unreported(&self, cx: &Cx, live: &mut [Live]) -> Result<(), AwsError> {
        use aws_sdk_ec2::types::VpcAttributeName;
        for l in live {
            for (name, attr) in [
                ("enable_dns_support", VpcAttributeName::EnableDnsSupport),
                ("enable_dns_hostnames", VpcAttributeName::EnableDnsHostnames),
            ] {
                let out = client(cx)
                    .describe_vpc_attribute()
                    .vpc_id(&l.physical_id)
                    .attribute(attr)
                    .send()
                    .await
                    .map_err(classify)?;
                let on = if name == "enable_dns_support" { out.enable_dns_support() } else { out.enable_dns_hostnames() };
                if let Some(on) = on.and_then(|v| v.value()) {
                    l.props.insert(name.into(), on.into());
                }
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let cidr = req.props.get("cidr").and_then(Value::as_str).unwrap_or_default();
        let out = client(cx)
            .create_vpc()
            .cidr_block(cidr)
            .tag_specifications(ec2::tag_spec(ResourceType::Vpc, req.tags))
            .customize()
            .config_override(ec2::no_resend())
            .send()
            .await
            .map_err(crate::aws::classify_unretried)?;
        let vpc = out.vpc().ok_or_else(|| AwsError::Failed("CreateVpc returned no VPC".into()))?;
        let id = vpc.vpc_id().unwrap_or_default();
        set_dns(cx, id, req.props, None).await?;
        let mut l = live(vpc, None);
        for name in ["enable_dns_support", "enable_dns_hostnames"] {
            if let Some(v) = req.props.get(name) {
                l.props.insert(name.into(), v.clone());
            }
        }
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        set_dns(cx, req.physical_id, req.new, Some(req.changed)).await?;
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        let out = client(cx).describe_vpcs().vpc_ids(req.physical_id).send().await.map_err(classify)?;
        let vpc = out.vpcs().first().ok_or_else(|| AwsError::NotFound(req.physical_id.into()))?;
        let dns = (
            req.new.get("enable_dns_support").and_then(Value::as_bool).unwrap_or(true),
            req.new.get("enable_dns_hostnames").and_then(Value::as_bool).unwrap_or(true),
        );
        Ok(live(vpc, Some(dns)))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let sent = client(cx).delete_vpc().vpc_id(req.physical_id).send().await.map(|_| ()).map_err(classify);
        ec2::gone_ok(ec2::blockers::refused(cx, Scope::Vpc(req.physical_id), sent).await)
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::rules::testing::{problems, valid};

    #[test]
    fn cidr_between_16_and_28() {
        valid("  a: { type: vpc, cidr: 10.0.0.0/16 }\n  b: { type: vpc, cidr: 10.1.0.0/28 }");
        let p = problems("  a: { type: vpc, cidr: 10.0.0.0/15 }\n  b: { type: vpc, cidr: 10.1.0.0/29 }");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("1:25: VPC CIDR block 10.0.0.0/15 must be between /16 and /28"), "{p:?}");
        assert!(p[1].starts_with("2:25: VPC CIDR block 10.1.0.0/29"), "{p:?}");
    }

    #[test]
    fn dns_host_names_need_dns_support() {
        let ok = "  a: { type: vpc, cidr: 10.0.0.0/16, enable_dns_support: false, enable_dns_hostnames: false }";
        valid(ok);
        let p = problems("  a: { type: vpc, cidr: 10.0.0.0/16, enable_dns_support: false }");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("1:58: DNS host names"), "{p:?}");
        assert!(p[0].contains("| set `enable_dns_hostnames: false` as well"), "{p:?}");
    }
}
