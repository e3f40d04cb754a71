//! Names, content, size and checksums: what is refused leaves nothing behind.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::common::*;

/// The data directory holds nothing, not even a temporary file, and nothing appeared beside it.
async fn assert_nothing_stored(server: &TestServer) {
    assert!(server.listed().await.is_empty());
    assert!(server.files_on_disk().is_empty(), "{:?}", server.files_on_disk());
    let mut beside: Vec<String> =
        std::fs::read_dir(server.root_dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    beside.sort();
    assert_eq!(beside, ["data"]);
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn traversal_in_the_put_path_is_refused() {
    let server = TestServer::start().await;
    let content = tgz_of_size(100, 1);
    for path in [
        "/files/..%2Fx.tgz",
        "/files/%2e%2e%2fx.tgz",
        "/files/%2E%2E%2Fx.tgz",
        "/files/%2e%2e%5cx.tgz",
        "/files/%2Ftmp%2Fx.tgz",
        "/files/x%00.tgz",
        "/files/x%0a.tgz",
        "/files/..",
        "/files/%2e%2e",
        "/files/.x.tgz",
        "/files/../x.tgz",
        "/files/../../x.tgz",
        "/files//tmp/x.tgz",
    ] {
        let (status, body) = raw_request(server.addr, raw_put(path, &content)).await;
        assert!(status == 400 || status == 404, "PUT {path} answered {status}: {body}");
    }
    assert_nothing_stored(&server).await;

    // Decoded once, never twice: a double-encoded name is a harmless literal name.
    let (status, _) = raw_request(server.addr, raw_put("/files/%252e%252e%252fx.tgz", &content)).await;
    assert_eq!(status, 201);
    assert_eq!(server.listed().await, ["%2e%2e%2fx.tgz"]);
    assert!(server.data_dir().join("%2e%2e%2fx.tgz").is_file());
}

#[tokio::test]
async fn traversal_in_multipart_file_names_is_refused() {
    let server = TestServer::start().await;
    let content = tgz_of_size(100, 1);
    let boundary = "----test-boundary-7MA4YWxkTrZu0gW";
    let names: [&[u8]; 9] = [
        b"../x.tgz",
        b"..\\x.tgz",
        b"/tmp/x.tgz",
        b"C:\\Users\\me\\x.tgz",
        b"sub/x.tgz",
        b"x\0.tgz",
        b"..",
        b".x.tgz",
        b"x.tgz\x07",
    ];
    for name in names {
        let body = multipart_body(boundary, "diag", name, "", &content);
        let response = server
            .request(Method::POST, "/upload")
            .header(CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, code) = error_code(response).await;
        assert_eq!(status, 400, "{:?}", String::from_utf8_lossy(name));
        assert!(code == "bad_name" || code == "bad_multipart", "{:?}: {code}", String::from_utf8_lossy(name));
    }
    assert_nothing_stored(&server).await;
}

#[tokio::test]
async fn traversal_in_downloads_is_refused() {
    let server = TestServer::start().await;
    std::fs::write(server.root_dir().join("secret.tgz"), b"outside the data directory").unwrap();
    for path in [
        "/download/..%2Fsecret.tgz",
        "/download/%2e%2e%2fsecret.tgz",
        "/download/%2e%2e%5csecret.tgz",
        "/download/../secret.tgz",
        "/download/%2F",
        "/download/secret.tgz%00",
        "/files/..%2Fsecret.tgz",
    ] {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
            basic(USER, PASSWORD)
        );
        let (status, body) = raw_request(server.addr, request.into_bytes()).await;
        assert!(status == 400 || status == 404, "GET {path} answered {status}");
        assert!(!body.contains("outside the data directory"), "GET {path}");
    }
    std::fs::remove_file(server.root_dir().join("secret.tgz")).unwrap();
}

#[tokio::test]
async fn content_must_be_a_gzip_compressed_tar() {
    let server = TestServer::start().await;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // The original service's own test file.
        ("test.tgz", b"This is a test".to_vec(), "not_gzip"),
        ("zip.tgz", b"PK\x03\x04 a zip archive".to_vec(), "not_gzip"),
        ("empty.tgz", Vec::new(), "not_gzip"),
        ("text.tgz", gzip(b"plain text compressed, but no tar inside"), "not_tar"),
        ("big-text.tgz", gzip(&noise(100_000, 1)), "not_tar"),
        ("notes.txt", tgz_of_size(100, 1), "not_tgz_name"),
        ("archive.zip", tgz_of_size(100, 1), "not_tgz_name"),
    ];
    for (name, content, expected) in cases {
        let (status, code) = error_code(server.put(name, content.clone()).await).await;
        assert_eq!((status, code.as_str()), (400, expected), "PUT {name}");
        let (status, code) = error_code(server.post(name, content).await).await;
        assert_eq!((status, code.as_str()), (400, expected), "POST {name}");
    }
    // Extensions are compared without regard to case.
    let valid = tgz_of_size(50_000, 2);
    assert_eq!(server.put("renamed.TAR.GZ", valid).await.status(), 201);
    assert_eq!(server.listed().await, ["renamed.TAR.GZ"]);
}

#[tokio::test]
async fn files_over_the_limit_are_refused() {
    let server = TestServer::start_with(|config| config.max_bytes = 64 * 1024).await;
    let big = tgz_of_size(100_000, 1);
    assert!(big.len() > 64 * 1024);

    // With a Content-Length: refused before the body is read.
    let (status, code) = error_code(server.put("big.tgz", big.clone()).await).await;
    assert_eq!((status, code.as_str()), (413, "too_large"));
    // Chunked: refused once the limit is crossed.
    let stream = tokio_util::io::ReaderStream::with_capacity(std::io::Cursor::new(big.clone()), 8192);
    let response = server
        .request(Method::PUT, "/files/big-chunked.tgz")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(response).await, (413, "too_large".to_owned()));
    let (status, code) = error_code(server.post("big-form.tgz", big).await).await;
    assert_eq!((status, code.as_str()), (413, "too_large"));
    assert_nothing_stored(&server).await;

    let fits = tgz_of_size(60_000, 2);
    assert!(fits.len() <= 64 * 1024);
    assert_eq!(server.put("fits.tgz", fits).await.status(), 201);
}

#[tokio::test]
async fn checksum_mismatches_are_refused_and_nothing_is_kept() {
    let server = TestServer::start().await;
    let content = tgz_of_size(200_000, 5);
    let other = tgz_of_size(200_000, 6);
    let sha_hex = sha256_hex(&content);
    let sha_b64 = STANDARD.encode(sha2::Sha256::digest(&content));
    let md5_b64 = STANDARD.encode(Md5::digest(&content));
    let wrong_md5 = STANDARD.encode(Md5::digest(&other));

    let put = |name: &str, header: &'static str, value: String| {
        server.request(Method::PUT, &format!("/files/{name}")).header(header, value).body(content.clone()).send()
    };
    let (status, code) = error_code(put("a.tgz", "x-checksum-sha256", sha256_hex(&other)).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "checksum_mismatch"));
    let (status, code) = error_code(put("a.tgz", "content-md5", wrong_md5.clone()).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "checksum_mismatch"));
    let (status, code) = error_code(put("a.tgz", "x-checksum-sha256", "xyz".into()).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "bad_checksum_header"));

    // Multipart: on the request (one file) or on the part.
    let boundary = "checksum-boundary";
    let form = |extra_headers: &str| multipart_body(boundary, "diag", b"a.tgz", extra_headers, &content);
    let post = |body: Vec<u8>, header: Option<(&'static str, String)>| {
        let mut request = server
            .request(Method::POST, "/upload")
            .header(CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(body);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        request.send()
    };
    let response = post(form(""), Some(("x-checksum-sha256", sha256_hex(&other)))).await.unwrap();
    assert_eq!(error_code(response).await, (400, "checksum_mismatch".to_owned()));
    let response = post(form(&format!("Content-MD5: {wrong_md5}\r\n")), None).await.unwrap();
    assert_eq!(error_code(response).await, (400, "checksum_mismatch".to_owned()));
    assert_nothing_stored(&server).await;

    // The right digests, in every accepted form.
    assert_eq!(put("hex.tgz", "x-checksum-sha256", sha_hex.clone()).await.unwrap().status(), 201);
    assert_eq!(put("b64.tgz", "x-checksum-sha256", sha_b64).await.unwrap().status(), 201);
    assert_eq!(put("md5.tgz", "content-md5", md5_b64.clone()).await.unwrap().status(), 201);
    let response = post(form(&format!("x-checksum-sha256: {sha_hex}\r\n")), None).await.unwrap();
    assert_eq!(response.status(), 200);
    let response = post(form(""), Some(("content-md5", md5_b64))).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.listed().await, ["a-1.tgz", "a.tgz", "b64.tgz", "hex.tgz", "md5.tgz"]);
}

#[tokio::test]
async fn one_bad_file_in_a_form_stores_none_of_them() {
    let server = TestServer::start().await;
    let form = reqwest::multipart::Form::new()
        .part("diag", reqwest::multipart::Part::bytes(tgz_of_size(1000, 1)).file_name("good.tgz"))
        .part("diag", reqwest::multipart::Part::bytes(b"junk".to_vec()).file_name("bad.tgz"));
    let response = server.request(Method::POST, "/upload").multipart(form).send().await.unwrap();
    assert_eq!(error_code(response).await, (400, "not_gzip".to_owned()));
    assert_nothing_stored(&server).await;
}
