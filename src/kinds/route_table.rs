use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    Filter, ResourceType, Route, RouteOrigin, RouteTable as SdkTable, RouteTableAssociationStateCode,
};

use super::ec2::settle;
use super::ec2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::expr::ExprMap;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::network::{cidr, named_vpc, vpc_cidr, vpc_of_ref};
use crate::spec::rules::{ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct RouteTable;

static ROUTE: Ty = Ty::Obj(&[
    Prop::new("destination", Ty::Cidr, "Destination IPv4 range (0.0.0.0/0 for the default route).")
        .aws("ec2:CreateRouteRequest.DestinationCidrBlock")
        .required(),
    Prop::new("gateway", Ty::Str, "Internet gateway id (igw-...) to send the traffic to.")
        .aws("ec2:CreateRouteRequest.GatewayId"),
    Prop::new("nat_gateway", Ty::Str, "NAT gateway id (nat-...) to send the traffic to.")
        .aws("ec2:CreateRouteRequest.NatGatewayId"),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "route_table",
    doc: "A route table of a VPC and the subnets that use it.",
    props: &[
        Prop::new("vpc", Ty::Str, "The VPC id (vpc-...).")
            .aws("ec2:CreateRouteTableRequest.VpcId")
            .required()
            .replaces(),
        Prop::new(
            "routes",
            Ty::List(&ROUTE),
            "Routes besides the VPC's local one: a destination and exactly one of gateway or nat_gateway.",
        )
        .default(Default::EmptyList)
        .unordered()
        .keyed(&["destination"]),
        Prop::new("subnets", Ty::List(&Ty::Str), "Subnet ids (subnet-...) associated with this table.")
            .aws("ec2:AssociateRouteTableRequest.SubnetId")
            .default(Default::EmptyList)
            .unordered(),
    ],
    attrs: &[Attr::new("id", "The route table id (rtb-...).")],
    taggable: true,
};

/// The target of a route as the key it has in the stack, for the targets rprov creates, and
/// under a descriptive key for others, so a route added by hand shows up as drift.
fn target(r: &Route) -> Option<(&'static str, &str)> {
    [
        ("gateway", r.gateway_id()),
        ("nat_gateway", r.nat_gateway_id()),
        ("transit_gateway", r.transit_gateway_id()),
        ("vpc_peering_connection", r.vpc_peering_connection_id()),
        ("instance", r.instance_id()),
        ("network_interface", r.network_interface_id()),
        ("egress_only_gateway", r.egress_only_internet_gateway_id()),
        ("carrier_gateway", r.carrier_gateway_id()),
        ("local_gateway", r.local_gateway_id()),
        ("core_network", r.core_network_arn()),
    ]
    .into_iter()
    .find_map(|(k, v)| Some((k, v?)))
}

/// Routes as the stack spells them, by destination. The `local` route (origin
/// CreateRouteTable) exists in every table and cannot be managed; propagated and advertised
/// routes belong to a VPN gateway; IPv6 and prefix-list destinations (e.g. the routes of S3
/// gateway endpoints) are not in this schema. All of these are left out.
fn live_routes(t: &SdkTable) -> BTreeMap<String, (&'static str, String)> {
    t.routes()
        .iter()
        .filter(|r| matches!(r.origin(), None | Some(RouteOrigin::CreateRoute)) && r.gateway_id() != Some("local"))
        .filter_map(|r| {
            let (key, id) = target(r)?;
            Some((r.destination_cidr_block()?.to_owned(), (key, id.to_owned())))
        })
        .collect()
}

/// Explicit subnet associations (not the main one, not gateway edge associations), by subnet.
fn live_associations(t: &SdkTable) -> BTreeMap<String, String> {
    t.associations()
        .iter()
        .filter(|a| a.main() != Some(true))
        .filter(|a| {
            !matches!(
                a.association_state().and_then(|s| s.state()),
                Some(
                    RouteTableAssociationStateCode::Disassociating
                        | RouteTableAssociationStateCode::Disassociated
                        | RouteTableAssociationStateCode::Failed
                )
            )
        })
        .filter_map(|a| Some((a.subnet_id()?.to_owned(), a.route_table_association_id()?.to_owned())))
        .collect()
}

fn route_value(destination: &str, key: &str, id: &str) -> Value {
    Value::Map(crate::value::Props::from([
        ("destination".to_string(), Value::str(destination)),
        (key.to_string(), Value::str(id)),
    ]))
}

/// Marks the VPC's main route table among the attributes (not one a stack refers to): the one
/// subnets without an association use, made with the VPC.
const MAIN: &str = "main";

fn live(t: &SdkTable) -> Live {
    let id = t.route_table_id().unwrap_or_default().to_owned();
    let mut props = Props::new();
    props.insert("vpc".into(), Value::str(t.vpc_id().unwrap_or_default()));
    // BTreeMap order: routes sorted by destination, subnets sorted, as `normalise` has them.
    let routes = live_routes(t).iter().map(|(d, (k, v))| route_value(d, k, v)).collect();
    props.insert("routes".into(), Value::List(routes));
    props.insert("subnets".into(), Value::List(live_associations(t).into_keys().map(Value::Str).collect()));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    if t.associations().iter().any(|a| a.main() == Some(true)) {
        attrs.insert(MAIN.into(), Value::Bool(true));
    }
    Live { physical_id: id, props, attrs, tags: ec2::from_sdk(t.tags()) }
}

/// Orders as the live side's `BTreeMap` does; a value not known yet sorts by its rendering.
fn sort_key(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// A route of the stack in canonical form: only the destination and the target that is set.
fn normalise_route(v: &Value) -> Value {
    match v {
        Value::Map(m) => {
            Value::Map(m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        other => other.clone(),
    }
}

/// The stack's routes by destination. A route without exactly one target is the loader's to
/// reject; here it is an error rather than a guess.
fn desired_routes(props: &Props) -> Result<BTreeMap<String, (&'static str, String)>, AwsError> {
    let mut out = BTreeMap::new();
    for r in props.get("routes").map(Value::as_list).unwrap_or_default() {
        let m = r.as_map();
        let get = |k: &str| m.and_then(|m| m.get(k)).and_then(Value::as_str);
        let dest = get("destination").ok_or_else(|| AwsError::Invalid(format!("route without destination: {r}")))?;
        let target = match (get("gateway"), get("nat_gateway")) {
            (Some(g), None) => ("gateway", g),
            (None, Some(n)) => ("nat_gateway", n),
            _ => {
                return Err(AwsError::Invalid(format!("route to {dest} needs exactly one of gateway, nat_gateway")));
            }
        };
        out.insert(dest.to_owned(), (target.0, target.1.to_owned()));
    }
    Ok(out)
}

async fn describe_one(cx: &Cx, id: &str) -> Result<SdkTable, AwsError> {
    let out = client(cx).describe_route_tables().route_table_ids(id).send().await.map_err(classify)?;
    out.route_tables().first().cloned().ok_or_else(|| AwsError::NotFound(id.into()))
}

/// Brings the table's routes and subnet associations to `props`, from what AWS has now (not
/// what was recorded), so it also repairs drift. Safe to run again after any failure.
async fn converge(cx: &Cx, table_id: &str, props: &Props) -> Result<(), AwsError> {
    let ec2 = client(cx);
    let want_routes = desired_routes(props)?;
    let want_subnets: Vec<String> = props.get("subnets").map(Value::string_list).unwrap_or_default();
    let table = describe_one(cx, table_id).await?;
    let have_routes = live_routes(&table);
    let have_subnets = live_associations(&table);

    // Create and replace before deleting, so traffic that keeps a route never loses it.
    for (dest, (key, id)) in &want_routes {
        let (gateway, nat) = if *key == "gateway" { (Some(id.clone()), None) } else { (None, Some(id.clone())) };
        match have_routes.get(dest) {
            None => {
                let sent = ec2
                    .create_route()
                    .route_table_id(table_id)
                    .destination_cidr_block(dest)
                    .set_gateway_id(gateway)
                    .set_nat_gateway_id(nat)
                    .send()
                    .await;
                match sent.map_err(classify) {
                    // RouteAlreadyExists: the SDK's retry of a create whose response was lost.
                    Ok(_) | Err(AwsError::AlreadyExists(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Some((k, i)) if (*k, i.as_str()) == (*key, id.as_str()) => {}
            Some(_) => {
                ec2.replace_route()
                    .route_table_id(table_id)
                    .destination_cidr_block(dest)
                    .set_gateway_id(gateway)
                    .set_nat_gateway_id(nat)
                    .send()
                    .await
                    .map_err(classify)?;
            }
        }
    }
    for dest in have_routes.keys().filter(|d| !want_routes.contains_key(*d)) {
        let sent = ec2.delete_route().route_table_id(table_id).destination_cidr_block(dest).send().await;
        ec2::gone_ok(sent.map(|_| ()).map_err(classify))?;
    }

    for subnet in want_subnets.iter().filter(|s| !have_subnets.contains_key(*s)) {
        associate(cx, table_id, subnet).await?;
    }
    for (_, association) in have_subnets.iter().filter(|(s, _)| !want_subnets.contains(s)) {
        let sent = ec2.disassociate_route_table().association_id(association).send().await;
        ec2::gone_ok(sent.map(|_| ()).map_err(classify))?;
    }
    Ok(())
}

async fn associate(cx: &Cx, table_id: &str, subnet: &str) -> Result<(), AwsError> {
    let ec2 = client(cx);
    match ec2.associate_route_table().route_table_id(table_id).subnet_id(subnet).send().await {
        Ok(_) => Ok(()),
        // The subnet is explicitly associated with another table (moved between tables in the
        // stack, and this table's update runs first; or the SDK retried a lost response). A
        // subnet has one explicit association: move it here.
        Err(e) if e.code() == Some("Resource.AlreadyAssociated") => {
            let out = ec2
                .describe_route_tables()
                .filters(Filter::builder().name("association.subnet-id").values(subnet).build())
                .send()
                .await
                .map_err(classify)?;
            let current = out
                .route_tables()
                .iter()
                .flat_map(|t| t.associations())
                .find(|a| a.subnet_id() == Some(subnet) && a.main() != Some(true));
            match current {
                Some(a) if a.route_table_id() == Some(table_id) => Ok(()),
                Some(a) => {
                    ec2.replace_route_table_association()
                        .association_id(a.route_table_association_id().unwrap_or_default())
                        .route_table_id(table_id)
                        .send()
                        .await
                        .map_err(classify)?;
                    Ok(())
                }
                None => Err(classify(e)),
            }
        }
        Err(e) => Err(classify(e)),
    }
}

/// Whether two entries of `subnets` name one subnet: the same resource, or the same id.
fn same_subnet(a: &crate::stack::Expr, b: &crate::stack::Expr) -> bool {
    use crate::spec::rules::lit_str;
    match (ref_target(a), ref_target(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => lit_str(Some(a)).is_some_and(|x| lit_str(Some(b)) == Some(x)),
        _ => false,
    }
}

fn lit_text(e: &crate::stack::Expr) -> String {
    crate::spec::rules::lit_str(Some(e)).unwrap_or_default().to_owned()
}

impl KindSpec for RouteTable {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS: a route has one target (CreateRoute), one route per destination; the targets and
    /// the associated subnets belong to the table's VPC ("belong to different networks"); a
    /// destination inside the VPC's range is its local route's (a more specific route may only
    /// go to a NAT gateway, a network interface or a Gateway Load Balancer endpoint); a subnet
    /// is associated with one route table (AssociateRouteTable: Resource.AlreadyAssociated).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        use crate::stack::Expr;
        let mut out = Vec::new();
        let vpc = s.get("vpc").and_then(|e| named_vpc(s.stack, e));
        if let Some(e) = s.get("vpc") {
            out.extend(wrong_kind(s, "vpc", e, &["vpc"]));
        }
        let vpc_net = vpc.and_then(|v| vpc_cidr(s.stack, v));
        let routes = s.list("routes");
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            let Expr::Map(m) = r else { continue };
            let targets = ["gateway", "nat_gateway"].iter().filter(|t| m.contains_key(**t)).count();
            if targets != 1 {
                out.push(Problem::new(
                    format!("routes.{i}"),
                    format!("a route needs exactly one of gateway, nat_gateway (found {targets})"),
                ));
            }
            // AWS keeps one route per destination: a second would silently replace the first.
            if let Some(Expr::Lit(Value::Str(d))) = m.get("destination") {
                if let Some((_, j)) = seen.iter().find(|(x, _)| x == d) {
                    out.push(Problem::new(
                        format!("routes.{i}"),
                        format!("destination {d} is already routed by route {}", j + 1),
                    ));
                }
                seen.push((d.clone(), i));
            }
            for (key, kind, what) in
                [("gateway", "internet_gateway", "internet gateway"), ("nat_gateway", "nat_gateway", "NAT gateway")]
            {
                let Some(t) = m.get(key) else { continue };
                let path = format!("routes.{i}.{key}");
                out.extend(wrong_kind(s, &path, t, &[kind]));
                if let (Some(vpc), Some(theirs)) = (vpc, vpc_of_ref(s.stack, t))
                    && theirs.differs(vpc)
                {
                    out.push(
                        Problem::new(
                            path,
                            format!("{what} `{}` is in {theirs}, not in this table's {vpc}: AWS routes only to targets of the table's VPC", ref_target(t).unwrap_or_default()),
                        ),
                    );
                }
            }
            if let (Some(vnet), Some(dest)) = (vpc_net, cidr(m.get("destination"))) {
                let path = format!("routes.{i}.destination");
                if dest == vnet {
                    out.push(
                        Problem::new(path, format!("{dest} is the VPC's own range, which its local route covers: AWS refuses a second route to it"))
                            .help("routes send traffic leaving the VPC; 0.0.0.0/0 is the default route"),
                    );
                } else if vnet.contains(&dest) && m.contains_key("gateway") {
                    out.push(
                        Problem::new(path, format!("{dest} lies inside the VPC's range {vnet}: AWS takes a route more specific than the local route only to a NAT gateway, a network interface or a Gateway Load Balancer endpoint, for the whole range of a subnet"))
                            .help("an internet gateway takes traffic for destinations outside the VPC, e.g. 0.0.0.0/0"),
                    );
                }
            }
        }
        for (i, e) in s.list("subnets").iter().enumerate() {
            let path = format!("subnets.{i}");
            out.extend(wrong_kind(s, &path, e, &["subnet"]));
            if let (Some(vpc), Some(theirs)) = (vpc, vpc_of_ref(s.stack, e))
                && theirs.differs(vpc)
            {
                out.push(Problem::new(
                    path.clone(),
                    format!("subnet `{}` is in {theirs}, not in this table's {vpc}: AWS associates a route table only with subnets of its VPC", ref_target(e).unwrap_or_default()),
                ));
            }
            let lists = |props: &ExprMap| matches!(props.get("subnets"), Some(Expr::List(l)) if l.iter().any(|o| same_subnet(o, e)));
            let holder = match ref_target(e) {
                // The tables naming this subnet, not every table of the stack.
                Some(subnet) => s
                    .stack
                    .referrers(subnet)
                    .filter(|(_, kind, _)| *kind == "route_table")
                    .take_while(|(id, _, _)| *id != s.id)
                    .find(|(_, _, props)| lists(props))
                    .map(|(id, _, _)| id),
                None => s
                    .stack
                    .of_kind("route_table")
                    .take_while(|(id, _)| *id != s.id)
                    .find(|(_, p)| lists(p))
                    .map(|(id, _)| id),
            };
            if let Some(other) = holder {
                let name = ref_target(e).map_or_else(|| lit_text(e), |t| format!("`{t}`"));
                out.push(
                    Problem::new(path, format!("subnet {name} is already associated with route table `{other}`: AWS associates a subnet with one route table"))
                        .help(format!("list it in `{other}` or here, not in both")),
                );
            }
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        if let Some(Value::List(routes)) = props.get_mut("routes") {
            *routes = routes.iter().map(normalise_route).collect();
            routes.sort_by_key(|r| r.as_map().and_then(|m| m.get("destination")).map(sort_key).unwrap_or_default());
        }
        if let Some(Value::List(subnets)) = props.get_mut("subnets") {
            subnets.sort_by_key(sort_key);
            subnets.dedup();
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn made_by_aws(&self, live: &Live) -> Option<&'static str> {
        (live.attrs.get(MAIN) == Some(&Value::Bool(true)))
            .then_some("the VPC's main route table (subnets without an association of their own use it)")
    }

    fn holds(&self) -> &'static [&'static str] {
        &["vpc", "subnet", "internet_gateway", "nat_gateway"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "route-table"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "CreateRouteTable"), ("ec2", "CreateRoute")])
    }
}

#[async_trait]
impl Kind for RouteTable {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let tables = crate::aws::all_items(client(cx).describe_route_tables().into_paginator().items().send()).await?;
        Ok(tables.iter().map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let vpc = req.props.get("vpc").and_then(Value::as_str).map(str::to_owned);
        // CreateRouteTable takes a ClientToken: a repeated create returns the first table.
        let op = client(cx)
            .create_route_table()
            .set_vpc_id(vpc)
            .client_token(req.token)
            .tag_specifications(ec2::tag_spec(ResourceType::RouteTable, req.tags));
        let out = settle(cx, req.id, "the VPC", || {
            let op = op.clone();
            async move { op.send().await.map_err(classify) }
        })
        .await?;
        let id = out
            .route_table()
            .and_then(|t| t.route_table_id())
            .ok_or_else(|| AwsError::Failed("CreateRouteTable returned no route table".into()))?;
        // The new table, and gateways or subnets created just before it, may be unknown for a
        // few seconds; `converge` starts from a fresh describe, so running it again is safe.
        settle(cx, req.id, &format!("route table {id}"), || converge(cx, id, req.props)).await?;
        let mut l = live(&describe_one(cx, id).await?);
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if req.changed.iter().any(|c| c == "routes" || c == "subnets") {
            settle(cx, req.id, &format!("route table {}", req.physical_id), || converge(cx, req.physical_id, req.new))
                .await?;
        }
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        Ok(live(&describe_one(cx, req.physical_id).await?))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let ec2 = client(cx);
        // DeleteRouteTable refuses a table that still has subnet associations.
        let table = match describe_one(cx, req.physical_id).await {
            Err(AwsError::NotFound(_)) => return Ok(()),
            other => other?,
        };
        for association in live_associations(&table).values() {
            let sent = ec2.disassociate_route_table().association_id(association).send().await;
            ec2::gone_ok(sent.map(|_| ()).map_err(classify))?;
        }
        ec2::gone_ok(
            ec2.delete_route_table().route_table_id(req.physical_id).send().await.map(|_| ()).map_err(classify),
        )
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{RouteTableAssociation, RouteTableAssociationState};

    use super::*;

    #[test]
    fn live_shape_equals_the_normalised_stack_shape() {
        let table = SdkTable::builder()
            .route_table_id("rtb-1")
            .vpc_id("vpc-1")
            .routes(
                Route::builder()
                    .destination_cidr_block("10.0.0.0/16")
                    .gateway_id("local")
                    .origin(RouteOrigin::CreateRouteTable)
                    .build(),
            )
            .routes(
                Route::builder()
                    .destination_cidr_block("0.0.0.0/0")
                    .nat_gateway_id("nat-1")
                    .origin(RouteOrigin::CreateRoute)
                    .build(),
            )
            .routes(
                Route::builder()
                    .destination_cidr_block("192.168.0.0/16")
                    .gateway_id("vgw-1")
                    .origin(RouteOrigin::EnableVgwRoutePropagation)
                    .build(),
            )
            .routes(
                Route::builder()
                    .destination_cidr_block("172.16.0.0/12")
                    .gateway_id("igw-1")
                    .origin(RouteOrigin::CreateRoute)
                    .build(),
            )
            .routes(
                Route::builder()
                    .destination_prefix_list_id("pl-1")
                    .gateway_id("vpce-1")
                    .origin(RouteOrigin::CreateRoute)
                    .build(),
            )
            .associations(RouteTableAssociation::builder().main(true).route_table_association_id("rtbassoc-0").build())
            .associations(
                RouteTableAssociation::builder()
                    .main(false)
                    .subnet_id("subnet-b")
                    .route_table_association_id("rtbassoc-2")
                    .build(),
            )
            .associations(
                RouteTableAssociation::builder()
                    .main(false)
                    .subnet_id("subnet-a")
                    .route_table_association_id("rtbassoc-1")
                    .build(),
            )
            .associations(
                RouteTableAssociation::builder()
                    .main(false)
                    .subnet_id("subnet-c")
                    .route_table_association_id("rtbassoc-3")
                    .association_state(
                        RouteTableAssociationState::builder()
                            .state(RouteTableAssociationStateCode::Disassociating)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let route = |d: &str, k: &str, t: &str, extra: Option<&str>| {
            let mut m = Props::from([("destination".to_string(), Value::str(d)), (k.to_string(), Value::str(t))]);
            if let Some(e) = extra {
                m.insert(e.to_string(), Value::Null);
            }
            Value::Map(m)
        };
        let mut desired = Props::from([
            ("vpc".to_string(), Value::str("vpc-1")),
            (
                "routes".to_string(),
                Value::List(vec![
                    route("172.16.0.0/12", "gateway", "igw-1", Some("nat_gateway")),
                    route("0.0.0.0/0", "nat_gateway", "nat-1", None),
                ]),
            ),
            ("subnets".to_string(), Value::List(vec![Value::str("subnet-b"), Value::str("subnet-a")])),
        ]);
        RouteTable.normalise("s", "rt", &mut desired);

        assert_eq!(live(&table).props, desired);
        assert_eq!(desired_routes(&desired).unwrap().len(), 2);
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    const NET: &str = "  vpc: { type: vpc, cidr: 10.0.0.0/16 }
  igw: { type: internet_gateway, vpc: '${vpc.id}' }
  a: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.0.0/24 }
  b: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.1.0/24 }
  other: { type: vpc, cidr: 10.1.0.0/16 }
  oigw: { type: internet_gateway, vpc: '${other.id}' }
  osub: { type: subnet, vpc: '${other.id}', cidr: 10.1.0.0/24 }
  ip: { type: elastic_ip }
  nat: { type: nat_gateway, subnet: '${a.id}', allocation_id: '${ip.id}' }
";

    #[test]
    fn a_subnet_has_one_route_table() {
        valid(&format!(
            "{NET}  t1: {{ type: route_table, vpc: '${{vpc.id}}', subnets: ['${{a.id}}'] }}\n  t2: {{ type: route_table, vpc: '${{vpc.id}}', subnets: ['${{b.id}}'] }}"
        ));
        let p = problems(&format!(
            "{NET}  t1: {{ type: route_table, vpc: '${{vpc.id}}', subnets: ['${{a.id}}', '${{b.id}}'] }}\n  t2: {{ type: route_table, vpc: '${{vpc.id}}', subnets: ['${{b.id}}', subnet-1] }}\n  t3: {{ type: route_table, vpc: vpc-9, subnets: [subnet-1] }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("11:56: subnet `b` is already associated with route table `t1`"), "{p:?}");
        assert!(p[1].starts_with("12:50: subnet subnet-1 is already associated with route table `t2`"), "{p:?}");
    }

    #[test]
    fn targets_and_subnets_of_the_tables_vpc() {
        valid(&format!(
            "{NET}  t: {{ type: route_table, vpc: '${{vpc.id}}', routes: [{{ destination: 0.0.0.0/0, nat_gateway: '${{nat.id}}' }}], subnets: ['${{b.id}}'] }}"
        ));
        let p = problems(&format!(
            "{NET}  t: {{ type: route_table, vpc: '${{vpc.id}}', routes: [{{ destination: 0.0.0.0/0, gateway: '${{oigw.id}}' }}], subnets: ['${{osub.id}}'] }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("internet gateway `oigw` is in VPC `other`, not in this table's VPC `vpc`"), "{p:?}");
        assert!(p[1].contains("subnet `osub` is in VPC `other`, not in this table's VPC `vpc`"), "{p:?}");
    }

    #[test]
    fn destinations_inside_the_vpc() {
        // Wider than the VPC, and a NAT gateway for one subnet's range: accepted.
        valid(&format!(
            "{NET}  t: {{ type: route_table, vpc: '${{vpc.id}}', routes: [{{ destination: 10.0.0.0/8, gateway: '${{igw.id}}' }}, {{ destination: 10.0.1.0/24, nat_gateway: '${{nat.id}}' }}] }}"
        ));
        let p = problems(&format!(
            "{NET}  t: {{ type: route_table, vpc: '${{vpc.id}}', routes: [{{ destination: 10.0.0.0/16, nat_gateway: '${{nat.id}}' }}, {{ destination: 10.0.1.0/24, gateway: '${{igw.id}}' }}] }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("10.0.0.0/16 is the VPC's own range"), "{p:?}");
        assert!(p[1].contains("10.0.1.0/24 lies inside the VPC's range 10.0.0.0/16"), "{p:?}");
    }

    #[test]
    fn targets_of_their_kinds() {
        let p = problems(&format!(
            "{NET}  t: {{ type: route_table, vpc: '${{vpc.id}}', routes: [{{ destination: 0.0.0.0/0, gateway: '${{nat.id}}' }}] }}"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains(
                "`routes.0.gateway` refers to `nat`, a nat_gateway: AWS expects the id of an internet_gateway here"
            ),
            "{p:?}"
        );
    }
}
