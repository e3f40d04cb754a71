//! What keeps a VPC, subnet, security group or internet gateway from being deleted. AWS refuses
//! such a delete with `DependencyViolation` and names nothing, and the refusal means two
//! different things: AWS itself is still letting go of something (the ENIs of a deleted NAT
//! gateway, load balancer, Lambda function or ECS task linger for minutes), which waiting
//! fixes, or something nobody is deleting sits inside (a hand-made instance, group, route
//! table, endpoint), which it never does. After a refusal, and only then, this module looks
//! inside with one filtered describe per resource type and says which it is: still
//! [`AwsError::InUse`], naming what it waits for, or [`AwsError::Blocked`], naming each
//! blocker, who owns it, and the way out.

use std::collections::HashSet;
use std::fmt::{self, Write as _};

use aws_sdk_ec2::types::{
    Filter, Instance, InstanceStateName, InternetGateway, NatGateway, NatGatewayState, NetworkAcl, NetworkInterface,
    NetworkInterfaceType, RouteTable, SecurityGroup, State as EndpointState, Subnet, Tag, VpcEndpoint,
};

use super::{client, from_sdk};
use crate::aws::{AwsError, Cx, all_items};
use crate::kinds::{TAG_ID, TAG_LINEAGE, TAG_STACK, Tags};

/// The delete AWS refused, by what it waits on.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// DeleteVpc: everything in the VPC but what AWS made with it (the default security group,
    /// the main route table, the default network ACL), which goes with it.
    Vpc(&'a str),
    /// DeleteSubnet: the network interfaces in it, and the instances and NAT gateways they belong to.
    Subnet(&'a str),
    /// DeleteSecurityGroup: network interfaces and instances that use the group, and other
    /// groups whose rules name it.
    Group(&'a str),
    /// DetachInternetGateway: public addresses mapped in the VPC.
    Gateway { gateway: &'a str, vpc: &'a str },
}

impl Scope<'_> {
    /// Whether whatever of the stack's own is still in the way cannot be in its state. The
    /// executor deletes a VPC, subnet or group only after everything the state records as
    /// naming it, and what sits in one names it (a subnet its VPC, a NAT gateway its subnet, a
    /// load balancer its subnets and groups). Nothing names an internet gateway because of a
    /// public address in its VPC (a NAT gateway's Elastic IP, a load balancer): such a
    /// resource of the stack may still be on its way out in this very run.
    fn holders_deleted_first(&self) -> bool {
        !matches!(self, Scope::Gateway { .. })
    }

    fn heading(&self) -> String {
        match self {
            Scope::Vpc(_) => "In the VPC:".into(),
            Scope::Subnet(_) => "In the subnet:".into(),
            Scope::Group(_) => "Using the group:".into(),
            Scope::Gateway { vpc, .. } => format!("Holding public addresses in {vpc}:"),
        }
    }
}

/// `result` of a delete in `scope`, with a refusal (InUse) turned into what it really is: still
/// InUse while AWS is letting go of something, saying what; [`AwsError::Blocked`] when anything
/// else is in the way. Anything but a refusal passes through untouched, so a delete that works
/// costs no extra call.
pub async fn refused<T>(cx: &Cx, scope: Scope<'_>, result: Result<T, AwsError>) -> Result<T, AwsError> {
    match result {
        Err(AwsError::InUse(refusal)) => Err(explain(cx, scope, refusal).await),
        other => other,
    }
}

async fn explain(cx: &Cx, scope: Scope<'_>, refusal: String) -> AwsError {
    let inside = match look_inside(cx, scope).await {
        Ok(inside) => inside,
        // Without the lookup it is what it was before: something in use, retried for a while.
        Err(e) => return AwsError::InUse(format!("{refusal} (what holds it could not be looked up: {e})")),
    };
    let holders = holders(scope, inside);
    let needs_lineage = holders.iter().any(|h| match h {
        Holder::Stays(r) => r.tags.get(TAG_STACK) == Some(&cx.stack) && r.tags.contains_key(TAG_LINEAGE),
        Holder::Releasing(_) => false,
    });
    let lineage = if needs_lineage { own_lineage(cx, scope).await } else { None };
    let here =
        Here { stack: &cx.stack, region: &cx.region, lineage: lineage.as_deref(), account: cx.account.as_deref() };
    verdict(&here, scope, &refusal, holders)
}

// ---- the lookup: one filtered describe per resource type, all at once ------------------------

/// What the describes answered, as AWS gave it; only what the scope asks for is filled.
#[derive(Debug, Default)]
struct Inside {
    subnets: Vec<Subnet>,
    /// In the VPC (Vpc), or naming the group in a rule (Group).
    groups: Vec<SecurityGroup>,
    route_tables: Vec<RouteTable>,
    gateways: Vec<InternetGateway>,
    nat_gateways: Vec<NatGateway>,
    interfaces: Vec<NetworkInterface>,
    instances: Vec<Instance>,
    endpoints: Vec<VpcEndpoint>,
    acls: Vec<NetworkAcl>,
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

async fn look_inside(cx: &Cx, scope: Scope<'_>) -> Result<Inside, AwsError> {
    let ec2 = client(cx);
    let interfaces =
        |f: Filter| all_items(ec2.describe_network_interfaces().filters(f).into_paginator().items().send());
    let instances = |f: Filter| async {
        let reservations = all_items(ec2.describe_instances().filters(f).into_paginator().items().send()).await?;
        Ok(reservations.into_iter().flat_map(|r| r.instances.unwrap_or_default()).collect::<Vec<_>>())
    };
    let nat_gateways = |f: Filter| all_items(ec2.describe_nat_gateways().filter(f).into_paginator().items().send());
    let groups = |f: Filter| all_items(ec2.describe_security_groups().filters(f).into_paginator().items().send());
    Ok(match scope {
        Scope::Vpc(vpc) => {
            let by_vpc = || filter("vpc-id", vpc);
            let found = tokio::try_join!(
                all_items(ec2.describe_subnets().filters(by_vpc()).into_paginator().items().send()),
                groups(by_vpc()),
                all_items(ec2.describe_route_tables().filters(by_vpc()).into_paginator().items().send()),
                all_items(
                    ec2.describe_internet_gateways()
                        .filters(filter("attachment.vpc-id", vpc))
                        .into_paginator()
                        .items()
                        .send()
                ),
                nat_gateways(by_vpc()),
                interfaces(by_vpc()),
                instances(by_vpc()),
                all_items(ec2.describe_vpc_endpoints().filters(by_vpc()).into_paginator().items().send()),
                all_items(
                    ec2.describe_network_acls()
                        .filters(by_vpc())
                        .filters(filter("default", "false"))
                        .into_paginator()
                        .items()
                        .send()
                ),
            )?;
            let (subnets, groups, route_tables, gateways, nat_gateways, interfaces, instances, endpoints, acls) = found;
            Inside { subnets, groups, route_tables, gateways, nat_gateways, interfaces, instances, endpoints, acls }
        }
        Scope::Subnet(subnet) => {
            let by_subnet = || filter("subnet-id", subnet);
            let (interfaces, instances, nat_gateways) =
                tokio::try_join!(interfaces(by_subnet()), instances(by_subnet()), nat_gateways(by_subnet()))?;
            Inside { interfaces, instances, nat_gateways, ..Inside::default() }
        }
        Scope::Group(group) => {
            let (interfaces, instances, ingress, egress) = tokio::try_join!(
                interfaces(filter("group-id", group)),
                instances(filter("instance.group-id", group)),
                groups(filter("ip-permission.group-id", group)),
                groups(filter("egress.ip-permission.group-id", group)),
            )?;
            let mut groups = ingress;
            for e in egress {
                if !groups.iter().any(|g| g.group_id() == e.group_id()) {
                    groups.push(e);
                }
            }
            Inside { interfaces, instances, groups, ..Inside::default() }
        }
        Scope::Gateway { vpc, .. } => {
            let by_vpc = || filter("vpc-id", vpc);
            let (interfaces, instances, nat_gateways) =
                tokio::try_join!(interfaces(by_vpc()), instances(by_vpc()), nat_gateways(by_vpc()))?;
            Inside { interfaces, instances, nat_gateways, ..Inside::default() }
        }
    })
}

/// The `rprov:lineage` of the resource being deleted: which deployment of the stack this run
/// is. None when it carries none or cannot be read (then the stack's name alone decides).
async fn own_lineage(cx: &Cx, scope: Scope<'_>) -> Option<String> {
    let ec2 = client(cx);
    let tags = match scope {
        Scope::Vpc(id) => ec2.describe_vpcs().vpc_ids(id).send().await.ok()?.vpcs?.pop()?.tags,
        Scope::Subnet(id) => ec2.describe_subnets().subnet_ids(id).send().await.ok()?.subnets?.pop()?.tags,
        Scope::Group(id) => {
            ec2.describe_security_groups().group_ids(id).send().await.ok()?.security_groups?.pop()?.tags
        }
        Scope::Gateway { gateway, .. } => {
            let out = ec2.describe_internet_gateways().internet_gateway_ids(gateway).send().await.ok()?;
            out.internet_gateways?.pop()?.tags
        }
    };
    from_sdk(&tags.unwrap_or_default()).get(TAG_LINEAGE).cloned()
}

// ---- what holds it ------------------------------------------------------------------------

/// One thing in the way of the delete.
#[derive(Debug, PartialEq)]
enum Holder {
    /// AWS is letting go of it by itself; the text says what is awaited.
    Releasing(String),
    /// It stays until someone deletes it.
    Stays(Resource),
}

#[derive(Debug, PartialEq)]
struct Resource {
    what: &'static str,
    id: String,
    tags: Tags,
    /// The `Name` tag, or for a group without one its group name.
    name: Option<String>,
    /// Its state, or what it is attached to.
    detail: Option<String>,
    /// The rprov kind that manages this type (what `rprov teardown` can delete and a stack can
    /// adopt); None for types rprov has no kind for.
    kind: Option<&'static str>,
}

impl Resource {
    fn new(what: &'static str, kind: Option<&'static str>, id: Option<&str>, tags: &[Tag]) -> Resource {
        let tags = from_sdk(tags);
        let name = tags.get("Name").cloned();
        Resource { what, id: id.unwrap_or_default().to_owned(), tags, name, detail: None, kind }
    }

    fn detail(mut self, detail: impl Into<String>) -> Resource {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.what, self.id)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ", {detail}")?;
        }
        let owner: Vec<String> = [TAG_STACK, TAG_ID, TAG_LINEAGE]
            .iter()
            .filter_map(|k| Some(format!("{k}={}", self.tags.get(*k)?)))
            .collect();
        if owner.is_empty() { write!(f, " (no rprov tags)") } else { write!(f, " ({})", owner.join(", ")) }
    }
}

fn public_ip(i: &NetworkInterface) -> Option<&str> {
    i.association().and_then(|a| a.public_ip())
}

/// Sorts what the lookup found into holders. An instance, NAT gateway or endpoint stands for
/// its own network interfaces (named once, by what can be deleted); any other interface is
/// judged by what it says of itself.
fn holders(scope: Scope<'_>, mut inside: Inside) -> Vec<Holder> {
    if let Scope::Gateway { .. } = scope {
        // Only a mapped public address keeps a gateway attached.
        inside.interfaces.retain(|i| public_ip(i).is_some());
    }
    // In a VPC, subnet or group an instance or NAT gateway holds it by being there; for a
    // gateway only through an interface with a public address.
    let owners_hold = !matches!(scope, Scope::Gateway { .. });
    let present: HashSet<&str> = inside.interfaces.iter().filter_map(|i| i.network_interface_id()).collect();
    let mut claimed: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();

    for i in &inside.instances {
        let id = i.instance_id().unwrap_or_default();
        let mut enis: Vec<&str> = i.network_interfaces().iter().filter_map(|n| n.network_interface_id()).collect();
        enis.extend(
            inside
                .interfaces
                .iter()
                .filter(|n| n.attachment().and_then(|a| a.instance_id()) == Some(id))
                .filter_map(|n| n.network_interface_id()),
        );
        enis.retain(|e| present.contains(e));
        enis.sort_unstable();
        enis.dedup();
        claimed.extend(&enis);
        if !owners_hold && enis.is_empty() {
            continue;
        }
        match i.state().and_then(|s| s.name()) {
            Some(InstanceStateName::Terminated) => out.extend(
                enis.iter().map(|e| Holder::Releasing(format!("AWS to release {e} of terminated instance {id}"))),
            ),
            Some(InstanceStateName::ShuttingDown) => {
                out.push(Holder::Releasing(format!("instance {id} to finish terminating")))
            }
            state => out.push(Holder::Stays(
                Resource::new("instance", None, Some(id), i.tags())
                    .detail(state.map_or("state unknown", |s| s.as_str()).to_owned()),
            )),
        }
    }

    for n in &inside.nat_gateways {
        let id = n.nat_gateway_id().unwrap_or_default();
        let enis: Vec<&str> = n
            .nat_gateway_addresses()
            .iter()
            .filter_map(|a| a.network_interface_id())
            .filter(|e| present.contains(e))
            .collect();
        claimed.extend(&enis);
        if !owners_hold && enis.is_empty() {
            continue;
        }
        match n.state() {
            Some(NatGatewayState::Deleted | NatGatewayState::Failed) => out.extend(
                enis.iter().map(|e| Holder::Releasing(format!("AWS to release {e} of deleted NAT gateway {id}"))),
            ),
            Some(NatGatewayState::Deleting) => {
                out.push(Holder::Releasing(format!("AWS to finish deleting NAT gateway {id}")))
            }
            state => out.push(Holder::Stays(
                Resource::new("NAT gateway", Some("nat_gateway"), Some(id), n.tags())
                    .detail(state.map_or("state unknown", |s| s.as_str()).to_owned()),
            )),
        }
    }

    for e in &inside.endpoints {
        let id = e.vpc_endpoint_id().unwrap_or_default();
        let enis: Vec<&str> =
            e.network_interface_ids().iter().map(String::as_str).filter(|e| present.contains(e)).collect();
        claimed.extend(&enis);
        match e.state() {
            Some(EndpointState::Deleted | EndpointState::Rejected | EndpointState::Failed | EndpointState::Expired) => {
                out.extend(
                    enis.iter().map(|n| Holder::Releasing(format!("AWS to release {n} of deleted VPC endpoint {id}"))),
                )
            }
            Some(EndpointState::Deleting) => {
                out.push(Holder::Releasing(format!("AWS to finish deleting VPC endpoint {id}")))
            }
            _ => out.push(Holder::Stays(
                Resource::new("VPC endpoint", None, Some(id), e.tags())
                    .detail(e.service_name().unwrap_or("service unknown").to_owned()),
            )),
        }
    }

    for i in inside.interfaces.iter().filter(|i| !i.network_interface_id().is_some_and(|e| claimed.contains(e))) {
        out.push(interface(i));
    }

    for s in &inside.subnets {
        let r = Resource::new("subnet", Some("subnet"), s.subnet_id(), s.tags());
        out.push(Holder::Stays(match s.cidr_block() {
            Some(cidr) => r.detail(cidr),
            None => r,
        }));
    }

    for g in &inside.groups {
        let id = g.group_id().unwrap_or_default();
        // AWS deletes a VPC's default group with it; a group may name itself in its rules.
        let skip = match scope {
            Scope::Vpc(_) => g.group_name() == Some("default"),
            Scope::Group(me) => id == me,
            _ => false,
        };
        if skip {
            continue;
        }
        let mut r = Resource::new("security group", Some("security_group"), Some(id), g.tags());
        if r.name.is_none() {
            r.name = g.group_name().map(str::to_owned);
        }
        if let Scope::Group(me) = scope {
            r = r.detail(format!("its rules name {me}"));
        }
        out.push(Holder::Stays(r));
    }

    for t in &inside.route_tables {
        // The main route table goes with its VPC.
        if t.associations().iter().any(|a| a.main() == Some(true)) {
            continue;
        }
        out.push(Holder::Stays(Resource::new("route table", Some("route_table"), t.route_table_id(), t.tags())));
    }

    for g in &inside.gateways {
        let r = Resource::new("internet gateway", Some("internet_gateway"), g.internet_gateway_id(), g.tags());
        out.push(Holder::Stays(r.detail("attached")));
    }

    for a in inside.acls.iter().filter(|a| a.is_default() != Some(true)) {
        out.push(Holder::Stays(Resource::new("network ACL", None, a.network_acl_id(), a.tags())));
    }
    out
}

/// A network interface no instance, NAT gateway or endpoint found here accounts for. Those AWS
/// manages for a service (`requester_managed`, or a type only AWS creates) go when their owner
/// is gone; AWS releases them, late: a Lambda function's after up to 20 minutes, a load
/// balancer's or task's after a few
/// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/requester-managed-eni.html). An
/// endpoint's or transit gateway attachment's interface stays until that is deleted; any other
/// was made by hand, or belongs to an instance this lookup did not see.
fn interface(i: &NetworkInterface) -> Holder {
    let id = i.network_interface_id().unwrap_or_default();
    let description = i.description().filter(|d| !d.is_empty());
    let of = |what: &str| Holder::Releasing(format!("AWS to release {id} of {what}"));
    let owner = description.map(|d| format!("{d:?}"));
    let stays = || {
        let r = Resource::new("network interface", None, Some(id), i.tag_set());
        let attached = i.attachment().and_then(|a| a.instance_id()).map(|x| format!("attached to {x}"));
        match [attached, owner.clone()].into_iter().flatten().collect::<Vec<_>>() {
            d if d.is_empty() => r,
            d => r.detail(d.join(", ")),
        }
    };
    match i.interface_type() {
        Some(
            NetworkInterfaceType::VpcEndpoint
            | NetworkInterfaceType::GatewayLoadBalancerEndpoint
            | NetworkInterfaceType::TransitGateway,
        ) => Holder::Stays(stays()),
        Some(NetworkInterfaceType::NatGateway) => of(owner.as_deref().unwrap_or("a NAT gateway that is gone")),
        Some(NetworkInterfaceType::Lambda) => {
            of(&format!("a Lambda function{}", owner.map(|o| format!(" ({o})")).unwrap_or_default()))
        }
        _ if i.requester_managed() == Some(true) => of(owner.as_deref().unwrap_or("an AWS service")),
        Some(
            NetworkInterfaceType::NetworkLoadBalancer
            | NetworkInterfaceType::GatewayLoadBalancer
            | NetworkInterfaceType::LoadBalancer
            | NetworkInterfaceType::ApiGatewayManaged
            | NetworkInterfaceType::Quicksight
            | NetworkInterfaceType::IotRulesManaged
            | NetworkInterfaceType::GlobalAcceleratorManaged
            | NetworkInterfaceType::AwsCodestarConnectionsManaged,
        ) => of(owner.as_deref().unwrap_or("an AWS service")),
        _ => Holder::Stays(stays()),
    }
}

// ---- the verdict ------------------------------------------------------------------------

/// Who is asking: the stack, its region, and (when told) the deployment's lineage.
struct Here<'a> {
    stack: &'a str,
    region: &'a str,
    lineage: Option<&'a str>,
    /// The account the run acts in, where known: teardown asks for it.
    account: Option<&'a str>,
}

enum Owner<'a> {
    /// Tagged for this stack (and this deployment, where both tell their lineage).
    ThisStack,
    OtherDeployment(&'a str),
    OtherStack(&'a str),
    Nobody,
}

fn owner<'a>(tags: &'a Tags, here: &Here<'_>) -> Owner<'a> {
    match tags.get(TAG_STACK) {
        None => Owner::Nobody,
        Some(s) if s != here.stack => Owner::OtherStack(s),
        Some(_) => match (tags.get(TAG_LINEAGE), here.lineage) {
            (Some(theirs), Some(ours)) if theirs != ours => Owner::OtherDeployment(theirs),
            _ => Owner::ThisStack,
        },
    }
}

/// The way out for one blocker.
fn advice(r: &Resource, here: &Here<'_>) -> String {
    match owner(&r.tags, here) {
        Owner::Nobody => "it is not rprov's: delete it (or move it out) by hand, then run rprov again".into(),
        Owner::OtherStack(s) => {
            format!("it belongs to rprov stack `{s}`: destroy that stack (or remove it from it) first")
        }
        Owner::OtherDeployment(l) => format!(
            "it belongs to another deployment of stack `{}` (rprov:lineage={l}, with a state of its own): destroy \
             that deployment first, or delete it by hand",
            here.stack
        ),
        Owner::ThisStack => format!(
            "it was made for this stack but is not in its state (a run that crashed, or a resource made by hand \
             with the stack's tags): {}",
            own_way_out(r, here)
        ),
    }
}

/// How a resource tagged for this stack but not in its state goes: by `rprov teardown` singling
/// it out by its tags, where rprov has a kind for it and it has a logical id.
fn own_way_out(r: &Resource, here: &Here<'_>) -> String {
    match (r.kind, r.tags.get(TAG_ID)) {
        (Some(_), Some(id)) => {
            let mut teardown = format!("rprov teardown --stack {} --tag rprov:id={id}", here.stack);
            if let Some(l) = r.tags.get(TAG_LINEAGE) {
                let _ = write!(teardown, " --tag rprov:lineage={l}");
            }
            let _ = write!(teardown, " --account {} --region {}", here.account.unwrap_or("<account id>"), here.region);
            format!("`{teardown}` removes it, or add it to the stack as `{id}` to adopt it")
        }
        (None, _) => "rprov has no kind for it: delete it by hand, then run rprov again".into(),
        (Some(_), None) => "it has no rprov:id: delete it by hand, then run rprov again".into(),
    }
}

/// How many blockers a message names, and how many things waited for, before it counts the rest.
const LISTED: usize = 20;
const WAITS: usize = 5;

fn verdict(here: &Here<'_>, scope: Scope<'_>, refusal: &str, holders: Vec<Holder>) -> AwsError {
    let refusal = if refusal.ends_with('.') { refusal.to_owned() } else { format!("{refusal}.") };
    let mut waits = Vec::new();
    let mut stays = Vec::new();
    for h in holders {
        match h {
            Holder::Releasing(w) => waits.push(w),
            Holder::Stays(r) if !scope.holders_deleted_first() && matches!(owner(&r.tags, here), Owner::ThisStack) => {
                waits.push(format!(
                    "{r} to be deleted (if this stack's state does not have it: {})",
                    own_way_out(&r, here)
                ))
            }
            Holder::Stays(r) => stays.push(r),
        }
    }
    if !stays.is_empty() {
        stays.sort_by(|a, b| (a.what, &a.id).cmp(&(b.what, &b.id)));
        let mut text = format!("{refusal} {}", scope.heading());
        for r in stays.iter().take(LISTED) {
            let _ = write!(text, "\n    - {r}: {}", advice(r, here));
        }
        if stays.len() > LISTED {
            let _ = write!(text, "\n    - and {} more", stays.len() - LISTED);
        }
        return AwsError::Blocked(text);
    }
    if waits.is_empty() {
        return AwsError::InUse(format!(
            "{refusal} Nothing holding it is listed now (just released, or not visible yet)."
        ));
    }
    waits.sort();
    waits.dedup();
    let more = waits.len().saturating_sub(WAITS);
    waits.truncate(WAITS);
    let mut text = format!("{refusal} Waiting for {}", waits.join("; for "));
    if more > 0 {
        let _ = write!(text, "; and {more} more");
    }
    text.push('.');
    AwsError::InUse(text)
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::Client;
    use aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupError;
    use aws_sdk_ec2::operation::delete_subnet::DeleteSubnetError;
    use aws_sdk_ec2::operation::delete_vpc::{DeleteVpcError, DeleteVpcOutput};
    use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
    use aws_sdk_ec2::operation::describe_internet_gateways::DescribeInternetGatewaysOutput;
    use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
    use aws_sdk_ec2::operation::describe_network_acls::DescribeNetworkAclsOutput;
    use aws_sdk_ec2::operation::describe_network_interfaces::{
        DescribeNetworkInterfacesError, DescribeNetworkInterfacesOutput,
    };
    use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
    use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
    use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
    use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput;
    use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
    use aws_sdk_ec2::operation::detach_internet_gateway::DetachInternetGatewayError;
    use aws_sdk_ec2::types::{
        InstanceState, InternetGatewayAttachment, NatGatewayAddress, NetworkAclAssociation,
        NetworkInterfaceAssociation, NetworkInterfaceAttachment, Reservation, RouteTableAssociation, Vpc,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::aws::WaitConfig;
    use crate::kinds::testing::mocked_as;
    use crate::kinds::{DeleteReq, kind};
    use crate::value::Props;

    fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
        pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build()).collect()
    }

    fn violation(what: &str) -> ErrorMetadata {
        let message = format!("The {what} has dependencies and cannot be deleted.");
        ErrorMetadata::builder().code("DependencyViolation").message(message).build()
    }

    /// The refusal of the delete of `kind` (for an internet gateway: of its detach, after the
    /// describe that finds it attached to vpc-1).
    fn refusal(kind: &str) -> Vec<Rule> {
        match kind {
            "vpc" => vec![mock!(Client::delete_vpc).then_error(|| DeleteVpcError::generic(violation("vpc 'vpc-1'")))],
            "subnet" => {
                vec![
                    mock!(Client::delete_subnet)
                        .then_error(|| DeleteSubnetError::generic(violation("subnet 'subnet-1'"))),
                ]
            }
            "security_group" => vec![
                mock!(Client::delete_security_group)
                    .then_error(|| DeleteSecurityGroupError::generic(violation("security group 'sg-1'"))),
            ],
            "internet_gateway" => vec![
                mock!(Client::detach_internet_gateway)
                    .then_error(|| DetachInternetGatewayError::generic(violation("network vpc-1"))),
                mock!(Client::describe_internet_gateways)
                    .match_requests(|r| !r.internet_gateway_ids().is_empty())
                    .then_output(|| {
                        let attached = InternetGatewayAttachment::builder().vpc_id("vpc-1").build();
                        let g = InternetGateway::builder()
                            .internet_gateway_id("igw-1")
                            .attachments(attached)
                            .set_tags(Some(tags(&[("rprov:stack", "net"), ("rprov:lineage", "L1")])))
                            .build();
                        DescribeInternetGatewaysOutput::builder().internet_gateways(g).build()
                    }),
            ],
            other => panic!("no refusal for {other}"),
        }
    }

    /// Every describe a lookup makes, answering nothing; rules listed before these win.
    fn nothing_else() -> Vec<Rule> {
        vec![
            mock!(Client::describe_subnets).then_output(|| DescribeSubnetsOutput::builder().build()),
            mock!(Client::describe_security_groups).then_output(|| DescribeSecurityGroupsOutput::builder().build()),
            mock!(Client::describe_route_tables).then_output(|| DescribeRouteTablesOutput::builder().build()),
            mock!(Client::describe_internet_gateways).then_output(|| DescribeInternetGatewaysOutput::builder().build()),
            mock!(Client::describe_nat_gateways).then_output(|| DescribeNatGatewaysOutput::builder().build()),
            mock!(Client::describe_network_interfaces)
                .then_output(|| DescribeNetworkInterfacesOutput::builder().build()),
            mock!(Client::describe_instances).then_output(|| DescribeInstancesOutput::builder().build()),
            mock!(Client::describe_vpc_endpoints).then_output(|| DescribeVpcEndpointsOutput::builder().build()),
            mock!(Client::describe_network_acls).then_output(|| DescribeNetworkAclsOutput::builder().build()),
            mock!(Client::describe_vpcs).then_output(|| DescribeVpcsOutput::builder().build()),
        ]
    }

    /// The delete of `kind` "x-1" in stack `net` (region us-east-1), refused by AWS, with the
    /// describes answering `found` (and nothing else).
    async fn delete_refused(kind_name: &str, found: Vec<Rule>) -> AwsError {
        let rules: Vec<Rule> = refusal(kind_name).into_iter().chain(found).chain(nothing_else()).collect();
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules.iter().collect::<Vec<_>>());
        let cx = mocked_as("net", WaitConfig::default(), client).0;
        let pid = match kind_name {
            "vpc" => "vpc-1",
            "subnet" => "subnet-1",
            "security_group" => "sg-1",
            _ => "igw-1",
        };
        let none = Props::new();
        let req = DeleteReq { id: "x", physical_id: pid, props: &none, attrs: &none };
        kind(kind_name).unwrap().delete(&cx, &req).await.unwrap_err()
    }

    fn interfaces(found: Vec<NetworkInterface>) -> Rule {
        mock!(Client::describe_network_interfaces).then_output(move || {
            DescribeNetworkInterfacesOutput::builder().set_network_interfaces(Some(found.clone())).build()
        })
    }

    fn nat_gateways(found: Vec<NatGateway>) -> Rule {
        mock!(Client::describe_nat_gateways)
            .then_output(move || DescribeNatGatewaysOutput::builder().set_nat_gateways(Some(found.clone())).build())
    }

    fn groups(found: Vec<SecurityGroup>) -> Rule {
        mock!(Client::describe_security_groups).then_output(move || {
            DescribeSecurityGroupsOutput::builder().set_security_groups(Some(found.clone())).build()
        })
    }

    fn route_tables(found: Vec<RouteTable>) -> Rule {
        mock!(Client::describe_route_tables)
            .then_output(move || DescribeRouteTablesOutput::builder().set_route_tables(Some(found.clone())).build())
    }

    fn nat(state: NatGatewayState, eni: &str, owner: &[(&str, &str)]) -> NatGateway {
        NatGateway::builder()
            .nat_gateway_id("nat-1")
            .state(state)
            .nat_gateway_addresses(NatGatewayAddress::builder().network_interface_id(eni).public_ip("3.3.3.3").build())
            .set_tags(Some(tags(owner)))
            .build()
    }

    fn nat_eni(id: &str) -> NetworkInterface {
        NetworkInterface::builder()
            .network_interface_id(id)
            .requester_managed(true)
            .interface_type(NetworkInterfaceType::NatGateway)
            .description("Interface for NAT Gateway nat-1")
            .association(NetworkInterfaceAssociation::builder().public_ip("3.3.3.3").build())
            .build()
    }

    fn blocked(e: AwsError) -> String {
        match e {
            AwsError::Blocked(m) => m,
            other => panic!("not Blocked: {other:?}"),
        }
    }

    fn in_use(e: AwsError) -> String {
        match e {
            AwsError::InUse(m) => m,
            other => panic!("not InUse: {other:?}"),
        }
    }

    #[tokio::test]
    async fn vpc_waits_while_aws_releases_the_eni_of_a_deleted_nat_gateway() {
        let found =
            vec![interfaces(vec![nat_eni("eni-1")]), nat_gateways(vec![nat(NatGatewayState::Deleted, "eni-1", &[])])];
        let m = in_use(delete_refused("vpc", found).await);
        assert_eq!(
            m,
            "DependencyViolation: The vpc 'vpc-1' has dependencies and cannot be deleted. \
             Waiting for AWS to release eni-1 of deleted NAT gateway nat-1."
        );
    }

    #[tokio::test]
    async fn vpc_with_another_stacks_group_is_blocked_at_once() {
        let g = SecurityGroup::builder()
            .group_id("sg-9")
            .group_name("web")
            .set_tags(Some(tags(&[("rprov:stack", "other"), ("rprov:id", "web")])))
            .build();
        let default = SecurityGroup::builder().group_id("sg-0").group_name("default").build();
        let m = blocked(delete_refused("vpc", vec![groups(vec![default, g])]).await);
        assert_eq!(
            m,
            "DependencyViolation: The vpc 'vpc-1' has dependencies and cannot be deleted. In the VPC:\n    \
             - security group sg-9 \"web\" (rprov:stack=other, rprov:id=web): it belongs to rprov stack `other`: \
             destroy that stack (or remove it from it) first"
        );
    }

    #[tokio::test]
    async fn vpc_with_a_route_table_of_this_stack_points_to_teardown() {
        let main = RouteTable::builder()
            .route_table_id("rtb-0")
            .associations(RouteTableAssociation::builder().main(true).build())
            .build();
        let stray = RouteTable::builder()
            .route_table_id("rtb-7")
            .set_tags(Some(tags(&[("Name", "private"), ("rprov:stack", "net"), ("rprov:id", "private_routes")])))
            .build();
        let m = blocked(delete_refused("vpc", vec![route_tables(vec![main, stray])]).await);
        assert_eq!(
            m,
            "DependencyViolation: The vpc 'vpc-1' has dependencies and cannot be deleted. In the VPC:\n    \
             - route table rtb-7 \"private\" (rprov:stack=net, rprov:id=private_routes): it was made for this \
             stack but is not in its state (a run that crashed, or a resource made by hand with the stack's tags): \
             `rprov teardown --stack net --tag rprov:id=private_routes --account <account id> --region us-east-1` removes it, or add it \
             to the stack as `private_routes` to adopt it"
        );
    }

    /// A resource of this stack's name but another deployment (another state's lineage) is
    /// not this state's to tear down: the VPC's own lineage tells them apart.
    #[tokio::test]
    async fn a_route_table_of_another_deployment_is_not_offered_to_teardown() {
        let vpc = mock!(Client::describe_vpcs).then_output(|| {
            let v =
                Vpc::builder().vpc_id("vpc-1").set_tags(Some(tags(&[("rprov:stack", "net"), ("rprov:lineage", "L1")])));
            DescribeVpcsOutput::builder().vpcs(v.build()).build()
        });
        let theirs = RouteTable::builder()
            .route_table_id("rtb-8")
            .set_tags(Some(tags(&[("rprov:stack", "net"), ("rprov:id", "routes"), ("rprov:lineage", "L2")])))
            .build();
        let m = blocked(delete_refused("vpc", vec![vpc, route_tables(vec![theirs])]).await);
        assert!(m.contains("it belongs to another deployment of stack `net` (rprov:lineage=L2"), "{m}");
        assert!(!m.contains("teardown"), "{m}");
    }

    #[tokio::test]
    async fn group_named_by_another_groups_rules_is_blocked() {
        let me = SecurityGroup::builder().group_id("sg-1").group_name("self-referencing").build();
        let other = SecurityGroup::builder().group_id("sg-2").group_name("hand-made").build();
        let m = blocked(delete_refused("security_group", vec![groups(vec![me, other])]).await);
        assert_eq!(
            m,
            "DependencyViolation: The security group 'sg-1' has dependencies and cannot be deleted. Using the \
             group:\n    - security group sg-2 \"hand-made\", its rules name sg-1 (no rprov tags): it is not \
             rprov's: delete it (or move it out) by hand, then run rprov again"
        );
    }

    #[tokio::test]
    async fn group_waits_for_a_load_balancers_lingering_eni() {
        let eni = NetworkInterface::builder()
            .network_interface_id("eni-3")
            .requester_managed(true)
            .interface_type(NetworkInterfaceType::Interface)
            .description("ELB app/web/0123")
            .build();
        let m = in_use(delete_refused("security_group", vec![interfaces(vec![eni])]).await);
        assert!(m.ends_with("Waiting for AWS to release eni-3 of \"ELB app/web/0123\"."), "{m}");
    }

    #[tokio::test]
    async fn subnet_with_a_hand_made_eni_is_blocked() {
        let eni = NetworkInterface::builder()
            .network_interface_id("eni-5")
            .interface_type(NetworkInterfaceType::Interface)
            .description("debugging")
            .set_tag_set(Some(tags(&[("Name", "probe")])))
            .build();
        let m = blocked(delete_refused("subnet", vec![interfaces(vec![eni])]).await);
        assert_eq!(
            m,
            "DependencyViolation: The subnet 'subnet-1' has dependencies and cannot be deleted. In the subnet:\n    \
             - network interface eni-5 \"probe\", \"debugging\" (no rprov tags): it is not rprov's: delete it (or \
             move it out) by hand, then run rprov again"
        );
    }

    #[tokio::test]
    async fn subnet_with_a_running_instance_names_the_instance_not_its_eni() {
        let eni = NetworkInterface::builder()
            .network_interface_id("eni-6")
            .attachment(NetworkInterfaceAttachment::builder().instance_id("i-1").build())
            .build();
        let instances = mock!(Client::describe_instances).then_output(|| {
            let i = Instance::builder()
                .instance_id("i-1")
                .state(InstanceState::builder().name(InstanceStateName::Running).build())
                .set_tags(Some(tags(&[("Name", "bastion")])))
                .build();
            DescribeInstancesOutput::builder().reservations(Reservation::builder().instances(i).build()).build()
        });
        let m = blocked(delete_refused("subnet", vec![interfaces(vec![eni]), instances]).await);
        assert!(m.contains("\n    - instance i-1 \"bastion\", running (no rprov tags): it is not rprov's"), "{m}");
        assert!(!m.contains("eni-6"), "{m}");
    }

    /// Nothing of the stack names its internet gateway for a public address: its NAT gateway may
    /// still be on its way out in this run, so the detach waits for it.
    #[tokio::test]
    async fn gateway_waits_for_this_stacks_nat_gateway_but_not_for_a_hand_made_address() {
        let ours = [("rprov:stack", "net"), ("rprov:id", "nat"), ("rprov:lineage", "L1")];
        let found = vec![
            interfaces(vec![nat_eni("eni-1")]),
            nat_gateways(vec![nat(NatGatewayState::Available, "eni-1", &ours)]),
        ];
        let m = in_use(delete_refused("internet_gateway", found).await);
        assert_eq!(
            m,
            "DependencyViolation: The network vpc-1 has dependencies and cannot be deleted. Waiting for NAT \
             gateway nat-1, available (rprov:stack=net, rprov:id=nat, rprov:lineage=L1) to be deleted (if this \
             stack's state does not have it: `rprov teardown --stack net --tag rprov:id=nat --tag \
             rprov:lineage=L1 --account <account id> --region us-east-1` removes it, or add it to the stack as `nat` to adopt it)."
        );

        let public = NetworkInterface::builder()
            .network_interface_id("eni-9")
            .association(NetworkInterfaceAssociation::builder().public_ip("4.4.4.4").build())
            .build();
        let private = NetworkInterface::builder().network_interface_id("eni-8").build();
        let m = blocked(delete_refused("internet_gateway", vec![interfaces(vec![public, private])]).await);
        assert!(m.contains("Holding public addresses in vpc-1:\n    - network interface eni-9 (no rprov tags)"), "{m}");
        assert!(!m.contains("eni-8"), "{m}");
    }

    #[tokio::test]
    async fn what_aws_keeps_in_a_vpc_holds_nothing() {
        let acl = mock!(Client::describe_network_acls).then_output(|| {
            // The filter `default=false` leaves the default ACL out; were it listed, it is still skipped.
            let a = NetworkAcl::builder()
                .network_acl_id("acl-0")
                .is_default(true)
                .associations(NetworkAclAssociation::builder().subnet_id("subnet-1").build())
                .build();
            DescribeNetworkAclsOutput::builder().network_acls(a).build()
        });
        let default = SecurityGroup::builder().group_id("sg-0").group_name("default").build();
        let main = RouteTable::builder()
            .route_table_id("rtb-0")
            .associations(RouteTableAssociation::builder().main(true).build())
            .build();
        let m = in_use(delete_refused("vpc", vec![acl, groups(vec![default]), route_tables(vec![main])]).await);
        assert!(m.ends_with("Nothing holding it is listed now (just released, or not visible yet)."), "{m}");
    }

    #[tokio::test]
    async fn a_lookup_that_fails_leaves_the_refusal_in_use() {
        let denied = mock!(Client::describe_network_interfaces).then_error(|| {
            DescribeNetworkInterfacesError::generic(
                ErrorMetadata::builder().code("UnauthorizedOperation").message("not allowed").build(),
            )
        });
        let m = in_use(delete_refused("subnet", vec![denied]).await);
        assert!(m.contains("(what holds it could not be looked up: UnauthorizedOperation: not allowed)"), "{m}");
    }

    #[tokio::test]
    async fn a_delete_that_works_looks_nothing_up() {
        let delete = mock!(Client::delete_vpc).then_output(|| DeleteVpcOutput::builder().build());
        let describes = nothing_else();
        let rules: Vec<&Rule> = std::iter::once(&delete).chain(&describes).collect();
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
        let cx = mocked_as("net", WaitConfig::default(), client).0;
        let none = Props::new();
        let req = DeleteReq { id: "vpc", physical_id: "vpc-1", props: &none, attrs: &none };
        kind("vpc").unwrap().delete(&cx, &req).await.unwrap();
        assert_eq!(delete.num_calls(), 1);
        assert_eq!(describes.iter().map(Rule::num_calls).sum::<usize>(), 0);
    }

    /// What an interface nothing else accounts for says about itself decides.
    #[test]
    fn interfaces_of_aws_services_are_waited_for_and_others_block() {
        let check = |b: aws_sdk_ec2::types::builders::NetworkInterfaceBuilder, waits: bool| {
            let i = b.network_interface_id("eni-1").build();
            assert_eq!(matches!(interface(&i), Holder::Releasing(_)), waits, "{i:?}");
        };
        let b = NetworkInterface::builder;
        check(b().interface_type(NetworkInterfaceType::Lambda).description("AWS Lambda VPC ENI-f"), true);
        check(b().requester_managed(true).description("arn:aws:ecs:us-east-1:1:attachment/x"), true);
        check(b().requester_managed(true).description("EFS mount target for fs-1 (fsmt-1)"), true);
        check(b().interface_type(NetworkInterfaceType::NetworkLoadBalancer).description("ELB net/n/1"), true);
        check(b().interface_type(NetworkInterfaceType::NatGateway), true);
        check(b().requester_managed(true).interface_type(NetworkInterfaceType::VpcEndpoint), false);
        check(b().requester_managed(true).interface_type(NetworkInterfaceType::TransitGateway), false);
        check(b().interface_type(NetworkInterfaceType::Interface), false);
        check(b().attachment(NetworkInterfaceAttachment::builder().instance_id("i-1").build()), false);
        check(b(), false);
    }
}
