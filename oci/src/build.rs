//! Building an image from a Dockerfile with whichever OCI builder is installed.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// How much of a failed builder's stderr its error keeps.
const TAIL_LINES: usize = 25;
const TAIL_BYTES: usize = 8 << 10;

/// Builds the image of `dockerfile` with the build context `context` for linux/amd64 and writes
/// it as an OCI archive at `out`, with the first builder found on `PATH`:
///
/// - Docker with buildx (`docker buildx version` succeeds):
///   `docker buildx build --platform linux/amd64 --output type=oci,dest=OUT -f DOCKERFILE CONTEXT`
///   (the `docker` driver needs the containerd image store for OCI output);
/// - Podman: `podman build --format oci ...`, then `podman save --format oci-archive -o OUT`;
/// - Buildah: `buildah bud --format oci ...`, then `buildah push IMAGE oci-archive:OUT`.
///
/// The builder's output goes to this process's stderr as it runs. Returns the builder's name
/// (`docker`, `podman` or `buildah`).
pub fn build(context: &Path, dockerfile: &Path, out: &Path) -> Result<String, Error> {
    build_using(context, dockerfile, out, &std::env::var_os("PATH").unwrap_or_default())
}

/// [`build`], looking for the builders in `search_path` (a `PATH` value), which is also the
/// builder's `PATH`.
pub fn build_using(context: &Path, dockerfile: &Path, out: &Path, search_path: &OsStr) -> Result<String, Error> {
    let absolute = |path: &Path| std::path::absolute(path).map_err(|error| Error::io(path, error));
    let (context, dockerfile, out) = (absolute(context)?, absolute(dockerfile)?, absolute(out)?);
    let out_str = out.to_str().ok_or_else(|| Error::invalid(&out, "the output path is not UTF-8"))?;
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent).map_err(|error| Error::io(parent, error))?;
    }
    let remove_old = || match fs::remove_file(&out) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(Error::io(&out, error)),
        _ => Ok(()),
    };
    let platform = ["--platform", "linux/amd64"];
    let file = [OsStr::new("-f"), dockerfile.as_os_str(), context.as_os_str()];

    if let Some(docker) = find(search_path, "docker")
        && Command::new(&docker)
            .args(["buildx", "version"])
            .env("PATH", search_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    {
        remove_old()?;
        let output = format!("type=oci,dest={}", csv_field(out_str));
        let mut args: Vec<OsString> = ["buildx", "build"].iter().chain(&platform).map(OsString::from).collect();
        args.extend(["--output".into(), output.into()]);
        args.extend(file.iter().map(OsString::from));
        run(&docker, "docker", &args, search_path)?;
        return written(&out, "docker");
    }

    for tool in ["podman", "buildah"] {
        let Some(program) = find(search_path, tool) else { continue };
        remove_old()?;
        let iidfile = out.with_file_name(format!(
            ".{}.iid-{}",
            out.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
            std::process::id()
        ));
        let subcommand = if tool == "podman" { "build" } else { "bud" };
        let mut args: Vec<OsString> = [subcommand].iter().chain(&platform).map(OsString::from).collect();
        args.extend(["--format", "oci", "--iidfile"].map(OsString::from));
        args.push(iidfile.clone().into());
        args.extend(file.iter().map(OsString::from));
        let built = run(&program, tool, &args, search_path).and_then(|()| {
            let id = fs::read_to_string(&iidfile).map_err(|error| Error::io(&iidfile, error))?;
            Ok(id.trim().trim_start_matches("sha256:").to_owned())
        });
        let _ = fs::remove_file(&iidfile);
        let id = built?;
        let args: Vec<OsString> = if tool == "podman" {
            ["save", "--format", "oci-archive", "-o", out_str, &id].map(OsString::from).to_vec()
        } else {
            if out_str.contains(':') {
                return Err(Error::invalid(&out, "buildah cannot write an oci-archive: path containing ':'"));
            }
            vec!["push".into(), id.into(), format!("oci-archive:{out_str}").into()]
        };
        run(&program, tool, &args, search_path)?;
        return written(&out, tool);
    }
    Err(Error::NoBuilder)
}

fn written(out: &Path, builder: &str) -> Result<String, Error> {
    if !out.is_file() {
        return Err(Error::invalid(out, format!("{builder} succeeded but wrote no archive here")));
    }
    Ok(builder.to_owned())
}

/// An executable file named `name` in one of the directories of `search_path`.
fn find(search_path: &OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(search_path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// A field of buildx's CSV-style `--output` value, quoted if it needs to be.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value.to_owned() }
}

/// Runs a builder step with its stdout and stderr passed on to our stderr; a failure keeps the
/// tail of its stderr.
fn run(program: &Path, name: &str, args: &[OsString], search_path: &OsStr) -> Result<(), Error> {
    let command_line = std::iter::once(name.to_owned())
        .chain(args.iter().map(|arg| arg.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new(program)
        .args(args)
        .env("PATH", search_path)
        .stdin(Stdio::null())
        .stdout(Stdio::from(io::stderr()))
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| Error::io(program, error))?;
    let mut tail = Vec::new();
    let mut buffer = [0u8; 8192];
    while let Some(stderr) = child.stderr.as_mut() {
        match stderr.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                let _ = io::stderr().write_all(&buffer[..n]);
                tail.extend_from_slice(&buffer[..n]);
                if tail.len() > 4 * TAIL_BYTES {
                    tail.drain(..tail.len() - TAIL_BYTES);
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let status = child.wait().map_err(|error| Error::io(program, error))?;
    if status.success() {
        return Ok(());
    }
    Err(Error::BuildFailed { command: command_line, status, stderr: tail_of(&tail) })
}

/// The last lines of `output` (at most [`TAIL_LINES`] and about [`TAIL_BYTES`]).
fn tail_of(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    if tail.len() > TAIL_BYTES {
        let mut start = tail.len() - TAIL_BYTES;
        while !tail.is_char_boundary(start) {
            start += 1;
        }
        tail = format!("...{}", &tail[start..]);
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("/tmp/out.tar"), "/tmp/out.tar");
        assert_eq!(csv_field("/tmp/a,b\".tar"), "\"/tmp/a,b\"\".tar\"");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let output: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let tail = tail_of(output.as_bytes());
        assert!(tail.starts_with("line 76\n") && tail.ends_with("line 100"), "{tail}");
    }
}
