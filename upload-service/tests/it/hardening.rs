//! Protections for a service on the internet: the failed-login limit and who the client is,
//! cross-site requests, storage limits, slow clients, HSTS.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, STRICT_TRANSPORT_SECURITY};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::*;

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

/// `GET /files` as the uploader with `password`, from the client `forwarded_for` says if any.
async fn list_as(server: &TestServer, password: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = server.client.get(server.url("/files")).basic_auth(USER, Some(password));
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    request.send().await.unwrap()
}

async fn metric(server: &TestServer, line_start: &str) -> String {
    let text = server.get("/metrics").send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|line| line.starts_with(line_start))
        .unwrap_or_else(|| panic!("no {line_start} in {text}"))
        .to_owned()
}

#[tokio::test]
async fn failed_logins_are_limited_per_client_and_the_limit_lifts_after_the_window() {
    let window = Duration::from_secs(1);
    let server = TestServer::start_with(|config| {
        config.auth_fail_limit = 3;
        config.auth_fail_window = window;
    })
    .await;
    // Requests without credentials (a browser's first) are not failed logins.
    for _ in 0..5 {
        assert_eq!(server.client.get(server.url("/files")).send().await.unwrap().status(), 401);
    }
    let first_failure = Instant::now();
    for _ in 0..3 {
        assert_eq!(list_as(&server, "wrong", None).await.status(), 401);
    }
    // Blocked: even the right password is not checked.
    let response = list_as(&server, PASSWORD, None).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert_eq!(retry_after, 1);
    assert_eq!(error_code(response).await, (429, "rate_limited".to_owned()));
    let response = server.request(Method::PUT, "/files/blocked.tgz").body(tgz_of_size(100, 1)).send().await.unwrap();
    assert_eq!(response.status(), 429);
    // The load balancer's health check is not affected.
    assert_eq!(server.client.get(server.url("/health")).send().await.unwrap().status(), 200);

    // Free again once the first failure has left the window.
    let margin = Duration::from_millis(200);
    tokio::time::sleep((first_failure + window + margin).saturating_duration_since(Instant::now())).await;
    assert_eq!(list_as(&server, PASSWORD, None).await.status(), 200);
    assert_eq!(metric(&server, "upload_auth_rate_limited_total").await, "upload_auth_rate_limited_total 2");
    assert_eq!(metric(&server, "upload_auth_failures_total").await, "upload_auth_failures_total 8");
    assert!(server.listed().await.is_empty());
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_from_an_untrusted_peer() {
    let server = TestServer::start_with(|config| config.auth_fail_limit = 2).await;
    // Each attempt claims another address; all of them are 127.0.0.1's.
    assert_eq!(list_as(&server, "wrong", Some("203.0.113.1")).await.status(), 401);
    assert_eq!(list_as(&server, "wrong", Some("203.0.113.2")).await.status(), 401);
    assert_eq!(list_as(&server, PASSWORD, Some("203.0.113.3")).await.status(), 429);
    assert_eq!(list_as(&server, PASSWORD, None).await.status(), 429);
}

#[tokio::test]
async fn x_forwarded_for_is_honoured_from_a_trusted_proxy() {
    let server = TestServer::start_with(|config| {
        config.auth_fail_limit = 2;
        config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    // The right-most address is the one the proxy saw; what is left of it the client wrote.
    assert_eq!(list_as(&server, "wrong", Some("198.51.100.1, 203.0.113.1")).await.status(), 401);
    assert_eq!(list_as(&server, "wrong", Some("203.0.113.1")).await.status(), 401);
    assert_eq!(list_as(&server, PASSWORD, Some("203.0.113.1")).await.status(), 429);
    // Writing the blocked address on the left does not block another client...
    assert_eq!(list_as(&server, PASSWORD, Some("203.0.113.1, 203.0.113.2")).await.status(), 200);
    // ...and the proxy itself (no header) is another client too.
    assert_eq!(list_as(&server, PASSWORD, None).await.status(), 200);
}

#[tokio::test]
async fn cross_site_requests_may_not_change_files() {
    let server = TestServer::start().await;
    let content = tgz_of_size(1000, 1);
    assert_eq!(server.put("present.tgz", content.clone()).await.status(), 201);
    let form = || {
        reqwest::multipart::Form::new()
            .part("diag", reqwest::multipart::Part::bytes(tgz_of_size(1000, 2)).file_name("posted.tgz"))
    };

    let response = server.request(Method::POST, "/upload").header("sec-fetch-site", "cross-site").multipart(form());
    assert_eq!(error_code(response.send().await.unwrap()).await, (403, "cross_site".to_owned()));
    let response = server.request(Method::POST, "/upload").header("origin", "http://evil.example").multipart(form());
    assert_eq!(error_code(response.send().await.unwrap()).await, (403, "cross_site".to_owned()));
    let response = server
        .request(Method::PUT, "/files/put.tgz")
        .header("sec-fetch-site", "same-site")
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = server
        .request(Method::DELETE, "/files/present.tgz")
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(server.listed().await, ["present.tgz"]);

    // Reading from another site's link is fine.
    let response = server.get("/download/present.tgz").header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(response.status(), 200);
    // The page's own requests, and clients that are not browsers, may change files.
    let response = server.request(Method::POST, "/upload").header("sec-fetch-site", "same-origin").multipart(form());
    assert_eq!(response.send().await.unwrap().status(), 200);
    let own_origin = format!("http://{}", server.addr);
    let response = server.request(Method::PUT, "/files/put.tgz").header("origin", own_origin).body(content);
    assert_eq!(response.send().await.unwrap().status(), 201);
    let response = server.request(Method::DELETE, "/files/present.tgz").send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(server.listed().await, ["posted.tgz", "put.tgz"]);
    assert_eq!(metric(&server, "upload_cross_site_refused_total").await, "upload_cross_site_refused_total 4");
}

/// A PUT with a chunked body (no length to check first).
async fn put_chunked(server: &TestServer, name: &str, content: Vec<u8>) -> reqwest::Response {
    let stream = tokio_util::io::ReaderStream::with_capacity(std::io::Cursor::new(content), 8192);
    server
        .request(Method::PUT, &format!("/files/{name}"))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap()
}

/// Sends the head of an upload of `length` bytes with `Expect: 100-continue`, no body, and returns
/// the status of the first answer: a refusal before the body is read comes instead of
/// `100 Continue`. (Over 1 MiB: the service reads what is left of smaller refused bodies.)
async fn first_answer_without_the_body(addr: SocketAddr, request_line: &str, length: usize) -> u16 {
    let head = format!(
        "{request_line}\r\nHost: test\r\nAuthorization: {}\r\nContent-Type: multipart/form-data; \
         boundary=b\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n",
        basic(USER, PASSWORD)
    );
    tokio::task::spawn_blocking(move || {
        let mut stream = connect(addr);
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).unwrap();
        String::from_utf8_lossy(&answer[9..12]).parse().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_quota_refuses_uploads_with_507_and_keeps_nothing_of_them() {
    let server = TestServer::start_with(|config| {
        config.quota_bytes = Some(100_000);
        config.min_free_bytes = 0;
    })
    .await;
    let first = tgz_of_size(60_000, 1);
    assert_eq!(server.put("first.tgz", first.clone()).await.status(), 201);
    let stored = server.files_on_disk();

    let second = tgz_of_size(60_000, 2);
    // Refused before the body is read when its length is known...
    let large = 50 << 20;
    assert_eq!(first_answer_without_the_body(server.addr, "PUT /files/second.tgz HTTP/1.1", large).await, 507);
    assert_eq!(first_answer_without_the_body(server.addr, "POST /upload HTTP/1.1", large).await, 507);
    // ...and while streaming (chunked), and in a form.
    assert_eq!(error_code(server.put("second.tgz", second.clone()).await).await, (507, "quota_exceeded".to_owned()));
    let response = put_chunked(&server, "second.tgz", second.clone()).await;
    assert_eq!(error_code(response).await, (507, "quota_exceeded".to_owned()));
    assert_eq!(error_code(server.post("second.tgz", second.clone()).await).await, (507, "quota_exceeded".to_owned()));
    // A form of two files that fit one by one but not together.
    let form = reqwest::multipart::Form::new()
        .part("diag", reqwest::multipart::Part::bytes(tgz_of_size(25_000, 3)).file_name("a.tgz"))
        .part("diag", reqwest::multipart::Part::bytes(tgz_of_size(25_000, 4)).file_name("b.tgz"));
    let response = server.request(Method::POST, "/upload").multipart(form).send().await.unwrap();
    assert_eq!(error_code(response).await, (507, "quota_exceeded".to_owned()));
    // No partial file, no temporary file, no metadata.
    server.wait_until(|| server.files_on_disk() == stored).await;
    assert_eq!(server.listed().await, ["first.tgz"]);

    // Room again once a file is deleted.
    assert_eq!(server.request(Method::DELETE, "/files/first.tgz").send().await.unwrap().status(), 204);
    assert_eq!(put_chunked(&server, "second.tgz", second).await.status(), 201);
}

#[tokio::test]
async fn uploads_that_would_leave_too_little_free_space_are_refused() {
    let server = TestServer::start_with(|config| config.min_free_bytes = u64::MAX / 2).await;
    let content = tgz_of_size(10_000, 1);
    let insufficient = (507, "insufficient_storage".to_owned());
    assert_eq!(first_answer_without_the_body(server.addr, "PUT /files/a.tgz HTTP/1.1", 50 << 20).await, 507);
    assert_eq!(first_answer_without_the_body(server.addr, "POST /upload HTTP/1.1", 50 << 20).await, 507);
    assert_eq!(error_code(server.put("a.tgz", content.clone()).await).await, insufficient);
    assert_eq!(error_code(put_chunked(&server, "a.tgz", content.clone()).await).await, insufficient);
    assert_eq!(error_code(server.post("a.tgz", content).await).await, insufficient);
    server.wait_until(|| server.files_on_disk().is_empty()).await;
    // Reading is unaffected.
    assert_eq!(server.get("/files").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn forms_with_too_many_parts_are_refused() {
    let server = TestServer::start_with(|config| config.max_parts = 3).await;
    let form = |files: usize, texts: usize| {
        let mut form = reqwest::multipart::Form::new();
        for i in 0..texts {
            form = form.text(format!("note{i}"), "text");
        }
        for i in 0..files {
            let part = reqwest::multipart::Part::bytes(tgz_of_size(500, i as u64)).file_name(format!("f{i}.tgz"));
            form = form.part("diag", part);
        }
        server.request(Method::POST, "/upload").multipart(form).send()
    };
    assert_eq!(error_code(form(4, 0).await.unwrap()).await, (413, "too_many_parts".to_owned()));
    // Text fields are parts too.
    assert_eq!(error_code(form(2, 2).await.unwrap()).await, (413, "too_many_parts".to_owned()));
    server.wait_until(|| server.files_on_disk().is_empty()).await;
    assert_eq!(form(3, 0).await.unwrap().status(), 200);
    assert_eq!(server.listed().await, ["f0.tgz", "f1.tgz", "f2.tgz"]);
}

/// Reads until the server closes the connection; `Err` with what was read if it did not within
/// `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < within {
        stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => return Ok(started.elapsed()),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(started.elapsed()),
            Err(e) => return Err(format!("{e}")),
        }
    }
    Err(String::from_utf8_lossy(&received).into_owned())
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_slow_to_send_their_headers_are_cut_off() {
    let server = TestServer::start_with(|config| {
        config.header_read_timeout = Duration::from_millis(500);
        config.idle_timeout = Duration::from_secs(2);
    })
    .await;
    let addr = server.addr;
    tokio::task::spawn_blocking(move || {
        // Part of the headers, then nothing.
        let mut partial = connect(addr);
        partial.write_all(b"GET /files HTTP/1.1\r\nHost: test\r\n").unwrap();
        let after = closed_within(&mut partial, Duration::from_secs(5)).expect("cut off");
        assert!(after >= Duration::from_millis(400) && after < Duration::from_secs(2), "{after:?}");

        // Nothing at all.
        let mut silent = connect(addr);
        let after = closed_within(&mut silent, Duration::from_secs(5)).expect("cut off");
        assert!(after < Duration::from_secs(2), "{after:?}");

        // Headers dripping in, each line in time, the whole too late.
        let mut dripping = connect(addr);
        let started = Instant::now();
        let mut cut = false;
        for _ in 0..20 {
            if dripping.write_all(b"X-Slow: 1\r\n").is_err() {
                cut = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        cut = cut || closed_within(&mut dripping, Duration::from_secs(1)).is_ok();
        assert!(cut && started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    })
    .await
    .unwrap();
    // Others are served as before.
    assert_eq!(server.get("/files").send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_idle_timeout_not_the_header_timeout() {
    let server = TestServer::start_with(|config| {
        config.header_read_timeout = Duration::from_millis(300);
        config.idle_timeout = Duration::from_millis(1500);
        config.body_idle_timeout = Duration::from_secs(5);
    })
    .await;
    let addr = server.addr;
    tokio::task::spawn_blocking(move || {
        let mut stream = connect(addr);
        let request = format!("GET /health HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\n\r\n", basic(USER, PASSWORD));
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = [0u8; 256];
        let n = stream.read(&mut response).unwrap();
        assert!(response[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&response[..n]));
        // Kept alive well past the header timeout, closed at the idle timeout.
        let after = closed_within(&mut stream, Duration::from_secs(5)).expect("closed when idle");
        assert!(after >= Duration::from_millis(1200) && after < Duration::from_secs(3), "{after:?}");

        // A body slower than the header timeout is not cut: only headers are timed.
        let content = tgz_of_size(20_000, 1);
        let mut upload = connect(addr);
        let head = format!(
            "PUT /files/slow.tgz HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            basic(USER, PASSWORD),
            content.len()
        );
        upload.write_all(head.as_bytes()).unwrap();
        for piece in content.chunks(content.len() / 5 + 1) {
            std::thread::sleep(Duration::from_millis(200));
            upload.write_all(piece).unwrap();
        }
        let mut answer = String::new();
        upload.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn hsts_only_for_https_at_a_trusted_proxy() {
    let proxied = TestServer::start_with(|config| config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let hsts = |response: &reqwest::Response| {
        response.headers().get(STRICT_TRANSPORT_SECURITY).map(|v| v.to_str().unwrap().to_owned())
    };
    let expected = Some("max-age=31536000; includeSubDomains".to_owned());
    for path in ["/files", "/health"] {
        let response = proxied.get(path).header("x-forwarded-proto", "https").send().await.unwrap();
        assert_eq!(hsts(&response), expected, "{path}");
    }
    // Error responses carry it too.
    let response = proxied.client.get(proxied.url("/files")).header("x-forwarded-proto", "https").send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(hsts(&response), expected);
    assert_eq!(hsts(&proxied.get("/files").header("x-forwarded-proto", "http").send().await.unwrap()), None);
    assert_eq!(hsts(&proxied.get("/files").send().await.unwrap()), None);
    // Over HTTPS the page's origin is https://: the cross-site check knows it.
    let response = proxied
        .request(Method::PUT, "/files/via-https.tgz")
        .header("x-forwarded-proto", "https")
        .header("origin", format!("https://{}", proxied.addr))
        .body(tgz_of_size(100, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    // From a peer that is not a trusted proxy the header means nothing.
    let direct = TestServer::start().await;
    let response = direct.get("/files").header("x-forwarded-proto", "https").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hsts(&response), None);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
}
