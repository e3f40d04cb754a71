//! Every endpoint, through its ordinary use.

use reqwest::Method;
use reqwest::header::{self, HeaderValue};
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn page_is_served_to_authenticated_users() {
    let server = TestServer::start().await;
    let response = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic realm="));

    let response = server.get("/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(response.headers().contains_key("x-request-id"));
    let html = response.text().await.unwrap();
    for expected in [
        "id=\"drop-zone\"",
        "id=\"file-input\"",
        "data-can-write=\"true\"",
        "Signed in as <strong>admin</strong>",
        // A progress bar per file, fed by the XHR's upload progress events.
        "element('progress'",
        "request.upload.addEventListener('progress'",
    ] {
        assert!(html.contains(expected), "page lacks {expected}");
    }
}

#[tokio::test]
async fn multipart_upload_in_field_diag_is_listed_and_downloadable() {
    let server = TestServer::start().await;
    let content = tgz(&[("diag/info.txt", b"hello"), ("diag/log.txt", &noise(10_000, 1))]);
    let response = server.post("support-case-1.tgz", content.clone()).await;
    assert_eq!(response.status(), 200);
    let stored: Vec<Value> = response.json().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["name"], "support-case-1.tgz");
    assert_eq!(stored[0]["size"], content.len() as u64);
    assert_eq!(stored[0]["sha256"], sha256_hex(&content));

    let listed: Vec<Value> = server.get("/files").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "support-case-1.tgz");
    assert_eq!(listed[0]["size"], content.len() as u64);
    assert_eq!(listed[0]["sha256"], sha256_hex(&content));
    let uploaded_at = listed[0]["uploaded_at"].as_str().unwrap();
    assert!(uploaded_at.ends_with('Z') && uploaded_at.len() == 24, "{uploaded_at}");

    let response = server.get("/download/support-case-1.tgz").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_LENGTH], content.len().to_string().as_str());
    assert_eq!(headers[header::CONTENT_TYPE], "application/gzip");
    assert_eq!(headers[header::ETAG], format!("\"{}\"", sha256_hex(&content)).as_str());
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"support-case-1.tgz\"")
    );
    assert_eq!(response.bytes().await.unwrap(), content);

    // The metadata sidecar is on disk but never listed.
    assert_eq!(server.files_on_disk(), [".support-case-1.tgz.meta.json", "support-case-1.tgz"]);
}

#[tokio::test]
async fn any_file_field_counts_and_one_request_may_carry_many_files() {
    let server = TestServer::start().await;
    let (a, b) = (tgz_of_size(1000, 1), tgz_of_size(2000, 2));
    let form = reqwest::multipart::Form::new()
        .text("comment", "two files")
        .part("file", reqwest::multipart::Part::bytes(a.clone()).file_name("a.tgz"))
        .part("attachment", reqwest::multipart::Part::bytes(b.clone()).file_name("b.tar.gz"));
    let response = server.request(Method::POST, "/upload").multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let stored: Vec<Value> = response.json().await.unwrap();
    let names: Vec<&str> = stored.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.tgz", "b.tar.gz"]);
    assert_eq!(server.listed().await, ["a.tgz", "b.tar.gz"]);
    assert_eq!(server.download("a.tgz").await, a);
    assert_eq!(server.download("b.tar.gz").await, b);
}

#[tokio::test]
async fn a_form_without_a_file_is_refused() {
    let server = TestServer::start().await;
    let form = reqwest::multipart::Form::new().text("diag", "no file here");
    let response = server.request(Method::POST, "/upload").multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "no_file");
    let response = server.request(Method::POST, "/upload").body("x").send().await.unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn duplicate_names_get_a_suffix_on_post_and_a_conflict_on_put() {
    let server = TestServer::start().await;
    let (first, second, third) = (tgz_of_size(100, 1), tgz_of_size(200, 2), tgz_of_size(300, 3));
    assert_eq!(server.post("diag.tgz", first.clone()).await.status(), 200);
    let response = server.post("diag.tgz", second.clone()).await;
    assert_eq!(response.status(), 200);
    let stored: Vec<Value> = response.json().await.unwrap();
    assert_eq!(stored[0]["name"], "diag-1.tgz");

    let response = server.put("diag.tgz", third).await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "conflict");

    assert_eq!(server.listed().await, ["diag-1.tgz", "diag.tgz"]);
    assert_eq!(server.download("diag.tgz").await, first);
    assert_eq!(server.download("diag-1.tgz").await, second);
}

#[tokio::test]
async fn put_stores_the_raw_body_under_its_name() {
    let server = TestServer::start().await;
    let content = tgz_of_size(300_000, 7);
    let response = server.put("raw.tgz", content.clone()).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()[header::LOCATION], "/download/raw.tgz");
    let entry: Value = response.json().await.unwrap();
    assert_eq!(entry["sha256"], sha256_hex(&content));
    // The same resource is readable at its PUT address.
    let response = server.get("/files/raw.tgz").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), content);

    // A chunked body (no Content-Length), as `curl -T -` sends from a pipe.
    let stream = tokio_util::io::ReaderStream::with_capacity(std::io::Cursor::new(content.clone()), 10_000);
    let response = server
        .request(Method::PUT, "/files/chunked.tgz")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(server.download("chunked.tgz").await, content);
}

#[tokio::test]
async fn files_are_listed_as_html_when_the_client_asks_for_it() {
    let server = TestServer::start().await;
    let name = "<img src=x onerror=alert(1)> & co.tgz";
    assert_eq!(server.post(name, tgz_of_size(10, 1)).await.status(), 200);
    let response =
        server.get("/files").header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; co.tgz"), "{html}");
    assert!(html.contains("href=\"/download/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%20%26%20co.tgz\""), "{html}");
    assert!(!html.contains("<img"));

    let response = server.get("/files").send().await.unwrap();
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
}

#[tokio::test]
async fn delete_removes_the_file_and_its_metadata() {
    let server = TestServer::start().await;
    assert_eq!(server.put("gone.tgz", tgz_of_size(10, 1)).await.status(), 201);
    let response = server.request(Method::DELETE, "/files/gone.tgz").send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(server.listed().await.is_empty());
    assert!(server.files_on_disk().is_empty(), "{:?}", server.files_on_disk());
    let response = server.request(Method::DELETE, "/files/gone.tgz").send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(server.get("/download/gone.tgz").send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let server = TestServer::start().await;
    let response = server.client.get(server.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok\n");

    assert_eq!(server.client.get(server.url("/ready")).send().await.unwrap().status(), 401);
    assert_eq!(server.get("/ready").send().await.unwrap().status(), 200);
    // No temporary probe file is left behind.
    assert!(server.files_on_disk().is_empty());

    assert_eq!(server.client.get(server.url("/metrics")).send().await.unwrap().status(), 401);
    let content = tgz_of_size(5000, 3);
    assert_eq!(server.put("m.tgz", content.clone()).await.status(), 201);
    assert_eq!(server.put("bad.tgz", b"not gzip".to_vec()).await.status(), 400);
    server.download("m.tgz").await;
    let response = server.get("/metrics").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    for line in [
        "upload_files_total 1\n".to_owned(),
        format!("upload_bytes_total {}\n", content.len()),
        "upload_errors_total{reason=\"not_gzip\"} 1\n".to_owned(),
        "upload_duration_seconds_count 1\n".to_owned(),
        "upload_downloads_total 1\n".to_owned(),
        "upload_auth_failures_total 2\n".to_owned(),
        "http_requests_total{method=\"PUT\",status=\"201\"} 1\n".to_owned(),
    ] {
        assert!(text.contains(&line), "metrics lack {line:?}:\n{text}");
    }
}

#[tokio::test]
async fn ready_reports_unusable_storage() {
    let server = TestServer::start().await;
    std::fs::remove_dir(server.data_dir()).unwrap();
    std::fs::write(server.data_dir(), b"a file where the directory was").unwrap();
    assert_eq!(server.get("/ready").send().await.unwrap().status(), 503);
    // Liveness is unaffected: the process is fine, its storage is not.
    assert_eq!(server.client.get(server.url("/health")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn range_requests_return_exact_bytes() {
    let server = TestServer::start().await;
    let content = tgz_of_size(200_000, 9);
    let size = content.len();
    assert_eq!(server.put("ranged.tgz", content.clone()).await.status(), 201);
    let etag = format!("\"{}\"", sha256_hex(&content));

    let range = |value: String| {
        let request = server.get("/download/ranged.tgz").header(header::RANGE, value);
        async move { request.send().await.unwrap() }
    };
    let check = |start: usize, end: usize, value: String| {
        let content = &content;
        let response = range(value.clone());
        async move {
            let response = response.await;
            assert_eq!(response.status(), 206, "{value}");
            assert_eq!(
                response.headers()[header::CONTENT_RANGE],
                HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")).unwrap(),
                "{value}"
            );
            assert_eq!(response.headers()[header::CONTENT_LENGTH], (end - start + 1).to_string().as_str());
            assert_eq!(response.bytes().await.unwrap(), &content[start..=end], "{value}");
        }
    };
    check(0, 0, "bytes=0-0".into()).await;
    check(100, 4195, "bytes=100-4195".into()).await;
    check(size - 500, size - 1, "bytes=-500".into()).await;
    check(150_000, size - 1, "bytes=150000-".into()).await;
    check(150_000, size - 1, format!("bytes=150000-{}", size * 2)).await;

    let response = range(format!("bytes={size}-")).await;
    assert_eq!(response.status(), 416);
    assert_eq!(response.headers()[header::CONTENT_RANGE], format!("bytes */{size}").as_str());

    // If-Range with the current ETag honours the range, with another version sends it all.
    let response = server
        .get("/download/ranged.tgz")
        .header(header::RANGE, "bytes=0-9")
        .header(header::IF_RANGE, etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    let response = server
        .get("/download/ranged.tgz")
        .header(header::RANGE, "bytes=0-9")
        .header(header::IF_RANGE, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), content);

    let response = server.get("/download/ranged.tgz").header(header::IF_NONE_MATCH, etag.clone()).send().await.unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(response.headers()[header::ETAG], etag.as_str());
}

#[tokio::test]
async fn the_readonly_user_may_list_and_download_but_not_change() {
    let server = TestServer::start().await;
    let content = tgz_of_size(100, 1);
    assert_eq!(server.put("shared.tgz", content.clone()).await.status(), 201);
    let as_reader = |method: Method, path: &str| {
        server.client.request(method, server.url(path)).basic_auth(READER, Some(READER_PASSWORD))
    };
    let page = as_reader(Method::GET, "/").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("data-can-write=\"false\""));
    assert_eq!(as_reader(Method::GET, "/files").send().await.unwrap().status(), 200);
    let response = as_reader(Method::GET, "/download/shared.tgz").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), content);

    let response = as_reader(Method::PUT, "/files/new.tgz").body(tgz_of_size(10, 2)).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let form = reqwest::multipart::Form::new()
        .part("diag", reqwest::multipart::Part::bytes(tgz_of_size(10, 2)).file_name("new.tgz"));
    let response = as_reader(Method::POST, "/upload").multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let response = as_reader(Method::DELETE, "/files/shared.tgz").send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(server.listed().await, ["shared.tgz"]);
}

#[tokio::test]
async fn unknown_paths_are_not_found_once_authenticated() {
    let server = TestServer::start().await;
    assert_eq!(server.get("/nope").send().await.unwrap().status(), 404);
    assert_eq!(server.get("/download/missing.tgz").send().await.unwrap().status(), 404);
    assert_eq!(server.client.get(server.url("/nope")).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn the_service_stops_gracefully() {
    let server = TestServer::start().await;
    assert_eq!(server.put("kept.tgz", tgz_of_size(10, 1)).await.status(), 201);
    let addr = server.addr;
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
