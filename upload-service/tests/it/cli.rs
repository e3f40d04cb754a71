//! The `upload-service` binary: configuration from the environment, refusal to start without a
//! password or with an unsalted digest, `--hash-password`, `--healthcheck`, and shutdown on
//! SIGTERM.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const BINARY: &str = env!("CARGO_BIN_EXE_upload-service");

/// The binary with an empty environment but for `vars`.
fn service(vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    command.env_clear().envs(vars.iter().copied());
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn without_a_password_it_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output =
        service(&[("UPLOAD_DATA_DIR", data.to_str().unwrap()), ("UPLOAD_LISTEN", "127.0.0.1:0")]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no password configured"), "{stderr}");
    assert!(stderr.contains("UPLOAD_PASSWORD"), "{stderr}");
    assert!(!data.exists(), "nothing is created before the configuration is valid");

    let missing = dir.path().join("missing-password-file");
    let output = service(&[("UPLOAD_PASSWORD_FILE", missing.to_str().unwrap())]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read password file"));
}

#[test]
fn runs_from_the_environment_answers_its_healthcheck_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = service(&[
        ("UPLOAD_LISTEN", &listen),
        ("UPLOAD_DATA_DIR", data.to_str().unwrap()),
        ("UPLOAD_USER", USER),
        ("UPLOAD_PASSWORD_FILE", password_file.to_str().unwrap()),
        ("UPLOAD_MAX_BYTES", "1M"),
    ])
    .args(["--log-format", "json"])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();

    let healthcheck = || service(&[("UPLOAD_LISTEN", &listen)]).arg("--healthcheck").status().unwrap().success();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !healthcheck() {
        assert!(Instant::now() < deadline, "the service did not come up");
        assert!(child.try_wait().unwrap().is_none(), "the service exited");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(data.is_dir());

    // The password came from the file (its final newline is not part of it), the limit from
    // UPLOAD_MAX_BYTES.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = |path: &str| format!("http://{listen}{path}");
        let response = client.get(url("/")).basic_auth(USER, Some(PASSWORD)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let response = client
            .put(url("/files/too-big.tgz"))
            .basic_auth(USER, Some(PASSWORD))
            .body(tgz_of_size(1_100_000, 1))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
    });

    // SAFETY: signals a child process this test started and has not yet reaped.
    let signalled = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(signalled, 0);
    let status = wait_for_exit(&mut child, Duration::from_secs(10)).expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    // JSON logs, one object per line, with the request id of each request.
    let finished = logs.lines().filter(|line| line.contains("finished processing request")).collect::<Vec<_>>();
    assert!(!finished.is_empty(), "{logs}");
    for line in &finished {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(entry["span"]["id"].as_str().is_some_and(|id| id.len() == 36), "{line}");
    }
    assert!(logs.contains("shutting down"), "{logs}");

    // Nothing listens any more: the healthcheck fails.
    assert!(!healthcheck());
}

#[test]
fn an_unsalted_sha256_password_is_refused_with_how_to_make_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let digest = format!("sha256:{}", sha256_hex(PASSWORD.as_bytes()));
    let mut child = service(&[
        ("UPLOAD_LISTEN", "127.0.0.1:0"),
        ("UPLOAD_DATA_DIR", data.to_str().unwrap()),
        ("UPLOAD_PASSWORD", &digest),
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let Some(status) = wait_for_exit(&mut child, Duration::from_secs(20)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the service started with an unsalted digest as its password");
    };
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("unsalted 'sha256:' digest"), "{stderr}");
    assert!(stderr.contains("upload-service --hash-password"), "{stderr}");
    assert!(stderr.contains("argon2id"), "{stderr}");
    assert!(!data.exists());
}

/// `--hash-password` reads a password on stdin and prints a PHC string.
fn hash_password(password: &str) -> String {
    let mut child = service(&[]).arg("--hash-password").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim_end().to_owned()
}

#[test]
fn hash_password_prints_an_argon2id_hash_that_the_service_accepts_from_the_environment() {
    let hash = hash_password(PASSWORD);
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    let parsed = upload_service::password::parse(&hash).unwrap();
    assert!(upload_service::password::verify(PASSWORD.as_bytes(), &parsed));
    let reader_hash = hash_password(READER_PASSWORD);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let reader_file = dir.path().join("reader-password");
    std::fs::write(&reader_file, format!("{reader_hash}\n")).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = service(&[
        ("UPLOAD_LISTEN", &listen),
        ("UPLOAD_DATA_DIR", data.to_str().unwrap()),
        ("UPLOAD_PASSWORD", &hash),
        ("UPLOAD_READONLY_USER", READER),
        ("UPLOAD_READONLY_PASSWORD_FILE", reader_file.to_str().unwrap()),
    ])
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let statuses = runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("http://{listen}/files");
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.get(format!("http://{listen}/health")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the service did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut statuses = Vec::new();
        for (user, password) in
            [(USER, PASSWORD), (USER, "wrong"), (READER, READER_PASSWORD), (USER, hash.as_str()), ("nobody", PASSWORD)]
        {
            let response = client.get(&url).basic_auth(user, Some(password)).send().await.unwrap();
            statuses.push(response.status().as_u16());
        }
        statuses
    });
    let _ = child.kill();
    let _ = child.wait();
    // The hash itself is not a password.
    assert_eq!(statuses, [200, 401, 200, 401, 401]);
}
