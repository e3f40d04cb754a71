//! What the Route 53 kinds (hosted zone, DNS record) and the certificate's DNS validation share:
//! name normalisation, paginated record listing, and record changes.

use std::collections::HashMap;

use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, HostedZone, ResourceRecord, ResourceRecordSet, RrType, TagResourceType,
};

use crate::aws::{AwsError, Cx, classify};
use crate::kinds::{TAG_STACK, Tags, without_aws_tags};

pub fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

/// A DNS name as Route 53 answers it: lowercase, with the trailing dot, `*` for the octal
/// escape `\052` Route 53 reports wildcards with.
/// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html
pub fn fqdn(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase().replace("\\052", "*");
    if n.ends_with('.') { n } else { format!("{n}.") }
}

/// A zone id without the `/hostedzone/` prefix some answers carry.
pub fn bare_zone_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// Every record set of a zone: ListResourceRecordSets, page by page (the SDK has no paginator
/// for it: the next page starts at a name/type/identifier triple).
pub async fn records(cx: &Cx, zone: &str) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let r53 = client(cx);
    let mut out = vec![];
    let mut next: Option<(String, RrType, Option<String>)> = None;
    loop {
        let mut req = r53.list_resource_record_sets().hosted_zone_id(zone);
        if let Some((name, ty, ident)) = next.take() {
            req = req.start_record_name(name).start_record_type(ty).set_start_record_identifier(ident);
        }
        let page = req.send().await.map_err(classify)?;
        out.extend(page.resource_record_sets().iter().cloned());
        match (page.is_truncated(), page.next_record_name(), page.next_record_type()) {
            (true, Some(name), Some(ty)) => {
                next = Some((name.to_owned(), ty.clone(), page.next_record_identifier().map(str::to_owned)))
            }
            _ => return Ok(out),
        }
    }
}

/// Every hosted zone, or those from `name` on (ListHostedZonesByName lists in name order).
pub async fn list_zones(cx: &Cx, name: Option<&str>) -> Result<Vec<HostedZone>, AwsError> {
    let r53 = client(cx);
    let mut out = vec![];
    let mut next: (Option<String>, Option<String>) = (name.map(fqdn), None);
    loop {
        let page = r53
            .list_hosted_zones_by_name()
            .set_dns_name(next.0.take())
            .set_hosted_zone_id(next.1.take())
            .send()
            .await
            .map_err(classify)?;
        out.extend(page.hosted_zones().iter().cloned());
        let done = !page.is_truncated()
            || name.is_some_and(|n| page.hosted_zones().last().is_some_and(|z| fqdn(z.name()) != fqdn(n)));
        if done || page.next_dns_name().is_none() {
            return Ok(out);
        }
        next = (page.next_dns_name().map(str::to_owned), page.next_hosted_zone_id().map(str::to_owned));
    }
}

/// ListTagsForResources takes at most 10 zone ids per call.
/// https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListTagsForResources.html
const TAGS_PER_CALL: usize = 10;

pub async fn zone_tags(cx: &Cx, ids: &[String]) -> Result<HashMap<String, Tags>, AwsError> {
    let r53 = client(cx);
    let mut out = HashMap::new();
    for chunk in ids.chunks(TAGS_PER_CALL) {
        let resp = r53
            .list_tags_for_resources()
            .resource_type(TagResourceType::Hostedzone)
            .set_resource_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(classify)?;
        for set in resp.resource_tag_sets() {
            let Some(id) = set.resource_id() else { continue };
            let tags = set.tags().iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())));
            out.insert(bare_zone_id(id).to_owned(), without_aws_tags(tags));
        }
    }
    Ok(out)
}

/// Every hosted zone of the account with its tags (by bare zone id); within a refresh or a
/// discovery, read once for the hosted zone and record kinds together.
pub async fn zones(cx: &Cx) -> Result<std::sync::Arc<(Vec<HostedZone>, HashMap<String, Tags>)>, AwsError> {
    cx.once("route53:ListHostedZonesByName", || async {
        let zones = list_zones(cx, None).await?;
        let ids: Vec<String> = zones.iter().map(|z| bare_zone_id(z.id()).to_owned()).collect();
        let tags = zone_tags(cx, &ids).await?;
        Ok((zones, tags))
    })
    .await
}

/// The zones this stack created (tagged with it): their ids.
pub async fn stack_zones(cx: &Cx) -> Result<Vec<String>, AwsError> {
    let read = zones(cx).await?;
    let (zones, tags) = &*read;
    Ok(zones
        .iter()
        .map(|z| bare_zone_id(z.id()))
        .filter(|i| tags.get(*i).and_then(|t| t.get(TAG_STACK)).is_some_and(|s| *s == cx.stack))
        .map(str::to_owned)
        .collect())
}

/// Whether a record is one of the zone's own: the SOA and NS records at its apex.
pub fn is_apex_own(r: &ResourceRecordSet, apex: &str) -> bool {
    matches!(r.r#type(), RrType::Soa | RrType::Ns) && fqdn(r.name()) == apex
}

/// One change batch of `action` on `sets`.
pub async fn change(cx: &Cx, zone: &str, action: ChangeAction, sets: Vec<ResourceRecordSet>) -> Result<(), AwsError> {
    if sets.is_empty() {
        return Ok(());
    }
    let changes = sets
        .into_iter()
        .map(|s| Change::builder().action(action.clone()).resource_record_set(s).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AwsError::Invalid(e.to_string()))?;
    let batch =
        ChangeBatch::builder().set_changes(Some(changes)).build().map_err(|e| AwsError::Invalid(e.to_string()))?;
    client(cx)
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
        .map(|_| ())
        .map_err(classify)
}

/// A plain record set (`values`, `ttl`).
pub fn plain(name: &str, ty: RrType, ttl: i64, values: &[String]) -> Result<ResourceRecordSet, AwsError> {
    let records = values
        .iter()
        .map(|v| ResourceRecord::builder().value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AwsError::Invalid(e.to_string()))?;
    ResourceRecordSet::builder()
        .name(name)
        .r#type(ty)
        .ttl(ttl)
        .set_resource_records(Some(records))
        .build()
        .map_err(|e| AwsError::Invalid(e.to_string()))
}

/// Whether a record is one ACM asked for to validate a certificate by DNS: a CNAME from an
/// `_<hash>.` name to `_<hash>.<...>.acm-validations.aws.`.
/// https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html
pub fn is_acm_validation(r: &ResourceRecordSet) -> bool {
    *r.r#type() == RrType::Cname
        && r.name().starts_with('_')
        && !r.resource_records().is_empty()
        && r.resource_records().iter().all(|v| v.value().trim_end_matches('.').ends_with(".acm-validations.aws"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_as_route53_reports_them() {
        assert_eq!(fqdn("WWW.Example.com"), "www.example.com.");
        assert_eq!(fqdn("www.example.com."), "www.example.com.");
        assert_eq!(fqdn("\\052.example.com."), "*.example.com.");
        assert_eq!(bare_zone_id("/hostedzone/Z123"), "Z123");
        assert_eq!(bare_zone_id("Z123"), "Z123");
    }

    #[test]
    fn acm_validation_records_are_recognised() {
        let v = plain(
            "_a79865eb4cd1a6ab990a45779b4e0b96.example.com.",
            RrType::Cname,
            300,
            &["_424c7224e9b0146f9a8808af955727d0.acm-validations.aws.".into()],
        )
        .unwrap();
        assert!(is_acm_validation(&v));
        let www = plain("www.example.com.", RrType::Cname, 300, &["example.com".into()]).unwrap();
        assert!(!is_acm_validation(&www));
    }
}
