use async_trait::async_trait;
use aws_sdk_route53::types::{ChangeAction, HostedZone as SdkZone, HostedZoneConfig, RrType, Tag, TagResourceType};

use super::route53::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::{KindSpec, Problem, Refusals, Subject, dns};
use crate::value::{Props, Value};

pub struct HostedZone;

static SCHEMA: KindSchema = KindSchema {
    name: "hosted_zone",
    doc: "A public Route 53 hosted zone: created (`lookup: false`), or an existing one found by name \
          (`lookup: true`), which rprov never tags, changes or deletes. A zone rprov created carries the \
          ownership tags; tags are not compared in plans because a looked-up zone has none of them. Deleting a \
          created zone first removes the ACM validation CNAMEs certificates left in it; any other record that \
          is not the zone's own SOA/NS keeps it (\"in use\": retried until the deadline, then reported).",
    props: &[
        Prop::new("name", Ty::Str, "The domain, e.g. `example.com`.")
            .aws("route53:CreateHostedZoneRequest.Name")
            .required()
            .replaces(),
        Prop::new("lookup", Ty::Bool, "Use the existing public zone of this name instead of creating one.")
            .default(Default::Bool(false))
            .replaces(),
        Prop::new("comment", Ty::Str, "A comment shown with the zone (created zones).")
            .aws("route53:HostedZoneConfig.Comment"),
    ],
    attrs: &[
        Attr::new("id", "The zone id (without `/hostedzone/`)."),
        Attr::new("name", "The zone's domain name, without the trailing dot."),
        Attr::list("name_servers", "The zone's name servers (to delegate the domain to)."),
    ],
    taggable: false,
};

fn zone_name(name: &str) -> String {
    route53::fqdn(name).trim_end_matches('.').to_owned()
}

fn live(z: &SdkZone, tags: Tags, name_servers: Option<&[String]>) -> Live {
    let id = route53::bare_zone_id(z.id()).to_owned();
    let name = zone_name(z.name());
    let mut props = Props::new();
    props.insert("name".into(), Value::str(&name));
    if let Some(c) = z.config().and_then(|c| c.comment()).filter(|c| !c.is_empty()) {
        props.insert("comment".into(), Value::str(c));
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("name".into(), Value::str(&name));
    // ListHostedZonesByName does not return name servers (GetHostedZone does, one zone per
    // call): they are read on create and kept from there.
    if let Some(ns) = name_servers {
        attrs.insert("name_servers".into(), Value::List(ns.iter().map(Value::str).collect()));
    }
    Live { physical_id: id, props, attrs, tags }
}

fn is_private(z: &SdkZone) -> bool {
    z.config().is_some_and(|c| c.private_zone())
}

async fn add_tags(cx: &Cx, id: &str, tags: &Tags) -> Result<(), AwsError> {
    let tags: Vec<Tag> = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    client(cx)
        .change_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(id)
        .set_add_tags(Some(tags))
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

async fn name_servers(cx: &Cx, id: &str) -> Result<Vec<String>, AwsError> {
    let out = client(cx).get_hosted_zone().id(id).send().await.map_err(classify)?;
    Ok(out.delegation_set().map(|d| d.name_servers().to_vec()).unwrap_or_default())
}

/// `lookup: true`: the one public zone of that name.
async fn look_up(cx: &Cx, name: &str) -> Result<Live, AwsError> {
    let want = route53::fqdn(name);
    let zones: Vec<SdkZone> = route53::list_zones(cx, Some(name))
        .await?
        .into_iter()
        .filter(|z| route53::fqdn(z.name()) == want && !is_private(z))
        .collect();
    let z = match zones.as_slice() {
        [z] => z,
        [] => return Err(AwsError::NotFound(format!("no public hosted zone named {name}"))),
        more => {
            let ids: Vec<&str> = more.iter().map(|z| route53::bare_zone_id(z.id())).collect();
            return Err(AwsError::Invalid(format!(
                "{} public hosted zones are named {name} ({}): name one by creating records in it directly",
                more.len(),
                ids.join(", ")
            )));
        }
    };
    let id = route53::bare_zone_id(z.id());
    let tags = route53::zone_tags(cx, &[id.to_owned()]).await?.remove(id).unwrap_or_default();
    let mut l = live(z, tags, Some(&name_servers(cx, id).await?));
    l.props.insert("lookup".into(), Value::Bool(true));
    l.attrs.insert(super::ATTR_CREATION_TOKEN.into(), Value::str(z.caller_reference()));
    Ok(l)
}

/// How many caller references derived from one token are tried (see `create`).
const REFERENCES: usize = 8;

/// The zone of that name created with `reference`, if it still exists.
async fn created_with(cx: &Cx, name: &str, reference: &str) -> Result<Option<SdkZone>, AwsError> {
    Ok(route53::list_zones(cx, Some(name)).await?.into_iter().find(|z| z.caller_reference() == reference))
}

impl KindSpec for HostedZone {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateHostedZone): the name is a domain name (InvalidDomainName): labels of 1 to
    /// 63 octets, 253 in all.
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let Some(name) = s.str("name") else { return vec![] };
        dns::shape_problem(name)
            .map(|why| Problem::new("name", format!("hosted zone name `{name}` is no domain name: {why}")))
            .into_iter()
            .collect()
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        if let Some(n) = props.get("name").and_then(Value::as_str).map(zone_name) {
            props.insert("name".into(), Value::str(n));
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn finds_occupants(&self) -> bool {
        true
    }

    fn takes_existing(&self, props: &Props) -> bool {
        props.get("lookup").and_then(Value::as_bool) == Some(true)
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("route53", "hostedzone"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("route53", "DeleteHostedZone"), ("route53", "CreateHostedZone")])
    }
}

#[async_trait]
impl Kind for HostedZone {
    /// ListHostedZonesByName, page by page, then ListTagsForResources per 10 zones. Zones in
    /// `ids` (looked-up zones among them) or tagged with the stack.
    async fn read_many(&self, cx: &Cx, _ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let read = route53::zones(cx).await?;
        let (zones, tags) = &*read;
        Ok(zones
            .iter()
            .map(|z| live(z, tags.get(route53::bare_zone_id(z.id())).cloned().unwrap_or_default(), None))
            .collect())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let name = req.props.get("name").and_then(Value::as_str).unwrap_or_default();
        if req.props.get("lookup").and_then(Value::as_bool) == Some(true) {
            return look_up(cx, name).await;
        }
        let comment = req.props.get("comment").and_then(Value::as_str).map(str::to_owned);
        // CallerReference makes the create idempotent: the same reference again is refused with
        // HostedZoneAlreadyExists, and the zone an earlier attempt made is found by it — in this
        // run, or in the next one after a kill between CreateHostedZone and its tagging, because
        // the token is derived from stack, lineage, logical id and generation (see the executor's
        // `token`). A reference can never be used again, not even after its zone is deleted
        // (https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html):
        // a reference whose zone is gone moves on to the next one derived from the token, in a
        // fixed order, so a retry still finds what an earlier attempt made.
        let mut made = None;
        for n in 0..REFERENCES {
            let reference = if n == 0 { req.token.to_owned() } else { format!("{}-{n}", req.token) };
            let sent = client(cx)
                .create_hosted_zone()
                .name(name)
                .caller_reference(&reference)
                .hosted_zone_config(
                    HostedZoneConfig::builder().set_comment(comment.clone()).private_zone(false).build(),
                )
                .send()
                .await;
            match sent.map_err(classify) {
                Ok(out) => {
                    let z = out
                        .hosted_zone()
                        .cloned()
                        .ok_or_else(|| AwsError::Failed("CreateHostedZone returned no zone".into()))?;
                    made = Some((z, out.delegation_set().map(|d| d.name_servers().to_vec())));
                    break;
                }
                Err(AwsError::AlreadyExists(msg)) => {
                    if let Some(z) = created_with(cx, name, &reference).await? {
                        // Made with this resource's own reference; untagged if the run that made
                        // it died before tagging it. Tags saying otherwise (edited by hand) win.
                        let id = route53::bare_zone_id(z.id()).to_owned();
                        let have =
                            route53::zone_tags(cx, std::slice::from_ref(&id)).await?.remove(&id).unwrap_or_default();
                        if !have.is_empty() && !super::carries_ownership(&have, req.tags) {
                            return Err(AwsError::AlreadyExists(format!(
                                "hosted zone {id} was made with this resource's caller reference but is tagged for another owner; not taken over ({msg})"
                            )));
                        }
                        made = Some((z, None));
                        break;
                    }
                    if n + 1 == REFERENCES {
                        return Err(AwsError::AlreadyExists(format!(
                            "every caller reference derived from {} is used up ({msg})",
                            req.token
                        )));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let Some((zone, ns)) = made else { return Err(AwsError::Failed("no caller reference left".into())) };
        let id = route53::bare_zone_id(zone.id()).to_owned();
        // CreateHostedZone takes no tags: they follow at once (and again after an ambiguous
        // failure, harmlessly).
        add_tags(cx, &id, req.tags).await?;
        let ns = match ns {
            Some(ns) => ns,
            None => name_servers(cx, &id).await?,
        };
        Ok(live(&zone, req.tags.clone(), Some(&ns)))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let lookup = req.new.get("lookup").and_then(Value::as_bool) == Some(true);
        if req.changed.iter().any(|c| c == "comment") && !lookup {
            let comment = req.new.get("comment").and_then(Value::as_str).unwrap_or_default();
            client(cx)
                .update_hosted_zone_comment()
                .id(req.physical_id)
                .comment(comment)
                .send()
                .await
                .map_err(classify)?;
        }
        let out = client(cx).get_hosted_zone().id(req.physical_id).send().await.map_err(classify)?;
        let z = out.hosted_zone().ok_or_else(|| AwsError::NotFound(req.physical_id.into()))?;
        let tags =
            route53::zone_tags(cx, &[req.physical_id.to_owned()]).await?.remove(req.physical_id).unwrap_or_default();
        Ok(live(z, tags, out.delegation_set().map(|d| d.name_servers())))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        if req.props.get("lookup").and_then(Value::as_bool) == Some(true) {
            return Ok(());
        }
        let zone = req.physical_id;
        let records = match route53::records(cx, zone).await {
            Ok(r) => r,
            Err(AwsError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let apex = records.iter().find(|r| *r.r#type() == RrType::Soa).map(|r| route53::fqdn(r.name()));
        let (validation, foreign): (Vec<_>, Vec<_>) = records
            .into_iter()
            .filter(|r| !apex.as_deref().is_some_and(|a| route53::is_apex_own(r, a)))
            .partition(route53::is_acm_validation);
        if !foreign.is_empty() {
            let names: Vec<String> =
                foreign.iter().map(|r| format!("{} {}", route53::fqdn(r.name()), r.r#type().as_str())).collect();
            return Err(AwsError::InUse(format!(
                "hosted zone {zone} still holds records rprov did not make: {}",
                names.join(", ")
            )));
        }
        // Certificates leave their validation CNAMEs behind (another certificate for the same
        // name may use them); with the zone going, nothing can.
        route53::change(cx, zone, ChangeAction::Delete, validation).await?;
        super::gone_ok(client(cx).delete_hosted_zone().id(zone).send().await.map_err(classify))
    }

    /// The public zone of each name (ListHostedZonesByName, GetHostedZone and its tags): what
    /// `lookup: true` uses, and what a zone to create would duplicate — Route 53 takes a second
    /// zone of a name, but only one can be delegated, so that is a conflict unless the stack looks
    /// the zone up or adopts it.
    async fn occupants(&self, cx: &Cx, wanted: &[(String, Props)]) -> Result<Vec<(String, Live)>, AwsError> {
        let mut out = Vec::new();
        for (id, props) in wanted {
            let Some(name) = props.get("name").and_then(Value::as_str) else { continue };
            match look_up(cx, name).await {
                Ok(mut l) => {
                    // Used as the stack says: looked up, or (adopted) managed from now on.
                    l.props.insert("lookup".into(), props.get("lookup").cloned().unwrap_or(Value::Bool(false)));
                    out.push((id.clone(), l))
                }
                // None, or more than one: nothing to take; `lookup` says why when applied.
                Err(AwsError::NotFound(_) | AwsError::Invalid(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    #[test]
    fn names_are_domain_names() {
        valid(
            "  a: { type: hosted_zone, name: example.com. }\n  b: { type: hosted_zone, name: Sub.Example.com, lookup: true }",
        );
        let p = problems(&format!(
            "  a: {{ type: hosted_zone, name: {}.example.com }}\n  b: {{ type: hosted_zone, name: example..com }}",
            "x".repeat(64)
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("1:33: hosted zone name"), "{p:?}");
        assert!(p[0].contains("is 64 octets; DNS allows at most 63"), "{p:?}");
        assert!(p[1].contains("it has an empty label"), "{p:?}");
    }
}
