//! Packs the upload-service image without a container daemon (run it through `scripts/image`).
//!
//! Builds `upload-service` as a fully static binary against glibc (`-C target-feature=+crt-static`
//! for the explicit host target: no musl target needed, and build scripts and the normal
//! `target/debug` artifacts are untouched), then writes a reproducible OCI archive: the
//! `FROM scratch` equivalent of upload-service/Dockerfile. This archive is the canonical image,
//! the one rprov deploys.
//!
//! Usage: rprov-image [--profile release|dev] [--out ARCHIVE] [--binary PATH] [--force]
//!
//! - `--profile` (or `RPROV_IMAGE_PROFILE`): `release` by default (symbols stripped); `dev` for tests.
//! - `--out`: default `<target dir>/image/upload-service.tar` (`upload-service-dev.tar` for dev).
//! - `--binary`: pack this binary instead of building one (it must be statically linked).
//! - `--force`: write the archive even if its inputs did not change.
//!
//! Prints `<archive> <digest>` on stdout; progress and timings on stderr.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use rprov_oci::{Entry, Healthcheck, Image, ImageBuilder};

const TARGET: &str = "x86_64-unknown-linux-gnu";
const BINARY_PATH: &str = "/usr/local/bin/upload-service";
const NONROOT: u32 = 65532;

/// distroless's accounts: root, nobody and nonroot (65532), all without a shell.
const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
";
const GROUP: &str = "root:x:0:
nobody:x:65534:
nonroot:x:65532:
";

/// The image: what upload-service/Dockerfile describes, on `scratch`.
///
/// Nothing else is needed at run time: no CA certificates (the service makes no outbound TLS
/// connections; TLS ends at the load balancer), no shell (the health check is the binary itself),
/// and no name service: the listen address is an IP literal and the user numeric, so the static
/// glibc never loads NSS modules.
fn upload_service_image(binary: &Path) -> ImageBuilder {
    let base = [
        Entry::file("/etc/passwd", PASSWD, 0o644),
        Entry::file("/etc/group", GROUP, 0o644),
        Entry::dir("/home/nonroot", 0o700).owner(NONROOT, NONROOT),
        Entry::dir("/tmp", 0o1777),
        Entry::dir("/data", 0o755).owner(NONROOT, NONROOT),
    ];
    let healthcheck = Healthcheck {
        interval: Duration::from_secs(15),
        timeout: Duration::from_secs(5),
        start_period: Duration::from_secs(10),
        retries: 3,
        ..Healthcheck::cmd([BINARY_PATH, "--healthcheck"])
    };
    ImageBuilder::new()
        .layer(base)
        .layer([Entry::host_file(BINARY_PATH, binary, 0o755)])
        .env("UPLOAD_LISTEN", "0.0.0.0:8000")
        .env("UPLOAD_DATA_DIR", "/data")
        .env("UPLOAD_LOG_FORMAT", "json")
        .user(format!("{NONROOT}:{NONROOT}"))
        .workdir("/")
        .expose("8000/tcp")
        .volume("/data")
        .entrypoint([BINARY_PATH])
        .healthcheck(healthcheck)
        .label("org.opencontainers.image.title", "upload-service")
        .ref_name("latest")
}

struct Args {
    profile: String,
    out: Option<PathBuf>,
    binary: Option<PathBuf>,
    force: bool,
}

const USAGE: &str = "usage: rprov-image [--profile release|dev] [--out ARCHIVE] [--binary PATH] [--force]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        profile: std::env::var("RPROV_IMAGE_PROFILE").unwrap_or_else(|_| "release".to_owned()),
        out: None,
        binary: None,
        force: false,
    };
    let mut rest = std::env::args_os().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg.into_string().map_err(|arg| format!("unexpected argument {arg:?}\n{USAGE}"))?;
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(OsString::from(value))),
            _ => (arg.clone(), None),
        };
        let mut value =
            || inline.clone().or_else(|| rest.next()).ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--profile" => args.profile = value()?.to_string_lossy().into_owned(),
            "--out" => args.out = Some(value()?.into()),
            "--binary" => args.binary = Some(value()?.into()),
            "--force" => args.force = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            _ => return Err(format!("unexpected argument {arg:?}\n{USAGE}")),
        }
    }
    if !matches!(args.profile.as_str(), "release" | "dev") {
        return Err(format!("--profile {:?}: release or dev", args.profile));
    }
    Ok(args)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rprov-image: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = if args.binary.is_none() || args.out.is_none() { Some(workspace(&cargo)?) } else { None };
    let in_workspace = || workspace.as_ref().ok_or_else(|| "no cargo workspace".to_owned());
    let binary = match &args.binary {
        Some(binary) => binary.clone(),
        None => build_static(&cargo, in_workspace()?, &args.profile)?,
    };
    check_static(&binary)?;
    let out = match &args.out {
        Some(out) => out.clone(),
        None => {
            let name = if args.profile == "dev" { "upload-service-dev.tar" } else { "upload-service.tar" };
            in_workspace()?.target_dir.join("image").join(name)
        }
    };

    let image = upload_service_image(&binary);
    let fingerprint = image.fingerprint().map_err(|error| error.to_string())?;
    let mut stamp_name = out.as_os_str().to_owned();
    stamp_name.push(".inputs");
    let stamp = PathBuf::from(stamp_name);
    if !args.force
        && let Some(digest) = up_to_date(&out, &stamp, &fingerprint)
    {
        eprintln!("rprov-image: {} is up to date", out.display());
        println!("{} {digest}", out.display());
        return Ok(());
    }
    let started = Instant::now();
    let written = image.write_oci_archive(&out).map_err(|error| error.to_string())?;
    let size = fs::metadata(&out).map_err(|error| format!("{}: {error}", out.display()))?.len();
    fs::write(&stamp, format!("{fingerprint} {}\n", written.digest))
        .map_err(|error| format!("{}: {error}", stamp.display()))?;
    eprintln!(
        "rprov-image: packed {} ({:.1} MiB) in {:.2}s",
        out.display(),
        size as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );
    println!("{} {}", out.display(), written.digest);
    Ok(())
}

/// The archive's digest if it is there and was written from the same inputs.
fn up_to_date(out: &Path, stamp: &Path, fingerprint: &str) -> Option<String> {
    let recorded = fs::read_to_string(stamp).ok()?;
    let (recorded_fingerprint, recorded_digest) = recorded.trim().split_once(' ')?;
    let image = Image::open(out).ok()?;
    (recorded_fingerprint == fingerprint && recorded_digest == image.digest).then_some(image.digest)
}

struct Workspace {
    root: PathBuf,
    target_dir: PathBuf,
}

fn workspace(cargo: &OsString) -> Result<Workspace, String> {
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("running cargo metadata: {error}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed ({})", output.status));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|error| format!("cargo metadata: {error}"))?;
    let path = |key: &str| metadata[key].as_str().map(PathBuf::from).ok_or_else(|| format!("cargo metadata: no {key}"));
    Ok(Workspace { root: path("workspace_root")?, target_dir: path("target_directory")? })
}

/// A TOML basic string.
fn toml_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Builds upload-service statically for the host target and returns the binary's path.
fn build_static(cargo: &OsString, workspace: &Workspace, profile: &str) -> Result<PathBuf, String> {
    let utf8 = |path: &Path| path.to_str().map(str::to_owned).ok_or_else(|| format!("{}: not UTF-8", path.display()));
    // Paths of this machine out of the binary: the checkout, the cargo home (registry sources),
    // the target directory (generated code). The last matching prefix wins: the target directory
    // may be inside the checkout.
    let mut remaps = vec![(utf8(&workspace.root)?, "/rprov".to_owned())];
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    if let Some(cargo_home) = cargo_home.filter(|path| path.is_dir()) {
        remaps.push((utf8(&cargo_home)?, "/cargo".to_owned()));
    }
    remaps.push((utf8(&workspace.target_dir)?, "/target".to_owned()));
    let mut rustflags = vec![toml_string("-C"), toml_string("target-feature=+crt-static")];
    // getrandom (behind uuid) finds glibc's getrandom() with dlsym, which a static binary cannot
    // do, and then reads /dev/urandom: call getrandom() directly so that the binary needs nothing
    // from /dev.
    rustflags.extend([toml_string("--cfg"), toml_string("getrandom_backend=\"linux_getrandom\"")]);
    for (from, to) in &remaps {
        rustflags.push(toml_string(&format!("--remap-path-prefix={from}={to}")));
    }
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace.root)
        .args(["build", "--locked", "-p", "upload-service", "--bin", "upload-service", "--target", TARGET])
        .args(["--profile", profile, "--message-format", "json-render-diagnostics"])
        .args(["--config", &format!("target.{TARGET}.rustflags=[{}]", rustflags.join(", "))])
        // Flags from the environment would replace the ones above (and +crt-static with them).
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove(format!("CARGO_TARGET_{}_RUSTFLAGS", TARGET.to_uppercase().replace('-', "_")))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if profile == "release" {
        command.args(["--config", "profile.release.strip=\"symbols\""]);
    }
    eprintln!("rprov-image: building upload-service ({profile}, static, {TARGET})");
    let started = Instant::now();
    let mut child = command.spawn().map_err(|error| format!("running cargo build: {error}"))?;
    let mut executable = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|error| format!("reading cargo's output: {error}"))?;
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if message["reason"] == "compiler-artifact"
                && message["target"]["name"] == "upload-service"
                && let Some(path) = message["executable"].as_str()
            {
                executable = Some(PathBuf::from(path));
            }
        }
    }
    let status = child.wait().map_err(|error| format!("cargo build: {error}"))?;
    if !status.success() {
        return Err(format!("cargo build failed ({status})"));
    }
    eprintln!("rprov-image: built in {:.1}s", started.elapsed().as_secs_f64());
    executable.ok_or_else(|| "cargo build reported no upload-service executable".to_owned())
}

/// Refuses a binary that needs a dynamic loader: `scratch` has none (nor libc).
fn check_static(binary: &Path) -> Result<(), String> {
    let fail = |message: &str| format!("{}: {message}", binary.display());
    let mut file = fs::File::open(binary).map_err(|error| fail(&error.to_string()))?;
    let mut header = [0u8; 64];
    file.read_exact(&mut header).map_err(|_| fail("not an ELF executable (too short)"))?;
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Err(fail("not a 64-bit little-endian ELF executable"));
    }
    let u16_at = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]);
    if u16_at(18) != 62 {
        return Err(fail("not an x86-64 executable"));
    }
    let phoff = u64::from_le_bytes(header[32..40].try_into().unwrap_or_default());
    let (phentsize, phnum) = (usize::from(u16_at(54)), usize::from(u16_at(56)));
    if phentsize < 4 {
        return Err(fail("malformed ELF program header table"));
    }
    let mut table = vec![0u8; phentsize * phnum];
    file.seek(SeekFrom::Start(phoff)).and_then(|_| file.read_exact(&mut table)).map_err(|_| fail("truncated ELF"))?;
    const PT_INTERP: u32 = 3;
    let needs_loader = (0..phnum).any(|i| {
        let at = i * phentsize;
        table.get(at..at + 4).is_some_and(|kind| u32::from_le_bytes([kind[0], kind[1], kind[2], kind[3]]) == PT_INTERP)
    });
    if needs_loader {
        return Err(fail(
            "dynamically linked (it names an ELF interpreter): the image has no libc; \
             build it with -C target-feature=+crt-static",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::toml_string;

    #[test]
    fn toml_strings_escape_quotes_and_backslashes() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
