//! Where a resource sits in the network, as the stack file shows it: the VPC it is in, its
//! subnet's availability zone, the address ranges written. The network kinds' rules compare
//! these across resources. A value known only at apply, or one naming something outside the
//! stack, says nothing: a rule that needs it skips.

use std::fmt;

use ipnet::Ipv4Net;

use super::StackView;
use super::rules::{lit_str, ref_target};
use crate::expr::{Expr, ExprMap};
use crate::value::Value;

/// An IPv4 network as AWS takes it: `address/prefix`, no host bits set.
pub fn parse_cidr(text: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net =
        text.parse().map_err(|_| format!("invalid CIDR block `{text}`: expected an IPv4 network like 10.0.0.0/16"))?;
    if net.network() != net.addr() {
        return Err(format!("invalid CIDR block `{text}`: host bits are set; the network is `{}`", net.trunc()));
    }
    Ok(net)
}

/// A literal CIDR value.
pub fn cidr(e: Option<&Expr>) -> Option<Ipv4Net> {
    lit_str(e).and_then(|s| parse_cidr(s).ok())
}

/// A VPC as the stack names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vpc<'a> {
    /// A vpc resource of this stack, by logical id.
    Declared(&'a str),
    /// An existing VPC, by the id written out (`vpc-...`).
    Existing(&'a str),
}

impl Vpc<'_> {
    /// Whether the two are known to be different VPCs. A VPC the stack creates and an id
    /// written out may be one (an id copied from an earlier apply): that is not known.
    pub fn differs(self, other: Vpc) -> bool {
        match (self, other) {
            (Vpc::Declared(a), Vpc::Declared(b)) | (Vpc::Existing(a), Vpc::Existing(b)) => a != b,
            _ => false,
        }
    }

    /// Whether the two are known to be the same VPC.
    pub fn same(self, other: Vpc) -> bool {
        self == other
    }
}

impl fmt::Display for Vpc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Vpc::Declared(id) => write!(f, "VPC `{id}`"),
            Vpc::Existing(id) => write!(f, "VPC {id}"),
        }
    }
}

/// How far references are followed (`${subnet.vpc_id}` -> the subnet's `vpc` -> ...): enough
/// for every chain a stack writes, and no further, so a loop (reported by the graph) ends.
const DEPTH: usize = 4;

/// The VPC a `vpc` value names: `${v.id}` of a vpc, `${s.vpc_id}` of a subnet (that
/// subnet's VPC), or an id written out.
pub fn named_vpc<'a>(stack: &'a dyn StackView, e: &'a Expr) -> Option<Vpc<'a>> {
    vpc_named(stack, e, DEPTH)
}

fn vpc_named<'a>(stack: &'a dyn StackView, e: &'a Expr, depth: usize) -> Option<Vpc<'a>> {
    match e {
        Expr::Lit(Value::Str(id)) => Some(Vpc::Existing(id)),
        Expr::Ref(r) if depth > 0 => match (stack.resource(&r.target)?, r.attr.as_str()) {
            (("vpc", _), "id") => Some(Vpc::Declared(&r.target)),
            (("subnet", props), "vpc_id") => vpc_named(stack, props.get("vpc")?, depth - 1),
            _ => None,
        },
        _ => None,
    }
}

/// The VPC a resource of the stack is in, as its written values show: a vpc is its own; a NAT
/// gateway is in its subnet's; a load balancer in its first subnet's; the other network kinds
/// in the one their `vpc` names.
pub fn vpc_of<'a>(stack: &'a dyn StackView, id: &'a str) -> Option<Vpc<'a>> {
    vpc_of_depth(stack, id, DEPTH)
}

fn vpc_of_depth<'a>(stack: &'a dyn StackView, id: &'a str, depth: usize) -> Option<Vpc<'a>> {
    if depth == 0 {
        return None;
    }
    let (kind, props) = stack.resource(id)?;
    let through = |e: &'a Expr| ref_target(e).and_then(|t| vpc_of_depth(stack, t, depth - 1));
    match kind {
        "vpc" => Some(Vpc::Declared(id)),
        "nat_gateway" => through(props.get("subnet")?),
        "load_balancer" => match props.get("subnets")? {
            Expr::List(items) => items.iter().find_map(through),
            _ => None,
        },
        _ => vpc_named(stack, props.get("vpc")?, depth - 1),
    }
}

/// The VPC of the resource `e` refers to as a whole (`${public_a.id}`, `${lb_sg.id}`).
pub fn vpc_of_ref<'a>(stack: &'a dyn StackView, e: &'a Expr) -> Option<Vpc<'a>> {
    vpc_of(stack, ref_target(e)?)
}

/// The resources of `kind` before `id` (in file order) whose `vpc` names `vpc`: found among
/// the resources referring to a VPC of the stack, or by the id written out.
pub fn earlier_in_vpc<'a>(
    stack: &'a dyn StackView,
    kind: &'a str,
    id: &'a str,
    vpc: Vpc<'a>,
) -> Vec<(&'a str, &'a ExprMap)> {
    let in_vpc = |props: &'a ExprMap| props.get("vpc").and_then(|e| named_vpc(stack, e)) == Some(vpc);
    match vpc {
        Vpc::Declared(v) => stack
            .referrers(v)
            .filter(|(_, k, _)| *k == kind)
            .take_while(|(i, _, _)| *i != id)
            .filter(|(_, _, props)| in_vpc(props))
            .map(|(i, _, props)| (i, props))
            .collect(),
        Vpc::Existing(v) => stack
            .of_kind(kind)
            .take_while(|(i, _)| *i != id)
            .filter(|(_, props)| lit_str(props.get("vpc")) == Some(v))
            .collect(),
    }
}

/// The address range of a VPC of the stack, when written out.
pub fn vpc_cidr(stack: &dyn StackView, vpc: Vpc) -> Option<Ipv4Net> {
    match vpc {
        Vpc::Declared(id) => match stack.resource(id)? {
            ("vpc", props) => cidr(props.get("cidr")),
            _ => None,
        },
        Vpc::Existing(_) => None,
    }
}

/// A subnet's availability zone, as the stack file shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone<'a> {
    /// The zone written (`az: us-east-1a`).
    Named(&'a str),
    /// None written: AWS picks one of the region's zones.
    Picked,
}

/// The zone of the subnet `e` refers to as a whole (`${public_a.id}`), when `e` names a
/// subnet of the stack whose zone is not known only at apply.
pub fn subnet_zone<'a>(stack: &'a dyn StackView, e: &'a Expr) -> Option<Zone<'a>> {
    match stack.resource(ref_target(e)?)? {
        ("subnet", props) => match props.get("az") {
            None | Some(Expr::Lit(Value::Null)) => Some(Zone::Picked),
            Some(Expr::Lit(Value::Str(z))) => Some(Zone::Named(z)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::rules::testing::{Stack, refer};

    #[test]
    fn vpcs_are_followed_through_references() {
        let s = Stack::default()
            .with("vpc", "vpc", &[("cidr", "10.0.0.0/16")])
            .with("a", "subnet", &[("vpc", "${vpc.id}")])
            .with("b", "subnet", &[("vpc", "${a.vpc_id}")])
            .with("c", "subnet", &[("vpc", "vpc-123"), ("az", "us-east-1b")])
            .with("loop", "subnet", &[("vpc", "${loop.vpc_id}")])
            .with("nat", "nat_gateway", &[("subnet", "${b.id}")])
            .with("lb", "load_balancer", &[("subnets", "${c.id}, ${a.id}")]);
        assert_eq!(vpc_of(&s, "b"), Some(Vpc::Declared("vpc")));
        assert_eq!(vpc_of(&s, "nat"), Some(Vpc::Declared("vpc")));
        assert_eq!(vpc_of(&s, "lb"), Some(Vpc::Existing("vpc-123")));
        assert_eq!(vpc_of(&s, "loop"), None);
        assert_eq!(vpc_cidr(&s, Vpc::Declared("vpc")), Some("10.0.0.0/16".parse().unwrap()));
        assert_eq!(subnet_zone(&s, &refer("a", "id")), Some(Zone::Picked));
        assert_eq!(subnet_zone(&s, &refer("c", "id")), Some(Zone::Named("us-east-1b")));
        assert_eq!(subnet_zone(&s, &refer("vpc", "id")), None);
        let referring: Vec<&str> = s.referrers("a").map(|(id, _, _)| id).collect();
        assert_eq!(referring, ["b", "lb"]);
        let earlier =
            |id| earlier_in_vpc(&s, "subnet", id, Vpc::Declared("vpc")).iter().map(|(i, _)| *i).collect::<Vec<_>>();
        assert_eq!(earlier("b"), ["a"], "only subnets naming the VPC itself are found");
        assert_eq!(earlier_in_vpc(&s, "subnet", "z", Vpc::Existing("vpc-123")).len(), 1);
        assert!(Vpc::Declared("a").differs(Vpc::Declared("b")));
        assert!(!Vpc::Declared("a").differs(Vpc::Existing("vpc-1")));
    }
}
