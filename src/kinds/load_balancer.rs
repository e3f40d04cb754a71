use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer as SdkLoadBalancer, LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum,
};

use super::ec2::settle;
use super::elbv2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq, gone_ok};
use crate::aws::{AwsError, Cx, Poll, classify, wait_gone, wait_until};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::network::{Zone, subnet_zone, vpc_of_ref};
use crate::spec::rules::{ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject, regions};
use crate::value::{Props, Value};

pub struct LoadBalancer;

static SCHEMA: KindSchema = KindSchema {
    name: "load_balancer",
    doc: "An Elastic Load Balancing v2 load balancer: application (HTTP/HTTPS, security groups) or network \
          (TCP/TLS). Created and waited until `active`; a delete waits until it is gone, because its network \
          interfaces hold its subnets and security groups.",
    props: &[
        Prop::new("name", Ty::Str, "Up to 32 letters, digits and hyphens. Default: `<stack>-<id>`.")
            .aws("elbv2:CreateLoadBalancerInput.Name")
            .replaces(),
        Prop::new(
            "load_balancer_type",
            Ty::Enum(&["application", "network"]),
            "Application (layer 7) or network (layer 4). (`type` is the resource's kind.)",
        )
        .aws("elbv2:CreateLoadBalancerInput.Type")
        .default(Default::Str("application"))
        .replaces(),
        Prop::new(
            "scheme",
            Ty::Enum(&["internet-facing", "internal"]),
            "Reachable from the internet (public subnets) or only inside the VPC.",
        )
        .aws("elbv2:CreateLoadBalancerInput.Scheme")
        .default(Default::Str("internet-facing"))
        .replaces(),
        Prop::new("subnets", Ty::List(&Ty::Str), "Subnet ids (subnet-...), at most one per availability zone.")
            .aws("elbv2:CreateLoadBalancerInput.Subnets")
            .required()
            .unordered(),
        Prop::new(
            "security_groups",
            Ty::List(&Ty::Str),
            "Security group ids (sg-...), for application load balancers; without it AWS uses the VPC's default.",
        )
        .aws("elbv2:CreateLoadBalancerInput.SecurityGroups")
        .unordered(),
        Prop::new("ip_address_type", Ty::Enum(&["ipv4", "dualstack"]), "IPv4 only, or IPv4 and IPv6.")
            .aws("elbv2:CreateLoadBalancerInput.IpAddressType")
            .default(Default::Str("ipv4")),
    ],
    attrs: &[
        Attr::new("id", "The load balancer's ARN."),
        Attr::new("arn", "The load balancer's ARN."),
        Attr::new("arn_suffix", "`app/<name>/<hash>`: the CloudWatch `LoadBalancer` dimension."),
        Attr::new("dns_name", "The DNS name clients connect to (alias records point here)."),
        Attr::new("zone_id", "The canonical hosted zone id of the DNS name, for alias records."),
        Attr::new("name", "The load balancer's name."),
    ],
    taggable: true,
};

fn live(lb: &SdkLoadBalancer, tags: super::Tags) -> Live {
    let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
    let name = lb.load_balancer_name().unwrap_or_default();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(name));
    props.insert("load_balancer_type".into(), Value::str(lb.r#type().map_or("application", |t| t.as_str())));
    props.insert("scheme".into(), Value::str(lb.scheme().map_or("internet-facing", |s| s.as_str())));
    let mut subnets: Vec<Value> =
        lb.availability_zones().iter().filter_map(|z| z.subnet_id()).map(Value::str).collect();
    subnets.sort_by_cached_key(|v| v.to_string());
    props.insert("subnets".into(), Value::List(subnets));
    // A network load balancer created without security groups reports none, and never can
    // have any: the property is left out, as in the stack.
    if !lb.security_groups().is_empty() || lb.r#type() != Some(&LoadBalancerTypeEnum::Network) {
        let mut groups: Vec<Value> = lb.security_groups().iter().map(Value::str).collect();
        groups.sort_by_cached_key(|v| v.to_string());
        props.insert("security_groups".into(), Value::List(groups));
    }
    props.insert("ip_address_type".into(), Value::str(lb.ip_address_type().map_or("ipv4", |t| t.as_str())));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&arn));
    attrs.insert("arn".into(), Value::str(&arn));
    attrs.insert("arn_suffix".into(), Value::str(elbv2::arn_suffix(&arn)));
    attrs.insert("dns_name".into(), Value::str(lb.dns_name().unwrap_or_default()));
    attrs.insert("zone_id".into(), Value::str(lb.canonical_hosted_zone_id().unwrap_or_default()));
    attrs.insert("name".into(), Value::str(name));
    super::set_created(&mut attrs, super::sdk_time(lb.created_time()));
    Live { physical_id: arn, props, attrs, tags }
}

async fn describe_one(cx: &Cx, arn: &str) -> Result<Option<SdkLoadBalancer>, AwsError> {
    match client(cx).describe_load_balancers().load_balancer_arns(arn).send().await.map_err(classify) {
        Ok(out) => Ok(out.load_balancers().first().cloned()),
        Err(AwsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One observation of a load balancer that is being created.
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerState.html
fn creation(lb: Option<SdkLoadBalancer>) -> Poll<SdkLoadBalancer> {
    let Some(lb) = lb else {
        return Poll::Pending("not visible yet".into());
    };
    let state = lb.state();
    match state.and_then(|s| s.code()) {
        // `active_impaired`: routing traffic, only short of capacity to scale: usable.
        Some(LoadBalancerStateEnum::Active | LoadBalancerStateEnum::ActiveImpaired) => Poll::Ready(lb),
        Some(LoadBalancerStateEnum::Failed) => {
            Poll::Failed(format!("failed: {}", state.and_then(|s| s.reason()).unwrap_or("AWS gave no reason")))
        }
        Some(s) => Poll::Pending(s.as_str().to_owned()),
        None => Poll::Pending("no state reported".into()),
    }
}

async fn wait_active(cx: &Cx, logical_id: &str, arn: &str) -> Result<SdkLoadBalancer, AwsError> {
    wait_until(
        &cx.wait,
        &format!("load balancer {arn}"),
        |m| cx.status(logical_id, m),
        || async move { Ok(creation(describe_one(cx, arn).await?)) },
    )
    .await
}

/// One observation of a load balancer being deleted: listed until it is gone.
fn deletion(lb: &SdkLoadBalancer) -> Poll<()> {
    Poll::Pending(lb.state().and_then(|s| s.code()).map_or("listed", |c| c.as_str()).into())
}

async fn read_back(cx: &Cx, arn: &str) -> Result<Live, AwsError> {
    let lb = describe_one(cx, arn).await?.ok_or_else(|| AwsError::NotFound(arn.into()))?;
    let mut tags = elbv2::tags_of(cx, &[arn.to_owned()]).await?;
    Ok(live(&lb, tags.remove(arn).unwrap_or_default()))
}

fn strings(props: &Props, name: &str) -> Option<Vec<String>> {
    props.get(name).filter(|v| !v.is_null()).map(Value::string_list)
}

impl KindSpec for LoadBalancer {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateLoadBalancer): a name of letters, digits and hyphens, at most 32, not
    /// beginning with `internal-`, unique in the account and region; "only one subnet per
    /// Availability Zone"; for an application load balancer "subnets from at least two
    /// Availability Zones" (one or more Local Zones aside); subnets of one VPC, and security
    /// groups of that VPC (InvalidConfigurationRequest).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = elbv2::name_problems(s, "load_balancer", "load balancer");
        let subnets = s.list("subnets");
        for (i, e) in subnets.iter().enumerate() {
            out.extend(wrong_kind(s, &format!("subnets.{i}"), e, &["subnet"]));
        }
        let zones: Vec<Option<Zone>> = subnets.iter().map(|e| subnet_zone(s.stack, e)).collect();
        let mut shared_zone = false;
        for (i, z) in zones.iter().enumerate() {
            let Some(Zone::Named(zone)) = z else { continue };
            let earlier = (0..i)
                .find(|&j| zones[j] == Some(Zone::Named(zone)) && ref_target(&subnets[j]) != ref_target(&subnets[i]));
            if let Some(j) = earlier {
                shared_zone = true;
                let name = |k: usize| ref_target(&subnets[k]).unwrap_or_default().to_owned();
                out.push(
                    Problem::new(
                        format!("subnets.{i}"),
                        format!("subnets `{}` and `{}` are both in {zone}: AWS attaches a load balancer to one subnet per availability zone", name(j), name(i)),
                    )
                    .help("keep one subnet of each zone"),
                );
            }
        }
        let application = s.str("load_balancer_type") != Some("network");
        let regular = |z: &str| s.stack.region().and_then(regions::zones).is_none_or(|zs| zs.iter().any(|r| r == z));
        let known = !subnets.is_empty() && zones.iter().all(Option::is_some);
        let local = zones.iter().any(|z| matches!(z, Some(Zone::Named(n)) if !regular(n)));
        if application && known && !local && !shared_zone {
            let mut named: Vec<&str> = zones
                .iter()
                .filter_map(|z| match z {
                    Some(Zone::Named(n)) => Some(*n),
                    _ => None,
                })
                .collect();
            named.sort_unstable();
            named.dedup();
            let picked = zones.contains(&Some(Zone::Picked));
            if subnets.len() == 1 || (!picked && named.len() < 2) {
                let zone = named.first().map_or_else(|| "one availability zone".to_owned(), |z| z.to_string());
                out.push(
                    Problem::new("subnets", format!("an application load balancer's subnets are all in {zone}: AWS wants subnets in at least two availability zones"))
                        .help("add a subnet of another zone, or make it `load_balancer_type: network`"),
                );
            }
        }
        let vpcs: Vec<_> = subnets.iter().map(|e| vpc_of_ref(s.stack, e)).collect();
        let home = vpcs.iter().flatten().next().copied();
        if let Some(home) = home {
            for (i, v) in vpcs.iter().enumerate() {
                if let Some(v) = v.filter(|v| v.differs(home)) {
                    out.push(Problem::new(
                        format!("subnets.{i}"),
                        format!("subnet `{}` is in {v}, the load balancer's first subnet in {home}: AWS takes the subnets of one VPC", ref_target(&subnets[i]).unwrap_or_default()),
                    ));
                }
            }
        }
        for (i, e) in s.list("security_groups").iter().enumerate() {
            let path = format!("security_groups.{i}");
            out.extend(wrong_kind(s, &path, e, &["security_group"]));
            if let (Some(home), Some(v)) = (home, vpc_of_ref(s.stack, e))
                && v.differs(home)
            {
                out.push(Problem::new(
                    path,
                    format!("security group `{}` is in {v}, not in the load balancer's {home} (its subnets'): AWS takes security groups of the load balancer's VPC", ref_target(e).unwrap_or_default()),
                ));
            }
        }
        out
    }

    fn normalise(&self, stack: &str, id: &str, props: &mut Props) {
        if props.get("name").is_none_or(Value::is_null) {
            props.insert("name".into(), Value::str(elbv2::default_name(stack, id)));
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["subnet", "security_group", "internet_gateway"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("elasticloadbalancing", "loadbalancer"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[
            ("elasticloadbalancing", "CreateLoadBalancer"),
            ("elasticloadbalancing", "DescribeLoadBalancers"),
        ])
    }
}

#[async_trait]
impl Kind for LoadBalancer {
    /// One paginated DescribeLoadBalancers, then DescribeTags per 20 load balancers.
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let read = elbv2::load_balancers(cx).await?;
        let (lbs, tags) = &*read;
        Ok(lbs
            .iter()
            .map(|lb| live(lb, tags.get(lb.load_balancer_arn().unwrap_or_default()).cloned().unwrap_or_default()))
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let text = |k: &str| req.props.get(k).and_then(Value::as_str);
        let name = text("name").map_or_else(|| elbv2::default_name(&cx.stack, req.id), str::to_owned);
        // CreateLoadBalancer is idempotent by name: the same request again answers with the
        // same load balancer; another configuration under the name is DuplicateLoadBalancerName.
        // https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
        let op = client(cx)
            .create_load_balancer()
            .name(&name)
            .r#type(LoadBalancerTypeEnum::from(text("load_balancer_type").unwrap_or("application")))
            .scheme(LoadBalancerSchemeEnum::from(text("scheme").unwrap_or("internet-facing")))
            .set_subnets(strings(req.props, "subnets"))
            .set_security_groups(strings(req.props, "security_groups"))
            .ip_address_type(IpAddressType::from(text("ip_address_type").unwrap_or("ipv4")))
            .set_tags(Some(elbv2::to_sdk(req.tags)));
        // Subnets and groups created a moment ago can be unknown for a few seconds.
        let out = settle(cx, req.id, "the subnets and security groups", || {
            let op = op.clone();
            async move { op.send().await.map_err(classify) }
        })
        .await?;
        let arn = out
            .load_balancers()
            .first()
            .and_then(|l| l.load_balancer_arn())
            .ok_or_else(|| AwsError::Failed("CreateLoadBalancer returned no load balancer".into()))?;
        let lb = wait_active(cx, req.id, arn).await?;
        Ok(live(&lb, req.tags.clone()))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let elb = client(cx);
        let arn = req.physical_id;
        let changed = |n: &str| req.changed.iter().any(|c| c == n);
        if changed("subnets") {
            let op = elb.set_subnets().load_balancer_arn(arn).set_subnets(strings(req.new, "subnets"));
            settle(cx, req.id, "the subnets", || {
                let op = op.clone();
                async move { op.send().await.map_err(classify) }
            })
            .await?;
        }
        if changed("security_groups") {
            let groups = strings(req.new, "security_groups").unwrap_or_default();
            elb.set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(groups))
                .send()
                .await
                .map_err(classify)?;
        }
        if changed("ip_address_type") {
            let t = req.new.get("ip_address_type").and_then(Value::as_str).unwrap_or("ipv4");
            elb.set_ip_address_type()
                .load_balancer_arn(arn)
                .ip_address_type(IpAddressType::from(t))
                .send()
                .await
                .map_err(classify)?;
        }
        if changed("tags") {
            elbv2::retag(cx, arn, req.old_tags, req.tags).await?;
        }
        read_back(cx, arn).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        gone_ok(client(cx).delete_load_balancer().load_balancer_arn(req.physical_id).send().await.map_err(classify))?;
        // The load balancer's ENIs hold its subnets and security groups until it is gone (and a
        // little longer on AWS: the subnet's and group's deletes retry DependencyViolation).
        let what = format!("deletion of load balancer {}", req.physical_id);
        wait_gone(cx, req.id, &what, || describe_one(cx, req.physical_id), deletion).await
    }
}

#[cfg(test)]
mod tests {

    use aws_sdk_elasticloadbalancingv2::Client;
    use aws_sdk_elasticloadbalancingv2::operation::create_load_balancer::CreateLoadBalancerOutput;
    use aws_sdk_elasticloadbalancingv2::operation::delete_load_balancer::DeleteLoadBalancerOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::{
        DescribeLoadBalancersError, DescribeLoadBalancersOutput,
    };
    use aws_sdk_elasticloadbalancingv2::types::{AvailabilityZone, LoadBalancerState};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::{Status, mocked};

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/s-alb/50dc6c495c0c9188";

    fn lb(state: LoadBalancerStateEnum, reason: Option<&str>) -> SdkLoadBalancer {
        SdkLoadBalancer::builder()
            .load_balancer_arn(ARN)
            .load_balancer_name("s-alb")
            .dns_name("s-alb-1.us-east-1.elb.amazonaws.com")
            .canonical_hosted_zone_id("Z35SXDOTRQ7X7K")
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .ip_address_type(IpAddressType::Ipv4)
            .availability_zones(AvailabilityZone::builder().zone_name("us-east-1b").subnet_id("subnet-b").build())
            .availability_zones(AvailabilityZone::builder().zone_name("us-east-1a").subnet_id("subnet-a").build())
            .security_groups("sg-1")
            .state(LoadBalancerState::builder().code(state).set_reason(reason.map(str::to_owned)).build())
            .build()
    }

    fn described(l: SdkLoadBalancer) -> DescribeLoadBalancersOutput {
        DescribeLoadBalancersOutput::builder().load_balancers(l).build()
    }

    fn not_found() -> DescribeLoadBalancersError {
        DescribeLoadBalancersError::generic(ErrorMetadata::builder().code("LoadBalancerNotFound").build())
    }

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::Sequential, rules))
    }

    fn props() -> Props {
        let mut p = Props::from([
            ("subnets".to_string(), Value::List(vec![Value::str("subnet-a"), Value::str("subnet-b")])),
            ("security_groups".to_string(), Value::List(vec![Value::str("sg-1")])),
            ("load_balancer_type".to_string(), Value::str("application")),
            ("scheme".to_string(), Value::str("internet-facing")),
            ("ip_address_type".to_string(), Value::str("ipv4")),
        ]);
        LoadBalancer.normalise("s", "alb", &mut p);
        p
    }

    fn create_rule() -> Rule {
        mock!(Client::create_load_balancer)
            .match_requests(|r| r.name() == Some("s-alb") && r.subnets().len() == 2)
            .then_output(|| {
                CreateLoadBalancerOutput::builder()
                    .load_balancers(lb(LoadBalancerStateEnum::Provisioning, None))
                    .build()
            })
    }

    #[tokio::test(start_paused = true)]
    async fn create_waits_through_provisioning_until_active() {
        let create = create_rule();
        let describe = mock!(Client::describe_load_balancers)
            .match_requests(|r| r.load_balancer_arns() == [ARN])
            .sequence()
            .output(|| described(lb(LoadBalancerStateEnum::Provisioning, None)))
            .times(3)
            .output(|| described(lb(LoadBalancerStateEnum::Active, None)))
            .build();
        let (cx, seen) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());

        let live =
            LoadBalancer.create(&cx, &CreateReq { id: "alb", props: &p, tags: &tags, token: "t" }).await.unwrap();

        assert_eq!(describe.num_calls(), 4);
        assert_eq!(live.props, p, "what create reports must equal the stack's values");
        assert_eq!(live.attrs["arn_suffix"], Value::str("app/s-alb/50dc6c495c0c9188"));
        assert_eq!(live.attrs["zone_id"], Value::str("Z35SXDOTRQ7X7K"));
        assert_eq!(*seen.lock().unwrap(), vec![format!("alb: waiting for load balancer {ARN} (now provisioning)")]);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_state_ends_create_with_the_reason() {
        let create = create_rule();
        let describe = mock!(Client::describe_load_balancers)
            .sequence()
            .output(|| described(lb(LoadBalancerStateEnum::Provisioning, None)))
            .output(|| described(lb(LoadBalancerStateEnum::Failed, Some("insufficient capacity"))))
            .build();
        let (cx, _) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());

        let err =
            LoadBalancer.create(&cx, &CreateReq { id: "alb", props: &p, tags: &tags, token: "t" }).await.unwrap_err();

        assert_eq!(err, AwsError::Failed(format!("load balancer {ARN}: failed: insufficient capacity")));
    }

    #[tokio::test(start_paused = true)]
    async fn create_that_never_becomes_active_runs_out_of_budget() {
        let create = create_rule();
        let describe = mock!(Client::describe_load_balancers)
            .sequence()
            .output(|| described(lb(LoadBalancerStateEnum::Provisioning, None)))
            .repeatedly()
            .build();
        let (cx, _) = cx(&[&create, &describe]);
        let (p, tags) = (props(), Tags::new());

        let err =
            LoadBalancer.create(&cx, &CreateReq { id: "alb", props: &p, tags: &tags, token: "t" }).await.unwrap_err();

        assert!(matches!(err, AwsError::WaitTimeout { .. }), "{err:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn delete_waits_until_the_load_balancer_is_gone() {
        let delete = mock!(Client::delete_load_balancer)
            .match_requests(|r| r.load_balancer_arn() == Some(ARN))
            .then_output(|| DeleteLoadBalancerOutput::builder().build());
        let describe = mock!(Client::describe_load_balancers)
            .sequence()
            .output(|| described(lb(LoadBalancerStateEnum::Active, None)))
            .times(2)
            .error(not_found)
            .build();
        let (cx, seen) = cx(&[&delete, &describe]);
        let none = Props::new();

        LoadBalancer.delete(&cx, &DeleteReq { id: "alb", physical_id: ARN, props: &none, attrs: &none }).await.unwrap();

        assert_eq!(describe.num_calls(), 3);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![format!("alb: waiting for deletion of load balancer {ARN} (now active)")]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn delete_of_a_load_balancer_already_gone_is_done() {
        let delete = mock!(Client::delete_load_balancer).then_error(|| {
            aws_sdk_elasticloadbalancingv2::operation::delete_load_balancer::DeleteLoadBalancerError::generic(
                ErrorMetadata::builder().code("LoadBalancerNotFound").build(),
            )
        });
        let describe = mock!(Client::describe_load_balancers).then_error(not_found);
        let (cx, _) = cx(&[&delete, &describe]);
        let none = Props::new();

        let got =
            LoadBalancer.delete(&cx, &DeleteReq { id: "alb", physical_id: ARN, props: &none, attrs: &none }).await;

        assert_eq!(got, Ok(()));
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    const NET: &str = "  vpc: { type: vpc, cidr: 10.0.0.0/16 }
  a: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.0.0/24, az: us-east-1a }
  b: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.1.0/24, az: us-east-1b }
  a2: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.2.0/24, az: us-east-1a }
  any: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.3.0/24 }
  local: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.4.0/24, az: us-east-1-bos-1a }
  other: { type: vpc, cidr: 10.1.0.0/16 }
  o: { type: subnet, vpc: '${other.id}', cidr: 10.1.0.0/24, az: us-east-1c }
  sg: { type: security_group, vpc: '${vpc.id}' }
  osg: { type: security_group, vpc: '${other.id}' }
";

    #[test]
    fn names() {
        valid(&format!(
            "{NET}  lb: {{ type: load_balancer, name: {}, subnets: ['${{a.id}}', '${{b.id}}'] }}",
            "A-1".repeat(10) + "bc"
        ));
        let p = problems(&format!(
            "{NET}  lb: {{ type: load_balancer, name: {}, subnets: ['${{a.id}}', '${{b.id}}'] }}\n  lb2: {{ type: load_balancer, name: internal-web_1-, subnets: ['${{a.id}}', '${{b.id}}'] }}",
            "x".repeat(48)
        ));
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].starts_with("11:36: load balancer name `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx` is 48 characters; AWS allows at most 32"), "{p:?}");
        assert!(p[1].contains("begins or ends with a hyphen"), "{p:?}");
        assert!(p[2].contains("begins with `internal-`"), "{p:?}");
        assert!(p[3].contains("has characters AWS refuses: `_`"), "{p:?}");
    }

    #[test]
    fn names_alike() {
        // `web_lb` and `web-lb` both default to `s-web-lb`.
        let p = problems(&format!(
            "{NET}  web_lb: {{ type: load_balancer, subnets: ['${{a.id}}', '${{b.id}}'] }}\n  web-lb: {{ type: load_balancer, subnets: ['${{a.id}}', '${{b.id}}'] }}"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("12:3: load balancer name `s-web-lb` is also `web_lb`'s"), "{p:?}");
        assert!(p[0].contains("| give the load balancer a `name`"), "{p:?}");
    }

    #[test]
    fn zones_of_the_subnets() {
        // Two zones; a zone AWS picks beside a named one; a Local Zone; a network load balancer in one zone.
        valid(&format!(
            "{NET}  l1: {{ type: load_balancer, subnets: ['${{a.id}}', '${{b.id}}'] }}\n  l2: {{ type: load_balancer, subnets: ['${{a.id}}', '${{any.id}}'] }}\n  l3: {{ type: load_balancer, subnets: ['${{local.id}}'] }}\n  l4: {{ type: load_balancer, load_balancer_type: network, subnets: ['${{a.id}}'] }}"
        ));
        let p = problems(&format!(
            "{NET}  l1: {{ type: load_balancer, subnets: ['${{a.id}}', '${{b.id}}', '${{a2.id}}'] }}\n  l2: {{ type: load_balancer, subnets: ['${{any.id}}'] }}\n  l3: {{ type: load_balancer, load_balancer_type: network, subnets: ['${{a.id}}', '${{a2.id}}'] }}"
        ));
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("11:62: subnets `a` and `a2` are both in us-east-1a"), "{p:?}");
        assert!(
            p[1].starts_with("12:39: an application load balancer's subnets are all in one availability zone"),
            "{p:?}"
        );
        assert!(p[2].contains("subnets `a` and `a2` are both in us-east-1a"), "{p:?}");
    }

    #[test]
    fn one_vpc() {
        valid(&format!(
            "{NET}  lb: {{ type: load_balancer, subnets: ['${{a.id}}', '${{b.id}}'], security_groups: ['${{sg.id}}'] }}"
        ));
        let p = problems(&format!(
            "{NET}  lb: {{ type: load_balancer, subnets: ['${{a.id}}', '${{o.id}}'], security_groups: ['${{osg.id}}', '${{a.id}}'] }}"
        ));
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("subnet `o` is in VPC `other`, the load balancer's first subnet in VPC `vpc`"), "{p:?}");
        assert!(p[1].contains("security group `osg` is in VPC `other`, not in the load balancer's VPC `vpc`"), "{p:?}");
        assert!(
            p[2].contains("`security_groups.1` refers to `a`, a subnet: AWS expects the id of a security_group here"),
            "{p:?}"
        );
    }
}
