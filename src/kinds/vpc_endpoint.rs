use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, VpcEndpoint as SdkEndpoint, VpcEndpointType};

use super::ec2::{self, client, settle};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, Poll, classify, wait_gone, wait_until};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::network::{Zone, named_vpc, subnet_zone, vpc_of_ref};
use crate::spec::rules::{lit_str, ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, StackView, Subject};
use crate::value::{Props, Value};

pub struct VpcEndpoint;

static SCHEMA: KindSchema = KindSchema {
    name: "vpc_endpoint",
    doc: "A VPC endpoint: private access to an AWS service without the internet or a NAT gateway. A `gateway` \
          endpoint (S3, DynamoDB; free) adds a route to the service's prefix list in each route table listed; an \
          `interface` endpoint puts one network interface in each subnet listed, with security groups and, by \
          default, private DNS for the service's usual name.",
    props: &[
        Prop::new("vpc", Ty::Str, "The VPC id (vpc-...).")
            .aws("ec2:CreateVpcEndpointRequest.VpcId")
            .required()
            .replaces(),
        Prop::new(
            "service",
            Ty::Str,
            "The service: an AWS service's short name (`s3`, `dynamodb`, `ssm`, `ecr.api`, `logs`, ...), which rprov \
             makes `com.amazonaws.<region>.<name>` in the stack's region; or the full name of another endpoint \
             service (`com.amazonaws.vpce.<region>.vpce-svc-...`).",
        )
        .required()
        .replaces(),
        Prop::new(
            "endpoint_type",
            Ty::Enum(&["gateway", "interface"]),
            "`gateway` or `interface`; when left out, `gateway` for `s3` and `dynamodb` (the only services with \
             gateway endpoints) and `interface` for every other service.",
        )
        .replaces(),
        Prop::new("route_tables", Ty::List(&Ty::Str), "Gateway endpoints: route table ids (rtb-...) that get the route.")
            .aws("ec2:CreateVpcEndpointRequest.RouteTableIds")
            .default(Default::EmptyList)
            .unordered(),
        Prop::new(
            "subnets",
            Ty::List(&Ty::Str),
            "Interface endpoints: subnet ids (subnet-...), at most one per availability zone.",
        )
        .aws("ec2:CreateVpcEndpointRequest.SubnetIds")
        .default(Default::EmptyList)
        .unordered(),
        Prop::new(
            "security_groups",
            Ty::List(&Ty::Str),
            "Interface endpoints: security group ids (sg-...) of its network interfaces; the VPC's default group when \
             none is given.",
        )
        .aws("ec2:CreateVpcEndpointRequest.SecurityGroupIds")
        .default(Default::EmptyList)
        .unordered(),
        Prop::new(
            "private_dns",
            Ty::Bool,
            "Interface endpoints: answer the service's public name (e.g. ssm.<region>.amazonaws.com) with the \
             endpoint's private addresses; on unless set false. Needs the VPC's DNS support and DNS hostnames. \
             Gateway endpoints have none.",
        ),
        Prop::new(
            "policy",
            Ty::Doc,
            "The endpoint policy (an IAM policy document); left out, AWS's default policy allows full access.",
        ),
    ],
    attrs: &[
        Attr::new("id", "The endpoint id (vpce-...)."),
        Attr::new("dns_name", "Interface endpoints: the endpoint's regional DNS name; empty for gateway endpoints."),
    ],
    taggable: true,
};

/// The services that have gateway endpoints
/// (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html).
const GATEWAY_SERVICES: &[&str] = &["s3", "dynamodb"];

/// AWS's policy of an endpoint created without one: full access
/// (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html). Read back, it
/// is the absence of a policy of the stack's.
const DEFAULT_POLICY: &str =
    r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// The largest endpoint policy AWS takes, in characters (ModifyVpcEndpoint: PolicyDocument).
const POLICY_MAX: usize = 20_480;

fn service_prefix(region: &str) -> String {
    format!("com.amazonaws.{region}.")
}

/// The service name AWS knows: short names are the region's AWS services.
fn full_service(region: &str, service: &str) -> String {
    if service.starts_with("com.amazonaws.") { service.to_owned() } else { format!("{}{service}", service_prefix(region)) }
}

/// The service name as the stack writes it: short for the region's AWS services.
fn short_service<'a>(region: &str, service: &'a str) -> &'a str {
    service.strip_prefix(&service_prefix(region)).unwrap_or(service)
}

fn default_type(service: &str) -> &'static str {
    if GATEWAY_SERVICES.contains(&service) { "gateway" } else { "interface" }
}

fn parse_policy(text: &str) -> Value {
    super::service::iam::parse_document(text).unwrap_or_else(|| Value::str(text))
}

fn normalised_policy(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Str(text)) => parse_policy(text),
        Some(doc) => super::service::iam::canonical_policy(doc),
    }
}

fn sorted(ids: impl IntoIterator<Item = String>) -> Value {
    let mut l: Vec<String> = ids.into_iter().collect();
    l.sort();
    l.dedup();
    Value::List(l.into_iter().map(Value::Str).collect())
}

fn live(e: &SdkEndpoint, region: &str) -> Live {
    let id = e.vpc_endpoint_id().unwrap_or_default().to_owned();
    let gateway = e.vpc_endpoint_type() == Some(&VpcEndpointType::Gateway);
    let mut props = Props::new();
    props.insert("vpc".into(), Value::str(e.vpc_id().unwrap_or_default()));
    props.insert("service".into(), Value::str(short_service(region, e.service_name().unwrap_or_default())));
    props.insert(
        "endpoint_type".into(),
        Value::str(e.vpc_endpoint_type().map_or("", |t| t.as_str()).to_ascii_lowercase().as_str()),
    );
    props.insert("route_tables".into(), sorted(e.route_table_ids().iter().cloned()));
    props.insert("subnets".into(), sorted(e.subnet_ids().iter().cloned()));
    props.insert("security_groups".into(), sorted(e.groups().iter().filter_map(|g| g.group_id().map(str::to_owned))));
    // Gateway endpoints have no private DNS, whatever a describe says of them.
    props.insert("private_dns".into(), Value::Bool(!gateway && e.private_dns_enabled().unwrap_or(false)));
    let policy = e.policy_document().map(parse_policy).unwrap_or(Value::Null);
    let default = parse_policy(DEFAULT_POLICY);
    props.insert("policy".into(), if policy == default { Value::Null } else { policy });
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    let dns = e.dns_entries().first().and_then(|d| d.dns_name()).unwrap_or_default();
    attrs.insert("dns_name".into(), Value::str(if gateway { "" } else { dns }));
    Live { physical_id: id, props, attrs, tags: ec2::from_sdk(e.tags()) }
}

async fn describe_one(cx: &Cx, id: &str) -> Result<SdkEndpoint, AwsError> {
    let out = client(cx).describe_vpc_endpoints().vpc_endpoint_ids(id).send().await.map_err(classify)?;
    out.vpc_endpoints().first().cloned().ok_or_else(|| AwsError::NotFound(id.into()))
}

/// The endpoint's state, lower-case: AWS answers `available`, `pendingAcceptance`, ... where
/// the SDK's enum spells `Available`, `PendingAcceptance`, so its variants do not match.
fn state(e: &SdkEndpoint) -> Option<String> {
    e.state().map(|s| s.as_str().to_ascii_lowercase())
}

/// One observation of an endpoint being made or changed. `pendingAcceptance` waits for the
/// owner of another account's endpoint service, possibly for days: the endpoint exists, and
/// the wait ends there with a status line saying so.
fn readiness(e: SdkEndpoint) -> Poll<SdkEndpoint> {
    match state(&e).as_deref() {
        Some("available" | "pendingacceptance") => Poll::Ready(e),
        Some(s @ ("failed" | "rejected" | "expired" | "deleting" | "deleted")) => {
            let why = e.last_error().and_then(|l| l.message()).unwrap_or("AWS gave no reason");
            Poll::Failed(format!("{s}: {why}"))
        }
        Some(s) => Poll::Pending(s.to_owned()),
        None => Poll::Pending("no state reported".into()),
    }
}

async fn wait_ready(cx: &Cx, logical_id: &str, id: &str) -> Result<SdkEndpoint, AwsError> {
    let e = wait_until(
        &cx.wait,
        &format!("VPC endpoint {id}"),
        |m| cx.status(logical_id, m),
        || async move {
            match describe_one(cx, id).await {
                Ok(e) => Ok(readiness(e)),
                // Just created: not listed yet (eventual consistency).
                Err(AwsError::NotFound(_)) => Ok(Poll::Pending("not visible yet".into())),
                Err(e) => Err(e),
            }
        },
    )
    .await?;
    if state(&e).as_deref() == Some("pendingacceptance") {
        cx.status(logical_id, &format!("VPC endpoint {id} waits for the endpoint service's owner to accept it"));
    }
    Ok(e)
}

fn text<'a>(props: &'a Props, name: &str) -> Option<&'a str> {
    props.get(name).and_then(Value::as_str)
}

fn list(props: &Props, name: &str) -> Vec<String> {
    props.get(name).map(Value::string_list).unwrap_or_default()
}

fn policy_text(props: &Props) -> Option<String> {
    props.get("policy").filter(|v| !v.is_null()).map(|p| serde_json::Value::from(p).to_string())
}

/// What is in `want` and not in `have`, and what is in `have` and not in `want`.
fn added_removed(have: &[String], want: &[String]) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let nonempty = |v: Vec<String>| Some(v).filter(|v| !v.is_empty());
    (
        nonempty(want.iter().filter(|x| !have.contains(x)).cloned().collect()),
        nonempty(have.iter().filter(|x| !want.contains(x)).cloned().collect()),
    )
}

/// Brings route tables, subnets, security groups, private DNS and policy to `props`, from what
/// AWS has now (drift repaired too); one ModifyVpcEndpoint, then waits while it applies.
async fn converge(cx: &Cx, logical_id: &str, id: &str, props: &Props) -> Result<(), AwsError> {
    let now = live(&describe_one(cx, id).await?, &cx.region);
    let (add_rt, rm_rt) = added_removed(&list(&now.props, "route_tables"), &list(props, "route_tables"));
    let (add_sn, rm_sn) = added_removed(&list(&now.props, "subnets"), &list(props, "subnets"));
    let (add_sg, rm_sg) = added_removed(&list(&now.props, "security_groups"), &list(props, "security_groups"));
    let interface = text(props, "endpoint_type") == Some("interface");
    let dns = props.get("private_dns").and_then(Value::as_bool).filter(|_| interface);
    let dns = dns.filter(|d| now.props.get("private_dns").and_then(Value::as_bool) != Some(*d));
    let want_policy = normalised_policy(props.get("policy"));
    let policy_changed = now.props.get("policy").unwrap_or(&Value::Null) != &want_policy;
    let nothing = [&add_rt, &rm_rt, &add_sn, &rm_sn, &add_sg, &rm_sg].iter().all(|x| x.is_none());
    if nothing && dns.is_none() && !policy_changed {
        return Ok(());
    }
    let mut op = client(cx)
        .modify_vpc_endpoint()
        .vpc_endpoint_id(id)
        .set_add_route_table_ids(add_rt)
        .set_remove_route_table_ids(rm_rt)
        .set_add_subnet_ids(add_sn)
        .set_remove_subnet_ids(rm_sn)
        .set_add_security_group_ids(add_sg)
        .set_remove_security_group_ids(rm_sg)
        .set_private_dns_enabled(dns);
    if policy_changed {
        op = match policy_text(props) {
            Some(p) => op.policy_document(p),
            // AWS's default policy, sent as such: what ResetPolicy does (which moto ignores).
            None => op.policy_document(DEFAULT_POLICY),
        };
    }
    op.send().await.map_err(classify)?;
    wait_ready(cx, logical_id, id).await.map(|_| ())
}

/// The subnets of `list` with the same named zone, as `(earlier index, index, zone)`.
fn same_zone<'a>(stack: &'a dyn StackView, list: &'a [Expr]) -> Vec<(usize, usize, &'a str)> {
    let zones: Vec<Option<&str>> = list
        .iter()
        .map(|e| match subnet_zone(stack, e) {
            Some(Zone::Named(z)) => Some(z),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (i, z) in zones.iter().enumerate() {
        if let Some(z) = z
            && let Some(j) = zones[..i].iter().position(|o| o == &Some(*z))
        {
            out.push((j, i, *z));
        }
    }
    out
}

/// Whether the stack's VPC named by `vpc` has a DNS attribute turned off (as written).
fn dns_off(stack: &dyn StackView, vpc: &Expr) -> Option<&'static str> {
    let id = ref_target(vpc)?;
    let ("vpc", props) = stack.resource(id)? else { return None };
    ["enable_dns_support", "enable_dns_hostnames"]
        .into_iter()
        .find(|k| matches!(props.get(*k), Some(Expr::Lit(Value::Bool(false)))))
}

impl KindSpec for VpcEndpoint {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS's rules (CreateVpcEndpoint; PrivateLink guide): endpoint services are regional;
    /// gateway endpoints exist for S3 and DynamoDB only and take route tables, never subnets,
    /// security groups or private DNS; interface endpoints take subnets (one per zone), never
    /// route tables; private DNS needs the VPC's DNS support and hostnames.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        let vpc = s.get("vpc");
        if let Some(e) = vpc {
            out.extend(wrong_kind(s, "vpc", e, &["vpc"]));
        }
        let service = s.str("service");
        let named_region = service.and_then(|service| {
            service
                .strip_prefix("com.amazonaws.vpce.")
                .or_else(|| service.strip_prefix("com.amazonaws."))
                .and_then(|rest| rest.split('.').next())
                .filter(|r| crate::spec::regions::is_region(r))
        });
        if let (Some(service), Some(region)) = (service, s.stack.region()) {
            match named_region {
                Some(r) if r != region => out.push(Problem::new(
                    "service",
                    format!("`{service}` is a service of {r}; endpoint services are regional and this stack is in {region}"),
                )),
                Some(_) if service.starts_with(&service_prefix(region)) => out.push(
                    Problem::new("service", format!("write the service's short name, `{}`", short_service(region, service)))
                        .help("rprov adds `com.amazonaws.<region>.` itself, so the stack works in any region"),
                ),
                _ => {}
            }
        }
        // The service's short name, whichever region a full name gives (reported above).
        let short = service.map(|sv| named_region.map_or(sv, |r| short_service(r, sv)));
        let kind = s.str("endpoint_type").or_else(|| short.map(default_type));
        if kind == Some("gateway") {
            if let Some(sv) = short
                && !GATEWAY_SERVICES.contains(&sv)
            {
                out.push(
                    Problem::new("endpoint_type", format!("AWS has gateway endpoints for s3 and dynamodb only, not for `{sv}`"))
                        .help("use `endpoint_type: interface`"),
                );
            }
            for k in ["subnets", "security_groups"] {
                if !s.list(k).is_empty() {
                    out.push(Problem::new(k, format!("a gateway endpoint has no network interfaces: `{k}` is for interface endpoints")).help("list route tables in `route_tables`"));
                }
            }
            if s.bool("private_dns") == Some(true) {
                out.push(Problem::new("private_dns", "a gateway endpoint has no private DNS: it works through routes"));
            }
        }
        if kind == Some("interface") {
            if !s.list("route_tables").is_empty() {
                out.push(Problem::new(
                    "route_tables",
                    "an interface endpoint is reached through its network interfaces, not routes: `route_tables` is for gateway endpoints",
                ));
            }
            let none = match s.get("subnets") {
                None | Some(Expr::Lit(Value::Null)) => true,
                Some(Expr::List(l)) => l.is_empty(),
                Some(Expr::Lit(Value::List(l))) => l.is_empty(),
                Some(_) => false,
            };
            if none {
                out.push(Problem::new("subnets", "an interface endpoint needs at least one subnet for its network interfaces"));
            }
            for (j, i, zone) in same_zone(s.stack, s.list("subnets")) {
                out.push(Problem::new(
                    format!("subnets.{i}"),
                    format!("subnets {} and {} are both in {zone}: AWS takes one subnet per availability zone", j + 1, i + 1),
                ));
            }
            if s.bool("private_dns") != Some(false)
                && let Some(attr) = vpc.and_then(|v| dns_off(s.stack, v))
            {
                out.push(
                    Problem::new("private_dns", format!("private DNS needs the VPC's DNS support and DNS hostnames; `{attr}` is off"))
                        .help("turn it on in the VPC, or set `private_dns: false`"),
                );
            }
        }
        let vpc_named = vpc.and_then(|e| named_vpc(s.stack, e));
        for (k, kinds) in [("route_tables", "route_table"), ("subnets", "subnet"), ("security_groups", "security_group")] {
            for (i, e) in s.list(k).iter().enumerate() {
                let path = format!("{k}.{i}");
                out.extend(wrong_kind(s, &path, e, &[kinds]));
                if let (Some(vpc), Some(theirs)) = (vpc_named, vpc_of_ref(s.stack, e))
                    && theirs.differs(vpc)
                {
                    out.push(Problem::new(
                        path,
                        format!(
                            "`{}` is in {theirs}, not in this endpoint's {vpc}",
                            ref_target(e).unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        if let Some(e) = s.get("policy")
            && super::service::iam::policy_len(e) > POLICY_MAX
        {
            out.push(Problem::new("policy", format!("the policy is longer than AWS's {POLICY_MAX} characters")));
        }
        if let Some(p) = lit_str(s.get("policy"))
            && super::service::iam::parse_document(p).is_none()
        {
            out.push(Problem::new("policy", "the policy is not a JSON document"));
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        let kind = match (text(props, "endpoint_type"), text(props, "service")) {
            (Some(t), _) => t.to_owned(),
            (None, Some(s)) => default_type(s).to_owned(),
            (None, None) => return,
        };
        let dns = kind == "interface" && props.get("private_dns").and_then(Value::as_bool).unwrap_or(true);
        props.insert("endpoint_type".into(), Value::Str(kind));
        props.insert("private_dns".into(), Value::Bool(dns));
        let policy = normalised_policy(props.get("policy"));
        props.insert("policy".into(), policy);
        for k in ["route_tables", "subnets", "security_groups"] {
            if let Some(Value::List(l)) = props.get_mut(k) {
                l.sort_by_key(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
                l.dedup();
            }
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["vpc", "subnet", "security_group", "route_table"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "vpc-endpoint"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "CreateVpcEndpoint"), ("ec2", "ModifyVpcEndpoint"), ("ec2", "DeleteSubnet")])
    }
}

#[async_trait]
impl Kind for VpcEndpoint {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let all =
            crate::aws::all_items(client(cx).describe_vpc_endpoints().into_paginator().items().send()).await?;
        Ok(all
            .iter()
            .filter(|e| !matches!(state(e).as_deref(), Some("deleted" | "deleting" | "rejected" | "expired")))
            .map(|e| live(e, &cx.region))
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        let interface = text(p, "endpoint_type") == Some("interface");
        let service = full_service(&cx.region, text(p, "service").unwrap_or_default());
        let some = |v: Vec<String>| Some(v).filter(|v| !v.is_empty());
        // CreateVpcEndpoint takes a ClientToken: a repeated create returns the first endpoint.
        let op = client(cx)
            .create_vpc_endpoint()
            .set_vpc_id(text(p, "vpc").map(str::to_owned))
            .service_name(service)
            .vpc_endpoint_type(if interface { VpcEndpointType::Interface } else { VpcEndpointType::Gateway })
            .set_route_table_ids(some(list(p, "route_tables")).filter(|_| !interface))
            .set_subnet_ids(some(list(p, "subnets")).filter(|_| interface))
            .set_security_group_ids(some(list(p, "security_groups")).filter(|_| interface))
            .set_private_dns_enabled(interface.then(|| p.get("private_dns").and_then(Value::as_bool).unwrap_or(true)))
            .set_policy_document(policy_text(p))
            .client_token(req.token)
            .tag_specifications(ec2::tag_spec(ResourceType::VpcEndpoint, req.tags));
        let out = settle(cx, req.id, "the VPC, its route tables and subnets", || {
            let op = op.clone();
            async move { op.send().await.map_err(classify) }
        })
        .await?;
        let id = out
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .ok_or_else(|| AwsError::Failed("CreateVpcEndpoint returned no endpoint".into()))?;
        let mut l = live(&wait_ready(cx, req.id, id).await?, &cx.region);
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let converged = ["route_tables", "subnets", "security_groups", "private_dns", "policy"];
        if req.changed.iter().any(|c| converged.contains(&c.as_str())) {
            converge(cx, req.id, req.physical_id, req.new).await?;
        }
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        Ok(live(&describe_one(cx, req.physical_id).await?, &cx.region))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // DeleteVpcEndpoints answers 200 and lists per-endpoint failures in `Unsuccessful`.
        let out = client(cx).delete_vpc_endpoints().vpc_endpoint_ids(req.physical_id).send().await.map_err(classify);
        let out = match out {
            Err(AwsError::NotFound(_)) => return Ok(()),
            other => other?,
        };
        if let Some(err) = out.unsuccessful().iter().find_map(|u| u.error()) {
            let code = err.code().unwrap_or_default();
            if !code.contains("NotFound") {
                return Err(AwsError::Failed(format!(
                    "DeleteVpcEndpoints {}: {code}: {}",
                    req.physical_id,
                    err.message().unwrap_or_default()
                )));
            }
            return Ok(());
        }
        // An interface endpoint's network interfaces go while it is `deleting`; its subnets
        // and security groups can be deleted only after.
        let what = format!("deletion of VPC endpoint {}", req.physical_id);
        let describe = || async {
            match describe_one(cx, req.physical_id).await {
                Ok(e) => Ok(Some(e)),
                Err(AwsError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        };
        wait_gone(cx, req.id, &what, describe, |e: &SdkEndpoint| match state(e) {
            None => Poll::Ready(()),
            Some(s) if s == "deleted" => Poll::Ready(()),
            Some(s) => Poll::Pending(s),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::Client;
    use aws_sdk_ec2::operation::create_vpc_endpoint::CreateVpcEndpointOutput;
    use aws_sdk_ec2::operation::delete_vpc_endpoints::DeleteVpcEndpointsOutput;
    use aws_sdk_ec2::operation::describe_vpc_endpoints::{DescribeVpcEndpointsError, DescribeVpcEndpointsOutput};
    use aws_sdk_ec2::types::{LastError, State, UnsuccessfulItem, UnsuccessfulItemError};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::{Status, mocked};

    const ID: &str = "vpce-0123456789abcdef0";

    fn endpoint(state: State) -> SdkEndpoint {
        SdkEndpoint::builder()
            .vpc_endpoint_id(ID)
            .vpc_id("vpc-1")
            .service_name("com.amazonaws.us-east-1.s3")
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .route_table_ids("rtb-1")
            .state(state)
            .build()
    }

    fn described(e: SdkEndpoint) -> DescribeVpcEndpointsOutput {
        DescribeVpcEndpointsOutput::builder().vpc_endpoints(e).build()
    }

    fn not_found() -> DescribeVpcEndpointsError {
        DescribeVpcEndpointsError::generic(
            ErrorMetadata::builder().code("InvalidVpcEndpointId.NotFound").message("not found").build(),
        )
    }

    fn cx(rules: &[&Rule]) -> (Cx, Status) {
        mocked(mock_client!(aws_sdk_ec2, RuleMode::Sequential, rules))
    }

    fn props() -> Props {
        Props::from([
            ("vpc".to_string(), Value::str("vpc-1")),
            ("service".to_string(), Value::str("s3")),
            ("route_tables".to_string(), Value::List(vec![Value::str("rtb-1")])),
        ])
    }

    fn create_rule() -> Rule {
        mock!(Client::create_vpc_endpoint)
            .match_requests(|r| {
                r.client_token() == Some("token-1") && r.service_name() == Some("com.amazonaws.us-east-1.s3")
            })
            .then_output(|| CreateVpcEndpointOutput::builder().vpc_endpoint(endpoint(State::Pending)).build())
    }

    async fn create(rules: &[&Rule]) -> (Result<Live, AwsError>, Vec<String>) {
        let (cx, seen) = cx(rules);
        let (p, tags) = (props(), Tags::new());
        let req = CreateReq { id: "s3", props: &p, tags: &tags, token: "token-1" };
        let out = VpcEndpoint.create(&cx, &req).await;
        let seen = seen.lock().unwrap().clone();
        (out, seen)
    }

    #[tokio::test(start_paused = true)]
    async fn create_waits_while_not_visible_and_pending_until_available() {
        let describe = mock!(Client::describe_vpc_endpoints)
            .match_requests(|r| r.vpc_endpoint_ids() == [ID])
            .sequence()
            .error(not_found)
            .output(|| described(endpoint(State::Pending)))
            .output(|| described(endpoint(State::Available)))
            .build();
        let (live, seen) = create(&[&create_rule(), &describe]).await;
        let live = live.unwrap();
        assert_eq!(describe.num_calls(), 3);
        assert_eq!(live.physical_id, ID);
        assert_eq!(
            seen,
            [
                format!("s3: waiting for VPC endpoint {ID} (now not visible yet)"),
                format!("s3: waiting for VPC endpoint {ID} (now pending)")
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_endpoint_awaiting_acceptance_ends_the_wait_and_says_so() {
        let describe = mock!(Client::describe_vpc_endpoints)
            .then_output(|| described(endpoint(State::PendingAcceptance)));
        let (live, seen) = create(&[&create_rule(), &describe]).await;
        assert_eq!(live.unwrap().physical_id, ID);
        assert_eq!(seen, [format!("s3: VPC endpoint {ID} waits for the endpoint service's owner to accept it")]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_endpoint_ends_create_with_its_reason() {
        let describe = mock!(Client::describe_vpc_endpoints).then_output(|| {
            let mut e = endpoint(State::Failed);
            e.last_error = Some(LastError::builder().code("Failed").message("route table rtb-1 is full").build());
            described(e)
        });
        let (err, _) = create(&[&create_rule(), &describe]).await;
        assert_eq!(err.unwrap_err(), AwsError::Failed(format!("VPC endpoint {ID}: failed: route table rtb-1 is full")));
    }

    async fn delete(rules: &[&Rule]) -> Result<(), AwsError> {
        let (cx, _) = cx(rules);
        let (p, attrs) = (props(), Props::new());
        VpcEndpoint.delete(&cx, &DeleteReq { id: "s3", physical_id: ID, props: &p, attrs: &attrs }).await
    }

    #[tokio::test(start_paused = true)]
    async fn delete_waits_through_deleting_until_deleted() {
        let sent = mock!(Client::delete_vpc_endpoints)
            .match_requests(|r| r.vpc_endpoint_ids() == [ID])
            .then_output(|| DeleteVpcEndpointsOutput::builder().build());
        let describe = mock!(Client::describe_vpc_endpoints)
            .sequence()
            .output(|| described(endpoint(State::Deleting)))
            .times(2)
            .output(|| described(endpoint(State::Deleted)))
            .build();
        delete(&[&sent, &describe]).await.unwrap();
        assert_eq!((sent.num_calls(), describe.num_calls()), (1, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn delete_reads_the_failures_listed_in_a_successful_answer() {
        let unsuccessful = |code: &'static str| {
            mock!(Client::delete_vpc_endpoints).then_output(move || {
                let error = UnsuccessfulItemError::builder().code(code).message("no").build();
                let item = UnsuccessfulItem::builder().resource_id(ID).error(error).build();
                DeleteVpcEndpointsOutput::builder().unsuccessful(item).build()
            })
        };
        let describe = mock!(Client::describe_vpc_endpoints).then_error(not_found);
        // Gone already: done, nothing to wait for.
        delete(&[&unsuccessful("InvalidVpcEndpoint.NotFound"), &describe]).await.unwrap();
        assert_eq!(describe.num_calls(), 0);
        let err = delete(&[&unsuccessful("OperationNotPermitted"), &describe]).await.unwrap_err();
        assert_eq!(err, AwsError::Failed(format!("DeleteVpcEndpoints {ID}: OperationNotPermitted: no")));
    }
}

#[cfg(test)]
mod rule_tests {
    use super::*;
    use crate::spec::rules::testing::{problems, valid};

    const NET: &str = "  vpc: { type: vpc, cidr: 10.0.0.0/16 }
  quiet: { type: vpc, cidr: 10.1.0.0/16, enable_dns_hostnames: false }
  a: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.0.0/24, az: us-east-1a }
  a2: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.1.0/24, az: us-east-1a }
  b: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.2.0/24, az: us-east-1b }
  q: { type: subnet, vpc: '${quiet.id}', cidr: 10.1.0.0/24, az: us-east-1a }
  rt: { type: route_table, vpc: '${vpc.id}' }
";

    #[test]
    fn gateway_and_interface_endpoints_follow_awss_rules() {
        valid(&format!(
            "{NET}  s3: {{ type: vpc_endpoint, vpc: '${{vpc.id}}', service: s3, route_tables: ['${{rt.id}}'] }}
  ssm: {{ type: vpc_endpoint, vpc: '${{vpc.id}}', service: ssm, subnets: ['${{a.id}}', '${{b.id}}'] }}
  logs: {{ type: vpc_endpoint, vpc: '${{quiet.id}}', service: logs, subnets: ['${{q.id}}'], private_dns: false }}"
        ));
        let p = problems(&format!(
            "{NET}  g: {{ type: vpc_endpoint, vpc: '${{vpc.id}}', service: ssm, endpoint_type: gateway, subnets: ['${{a.id}}'] }}
  i: {{ type: vpc_endpoint, vpc: '${{vpc.id}}', service: ecr.api, route_tables: ['${{rt.id}}'], subnets: ['${{a.id}}', '${{a2.id}}'] }}
  full: {{ type: vpc_endpoint, vpc: '${{vpc.id}}', service: com.amazonaws.us-east-1.s3 }}
  far: {{ type: vpc_endpoint, vpc: '${{vpc.id}}', service: com.amazonaws.eu-west-1.s3 }}
  dns: {{ type: vpc_endpoint, vpc: '${{quiet.id}}', service: logs, subnets: ['${{q.id}}'] }}
  none: {{ type: vpc_endpoint, vpc: '${{vpc.id}}', service: sqs }}"
        ));
        for want in [
            "AWS has gateway endpoints for s3 and dynamodb only, not for `ssm`",
            "a gateway endpoint has no network interfaces: `subnets` is for interface endpoints",
            "`route_tables` is for gateway endpoints",
            "subnets 1 and 2 are both in us-east-1a",
            "write the service's short name, `s3`",
            "`com.amazonaws.eu-west-1.s3` is a service of eu-west-1",
            "private DNS needs the VPC's DNS support and DNS hostnames; `enable_dns_hostnames` is off",
            "an interface endpoint needs at least one subnet",
        ] {
            assert!(p.iter().any(|m| m.contains(want)), "{want}: {p:?}");
        }
        assert_eq!(p.len(), 8, "{p:?}");
    }

    #[test]
    fn stack_values_take_the_shape_aws_reports() {
        let mut gateway = Props::from([("service".to_string(), Value::str("s3"))]);
        VpcEndpoint.normalise("s", "e", &mut gateway);
        assert_eq!((&gateway["endpoint_type"], &gateway["private_dns"]), (&Value::str("gateway"), &Value::Bool(false)));
        let mut interface = Props::from([("service".to_string(), Value::str("ssm"))]);
        VpcEndpoint.normalise("s", "e", &mut interface);
        assert_eq!((&interface["endpoint_type"], &interface["private_dns"]), (&Value::str("interface"), &Value::Bool(true)));
        assert_eq!(short_service("us-east-1", "com.amazonaws.us-east-1.ecr.api"), "ecr.api");
        assert_eq!(full_service("eu-west-1", "s3"), "com.amazonaws.eu-west-1.s3");
        let partner = "com.amazonaws.vpce.us-east-1.vpce-svc-0123";
        assert_eq!((short_service("us-east-1", partner), full_service("us-east-1", partner).as_str()), (partner, partner));
        // AWS's default policy reads back as no policy of the stack's.
        let e = SdkEndpoint::builder()
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .service_name("com.amazonaws.us-east-1.s3")
            .policy_document(DEFAULT_POLICY)
            .private_dns_enabled(true)
            .build();
        let l = live(&e, "us-east-1");
        assert_eq!((&l.props["policy"], &l.props["private_dns"], &l.props["service"]), (&Value::Null, &Value::Bool(false), &Value::str("s3")));
    }
}
