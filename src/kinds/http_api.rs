use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_apigatewayv2::types::{
    AccessLogSettings, Api, AuthorizationType, Cors, Integration, IntegrationType, ProtocolType, Route, Stage,
};

use super::apigw::{self, client};
use super::{CreateReq, DeleteReq, Kind, Live, TAG_STACK, UpdateReq};
use crate::aws::{AwsError, Cx, classify};
use crate::schema::{Attr, Default, KindSchema, Prop, Ty};
use crate::spec::rules::lit_str;
use crate::spec::{KindSpec, Problem, Refusals, Subject};
use crate::value::{Props, Value};

pub struct HttpApi;

/// The stage rprov gives every API: `$default` serves the API at its base URL, and with
/// auto-deploy every change of a route or integration is live at once (HTTP APIs need no
/// CreateDeployment then; moto has none at all).
const STAGE: &str = "$default";

const METHODS: &[&str] = &["ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Lambda proxy integrations of HTTP APIs wait at most 30 s (and at least 50 ms).
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
const TIMEOUT_MS: i64 = 30_000;

static ROUTE: Ty = Ty::Obj(&[
    Prop::new("key", Ty::Str, "The route key: `METHOD /path` (e.g. `GET /items/{id}`, `ANY /{proxy+}`) or `$default`.")
        .aws("apigatewayv2:CreateRouteRequest.RouteKey")
        .required(),
    Prop::new(
        "function",
        Ty::Str,
        "The Lambda function the route invokes (proxy integration), by ARN, e.g. `${fn.arn}`. API Gateway also \
         needs a `lambda_permission` for `${api.execution_arn}/*/*`.",
    )
    .aws("apigatewayv2:CreateIntegrationRequest.IntegrationUri")
    .required(),
    Prop::new("payload_format", Ty::Enum(&["2.0", "1.0"]), "The event format the function receives.")
        .aws("apigatewayv2:CreateIntegrationRequest.PayloadFormatVersion")
        .default(Default::Str("2.0")),
    Prop::new("timeout_ms", Ty::Int, "How long API Gateway waits for the function, 50 to 30,000 ms.")
        .aws("apigatewayv2:CreateIntegrationRequest.TimeoutInMillis")
        .default(Default::Int(TIMEOUT_MS)),
    Prop::new(
        "authorization",
        Ty::Enum(&["NONE", "AWS_IAM"]),
        "`NONE` (open), or `AWS_IAM`: callers sign requests with SigV4.",
    )
    .aws("apigatewayv2:CreateRouteRequest.AuthorizationType")
    .default(Default::Str("NONE")),
]);

static CORS: Ty = Ty::Obj(&[
    Prop::new("allow_origins", Ty::List(&Ty::Str), "Origins allowed, e.g. `https://app.example.com` or `*`.")
        .aws("apigatewayv2:Cors.AllowOrigins")
        .unordered(),
    Prop::new("allow_methods", Ty::List(&Ty::Str), "Methods allowed, e.g. `GET`, `PUT`, or `*`.")
        .aws("apigatewayv2:Cors.AllowMethods")
        .unordered(),
    Prop::new("allow_headers", Ty::List(&Ty::Str), "Request headers allowed, e.g. `content-md5`.")
        .aws("apigatewayv2:Cors.AllowHeaders")
        .unordered(),
    Prop::new("expose_headers", Ty::List(&Ty::Str), "Response headers the browser may read.")
        .aws("apigatewayv2:Cors.ExposeHeaders")
        .unordered(),
    Prop::new("allow_credentials", Ty::Bool, "Whether credentials (cookies) are allowed; not with origin `*`.")
        .aws("apigatewayv2:Cors.AllowCredentials"),
    Prop::new("max_age", Ty::Int, "Seconds browsers may cache the preflight answer.").aws("apigatewayv2:Cors.MaxAge"),
]);

static ACCESS_LOG: Ty = Ty::Obj(&[
    Prop::new("destination", Ty::Str, "The CloudWatch log group's ARN, e.g. `${logs.arn}`.")
        .aws("apigatewayv2:AccessLogSettings.DestinationArn")
        .required(),
    Prop::new("format", Ty::Str, "The line format, with `$context` variables, e.g. `$context.requestId`.")
        .aws("apigatewayv2:AccessLogSettings.Format")
        .required(),
]);

static SCHEMA: KindSchema = KindSchema {
    name: "http_api",
    doc: "An API Gateway HTTP API (v2) whose routes invoke Lambda functions (proxy integrations), served by a \
          `$default` stage with auto-deploy, so a change of a route is live without a deployment step. Routes \
          are written inline, keyed by their route key, and not as kinds of their own: a route or integration \
          is meaningless without its API, and inline they are read with the API (three reads per API: routes, \
          integrations, stages) instead of one resource per route. Each route gets its own integration. An \
          update changes only what changed: UpdateApi, UpdateRoute / UpdateIntegration of a changed route, \
          CreateRoute / DeleteRoute (with their integrations) for added and removed routes, UpdateStage for \
          the access log. AWS refuses DeleteApi while a custom domain maps the API (`api_domain`): the \
          domain's mapping goes first.",
    props: &[
        Prop::new("name", Ty::Str, "The API's name (not unique in AWS).")
            .aws("apigatewayv2:CreateApiRequest.Name")
            .required(),
        Prop::new("description", Ty::Str, "What the API is for.").aws("apigatewayv2:CreateApiRequest.Description"),
        Prop::new("cors", CORS, "CORS answered by API Gateway itself (preflight `OPTIONS` included)."),
        Prop::new("routes", Ty::List(&ROUTE), "The routes, each to a Lambda function.")
            .default(Default::EmptyList)
            .keyed(&["key"]),
        Prop::new("access_log", ACCESS_LOG, "Access logging of the `$default` stage."),
    ],
    attrs: &[
        Attr::new("id", "The API id."),
        Attr::new("api_endpoint", "The API's base URL, `https://<id>.execute-api.<region>.amazonaws.com`."),
        Attr::new(
            "execution_arn",
            "`arn:aws:execute-api:<region>:<account>:<id>`: append `/*/*` for a `lambda_permission`'s source ARN.",
        ),
    ],
    taggable: true,
};

/// A route as compared: the stack's values with their defaults, or what AWS reports.
#[derive(Clone, Debug, PartialEq)]
struct RouteSpec {
    key: String,
    function: String,
    payload_format: String,
    timeout_ms: i64,
    authorization: String,
}

impl RouteSpec {
    fn of(v: &Value) -> Option<RouteSpec> {
        let m = v.as_map()?;
        let text = |k: &str, d: &str| m.get(k).and_then(Value::as_str).unwrap_or(d).to_owned();
        Some(RouteSpec {
            key: text("key", ""),
            function: text("function", ""),
            payload_format: text("payload_format", "2.0"),
            timeout_ms: m.get("timeout_ms").and_then(Value::as_i64).unwrap_or(TIMEOUT_MS),
            authorization: text("authorization", "NONE"),
        })
    }

    fn value(&self) -> Value {
        Value::Map(Props::from([
            ("key".to_string(), Value::str(&self.key)),
            ("function".to_string(), Value::str(&self.function)),
            ("payload_format".to_string(), Value::str(&self.payload_format)),
            ("timeout_ms".to_string(), Value::Int(self.timeout_ms)),
            ("authorization".to_string(), Value::str(&self.authorization)),
        ]))
    }
}

fn routes_of(props: &Props) -> BTreeMap<String, RouteSpec> {
    let items = props.get("routes").and_then(|v| if let Value::List(l) = v { Some(l.as_slice()) } else { None });
    items.unwrap_or_default().iter().filter_map(RouteSpec::of).map(|r| (r.key.clone(), r)).collect()
}

fn routes_value(routes: &BTreeMap<String, RouteSpec>) -> Value {
    Value::List(routes.values().map(RouteSpec::value).collect())
}

/// A route key AWS takes for an HTTP API: `$default`, or a method, one space and a path of
/// `/`-separated segments, where `{name}` is a parameter and `{name+}` (greedy) only ends it.
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html
fn route_key_problem(key: &str) -> Option<String> {
    if key == "$default" {
        return None;
    }
    let Some((method, path)) = key.split_once(' ') else {
        return Some("a route key is `METHOD /path` or `$default`".into());
    };
    if !METHODS.contains(&method) {
        return Some(format!("`{method}` is no method API Gateway routes: {}", METHODS.join(", ")));
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Some(format!("the path `{path}` does not start with `/`"));
    };
    if rest.is_empty() {
        return None;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            return Some(format!("the path `{path}` has an empty segment"));
        }
        if seg.contains(char::is_whitespace) {
            return Some(format!("the path `{path}` contains a space"));
        }
        if let Some(inner) = seg.strip_prefix('{') {
            let Some(name) = inner.strip_suffix('}') else {
                return Some(format!("`{seg}`: a path parameter is a whole segment `{{name}}`"));
            };
            let (name, greedy) = name.strip_suffix('+').map_or((name, false), |n| (n, true));
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Some(format!("`{seg}`: a path parameter's name is letters, digits, `_` and `-`"));
            }
            if greedy && i + 1 != segments.len() {
                return Some(format!("`{seg}`: a greedy parameter ends the path"));
            }
        } else if seg.contains(['{', '}']) {
            return Some(format!("`{seg}`: a path parameter is a whole segment `{{name}}`"));
        }
    }
    None
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
fn is_function_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    (7..=8).contains(&parts.len())
        && parts[0] == "arn"
        && parts[2] == "lambda"
        && parts[5] == "function"
        && !parts[6].is_empty()
}

fn account_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The CORS settings as compared: only what is set, lists sorted.
fn cors_value(c: &Cors) -> Value {
    let mut m = Props::new();
    let list = |l: &[String]| {
        let mut l: Vec<String> = l.to_vec();
        l.sort();
        Value::List(l.into_iter().map(Value::Str).collect())
    };
    for (k, l) in [
        ("allow_origins", c.allow_origins()),
        ("allow_methods", c.allow_methods()),
        ("allow_headers", c.allow_headers()),
        ("expose_headers", c.expose_headers()),
    ] {
        if !l.is_empty() {
            m.insert(k.into(), list(l));
        }
    }
    if let Some(b) = c.allow_credentials() {
        m.insert("allow_credentials".into(), Value::Bool(b));
    }
    if let Some(a) = c.max_age() {
        m.insert("max_age".into(), Value::Int(a.into()));
    }
    Value::Map(m)
}

fn cors_to_sdk(v: &Value) -> Option<Cors> {
    let m = v.as_map()?;
    let list = |k: &str| m.get(k).filter(|v| !v.is_null()).map(Value::string_list);
    Some(
        Cors::builder()
            .set_allow_origins(list("allow_origins"))
            .set_allow_methods(list("allow_methods"))
            .set_allow_headers(list("allow_headers"))
            .set_expose_headers(list("expose_headers"))
            .set_allow_credentials(m.get("allow_credentials").and_then(Value::as_bool))
            .set_max_age(m.get("max_age").and_then(Value::as_i64).and_then(|a| i32::try_from(a).ok()))
            .build(),
    )
}

fn access_log_to_sdk(v: &Value) -> Option<AccessLogSettings> {
    let m = v.as_map()?;
    let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(AccessLogSettings::builder().set_destination_arn(text("destination")).set_format(text("format")).build())
}

fn access_log_value(s: &Stage) -> Value {
    match s.access_log_settings().and_then(|a| Some((a.destination_arn()?, a.format()?))) {
        Some((d, f)) => Value::Map(Props::from([
            ("destination".to_string(), Value::str(d)),
            ("format".to_string(), Value::str(f)),
        ])),
        None => Value::Null,
    }
}

/// What one API has besides its own fields: its routes with their integrations, and its
/// `$default` stage.
struct Parts {
    routes: Vec<Route>,
    integrations: Vec<Integration>,
    stage: Option<Stage>,
}

/// GetRoutes, GetIntegrations and GetStages of one API, each paginated by `NextToken`, run
/// together. AWS has no batched read of routes across APIs.
async fn parts(cx: &Cx, api_id: &str) -> Result<Parts, AwsError> {
    let routes = apigw::all_pages(|token| async move {
        let p = client(cx).get_routes().api_id(api_id).set_next_token(token).send().await.map_err(classify)?;
        Ok((p.items().to_vec(), p.next_token().map(str::to_owned)))
    });
    let integrations = apigw::all_pages(|token| async move {
        let p = client(cx).get_integrations().api_id(api_id).set_next_token(token).send().await.map_err(classify)?;
        Ok((p.items().to_vec(), p.next_token().map(str::to_owned)))
    });
    let stages = apigw::all_pages(|token| async move {
        let p = client(cx).get_stages().api_id(api_id).set_next_token(token).send().await.map_err(classify)?;
        Ok((p.items().to_vec(), p.next_token().map(str::to_owned)))
    });
    let (routes, integrations, stages) = futures_util::future::join3(routes, integrations, stages).await;
    let stage = stages?.into_iter().find(|s| s.stage_name() == Some(STAGE));
    Ok(Parts { routes: routes?, integrations: integrations?, stage })
}

/// The route key -> (route, its integration) of an API as AWS has it.
fn live_routes(p: &Parts) -> BTreeMap<String, (RouteSpec, Option<String>, Option<String>)> {
    let mut out = BTreeMap::new();
    for r in &p.routes {
        let Some(key) = r.route_key() else { continue };
        let integration_id = r.target().and_then(|t| t.strip_prefix("integrations/"));
        let integration = integration_id.and_then(|id| p.integrations.iter().find(|i| i.integration_id() == Some(id)));
        let spec = RouteSpec {
            key: key.to_owned(),
            function: integration.and_then(Integration::integration_uri).unwrap_or_default().to_owned(),
            payload_format: integration.and_then(Integration::payload_format_version).unwrap_or("1.0").to_owned(),
            timeout_ms: integration.and_then(Integration::timeout_in_millis).map_or(TIMEOUT_MS, i64::from),
            authorization: r.authorization_type().map_or("NONE", AuthorizationType::as_str).to_owned(),
        };
        out.insert(key.to_owned(), (spec, r.route_id().map(str::to_owned), integration_id.map(str::to_owned)));
    }
    out
}

fn live(cx: &Cx, api: &Api, parts: Option<&Parts>) -> Live {
    let id = api.api_id().unwrap_or_default();
    let mut props = Props::new();
    props.insert("name".into(), Value::str(api.name().unwrap_or_default()));
    props.insert("description".into(), api.description().map_or(Value::Null, Value::str));
    props.insert("cors".into(), api.cors_configuration().map_or(Value::Null, cors_value));
    let mut account = cx.account.clone();
    if let Some(p) = parts {
        let routes: BTreeMap<String, RouteSpec> =
            live_routes(p).into_iter().map(|(k, (spec, _, _))| (k, spec)).collect();
        if account.is_none() {
            account = routes.values().find_map(|r| account_of_arn(&r.function)).map(str::to_owned);
        }
        props.insert("routes".into(), routes_value(&routes));
        match &p.stage {
            // Without its auto-deploying `$default` stage the API serves nothing: the routes
            // read as none, so the plan shows them all to be put back (the update creates
            // the stage again).
            Some(s) if s.auto_deploy() == Some(true) => {
                props.insert("access_log".into(), access_log_value(s));
            }
            _ => {
                props.insert("routes".into(), Value::List(vec![]));
                props.insert("access_log".into(), Value::Null);
            }
        }
    }
    let mut attrs = Props::new();
    attrs.insert("id".into(), Value::str(id));
    attrs.insert("api_endpoint".into(), api.api_endpoint().map_or(Value::Null, Value::str));
    attrs.insert(
        "execution_arn".into(),
        account.map_or(Value::Null, |a| Value::Str(format!("arn:aws:execute-api:{}:{a}:{id}", cx.region))),
    );
    super::set_created(&mut attrs, super::sdk_time(api.created_date()));
    Live { physical_id: id.to_owned(), props, attrs, tags: apigw::tags(api.tags()) }
}

async fn read_one(cx: &Cx, api_id: &str) -> Result<Live, AwsError> {
    let api = client(cx).get_api().api_id(api_id).send().await.map_err(classify)?;
    let api = Api::builder()
        .set_api_id(api.api_id().map(str::to_owned))
        .set_name(api.name().map(str::to_owned))
        .set_description(api.description().map(str::to_owned))
        .set_api_endpoint(api.api_endpoint().map(str::to_owned))
        .set_cors_configuration(api.cors_configuration().cloned())
        .set_created_date(api.created_date().cloned())
        .set_tags(api.tags().cloned())
        .set_protocol_type(api.protocol_type().cloned())
        .set_route_selection_expression(api.route_selection_expression().map(str::to_owned))
        .build();
    let p = parts(cx, api_id).await?;
    Ok(live(cx, &api, Some(&p)))
}

async fn create_route(cx: &Cx, api_id: &str, r: &RouteSpec) -> Result<(), AwsError> {
    let integration = client(cx)
        .create_integration()
        .api_id(api_id)
        .integration_type(IntegrationType::AwsProxy)
        .integration_method("POST")
        .integration_uri(&r.function)
        .payload_format_version(&r.payload_format)
        .timeout_in_millis(r.timeout_ms as i32)
        .send()
        .await
        .map_err(classify)?;
    let integration_id = integration.integration_id().unwrap_or_default();
    client(cx)
        .create_route()
        .api_id(api_id)
        .route_key(&r.key)
        .target(format!("integrations/{integration_id}"))
        .authorization_type(AuthorizationType::from(r.authorization.as_str()))
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

/// Creates the `$default` stage with auto-deploy, or turns auto-deploy on again and sets its
/// access log.
async fn put_stage(cx: &Cx, api_id: &str, access_log: Option<&Value>, exists: bool) -> Result<(), AwsError> {
    let log = access_log.and_then(access_log_to_sdk);
    if exists {
        client(cx)
            .update_stage()
            .api_id(api_id)
            .stage_name(STAGE)
            .auto_deploy(true)
            .set_access_log_settings(log.clone())
            .send()
            .await
            .map_err(classify)?;
        if log.is_none() {
            // UpdateStage leaves settings that are not sent as they are.
            super::gone_ok(
                client(cx).delete_access_log_settings().api_id(api_id).stage_name(STAGE).send().await.map_err(classify),
            )?;
        }
        return Ok(());
    }
    client(cx)
        .create_stage()
        .api_id(api_id)
        .stage_name(STAGE)
        .auto_deploy(true)
        .set_access_log_settings(log)
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

impl KindSpec for HttpApi {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// AWS (CreateRoute): a route key is `$default` or `METHOD /path` (BadRequestException
    /// otherwise), one route per key in an API (ConflictException); CORS with credentials
    /// allows no `*` origin. (The timeout's 50 to 30,000 ms is the model's constraint.)
    fn check(&self, s: &Subject) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (i, route) in s.list("routes").iter().enumerate() {
            let crate::expr::Expr::Map(m) = route else { continue };
            if let Some(key) = lit_str(m.get("key")) {
                if let Some(why) = route_key_problem(key) {
                    out.push(
                        Problem::new(format!("routes.{i}.key"), format!("route key `{key}`: {why}"))
                            .help("e.g. `GET /items`, `POST /items/{id}`, `ANY /{proxy+}` or `$default`"),
                    );
                }
                if seen.contains(&key) {
                    out.push(Problem::new(
                        format!("routes.{i}.key"),
                        format!("route key `{key}` is given twice: an API has one route per key"),
                    ));
                }
                seen.push(key);
            }
            if let Some(f) = lit_str(m.get("function"))
                && !is_function_arn(f)
            {
                out.push(
                    Problem::new(format!("routes.{i}.function"), format!("`{f}` is no Lambda function ARN"))
                        .help("e.g. `${fn.arn}`"),
                );
            }
        }
        if let Some(crate::expr::Expr::Map(c)) = s.get("cors") {
            let credentials = matches!(c.get("allow_credentials"), Some(crate::expr::Expr::Lit(Value::Bool(true))));
            let star = match c.get("allow_origins") {
                Some(crate::expr::Expr::List(l)) => l.iter().any(|e| lit_str(Some(e)) == Some("*")),
                Some(crate::expr::Expr::Lit(Value::List(l))) => l.iter().any(|v| v.as_str() == Some("*")),
                _ => false,
            };
            if credentials && star {
                out.push(
                    Problem::new("cors.allow_credentials", "CORS with credentials cannot allow every origin (`*`): API Gateway refuses it")
                        .help("list the origins in `allow_origins`"),
                );
            }
        }
        out
    }

    fn normalise(&self, _stack: &str, _id: &str, props: &mut Props) {
        if let Some(Value::List(l)) = props.get("routes")
            && !l.iter().any(Value::has_unknown)
        {
            let routes: BTreeMap<String, RouteSpec> =
                l.iter().filter_map(RouteSpec::of).map(|r| (r.key.clone(), r)).collect();
            props.insert("routes".into(), routes_value(&routes));
        }
        if let Some(Value::Map(c)) = props.get("cors")
            && !Value::Map(c.clone()).has_unknown()
        {
            let sorted = cors_value(&cors_to_sdk(&Value::Map(c.clone())).unwrap_or_else(|| Cors::builder().build()));
            props.insert("cors".into(), sorted);
        }
    }

    fn arn(&self) -> Option<(&'static str, &'static str)> {
        Some(("apigateway", "apis"))
    }

    fn refusals(&self) -> Refusals {
        Refusals::Modelled(&[("apigateway", "DeleteApi"), ("apigateway", "CreateRoute")])
    }
}

#[async_trait]
impl Kind for HttpApi {
    /// One paginated GetApis (tags come with it); then, for the APIs the stack owns (in `ids`
    /// or tagged with the stack) and only those, GetRoutes, GetIntegrations and GetStages
    /// each (AWS reads routes per API only): 1 + 3 per API calls, plus pages.
    async fn read_many(&self, cx: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        let apis = apigw::apis(cx).await?;
        let http: Vec<&Api> = apis.iter().filter(|a| a.protocol_type() == Some(&ProtocolType::Http)).collect();
        let reads = http.into_iter().map(|a| async move {
            let id = a.api_id().unwrap_or_default();
            let mine = ids.iter().any(|i| i == id)
                || a.tags().and_then(|t| t.get(TAG_STACK)).is_some_and(|s| *s == cx.stack);
            if !mine {
                // Not the stack's: listed for ownership (teardown, adoption), not compared.
                return Ok(Some(live(cx, a, None)));
            }
            match parts(cx, id).await {
                Ok(p) => Ok(Some(live(cx, a, Some(&p)))),
                // Deleted between the listing and its reads.
                Err(AwsError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        });
        let found = futures_util::future::join_all(reads).await;
        found.into_iter().filter_map(Result::transpose).collect()
    }

    async fn create(&self, cx: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        let p = req.props;
        let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
        // CreateApi takes no idempotency token and names are not unique: an unanswered create
        // is looked up by its ownership tags (sent with it) before it is sent again.
        let made = client(cx)
            .create_api()
            .name(text("name").unwrap_or_default())
            .protocol_type(ProtocolType::Http)
            .set_description(text("description"))
            .set_cors_configuration(p.get("cors").and_then(cors_to_sdk))
            .set_tags(Some(apigw::to_sdk(req.tags)))
            .send()
            .await
            .map_err(classify)?;
        let api_id = made.api_id().unwrap_or_default().to_owned();
        for r in routes_of(p).values() {
            cx.status(req.id, &format!("route {}", r.key));
            create_route(cx, &api_id, r).await?;
        }
        put_stage(cx, &api_id, p.get("access_log"), false).await?;
        read_one(cx, &api_id).await
    }

    async fn update(&self, cx: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        let api_id = req.physical_id;
        let changed = |k: &str| req.changed.iter().any(|c| c == k);
        let text = |k: &str| req.new.get(k).and_then(Value::as_str).map(str::to_owned);
        if changed("name") || changed("description") || changed("cors") {
            let cors = req.new.get("cors").and_then(cors_to_sdk);
            let removed_cors = cors.is_none() && req.old.get("cors").is_some_and(|c| !c.is_null());
            client(cx)
                .update_api()
                .api_id(api_id)
                .set_name(text("name"))
                .set_description(Some(text("description").unwrap_or_default()))
                .set_cors_configuration(cors)
                .send()
                .await
                .map_err(classify)?;
            if removed_cors {
                // UpdateApi keeps a configuration that is not sent.
                super::gone_ok(client(cx).delete_cors_configuration().api_id(api_id).send().await.map_err(classify))?;
            }
        }
        if changed("routes") || changed("access_log") {
            let p = parts(cx, api_id).await?;
            let have = live_routes(&p);
            let want = routes_of(req.new);
            for (key, (_, route_id, integration_id)) in &have {
                if want.contains_key(key) {
                    continue;
                }
                cx.status(req.id, &format!("removing route {key}"));
                if let Some(route_id) = route_id {
                    super::gone_ok(
                        client(cx).delete_route().api_id(api_id).route_id(route_id).send().await.map_err(classify),
                    )?;
                }
                if let Some(integration_id) = integration_id {
                    super::gone_ok(
                        client(cx)
                            .delete_integration()
                            .api_id(api_id)
                            .integration_id(integration_id)
                            .send()
                            .await
                            .map_err(classify),
                    )?;
                }
            }
            for (key, w) in &want {
                match have.get(key) {
                    None => {
                        cx.status(req.id, &format!("adding route {key}"));
                        create_route(cx, api_id, w).await?;
                    }
                    Some((h, route_id, integration_id)) => {
                        let integration_differs = (&h.function, &h.payload_format, h.timeout_ms)
                            != (&w.function, &w.payload_format, w.timeout_ms);
                        match integration_id {
                            Some(integration_id) if integration_differs => {
                                client(cx)
                                    .update_integration()
                                    .api_id(api_id)
                                    .integration_id(integration_id)
                                    .integration_uri(&w.function)
                                    .payload_format_version(&w.payload_format)
                                    .timeout_in_millis(w.timeout_ms as i32)
                                    .send()
                                    .await
                                    .map_err(classify)?;
                            }
                            None => {
                                // A route whose integration went: give it one again.
                                let made = client(cx)
                                    .create_integration()
                                    .api_id(api_id)
                                    .integration_type(IntegrationType::AwsProxy)
                                    .integration_method("POST")
                                    .integration_uri(&w.function)
                                    .payload_format_version(&w.payload_format)
                                    .timeout_in_millis(w.timeout_ms as i32)
                                    .send()
                                    .await
                                    .map_err(classify)?;
                                if let Some(route_id) = route_id {
                                    client(cx)
                                        .update_route()
                                        .api_id(api_id)
                                        .route_id(route_id)
                                        .target(format!("integrations/{}", made.integration_id().unwrap_or_default()))
                                        .send()
                                        .await
                                        .map_err(classify)?;
                                }
                            }
                            Some(_) => {}
                        }
                        if h.authorization != w.authorization
                            && let Some(route_id) = route_id
                        {
                            client(cx)
                                .update_route()
                                .api_id(api_id)
                                .route_id(route_id)
                                .authorization_type(AuthorizationType::from(w.authorization.as_str()))
                                .send()
                                .await
                                .map_err(classify)?;
                        }
                    }
                }
            }
            let stage_ok = p.stage.as_ref().is_some_and(|s| s.auto_deploy() == Some(true));
            if changed("access_log") || !stage_ok {
                put_stage(cx, api_id, req.new.get("access_log"), p.stage.is_some()).await?;
            }
        }
        if changed("tags") {
            apigw::retag(cx, &apigw::api_arn(&cx.region, api_id), req.old_tags, req.tags).await?;
        }
        read_one(cx, api_id).await
    }

    async fn delete(&self, cx: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        // BadRequestException "Please remove all API mappings for the API from your custom
        // domain names" while an `api_domain` maps it: classified InUse, so the executor
        // retries while the domain's delete goes through.
        super::gone_ok(client(cx).delete_api().api_id(req.physical_id).send().await.map_err(classify))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_apigatewayv2::operation::create_api::CreateApiOutput;
    use aws_sdk_apigatewayv2::operation::create_integration::CreateIntegrationOutput;
    use aws_sdk_apigatewayv2::operation::create_route::CreateRouteOutput;
    use aws_sdk_apigatewayv2::operation::create_stage::CreateStageOutput;
    use aws_sdk_apigatewayv2::operation::delete_api::{DeleteApiError, DeleteApiOutput};
    use aws_sdk_apigatewayv2::operation::get_api::GetApiOutput;
    use aws_sdk_apigatewayv2::operation::get_apis::GetApisOutput;
    use aws_sdk_apigatewayv2::operation::get_integrations::GetIntegrationsOutput;
    use aws_sdk_apigatewayv2::operation::get_routes::GetRoutesOutput;
    use aws_sdk_apigatewayv2::operation::get_stages::GetStagesOutput;
    use aws_sdk_apigatewayv2::operation::update_integration::UpdateIntegrationOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::kinds::testing::{check_rules, list, map, mocked, props};
    use crate::kinds::{Tags, tag_changes};

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:upload";

    fn route(key: &str) -> Value {
        map(&[("key", Value::str(key)), ("function", Value::str(FN))])
    }

    fn api(id: &str, stack: &str) -> Api {
        Api::builder()
            .api_id(id)
            .name("portal")
            .protocol_type(ProtocolType::Http)
            .api_endpoint(format!("https://{id}.execute-api.us-east-1.amazonaws.com"))
            .route_selection_expression("$request.method $request.path")
            .tags(TAG_STACK, stack)
            .build()
    }

    fn got_routes() -> Rule {
        mock!(Client::get_routes).then_output(|| {
            GetRoutesOutput::builder()
                .items(
                    Route::builder()
                        .route_id("r1")
                        .route_key("GET /items")
                        .target("integrations/i1")
                        .authorization_type(AuthorizationType::None)
                        .build(),
                )
                .build()
        })
    }

    fn got_integrations(timeout: i32) -> Rule {
        mock!(Client::get_integrations).then_output(move || {
            GetIntegrationsOutput::builder()
                .items(
                    Integration::builder()
                        .integration_id("i1")
                        .integration_type(IntegrationType::AwsProxy)
                        .integration_uri(FN)
                        .payload_format_version("2.0")
                        .timeout_in_millis(timeout)
                        .build(),
                )
                .build()
        })
    }

    fn got_stages() -> Rule {
        mock!(Client::get_stages).then_output(|| {
            GetStagesOutput::builder().items(Stage::builder().stage_name(STAGE).auto_deploy(true).build()).build()
        })
    }

    use aws_sdk_apigatewayv2::Client;

    #[tokio::test]
    async fn read_many_reads_routes_of_the_stacks_apis_only() {
        let apis = mock!(Client::get_apis)
            .sequence()
            .output(|| GetApisOutput::builder().items(api("a1", "s")).next_token("t").build())
            .output(|| GetApisOutput::builder().items(api("a2", "other")).build())
            .build();
        let (routes, integrations, stages) = (got_routes(), got_integrations(30_000), got_stages());
        let rules = [&apis, &routes, &integrations, &stages];
        let (cx, _) = mocked(mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &rules));

        let found = HttpApi.read_many(&cx.with_account("123456789012"), &[]).await.unwrap();

        assert_eq!(apis.num_calls(), 2, "both pages");
        assert_eq!((routes.num_calls(), integrations.num_calls(), stages.num_calls()), (1, 1, 1), "a1 only");
        assert_eq!(found.len(), 2);
        let mine = &found[0];
        let mut want = props(&[("routes", list(vec![route("GET /items")]))]);
        HttpApi.normalise("s", "api", &mut want);
        assert_eq!(mine.props["routes"], want["routes"]);
        assert_eq!(mine.attrs["execution_arn"], Value::str("arn:aws:execute-api:us-east-1:123456789012:a1"));
        assert!(!found[1].props.contains_key("routes"), "another stack's API is listed, not read");
    }

    #[tokio::test]
    async fn create_makes_an_integration_and_route_each_and_the_auto_deploy_stage() {
        let create = mock!(Client::create_api)
            .match_requests(|r| r.protocol_type() == Some(&ProtocolType::Http) && r.tags().is_some())
            .then_output(|| CreateApiOutput::builder().api_id("a1").build());
        let integration = mock!(Client::create_integration)
            .match_requests(|r| {
                r.integration_type() == Some(&IntegrationType::AwsProxy)
                    && r.integration_uri() == Some(FN)
                    && r.payload_format_version() == Some("2.0")
            })
            .then_output(|| CreateIntegrationOutput::builder().integration_id("i1").build());
        let route_made = mock!(Client::create_route)
            .match_requests(|r| r.route_key() == Some("GET /items") && r.target() == Some("integrations/i1"))
            .then_output(|| CreateRouteOutput::builder().route_id("r1").build());
        let stage = mock!(Client::create_stage)
            .match_requests(|r| r.stage_name() == Some(STAGE) && r.auto_deploy() == Some(true))
            .then_output(|| CreateStageOutput::builder().stage_name(STAGE).build());
        let get = mock!(Client::get_api).then_output(|| {
            GetApiOutput::builder().api_id("a1").name("portal").protocol_type(ProtocolType::Http).build()
        });
        let (routes, integrations, stages) = (got_routes(), got_integrations(30_000), got_stages());
        let rules = [&create, &integration, &route_made, &stage, &get, &routes, &integrations, &stages];
        let (cx, _) = mocked(mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &rules));
        let mut p = props(&[("name", Value::str("portal")), ("routes", list(vec![route("GET /items")]))]);
        HttpApi.normalise("s", "api", &mut p);
        let tags = Tags::new();

        let made = HttpApi.create(&cx, &CreateReq { id: "api", props: &p, tags: &tags, token: "t" }).await.unwrap();

        assert_eq!((create.num_calls(), integration.num_calls(), route_made.num_calls()), (1, 1, 1));
        assert_eq!(stage.num_calls(), 1);
        assert_eq!(made.props["routes"], p["routes"]);
    }

    #[tokio::test]
    async fn update_of_one_route_changes_its_integration_only() {
        let (routes, integrations, stages) = (got_routes(), got_integrations(30_000), got_stages());
        let update = mock!(Client::update_integration)
            .match_requests(|r| r.integration_id() == Some("i1") && r.timeout_in_millis() == Some(5_000))
            .then_output(|| UpdateIntegrationOutput::builder().build());
        let get = mock!(Client::get_api).then_output(|| {
            GetApiOutput::builder().api_id("a1").name("portal").protocol_type(ProtocolType::Http).build()
        });
        let rules = [&routes, &integrations, &stages, &update, &get];
        let (cx, _) = mocked(mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &rules));
        let mut old = props(&[("name", Value::str("portal")), ("routes", list(vec![route("GET /items")]))]);
        HttpApi.normalise("s", "api", &mut old);
        let faster = map(&[("key", Value::str("GET /items")), ("function", Value::str(FN)), ("timeout_ms", Value::Int(5_000))]);
        let mut new = props(&[("name", Value::str("portal")), ("routes", list(vec![faster]))]);
        HttpApi.normalise("s", "api", &mut new);
        let tags = Tags::new();
        let req = UpdateReq {
            id: "api",
            physical_id: "a1",
            old: &old,
            new: &new,
            changed: &["routes".to_string()],
            old_tags: &tags,
            tags: &tags,
        };

        HttpApi.update(&cx, &req).await.unwrap();

        // No route or stage call besides the reads: MatchAny would have failed on an unmatched one.
        assert_eq!(update.num_calls(), 1);
        assert_eq!(tag_changes(&tags, &tags).0.len(), 0);
    }

    #[tokio::test]
    async fn delete_while_mapped_is_in_use_and_gone_is_success() {
        let mapped = mock!(Client::delete_api).match_requests(|r| r.api_id() == Some("a1")).then_error(|| {
            DeleteApiError::generic(
                ErrorMetadata::builder()
                    .code("BadRequestException")
                    .message("Deleting API a1 failed. Please remove all API mappings for the API from your custom domain names.")
                    .build(),
            )
        });
        let gone = mock!(Client::delete_api).match_requests(|r| r.api_id() == Some("a2")).then_error(|| {
            DeleteApiError::generic(ErrorMetadata::builder().code("NotFoundException").message("Invalid API identifier specified").build())
        });
        let ok = mock!(Client::delete_api).then_output(|| DeleteApiOutput::builder().build());
        let (cx, _) = mocked(mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&mapped, &gone, &ok]));
        let (p, a) = (Props::new(), Props::new());
        let req = |pid| DeleteReq { id: "api", physical_id: pid, props: &p, attrs: &a };

        assert!(matches!(HttpApi.delete(&cx, &req("a1")).await, Err(AwsError::InUse(_))));
        assert_eq!(HttpApi.delete(&cx, &req("a2")).await, Ok(()));
        assert_eq!(HttpApi.delete(&cx, &req("a3")).await, Ok(()));
    }

    #[test]
    fn route_keys() {
        for ok in ["$default", "GET /", "GET /items", "POST /items/{id}", "ANY /{proxy+}", "DELETE /a/{b}/c"] {
            assert_eq!(route_key_problem(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("GET", "`METHOD /path`"),
            ("FETCH /x", "no method"),
            ("GET items", "does not start with `/`"),
            ("GET /a//b", "empty segment"),
            ("GET /{proxy+}/x", "greedy"),
            ("GET /a{b}", "whole segment"),
        ] {
            assert!(route_key_problem(bad).is_some_and(|p| p.contains(why)), "{bad}: {:?}", route_key_problem(bad));
        }
    }

    #[test]
    fn rules() {
        let api = |routes: &str| format!("api: {{ type: http_api, name: portal, routes: [{routes}] }}");
        check_rules(&api(&format!("{{ key: 'GET /items', function: '{FN}' }}")), &[]);
        check_rules(
            &api(&format!("{{ key: 'GET items', function: '{FN}' }}, {{ key: 'GET items', function: nope }}")),
            &["route key `GET items`", "given twice", "route key `GET items`", "no Lambda function ARN"],
        );
        check_rules(
            "api: { type: http_api, name: p, cors: { allow_origins: ['*'], allow_credentials: true } }",
            &["cannot allow every origin"],
        );
    }
}
