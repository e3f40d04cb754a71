use async_trait::async_trait;
use aws_sdk_ec2::types::{
    ConnectivityType, NatGateway as SdkGateway, NatGatewayAddress, NatGatewayState, ResourceType,
};

use super::ec2::settle;
use super::ec2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, classify, wait_gone, wait_until};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct NatGateway;

static SCHEMA: KindSchema = KindSchema {
    name: "nat_gateway",
    doc: "A managed NAT gateway: outbound internet access for private subnets.",
    props: &[
        Prop::new("subnet", Ty::Str, "The subnet id (subnet-...) it lives in; a public subnet for a public gateway.")
            .aws("ec2:CreateNatGatewayRequest.SubnetId")
            .required()
            .replaces(),
        Prop::new(
            "allocation_id",
            Ty::Str,
            "The Elastic IP's allocation id (eipalloc-...); required for a public gateway.",
        )
        .aws("ec2:CreateNatGatewayRequest.AllocationId")
        .replaces(),
        Prop::new(
            "connectivity",
            Ty::Enum(&["public", "private"]),
            "Public (internet via an Elastic IP) or private (other VPCs and on-premises).",
        )
        .aws("ec2:CreateNatGatewayRequest.ConnectivityType")
        .default(Default::Str("public"))
        .replaces(),
    ],
    attrs: &[
        Attr::new("id", "The gateway id (nat-...)."),
        Attr::new("public_ip", "The public IPv4 address (public gateways)."),
        Attr::new("private_ip", "The private IPv4 address in the subnet."),
    ],
    taggable: true,
};

fn primary(g: &SdkGateway) -> Option<&NatGatewayAddress> {
    let addrs = g.nat_gateway_addresses();
    addrs.iter().find(|a| a.is_primary() == Some(true)).or_else(|| addrs.first())
}

fn live(g: &SdkGateway) -> Live {
    let id = g.nat_gateway_id().unwrap_or_default().to_owned();
    let addr = primary(g);
    let mut props = Props::new();
    props.insert("subnet".into(), Value::str(g.subnet_id().unwrap_or_default()));
    props.insert("connectivity".into(), Value::str(g.connectivity_type().map_or("public", |c| c.as_str())));
    // A private gateway has no Elastic IP; the property is then left out, as in the stack.
    if let Some(alloc) = addr.and_then(|a| a.allocation_id()) {
        props.insert("allocation_id".into(), Value::str(alloc));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("public_ip".into(), addr.and_then(|a| a.public_ip()).map(Value::str).unwrap_or(Value::Null));
    attrs.insert("private_ip".into(), addr.and_then(|a| a.private_ip()).map(Value::str).unwrap_or(Value::Null));
    super::set_created(&mut attrs, super::sdk_time(g.create_time()));
    Live { physical_id: id, props, attrs, tags: ec2::from_sdk(g.tags()) }
}

/// Whether a described gateway still exists for rprov. `deleted` gateways stay listed for about
/// an hour and `failed` ones hold nothing (AWS releases their address and ENI) and are not
/// coming back: both are gone, so the planner creates anew. A `deleting` gateway is reported:
/// it still holds its Elastic IP and ENI, and a delete of it (teardown resumed after an
/// interrupted run) must wait for `deleted` before the EIP can be released.
fn exists(g: &SdkGateway) -> bool {
    !matches!(g.state(), Some(NatGatewayState::Deleted | NatGatewayState::Failed))
}

async fn describe_one(cx: &Cx, id: &str) -> Result<Option<SdkGateway>, AwsError> {
    let out = client(cx).describe_nat_gateways().nat_gateway_ids(id).send().await.map_err(classify)?;
    Ok(out.nat_gateways().first().cloned())
}

/// One observation of a gateway that is being created.
fn creation(g: Option<SdkGateway>) -> Poll<SdkGateway> {
    let Some(g) = g else {
        return Poll::Pending("not visible yet".into());
    };
    match g.state() {
        Some(NatGatewayState::Available) => Poll::Ready(g),
        Some(NatGatewayState::Failed) => Poll::Failed(format!(
            "failed: {}",
            g.failure_message().or(g.failure_code()).unwrap_or("AWS gave no reason")
        )),
        Some(NatGatewayState::Deleting | NatGatewayState::Deleted) => {
            Poll::Failed("deleted while being created".into())
        }
        Some(s) => Poll::Pending(s.as_str().to_owned()),
        None => Poll::Pending("no state reported".into()),
    }
}

/// One observation of a gateway that is being deleted. `failed` counts as deleted: it holds no
/// address any more.
fn deletion(g: &SdkGateway) -> Poll<()> {
    match g.state() {
        None | Some(NatGatewayState::Deleted | NatGatewayState::Failed) => Poll::Ready(()),
        Some(s) => Poll::Pending(s.as_str().to_owned()),
    }
}

async fn wait_available(cx: &Cx, logical_id: &str, id: &str) -> Result<SdkGateway, AwsError> {
    wait_until(
        &cx.wait,
        &format!("NAT gateway {id}"),
        |m| cx.status(logical_id, m),
        || async move {
            match describe_one(cx, id).await {
                Ok(g) => Ok(creation(g)),
                // A gateway just created may not be listed yet (eventual consistency).
                Err(AwsError::NotFound(_)) => Ok(creation(None)),
                Err(e) => Err(e),
            }
        },
    )
    .await
}

impl KindSpec for NatGateway {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateNatGateway): AllocationId is "required for a public NAT gateway and cannot
    /// be specified with a private NAT gateway"; an Elastic IP is associated with one NAT
    /// gateway at a time.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(e) = s.get("subnet") {
            out.extend(wrong_kind(s, "subnet", e, &["subnet"]));
        }
        let address = s.get("allocation_id").filter(|e| !matches!(e, crate::expr::Expr::Lit(Value::Null)));
        match (s.str("connectivity"), address) {
            (Some("private"), Some(_)) => out.push(
                Problem::new("allocation_id", "a private NAT gateway takes no Elastic IP: AWS refuses `allocation_id` with `connectivity: private`")
                    .help("remove `allocation_id`, or make the gateway `connectivity: public`"),
            ),
            (Some("private"), None) => {}
            (_, None) => out.push(Problem::new(
                "connectivity",
                "a public NAT gateway needs `allocation_id` (an elastic_ip's id)",
            )),
            (_, Some(e)) => {
                out.extend(wrong_kind(s, "allocation_id", e, &["elastic_ip"]));
                let shared = ref_target(e).and_then(|eip| {
                    s.stack
                        .referrers(eip)
                        .filter(|(_, kind, _)| *kind == "nat_gateway")
                        .take_while(|(id, _, _)| *id != s.id)
                        .find(|(_, _, props)| props.get("allocation_id").and_then(ref_target) == Some(eip))
                });
                if let Some((other, _, _)) = shared {
                    out.push(
                        Problem::new(
                            "allocation_id",
                            format!("NAT gateway `{other}` already has this Elastic IP: AWS associates an Elastic IP with one NAT gateway"),
                        )
                        .help("give each NAT gateway an elastic_ip of its own"),
                    );
                }
            }
        }
        out
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["subnet", "elastic_ip"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "natgateway"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "CreateNatGateway"), ("ec2", "DescribeNatGateways")])
    }
}

#[async_trait]
impl Kind for NatGateway {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let gateways =
            crate::aws::all_items(client(cx).describe_nat_gateways().into_paginator().items().send()).await?;
        Ok(gateways.iter().filter(|g| exists(g)).map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let str_prop = |name: &str| req.props.get(name).and_then(Value::as_str).map(str::to_owned);
        let connectivity = str_prop("connectivity").unwrap_or_else(|| "public".into());
        // ClientToken makes a repeated create (SDK retry after a lost response, or the executor's
        // retry) return the first gateway instead of a second one.
        // https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
        let op = client(cx)
            .create_nat_gateway()
            .set_subnet_id(str_prop("subnet"))
            .set_allocation_id(str_prop("allocation_id"))
            .connectivity_type(ConnectivityType::from(connectivity.as_str()))
            .client_token(req.token)
            .tag_specifications(ec2::tag_spec(ResourceType::Natgateway, req.tags));
        // An Elastic IP allocated a moment ago can be unknown to CreateNatGateway for a few
        // seconds (InvalidElasticIpID.NotFound, ansible-collections/amazon.aws#1872).
        let out = settle(cx, req.id, "the subnet and Elastic IP", || {
            let op = op.clone();
            async move { op.send().await.map_err(classify) }
        })
        .await?;
        let id = out
            .nat_gateway()
            .and_then(|g| g.nat_gateway_id())
            .ok_or_else(|| AwsError::Failed("CreateNatGateway returned no gateway".into()))?;
        let gateway = wait_available(cx, req.id, id).await?;
        let mut l = live(&gateway);
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        // Every property but the tags forces a replacement.
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        let gateway =
            describe_one(cx, req.physical_id).await?.ok_or_else(|| AwsError::NotFound(req.physical_id.into()))?;
        Ok(live(&gateway))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        ec2::gone_ok(
            client(cx).delete_nat_gateway().nat_gateway_id(req.physical_id).send().await.map(|_| ()).map_err(classify),
        )?;
        // DeleteNatGateway answers at once and the gateway holds its Elastic IP and ENI until
        // `deleted`; releasing the EIP or deleting the subnet before that fails.
        let what = format!("deletion of NAT gateway {}", req.physical_id);
        wait_gone(cx, req.id, &what, || describe_one(cx, req.physical_id), deletion).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_ec2::Client;
    use aws_sdk_ec2::operation::create_nat_gateway::{CreateNatGatewayError, CreateNatGatewayOutput};
    use aws_sdk_ec2::operation::delete_nat_gateway::DeleteNatGatewayOutput;
    use aws_sdk_ec2::operation::describe_nat_gateways::{DescribeNatGatewaysError, DescribeNatGatewaysOutput};
    use aws_sdk_ec2::types::{NatGateway as SdkGateway, NatGatewayAddress, NatGatewayState, Tag};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::{Status, mocked};

    const ID: &str = "nat-0123456789abcdef0";

    fn gateway(state: NatGatewayState) -> SdkGateway {
        base(state).build()
    }

    fn base(state: NatGatewayState) -> aws_sdk_ec2::types::builders::NatGatewayBuilder {
        SdkGateway::builder()
            .nat_gateway_id(ID)
            .subnet_id("subnet-1")
            .state(state)
            .connectivity_type(ConnectivityType::Public)
            .nat_gateway_addresses(
                NatGatewayAddress::builder()
                    .allocation_id("eipalloc-1")
                    .public_ip("198.51.100.7")
                    .private_ip("10.0.0.9")
                    .is_primary(true)
                    .build(),
            )
            .tags(Tag::builder().key("rprov:stack").value("s").build())
    }

    fn described(g: SdkGateway) -> DescribeNatGatewaysOutput {
        DescribeNatGatewaysOutput::builder().nat_gateways(g).build()
    }

    fn not_found() -> DescribeNatGatewaysError {
        DescribeNatGatewaysError::generic(ErrorMetadata::builder().code("NatGatewayNotFound").message("gone").build())
    }

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_ec2, RuleMode::Sequential, rules))
    }

    fn create_req<'a>(props: &'a Props, tags: &'a Tags) -> CreateReq<'a> {
        CreateReq { id: "nat", props, tags, token: "token-1" }
    }

    fn props() -> Props {
        Props::from([
            ("subnet".to_string(), Value::str("subnet-1")),
            ("allocation_id".to_string(), Value::str("eipalloc-1")),
            ("connectivity".to_string(), Value::str("public")),
        ])
    }

    fn create_rule() -> Rule {
        mock!(Client::create_nat_gateway)
            .match_requests(|r| r.client_token() == Some("token-1") && r.allocation_id() == Some("eipalloc-1"))
            .then_output(|| {
                CreateNatGatewayOutput::builder()
                    .nat_gateway(gateway(NatGatewayState::Pending))
                    .client_token("token-1")
                    .build()
            })
    }

    #[tokio::test(start_paused = true)]
    async fn create_waits_through_pending_until_available() {
        let create = create_rule();
        let describe = mock!(Client::describe_nat_gateways)
            .match_requests(|r| r.nat_gateway_ids() == [ID])
            .sequence()
            .output(|| described(gateway(NatGatewayState::Pending)))
            .times(2)
            .output(|| described(gateway(NatGatewayState::Available)))
            .build();
        let (cx, seen) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());

        let live = NatGateway.create(&cx, &create_req(&p, &tags)).await.unwrap();

        assert_eq!(describe.num_calls(), 3);
        assert_eq!(live.physical_id, ID);
        assert_eq!(live.props, p, "what create reports must equal the stack's values");
        assert_eq!(live.attrs["public_ip"], Value::str("198.51.100.7"));
        assert_eq!(live.attrs["private_ip"], Value::str("10.0.0.9"));
        assert_eq!(*seen.lock().unwrap(), vec![format!("nat: waiting for NAT gateway {ID} (now pending)")]);
    }

    #[tokio::test(start_paused = true)]
    async fn create_retries_while_the_new_elastic_ip_is_not_visible() {
        let create = mock!(Client::create_nat_gateway)
            .sequence()
            .error(|| {
                CreateNatGatewayError::generic(
                    ErrorMetadata::builder().code("InvalidElasticIpID.NotFound").message("eipalloc-1").build(),
                )
            })
            .output(|| CreateNatGatewayOutput::builder().nat_gateway(gateway(NatGatewayState::Pending)).build())
            .build();
        let describe =
            mock!(Client::describe_nat_gateways).then_output(|| described(gateway(NatGatewayState::Available)));
        let (cx, _) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());

        let live = NatGateway.create(&cx, &create_req(&p, &tags)).await.unwrap();

        assert_eq!(create.num_calls(), 2);
        assert_eq!(live.physical_id, ID);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_state_ends_create_with_the_failure_message() {
        let create = create_rule();
        let describe = mock!(Client::describe_nat_gateways)
            .sequence()
            .output(|| described(gateway(NatGatewayState::Pending)))
            .output(|| {
                described(
                    base(NatGatewayState::Failed)
                        .failure_code("Gateway.NotAttached")
                        .failure_message("Network vpc-1 has no Internet gateway attached")
                        .build(),
                )
            })
            .build();
        let (cx, _) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());

        let err = NatGateway.create(&cx, &create_req(&p, &tags)).await.unwrap_err();

        assert_eq!(
            err,
            AwsError::Failed(format!("NAT gateway {ID}: failed: Network vpc-1 has no Internet gateway attached"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn create_that_never_becomes_available_runs_out_of_budget() {
        let create = create_rule();
        let describe = mock!(Client::describe_nat_gateways)
            .sequence()
            .output(|| described(gateway(NatGatewayState::Pending)))
            .repeatedly()
            .build();
        let (cx, _) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());
        let start = tokio::time::Instant::now();

        let err = NatGateway.create(&cx, &create_req(&p, &tags)).await.unwrap_err();

        assert!(matches!(&err, AwsError::WaitTimeout { what, .. } if *what == format!("NAT gateway {ID}")), "{err:?}");
        assert!(start.elapsed() <= Duration::from_secs(1), "{:?}", start.elapsed());
        // 10 + 20 + 40 ms, then every 40 ms: 26 sleeps fit in 1 s, plus the first poll.
        assert_eq!(describe.num_calls(), 27);
    }

    #[tokio::test(start_paused = true)]
    async fn delete_waits_through_deleting_until_deleted() {
        let delete = mock!(Client::delete_nat_gateway)
            .match_requests(|r| r.nat_gateway_id() == Some(ID))
            .then_output(|| DeleteNatGatewayOutput::builder().nat_gateway_id(ID).build());
        let describe = mock!(Client::describe_nat_gateways)
            .sequence()
            .output(|| described(gateway(NatGatewayState::Deleting)))
            .times(3)
            .output(|| described(gateway(NatGatewayState::Deleted)))
            .build();
        let (cx, seen) = cx(&[&delete, &describe]);
        let none = Props::new();

        NatGateway.delete(&cx, &DeleteReq { id: "nat", physical_id: ID, props: &none, attrs: &none }).await.unwrap();

        assert_eq!(describe.num_calls(), 4);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![format!("nat: waiting for deletion of NAT gateway {ID} (now deleting)")]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn delete_of_a_gateway_already_gone_is_done() {
        let delete = mock!(Client::delete_nat_gateway).then_error(|| {
            aws_sdk_ec2::operation::delete_nat_gateway::DeleteNatGatewayError::generic(
                ErrorMetadata::builder().code("NatGatewayNotFound").build(),
            )
        });
        let describe = mock!(Client::describe_nat_gateways).then_error(not_found);
        let (cx, _) = cx(&[&delete, &describe]);
        let none = Props::new();

        let got = NatGateway.delete(&cx, &DeleteReq { id: "nat", physical_id: ID, props: &none, attrs: &none }).await;

        assert_eq!(got, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn delete_that_never_finishes_runs_out_of_budget() {
        let delete = mock!(Client::delete_nat_gateway).then_output(|| DeleteNatGatewayOutput::builder().build());
        let describe = mock!(Client::describe_nat_gateways)
            .sequence()
            .output(|| described(gateway(NatGatewayState::Deleting)))
            .repeatedly()
            .build();
        let (cx, _) = cx(&[&delete, &describe]);
        let none = Props::new();

        let err = NatGateway
            .delete(&cx, &DeleteReq { id: "nat", physical_id: ID, props: &none, attrs: &none })
            .await
            .unwrap_err();

        assert!(matches!(err, AwsError::WaitTimeout { .. }), "{err:?}");
    }

    #[test]
    fn read_leaves_out_deleted_and_failed_gateways_only() {
        let check = |state: NatGatewayState, want: bool| assert_eq!(exists(&gateway(state.clone())), want, "{state:?}");
        check(NatGatewayState::Pending, true);
        check(NatGatewayState::Available, true);
        check(NatGatewayState::Deleting, true);
        check(NatGatewayState::Deleted, false);
        check(NatGatewayState::Failed, false);
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    const NET: &str = "  vpc: { type: vpc, cidr: 10.0.0.0/16 }\n  sub: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.0.0/24 }\n  ip: { type: elastic_ip }\n";

    #[test]
    fn elastic_ip_for_public_gateways_only() {
        valid(&format!(
            "{NET}  pub: {{ type: nat_gateway, subnet: '${{sub.id}}', allocation_id: '${{ip.id}}' }}\n  priv: {{ type: nat_gateway, subnet: '${{sub.id}}', connectivity: private }}"
        ));
        let p = problems(&format!(
            "{NET}  priv: {{ type: nat_gateway, subnet: '${{sub.id}}', connectivity: private, allocation_id: '${{ip.id}}' }}\n  pub: {{ type: nat_gateway, subnet: '${{sub.id}}' }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("4:89: a private NAT gateway takes no Elastic IP"), "{p:?}");
        assert!(p[1].starts_with("5:3: a public NAT gateway needs `allocation_id`"), "{p:?}");
    }

    #[test]
    fn one_gateway_per_elastic_ip() {
        let p = problems(&format!(
            "{NET}  a: {{ type: nat_gateway, subnet: '${{sub.id}}', allocation_id: '${{ip.id}}' }}\n  b: {{ type: nat_gateway, subnet: '${{sub.id}}', allocation_id: '${{ip.id}}' }}"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("5:63: NAT gateway `a` already has this Elastic IP"), "{p:?}");
    }

    #[test]
    fn subnet_and_address_are_of_their_kinds() {
        let p = problems(&format!(
            "{NET}  a: {{ type: nat_gateway, subnet: '${{vpc.id}}', allocation_id: '${{sub.id}}' }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("`subnet` refers to `vpc`, a vpc: AWS expects the id of a subnet here | e.g. `${sub.id}`"),
            "{p:?}"
        );
        assert!(
            p[1].contains(
                "`allocation_id` refers to `sub`, a subnet: AWS expects the id of an elastic_ip here | e.g. `${ip.id}`"
            ),
            "{p:?}"
        );
    }
}
