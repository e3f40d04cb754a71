//! `build` with stand-in builders on a temporary PATH: which one is chosen, the command lines,
//! failures.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rprov_oci::{Entry, Error, Image, ImageBuilder, build_using};

struct Setup {
    _temp: tempfile::TempDir,
    bin: PathBuf,
    known: PathBuf,
    known_digest: String,
    context: PathBuf,
    dockerfile: PathBuf,
    out: PathBuf,
    log: PathBuf,
}

fn setup() -> Setup {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().to_owned();
    let bin = root.join("bin");
    fs::create_dir(&bin).unwrap();
    let known = root.join("known.tar");
    let image = ImageBuilder::new().layer([Entry::file("/hello", "hi", 0o644)]).write_oci_archive(&known).unwrap();
    let context = root.join("context");
    fs::create_dir(&context).unwrap();
    let dockerfile = context.join("Dockerfile");
    fs::write(&dockerfile, "FROM scratch\n").unwrap();
    Setup {
        _temp: temp,
        bin,
        known,
        known_digest: image.digest,
        context,
        dockerfile,
        out: root.join("out/image.tar"),
        log: root.join("calls.log"),
    }
}

/// Writes an executable shell script into the stand-in bin directory. The builders run with that
/// directory as their PATH, so the scripts use absolute paths to anything not built into sh.
fn script(setup: &Setup, name: &str, body: &str) {
    let path = setup.bin.join(name);
    let text = format!(
        "#!/bin/sh\nKNOWN='{}'\nLOG='{}'\necho \"{name} $*\" >> \"$LOG\"\n{body}\n",
        setup.known.display(),
        setup.log.display()
    );
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn calls(setup: &Setup) -> Vec<String> {
    fs::read_to_string(&setup.log).unwrap_or_default().lines().map(str::to_owned).collect()
}

fn search_path(setup: &Setup) -> OsString {
    setup.bin.clone().into_os_string()
}

const DOCKER: &str = r#"
case "$1 $2" in
  "buildx version") echo "github.com/docker/buildx v0.30.0 stand-in"; exit 0 ;;
  "buildx build")
    shift 2
    while [ $# -gt 0 ]; do
      case "$1" in
        --output) dest="${2#type=oci,dest=}"; shift 2 ;;
        --platform|-f) shift 2 ;;
        *) shift ;;
      esac
    done
    /bin/cp "$KNOWN" "$dest"
    exit 0 ;;
esac
echo "unexpected: $*" >&2
exit 64
"#;

#[test]
fn docker_buildx_writes_the_archive() {
    let setup = setup();
    script(&setup, "docker", DOCKER);
    script(&setup, "podman", "exit 99"); // not reached: docker comes first
    let builder = build_using(&setup.context, &setup.dockerfile, &setup.out, &search_path(&setup)).unwrap();
    assert_eq!(builder, "docker");
    assert_eq!(Image::open(&setup.out).unwrap().digest, setup.known_digest);
    assert_eq!(
        calls(&setup),
        [
            "docker buildx version".to_owned(),
            format!(
                "docker buildx build --platform linux/amd64 --output type=oci,dest={} -f {} {}",
                setup.out.display(),
                setup.dockerfile.display(),
                setup.context.display()
            )
        ]
    );
}

#[test]
fn a_failing_builder_reports_its_status_and_stderr_tail() {
    let setup = setup();
    script(
        &setup,
        "docker",
        r#"[ "$1 $2" = "buildx version" ] && exit 0
i=0; while [ $i -lt 40 ]; do echo "progress line $i" >&2; i=$((i+1)); done
echo "ERROR: failed to solve: process \"/bin/sh -c make\" did not complete successfully" >&2
exit 3"#,
    );
    let error = build_using(&setup.context, &setup.dockerfile, &setup.out, &search_path(&setup)).unwrap_err();
    assert!(matches!(error, Error::BuildFailed { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("`docker buildx build --platform linux/amd64 --output type=oci,dest="), "{message}");
    assert!(message.contains("failed (exit status: 3):\n"), "{message}");
    assert!(message.ends_with("did not complete successfully"), "{message}");
    assert!(message.contains("progress line 39") && !message.contains("progress line 3\n"), "only the tail: {message}");
}

#[test]
fn docker_without_buildx_is_passed_over_for_podman() {
    let setup = setup();
    script(&setup, "docker", r#"echo "docker: unknown command: docker buildx" >&2; exit 1"#);
    script(
        &setup,
        "podman",
        r#"case "$1" in
  build)
    while [ $# -gt 0 ]; do [ "$1" = "--iidfile" ] && echo "sha256:0123abcd" > "$2"; shift; done
    exit 0 ;;
  save) /bin/cp "$KNOWN" "$5"; exit 0 ;;
esac
exit 64"#,
    );
    let builder = build_using(&setup.context, &setup.dockerfile, &setup.out, &search_path(&setup)).unwrap();
    assert_eq!(builder, "podman");
    assert_eq!(Image::open(&setup.out).unwrap().digest, setup.known_digest);
    let calls = calls(&setup);
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls[1].starts_with("podman build --platform linux/amd64 --format oci --iidfile "), "{calls:?}");
    assert!(
        calls[1].ends_with(&format!(" -f {} {}", setup.dockerfile.display(), setup.context.display())),
        "{calls:?}"
    );
    assert_eq!(calls[2], format!("podman save --format oci-archive -o {} 0123abcd", setup.out.display()));
    let leftovers: Vec<_> =
        fs::read_dir(setup.out.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["image.tar"], "the iidfile is removed");
}

#[test]
fn buildah_pushes_to_an_oci_archive() {
    let setup = setup();
    script(
        &setup,
        "buildah",
        r#"case "$1" in
  bud)
    while [ $# -gt 0 ]; do [ "$1" = "--iidfile" ] && echo "feedface" > "$2"; shift; done
    exit 0 ;;
  push) /bin/cp "$KNOWN" "${3#oci-archive:}"; exit 0 ;;
esac
exit 64"#,
    );
    let builder = build_using(&setup.context, &setup.dockerfile, &setup.out, &search_path(&setup)).unwrap();
    assert_eq!(builder, "buildah");
    assert_eq!(calls(&setup)[1], format!("buildah push feedface oci-archive:{}", setup.out.display()));
}

#[test]
fn no_builder_on_the_path_names_the_three_options() {
    let setup = setup();
    let not_executable = setup.bin.join("docker");
    fs::write(&not_executable, "").unwrap();
    let error = build_using(&setup.context, &setup.dockerfile, &setup.out, &search_path(&setup)).unwrap_err();
    assert!(matches!(error, Error::NoBuilder));
    let message = error.to_string();
    for name in ["docker buildx", "podman", "buildah"] {
        assert!(message.to_lowercase().contains(name), "{message}");
    }
    let empty = build_using(&setup.context, &setup.dockerfile, &setup.out, Path::new("").as_os_str()).unwrap_err();
    assert!(matches!(empty, Error::NoBuilder));
}
