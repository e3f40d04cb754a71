//! Checks across resources that the type system cannot see: CIDR arithmetic between VPCs and
//! their subnets.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;

use super::{Diagnostic, Expr, Stack};
use crate::value::Value;

pub fn parse_cidr(text: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net =
        text.parse().map_err(|_| format!("invalid CIDR block `{text}`: expected an IPv4 network like 10.0.0.0/16"))?;
    if net.network() != net.addr() {
        return Err(format!("invalid CIDR block `{text}`: host bits are set; the network is `{}`", net.trunc()));
    }
    Ok(net)
}

fn literal_cidr(e: Option<&Expr>) -> Option<Ipv4Net> {
    match e {
        Some(Expr::Lit(Value::Str(s))) => parse_cidr(s).ok(),
        _ => None,
    }
}

pub fn network(stack: &Stack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let src = &stack.source;
    let mut subnets_by_vpc: BTreeMap<&str, Vec<(&str, Ipv4Net, super::Span)>> = BTreeMap::new();
    for r in stack.resources.values() {
        let cidr_span = r.prop_span("cidr").unwrap_or(r.span);
        if r.kind_name() == "vpc"
            && let Some(net) = literal_cidr(r.props.get("cidr"))
        {
            // AWS allows VPC blocks between /16 and /28.
            if !(16..=28).contains(&net.prefix_len()) {
                out.push(
                    Diagnostic::at(src, cidr_span, format!("VPC CIDR block {net} must be between /16 and /28"))
                        .resource(&r.id),
                );
            }
        }
        if r.kind_name() != "subnet" {
            continue;
        }
        let Some(cidr) = literal_cidr(r.props.get("cidr")) else { continue };
        let Some(Expr::Ref(vref)) = r.props.get("vpc") else { continue };
        subnets_by_vpc.entry(vref.target.as_str()).or_default().push((r.id.as_str(), cidr, cidr_span));
        let Some(vpc) = stack.resources.get(&vref.target).filter(|v| v.kind_name() == "vpc") else { continue };
        if let Some(vnet) = literal_cidr(vpc.props.get("cidr"))
            && !vnet.contains(&cidr)
        {
            out.push(
                Diagnostic::at(
                    src,
                    cidr_span,
                    format!("subnet CIDR {cidr} is not inside the CIDR {vnet} of VPC `{}`", vpc.id),
                )
                .resource(&r.id),
            );
        }
        if !(16..=28).contains(&cidr.prefix_len()) {
            out.push(
                Diagnostic::at(src, cidr_span, format!("subnet CIDR block {cidr} must be between /16 and /28"))
                    .resource(&r.id),
            );
        }
    }
    for subnets in subnets_by_vpc.values() {
        for (i, (a, an, _)) in subnets.iter().enumerate() {
            for (b, bn, bspan) in &subnets[i + 1..] {
                if an.contains(bn) || bn.contains(an) {
                    out.push(
                        Diagnostic::at(
                            src,
                            *bspan,
                            format!("subnet CIDR {bn} overlaps {an} of subnet `{a}` in the same VPC"),
                        )
                        .resource(b),
                    );
                }
            }
        }
    }
    out
}
