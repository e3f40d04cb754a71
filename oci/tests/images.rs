//! Writing images and reading them back: OCI archives and layouts, `docker save` archives,
//! multi-platform indexes, tampered blobs.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::GzDecoder;
use rprov_oci::{Descriptor, Entry, Error, Healthcheck, Image, ImageBuilder};
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn read_blob(image: &Image, descriptor: &Descriptor) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    image.open_blob(descriptor).map_err(io::Error::other)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

const LONG_DIR: &str = "/opt/a-directory-name-long-enough-to-need-the-ustar-prefix-field/and-another-level-of-it";

fn sample(host_file: &Path) -> ImageBuilder {
    let long_name = format!("/opt/{}", "n".repeat(150));
    ImageBuilder::new()
        .layer([
            Entry::file("/etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\n", 0o644),
            Entry::dir("/data", 0o750).owner(65532, 65532),
            Entry::host_file("/usr/local/bin/app", host_file, 0o755),
            Entry::symlink("/usr/bin/app", "../local/bin/app"),
            Entry::file(format!("{LONG_DIR}/file.txt"), "deep", 0o600).owner(1, 2),
            Entry::file(long_name, "long", 0o644),
        ])
        .layer([Entry::file("/etc/motd", "hello\n", 0o644)])
        .env("PATH", "/usr/local/bin")
        .env("MODE", "one")
        .env("MODE", "two")
        .entrypoint(["/usr/local/bin/app"])
        .cmd(["--serve"])
        .user("65532:65532")
        .workdir("/data")
        .expose("8000")
        .expose("53/udp")
        .volume("/data")
        .label("org.opencontainers.image.title", "sample")
        .stop_signal("SIGTERM")
        .healthcheck(Healthcheck {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(5),
            start_period: Duration::from_secs(10),
            retries: 3,
            ..Healthcheck::cmd(["/usr/local/bin/app", "--healthcheck"])
        })
        .ref_name("latest")
}

fn host_binary(dir: &Path) -> PathBuf {
    let path = dir.join("app");
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn written_images_are_reproducible_and_read_back_as_archive_and_layout() {
    let temp = tempfile::tempdir().unwrap();
    let binary = host_binary(temp.path());
    let builder = sample(&binary);
    let first = builder.write_oci_archive(&temp.path().join("one/image.tar")).unwrap();
    let second = sample(&binary).write_oci_archive(&temp.path().join("two/image.tar")).unwrap();
    let layout = builder.write_layout(&temp.path().join("layout")).unwrap();

    assert_eq!(
        fs::read(temp.path().join("one/image.tar")).unwrap(),
        fs::read(temp.path().join("two/image.tar")).unwrap(),
        "two writes give the same archive bytes"
    );
    assert_eq!(first.digest, second.digest);
    assert_eq!(first.digest, layout.digest);
    assert_eq!(first.digest, sha256(&first.manifest));
    assert_eq!(first.manifest, layout.manifest);
    assert_eq!(first.manifest_media_type, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(builder.fingerprint().unwrap(), sample(&binary).fingerprint().unwrap());
    assert!(
        !temp.path().join("one").read_dir().unwrap().any(|e| e.unwrap().file_name() != "image.tar"),
        "no leftovers"
    );

    let blobs = first.blobs();
    assert_eq!(blobs.len(), 3);
    assert_eq!(blobs[0], &first.config);
    assert_eq!(first.config.media_type, "application/vnd.oci.image.config.v1+json");
    for layer in &first.layers {
        assert_eq!(layer.media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    }
    for (image, blob) in
        [&first, &layout].into_iter().flat_map(|image| image.blobs().into_iter().map(move |b| (image, b)))
    {
        let bytes = read_blob(image, blob).unwrap();
        assert_eq!(bytes.len() as u64, blob.size);
        assert_eq!(sha256(&bytes), blob.digest);
    }

    let config = first.config_json().unwrap();
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");
    let c = &config["config"];
    assert_eq!(c["User"], "65532:65532");
    assert_eq!(c["Env"], serde_json::json!(["PATH=/usr/local/bin", "MODE=two"]));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/app"]));
    assert_eq!(c["Cmd"], serde_json::json!(["--serve"]));
    assert_eq!(c["WorkingDir"], "/data");
    assert_eq!(c["ExposedPorts"], serde_json::json!({"53/udp": {}, "8000/tcp": {}}));
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["Labels"]["org.opencontainers.image.title"], "sample");
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(
        c["Healthcheck"],
        serde_json::json!({
            "Test": ["CMD", "/usr/local/bin/app", "--healthcheck"],
            "Interval": 15_000_000_000u64,
            "Timeout": 5_000_000_000u64,
            "StartPeriod": 10_000_000_000u64,
            "Retries": 3
        })
    );
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(diff_ids.len(), 2);

    // The first layer: sorted, parents first, fixed metadata, long names intact.
    let compressed = read_blob(&first, &first.layers[0]).unwrap();
    assert_eq!(&compressed[..4], &[0x1f, 0x8b, 8, 0], "gzip without a name or comment");
    assert_eq!(&compressed[4..8], &[0, 0, 0, 0], "gzip header time 0");
    let mut tar_bytes = Vec::new();
    GzDecoder::new(compressed.as_slice()).read_to_end(&mut tar_bytes).unwrap();
    assert_eq!(sha256(&tar_bytes), diff_ids[0].as_str().unwrap());
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let header = entry.header();
        let raw_name = entry.path().unwrap().to_string_lossy().into_owned();
        assert_eq!(raw_name.ends_with('/'), header.entry_type().is_dir(), "directories end in /: {raw_name}");
        let name = raw_name.trim_end_matches('/').to_owned();
        assert_eq!(header.mtime().unwrap(), 0, "{name}");
        assert_eq!(header.username_bytes(), Some(&b""[..]), "{name}");
        assert_eq!(header.groupname_bytes(), Some(&b""[..]), "{name}");
        match name.as_str() {
            "data" => {
                assert!(header.entry_type().is_dir());
                assert_eq!(
                    (header.mode().unwrap(), header.uid().unwrap(), header.gid().unwrap()),
                    (0o750, 65532, 65532)
                );
            }
            "usr/local/bin/app" => {
                assert_eq!(header.mode().unwrap(), 0o755);
                assert_eq!(header.size().unwrap(), 200_000);
            }
            "usr/bin/app" => assert_eq!(entry.link_name().unwrap().unwrap().to_str(), Some("../local/bin/app")),
            "usr" | "usr/local" => assert_eq!(header.mode().unwrap(), 0o755, "an implied parent"),
            _ => {}
        }
        names.push(name);
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let deep = format!("{}/file.txt", &LONG_DIR[1..]);
    let long = format!("opt/{}", "n".repeat(150));
    for expected in ["data", "etc", "etc/passwd", "opt", "usr", "usr/bin", "usr/bin/app", &deep, &long] {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
}

#[test]
fn created_time_and_contents_change_the_digest() {
    let temp = tempfile::tempdir().unwrap();
    let binary = host_binary(temp.path());
    let base = sample(&binary).write_layout(&temp.path().join("base")).unwrap();
    let dated = sample(&binary).created(1_700_000_000).write_layout(&temp.path().join("dated")).unwrap();
    assert_ne!(base.digest, dated.digest);
    assert_eq!(dated.config_json().unwrap()["created"], "2023-11-14T22:13:20Z");
    let before = sample(&binary).fingerprint().unwrap();
    let mut bytes = fs::read(&binary).unwrap();
    bytes[1000] ^= 1;
    fs::write(&binary, bytes).unwrap();
    assert_ne!(sample(&binary).fingerprint().unwrap(), before);
    let changed = sample(&binary).write_layout(&temp.path().join("changed")).unwrap();
    assert_ne!(base.digest, changed.digest);
    assert_eq!(base.layers[1], changed.layers[1], "the unchanged layer keeps its digest");
}

#[test]
fn invalid_entries_are_errors_naming_the_path() {
    let temp = tempfile::tempdir().unwrap();
    let twice = ImageBuilder::new().layer([Entry::file("/a", "1", 0o644), Entry::file("a", "2", 0o644)]);
    let error = twice.write_oci_archive(&temp.path().join("x.tar")).unwrap_err().to_string();
    assert_eq!(error, "a: listed twice in one layer");
    let dotdot = ImageBuilder::new().layer([Entry::file("/a/../../etc", "", 0o644)]);
    assert!(dotdot.write_layout(&temp.path().join("l")).unwrap_err().to_string().contains("`..`"));
    let missing = ImageBuilder::new().layer([Entry::host_file("/app", temp.path().join("nope"), 0o755)]);
    let error = missing.write_oci_archive(&temp.path().join("y.tar")).unwrap_err().to_string();
    assert!(error.contains("nope: No such file"), "{error}");
    assert!(!temp.path().join("y.tar").exists());
}

/// Finds `needle` in `haystack`.
fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[test]
fn a_tampered_blob_fails_at_its_end_naming_its_digest() {
    let temp = tempfile::tempdir().unwrap();
    let binary = host_binary(temp.path());
    let layout_dir = temp.path().join("layout");
    let image = sample(&binary).write_layout(&layout_dir).unwrap();
    let layer = image.layers[0].clone();
    let blob_path = layout_dir.join("blobs/sha256").join(&layer.digest["sha256:".len()..]);
    let original = fs::read(&blob_path).unwrap();

    // In a layout: same size, one byte changed.
    let mut tampered = original.clone();
    tampered[original.len() / 2] ^= 0xff;
    fs::write(&blob_path, &tampered).unwrap();
    let reopened = Image::open(&layout_dir).unwrap();
    let error = read_blob(&reopened, &layer).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert!(error.to_string().contains(&layer.digest), "{error}");

    // Shorter than the manifest says: refused when opening.
    fs::write(&blob_path, &original[..100]).unwrap();
    let error = Image::open(&layout_dir).unwrap_err().to_string();
    assert!(error.contains("is 100 bytes, the manifest says"), "{error}");
    fs::write(&blob_path, &original).unwrap();

    // In an archive, where the blob is read in place.
    let archive = temp.path().join("image.tar");
    sample(&binary).write_oci_archive(&archive).unwrap();
    let mut bytes = fs::read(&archive).unwrap();
    let at = position(&bytes, &original).expect("the layer is stored as is");
    bytes[at + original.len() / 2] ^= 0xff;
    fs::write(&archive, &bytes).unwrap();
    let image = Image::open(&archive).unwrap();
    let error = read_blob(&image, &layer).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert!(error.to_string().contains(&layer.digest), "{error}");
    read_blob(&image, &image.layers[1]).unwrap();

    // A tampered config is noticed when opening.
    let config_json = read_blob(&image, &image.config).unwrap();
    let at = position(&bytes, &config_json).unwrap();
    bytes[at + 2] ^= 0x01;
    fs::write(&archive, &bytes).unwrap();
    let error = Image::open(&archive).unwrap_err().to_string();
    assert!(error.contains(&image.config.digest) && error.contains("does not match"), "{error}");
}

/// A tar archive of (name, bytes) files, in order.
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_size(bytes.len() as u64);
        builder.append_data(&mut header, name, *bytes).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn legacy_docker_save_archives_get_an_oci_manifest() {
    let temp = tempfile::tempdir().unwrap();
    let layer_one = tar_of(&[("etc/hostname", b"box\n")]);
    let layer_two = gzip(&tar_of(&[("app", b"binary")]));
    let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["A=1"],"Entrypoint":["/app"],"User":"1000"},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_name = format!("{}.json", &sha256(config)["sha256:".len()..]);
    let manifest = format!(
        r#"[{{"Config":"{config_name}","RepoTags":["app:latest"],"Layers":["aaa/layer.tar","./bbb/layer.tar"]}}]"#
    );
    let archive = temp.path().join("saved.tar");
    fs::write(
        &archive,
        tar_of(&[
            ("aaa/layer.tar", &layer_one),
            ("bbb/layer.tar", &layer_two),
            (&config_name, config),
            ("manifest.json", manifest.as_bytes()),
            ("repositories", br#"{"app":{"latest":"x"}}"#),
        ]),
    )
    .unwrap();

    let image = Image::open(&archive).unwrap();
    assert_eq!(image.manifest_media_type, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(image.digest, sha256(&image.manifest));
    assert_eq!(image.config.digest, sha256(config));
    assert_eq!(image.layers.len(), 2);
    assert_eq!(image.layers[0].media_type, "application/vnd.oci.image.layer.v1.tar");
    assert_eq!(image.layers[0].digest, sha256(&layer_one));
    assert_eq!(image.layers[1].media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    assert_eq!(image.layers[1].digest, sha256(&layer_two));
    assert_eq!(read_blob(&image, &image.layers[1]).unwrap(), layer_two);
    assert_eq!(image.config_json().unwrap()["config"]["User"], "1000");
    let built: serde_json::Value = serde_json::from_slice(&image.manifest).unwrap();
    assert_eq!(built["schemaVersion"], 2);
    assert_eq!(built["layers"][0]["size"], layer_one.len());

    // A layer missing from the archive.
    let broken = temp.path().join("broken.tar");
    fs::write(&broken, tar_of(&[(&config_name, config), ("manifest.json", manifest.as_bytes())])).unwrap();
    let error = Image::open(&broken).unwrap_err().to_string();
    assert!(error.ends_with("broken.tar: manifest.json: layer aaa/layer.tar is missing"), "{error}");
}

/// The files of a layout directory as tar entries (as `docker save` of Docker 25+ writes them,
/// beside its legacy `manifest.json`).
fn layout_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("oci-layout".to_owned(), fs::read(dir.join("oci-layout")).unwrap()),
        ("index.json".to_owned(), fs::read(dir.join("index.json")).unwrap()),
    ];
    for blob in fs::read_dir(dir.join("blobs/sha256")).unwrap() {
        let blob = blob.unwrap();
        files.push((format!("blobs/sha256/{}", blob.file_name().to_string_lossy()), fs::read(blob.path()).unwrap()));
    }
    files
}

#[test]
fn a_docker_save_archive_with_an_oci_layout_is_read_through_its_index() {
    let temp = tempfile::tempdir().unwrap();
    let layout = temp.path().join("layout");
    let written = ImageBuilder::new()
        .layer([Entry::file("/hello", "hi", 0o644)])
        .entrypoint(["/hello"])
        .write_layout(&layout)
        .unwrap();
    let mut files = layout_files(&layout);
    // A legacy manifest.json that would fail if it were used.
    files.push(("manifest.json".to_owned(), br#"[{"Config":"missing.json","Layers":["missing/layer.tar"]}]"#.to_vec()));
    let archive = temp.path().join("saved.tar");
    let entries: Vec<(&str, &[u8])> = files.iter().map(|(name, bytes)| (name.as_str(), bytes.as_slice())).collect();
    fs::write(&archive, tar_of(&entries)).unwrap();
    let image = Image::open(&archive).unwrap();
    assert_eq!(image.digest, written.digest);
    assert_eq!(image.manifest, written.manifest);
}

/// An image in `dir`'s blobs for `os/architecture` (its config says so), returning its manifest
/// descriptor.
fn image_in(dir: &Path, os: &str, architecture: &str) -> Descriptor {
    let scratch = dir.join(format!("scratch-{os}-{architecture}"));
    let image = ImageBuilder::new()
        .layer([Entry::file("/arch", architecture, 0o644)])
        .label("arch", architecture)
        .write_layout(&scratch)
        .unwrap();
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    for blob in fs::read_dir(scratch.join("blobs/sha256")).unwrap() {
        let blob = blob.unwrap();
        fs::copy(blob.path(), dir.join("blobs/sha256").join(blob.file_name())).unwrap();
    }
    let mut config = image.config_json().unwrap();
    config["os"] = os.into();
    config["architecture"] = architecture.into();
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": image.manifest_media_type,
        "config": {"mediaType": image.config.media_type, "digest": add_blob(dir, &config), "size": config.len()},
        "layers": image.layers,
    }))
    .unwrap();
    fs::remove_dir_all(scratch).unwrap();
    Descriptor { media_type: image.manifest_media_type, digest: add_blob(dir, &manifest), size: manifest.len() as u64 }
}

fn add_blob(dir: &Path, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    fs::write(dir.join("blobs/sha256").join(&digest["sha256:".len()..]), bytes).unwrap();
    digest
}

fn platform_entry(descriptor: &Descriptor, platform: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "mediaType": descriptor.media_type, "digest": descriptor.digest, "size": descriptor.size, "platform": platform
    })
}

#[test]
fn a_multi_platform_index_yields_the_linux_amd64_image() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("multi");
    let arm = image_in(&dir, "linux", "arm64");
    let amd = image_in(&dir, "linux", "amd64");
    let attestation = image_in(&dir, "unknown", "unknown");
    // BuildKit's layout: index.json -> an index of the platforms (and attestations).
    let nested = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            platform_entry(&arm, serde_json::json!({"architecture": "arm64", "os": "linux"})),
            platform_entry(&amd, serde_json::json!({"architecture": "amd64", "os": "linux"})),
            {
                "mediaType": attestation.media_type, "digest": attestation.digest, "size": attestation.size,
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"}
            }
        ]
    });
    let nested = serde_json::to_vec(&nested).unwrap();
    let nested_digest = add_blob(&dir, &nested);
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": nested_digest, "size": nested.len()}]
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    let image = Image::open(&dir).unwrap();
    assert_eq!(image.digest, amd.digest);
    assert_eq!(image.config_json().unwrap()["config"]["Labels"]["arch"], "amd64");

    // Without platforms in the index, each image's config tells.
    let bare = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": arm.media_type, "digest": arm.digest, "size": arm.size},
            {"mediaType": amd.media_type, "digest": amd.digest, "size": amd.size}
        ]
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&bare).unwrap()).unwrap();
    assert_eq!(Image::open(&dir).unwrap().digest, amd.digest);

    // No amd64 image: the error lists the platforms there are.
    let other = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [
            platform_entry(&arm, serde_json::json!({"architecture": "arm64", "os": "linux"})),
            platform_entry(&amd, serde_json::json!({"architecture": "arm", "os": "linux", "variant": "v7"}))
        ]
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&other).unwrap()).unwrap();
    let error = Image::open(&dir).unwrap_err();
    assert!(matches!(error, Error::NoAmd64 { .. }));
    assert_eq!(
        error.to_string(),
        format!("{}: no linux/amd64 image in the index (it has linux/arm64, linux/arm/v7)", dir.display())
    );
}

#[test]
fn what_is_not_an_image_is_said_in_one_line() {
    let temp = tempfile::tempdir().unwrap();
    let path = |name: &str| temp.path().join(name);
    fs::write(path("plain.tar"), tar_of(&[("hello.txt", b"hi")])).unwrap();
    fs::write(path("image.tar.gz"), gzip(&tar_of(&[("index.json", b"{}")]))).unwrap();
    fs::write(path("notes.txt"), "x".repeat(2000)).unwrap();
    fs::write(path("index-only.tar"), tar_of(&[("index.json", br#"{"schemaVersion":2,"manifests":[]}"#)])).unwrap();
    fs::write(path("bad-json.tar"), tar_of(&[("index.json", b"{nope")])).unwrap();
    let cases = [
        ("plain.tar", "no index.json or manifest.json: not an OCI or docker archive"),
        ("image.tar.gz", "gzip-compressed"),
        ("notes.txt", "not a readable tar archive"),
        ("index-only.tar", "index.json lists no image manifest"),
        ("bad-json.tar", "index.json: key must be a string"),
        ("missing.tar", "No such file or directory"),
    ];
    for (name, expected) in cases {
        let error = Image::open(&path(name)).unwrap_err().to_string();
        assert!(error.starts_with(&format!("{}: ", path(name).display())), "{error}");
        assert!(error.contains(expected), "{name}: {error}");
        assert!(!error.contains('\n'), "{error}");
    }
}
