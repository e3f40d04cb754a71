//! Basic authentication on every endpoint but `/health`.

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};

use crate::common::*;

/// Every protected endpoint, and what it answers the uploader when the credentials are right.
fn endpoints() -> Vec<(Method, &'static str, u16)> {
    vec![
        (Method::GET, "/", 200),
        (Method::GET, "/files", 200),
        (Method::GET, "/download/present.tgz", 200),
        (Method::HEAD, "/download/present.tgz", 200),
        (Method::GET, "/files/present.tgz", 200),
        (Method::GET, "/ready", 200),
        (Method::GET, "/metrics", 200),
        (Method::PUT, "/files/new.tgz", 201),
        (Method::POST, "/upload", 200),
        (Method::DELETE, "/files/present.tgz", 204),
        (Method::GET, "/no-such-page", 404),
    ]
}

async fn send(server: &TestServer, method: Method, path: &str, authorization: Option<String>) -> u16 {
    let mut request = server.client.request(method.clone(), server.url(path));
    if let Some(authorization) = authorization {
        request = request.header(AUTHORIZATION, authorization);
    }
    request = match (method, path) {
        (Method::PUT, _) => request.body(tgz_of_size(100, 1)),
        (Method::POST, _) => request.multipart(
            reqwest::multipart::Form::new()
                .part("diag", reqwest::multipart::Part::bytes(tgz_of_size(100, 2)).file_name("posted.tgz")),
        ),
        _ => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status == 401 {
        assert!(response.headers().contains_key(WWW_AUTHENTICATE), "{path}");
    }
    status
}

#[tokio::test]
async fn credentials_are_required_and_checked() {
    // Many failures from one address: the failed-login limit is tested on its own.
    let server = TestServer::start_with(|config| config.auth_fail_limit = 0).await;
    assert_eq!(server.put("present.tgz", tgz_of_size(100, 3)).await.status(), 201);
    let wrong = [
        None,
        Some(basic(USER, "wrong password")),
        Some(basic("someone", PASSWORD)),
        Some(basic(USER, "")),
        Some(basic(USER, &format!("{PASSWORD} "))),
        Some(basic(READER, PASSWORD)),
        Some(format!("Bearer {PASSWORD}")),
        Some("Basic not-base64!".to_owned()),
    ];
    for (method, path, _) in endpoints() {
        for authorization in &wrong {
            let status = send(&server, method.clone(), path, authorization.clone()).await;
            assert_eq!(status, 401, "{method} {path} with {authorization:?}");
        }
    }
    // Nothing was changed by the refused requests.
    assert_eq!(server.listed().await, ["present.tgz"]);

    for (method, path, expected) in endpoints() {
        let status = send(&server, method.clone(), path, Some(basic(USER, PASSWORD))).await;
        assert_eq!(status, expected, "{method} {path}");
    }
}

#[tokio::test]
async fn health_needs_no_credentials() {
    let server = TestServer::start().await;
    assert_eq!(send(&server, Method::GET, "/health", None).await, 200);
    assert_eq!(send(&server, Method::GET, "/health", Some(basic(USER, "wrong"))).await, 200);
}
