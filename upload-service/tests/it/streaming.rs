//! Interrupted and concurrent uploads, and leftovers from a crash.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use reqwest::Method;

use crate::common::*;

fn is_temp(name: &str) -> bool {
    name.starts_with(".upload-") && name.ends_with(".tmp")
}

/// Sends `head` and the first `sent` bytes of `body`, waits until the server has started writing
/// the upload to a temporary file, then drops the connection.
async fn disconnect_mid_upload(server: &TestServer, head: String, body: &[u8], sent: usize) {
    let addr = server.addr;
    let mut stream = tokio::task::spawn_blocking({
        let partial = [head.as_bytes(), &body[..sent]].concat();
        move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(&partial).unwrap();
            stream.flush().unwrap();
            stream
        }
    })
    .await
    .unwrap();
    // Proof the upload was under way: its temporary file exists.
    server.wait_until(|| server.files_on_disk().iter().any(|name| is_temp(name))).await;
    stream.flush().unwrap();
    drop(stream);
    server.wait_until(|| server.files_on_disk().is_empty()).await;
}

#[tokio::test]
async fn a_dropped_put_leaves_no_file() {
    let server = TestServer::start().await;
    let content = tgz_of_size(4 << 20, 1);
    let head = format!(
        "PUT /files/partial.tgz HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        basic(USER, PASSWORD),
        content.len()
    );
    disconnect_mid_upload(&server, head, &content, 2 << 20).await;
    assert!(server.listed().await.is_empty());
    // The service is fine afterwards.
    assert_eq!(server.put("partial.tgz", content.clone()).await.status(), 201);
    assert_eq!(server.download("partial.tgz").await, content);
}

#[tokio::test]
async fn a_dropped_multipart_upload_leaves_no_file() {
    let server = TestServer::start().await;
    let content = tgz_of_size(4 << 20, 2);
    let boundary = "drop-boundary";
    let body = multipart_body(boundary, "diag", b"partial.tgz", "", &content);
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        basic(USER, PASSWORD),
        body.len()
    );
    disconnect_mid_upload(&server, head, &body, 2 << 20).await;
    assert!(server.listed().await.is_empty());
}

#[tokio::test]
async fn a_client_that_stops_sending_is_timed_out() {
    let server = TestServer::start_with(|config| config.body_idle_timeout = Duration::from_millis(500)).await;
    let content = tgz_of_size(1 << 20, 3);
    let head = format!(
        "PUT /files/stalled.tgz HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        basic(USER, PASSWORD),
        content.len()
    );
    let addr = server.addr;
    // Keep the connection open but silent.
    let stream = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&content[..100_000]).unwrap();
        stream
    })
    .await
    .unwrap();
    server.wait_until(|| server.files_on_disk().iter().any(|name| is_temp(name))).await;
    server.wait_until(|| server.files_on_disk().is_empty()).await;
    drop(stream);
    let metrics = server.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("upload_errors_total{reason=\"idle_timeout\"} 1"), "{metrics}");
}

#[tokio::test]
async fn uploads_beyond_the_concurrency_limit_are_turned_away() {
    let server = TestServer::start_with(|config| config.max_concurrent_uploads = 1).await;
    let content = tgz_of_size(1 << 20, 4);
    let head = format!(
        "PUT /files/slow.tgz HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        basic(USER, PASSWORD),
        content.len()
    );
    let addr = server.addr;
    let partial = [head.as_bytes(), &content[..100_000]].concat();
    let slow = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(&partial).unwrap();
        stream
    })
    .await
    .unwrap();
    server.wait_until(|| server.files_on_disk().iter().any(|name| is_temp(name))).await;

    let response = server.put("other.tgz", tgz_of_size(100, 5)).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(server.post("other.tgz", tgz_of_size(100, 5)).await.status(), 503);

    drop(slow);
    server.wait_until(|| server.files_on_disk().is_empty()).await;
    // The slot is released when the interrupted request's handler has returned.
    let mut status = 503;
    for _ in 0..100 {
        status = server.put("other.tgz", tgz_of_size(100, 5)).await.status().as_u16();
        if status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_uploads_all_land_intact() {
    let server = TestServer::start().await;
    let files: Vec<(String, Vec<u8>)> =
        (0..8).map(|i| (format!("concurrent-{i}.tgz"), tgz_of_size(1_500_000 + i * 10_000, i as u64))).collect();
    let uploads = files.iter().enumerate().map(|(i, (name, content))| {
        let request = if i % 2 == 0 {
            server.request(Method::PUT, &format!("/files/{name}")).body(content.clone())
        } else {
            let part = reqwest::multipart::Part::bytes(content.clone()).file_name(name.clone());
            server.request(Method::POST, "/upload").multipart(reqwest::multipart::Form::new().part("diag", part))
        };
        tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
    });
    let statuses: Vec<u16> = futures_join(uploads.collect()).await;
    for (i, status) in statuses.iter().enumerate() {
        assert_eq!(*status, if i % 2 == 0 { 201 } else { 200 }, "upload {i}");
    }

    let listed: Vec<serde_json::Value> = server.get("/files").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.len(), 8);
    for (name, content) in &files {
        let entry = listed.iter().find(|e| e["name"] == name.as_str()).unwrap();
        assert_eq!(entry["size"], content.len() as u64, "{name}");
        assert_eq!(entry["sha256"], sha256_hex(content), "{name}");
        assert_eq!(&server.download(name).await, content, "{name}");
    }
    assert!(!server.files_on_disk().iter().any(|name| is_temp(name)));
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<u16>>) -> Vec<u16> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn leftovers_of_a_crash_are_removed_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    for name in [".upload-0b5e4c1a.tmp", ".ready-1234", ".lost.tgz.meta.json"] {
        let file = std::fs::File::create(data.join(name)).unwrap();
        file.set_modified(two_hours_ago).unwrap();
    }
    // Fresh: may belong to an upload in progress on another instance sharing the directory.
    std::fs::File::create(data.join(".upload-inflight.tmp")).unwrap();
    let content = tgz_of_size(100, 1);
    std::fs::write(data.join("kept.tgz"), &content).unwrap();

    let server = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(server.files_on_disk(), [".upload-inflight.tmp", "kept.tgz"]);
    // A file placed there by other means is listed (without a recorded digest) and served.
    let listed: Vec<serde_json::Value> = server.get("/files").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "kept.tgz");
    assert!(listed[0]["sha256"].is_null());
    assert_eq!(server.download("kept.tgz").await, content);
}
