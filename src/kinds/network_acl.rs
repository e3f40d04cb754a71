use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IcmpTypeCode, NetworkAcl as SdkAcl, NetworkAclEntry, PortRange, ResourceType, RuleAction,
};

use super::ec2::settle;
use super::ec2::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::network::{named_vpc, vpc_of_ref};
use crate::spec::rules::{lit_int, lit_str, ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::stack::Expr;
use crate::value::{Props, Value};

pub struct NetworkAcl;

static ENTRY: Ty = Ty::Obj(&[
    Prop::new(
        "rule",
        Ty::Int,
        "Rule number, 1-32766: rules are evaluated from the lowest number up, the first match decides.",
    )
    .aws("ec2:CreateNetworkAclEntryRequest.RuleNumber")
    .required(),
    Prop::new(
        "protocol",
        Ty::Str,
        "tcp, udp, icmp, all, or an IP protocol number (0-255); shown as AWS stores it, a number (all is -1).",
    )
    .aws("ec2:CreateNetworkAclEntryRequest.Protocol")
    .required(),
    Prop::new("action", Ty::Enum(&["allow", "deny"]), "Whether matching traffic is allowed or denied.")
        .aws("ec2:CreateNetworkAclEntryRequest.RuleAction")
        .required(),
    Prop::new("cidr", Ty::Cidr, "The IPv4 range the traffic comes from (ingress) or goes to (egress).")
        .aws("ec2:CreateNetworkAclEntryRequest.CidrBlock")
        .required(),
    Prop::new("from_port", Ty::Int, "First port of the range (tcp and udp only, required there).")
        .aws("ec2:PortRange.From"),
    Prop::new("to_port", Ty::Int, "Last port of the range (tcp and udp only, required there).").aws("ec2:PortRange.To"),
    Prop::new("icmp_type", Ty::Int, "ICMP type, -1 for all (icmp only, required there).").aws("ec2:IcmpTypeCode.Type"),
    Prop::new("icmp_code", Ty::Int, "ICMP code, -1 for all (icmp only, required there).").aws("ec2:IcmpTypeCode.Code"),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "network_acl",
    doc: "A network ACL of a VPC: stateless inbound and outbound rules, and the subnets that use it. A subnet \
          left out (or the ACL deleted) goes back to the VPC's default network ACL.",
    props: &[
        Prop::new("vpc", Ty::Str, "The VPC id (vpc-...).")
            .aws("ec2:CreateNetworkAclRequest.VpcId")
            .required()
            .replaces(),
        Prop::new(
            "ingress",
            Ty::List(&ENTRY),
            "Inbound rules, by rule number. AWS's final deny-all rule (`*`) is implicit and not listed.",
        )
        .default(Default::EmptyList)
        .unordered()
        .keyed(&["rule"]),
        Prop::new(
            "egress",
            Ty::List(&ENTRY),
            "Outbound rules, by rule number. Network ACLs are stateless: allow the return traffic (ephemeral ports) \
             here too.",
        )
        .default(Default::EmptyList)
        .unordered()
        .keyed(&["rule"]),
        Prop::new(
            "subnets",
            Ty::List(&Ty::Str),
            "Subnet ids (subnet-...) that use this ACL; a subnet uses exactly one network ACL.",
        )
        .default(Default::EmptyList)
        .unordered(),
    ],
    attrs: &[Attr::new("id", "The network ACL id (acl-...).")],
    taggable: true,
};

/// AWS's last rule of every ACL, `*` in the console: deny all. It cannot be changed or removed
/// (https://docs.aws.amazon.com/vpc/latest/userguide/nacl-rules.html), so it is not the
/// stack's to declare.
const CATCH_ALL: i32 = 32767;

/// An entry as rprov compares it: what AWS stores for its protocol, nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    protocol: String,
    allow: bool,
    cidr: String,
    ports: Option<(i32, i32)>,
    icmp: Option<(i32, i32)>,
}

/// A protocol as AWS stores it: its number, `-1` for all.
fn protocol_number(p: &str) -> Option<String> {
    let n = match p.to_ascii_lowercase().as_str() {
        "tcp" => 6,
        "udp" => 17,
        "icmp" => 1,
        "all" | "-1" => -1,
        other => other.parse::<i64>().ok().filter(|n| (0..=255).contains(n))?,
    };
    Some(n.to_string())
}

fn takes_ports(protocol: &str) -> bool {
    matches!(protocol, "6" | "17")
}

fn takes_icmp(protocol: &str) -> bool {
    protocol == "1"
}

fn live_entry(e: &NetworkAclEntry) -> Option<((bool, i32), Entry)> {
    let rule = e.rule_number()?;
    if rule == CATCH_ALL {
        return None;
    }
    let protocol = e.protocol().unwrap_or("-1").to_owned();
    // AWS ignores ports and ICMP fields for other protocols; they are compared only where they count.
    let ports = e.port_range().filter(|_| takes_ports(&protocol)).map(|p| (p.from().unwrap_or(0), p.to().unwrap_or(0)));
    let icmp = e
        .icmp_type_code()
        .filter(|_| takes_icmp(&protocol))
        .map(|i| (i.r#type().unwrap_or(-1), i.code().unwrap_or(-1)));
    let entry = Entry {
        protocol,
        allow: e.rule_action() == Some(&RuleAction::Allow),
        cidr: e.cidr_block().unwrap_or_default().to_owned(),
        ports,
        icmp,
    };
    Some(((e.egress().unwrap_or(false), rule), entry))
}

fn live_entries(a: &SdkAcl) -> BTreeMap<(bool, i32), Entry> {
    a.entries().iter().filter(|e| e.ipv6_cidr_block().is_none()).filter_map(live_entry).collect()
}

fn entry_value(rule: i32, e: &Entry) -> Value {
    let mut m = Props::new();
    m.insert("rule".into(), Value::Int(rule.into()));
    m.insert("protocol".into(), Value::str(&e.protocol));
    m.insert("action".into(), Value::str(if e.allow { "allow" } else { "deny" }));
    m.insert("cidr".into(), Value::str(&e.cidr));
    if let Some((from, to)) = e.ports {
        m.insert("from_port".into(), Value::Int(from.into()));
        m.insert("to_port".into(), Value::Int(to.into()));
    }
    if let Some((t, c)) = e.icmp {
        m.insert("icmp_type".into(), Value::Int(t.into()));
        m.insert("icmp_code".into(), Value::Int(c.into()));
    }
    Value::Map(m)
}

/// Subnet associations of this ACL, by subnet.
fn live_associations(a: &SdkAcl) -> BTreeMap<String, String> {
    a.associations()
        .iter()
        .filter_map(|x| Some((x.subnet_id()?.to_owned(), x.network_acl_association_id()?.to_owned())))
        .collect()
}

fn live(a: &SdkAcl) -> Live {
    let id = a.network_acl_id().unwrap_or_default().to_owned();
    let entries = live_entries(a);
    // Sorted by text, as the planner sorts unordered lists (`plan::canonical`) and `normalise` does.
    let side = |egress: bool| {
        let mut l: Vec<Value> =
            entries.iter().filter(|((e, _), _)| *e == egress).map(|((_, r), v)| entry_value(*r, v)).collect();
        l.sort_by_cached_key(Value::to_string);
        Value::List(l)
    };
    let mut props = Props::new();
    props.insert("vpc".into(), Value::str(a.vpc_id().unwrap_or_default()));
    props.insert("ingress".into(), side(false));
    props.insert("egress".into(), side(true));
    props.insert("subnets".into(), Value::List(live_associations(a).into_keys().map(Value::Str).collect()));
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    Live { physical_id: id, props, attrs, tags: ec2::from_sdk(a.tags()) }
}

/// An entry of the stack in the shape `live` reads: protocol as its number, only the fields
/// its protocol uses.
fn normalise_entry(v: &Value) -> Value {
    let Value::Map(m) = v else { return v.clone() };
    let protocol = m.get("protocol").and_then(Value::as_str).and_then(protocol_number);
    let mut out: Props = m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(p) = protocol {
        if !takes_ports(&p) {
            out.remove("from_port");
            out.remove("to_port");
        }
        if !takes_icmp(&p) {
            out.remove("icmp_type");
            out.remove("icmp_code");
        }
        out.insert("protocol".into(), Value::Str(p));
    }
    Value::Map(out)
}

/// The stack's entries by (egress, rule number).
fn desired_entries(props: &Props) -> Result<BTreeMap<(bool, i32), Entry>, AwsError> {
    let mut out = BTreeMap::new();
    for (key, egress) in [("ingress", false), ("egress", true)] {
        for v in props.get(key).map(Value::as_list).unwrap_or_default() {
            let Value::Map(m) = normalise_entry(v) else { continue };
            let int = |k: &str| m.get(k).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok());
            let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
            let rule = int("rule").ok_or_else(|| AwsError::Invalid(format!("{key} entry without rule: {v}")))?;
            let protocol =
                text("protocol").ok_or_else(|| AwsError::Invalid(format!("{key} rule {rule}: no protocol")))?;
            let pair = |a: &str, b: &str| Some((int(a)?, int(b)?));
            let entry = Entry {
                ports: pair("from_port", "to_port").filter(|_| takes_ports(&protocol)),
                icmp: pair("icmp_type", "icmp_code").filter(|_| takes_icmp(&protocol)),
                allow: text("action").as_deref() != Some("deny"),
                cidr: text("cidr").unwrap_or_default(),
                protocol,
            };
            out.insert((egress, rule), entry);
        }
    }
    Ok(out)
}

async fn describe_one(cx: &Cx, id: &str) -> Result<SdkAcl, AwsError> {
    let out = client(cx).describe_network_acls().network_acl_ids(id).send().await.map_err(classify)?;
    out.network_acls().first().cloned().ok_or_else(|| AwsError::NotFound(id.into()))
}

/// The ACL a subnet uses now and its association id: every subnet has exactly one.
async fn association_of(cx: &Cx, subnet: &str) -> Result<(String, String), AwsError> {
    let out = client(cx)
        .describe_network_acls()
        .filters(Filter::builder().name("association.subnet-id").values(subnet).build())
        .send()
        .await
        .map_err(classify)?;
    out.network_acls()
        .iter()
        .find_map(|a| {
            let x = a.associations().iter().find(|x| x.subnet_id() == Some(subnet))?;
            Some((a.network_acl_id()?.to_owned(), x.network_acl_association_id()?.to_owned()))
        })
        .ok_or_else(|| AwsError::NotFound(format!("network ACL association of {subnet}")))
}

async fn default_acl(cx: &Cx, vpc: &str) -> Result<String, AwsError> {
    let out = client(cx)
        .describe_network_acls()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("default").values("true").build())
        .send()
        .await
        .map_err(classify)?;
    out.network_acls()
        .iter()
        .find(|a| a.is_default() == Some(true))
        .and_then(|a| a.network_acl_id())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::NotFound(format!("the default network ACL of {vpc}")))
}

async fn move_association(cx: &Cx, association: &str, to: &str) -> Result<(), AwsError> {
    client(cx)
        .replace_network_acl_association()
        .association_id(association)
        .network_acl_id(to)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

fn entry_request(
    op: aws_sdk_ec2::operation::create_network_acl_entry::builders::CreateNetworkAclEntryFluentBuilder,
    acl: &str,
    (egress, rule): (bool, i32),
    e: &Entry,
) -> aws_sdk_ec2::operation::create_network_acl_entry::builders::CreateNetworkAclEntryFluentBuilder {
    op.network_acl_id(acl)
        .rule_number(rule)
        .egress(egress)
        .protocol(&e.protocol)
        .rule_action(if e.allow { RuleAction::Allow } else { RuleAction::Deny })
        .cidr_block(&e.cidr)
        .set_port_range(e.ports.map(|(f, t)| PortRange::builder().from(f).to(t).build()))
        .set_icmp_type_code(e.icmp.map(|(t, c)| IcmpTypeCode::builder().r#type(t).code(c).build()))
}

/// Brings the ACL's entries and subnets to `props`, from what AWS has now (so drift is repaired
/// too). Safe to run again after any failure.
async fn converge(cx: &Cx, acl_id: &str, props: &Props) -> Result<(), AwsError> {
    let ec2 = client(cx);
    let want = desired_entries(props)?;
    let want_subnets: Vec<String> = props.get("subnets").map(Value::string_list).unwrap_or_default();
    let acl = describe_one(cx, acl_id).await?;
    let have = live_entries(&acl);
    let have_subnets = live_associations(&acl);

    for (key, e) in &want {
        match have.get(key) {
            None => {
                let sent = entry_request(ec2.create_network_acl_entry(), acl_id, *key, e).send().await;
                match sent.map_err(classify) {
                    // NetworkAclEntryAlreadyExists: the SDK's resend of a create whose answer was lost.
                    Ok(_) | Err(AwsError::AlreadyExists(_)) => {}
                    Err(err) => return Err(err),
                }
            }
            Some(h) if h == e => {}
            Some(_) => {
                let (egress, rule) = *key;
                ec2.replace_network_acl_entry()
                    .network_acl_id(acl_id)
                    .rule_number(rule)
                    .egress(egress)
                    .protocol(&e.protocol)
                    .rule_action(if e.allow { RuleAction::Allow } else { RuleAction::Deny })
                    .cidr_block(&e.cidr)
                    .set_port_range(e.ports.map(|(f, t)| PortRange::builder().from(f).to(t).build()))
                    .set_icmp_type_code(e.icmp.map(|(t, c)| IcmpTypeCode::builder().r#type(t).code(c).build()))
                    .send()
                    .await
                    .map_err(classify)?;
            }
        }
    }
    for (egress, rule) in have.keys().filter(|k| !want.contains_key(*k)) {
        let sent = ec2.delete_network_acl_entry().network_acl_id(acl_id).rule_number(*rule).egress(*egress).send().await;
        ec2::gone_ok(sent.map(|_| ()).map_err(classify))?;
    }

    // A subnet always has one ACL: it is moved here from the one it uses (the VPC's default or
    // another), and moved back to the default when left out
    // (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReplaceNetworkAclAssociation.html).
    for subnet in want_subnets.iter().filter(|s| !have_subnets.contains_key(*s)) {
        let (current, association) = association_of(cx, subnet).await?;
        if current != acl_id {
            move_association(cx, &association, acl_id).await?;
        }
    }
    let leaving: Vec<&String> = have_subnets.iter().filter(|(s, _)| !want_subnets.contains(s)).map(|(_, a)| a).collect();
    if !leaving.is_empty() {
        let default = default_acl(cx, acl.vpc_id().unwrap_or_default()).await?;
        for association in leaving {
            ec2::gone_ok(move_association(cx, association, &default).await)?;
        }
    }
    Ok(())
}

/// Whether two entries of `subnets` name one subnet: the same resource, or the same id.
fn same_subnet(a: &Expr, b: &Expr) -> bool {
    match (ref_target(a), ref_target(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => lit_str(Some(a)).is_some_and(|x| lit_str(Some(b)) == Some(x)),
        _ => false,
    }
}

/// AWS's rules for one entry (CreateNetworkAclEntry): rule numbers 1-32766; a port range for
/// TCP and UDP, ICMP type and code for ICMP; for other protocols ports and ICMP fields are
/// ignored ("traffic on all ports is allowed, regardless of any ports or ICMP types or codes
/// that you specify"), which would read back as a difference on every plan: refused here.
fn check_entry(path: &str, m: &crate::expr::ExprMap, out: &mut Vec<Problem>) {
    if let Some(n) = lit_int(m.get("rule"))
        && !(1..=32766).contains(&n)
    {
        out.push(Problem::new(
            format!("{path}.rule"),
            format!("rule number {n} is outside 1-32766 (32767 is AWS's final deny-all rule)"),
        ));
    }
    let Some(text) = lit_str(m.get("protocol")) else { return };
    let Some(protocol) = protocol_number(text) else {
        out.push(
            Problem::new(format!("{path}.protocol"), format!("`{text}` is no protocol"))
                .help("tcp, udp, icmp, all, or an IP protocol number 0-255"),
        );
        return;
    };
    let has = |k: &str| m.contains_key(k);
    if takes_ports(&protocol) {
        if !has("from_port") || !has("to_port") {
            out.push(Problem::new(path, format!("protocol {text} needs from_port and to_port")));
        }
        for k in ["from_port", "to_port"] {
            if let Some(p) = lit_int(m.get(k))
                && !(0..=65535).contains(&p)
            {
                out.push(Problem::new(format!("{path}.{k}"), format!("port {p} is outside 0-65535")));
            }
        }
        if let (Some(f), Some(t)) = (lit_int(m.get("from_port")), lit_int(m.get("to_port")))
            && f > t
        {
            out.push(Problem::new(format!("{path}.to_port"), format!("to_port {t} is below from_port {f}")));
        }
    } else if has("from_port") || has("to_port") {
        out.push(Problem::new(path, format!("ports apply to tcp and udp only; protocol {text} covers all ports")));
    }
    if takes_icmp(&protocol) {
        if !has("icmp_type") || !has("icmp_code") {
            out.push(
                Problem::new(path, "protocol icmp needs icmp_type and icmp_code").help("-1 for both means all ICMP"),
            );
        }
    } else if has("icmp_type") || has("icmp_code") {
        out.push(Problem::new(path, format!("icmp_type and icmp_code apply to icmp only, not to {text}")));
    }
}

impl KindSpec for NetworkAcl {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS: rule numbers are unique per direction; a subnet is associated with exactly one
    /// network ACL, of its own VPC (ReplaceNetworkAclAssociation).
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        let vpc = s.get("vpc").and_then(|e| named_vpc(s.stack, e));
        if let Some(e) = s.get("vpc") {
            out.extend(wrong_kind(s, "vpc", e, &["vpc"]));
        }
        for side in ["ingress", "egress"] {
            let mut seen: Vec<(i64, usize)> = Vec::new();
            for (i, e) in s.list(side).iter().enumerate() {
                let Expr::Map(m) = e else { continue };
                let path = format!("{side}.{i}");
                check_entry(&path, m, &mut out);
                if let Some(n) = lit_int(m.get("rule")) {
                    if let Some((_, j)) = seen.iter().find(|(x, _)| *x == n) {
                        out.push(Problem::new(
                            format!("{path}.rule"),
                            format!("rule number {n} is already used by {side} entry {}", j + 1),
                        ));
                    }
                    seen.push((n, i));
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
                    format!(
                        "subnet `{}` is in {theirs}, not in this ACL's {vpc}: AWS associates a network ACL only with subnets of its VPC",
                        ref_target(e).unwrap_or_default()
                    ),
                ));
            }
            let lists = |props: &crate::expr::ExprMap| {
                matches!(props.get("subnets"), Some(Expr::List(l)) if l.iter().any(|o| same_subnet(o, e)))
            };
            let holder = s
                .stack
                .of_kind("network_acl")
                .take_while(|(id, _)| *id != s.id)
                .find(|(_, p)| lists(p))
                .map(|(id, _)| id);
            if let Some(other) = holder {
                let name = ref_target(e)
                    .map_or_else(|| lit_str(Some(e)).unwrap_or_default().to_owned(), |t| format!("`{t}`"));
                out.push(
                    Problem::new(
                        path,
                        format!(
                            "subnet {name} is already associated with network ACL `{other}`: a subnet uses one network ACL"
                        ),
                    )
                    .help(format!("list it in `{other}` or here, not in both")),
                );
            }
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        for side in ["ingress", "egress"] {
            if let Some(Value::List(entries)) = props.get_mut(side) {
                *entries = entries.iter().map(normalise_entry).collect();
                entries.sort_by_cached_key(Value::to_string);
            }
        }
        if let Some(Value::List(subnets)) = props.get_mut("subnets") {
            subnets.sort_by_key(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            subnets.dedup();
        }
    }

    /// Entries by rule number, protocols by name where they have one (`tcp` rather than AWS's
    /// `6`): the same entries once normalised, and what a reader expects.
    fn imported_props(&self, live: &Live) -> Props {
        let mut props = live.props.clone();
        for side in ["ingress", "egress"] {
            if let Some(Value::List(entries)) = props.get_mut(side) {
                for e in entries.iter_mut() {
                    if let Value::Map(m) = e
                        && let Some(p) = m.get("protocol").and_then(Value::as_str)
                    {
                        let name = match p {
                            "6" => "tcp",
                            "17" => "udp",
                            "1" => "icmp",
                            "-1" => "all",
                            other => other,
                        };
                        m.insert("protocol".into(), Value::str(name));
                    }
                }
                entries.sort_by_key(|e| e.as_map().and_then(|m| m.get("rule")).and_then(Value::as_i64).unwrap_or(0));
            }
        }
        props
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["vpc", "subnet"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("ec2", "network-acl"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("ec2", "DeleteNetworkAcl"), ("ec2", "CreateNetworkAcl")])
    }
}

#[async_trait]
impl Kind for NetworkAcl {
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let acls = crate::aws::all_items(client(cx).describe_network_acls().into_paginator().items().send()).await?;
        // A VPC's default ACL is AWS's, never created by rprov.
        Ok(acls.iter().filter(|a| a.is_default() != Some(true)).map(live).collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let vpc = req.props.get("vpc").and_then(Value::as_str).map(str::to_owned);
        // CreateNetworkAcl takes a ClientToken: a repeated create returns the first ACL.
        let op = client(cx)
            .create_network_acl()
            .set_vpc_id(vpc)
            .client_token(req.token)
            .tag_specifications(ec2::tag_spec(ResourceType::NetworkAcl, req.tags));
        let out = settle(cx, req.id, "the VPC", || {
            let op = op.clone();
            async move { op.send().await.map_err(classify) }
        })
        .await?;
        let id = out
            .network_acl()
            .and_then(|a| a.network_acl_id())
            .ok_or_else(|| AwsError::Failed("CreateNetworkAcl returned no network ACL".into()))?;
        settle(cx, req.id, &format!("network ACL {id}"), || converge(cx, id, req.props)).await?;
        let mut l = live(&describe_one(cx, id).await?);
        if l.tags.is_empty() {
            l.tags = req.tags.clone();
        }
        Ok(l)
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        if req.changed.iter().any(|c| c == "ingress" || c == "egress" || c == "subnets") {
            let what = format!("network ACL {}", req.physical_id);
            settle(cx, req.id, &what, || converge(cx, req.physical_id, req.new)).await?;
        }
        if req.changed.iter().any(|c| c == "tags") {
            ec2::retag(cx, req.physical_id, req.old_tags, req.tags).await?;
        }
        Ok(live(&describe_one(cx, req.physical_id).await?))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // DeleteNetworkAcl refuses an ACL still associated with a subnet (DependencyViolation),
        // and a subnet cannot be without one: its subnets go back to the VPC's default ACL first.
        let acl = match describe_one(cx, req.physical_id).await {
            Err(AwsError::NotFound(_)) => return Ok(()),
            other => other?,
        };
        let associations = live_associations(&acl);
        if !associations.is_empty() {
            let default = default_acl(cx, acl.vpc_id().unwrap_or_default()).await?;
            for association in associations.values() {
                ec2::gone_ok(move_association(cx, association, &default).await)?;
            }
        }
        ec2::gone_ok(
            client(cx).delete_network_acl().network_acl_id(req.physical_id).send().await.map(|_| ()).map_err(classify),
        )
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::Client;
    use aws_sdk_ec2::operation::create_network_acl_entry::CreateNetworkAclEntryOutput;
    use aws_sdk_ec2::operation::delete_network_acl::{DeleteNetworkAclError, DeleteNetworkAclOutput};
    use aws_sdk_ec2::operation::delete_network_acl_entry::DeleteNetworkAclEntryOutput;
    use aws_sdk_ec2::operation::describe_network_acls::{DescribeNetworkAclsError, DescribeNetworkAclsOutput};
    use aws_sdk_ec2::operation::replace_network_acl_association::ReplaceNetworkAclAssociationOutput;
    use aws_sdk_ec2::operation::replace_network_acl_entry::ReplaceNetworkAclEntryOutput;
    use aws_sdk_ec2::types::NetworkAclAssociation;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::mocked;

    const ID: &str = "acl-1";
    const DEFAULT: &str = "acl-default";

    fn entry(rule: i32, egress: bool, protocol: &str, action: RuleAction, ports: Option<(i32, i32)>) -> NetworkAclEntry {
        NetworkAclEntry::builder()
            .rule_number(rule)
            .egress(egress)
            .protocol(protocol)
            .rule_action(action)
            .cidr_block("0.0.0.0/0")
            .set_port_range(ports.map(|(f, t)| PortRange::builder().from(f).to(t).build()))
            .build()
    }

    fn association(subnet: &str, id: &str, acl: &str) -> NetworkAclAssociation {
        NetworkAclAssociation::builder().subnet_id(subnet).network_acl_association_id(id).network_acl_id(acl).build()
    }

    fn acl(entries: Vec<NetworkAclEntry>, associations: Vec<NetworkAclAssociation>) -> SdkAcl {
        SdkAcl::builder()
            .network_acl_id(ID)
            .vpc_id("vpc-1")
            .is_default(false)
            .set_entries(Some(entries))
            .set_associations(Some(associations))
            .build()
    }

    fn described(a: SdkAcl) -> DescribeNetworkAclsOutput {
        DescribeNetworkAclsOutput::builder().network_acls(a).build()
    }

    fn default_described() -> DescribeNetworkAclsOutput {
        described(SdkAcl::builder().network_acl_id(DEFAULT).vpc_id("vpc-1").is_default(true).build())
    }

    fn cx(rules: &[&Rule]) -> Cx {
        mocked(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, rules)).0
    }

    fn tcp(rule: i64, action: &str, port: i64) -> Value {
        Value::Map(Props::from([
            ("rule".to_string(), Value::Int(rule)),
            ("protocol".to_string(), Value::str("tcp")),
            ("action".to_string(), Value::str(action)),
            ("cidr".to_string(), Value::str("0.0.0.0/0")),
            ("from_port".to_string(), Value::Int(port)),
            ("to_port".to_string(), Value::Int(port)),
            ("icmp_type".to_string(), Value::Null),
        ]))
    }

    #[test]
    fn live_shape_equals_the_normalised_stack_shape() {
        let a = acl(
            vec![
                entry(CATCH_ALL, false, "-1", RuleAction::Deny, None),
                entry(CATCH_ALL, true, "-1", RuleAction::Deny, None),
                entry(200, false, "6", RuleAction::Allow, Some((443, 443))),
                entry(100, false, "6", RuleAction::Allow, Some((22, 22))),
                // AWS ignores ports for protocols other than tcp and udp.
                entry(100, true, "-1", RuleAction::Allow, Some((0, 0))),
            ],
            vec![association("subnet-b", "aclassoc-2", ID), association("subnet-a", "aclassoc-1", ID)],
        );
        let all = Value::Map(Props::from([
            ("rule".to_string(), Value::Int(100)),
            ("protocol".to_string(), Value::str("all")),
            ("action".to_string(), Value::str("allow")),
            ("cidr".to_string(), Value::str("0.0.0.0/0")),
        ]));
        let mut desired = Props::from([
            ("vpc".to_string(), Value::str("vpc-1")),
            ("ingress".to_string(), Value::List(vec![tcp(200, "allow", 443), tcp(100, "allow", 22)])),
            ("egress".to_string(), Value::List(vec![all])),
            ("subnets".to_string(), Value::List(vec![Value::str("subnet-b"), Value::str("subnet-a")])),
        ]);
        NetworkAcl.normalise("s", "acl", &mut desired);

        assert_eq!(live(&a).props, desired);
        assert_eq!(desired_entries(&desired).unwrap(), live_entries(&a));
    }

    #[test]
    fn imported_entries_read_by_name_and_rule_and_normalise_back() {
        let a = acl(
            vec![
                entry(200, false, "6", RuleAction::Allow, Some((443, 443))),
                entry(100, false, "-1", RuleAction::Allow, None),
                entry(110, false, "50", RuleAction::Deny, None),
            ],
            vec![],
        );
        let l = live(&a);
        let mut imported = NetworkAcl.imported_props(&l);
        let shown: Vec<(i64, String)> = imported["ingress"]
            .as_list()
            .iter()
            .map(|e| {
                let m = e.as_map().unwrap();
                (m["rule"].as_i64().unwrap(), m["protocol"].as_str().unwrap().to_owned())
            })
            .collect();
        assert_eq!(shown, [(100, "all".into()), (110, "50".into()), (200, "tcp".into())]);
        NetworkAcl.normalise("s", "acl", &mut imported);
        assert_eq!(imported, l.props, "the imported entries are the live ones");
    }

    #[test]
    fn protocols_as_aws_stores_them() {
        for (given, want) in [("tcp", Some("6")), ("UDP", Some("17")), ("icmp", Some("1")), ("all", Some("-1"))] {
            assert_eq!(protocol_number(given).as_deref(), want, "{given}");
        }
        assert_eq!(protocol_number("50").as_deref(), Some("50"));
        assert_eq!(protocol_number("256"), None);
        assert_eq!(protocol_number("sctp"), None);
    }

    /// Update: a new entry is created, a changed one replaced, one left out deleted; a subnet
    /// added is moved from the ACL it uses, a subnet left out goes back to the default ACL.
    #[tokio::test(start_paused = true)]
    async fn converge_creates_replaces_deletes_and_moves_subnets() {
        let current = acl(
            vec![
                entry(CATCH_ALL, false, "-1", RuleAction::Deny, None),
                entry(100, false, "6", RuleAction::Allow, Some((22, 22))),
                entry(110, false, "6", RuleAction::Allow, Some((80, 80))),
            ],
            vec![association("subnet-old", "aclassoc-old", ID)],
        );
        let describe_this = mock!(Client::describe_network_acls)
            .match_requests(|r| r.network_acl_ids() == [ID])
            .then_output(move || described(current.clone()));
        let describe_subnet = mock!(Client::describe_network_acls)
            .match_requests(|r| r.filters().iter().any(|f| f.name() == Some("association.subnet-id")))
            .then_output(|| {
                DescribeNetworkAclsOutput::builder()
                    .network_acls(
                        SdkAcl::builder()
                            .network_acl_id(DEFAULT)
                            .associations(association("subnet-new", "aclassoc-new", DEFAULT))
                            .build(),
                    )
                    .build()
            });
        let describe_default = mock!(Client::describe_network_acls)
            .match_requests(|r| r.filters().iter().any(|f| f.name() == Some("default")))
            .then_output(default_described);
        let create = mock!(Client::create_network_acl_entry)
            .match_requests(|r| r.rule_number() == Some(120) && r.protocol() == Some("6") && r.egress() == Some(false))
            .then_output(|| CreateNetworkAclEntryOutput::builder().build());
        let replace = mock!(Client::replace_network_acl_entry)
            .match_requests(|r| r.rule_number() == Some(100) && r.rule_action() == Some(&RuleAction::Deny))
            .then_output(|| ReplaceNetworkAclEntryOutput::builder().build());
        let remove = mock!(Client::delete_network_acl_entry)
            .match_requests(|r| r.rule_number() == Some(110) && r.egress() == Some(false))
            .then_output(|| DeleteNetworkAclEntryOutput::builder().build());
        let move_in = mock!(Client::replace_network_acl_association)
            .match_requests(|r| r.association_id() == Some("aclassoc-new") && r.network_acl_id() == Some(ID))
            .then_output(|| ReplaceNetworkAclAssociationOutput::builder().new_association_id("aclassoc-n2").build());
        let move_out = mock!(Client::replace_network_acl_association)
            .match_requests(|r| r.association_id() == Some("aclassoc-old") && r.network_acl_id() == Some(DEFAULT))
            .then_output(|| ReplaceNetworkAclAssociationOutput::builder().new_association_id("aclassoc-o2").build());
        let cx = cx(&[&describe_this, &describe_subnet, &describe_default, &create, &replace, &remove, &move_in, &move_out]);
        let mut want = Props::from([
            ("vpc".to_string(), Value::str("vpc-1")),
            ("ingress".to_string(), Value::List(vec![tcp(100, "deny", 22), tcp(120, "allow", 443)])),
            ("egress".to_string(), Value::List(vec![])),
            ("subnets".to_string(), Value::List(vec![Value::str("subnet-new")])),
        ]);
        NetworkAcl.normalise("s", "acl", &mut want);

        converge(&cx, ID, &want).await.unwrap();

        for (rule, name) in [
            (&create, "create 120"),
            (&replace, "replace 100"),
            (&remove, "delete 110"),
            (&move_in, "move subnet-new here"),
            (&move_out, "move subnet-old to the default"),
        ] {
            assert_eq!(rule.num_calls(), 1, "{name}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn delete_returns_subnets_to_the_default_acl_first() {
        let describe_this = mock!(Client::describe_network_acls)
            .match_requests(|r| r.network_acl_ids() == [ID])
            .then_output(|| described(acl(vec![], vec![association("subnet-a", "aclassoc-1", ID)])));
        let describe_default = mock!(Client::describe_network_acls)
            .match_requests(|r| r.network_acl_ids().is_empty())
            .then_output(default_described);
        let move_out = mock!(Client::replace_network_acl_association)
            .match_requests(|r| r.association_id() == Some("aclassoc-1") && r.network_acl_id() == Some(DEFAULT))
            .then_output(|| ReplaceNetworkAclAssociationOutput::builder().build());
        let delete = mock!(Client::delete_network_acl)
            .match_requests(|r| r.network_acl_id() == Some(ID))
            .then_output(|| DeleteNetworkAclOutput::builder().build());
        let cx = cx(&[&describe_this, &describe_default, &move_out, &delete]);
        let none = Props::new();

        NetworkAcl.delete(&cx, &DeleteReq { id: "acl", physical_id: ID, props: &none, attrs: &none }).await.unwrap();

        assert_eq!(move_out.num_calls(), 1);
        assert_eq!(delete.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn delete_of_an_acl_already_gone_is_done() {
        let describe = mock!(Client::describe_network_acls).then_error(|| {
            DescribeNetworkAclsError::generic(ErrorMetadata::builder().code("InvalidNetworkAclID.NotFound").build())
        });
        let delete = mock!(Client::delete_network_acl).then_error(|| {
            DeleteNetworkAclError::generic(ErrorMetadata::builder().code("InvalidNetworkAclID.NotFound").build())
        });
        let cx = cx(&[&describe, &delete]);
        let none = Props::new();

        let got = NetworkAcl.delete(&cx, &DeleteReq { id: "acl", physical_id: ID, props: &none, attrs: &none }).await;

        assert_eq!(got, Ok(()));
        assert_eq!(delete.num_calls(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn delete_refused_while_associated_is_in_use_for_the_executor() {
        let describe = mock!(Client::describe_network_acls).then_output(|| described(acl(vec![], vec![])));
        let delete = mock!(Client::delete_network_acl).then_error(|| {
            DeleteNetworkAclError::generic(
                ErrorMetadata::builder()
                    .code("DependencyViolation")
                    .message("The network ACL 'acl-1' has dependencies and cannot be deleted.")
                    .build(),
            )
        });
        let cx = cx(&[&describe, &delete]);
        let none = Props::new();

        let got = NetworkAcl.delete(&cx, &DeleteReq { id: "acl", physical_id: ID, props: &none, attrs: &none }).await;

        assert!(matches!(got, Err(AwsError::InUse(_))), "{got:?}");
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    const NET: &str = "  vpc: { type: vpc, cidr: 10.0.0.0/16 }
  a: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.0.0/24 }
  b: { type: subnet, vpc: '${vpc.id}', cidr: 10.0.1.0/24 }
  other: { type: vpc, cidr: 10.1.0.0/16 }
  osub: { type: subnet, vpc: '${other.id}', cidr: 10.1.0.0/24 }
";

    #[test]
    fn entries_follow_awss_rules() {
        valid(&format!(
            "{NET}  acl: {{ type: network_acl, vpc: '${{vpc.id}}', ingress: [{{ rule: 100, protocol: tcp, action: allow, cidr: 0.0.0.0/0, from_port: 22, to_port: 22 }}, {{ rule: 110, protocol: icmp, action: allow, cidr: 10.0.0.0/8, icmp_type: -1, icmp_code: -1 }}], egress: [{{ rule: 100, protocol: all, action: allow, cidr: 0.0.0.0/0 }}] }}"
        ));
        let p = problems(&format!(
            "{NET}  acl: {{ type: network_acl, vpc: '${{vpc.id}}', ingress: [{{ rule: 100, protocol: tcp, action: allow, cidr: 0.0.0.0/0 }}, {{ rule: 100, protocol: all, action: deny, cidr: 0.0.0.0/0, from_port: 1, to_port: 2 }}, {{ rule: 32767, protocol: icmp, action: deny, cidr: 0.0.0.0/0 }}, {{ rule: 5, protocol: sctp, action: deny, cidr: 0.0.0.0/0 }}, {{ rule: 6, protocol: udp, action: allow, cidr: 0.0.0.0/0, from_port: 90, to_port: 80 }}] }}"
        ));
        assert_eq!(p.len(), 7, "{p:?}");
        for want in [
            "protocol tcp needs from_port and to_port",
            "ports apply to tcp and udp only; protocol all covers all ports",
            "rule number 100 is already used by ingress entry 1",
            "rule number 32767 is outside 1-32766",
            "protocol icmp needs icmp_type and icmp_code",
            "`sctp` is no protocol",
            "to_port 80 is below from_port 90",
        ] {
            assert!(p.iter().any(|m| m.contains(want)), "{want}: {p:?}");
        }
    }

    #[test]
    fn a_subnet_of_the_vpc_on_one_acl() {
        valid(&format!(
            "{NET}  x: {{ type: network_acl, vpc: '${{vpc.id}}', subnets: ['${{a.id}}'] }}\n  y: {{ type: network_acl, vpc: '${{vpc.id}}', subnets: ['${{b.id}}'] }}"
        ));
        let p = problems(&format!(
            "{NET}  x: {{ type: network_acl, vpc: '${{vpc.id}}', subnets: ['${{a.id}}', '${{osub.id}}'] }}\n  y: {{ type: network_acl, vpc: '${{vpc.id}}', subnets: ['${{a.id}}'] }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("subnet `osub` is in VPC `other`, not in this ACL's VPC `vpc`"), "{p:?}");
        assert!(p[1].contains("subnet `a` is already associated with network ACL `x`"), "{p:?}");
    }
}
