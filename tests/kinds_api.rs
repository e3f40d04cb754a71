//! The API Gateway kinds (`http_api`, `api_domain`) against the strict local AWS, through the
//! `Kind` trait only: create with ownership tags, routes to a Lambda function made here with the
//! Lambda SDK, find it again with `read_many` with props equal to the stack's normalised values
//! (a second plan shows no diff), update in place touching only what changed, a change made
//! behind rprov's back seen by `read_many`, the calls of a refresh, a delete refused while a
//! custom domain maps the API, delete in order, gone.
//!
//! moto answers every domain name AVAILABLE at once and has no UpdateDomainName or
//! UpdateApiMapping: the wait and those updates are unit-tested with aws-smithy-mocks.
//!
//! moto has no CreateDeployment: the `$default` stage deploys itself (auto-deploy), which is
//! also what the kind does on AWS.

use std::time::Duration;

use localaws::LocalAws;
use rprov::aws::{AwsError, Cx, WaitConfig};
use rprov::kinds::testing::{self, Res, list, map, props, read};
use rprov::kinds::{CreateReq, Kind, Live, UpdateReq, kind};
use rprov::value::{Props, Value};

const STACK: &str = "apiit";
const ACCOUNT: &str = "123456789012";

/// A zip of one file, `index.py` (stored, fixed time): enough for Lambda's CreateFunction.
const CODE: &str = "504b030414000000000000002100a6034a2a210000002100000008000000696e6465782e70796465662068616e646c\
                    657228652c2063293a0a2020202072657475726e207b7d0a504b0102140314000000000000002100a6034a2a2100\
                    000021000000080000000000000000000000800100000000696e6465782e7079504b050600000000010001003600\
                    0000470000000000";

async fn cx(aws: &LocalAws) -> Cx {
    let wait = WaitConfig {
        timeout: Duration::from_secs(30),
        poll: Duration::from_millis(50),
        max_poll: Duration::from_millis(500),
    };
    testing::local_cx(STACK, &aws.endpoint(), wait).await.with_account(ACCOUNT)
}

fn desired(k: &dyn Kind, id: &str, given: &Props) -> Props {
    rprov::plan::compared_props(k, STACK, id, given)
}

fn compared(live: &Live, want: &Props) -> Props {
    live.props.iter().filter(|(k, _)| want.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

/// Two Lambda functions (with the role they run as), made directly with the SDKs.
async fn functions(cx: &Cx) -> (String, String) {
    let iam = cx.client(aws_sdk_iam::Client::new);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam.create_role().role_name("apiit-fn").assume_role_policy_document(trust).send().await.unwrap();
    let role = role.role().unwrap().arn().to_owned();
    let lambda = cx.client(aws_sdk_lambda::Client::new);
    let mut arns = Vec::new();
    for name in ["apiit-upload", "apiit-list"] {
        let code = aws_sdk_lambda::types::FunctionCode::builder()
            .zip_file(aws_sdk_lambda::primitives::Blob::new(bytes(CODE)))
            .build();
        let made = lambda
            .create_function()
            .function_name(name)
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .handler("index.handler")
            .role(&role)
            .code(code)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create function {name}: {e:?}"));
        arns.push(made.function_arn().unwrap().to_owned());
    }
    (arns[0].clone(), arns[1].clone())
}

fn route(key: &str, function: &str, extra: &[(&str, Value)]) -> Value {
    let mut pairs = vec![("key", Value::str(key)), ("function", Value::str(function))];
    pairs.extend(extra.iter().cloned());
    map(&pairs)
}

#[tokio::test]
async fn http_api_round_trip() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let (upload, listing) = functions(&cx).await;
    let k = kind("http_api").expect("http_api is registered");
    let id = "api";
    let tags = testing::owned_tags(STACK, id, "portal");

    // Create: routes, their integrations, the auto-deploying stage.
    let cors = map(&[
        ("allow_origins", list(vec![Value::str("https://portal.example.com")])),
        ("allow_methods", list(vec![Value::str("PUT"), Value::str("GET")])),
        ("allow_headers", list(vec![Value::str("content-md5"), Value::str("content-type")])),
        ("max_age", Value::Int(300)),
    ]);
    let given = props(&[
        ("name", Value::str("portal")),
        ("description", Value::str("document uploads")),
        ("cors", cors),
        (
            "routes",
            list(vec![
                route("POST /uploads", &upload, &[]),
                route("GET /documents/{id}", &listing, &[("authorization", Value::str("AWS_IAM"))]),
            ]),
        ),
        (
            "access_log",
            map(&[
                ("destination", Value::str(format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:apiit"))),
                ("format", Value::str("$context.requestId")),
            ]),
        ),
    ]);
    let want = desired(k, id, &given);
    let made = k.create(&cx, &CreateReq { id, props: &want, tags: &tags, token: "unused" }).await.unwrap();
    let found = read(&cx, k, &[], &made.physical_id).await.expect("read_many finds the API");
    assert_eq!(compared(&found, &want), want, "live props differ from the stack's (perpetual diff)");
    assert_eq!(found.tags, tags);
    assert_eq!(made.props, found.props, "create returns what read_many reads");
    let mut api = Res { kind: k, id, live: found, applied: want };
    let api_id = api.pid().to_owned();
    assert!(api.attr("api_endpoint").as_str().is_some_and(|e| e.starts_with(&format!("https://{api_id}."))));
    assert_eq!(api.attr("execution_arn"), Value::Str(format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}")));
    assert_eq!(aws.count("apigateway", "CreateIntegration"), 2);
    assert_eq!(aws.count("apigateway", "CreateRoute"), 2);
    assert_eq!(aws.count("apigateway", "CreateStage"), 1);
    assert_eq!(aws.count("apigateway", "CreateDeployment"), 0, "auto-deploy: no deployment step");

    // A refresh: one GetApis, then routes, integrations and stages of this API.
    aws.clear_calls();
    read(&cx, k, std::slice::from_ref(&api_id), &api_id).await.unwrap();
    for op in ["GetApis", "GetRoutes", "GetIntegrations", "GetStages"] {
        assert_eq!(aws.count("apigateway", op), 1, "{op} per refresh");
    }
    assert_eq!(aws.calls().len(), 4, "nothing else is read");

    // In place: the description, one route's function and timeout, one route removed, one
    // added; the API keeps its id, the unchanged route is not touched.
    aws.clear_calls();
    let new = desired(
        k,
        id,
        &props(&[
            ("name", Value::str("portal")),
            ("description", Value::str("document uploads and listing")),
            ("cors", api.applied["cors"].clone()),
            (
                "routes",
                list(vec![
                    route("POST /uploads", &listing, &[("timeout_ms", Value::Int(5_000))]),
                    route("$default", &upload, &[]),
                ]),
            ),
            ("access_log", api.applied["access_log"].clone()),
        ]),
    );
    let changed = vec!["description".to_string(), "routes".to_string()];
    let same = api.live.tags.clone();
    let req = UpdateReq {
        id,
        physical_id: &api_id,
        old: &api.applied,
        new: &new,
        changed: &changed,
        old_tags: &same,
        tags: &same,
    };
    let out = k.update(&cx, &req).await.unwrap();
    let found = read(&cx, k, &[], &api_id).await.expect("the API after update");
    assert_eq!(compared(&found, &new), new, "props after update");
    assert_eq!(out.props, found.props, "update returns what read_many reads");
    assert_eq!(aws.count("apigateway", "UpdateApi"), 1);
    assert_eq!(aws.count("apigateway", "UpdateIntegration"), 1, "the changed route's integration");
    assert_eq!(aws.count("apigateway", "UpdateRoute"), 0, "no route's authorization changed");
    assert_eq!((aws.count("apigateway", "DeleteRoute"), aws.count("apigateway", "DeleteIntegration")), (1, 1));
    assert_eq!((aws.count("apigateway", "CreateRoute"), aws.count("apigateway", "CreateIntegration")), (1, 1));
    assert_eq!(aws.count("apigateway", "UpdateStage") + aws.count("apigateway", "CreateStage"), 0);
    api.live = found;
    api.applied = new;

    // Drift: the route's authorization changed behind rprov's back.
    let gw = cx.client(aws_sdk_apigatewayv2::Client::new);
    let routes = gw.get_routes().api_id(&api_id).send().await.unwrap();
    let uploads = routes.items().iter().find(|r| r.route_key() == Some("POST /uploads")).unwrap();
    gw.update_route()
        .api_id(&api_id)
        .route_id(uploads.route_id().unwrap())
        .authorization_type(aws_sdk_apigatewayv2::types::AuthorizationType::AwsIam)
        .send()
        .await
        .unwrap();
    let drifted = read(&cx, k, &[], &api_id).await.unwrap();
    assert_ne!(drifted.props["routes"], api.applied["routes"], "drift is seen");
    let Value::List(items) = &drifted.props["routes"] else { panic!("routes is a list") };
    let auth = items.iter().filter_map(Value::as_map).find(|r| r["key"] == Value::str("POST /uploads")).unwrap();
    assert_eq!(auth["authorization"], Value::str("AWS_IAM"));

    // A custom domain maps the API: AWS refuses its delete until the mapping is gone.
    let cert = cx.client(aws_sdk_acm::Client::new);
    let cert = cert
        .request_certificate()
        .domain_name("api.example.com")
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap();
    let config = aws_sdk_apigatewayv2::types::DomainNameConfiguration::builder()
        .certificate_arn(cert.certificate_arn().unwrap())
        .endpoint_type(aws_sdk_apigatewayv2::types::EndpointType::Regional)
        .build();
    gw.create_domain_name().domain_name("api.example.com").domain_name_configurations(config).send().await.unwrap();
    let mapping =
        gw.create_api_mapping().domain_name("api.example.com").api_id(&api_id).stage("$default").send().await.unwrap();
    let refused = k.delete(&cx, &api.delete_req()).await;
    assert!(matches!(refused, Err(AwsError::InUse(_))), "{refused:?}");
    gw.delete_api_mapping()
        .domain_name("api.example.com")
        .api_mapping_id(mapping.api_mapping_id().unwrap())
        .send()
        .await
        .unwrap();

    k.delete(&cx, &api.delete_req()).await.unwrap();
    assert!(read(&cx, k, &[], &api_id).await.is_none(), "still listed after delete");
    assert_eq!(k.delete(&cx, &api.delete_req()).await, Ok(()), "a second delete is success");
}

/// An ACM certificate for `name`, requested directly (the certificate kind is tested elsewhere).
async fn certificate(cx: &Cx, name: &str) -> String {
    let acm = cx.client(aws_sdk_acm::Client::new);
    let out = acm
        .request_certificate()
        .domain_name(name)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap();
    out.certificate_arn().unwrap().to_owned()
}

#[tokio::test]
async fn api_domain_round_trip() {
    let aws = LocalAws::start();
    let cx = cx(&aws).await;
    let (upload, _) = functions(&cx).await;
    let apis = kind("http_api").unwrap();
    let k = kind("api_domain").expect("api_domain is registered");
    let api_props = desired(
        apis,
        "api",
        &props(&[("name", Value::str("portal")), ("routes", list(vec![route("POST /uploads", &upload, &[])]))]),
    );
    let api_tags = testing::owned_tags(STACK, "api", "portal");
    let api = apis.create(&cx, &CreateReq { id: "api", props: &api_props, tags: &api_tags, token: "t" }).await.unwrap();
    let api = Res { kind: apis, id: "api", live: api.clone(), applied: api_props };
    let cert = certificate(&cx, "api.example.com").await;

    let id = "domain";
    let tags = testing::owned_tags(STACK, id, "portal");
    let want = desired(
        k,
        id,
        &props(&[
            ("domain", Value::str("API.example.com")),
            ("certificate", Value::str(&cert)),
            ("api", Value::str(api.pid())),
        ]),
    );
    assert_eq!(want["stage"], Value::str("$default"), "the API's auto-deploying stage by default");
    let made = k.create(&cx, &CreateReq { id, props: &want, tags: &tags, token: "t" }).await.unwrap();
    let found = read(&cx, k, &[], &made.physical_id).await.expect("read_many finds the domain");
    assert_eq!(compared(&found, &want), want, "live props differ from the stack's (perpetual diff)");
    assert_eq!(found.tags, tags);
    assert_eq!(made.props, found.props, "create returns what read_many reads");
    let mut domain = Res { kind: k, id, live: found, applied: want };
    assert_eq!(domain.pid(), "api.example.com");
    // The alias target a dns_record names, as AWS reports it for a regional domain in us-east-1.
    assert_eq!(domain.attr("zone_id"), Value::str("Z1UJRXOUMOOFQ8"));
    assert!(domain.attr("dns_name").as_str().is_some_and(|d| d.ends_with(".execute-api.us-east-1.amazonaws.com")));
    assert_eq!(domain.attr("arn"), Value::str("arn:aws:apigateway:us-east-1::/domainnames/api.example.com"));

    // A refresh: one GetDomainNames, one GetApiMappings for the stack's domain.
    aws.clear_calls();
    read(&cx, k, &[], domain.pid()).await.unwrap();
    assert_eq!((aws.count("apigateway", "GetDomainNames"), aws.count("apigateway", "GetApiMappings")), (1, 1));
    assert_eq!(aws.calls().len(), 2);

    // In place: the tags.
    let mut retagged = tags.clone();
    retagged.insert("team".into(), "docs".into());
    let req = UpdateReq {
        id,
        physical_id: domain.pid(),
        old: &domain.applied,
        new: &domain.applied,
        changed: &["tags".to_string()],
        old_tags: &tags,
        tags: &retagged,
    };
    let out = k.update(&cx, &req).await.unwrap();
    let found = read(&cx, k, &[], domain.pid()).await.unwrap();
    assert_eq!(found.tags, retagged, "tags after update");
    assert_eq!(out.props, found.props);
    domain.live = found;

    // Drift: the mapping deleted behind rprov's back reads as no API mapped.
    let gw = cx.client(aws_sdk_apigatewayv2::Client::new);
    let mappings = gw.get_api_mappings().domain_name("api.example.com").send().await.unwrap();
    let mapping = mappings.items()[0].api_mapping_id().unwrap().to_owned();
    gw.delete_api_mapping().domain_name("api.example.com").api_mapping_id(&mapping).send().await.unwrap();
    let drifted = read(&cx, k, &[], domain.pid()).await.unwrap();
    assert_eq!(drifted.props["api"], Value::Null, "drift is seen");
    // The update puts the mapping back.
    let req = UpdateReq {
        id,
        physical_id: domain.pid(),
        old: &domain.applied,
        new: &domain.applied,
        changed: &["api".to_string()],
        old_tags: &retagged,
        tags: &retagged,
    };
    k.update(&cx, &req).await.unwrap();
    let found = read(&cx, k, &[], domain.pid()).await.unwrap();
    assert_eq!(compared(&found, &domain.applied), domain.applied, "mapped again");

    // The API cannot go while the domain maps it; the domain's delete (mappings first) frees it.
    assert!(matches!(apis.delete(&cx, &api.delete_req()).await, Err(AwsError::InUse(_))));
    k.delete(&cx, &domain.delete_req()).await.unwrap();
    assert!(read(&cx, k, &[], domain.pid()).await.is_none(), "still listed after delete");
    assert_eq!(k.delete(&cx, &domain.delete_req()).await, Ok(()), "a second delete is success");
    apis.delete(&cx, &api.delete_req()).await.unwrap();
    assert!(read(&cx, apis, &[], api.pid()).await.is_none());
}
