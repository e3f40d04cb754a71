use async_trait::async_trait;
use aws_sdk_apigatewayv2::types::{
    ApiMapping, DomainName, DomainNameConfiguration, DomainNameStatus, EndpointType, SecurityPolicy,
};

use super::apigw::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, TAG_STACK, UpdateReq, created_or_ours};
use crate::aws::{AwsError, Cx, Poll, classify, wait_until};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::wrong_kind;
use crate::spec::{KindSpec, Problem, Refusals, Subject, dns};
use crate::value::{Props, Value};

pub struct ApiDomain;

static SCHEMA: KindSchema = KindSchema {
    name: "api_domain",
    doc: "A custom domain name for an `http_api` (API Gateway v2): a regional endpoint with an ACM certificate \
          of the region and TLS 1.2, and one API mapping to a stage of the API (`$default`), under an optional \
          path (`mapping_key`). Its alias target is the `dns_name` and `zone_id` attributes, as a load \
          balancer's, for a `dns_record` alias (A). Created, then waited until AVAILABLE; the certificate \
          (UpdateDomainName) and the mapping (UpdateApiMapping) change in place. Deleted mapping first, then \
          the domain name: AWS refuses to delete an API a domain still maps.",
    props: &[
        Prop::new("domain", Ty::Str, "The custom domain name, e.g. `api.example.com`.")
            .aws("apigatewayv2:CreateDomainNameRequest.DomainName")
            .required()
            .replaces(),
        Prop::new("certificate", Ty::Str, "The ACM certificate's ARN (in the stack's region), e.g. `${cert.arn}`.")
            .aws("apigatewayv2:DomainNameConfiguration.CertificateArn")
            .required(),
        Prop::new("api", Ty::Str, "The API mapped, e.g. `${api.id}`.")
            .aws("apigatewayv2:CreateApiMappingRequest.ApiId")
            .required(),
        Prop::new("stage", Ty::Str, "The API's stage mapped.")
            .aws("apigatewayv2:CreateApiMappingRequest.Stage")
            .default(Default::Str("$default")),
        Prop::new(
            "mapping_key",
            Ty::Str,
            "The path the API is served under (`v1` serves it at `https://<domain>/v1`); empty: the root.",
        )
        .aws("apigatewayv2:CreateApiMappingRequest.ApiMappingKey")
        .default(Default::Str("")),
    ],
    attrs: &[
        Attr::new("id", "The domain name."),
        Attr::new("arn", "`arn:aws:apigateway:<region>::/domainnames/<domain>`."),
        Attr::new("dns_name", "API Gateway's name for the domain (`d-….execute-api.<region>.amazonaws.com`): the alias target."),
        Attr::new("zone_id", "The hosted zone id of `dns_name` (API Gateway's regional zone), for alias records."),
    ],
    taggable: true,
};

fn domain_name(d: &str) -> String {
    d.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn config(d: &DomainName) -> Option<&DomainNameConfiguration> {
    d.domain_name_configurations().first()
}

fn live(cx: &Cx, d: &DomainName, mapping: Option<&ApiMapping>) -> Live {
    let name = d.domain_name().unwrap_or_default();
    let c = config(d);
    let text = |v: Option<&str>| v.map_or(Value::Null, Value::str);
    let mut props = Props::new();
    props.insert("domain".into(), Value::str(domain_name(name)));
    props.insert("certificate".into(), text(c.and_then(DomainNameConfiguration::certificate_arn)));
    props.insert("api".into(), text(mapping.and_then(ApiMapping::api_id)));
    props.insert("stage".into(), text(mapping.and_then(ApiMapping::stage)));
    props.insert(
        "mapping_key".into(),
        mapping.map_or(Value::Null, |m| Value::str(m.api_mapping_key().unwrap_or_default())),
    );
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(name));
    attrs.insert("arn".into(), Value::str(apigw::domain_arn(&cx.region, name)));
    attrs.insert("dns_name".into(), text(c.and_then(DomainNameConfiguration::api_gateway_domain_name)));
    attrs.insert("zone_id".into(), text(c.and_then(DomainNameConfiguration::hosted_zone_id)));
    Live { physical_id: name.to_owned(), props, attrs, tags: apigw::tags(d.tags()) }
}

async fn mappings(cx: &Cx, name: &str) -> Result<Vec<ApiMapping>, AwsError> {
    apigw::all_pages(|token| async move {
        let p = client(cx).get_api_mappings().domain_name(name).set_next_token(token).send().await.map_err(classify)?;
        Ok((p.items().to_vec(), p.next_token().map(str::to_owned)))
    })
    .await
}

async fn get(cx: &Cx, name: &str) -> Result<DomainName, AwsError> {
    let d = client(cx).get_domain_name().domain_name(name).send().await.map_err(classify)?;
    Ok(DomainName::builder()
        .set_domain_name(d.domain_name().map(str::to_owned))
        .set_domain_name_arn(d.domain_name_arn().map(str::to_owned))
        .set_domain_name_configurations(Some(d.domain_name_configurations().to_vec()))
        .set_tags(d.tags().cloned())
        .build())
}

/// One observation of a domain name being set up: AVAILABLE is ready; UPDATING (a certificate
/// being put in place) waits; the PENDING_* states need the owner to act (re-import a
/// certificate, prove ownership), which waiting cannot bring.
/// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/domainnames-domainname.html
fn availability(d: DomainName) -> Poll<DomainName> {
    let Some(c) = config(&d) else { return Poll::Pending("no configuration reported".into()) };
    match c.domain_name_status() {
        Some(DomainNameStatus::Available) | None => Poll::Ready(d),
        Some(DomainNameStatus::Updating) => Poll::Pending("UPDATING".into()),
        Some(s) => Poll::Failed(format!(
            "{}{}",
            s.as_str(),
            c.domain_name_status_message().map(|m| format!(" ({m})")).unwrap_or_default()
        )),
    }
}

async fn wait_available(cx: &Cx, logical_id: &str, name: &str) -> Result<DomainName, AwsError> {
    wait_until(
        &cx.wait,
        &format!("domain name {name} to be available"),
        |m| cx.status(logical_id, m),
        || async move { Ok(availability(get(cx, name).await?)) },
    )
    .await
}

async fn read_one(cx: &Cx, name: &str) -> Result<Live, AwsError> {
    let d = get(cx, name).await?;
    let m = mappings(cx, name).await?;
    Ok(live(cx, &d, m.first()))
}

fn configuration(certificate: &str) -> DomainNameConfiguration {
    DomainNameConfiguration::builder()
        .certificate_arn(certificate)
        .endpoint_type(EndpointType::Regional)
        .security_policy(SecurityPolicy::Tls12)
        .build()
}

impl KindSpec for ApiDomain {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateDomainName): a DNS name; an API mapping key has no leading, trailing or
    /// doubled `/` (BadRequestException "API mapping key should not start with a '/'…").
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(e) = s.get("certificate") {
            out.extend(wrong_kind(s, "certificate", e, &["certificate"]));
        }
        if let Some(e) = s.get("api") {
            out.extend(wrong_kind(s, "api", e, &["http_api"]));
        }
        if let Some(d) = s.str("domain")
            && let Some(why) = dns::shape_problem(d)
        {
            out.push(Problem::new("domain", format!("`{d}` is no domain name: {why}")));
        }
        if let Some(k) = s.str("mapping_key")
            && (k.starts_with('/') || k.ends_with('/') || k.contains("//"))
        {
            out.push(
                Problem::new("mapping_key", format!("mapping key `{k}`: API Gateway takes no leading, trailing or doubled `/`"))
                    .help("e.g. `v1` or `api/v1`"),
            );
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        if let Some(d) = props.get("domain").and_then(Value::as_str).map(domain_name) {
            props.insert("domain".into(), Value::str(d));
        }
    }

    fn holds(&self) -> &'static [&'static str] {
        // Its mapping holds the API (DeleteApi refused), its configuration the certificate.
        &["http_api", "certificate"]
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("apigateway", "domainnames"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("apigateway", "CreateApiMapping"), ("apigateway", "DeleteApi")])
    }
}

#[async_trait]
impl Kind for ApiDomain {
    /// One paginated GetDomainNames (tags come with it); then GetApiMappings for each domain
    /// the stack owns (in `ids` or tagged with the stack): 1 + 1 per domain, plus pages.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let all = apigw::domain_names(cx).await?;
        let reads = all.iter().map(|d| async move {
            let name = d.domain_name().unwrap_or_default();
            let mine = ids.iter().any(|i| i == name)
                || d.tags().and_then(|t| t.get(TAG_STACK)).is_some_and(|s| *s == cx.stack);
            if !mine {
                return Ok(Some(live(cx, d, None)));
            }
            match mappings(cx, name).await {
                Ok(m) => Ok(Some(live(cx, d, m.first()))),
                Err(AwsError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        });
        let found = futures_util::future::join_all(reads).await;
        found.into_iter().filter_map(Result::transpose).collect()
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let text = |k: &str| req.props.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let name = domain_name(&text("domain"));
        let sent = client(cx)
            .create_domain_name()
            .domain_name(&name)
            .domain_name_configurations(configuration(&text("certificate")))
            .set_tags(Some(apigw::to_sdk(req.tags)))
            .send()
            .await
            .map_err(classify)
            .map_err(|e| match e {
                // A name in use: ConflictException (409).
                AwsError::Invalid(m) if m.starts_with("ConflictException") => AwsError::AlreadyExists(m),
                e => e,
            });
        created_or_ours(cx, req, sent, &format!("domain name {name}"), "choose another `domain`", || async {
            Ok(Some(apigw::tags(get(cx, &name).await?.tags())))
        })
        .await?;
        wait_available(cx, req.id, &name).await?;
        let (api, stage, key) = (text("api"), text("stage"), text("mapping_key"));
        // A create sent again after a lost answer finds its mapping made already.
        let made = mappings(cx, &name).await?;
        if !made.iter().any(|m| m.api_mapping_key().unwrap_or_default() == key) {
            client(cx)
                .create_api_mapping()
                .domain_name(&name)
                .api_id(&api)
                .stage(&stage)
                .api_mapping_key(&key)
                .send()
                .await
                .map_err(classify)?;
        }
        read_one(cx, &name).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let name = req.physical_id;
        let changed = |k: &str| req.changed.iter().any(|c| c == k);
        let text = |k: &str| req.new.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        if changed("certificate") {
            client(cx)
                .update_domain_name()
                .domain_name(name)
                .domain_name_configurations(configuration(&text("certificate")))
                .send()
                .await
                .map_err(classify)?;
            wait_available(cx, req.id, name).await?;
        }
        if changed("api") || changed("stage") || changed("mapping_key") {
            let (api, stage, key) = (text("api"), text("stage"), text("mapping_key"));
            match mappings(cx, name).await?.first().and_then(ApiMapping::api_mapping_id) {
                Some(id) => {
                    client(cx)
                        .update_api_mapping()
                        .domain_name(name)
                        .api_mapping_id(id)
                        .api_id(&api)
                        .stage(&stage)
                        .api_mapping_key(&key)
                        .send()
                        .await
                        .map_err(classify)?;
                }
                // The mapping was deleted behind rprov's back: made again.
                None => {
                    client(cx)
                        .create_api_mapping()
                        .domain_name(name)
                        .api_id(&api)
                        .stage(&stage)
                        .api_mapping_key(&key)
                        .send()
                        .await
                        .map_err(classify)?;
                }
            }
        }
        if changed("tags") {
            apigw::retag(cx, &apigw::domain_arn(&cx.region, name), req.old_tags, req.tags).await?;
        }
        read_one(cx, name).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        let name = req.physical_id;
        // Mappings first: then the API is free to go as soon as this returns, whatever the
        // domain's own delete does.
        let found = match mappings(cx, name).await {
            Err(AwsError::NotFound(_)) => return Ok(()),
            r => r?,
        };
        for m in found {
            let Some(id) = m.api_mapping_id() else { continue };
            super::gone_ok(
                client(cx).delete_api_mapping().domain_name(name).api_mapping_id(id).send().await.map_err(classify),
            )?;
        }
        super::gone_ok(client(cx).delete_domain_name().domain_name(name).send().await.map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_apigatewayv2::Client;
    use aws_sdk_apigatewayv2::operation::create_api_mapping::CreateApiMappingOutput;
    use aws_sdk_apigatewayv2::operation::create_domain_name::{CreateDomainNameError, CreateDomainNameOutput};
    use aws_sdk_apigatewayv2::operation::delete_api_mapping::DeleteApiMappingOutput;
    use aws_sdk_apigatewayv2::operation::delete_domain_name::DeleteDomainNameOutput;
    use aws_sdk_apigatewayv2::operation::get_api_mappings::GetApiMappingsOutput;
    use aws_sdk_apigatewayv2::operation::get_domain_name::GetDomainNameOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::Tags;
    use crate::kinds::testing::{check_rules, mocked, props};

    const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/1";

    fn domain(status: DomainNameStatus, stack: &str) -> GetDomainNameOutput {
        GetDomainNameOutput::builder()
            .domain_name("api.example.com")
            .domain_name_configurations(
                DomainNameConfiguration::builder()
                    .certificate_arn(CERT)
                    .api_gateway_domain_name("d-abc.execute-api.us-east-1.amazonaws.com")
                    .hosted_zone_id("Z1UJRXOUMOOFQ8")
                    .domain_name_status(status)
                    .domain_name_status_message("needs a new certificate")
                    .build(),
            )
            .tags(TAG_STACK, stack)
            .build()
    }

    fn mapped() -> GetApiMappingsOutput {
        GetApiMappingsOutput::builder()
            .items(ApiMapping::builder().api_id("a1").api_mapping_id("m1").stage("$default").api_mapping_key("").build())
            .build()
    }

    fn wanted() -> Props {
        let mut p = props(&[
            ("domain", Value::str("API.example.com")),
            ("certificate", Value::str(CERT)),
            ("api", Value::str("a1")),
            ("stage", Value::str("$default")),
            ("mapping_key", Value::str("")),
        ]);
        ApiDomain.normalise("s", "domain", &mut p);
        p
    }

    #[tokio::test(start_paused = true)]
    async fn create_waits_for_available_then_maps_the_api() {
        let create = mock!(Client::create_domain_name)
            .match_requests(|r| {
                r.domain_name() == Some("api.example.com")
                    && r.domain_name_configurations().first().is_some_and(|c| {
                        c.endpoint_type() == Some(&EndpointType::Regional)
                            && c.security_policy() == Some(&SecurityPolicy::Tls12)
                    })
            })
            .then_output(|| CreateDomainNameOutput::builder().domain_name("api.example.com").build());
        let get = mock!(Client::get_domain_name)
            .sequence()
            .output(|| domain(DomainNameStatus::Updating, "s"))
            .times(2)
            .output(|| domain(DomainNameStatus::Available, "s"))
            .repeatedly()
            .build();
        let none = mock!(Client::get_api_mappings)
            .sequence()
            .output(|| GetApiMappingsOutput::builder().build())
            .output(mapped)
            .build();
        let map = mock!(Client::create_api_mapping)
            .match_requests(|r| r.api_id() == Some("a1") && r.stage() == Some("$default"))
            .then_output(|| CreateApiMappingOutput::builder().api_mapping_id("m1").build());
        let rules = [&create, &get, &none, &map];
        let (cx, seen) = mocked(mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &rules));
        let (p, tags) = (wanted(), Tags::new());

        let made = ApiDomain.create(&cx, &CreateReq { id: "domain", props: &p, tags: &tags, token: "t" }).await.unwrap();

        assert_eq!(made.props, p, "what create reports equals the stack's values");
        assert_eq!(made.attrs["zone_id"], Value::str("Z1UJRXOUMOOFQ8"));
        assert_eq!(made.attrs["dns_name"], Value::str("d-abc.execute-api.us-east-1.amazonaws.com"));
        assert_eq!(map.num_calls(), 1);
        assert_eq!(
            *seen.lock().unwrap(),
            vec!["domain: waiting for domain name api.example.com to be available (now UPDATING)".to_string()]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_domain_that_needs_its_owner_ends_create() {
        let create = mock!(Client::create_domain_name)
            .then_output(|| CreateDomainNameOutput::builder().domain_name("api.example.com").build());
        let get = mock!(Client::get_domain_name).then_output(|| domain(DomainNameStatus::PendingCertificateReimport, "s"));
        let (cx, _) = mocked(mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&create, &get]));
        let (p, tags) = (wanted(), Tags::new());

        let err = ApiDomain.create(&cx, &CreateReq { id: "domain", props: &p, tags: &tags, token: "t" }).await;

        assert_eq!(
            err.unwrap_err(),
            AwsError::Failed(
                "domain name api.example.com to be available: PENDING_CERTIFICATE_REIMPORT (needs a new certificate)"
                    .into()
            )
        );
    }

    #[tokio::test]
    async fn a_name_in_use_by_another_stack_is_refused() {
        let taken = mock!(Client::create_domain_name).then_error(|| {
            CreateDomainNameError::generic(
                ErrorMetadata::builder().code("ConflictException").message("The domain name you provided already exists.").build(),
            )
        });
        let get = mock!(Client::get_domain_name).then_output(|| domain(DomainNameStatus::Available, "other"));
        let (cx, _) = mocked(mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&taken, &get]));
        let (p, tags) = (wanted(), crate::kinds::testing::owned_tags("s", "domain", "t"));

        let err = ApiDomain.create(&cx, &CreateReq { id: "domain", props: &p, tags: &tags, token: "t" }).await;

        assert!(matches!(&err, Err(AwsError::AlreadyExists(m)) if m.contains("not created for domain")), "{err:?}");
    }

    #[tokio::test]
    async fn delete_removes_mappings_first() {
        let list = mock!(Client::get_api_mappings).then_output(mapped);
        let unmap = mock!(Client::delete_api_mapping)
            .match_requests(|r| r.api_mapping_id() == Some("m1"))
            .then_output(|| DeleteApiMappingOutput::builder().build());
        let delete = mock!(Client::delete_domain_name).then_output(|| DeleteDomainNameOutput::builder().build());
        let (cx, _) = mocked(mock_client!(aws_sdk_apigatewayv2, RuleMode::Sequential, &[&list, &unmap, &delete]));
        let (p, a) = (Props::new(), Props::new());

        let req = DeleteReq { id: "domain", physical_id: "api.example.com", props: &p, attrs: &a };
        ApiDomain.delete(&cx, &req).await.unwrap();

        assert_eq!((list.num_calls(), unmap.num_calls(), delete.num_calls()), (1, 1, 1));
    }

    #[test]
    fn an_alias_to_the_domain_is_an_address_record() {
        let cert = "arn:aws:acm:us-east-1:123456789012:certificate/1";
        let stack = format!(
            "zone: {{ type: hosted_zone, name: example.com. }}\n\
             d: {{ type: api_domain, domain: api.example.com, certificate: '{cert}', api: a1 }}\n\
             r: {{ type: dns_record, zone: '${{zone.id}}', name: api.example.com, record_type: CNAME, alias: {{ dns_name: '${{d.dns_name}}', zone_id: '${{d.zone_id}}' }} }}"
        );
        check_rules(&stack, &["an alias to API domain `d` is of type A or AAAA, not CNAME"]);
    }

    #[test]
    fn rules() {
        let cert = "arn:aws:acm:us-east-1:123456789012:certificate/1";
        check_rules(&format!("d: {{ type: api_domain, domain: api.example.com, certificate: '{cert}', api: a1 }}"), &[]);
        check_rules(
            &format!("d: {{ type: api_domain, domain: 'api..example.com', certificate: '{cert}', api: a1, mapping_key: /v1 }}"),
            &["is no domain name", "mapping key `/v1`"],
        );
    }
}
