use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, SubnetState};

use super::ec2::blockers::Scope;
use super::ec2::{self, client, settle};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, classify, wait_until};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::network::{cidr, earlier_in_vpc, named_vpc, vpc_cidr};
use crate::spec::rules::wrong_kind;
use crate::spec::{KindSpec, Problem, Refusals, Subject, regions};
use crate::value::{Props, Value};

pub struct Subnet;

static SCHEMA: KindSchema = KindSchema {
    name: "subnet",
    doc: "A range of the VPC's addresses in one availability zone.",
    props: &[
        Prop::new("vpc", Ty::Str, "The VPC id (vpc-...).").aws("ec2:CreateSubnetRequest.VpcId").required().replaces(),
        Prop::new("cidr", Ty::Cidr, "The subnet's IPv4 range, inside the VPC's.")
            .aws("ec2:CreateSubnetRequest.CidrBlock")
            .required()
            .replaces(),
        Prop::new("az", Ty::Str, "Availability zone (e.g. us-east-1a); AWS picks one when omitted.")
            .aws("ec2:CreateSubnetRequest.AvailabilityZone")
            .replaces(),
        Prop::new("map_public_ip_on_launch", Ty::Bool, "Give network interfaces created here a public IPv4 address.")
            .default(Default::Bool(false)),
    ],
    attrs: &[
        Attr::new("id", "The subnet id (subnet-...)."),
        Attr::new("arn", "The subnet's ARN."),
        Attr::new("cidr", "The subnet's CIDR block."),
        Attr::new("az", "The availability zone it is in."),
        Attr::new("vpc_id", "The VPC it belongs to."),
    ],
    taggable: true,
};

fn live(s: &aws_sdk_ec2::types::Subnet) -> Live {
    let id = s.subnet_id().unwrap_or_default().to_owned();
    let vpc = s.vpc_id().unwrap_or_default();
    let cidr = s.cidr_block().unwrap_or_default();
    let az = s.availability_zone().unwrap_or_default();
    let mut props = Props::new();
    props.insert("vpc".into(), Value::str(vpc));
    props.insert("cidr".into(), Value::str(cidr));
    props.insert("az".into(), Value::str(az));
    props.insert("map_public_ip_on_launch".into(), s.map_public_ip_on_launch().unwrap_or(false).into());
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("arn".into(), Value::str(s.subnet_arn().unwrap_or_default()));
    attrs.insert("cidr".into(), Value::str(cidr));
    attrs.insert("az".into(), Value::str(az));
    attrs.insert("vpc_id".into(), Value::str(vpc));
    Live { physical_id: id, props, attrs, tags: ec2::from_sdk(s.tags()) }
}

async fn set_map_public_ip(cx: &Cx, logical_id: &str, id: &str, on: bool) -> Result<(), AwsError> {
    let op = client(cx)
        .modify_subnet_attribute()
        .subnet_id(id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build());
    settle(cx, logical_id, &format!("subnet {id}"), || {
        let op = op.clone();
        async move { op.send().await.map(|_| ()).map_err(classify) }
    })
    .await
}

async fn describe_one(cx: &Cx, id: &str) -> Result<aws_sdk_ec2::types::Subnet, AwsError> {
    let out = client(cx).describe_subnets().subnet_ids(id).send().await.map_err(classify)?;
    out.subnets().first().cloned().ok_or_else(|| AwsError::NotFound(id.into()))
}

impl KindSpec for Subnet {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateSubnet): the zone is one of the stack's region; the range is /16 to /28,
    /// inside the VPC's, and overlaps no other subnet of the VPC (InvalidSubnet.Range,
    /// InvalidSubnet.Conflict).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let (Some(region), Some(az)) = (s.stack.region(), s.str("az")) {
            out.extend(regions::zone_problem(region, az, "az"));
        }
        if let Some(e) = s.get("vpc") {
            out.extend(wrong_kind(s, "vpc", e, &["vpc"]));
        }
        let Some(net) = cidr(s.get("cidr")) else { return out };
        if !(16..=28).contains(&net.prefix_len()) {
            out.push(
                Problem::new("cidr", format!("subnet CIDR block {net} must be between /16 and /28"))
                    .help("AWS: a subnet's range has from 65,536 (/16) to 16 (/28) addresses"),
            );
        }
        let Some(vpc) = s.get("vpc").and_then(|e| named_vpc(s.stack, e)) else { return out };
        if let Some(vnet) = vpc_cidr(s.stack, vpc)
            && !vnet.contains(&net)
        {
            out.push(Problem::new("cidr", format!("subnet CIDR {net} is not inside the CIDR {vnet} of {vpc}")).help(
                format!(
                    "AWS: a subnet's range is part of its VPC's; {vnet} runs from {} to {}",
                    vnet.network(),
                    vnet.broadcast()
                ),
            ));
        }
        // Reported on the later of two overlapping subnets, once per earlier one.
        for (other, props) in earlier_in_vpc(s.stack, "subnet", s.id, vpc) {
            let Some(onet) = cidr(props.get("cidr")) else { continue };
            if onet.contains(&net) || net.contains(&onet) {
                out.push(
                    Problem::new(
                        "cidr",
                        format!("subnet CIDR {net} overlaps {onet} of subnet `{other}` in the same VPC"),
                    )
                    .help("AWS: the subnets of a VPC have ranges that do not overlap"),
                );
            }
        }
        out
    }

    fn holds(&self) -> &'static [&'static str] {
        &["vpc"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "subnet"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "DeleteSubnet"), ("ec2", "CreateSubnet")])
    }
}

#[async_trait]
impl Kind for Subnet {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let subnets = crate::aws::all_items(client(cx).describe_subnets().into_paginator().items().send()).await?;
        Ok(subnets.iter().map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let str_prop = |name: &str| req.props.get(name).and_then(Value::as_str).map(str::to_owned);
        let op = client(cx)
            .create_subnet()
            .set_vpc_id(str_prop("vpc"))
            .set_cidr_block(str_prop("cidr"))
            .set_availability_zone(str_prop("az"))
            .tag_specifications(ec2::tag_spec(ResourceType::Subnet, req.tags));
        let out = settle(cx, req.id, "the VPC", || {
            let op = op.clone();
            async move {
                op.customize().config_override(ec2::no_resend()).send().await.map_err(crate::aws::classify_unretried)
            }
        })
        .await?;
        let mut subnet =
            out.subnet().cloned().ok_or_else(|| AwsError::Failed("CreateSubnet returned no subnet".into()))?;
        let id = subnet.subnet_id().unwrap_or_default().to_owned();
        // CreateSubnet may answer `pending`; Terraform waits for `available` before it modifies
        // attributes, and so do we.
        if subnet.state() != Some(&SubnetState::Available) {
            subnet = wait_until(
                &cx.wait,
                &format!("subnet {id}"),
                |m| cx.status(req.id, m),
                || async {
                    match describe_one(cx, &id).await {
                        Ok(s) if s.state() == Some(&SubnetState::Available) => Ok(Poll::Ready(s)),
                        Ok(s) => Ok(Poll::Pending(s.state().map_or("unknown", |s| s.as_str()).to_owned())),
                        Err(AwsError::NotFound(_)) => Ok(Poll::Pending("not visible yet".into())),
                        Err(e) => Err(e),
                    }
                },
            )
            .await?;
        }
        let map_public = req.props.get("map_public_ip_on_launch").and_then(Value::as_bool).unwrap_or(false);
        if map_public {
            set_map_public_ip(cx, req.id, &id, true).await?;
        }
        let mut l = live(&subnet);
        l.props.insert("map_public_ip_on_launch".into(), map_public.into());
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if req.changed.iter().any(|c| c == "map_public_ip_on_launch") {
            let on = req.new.get("map_public_ip_on_launch").and_then(Value::as_bool).unwrap_or(false);
            set_map_public_ip(cx, req.id, req.physical_id, on).await?;
        }
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        Ok(live(&describe_one(cx, req.physical_id).await?))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // ENIs of NAT gateways, load balancers and tasks keep a subnet busy for minutes after
        // their owner is gone (DependencyViolation: InUse, retried by the executor); anything
        // else in it stays until someone deletes it (Blocked).
        let sent = client(cx).delete_subnet().subnet_id(req.physical_id).send().await.map(|_| ()).map_err(classify);
        ec2::gone_ok(ec2::blockers::refused(cx, Scope::Subnet(req.physical_id), sent).await)
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::rules::testing::{problems, valid};

    const VPC: &str = "  vpc: { type: vpc, cidr: 10.0.0.0/16 }\n";

    #[test]
    fn zone_of_the_region() {
        valid(&format!("{VPC}  a: {{ type: subnet, vpc: '${{vpc.id}}', cidr: 10.0.0.0/24, az: us-east-1f }}"));
        let p =
            problems(&format!("{VPC}  a: {{ type: subnet, vpc: '${{vpc.id}}', cidr: 10.0.0.0/24, az: eu-west-1a }}"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("2:63: availability zone `eu-west-1a` is in eu-west-1"), "{p:?}");
    }

    #[test]
    fn range_inside_the_vpc_and_its_size() {
        valid(&format!("{VPC}  a: {{ type: subnet, vpc: '${{vpc.id}}', cidr: 10.0.255.240/28 }}"));
        let p = problems(&format!(
            "{VPC}  a: {{ type: subnet, vpc: '${{vpc.id}}', cidr: 10.1.0.0/24 }}\n  b: {{ type: subnet, vpc: '${{vpc.id}}', cidr: 10.0.0.0/29 }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("2:46: subnet CIDR 10.1.0.0/24 is not inside the CIDR 10.0.0.0/16 of VPC `vpc`"),
            "{p:?}"
        );
        assert!(p[1].starts_with("3:46: subnet CIDR block 10.0.0.0/29 must be between /16 and /28"), "{p:?}");
    }

    #[test]
    fn ranges_of_one_vpc_do_not_overlap() {
        // Other VPCs, and an existing VPC named by id, may reuse a range.
        valid(&format!(
            "{VPC}  other: {{ type: vpc, cidr: 10.0.0.0/16 }}\n  a: {{ type: subnet, vpc: '${{vpc.id}}', cidr: 10.0.0.0/24 }}\n  b: {{ type: subnet, vpc: '${{other.id}}', cidr: 10.0.0.0/24 }}\n  c: {{ type: subnet, vpc: vpc-1, cidr: 10.0.0.0/24 }}\n  d: {{ type: subnet, vpc: '${{vpc.id}}', cidr: 10.0.1.0/24 }}"
        ));
        let p = problems(&format!(
            "{VPC}  a: {{ type: subnet, vpc: '${{vpc.id}}', cidr: 10.0.0.0/24 }}\n  b: {{ type: subnet, vpc: '${{a.vpc_id}}', cidr: 10.0.0.128/25 }}\n  c: {{ type: subnet, vpc: vpc-1, cidr: 10.0.0.0/24 }}\n  d: {{ type: subnet, vpc: vpc-1, cidr: 10.0.0.0/23 }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("subnet CIDR 10.0.0.128/25 overlaps 10.0.0.0/24 of subnet `a` in the same VPC"), "{p:?}");
        assert!(p[1].starts_with("5:40: subnet CIDR 10.0.0.0/23 overlaps 10.0.0.0/24 of subnet `c`"), "{p:?}");
    }

    #[test]
    fn vpc_is_a_vpc() {
        let p = problems(&format!(
            "{VPC}  a: {{ type: subnet, vpc: '${{vpc.id}}', cidr: 10.0.0.0/24 }}\n  b: {{ type: subnet, vpc: '${{a.id}}', cidr: 10.0.1.0/24 }}"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(
                "3:27: `vpc` refers to `a`, a subnet: AWS expects the id of a vpc here | e.g. `${vpc.id}`"
            ),
            "{p:?}"
        );
    }
}
