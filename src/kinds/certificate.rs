use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_acm::Client;
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus, Tag, ValidationMethod};
use aws_sdk_route53::types::{ChangeAction, RrType};

use super::ec2::settle;
use super::route53;
use super::{CreateReq, DeleteReq, Kind, Live, Tags, UpdateReq, tag_changes, without_aws_tags};
use crate::aws::{AwsError, Cx, Poll, classify, tagging, wait_until};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::dns;
use crate::spec::rules::{lit_str, wrong_kind};
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct Certificate;

static SCHEMA: KindSchema = KindSchema {
    name: "certificate",
    doc: "An ACM certificate validated by DNS: rprov writes the validation CNAMEs into `zone` (UPSERT, so a \
          re-run is harmless) and waits until the certificate is ISSUED. A certificate still pending \
          validation plans as an update that resumes the wait; a failed or timed-out one plans as a \
          replacement. On delete the validation CNAMEs stay in the zone: ACM gives every certificate for the \
          same name in an account the same record, so another certificate may need it; a hosted zone rprov \
          created removes them when it is deleted itself.",
    props: &[
        Prop::new("domain", Ty::Str, "The name the certificate is for, e.g. `app.example.com` or `*.example.com`.")
            .aws("acm:RequestCertificateRequest.DomainName")
            .required()
            .replaces(),
        Prop::new("subject_alternative_names", Ty::List(&Ty::Str), "More names the certificate covers.")
            .aws("acm:RequestCertificateRequest.SubjectAlternativeNames")
            .default(Default::EmptyList)
            .unordered()
            .replaces(),
        Prop::new(
            "zone",
            Ty::Str,
            "The Route 53 hosted zone id the validation records go into. Not readable from ACM: compared with \
             what was applied; a change writes the records into the new zone.",
        )
        .required(),
    ],
    attrs: &[Attr::new("id", "The certificate's ARN."), Attr::new("arn", "The certificate's ARN.")],
    taggable: true,
};

fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

fn domain_name(d: &str) -> String {
    d.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The alternative names as compared: lowercase, without the domain itself (ACM always lists
/// the domain among them), sorted, no duplicates.
fn alternative_names<'a>(domain: &str, names: impl IntoIterator<Item = &'a str>) -> Value {
    let domain = domain_name(domain);
    let set: BTreeSet<String> = names.into_iter().map(domain_name).filter(|n| *n != domain).collect();
    Value::List(set.into_iter().map(Value::Str).collect())
}

/// How many idempotency tokens derived from one token are tried (see `create`).
const TOKENS: usize = 4;

/// ACM's IdempotencyToken is at most 32 word characters (`\w+`).
/// https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html
fn acm_token(token: &str) -> String {
    let word: Vec<char> = token.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    word[word.len().saturating_sub(32)..].iter().collect()
}

fn live(arn: &str, domain: &str, sans: Value, tags: Tags) -> Live {
    let mut props = Props::new();
    props.insert("domain".into(), Value::str(domain_name(domain)));
    props.insert("subject_alternative_names".into(), sans);
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(arn));
    attrs.insert("arn".into(), Value::str(arn));
    Live { physical_id: arn.to_owned(), props, attrs, tags }
}

fn live_of(c: &CertificateDetail, tags: Tags) -> Live {
    let domain = c.domain_name().unwrap_or_default();
    let sans = alternative_names(domain, c.subject_alternative_names().iter().map(String::as_str));
    live(c.certificate_arn().unwrap_or_default(), domain, sans, tags)
}

async fn describe(cx: &Cx, arn: &str) -> Result<CertificateDetail, AwsError> {
    let out = client(cx).describe_certificate().certificate_arn(arn).send().await.map_err(classify)?;
    out.certificate().cloned().ok_or_else(|| AwsError::NotFound(arn.into()))
}

async fn tags_of(cx: &Cx, arn: &str) -> Result<Tags, AwsError> {
    let out = client(cx).list_tags_for_certificate().certificate_arn(arn).send().await.map_err(classify)?;
    Ok(without_aws_tags(out.tags().iter().map(|t| (t.key(), t.value().unwrap_or_default()))))
}

fn failed(c: &CertificateDetail) -> Option<String> {
    match c.status() {
        Some(
            s @ (CertificateStatus::Failed
            | CertificateStatus::ValidationTimedOut
            | CertificateStatus::Revoked
            | CertificateStatus::Expired
            | CertificateStatus::Inactive),
        ) => Some(format!(
            "{}{}",
            s.as_str(),
            c.failure_reason().map(|r| format!(" ({})", r.as_str())).unwrap_or_default()
        )),
        _ => None,
    }
}

/// The validation CNAMEs ACM asks for, once it has published them for every name (it takes a
/// few seconds after RequestCertificate). Names that share a record (`example.com` and
/// `*.example.com`) give one.
fn validation_records(c: CertificateDetail) -> Poll<Vec<(String, String)>> {
    if let Some(f) = failed(&c) {
        return Poll::Failed(f);
    }
    let options = c.domain_validation_options();
    if options.is_empty() || options.iter().any(|o| o.resource_record().is_none()) {
        return Poll::Pending("validation records not published yet".into());
    }
    let set: BTreeSet<(String, String)> = options
        .iter()
        .filter_map(|o| o.resource_record())
        .map(|r| (route53::fqdn(r.name()), r.value().to_owned()))
        .collect();
    Poll::Ready(set.into_iter().collect())
}

/// One observation of a certificate waiting for its DNS validation.
fn issuance(c: CertificateDetail) -> Poll<CertificateDetail> {
    if let Some(f) = failed(&c) {
        return Poll::Failed(f);
    }
    match c.status() {
        Some(CertificateStatus::Issued) => Poll::Ready(c),
        Some(s) => Poll::Pending(s.as_str().to_owned()),
        None => Poll::Pending("no status reported".into()),
    }
}

/// Writes the validation CNAMEs into the zone and waits for ISSUED, within the wait budget.
async fn validate(cx: &Cx, logical_id: &str, arn: &str, zone: &str) -> Result<CertificateDetail, AwsError> {
    let records = wait_until(
        &cx.wait,
        &format!("validation records of certificate {arn}"),
        |m| cx.status(logical_id, m),
        || async move { Ok(validation_records(describe(cx, arn).await?)) },
    )
    .await?;
    let sets = records
        .iter()
        .map(|(name, value)| route53::plain(name, RrType::Cname, 300, std::slice::from_ref(value)))
        .collect::<Result<Vec<_>, _>>()?;
    // UPSERT: the record may be there already (an earlier attempt, or another certificate for
    // the same name, which ACM validates with the same record).
    route53::change(cx, route53::bare_zone_id(zone), ChangeAction::Upsert, sets).await?;
    wait_until(
        &cx.wait,
        &format!("certificate {arn} to be issued"),
        |m| cx.status(logical_id, m),
        || async move { Ok(issuance(describe(cx, arn).await?)) },
    )
    .await
}

/// A certificate that is not issued cannot serve a listener, whatever its names. One still
/// waiting for validation (a create that ran out of wait budget, or was interrupted) reads
/// with no `zone`, so the plan shows its validation as a pending in-place change, and the
/// update writes the records again and resumes the wait. One that failed, timed out or was
/// revoked reads with no `domain`, so the plan replaces it.
fn mark_unusable(l: &mut Live, status: Option<&CertificateStatus>) {
    match status {
        Some(CertificateStatus::PendingValidation) => {
            l.props.insert("zone".into(), Value::Null);
        }
        Some(
            CertificateStatus::Failed
            | CertificateStatus::ValidationTimedOut
            | CertificateStatus::Revoked
            | CertificateStatus::Expired
            | CertificateStatus::Inactive,
        ) => {
            l.props.insert("domain".into(), Value::Null);
        }
        _ => {}
    }
}

impl KindSpec for Certificate {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS: the domain (the certificate's common name) "cannot exceed 64 octets (characters),
    /// including periods" (RequestCertificate; the alternative names may have 253); every name's
    /// validation record, `_<hash>.<name without *.>`, goes into `zone`, and Route 53 refuses a
    /// record outside the zone's domain ("is not permitted in zone").
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(e) = s.get("zone") {
            out.extend(wrong_kind(s, "zone", e, &["hosted_zone"]));
        }
        if let Some(d) = s.str("domain") {
            let len = d.trim_end_matches('.').chars().count();
            if len > 64 {
                out.push(
                    Problem::new("domain", format!("domain `{d}` is {len} characters: AWS takes at most 64 for a certificate's first name (its common name)"))
                        .help("put the long name in `subject_alternative_names` (up to 253 characters) and a shorter one of the same certificate in `domain`"),
                );
            }
        }
        let zone = s.referenced("zone").filter(|(_, kind, _)| *kind == "hosted_zone");
        let Some((zone_id, zone_name)) = zone.and_then(|(id, _, props)| Some((id, lit_str(props.get("name"))?))) else {
            return out;
        };
        let names = std::iter::once(("domain".to_owned(), s.get("domain"))).chain(
            s.list("subject_alternative_names")
                .iter()
                .enumerate()
                .map(|(i, e)| (format!("subject_alternative_names.{i}"), Some(e))),
        );
        for (path, e) in names {
            let Some(name) = lit_str(e) else { continue };
            let validated = name.strip_prefix("*.").unwrap_or(name);
            if !dns::within(validated, zone_name) {
                out.push(
                    Problem::new(path, format!("`{name}` is not inside `{zone_name}`, the domain of hosted zone `{zone_id}`: Route 53 refuses its DNS validation record there"))
                        .help("request a certificate per hosted zone, or leave this name out"),
                );
            }
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        let Some(domain) = props.get("domain").and_then(Value::as_str).map(str::to_owned) else { return };
        props.insert("domain".into(), Value::str(domain_name(&domain)));
        match props.get("subject_alternative_names") {
            Some(Value::List(l)) if !l.iter().any(Value::has_unknown) => {
                let names: Vec<String> = l.iter().filter_map(Value::as_str).map(str::to_owned).collect();
                let sans = alternative_names(&domain, names.iter().map(String::as_str));
                props.insert("subject_alternative_names".into(), sans);
            }
            _ => {}
        }
    }

    fn create_is_idempotent(&self) -> bool {
        true
    }

    fn holds(&self) -> &'static [&'static str] {
        &["hosted_zone"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("acm", "certificate"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("acm", "DeleteCertificate"), ("acm", "RequestCertificate")])
    }
}

#[async_trait]
impl Kind for Certificate {
    /// One paginated ListCertificates (domain and alternative names come with it). ACM has no
    /// batched tag read: ListTagsForCertificate is one call per certificate. Within a refresh
    /// the Tagging API's index answers for the stack's certificates and the others are not
    /// read; without it, tags are read for the certificates in `ids` only, and for every listed
    /// certificate when `ids` is empty (adoption after a crash, teardown without state).
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let summaries = crate::aws::all_items(client(cx).list_certificates().into_paginator().items().send()).await?;
        let every = ids.is_empty() || tagging::has_index(cx).await;
        let candidates: Vec<(String, String)> = summaries
            .iter()
            .filter_map(|s| s.certificate_arn())
            .filter(|arn| every || ids.iter().any(|i| i == arn))
            .map(|arn| (arn.to_owned(), arn.to_owned()))
            .collect();
        let mut tags = tagging::tags_by_id(cx, &candidates, |arns| {
            tagging::each(arns, |arn| async move { tags_of(cx, &arn).await })
        })
        .await?;
        let mut out = vec![];
        for s in &summaries {
            let Some(arn) = s.certificate_arn() else { continue };
            // Absent: not a candidate, or deleted between the list and the tag read.
            let Some(tags) = tags.remove(arn) else { continue };
            let domain = s.domain_name().unwrap_or_default();
            let summaries = s.subject_alternative_name_summaries();
            let mut l = live(arn, domain, alternative_names(domain, summaries.iter().map(String::as_str)), tags);
            // ACM lists the domain itself among the summaries, so an empty list means the field
            // was not reported (moto 5.2 answers ListCertificates in DescribeCertificate's shape,
            // without it), or too many names (HasAdditionalSubjectAlternativeNames): then the
            // property is compared with what was applied.
            if summaries.is_empty() || s.has_additional_subject_alternative_names() == Some(true) {
                l.props.remove("subject_alternative_names");
            }
            mark_unusable(&mut l, s.status());
            out.push(l);
        }
        Ok(out)
    }

    /// The zone of certificates read without it (imported): ACM does not say where its
    /// validation records went, so the one public hosted zone holding the domain's name, the
    /// most specific where several do (one ListHostedZonesByName). Left out when two public
    /// zones of that name exist.
    async fn read_unreported(&self, cx: &Cx, live: &mut [Live]) -> Result<(), AwsError> {
        if live.iter().all(|l| l.props.contains_key("zone")) {
            return Ok(());
        }
        let zones = route53::list_zones(cx, None).await?;
        let public: Vec<(String, &str)> = zones
            .iter()
            .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
            .map(|z| (route53::fqdn(z.name()), route53::bare_zone_id(z.id())))
            .collect();
        for l in live.iter_mut().filter(|l| !l.props.contains_key("zone")) {
            let domain = route53::fqdn(l.props.get("domain").and_then(Value::as_str).unwrap_or_default());
            let domain = domain.strip_prefix("*.").unwrap_or(&domain).to_owned();
            let holds = |zone: &str| domain == zone || domain.ends_with(&format!(".{zone}"));
            let Some(longest) = public.iter().filter(|(n, _)| holds(n)).map(|(n, _)| n.len()).max() else { continue };
            let best: Vec<&str> = public.iter().filter(|(n, _)| holds(n) && n.len() == longest).map(|(_, id)| *id).collect();
            if let [one] = best.as_slice() {
                l.props.insert("zone".into(), Value::str(*one));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let domain = req.props.get("domain").and_then(Value::as_str).unwrap_or_default();
        let sans = req.props.get("subject_alternative_names").map(Value::string_list).unwrap_or_default();
        let zone = req.props.get("zone").and_then(Value::as_str).unwrap_or_default();
        let tags: Vec<Tag> = req
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<_, _>>()
            .map_err(|e| AwsError::Invalid(e.to_string()))?;
        // The same IdempotencyToken within an hour answers with the same certificate, so a
        // retry after a lost response never requests a second one. The same token also comes
        // back when a stack is applied again from no state, and ACM then answers with the
        // certificate of the earlier run, deleted since: a token whose certificate is gone
        // moves on to the next one derived from it, in a fixed order.
        let mut arn = None;
        for n in 0..TOKENS {
            let token = if n == 0 { acm_token(req.token) } else { acm_token(&format!("{}_{n}", req.token)) };
            let out = client(cx)
                .request_certificate()
                .domain_name(domain)
                .set_subject_alternative_names((!sans.is_empty()).then(|| sans.clone()))
                .validation_method(ValidationMethod::Dns)
                .idempotency_token(token)
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(classify)?;
            let requested =
                out.certificate_arn().ok_or_else(|| AwsError::Failed("RequestCertificate returned no ARN".into()))?;
            // A certificate just requested can take a moment to be described.
            match settle(cx, req.id, "the new certificate", || describe(cx, requested)).await {
                Ok(_) => {
                    arn = Some(requested.to_owned());
                    break;
                }
                Err(AwsError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        let arn = arn.ok_or_else(|| {
            AwsError::Failed(format!("ACM answered every token derived from {} with a deleted certificate", req.token))
        })?;
        let issued = validate(cx, req.id, &arn, zone).await?;
        Ok(live_of(&issued, req.tags.clone()))
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let arn = req.physical_id;
        // `zone` differs when it was changed, or when the certificate is still waiting for its
        // validation (see `mark_unusable`): either way, write the records and wait.
        if req.changed.iter().any(|c| c == "zone") {
            let zone = req.new.get("zone").and_then(Value::as_str).unwrap_or_default();
            validate(cx, req.id, arn, zone).await?;
        }
        if req.changed.iter().any(|c| c == "tags") {
            let acm = client(cx);
            let (stale, changed) = tag_changes(req.old_tags, req.tags);
            // RemoveTagsFromCertificate takes the pairs, as they are.
            let stale: Vec<Tag> = stale
                .iter()
                .filter_map(|k| Tag::builder().key(k).set_value(req.old_tags.get(k).cloned()).build().ok())
                .collect();
            if !stale.is_empty() {
                acm.remove_tags_from_certificate()
                    .certificate_arn(arn)
                    .set_tags(Some(stale))
                    .send()
                    .await
                    .map_err(classify)?;
            }
            let changed: Vec<Tag> =
                changed.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
            if !changed.is_empty() {
                acm.add_tags_to_certificate()
                    .certificate_arn(arn)
                    .set_tags(Some(changed))
                    .send()
                    .await
                    .map_err(classify)?;
            }
        }
        let c = describe(cx, arn).await?;
        Ok(live_of(&c, tags_of(cx, arn).await?))
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // ResourceInUseException while a listener still uses it (classified InUse: retried by
        // the executor while the listener's delete or update goes through).
        super::gone_ok(client(cx).delete_certificate().certificate_arn(req.physical_id).send().await.map_err(classify))
    }
}

#[cfg(test)]
mod tests {

    use aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput;
    use aws_sdk_acm::operation::request_certificate::RequestCertificateOutput;
    use aws_sdk_acm::types::{DomainValidation, FailureReason, RecordType, ResourceRecord};
    use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
    use aws_sdk_route53::types::ChangeInfo;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    use super::*;
    use crate::kinds::testing::{Status, mocked};

    const ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/8f2e9e4c-5b1d-4c8e-9b0a-1f2e3d4c5b6a";
    const RECORD: &str = "_a79865eb4cd1a6ab990a45779b4e0b96.app.example.com.";
    const TARGET: &str = "_424c7224e9b0146f9a8808af955727d0.acm-validations.aws.";

    fn detail(status: CertificateStatus, with_record: bool) -> DescribeCertificateOutput {
        let mut dv = DomainValidation::builder().domain_name("app.example.com");
        if with_record {
            dv = dv.resource_record(
                ResourceRecord::builder().name(RECORD).r#type(RecordType::Cname).value(TARGET).build().unwrap(),
            );
        }
        let c = CertificateDetail::builder()
            .certificate_arn(ARN)
            .domain_name("app.example.com")
            .subject_alternative_names("app.example.com")
            .subject_alternative_names("www.example.com")
            .domain_validation_options(dv.build().unwrap())
            .status(status);
        DescribeCertificateOutput::builder().certificate(c.build()).build()
    }

    fn failed_detail(status: CertificateStatus) -> DescribeCertificateOutput {
        let c = CertificateDetail::builder()
            .certificate_arn(ARN)
            .domain_name("app.example.com")
            .status(status)
            .failure_reason(FailureReason::CaaError)
            .build();
        DescribeCertificateOutput::builder().certificate(c).build()
    }

    fn cx(acm: &[&Rule], r53: &[&Rule]) -> (Cx, Status) {
        let (cx, seen) = mocked(mock_client!(aws_sdk_acm, RuleMode::Sequential, acm));
        (cx.with_client(mock_client!(aws_sdk_route53, RuleMode::Sequential, r53)), seen)
    }

    fn props() -> Props {
        let mut p = Props::from([
            ("domain".to_string(), Value::str("App.Example.com")),
            ("subject_alternative_names".to_string(), Value::List(vec![Value::str("www.example.com")])),
            ("zone".to_string(), Value::str("Z123")),
        ]);
        Certificate.normalise("s", "cert", &mut p);
        p
    }

    fn request() -> Rule {
        mock!(Client::request_certificate)
            .match_requests(|r| {
                r.idempotency_token().is_some_and(|t| t.len() <= 32 && t.chars().all(|c| c.is_alphanumeric()))
                    && r.validation_method() == Some(&ValidationMethod::Dns)
            })
            .then_output(|| RequestCertificateOutput::builder().certificate_arn(ARN).build())
    }

    fn upsert() -> Rule {
        mock!(aws_sdk_route53::Client::change_resource_record_sets)
            .match_requests(|r| {
                r.hosted_zone_id() == Some("Z123")
                    && r.change_batch().is_some_and(|b| {
                        b.changes().len() == 1
                            && b.changes()[0].action() == &ChangeAction::Upsert
                            && b.changes()[0].resource_record_set().is_some_and(|s| {
                                s.name() == RECORD && s.resource_records().first().map(|r| r.value()) == Some(TARGET)
                            })
                    })
            })
            .then_output(|| {
                ChangeResourceRecordSetsOutput::builder()
                    .change_info(
                        ChangeInfo::builder()
                            .id("C1")
                            .status(aws_sdk_route53::types::ChangeStatus::Pending)
                            .submitted_at(aws_smithy_types::DateTime::from_secs(0))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
    }

    fn req<'a>(p: &'a Props, tags: &'a Tags) -> CreateReq<'a> {
        CreateReq { id: "cert", props: p, tags, token: "rprov-0123456789abcdef0123456789abcdef01" }
    }

    #[tokio::test(start_paused = true)]
    async fn create_writes_the_validation_record_and_waits_for_issued() {
        let request = request();
        let describe = mock!(Client::describe_certificate)
            .match_requests(|r| r.certificate_arn() == Some(ARN))
            .sequence()
            .output(|| detail(CertificateStatus::PendingValidation, false))
            .times(2)
            .output(|| detail(CertificateStatus::PendingValidation, true))
            .output(|| detail(CertificateStatus::PendingValidation, true))
            .times(2)
            .output(|| detail(CertificateStatus::Issued, true))
            .build();
        let upsert = upsert();
        let (cx, seen) = cx(&[&request, &describe], &[&upsert]);
        let (p, tags) = (props(), Tags::new());

        let live = Certificate.create(&cx, &req(&p, &tags)).await.unwrap();

        assert_eq!(upsert.num_calls(), 1);
        assert_eq!(describe.num_calls(), 6);
        assert_eq!(live.physical_id, ARN);
        let mut want = p.clone();
        want.remove("zone");
        assert_eq!(live.props, want, "what create reports must equal the stack's values");
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                format!(
                    "cert: waiting for validation records of certificate {ARN} \
                     (now validation records not published yet)"
                ),
                format!("cert: waiting for certificate {ARN} to be issued (now PENDING_VALIDATION)"),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failed_and_timed_out_validation_end_create() {
        for status in [CertificateStatus::Failed, CertificateStatus::ValidationTimedOut] {
            let request = request();
            let s = status.clone();
            let describe = mock!(Client::describe_certificate)
                .sequence()
                .output(|| detail(CertificateStatus::PendingValidation, true))
                .times(2)
                .output(move || failed_detail(s.clone()))
                .build();
            let upsert = upsert();
            let (cx, _) = cx(&[&request, &describe], &[&upsert]);
            let (p, tags) = (props(), Tags::new());

            let err = Certificate.create(&cx, &req(&p, &tags)).await.unwrap_err();

            assert_eq!(
                err,
                AwsError::Failed(format!("certificate {ARN} to be issued: {} (CAA_ERROR)", status.as_str()))
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn validation_that_never_finishes_runs_out_of_budget() {
        let request = request();
        let describe = mock!(Client::describe_certificate)
            .sequence()
            .output(|| detail(CertificateStatus::PendingValidation, true))
            .repeatedly()
            .build();
        let upsert = upsert();
        let (cx, _) = cx(&[&request, &describe], &[&upsert]);
        let (p, tags) = (props(), Tags::new());

        let err = Certificate.create(&cx, &req(&p, &tags)).await.unwrap_err();

        assert!(
            matches!(&err, AwsError::WaitTimeout { what, .. } if *what == format!("certificate {ARN} to be issued")),
            "{err:?}"
        );
        assert_eq!(upsert.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_answered_with_a_deleted_certificate_moves_on_to_the_next() {
        const OLD: &str = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000";
        let first = acm_token("rprov-0123456789abcdef0123456789abcdef01");
        let replayed = mock!(Client::request_certificate)
            .match_requests(move |r| r.idempotency_token() == Some(first.as_str()))
            .then_output(|| RequestCertificateOutput::builder().certificate_arn(OLD).build());
        let fresh = mock!(Client::request_certificate)
            .then_output(|| RequestCertificateOutput::builder().certificate_arn(ARN).build());
        let gone = mock!(Client::describe_certificate)
            .match_requests(|r| r.certificate_arn() == Some(OLD))
            .sequence()
            .error(|| {
                aws_sdk_acm::operation::describe_certificate::DescribeCertificateError::generic(
                    aws_smithy_types::error::ErrorMetadata::builder().code("ResourceNotFoundException").build(),
                )
            })
            .repeatedly()
            .build();
        let issued = mock!(Client::describe_certificate)
            .match_requests(|r| r.certificate_arn() == Some(ARN))
            .sequence()
            .output(|| detail(CertificateStatus::Issued, true))
            .repeatedly()
            .build();
        let upsert = upsert();
        let acm = mock_client!(aws_sdk_acm, RuleMode::MatchAny, &[&replayed, &fresh, &gone, &issued]);
        let r53 = mock_client!(aws_sdk_route53, RuleMode::MatchAny, &[&upsert]);
        let cx = mocked(acm).0.with_client(r53);
        let (p, tags) = (props(), Tags::new());

        let live = Certificate.create(&cx, &req(&p, &tags)).await.unwrap();

        assert_eq!(live.physical_id, ARN);
        assert_eq!((replayed.num_calls(), fresh.num_calls()), (1, 1));
        assert!(gone.num_calls() > 1, "the old certificate is given time to become visible first");
    }

    #[test]
    fn certificates_not_issued_plan_a_resumed_validation_or_a_replacement() {
        let check = |status: CertificateStatus, missing: Option<&str>| {
            let mut l = live(ARN, "app.example.com", Value::List(vec![]), Tags::new());
            mark_unusable(&mut l, Some(&status));
            let nulls: Vec<&String> = l.props.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k).collect();
            assert_eq!(nulls.first().map(|k| k.as_str()), missing, "{status:?}");
        };
        check(CertificateStatus::Issued, None);
        check(CertificateStatus::PendingValidation, Some("zone"));
        check(CertificateStatus::Failed, Some("domain"));
        check(CertificateStatus::ValidationTimedOut, Some("domain"));
    }

    #[test]
    fn tokens_fit_acm() {
        assert_eq!(acm_token("rprov-0123456789abcdef0123456789abcdef01"), "23456789abcdef0123456789abcdef01");
        assert_eq!(acm_token("a-b"), "ab");
    }
}

#[cfg(test)]
mod rule_tests {
    use crate::spec::rules::testing::{problems, valid};

    const ZONE: &str = "  zone: { type: hosted_zone, name: example.com. }\n";

    #[test]
    fn names_inside_the_zone() {
        valid(&format!(
            "{ZONE}  c: {{ type: certificate, domain: '*.example.com', subject_alternative_names: [example.com, a.b.Example.com], zone: '${{zone.id}}' }}"
        ));
        let p = problems(&format!(
            "{ZONE}  c: {{ type: certificate, domain: example.org, subject_alternative_names: [www.example.com, badexample.com], zone: '${{zone.id}}' }}"
        ));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("2:35: `example.org` is not inside `example.com.`, the domain of hosted zone `zone`"),
            "{p:?}"
        );
        assert!(p[1].contains("`badexample.com` is not inside"), "{p:?}");
    }

    #[test]
    fn domain_of_64_characters_at_most() {
        let long = format!("{}.example.com", "a".repeat(52));
        valid(&format!("{ZONE}  c: {{ type: certificate, domain: {long}, zone: '${{zone.id}}' }}"));
        let p = problems(&format!("{ZONE}  c: {{ type: certificate, domain: a{long}, zone: '${{zone.id}}' }}"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("is 65 characters: AWS takes at most 64"), "{p:?}");
    }

    #[test]
    fn zone_is_a_hosted_zone() {
        let p = problems(&format!(
            "{ZONE}  c: {{ type: certificate, domain: example.com, zone: '${{zone.name}}' }}\n  d: {{ type: certificate, domain: example.com, zone: '${{c.arn}}' }}"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains(
                "`zone` refers to `c`, a certificate: AWS expects the id of a hosted_zone here | e.g. `${zone.id}`"
            ),
            "{p:?}"
        );
    }
}
