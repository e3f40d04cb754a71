//! The upload-service image that `scripts/image` packs (`rprov-image`): reproducible, configured
//! as upload-service/Dockerfile says, and it really runs.
//!
//! The run test needs root (it unpacks the image with its owners and runs the entrypoint in a
//! chroot as the image's user); elsewhere it fails unless `RPROV_SKIP_ROOT_TESTS=1`. It packs the
//! image with `scripts/image --profile dev` unless `RPROV_IMAGE_ARCHIVE` names an archive.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;
use rprov_oci::Image;

const PACKER: &str = env!("CARGO_BIN_EXE_rprov-image");

/// Runs `rprov-image` and returns the `<archive> <digest>` it prints.
fn pack(args: &[&str]) -> (PathBuf, String) {
    let output = Command::new(PACKER).args(args).stderr(Stdio::piped()).output().unwrap();
    assert!(output.status.success(), "rprov-image {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    parse_packed(&output.stdout)
}

fn parse_packed(stdout: &[u8]) -> (PathBuf, String) {
    let stdout = String::from_utf8_lossy(stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let (path, digest) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no `<archive> <digest>` line: {stdout:?}"));
    assert!(digest.starts_with("sha256:"), "{line}");
    (PathBuf::from(path), digest.to_owned())
}

/// A stand-in for the static binary: an ELF header with no program headers (so no interpreter),
/// then some bytes. Enough for packing; the run test uses the real one.
fn fake_static_binary(path: &Path) {
    let mut bytes = vec![0u8; 64];
    bytes[..4].copy_from_slice(b"\x7fELF");
    bytes[4] = 2; // 64-bit
    bytes[5] = 1; // little-endian
    bytes[6] = 1;
    bytes[16] = 2; // ET_EXEC
    bytes[18] = 62; // x86-64
    bytes[54] = 56; // program header entry size, no entries
    bytes.extend((0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8));
    fs::write(path, bytes).unwrap();
}

#[test]
fn packing_is_reproducible_and_follows_the_binary() {
    let temp = tempfile::tempdir().unwrap();
    let binary = temp.path().join("upload-service");
    fake_static_binary(&binary);
    let out = |name: &str| temp.path().join(name).join("upload-service.tar");
    let (first, first_digest) = pack(&["--binary", binary.to_str().unwrap(), "--out", out("one").to_str().unwrap()]);
    let (second, second_digest) = pack(&["--binary", binary.to_str().unwrap(), "--out", out("two").to_str().unwrap()]);
    assert_eq!((first.as_path(), second.as_path()), (out("one").as_path(), out("two").as_path()));
    assert_eq!(first_digest, second_digest);
    assert_eq!(fs::read(&first).unwrap(), fs::read(&second).unwrap(), "same archive bytes");
    assert_eq!(Image::open(&first).unwrap().digest, first_digest);

    // Packing again: up to date, nothing written.
    let before = fs::metadata(&first).unwrap().modified().unwrap();
    let output = Command::new(PACKER)
        .args(["--binary", binary.to_str().unwrap(), "--out", first.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("up to date"));
    assert_eq!(parse_packed(&output.stdout).1, first_digest);
    assert_eq!(fs::metadata(&first).unwrap().modified().unwrap(), before);

    // One byte of the binary changed: another image, packed again in the same place.
    let mut bytes = fs::read(&binary).unwrap();
    bytes[100_000] ^= 0x40;
    fs::write(&binary, bytes).unwrap();
    let (_, changed) = pack(&["--binary", binary.to_str().unwrap(), "--out", first.to_str().unwrap()]);
    assert_ne!(changed, first_digest);
    assert_eq!(Image::open(&first).unwrap().digest, changed);
}

#[test]
fn a_dynamically_linked_binary_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    // This test's own executable: built normally, it names the dynamic loader.
    let this = std::env::current_exe().unwrap();
    let output = Command::new(PACKER)
        .args(["--binary", this.to_str().unwrap(), "--out", temp.path().join("x.tar").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("dynamically linked") && stderr.contains("+crt-static"), "{stderr}");
    let output =
        Command::new(PACKER).args(["--binary", "/etc/hostname", "--out", "/nonexistent/x.tar"]).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("not"), "not an ELF executable");
}

#[test]
fn the_image_is_configured_as_the_dockerfile_says() {
    let temp = tempfile::tempdir().unwrap();
    let binary = temp.path().join("upload-service");
    fake_static_binary(&binary);
    let (archive, _) =
        pack(&["--binary", binary.to_str().unwrap(), "--out", temp.path().join("i.tar").to_str().unwrap()]);
    let image = Image::open(&archive).unwrap();
    let config = image.config_json().unwrap();
    let expected = serde_json::json!({
        "User": "65532:65532",
        "ExposedPorts": {"8000/tcp": {}},
        "Env": ["UPLOAD_LISTEN=0.0.0.0:8000", "UPLOAD_DATA_DIR=/data", "UPLOAD_LOG_FORMAT=json"],
        "Entrypoint": ["/usr/local/bin/upload-service"],
        "Healthcheck": {
            "Test": ["CMD", "/usr/local/bin/upload-service", "--healthcheck"],
            "Interval": 15_000_000_000u64,
            "Timeout": 5_000_000_000u64,
            "StartPeriod": 10_000_000_000u64,
            "Retries": 3
        },
        "Volumes": {"/data": {}},
        "WorkingDir": "/",
        "Labels": {"org.opencontainers.image.title": "upload-service"}
    });
    assert_eq!(config["config"], expected);
    assert_eq!((config["os"].as_str(), config["architecture"].as_str()), (Some("linux"), Some("amd64")));

    let root = tempfile::tempdir().unwrap();
    let entries = unpack(&image, root.path(), false).unwrap();
    let find = |path: &str| entries.iter().find(|e| e.path == path).unwrap_or_else(|| panic!("{path} in {entries:?}"));
    assert_eq!((find("usr/local/bin/upload-service").mode, find("usr/local/bin/upload-service").uid), (0o755, 0));
    assert_eq!((find("data").mode, find("data").uid, find("data").gid), (0o755, 65532, 65532));
    assert_eq!(find("tmp").mode, 0o1777);
    let passwd = fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    assert!(fs::read_to_string(root.path().join("etc/group")).unwrap().contains("nonroot:x:65532:"));
    assert_eq!(fs::read(root.path().join("usr/local/bin/upload-service")).unwrap(), fs::read(&binary).unwrap());
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug when an assertion fails
struct Unpacked {
    path: String,
    mode: u32,
    uid: u64,
    gid: u64,
}

/// Unpacks the layers in order into `root` (whiteouts handled: `.wh.NAME` removes NAME, an opaque
/// marker empties its directory); with `owners`, files get their uid and gid (needs root).
fn unpack(image: &Image, root: &Path, owners: bool) -> io::Result<Vec<Unpacked>> {
    let mut listed = Vec::new();
    for layer in &image.layers {
        // Read whole so that the digest is checked before anything is unpacked.
        let mut compressed = Vec::new();
        image.open_blob(layer).map_err(io::Error::other)?.read_to_end(&mut compressed)?;
        let reader: Box<dyn Read> = if layer.media_type.ends_with("+gzip") {
            Box::new(GzDecoder::new(compressed.as_slice()))
        } else {
            Box::new(compressed.as_slice())
        };
        let mut archive = tar::Archive::new(reader);
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(owners);
        archive.set_unpack_xattrs(false);
        archive.set_overwrite(true);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.into_owned();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let parent = root.join(path.parent().unwrap_or(Path::new("")));
            if name == ".wh..wh..opq" {
                for child in fs::read_dir(&parent)? {
                    let child = child?.path();
                    if child.is_dir() { fs::remove_dir_all(child)? } else { fs::remove_file(child)? }
                }
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                let target = parent.join(hidden);
                if target.is_dir() {
                    fs::remove_dir_all(target)?
                } else {
                    fs::remove_file(target)?
                }
                continue;
            }
            let header = entry.header();
            listed.push(Unpacked {
                path: path.to_string_lossy().trim_end_matches('/').to_owned(),
                mode: header.mode()?,
                uid: header.uid()?,
                gid: header.gid()?,
            });
            entry.unpack_in(root)?;
        }
    }
    Ok(listed)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The archive `scripts/image --profile dev` writes (or `RPROV_IMAGE_ARCHIVE`).
///
/// Under nextest no cargo lock is held while tests run. Plain `cargo test` may hold the lock on
/// the target directory (older cargo did), and the cargo inside scripts/image would then wait for
/// it forever: that wait ends the test with instructions instead.
fn dev_image_archive() -> PathBuf {
    if let Some(path) = std::env::var_os("RPROV_IMAGE_ARCHIVE") {
        return PathBuf::from(path);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut child = Command::new(workspace.join("scripts/image"))
        .args(["--profile", "dev"])
        .current_dir(workspace)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running scripts/image");
    let (blocked, blocked_on) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in io::BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if line.contains("waiting for file lock on build directory") {
                let _ = blocked.send(());
            }
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let printed = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::env::var_os("NEXTEST").is_none() && blocked_on.try_recv().is_ok() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "scripts/image waits for the target directory, which this `cargo test` holds: run \
                 `scripts/image --profile dev` first and set RPROV_IMAGE_ARCHIVE to the archive it prints, \
                 or run the tests with cargo nextest"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "scripts/image --profile dev failed ({status})");
    parse_packed(&printed.join().unwrap()).0
}

/// A process started in the unpacked image, killed when dropped.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// What the image config says to run and as whom, and the environment to run it with.
struct Container {
    root: PathBuf,
    env: Vec<(String, String)>,
    uid: u32,
    gid: u32,
    workdir: String,
}

impl Container {
    /// `argv` in the image root as the image's user: chroot, chdir, drop groups, setgid, setuid;
    /// then exec, which resolves `argv[0]` inside the image (a wrong entrypoint, or a binary that
    /// needs a loader or libraries the image lacks, fails here).
    fn spawn(&self, argv: &[String], log: &Path) -> io::Result<Child> {
        let root = std::ffi::CString::new(self.root.as_os_str().as_bytes())?;
        let workdir = std::ffi::CString::new(self.workdir.as_bytes())?;
        let (uid, gid) = (self.uid, self.gid);
        let log = File::create(log)?;
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: only async-signal-safe calls between fork and exec, on memory prepared before.
        unsafe {
            command.pre_exec(move || {
                let check = |result: libc::c_int| if result == 0 { Ok(()) } else { Err(io::Error::last_os_error()) };
                check(libc::chroot(root.as_ptr()))?;
                check(libc::chdir(workdir.as_ptr()))?;
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setgid(gid))?;
                check(libc::setuid(uid))
            });
        }
        command.spawn()
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One HTTP/1.0 request (no chunked responses to decode); the status and body.
fn http(address: SocketAddr, method: &str, path: &str, auth: Option<&str>, body: &[u8]) -> io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n", body.len());
    if let Some(credentials) = auth {
        request.push_str(&format!("Authorization: Basic {}\r\n", base64(credentials.as_bytes())));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| io::Error::other(head.clone()))?;
    Ok((status, response[split + 4..].to_vec()))
}

/// A small valid `.tgz`: a gzip-compressed tar of one file.
fn diagnostics_tgz() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_mode(0o644);
    header.set_size(12);
    tar.append_data(&mut header, "diag/info.txt", &b"all is well\n"[..]).unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&tar.into_inner().unwrap()).unwrap();
    gzip.finish().unwrap()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
}

#[test]
fn the_image_runs() {
    if !is_root() {
        if std::env::var("RPROV_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
            eprintln!("skipped: not root and RPROV_SKIP_ROOT_TESTS=1");
            return;
        }
        panic!(
            "this test runs the image in a chroot and needs root (it unpacks files owned by uid 65532 and \
             switches to that user); run it as root, or set RPROV_SKIP_ROOT_TESTS=1 to skip it"
        );
    }
    let archive = dev_image_archive();
    let image = Image::open(&archive).unwrap();
    let temp = tempfile::Builder::new().prefix("image-run-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = temp.path().join("rootfs");
    fs::create_dir(&root).unwrap();
    unpack(&image, &root, true).unwrap();

    let config = image.config_json().unwrap();
    let config = &config["config"];
    let user = config["User"].as_str().unwrap_or("0:0");
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    let (uid, gid): (u32, u32) = (uid.parse().expect("numeric user"), gid.parse().expect("numeric group"));
    assert_ne!(uid, 0, "the image runs as a user, not root");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut env: Vec<(String, String)> = strings(&config["Env"])
        .iter()
        .filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .filter(|(k, _)| k != "UPLOAD_LISTEN")
        .collect();
    env.push(("UPLOAD_LISTEN".to_owned(), address.to_string()));
    env.push(("UPLOAD_PASSWORD".to_owned(), "image-test-secret".to_owned()));
    let container = Container {
        root: root.clone(),
        env,
        uid,
        gid,
        workdir: config["WorkingDir"].as_str().filter(|d| !d.is_empty()).unwrap_or("/").to_owned(),
    };
    let entrypoint = strings(&config["Entrypoint"]);
    assert!(!entrypoint.is_empty(), "the image has an entrypoint");
    let log = temp.path().join("service.log");
    let child = container.spawn(&entrypoint, &log).unwrap_or_else(|error| {
        let present = root.join(entrypoint[0].trim_start_matches('/')).is_file();
        let hint = if present { " (the file is there: its ELF interpreter or a library is not)" } else { "" };
        panic!("starting the entrypoint {entrypoint:?} in the image: {error}{hint}");
    });
    let mut service = Running { child, log };

    // Up: GET /health answers 200.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = service.child.try_wait() {
            panic!("the service exited ({status}):\n{}", service.log());
        }
        if let Ok((200, _)) = http(address, "GET", "/health", None, b"") {
            break;
        }
        assert!(Instant::now() < deadline, "no healthy service within 30 s:\n{}", service.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = fs::read_to_string(format!("/proc/{}/status", service.child.id())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid_line.split_whitespace().skip(1).all(|id| id == uid.to_string()), "runs as {uid}: {uid_line}");
    assert!(service.log().contains("\"level\":\"INFO\""), "JSON logs:\n{}", service.log());

    // An authenticated upload into /data (owned by the image user), then listed.
    let credentials = "admin:image-test-secret";
    let tgz = diagnostics_tgz();
    let (status, body) = http(address, "GET", "/files", None, b"").unwrap();
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    let (status, body) = http(address, "PUT", "/files/diag.tgz", Some(credentials), &tgz).unwrap();
    assert_eq!(status, 201, "upload: {}\n{}", String::from_utf8_lossy(&body), service.log());
    let (status, body) = http(address, "GET", "/files", Some(credentials), b"").unwrap();
    assert_eq!(status, 200);
    let files: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let listed = files.as_array().unwrap().iter().find(|f| f["name"] == "diag.tgz");
    assert_eq!(listed.map(|f| f["size"].as_u64()), Some(Some(tgz.len() as u64)), "{files}");
    assert!(root.join("data/diag.tgz").is_file(), "stored in the image's /data");

    // The image's health check, run the same way: healthy now, unhealthy once the service is gone.
    let test = strings(&config["Healthcheck"]["Test"]);
    assert_eq!(test.first().map(String::as_str), Some("CMD"), "{test:?}");
    let check = |name: &str| {
        let mut child = container.spawn(&test[1..], &temp.path().join(name)).unwrap();
        wait_with_timeout(&mut child, Duration::from_secs(10)).expect("the health check finishes")
    };
    let healthy = check("healthcheck.log");
    assert!(healthy.success(), "healthcheck: {healthy}");
    drop(service);
    let unhealthy = check("healthcheck-down.log");
    assert_eq!(unhealthy.code(), Some(1), "healthcheck with the service stopped");
}
