use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_route53::types::{AliasTarget, ChangeAction, ResourceRecordSet, RrType};

use super::route53;
use super::{CreateReq, DeleteReq, Kind, Live, Selection, Tags, UpdateReq};
use crate::aws::{AwsError, Cx};
use crate::expr::Expr;
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::{lit_str, ref_target, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject, dns};
use crate::value::{Props, Value};

pub struct DnsRecord;

const TYPES: &[&str] = &["A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA", "PTR", "SPF", "DS"];

static ALIAS: Ty = Ty::Obj(&[
    Prop::new("dns_name", Ty::Str, "The target's DNS name, e.g. `${alb.dns_name}`.")
        .aws("route53:AliasTarget.DNSName")
        .required(),
    Prop::new("zone_id", Ty::Str, "The target's hosted zone id, e.g. `${alb.zone_id}`.")
        .aws("route53:AliasTarget.HostedZoneId")
        .required(),
    Prop::new("evaluate_target_health", Ty::Bool, "Answer only while the target is healthy.")
        .aws("route53:AliasTarget.EvaluateTargetHealth")
        .default(Default::Bool(false)),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "dns_record",
    doc: "A Route 53 record set: plain (`values`, `ttl`) or an alias (to a load balancer). Created with CREATE, \
          so a record of that name and type that exists already is never overwritten: `plan` shows it as a \
          conflict and `apply` refuses, unless the resource says `adopt: true` (then it is taken over and \
          managed from then on). Route 53 records carry no tags: a record is rprov's by being in state (created \
          or adopted); `destroy` deletes only those, `teardown` only those in zones it deletes. Names are \
          compared lowercase with the trailing dot.",
    props: &[
        Prop::new("zone", Ty::Str, "The hosted zone id, e.g. `${zone.id}`.").required().replaces(),
        Prop::new("name", Ty::Str, "The record's full name, e.g. `app.example.com`.").required().replaces(),
        Prop::new("record_type", Ty::Enum(TYPES), "The record type (`type` is the resource's kind).")
            .aws("route53:ResourceRecordSet.Type")
            .required()
            .replaces(),
        Prop::new("ttl", Ty::Int, "Seconds resolvers may cache the answer (plain records). Default: 300.")
            .aws("route53:ResourceRecordSet.TTL"),
        Prop::new("values", Ty::List(&Ty::Str), "The answers (plain records).")
            .aws("route53:ResourceRecord.Value")
            .unordered(),
        Prop::new("alias", ALIAS, "Alias to an AWS resource instead of values."),
    ],
    attrs: &[
        Attr::new("id", "`<zone id>/<name with trailing dot>/<type>`."),
        Attr::new("fqdn", "The record's full name, without the trailing dot."),
    ],
    taggable: false,
};

/// The physical id: zone, name as Route 53 reports it, type.
fn record_id(zone: &str, name: &str, ty: &str) -> String {
    format!("{}/{}/{ty}", route53::bare_zone_id(zone), route53::fqdn(name))
}

fn parse_id(id: &str) -> Option<(&str, &str, &str)> {
    let (zone, rest) = id.split_once('/')?;
    let (name, ty) = rest.rsplit_once('/')?;
    Some((zone, name, ty))
}

fn live(zone: &str, r: &ResourceRecordSet) -> Live {
    let name = route53::fqdn(r.name());
    let ty = r.r#type().as_str();
    let id = record_id(zone, &name, ty);
    let mut props = Props::new();
    props.insert("zone".into(), Value::str(zone));
    props.insert("name".into(), Value::str(&name));
    props.insert("record_type".into(), Value::str(ty));
    if let Some(a) = r.alias_target() {
        props.insert(
            "alias".into(),
            Value::Map(crate::value::Props::from([
                ("dns_name".to_string(), Value::str(route53::fqdn(a.dns_name()))),
                ("zone_id".to_string(), Value::str(a.hosted_zone_id())),
                ("evaluate_target_health".to_string(), Value::Bool(a.evaluate_target_health())),
            ])),
        );
    } else {
        if let Some(ttl) = r.ttl() {
            props.insert("ttl".into(), Value::Int(ttl));
        }
        let values: BTreeSet<String> = r.resource_records().iter().map(|v| v.value().to_owned()).collect();
        let mut values: Vec<Value> = values.into_iter().map(Value::Str).collect();
        values.sort_by_cached_key(|v| v.to_string());
        props.insert("values".into(), Value::List(values));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("fqdn".into(), Value::str(name.trim_end_matches('.')));
    Live { physical_id: id, props, attrs, tags: Tags::new() }
}

/// The record set `props` describe.
fn record_set(props: &Props) -> Result<ResourceRecordSet, AwsError> {
    let text = |k: &str| props.get(k).and_then(Value::as_str).unwrap_or_default();
    let name = route53::fqdn(text("name"));
    let ty = RrType::from(text("record_type"));
    if let Some(a) = props.get("alias").and_then(Value::as_map) {
        let get = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or_default();
        let target = AliasTarget::builder()
            .dns_name(get("dns_name"))
            .hosted_zone_id(get("zone_id"))
            .evaluate_target_health(a.get("evaluate_target_health").and_then(Value::as_bool).unwrap_or(false))
            .build()
            .map_err(|e| AwsError::Invalid(e.to_string()))?;
        return ResourceRecordSet::builder()
            .name(name)
            .r#type(ty)
            .alias_target(target)
            .build()
            .map_err(|e| AwsError::Invalid(e.to_string()));
    }
    let ttl = props.get("ttl").and_then(Value::as_i64).unwrap_or(300);
    let values = props.get("values").map(Value::string_list).unwrap_or_default();
    route53::plain(&name, ty, ttl, &values)
}

fn zone_of(props: &Props) -> String {
    route53::bare_zone_id(props.get("zone").and_then(Value::as_str).unwrap_or_default()).to_owned()
}

/// Writes the record: CREATE for a new one (refused by Route 53 when the name and type exist,
/// so nothing is overwritten), UPSERT for one rprov already manages.
async fn write(cx: &Cx, props: &Props, action: ChangeAction) -> Result<Live, AwsError> {
    let zone = zone_of(props);
    let set = record_set(props)?;
    match route53::change(cx, &zone, action, vec![set.clone()]).await {
        Ok(()) => Ok(live(&zone, &set)),
        // "Tried to create resource record set [name='…', type='…'] but it already exists"
        Err(AwsError::Invalid(m)) if m.contains("already exists") => Err(AwsError::AlreadyExists(m)),
        Err(e) => Err(e),
    }
}

/// The values as written: each with its literal text when it has one; none while the list is
/// known only at apply.
fn written_values(e: Option<&Expr>) -> Option<Vec<Option<String>>> {
    match e {
        None | Some(Expr::Lit(Value::Null)) => Some(vec![]),
        Some(Expr::List(items)) => Some(items.iter().map(|i| lit_str(Some(i)).map(str::to_owned)).collect()),
        Some(Expr::Lit(Value::List(items))) => Some(items.iter().map(|v| v.as_str().map(str::to_owned)).collect()),
        Some(_) => None,
    }
}

/// "an A", "a CNAME" (as the letters are read).
fn a_type(ty: &str) -> String {
    format!(
        "{} {ty}",
        if ty.starts_with(['A', 'E', 'F', 'H', 'I', 'L', 'M', 'N', 'O', 'R', 'S', 'X']) { "an" } else { "a" }
    )
}

/// Whether two `zone` values name one hosted zone: the same resource, or the same id.
fn same_zone(a: Option<&Expr>, b: Option<&Expr>) -> bool {
    match (a.and_then(ref_target), b.and_then(ref_target)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => {
            lit_str(a).is_some_and(|x| lit_str(b).is_some_and(|y| route53::bare_zone_id(x) == route53::bare_zone_id(y)))
        }
        _ => false,
    }
}

impl KindSpec for DnsRecord {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// The name as written in stacks: without Route 53's final dot.
    fn imported_props(&self, live: &Live) -> Props {
        let mut p = live.props.clone();
        if let Some(Value::Str(n)) = p.get_mut("name")
            && n.len() > 1
            && n.ends_with('.')
        {
            n.pop();
        }
        p
    }

    /// AWS (ChangeResourceRecordSets): "exactly one of AliasTarget, all of TTL and
    /// ResourceRecords"; a name inside the zone's domain ("is not permitted in zone"); no CNAME
    /// at the zone apex, none beside other records of its name, one value in a CNAME; A and
    /// AAAA values are IPv4 and IPv6 addresses; an alias to a load balancer is of type A or
    /// AAAA; one record set per name and type (CREATE of an existing one: "already exists").
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(e) = s.get("zone") {
            out.extend(wrong_kind(s, "zone", e, &["hosted_zone"]));
        }
        let name = s.str("name");
        if let Some(why) = name.and_then(dns::shape_problem) {
            out.push(Problem::new("name", format!("record name `{}` is no DNS name: {why}", name.unwrap_or_default())));
        }
        let ty = s.str("record_type");
        let alias = s.get("alias").filter(|e| !matches!(e, Expr::Lit(Value::Null)));
        let values = written_values(s.get("values"));
        match (alias, values.as_ref().map(Vec::len)) {
            (Some(_), Some(n)) if n > 0 => out.push(
                Problem::new(
                    "values",
                    "a record has either `alias` or `values`: AWS takes an alias target or records, not both",
                )
                .help("remove `values` (Route 53 answers with the alias target's addresses), or `alias`"),
            ),
            (None, Some(0)) => out.push(
                Problem::new("", "a record needs `values` (or an `alias`): AWS takes no record set without records")
                    .help("e.g. `values: [192.0.2.10]`"),
            ),
            _ => {}
        }
        if alias.is_some() && s.get("ttl").is_some_and(|e| !matches!(e, Expr::Lit(Value::Null))) {
            out.push(
                Problem::new("ttl", "an alias record has no TTL of its own: AWS refuses `ttl` with `alias`")
                    .help("remove `ttl`: Route 53 answers with the alias target's TTL"),
            );
        }
        if let (Some("CNAME"), Some(v)) = (ty, &values)
            && v.len() > 1
        {
            out.push(
                Problem::new(
                    "values",
                    format!("a CNAME record has one value, not {}: DNS points a name at one other name", v.len()),
                )
                .help("use an A or AAAA record for several addresses"),
            );
        }
        for (i, v) in values.iter().flatten().enumerate() {
            let Some(v) = v else { continue };
            let fits = match ty {
                Some("A") => v.parse::<std::net::Ipv4Addr>().is_ok(),
                Some("AAAA") => v.parse::<std::net::Ipv6Addr>().is_ok(),
                _ => true,
            };
            if !fits {
                let (ty, what) = if ty == Some("A") { ("A", "IPv4") } else { ("AAAA", "IPv6") };
                out.push(
                    Problem::new(
                        format!("values.{i}"),
                        format!("`{v}` is no {what} address: AWS takes {what} addresses in an {ty} record"),
                    )
                    .help("a name goes in a CNAME record, or an alias"),
                );
            }
        }
        if let (Some(ty), Some(Expr::Map(a))) = (ty, alias)
            && let Some(target) = a.get("dns_name").and_then(ref_target)
            && let Some(what) = s.stack.resource(target).and_then(|(kind, _)| match kind {
                "load_balancer" => Some("load balancer"),
                "api_domain" => Some("API domain"),
                _ => None,
            })
            && !matches!(ty, "A" | "AAAA")
        {
            out.push(
                Problem::new("record_type", format!("an alias to {what} `{target}` is of type A or AAAA, not {ty}: AWS answers {what} aliases with addresses"))
                    .help("`record_type: A`"),
            );
        }
        let Some(name) = name else { return out };
        let zone = s.referenced("zone").filter(|(_, kind, _)| *kind == "hosted_zone");
        if let Some((zone_id, zone_name)) = zone.and_then(|(id, _, props)| Some((id, lit_str(props.get("name"))?))) {
            if !dns::within(name, zone_name) {
                out.push(
                    Problem::new("name", format!("`{name}` is not inside `{zone_name}`, the domain of hosted zone `{zone_id}`: Route 53 keeps a zone's records under its domain"))
                        .help(format!("e.g. `{}.{}`", name.trim_end_matches('.').split('.').next().unwrap_or("www"), zone_name.trim_end_matches('.'))),
                );
            } else if ty == Some("CNAME") && dns::canonical(name) == dns::canonical(zone_name) {
                out.push(
                    Problem::new("record_type", format!("a CNAME record at the zone's apex `{zone_name}`: DNS allows none beside the zone's SOA and NS records"))
                        .help("use an alias A record for the apex (e.g. to a load balancer)"),
                );
            }
        }
        let Some(ty) = ty else { return out };
        let canonical = dns::canonical(name);
        // The records of the same zone: those referring to it, else every record.
        let earlier: Vec<(&str, &crate::expr::ExprMap)> = match s.get("zone").and_then(ref_target) {
            Some(zone) => s
                .stack
                .referrers(zone)
                .filter(|(_, kind, _)| *kind == "dns_record")
                .take_while(|(id, _, _)| *id != s.id)
                .map(|(id, _, props)| (id, props))
                .collect(),
            None => s.stack.of_kind("dns_record").take_while(|(id, _)| *id != s.id).collect(),
        };
        for (other, props) in earlier {
            let Some(other_ty) = lit_str(props.get("record_type")) else { continue };
            let same_name = lit_str(props.get("name")).is_some_and(|n| dns::canonical(n) == canonical);
            if !same_name || !same_zone(s.get("zone"), props.get("zone")) {
                continue;
            }
            if other_ty == ty {
                out.push(
                    Problem::new("name", format!("`{name}` has {} record already (`{other}`): Route 53 holds one record set per name and type", a_type(ty)))
                        .help(format!("list every value in `{other}`")),
                );
                break;
            }
            if ty == "CNAME" || other_ty == "CNAME" {
                out.push(Problem::new(
                    "record_type",
                    format!("`{name}` has {} record already (`{other}`): DNS allows no CNAME beside other records of its name", a_type(other_ty)),
                ));
                break;
            }
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        if let Some(n) = props.get("name").and_then(Value::as_str).map(route53::fqdn) {
            props.insert("name".into(), Value::str(n));
        }
        if let Some(z) = props.get("zone").and_then(Value::as_str).map(|z| route53::bare_zone_id(z).to_owned()) {
            props.insert("zone".into(), Value::str(z));
        }
        match props.get_mut("alias") {
            Some(Value::Map(a)) => {
                if let Some(d) = a.get("dns_name").and_then(Value::as_str).map(route53::fqdn) {
                    a.insert("dns_name".into(), Value::str(d));
                }
                a.entry("evaluate_target_health".into()).or_insert(Value::Bool(false));
            }
            Some(Value::Null) | None => {
                // Route 53's own default for a plain record's TTL is none at all (the field is
                // required); rprov's is 300 s.
                if props.get("ttl").is_none_or(Value::is_null) {
                    props.insert("ttl".into(), Value::Int(300));
                }
                if let Some(Value::List(l)) = props.get("values")
                    && !l.iter().any(Value::has_unknown)
                {
                    let set: BTreeSet<String> = l.iter().filter_map(Value::as_str).map(str::to_owned).collect();
                    props.insert("values".into(), Value::List(set.into_iter().map(Value::Str).collect()));
                }
            }
            // Not known yet as a whole: left as it is.
            Some(_) => {}
        }
    }

    /// A CREATE sent again by the SDK after a lost answer is refused as "already exists"; the
    /// executor then finds the record by its identity with the content it sent.
    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn identity(&self, props: &Props) -> Option<String> {
        let text = |k: &str| props.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        Some(record_id(text("zone")?, text("name")?, text("record_type")?))
    }

    fn finds_occupants(&self) -> bool {
        true
    }

    /// A record exists in its zone.
    fn owner(&self, live: &Live) -> Option<String> {
        live.props.get("zone").and_then(Value::as_str).map(str::to_owned)
    }

    fn holds(&self) -> &'static [&'static str] {
        &["hosted_zone", "load_balancer", "certificate"]
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("route53", "ChangeResourceRecordSets")])
    }
}

#[async_trait]
impl Kind for DnsRecord {
    /// Records carry no tags: the stack's are the recorded ones, or those of its zones.
    fn selection(&self) -> Selection {
        Selection::Own
    }

    /// ListResourceRecordSets, paginated, once per hosted zone holding a record in `ids`.
    /// Records carry no tags: a record is the stack's by being in state. Without ids (teardown
    /// without state) the records of the zones the stack created are reported, without tags,
    /// except the zone's own SOA/NS and ACM validation records: teardown deletes them with their
    /// zone ([`Kind::owner`]); finding those zones costs ListHostedZonesByName and
    /// ListTagsForResources per 10 zones.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let discover = ids.is_empty();
        let zones: BTreeSet<String> = if discover {
            route53::stack_zones(cx).await?.into_iter().collect()
        } else {
            ids.iter().filter_map(|i| parse_id(i)).map(|(z, _, _)| z.to_owned()).collect()
        };
        let mut out = vec![];
        for zone in &zones {
            let records = match route53::records(cx, zone).await {
                Ok(r) => r,
                // The zone is gone, and its records with it.
                Err(AwsError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let apex = records.iter().find(|r| *r.r#type() == RrType::Soa).map(|r| route53::fqdn(r.name()));
            for r in records.iter().filter(|r| r.set_identifier().is_none()) {
                let l = live(zone, r);
                if discover {
                    if apex.as_deref().is_some_and(|a| route53::is_apex_own(r, a)) || route53::is_acm_validation(r) {
                        continue;
                    }
                } else if !ids.contains(&l.physical_id) {
                    continue;
                }
                out.push(l);
            }
        }
        Ok(out)
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        write(cx, req.props, ChangeAction::Create).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        write(cx, req.new, ChangeAction::Upsert).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let Some((zone, name, ty)) = parse_id(req.physical_id) else {
            return Err(AwsError::Invalid(format!("not a record id: {}", req.physical_id)));
        };
        // DELETE must name the record exactly as it is now (TTL and values included), so it is
        // read first; a record already gone is done.
        let sent = route53::client(cx)
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(name)
            .start_record_type(RrType::from(ty))
            .send()
            .await
            .map_err(crate::aws::classify);
        let page = match sent {
            Ok(p) => p,
            Err(AwsError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let current = page
            .resource_record_sets()
            .iter()
            .find(|r| route53::fqdn(r.name()) == name && r.r#type().as_str() == ty && r.set_identifier().is_none());
        match current {
            Some(r) => route53::change(cx, zone, ChangeAction::Delete, vec![r.clone()]).await,
            None => Ok(()),
        }
    }

    /// ListResourceRecordSets once per zone of the records to create (whose zone is known).
    async fn occupants(&self, cx: &Cx, wanted: &[(String, Props)]) -> Result<Vec<(String, Live)>, AwsError> {
        let ids: Vec<(&String, String)> = wanted.iter().filter_map(|(id, p)| Some((id, self.identity(p)?))).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let pids: Vec<String> = ids.iter().map(|(_, pid)| pid.clone()).collect();
        let found = self.read_many(cx, &pids).await?;
        Ok(ids
            .into_iter()
            .filter_map(|(id, pid)| Some((id.clone(), found.iter().find(|l| l.physical_id == pid)?.clone())))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = record_id("/hostedzone/Z1", "App.Example.com", "A");
        assert_eq!(id, "Z1/app.example.com./A");
        assert_eq!(parse_id(&id), Some(("Z1", "app.example.com.", "A")));
    }

    #[test]
    fn what_is_sent_reads_back_as_the_stack_says() {
        let mut alias = Props::from([
            ("zone".to_string(), Value::str("Z1")),
            ("name".to_string(), Value::str("App.example.com")),
            ("record_type".to_string(), Value::str("A")),
            (
                "alias".to_string(),
                Value::Map(crate::value::Props::from([
                    ("dns_name".to_string(), Value::str("s-alb-1.us-east-1.elb.amazonaws.com")),
                    ("zone_id".to_string(), Value::str("Z35SXDOTRQ7X7K")),
                ])),
            ),
        ]);
        DnsRecord.normalise("s", "r", &mut alias);
        assert_eq!(live("Z1", &record_set(&alias).unwrap()).props, alias);

        let mut plain = Props::from([
            ("zone".to_string(), Value::str("Z1")),
            ("name".to_string(), Value::str("txt.example.com.")),
            ("record_type".to_string(), Value::str("TXT")),
            ("values".to_string(), Value::List(vec![Value::str("\"b\""), Value::str("\"a\"")])),
        ]);
        DnsRecord.normalise("s", "r", &mut plain);
        assert_eq!(plain["ttl"], Value::Int(300));
        assert_eq!(live("Z1", &record_set(&plain).unwrap()).props, plain);
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    const ZONE: &str = "  zone: { type: hosted_zone, name: example.com }\n";

    #[test]
    fn names_in_the_zone() {
        valid(&format!(
            "{ZONE}  a: {{ type: dns_record, zone: '${{zone.id}}', name: Example.com., record_type: A, values: [192.0.2.1, 192.0.2.2] }}\n  b: {{ type: dns_record, zone: '${{zone.id}}', name: '*.example.com', record_type: CNAME, values: [example.com] }}"
        ));
        let p = problems(&format!(
            "{ZONE}  a: {{ type: dns_record, zone: '${{zone.id}}', name: app.example.org, record_type: A, values: [192.0.2.1] }}"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("2:52: `app.example.org` is not inside `example.com`, the domain of hosted zone `zone`: "),
            "{p:?}"
        );
        assert!(p[0].ends_with("e.g. `app.example.com`"), "{p:?}");
    }

    #[test]
    fn alias_or_values() {
        let alias = "alias: { dns_name: lb.example.net, zone_id: Z35SXDOTRQ7X7K }";
        valid(&format!(
            "{ZONE}  a: {{ type: dns_record, zone: '${{zone.id}}', name: example.com, record_type: A, {alias} }}"
        ));
        let p = problems(&format!(
            "{ZONE}  a: {{ type: dns_record, zone: '${{zone.id}}', name: a.example.com, record_type: A, {alias}, ttl: 60, values: [192.0.2.1] }}\n  b: {{ type: dns_record, zone: '${{zone.id}}', name: b.example.com, record_type: A }}"
        ));
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("an alias record has no TTL of its own"), "{p:?}");
        assert!(p[1].contains("a record has either `alias` or `values`"), "{p:?}");
        assert!(p[2].starts_with("3:3: a record needs `values`"), "{p:?}");
    }

    #[test]
    fn cnames() {
        let p = problems(&format!(
            "{ZONE}  apex: {{ type: dns_record, zone: '${{zone.id}}', name: example.com, record_type: CNAME, values: [other.example.net] }}\n  two: {{ type: dns_record, zone: '${{zone.id}}', name: w.example.com, record_type: CNAME, values: [a.example.net, b.example.net] }}\n  beside: {{ type: dns_record, zone: '${{zone.id}}', name: w.example.com, record_type: TXT, values: ['\"x\"'] }}"
        ));
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("a CNAME record at the zone's apex `example.com`"), "{p:?}");
        assert!(p[1].contains("a CNAME record has one value, not 2"), "{p:?}");
        assert!(
            p[2].contains(
                "`w.example.com` has a CNAME record already (`two`): DNS allows no CNAME beside other records"
            ),
            "{p:?}"
        );
    }

    #[test]
    fn values_of_their_type_and_one_set_per_name() {
        let p = problems(&format!(
            "{ZONE}  a: {{ type: dns_record, zone: '${{zone.id}}', name: a.example.com, record_type: A, values: [app.example.net] }}\n  b: {{ type: dns_record, zone: '${{zone.id}}', name: A.example.com., record_type: A, values: [192.0.2.1] }}\n  c: {{ type: dns_record, zone: '${{zone.id}}', name: c.example.com, record_type: AAAA, values: [192.0.2.1] }}"
        ));
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("`app.example.net` is no IPv4 address"), "{p:?}");
        assert!(p[1].contains("`A.example.com.` has an A record already (`a`)"), "{p:?}");
        assert!(p[2].contains("`192.0.2.1` is no IPv6 address"), "{p:?}");
    }
}
