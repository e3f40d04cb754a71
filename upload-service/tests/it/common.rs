//! The test context: a running service, its data directory, a client, and content generators.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::{Method, RequestBuilder};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use upload_service::{Account, Config, Role};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "correct horse battery staple";
pub const READER: &str = "support";
pub const READER_PASSWORD: &str = "read-only pass";

pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts with the default test configuration changed by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temporary directory");
        TestServer::start_in(dir, tweak).await
    }

    /// Starts on an existing directory (its `data` subdirectory is the data directory).
    pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config::new(
            dir.path().join("data"),
            vec![
                Account::with_hash(USER, cheap_hash(PASSWORD), Role::Uploader),
                Account::with_hash(READER, cheap_hash(READER_PASSWORD), Role::ReadOnly),
            ],
        );
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(upload_service::serve(listener, config, async {
            let _ = stopped.await;
        }));
        let server = TestServer {
            addr,
            client: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
            dir,
            shutdown: Some(shutdown),
            task: Some(task),
        };
        // Connections wait in the listener's backlog until startup (directory preparation) is
        // done: the first answer means the service is ready.
        let health = server.client.get(server.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn root_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A request as the uploader.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).basic_auth(USER, Some(PASSWORD))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub async fn put(&self, name: &str, content: Vec<u8>) -> reqwest::Response {
        self.request(Method::PUT, &format!("/files/{name}")).body(content).send().await.expect("PUT is answered")
    }

    /// `POST /upload` with one file in the field `diag`, as the original form sends it.
    pub async fn post(&self, name: &str, content: Vec<u8>) -> reqwest::Response {
        let part =
            reqwest::multipart::Part::bytes(content).file_name(name.to_owned()).mime_str("application/gzip").unwrap();
        let form = reqwest::multipart::Form::new().part("diag", part);
        self.request(Method::POST, "/upload").multipart(form).send().await.expect("POST is answered")
    }

    pub async fn download(&self, name: &str) -> Vec<u8> {
        let response = self.get(&format!("/download/{name}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "download {name}");
        response.bytes().await.unwrap().to_vec()
    }

    /// The names `GET /files` lists.
    pub async fn listed(&self) -> Vec<String> {
        let response = self.get("/files").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let entries: Vec<serde_json::Value> = response.json().await.unwrap();
        let mut names: Vec<String> = entries.iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
        names.sort();
        names
    }

    /// Every entry of the data directory, hidden ones included, sorted.
    pub fn files_on_disk(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.data_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// Polls `condition` for up to 10 s.
    pub async fn wait_until(&self, mut condition: impl FnMut() -> bool) {
        for _ in 0..200 {
            if condition() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("condition not reached within 10 s; data directory: {:?}", self.dir.path());
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// An argon2id hash with the smallest parameters: the tests run unoptimised, where the
/// recommended ones take about a second per verification. The CLI tests use those.
pub fn cheap_hash(password: &str) -> PasswordHash {
    upload_service::password::hash_with(password, argon2::Params::new(64, 1, 1, None).unwrap()).unwrap()
}

pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// Deterministic, incompressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A .tgz holding `files`.
pub fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let encoder = GzEncoder::new(Vec::new(), Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append_data(&mut header, name, *content).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// A .tgz of about `len` bytes (its content does not compress).
pub fn tgz_of_size(len: usize, seed: u64) -> Vec<u8> {
    tgz(&[("diag/data.bin", &noise(len, seed))])
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `request` as is over a new connection and returns the status and body of the answer.
/// For what a well-behaved client would never send (paths with `..`, bytes a URL parser rewrites).
pub async fn raw_request(addr: SocketAddr, request: Vec<u8>) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream.write_all(&request).unwrap();
        let mut response = Vec::new();
        // The server may close first; what was read until then is the answer.
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        let status =
            text.get(9..12).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
        let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
        (status, body)
    })
    .await
    .unwrap()
}

/// A request with the uploader's credentials, `Connection: close`, and `body`.
pub fn raw_put(path: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "PUT {path} HTTP/1.1\r\nHost: test\r\nAuthorization: {}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        basic(USER, PASSWORD),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A multipart body with one file part; `filename` is written verbatim.
pub fn multipart_body(boundary: &str, field: &str, filename: &[u8], extra_headers: &str, content: &[u8]) -> Vec<u8> {
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"").into_bytes();
    body.extend_from_slice(filename);
    body.extend_from_slice(format!("\"\r\nContent-Type: application/gzip\r\n{extra_headers}\r\n").as_bytes());
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}
