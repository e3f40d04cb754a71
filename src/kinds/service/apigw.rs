//! API Gateway v2: the client, tags (its describes carry them, so no tag read of their own) and
//! retagging, ARNs, and the `GetApis`/`GetDomainNames` listings, which take a `NextToken` but
//! have no paginator in the SDK.

use std::collections::HashMap;

use aws_sdk_apigatewayv2::Client;

use crate::aws::{AwsError, Cx, classify};
use crate::model::{Tags, tag_changes, without_aws_tags};

pub fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

/// Tags as a describe reports them, `aws:` tags left out.
pub fn tags(t: Option<&HashMap<String, String>>) -> Tags {
    without_aws_tags(t.into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())))
}

pub fn to_sdk(t: &Tags) -> HashMap<String, String> {
    t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// An API's ARN, as TagResource takes it: `arn:aws:apigateway:REGION::/apis/ID`.
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html
pub fn api_arn(region: &str, api_id: &str) -> String {
    format!("arn:aws:apigateway:{region}::/apis/{api_id}")
}

/// A custom domain name's ARN: `arn:aws:apigateway:REGION::/domainnames/NAME`.
pub fn domain_arn(region: &str, name: &str) -> String {
    format!("arn:aws:apigateway:{region}::/domainnames/{name}")
}

pub async fn retag(cx: &Cx, arn: &str, old: &Tags, new: &Tags) -> Result<(), AwsError> {
    let api = client(cx);
    let (stale, changed) = tag_changes(old, new);
    if !stale.is_empty() {
        api.untag_resource().resource_arn(arn).set_tag_keys(Some(stale)).send().await.map_err(classify)?;
    }
    if !changed.is_empty() {
        api.tag_resource().resource_arn(arn).set_tags(Some(to_sdk(&changed))).send().await.map_err(classify)?;
    }
    Ok(())
}

/// Every API of the region, all pages of GetApis (tags included).
pub async fn apis(cx: &Cx) -> Result<Vec<aws_sdk_apigatewayv2::types::Api>, AwsError> {
    all_pages(|token| async move {
        let page = client(cx).get_apis().set_next_token(token).send().await.map_err(classify)?;
        Ok((page.items().to_vec(), page.next_token().map(str::to_owned)))
    })
    .await
}

/// Every custom domain name of the region, all pages of GetDomainNames (tags included).
pub async fn domain_names(cx: &Cx) -> Result<Vec<aws_sdk_apigatewayv2::types::DomainName>, AwsError> {
    all_pages(|token| async move {
        let page = client(cx).get_domain_names().set_next_token(token).send().await.map_err(classify)?;
        Ok((page.items().to_vec(), page.next_token().map(str::to_owned)))
    })
    .await
}

/// Every item of an API Gateway v2 listing: `page` is asked with each `NextToken` (none
/// first) and answers its items and the next token. The SDK has no paginators for these
/// operations (the model marks none).
pub async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let (items, next) = page(token).await?;
        out.extend(items);
        token = next.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(out);
        }
    }
}
