//! Writing reproducible images: the same entries and config give the same bytes, hence digests.
//!
//! Layer tars list their entries sorted by path, parents first, with the caller's mode, uid and
//! gid, no user or group names, and one modification time for all (0, or `SOURCE_DATE_EPOCH`);
//! gzip runs at a fixed level with no name or time in its header; the JSON documents have a fixed
//! key order; the config's `created` is that same time. The OCI archive around the layout is
//! written the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

use crate::digest::{self, HashingWriter};
use crate::media_type::{OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST};
use crate::spec::{
    ContainerConfig, Descriptor, Empty, HealthcheckOut, ImageConfigOut, IndexEntryOut, IndexOut, ManifestOut, Platform,
    RootFsOut,
};
use crate::{Error, Image};

/// gzip level of the layers. Changing it (or the flate2 backend) changes every layer digest.
const GZIP_LEVEL: u32 = 6;
/// Part of [`ImageBuilder::fingerprint`]: bump it whenever the bytes written for the same inputs change.
const WRITER_VERSION: &str = "rprov-oci writer 1";

/// One entry of a layer: a directory, a file (bytes, or a file on this host read when the layer
/// is written) or a symbolic link, with its mode and owner. Paths are absolute in the image
/// (`/usr/local/bin/app`; a leading `/` is optional); parents not listed are added as
/// directories `0755` owned by root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    path: String,
    kind: EntryKind,
    mode: u32,
    uid: u32,
    gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum EntryKind {
    Dir,
    Bytes(Vec<u8>),
    HostFile(PathBuf),
    Symlink(String),
}

impl Entry {
    /// A directory with permission bits `mode` (e.g. `0o755`), owned by root until [`Entry::owner`].
    pub fn dir(path: impl Into<String>, mode: u32) -> Entry {
        Entry { path: path.into(), kind: EntryKind::Dir, mode, uid: 0, gid: 0 }
    }

    /// A file with the given contents.
    pub fn file(path: impl Into<String>, contents: impl Into<Vec<u8>>, mode: u32) -> Entry {
        Entry { path: path.into(), kind: EntryKind::Bytes(contents.into()), mode, uid: 0, gid: 0 }
    }

    /// A file whose contents are those of `source` on this host (streamed when the layer is written;
    /// its own mode, owner and time are not used).
    pub fn host_file(path: impl Into<String>, source: impl Into<PathBuf>, mode: u32) -> Entry {
        Entry { path: path.into(), kind: EntryKind::HostFile(source.into()), mode, uid: 0, gid: 0 }
    }

    /// A symbolic link to `target`.
    pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Entry {
        Entry { path: path.into(), kind: EntryKind::Symlink(target.into()), mode: 0o777, uid: 0, gid: 0 }
    }

    /// Sets the numeric owner.
    pub fn owner(mut self, uid: u32, gid: u32) -> Entry {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// The path inside the image, relative (no leading `/`).
    fn relative_path(&self) -> Result<String, Error> {
        let mut parts = Vec::new();
        for part in self.path.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(Error::invalid(&self.path, "an image entry path may not contain `..`")),
                part => parts.push(part),
            }
        }
        if parts.is_empty() {
            return Err(Error::invalid(&self.path, "an image entry needs a path below /"));
        }
        if self.mode > 0o7777 {
            return Err(Error::invalid(&self.path, format!("mode {:o} has more than permission bits", self.mode)));
        }
        Ok(parts.join("/"))
    }
}

/// Docker's health check (`HEALTHCHECK`), stored in the image config's `Healthcheck`. Zero
/// durations and retries mean the engine's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", program, args...]`, `["CMD-SHELL", command]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
}

impl Healthcheck {
    /// Runs `command` (program and arguments, no shell); healthy when it exits 0.
    pub fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(command: I) -> Healthcheck {
        let test = std::iter::once("CMD".to_owned()).chain(command.into_iter().map(Into::into)).collect();
        Healthcheck { test, ..Healthcheck::default() }
    }

    fn to_spec(&self) -> HealthcheckOut {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        HealthcheckOut {
            test: self.test.clone(),
            interval: nanos(self.interval),
            timeout: nanos(self.timeout),
            start_period: nanos(self.start_period),
            start_interval: nanos(self.start_interval),
            retries: self.retries,
        }
    }
}

/// Writes a linux/amd64 image from layers of [`Entry`]s and a container config.
///
/// ```no_run
/// use rprov_oci::{Entry, ImageBuilder};
/// let image = ImageBuilder::new()
///     .layer([Entry::host_file("/app", "target/release/app", 0o755)])
///     .entrypoint(["/app"])
///     .user("65532:65532")
///     .write_oci_archive("app.tar".as_ref())?;
/// println!("{}", image.digest);
/// # Ok::<(), rprov_oci::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ImageBuilder {
    layers: Vec<Vec<Entry>>,
    config: ContainerConfig,
    created: Option<u64>,
    ref_name: Option<String>,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ImageBuilder {
    pub fn new() -> ImageBuilder {
        ImageBuilder::default()
    }

    /// Adds a layer holding these entries (their order does not matter).
    pub fn layer(mut self, entries: impl IntoIterator<Item = Entry>) -> ImageBuilder {
        self.layers.push(entries.into_iter().collect());
        self
    }

    /// Sets an environment variable (replacing an earlier value of the same name).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> ImageBuilder {
        let name = name.into();
        let prefix = format!("{name}=");
        self.config.env.retain(|pair| !pair.starts_with(&prefix));
        self.config.env.push(format!("{prefix}{}", value.into()));
        self
    }

    pub fn entrypoint<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> ImageBuilder {
        self.config.entrypoint = Some(args.into_iter().map(Into::into).collect());
        self
    }

    pub fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> ImageBuilder {
        self.config.cmd = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// `uid`, `uid:gid`, or names the image's `/etc/passwd` and `/etc/group` define.
    pub fn user(mut self, user: impl Into<String>) -> ImageBuilder {
        self.config.user = user.into();
        self
    }

    pub fn workdir(mut self, dir: impl Into<String>) -> ImageBuilder {
        self.config.working_dir = dir.into();
        self
    }

    /// An exposed port: `8000` (TCP), `8000/tcp` or `53/udp`.
    pub fn expose(mut self, port: impl Into<String>) -> ImageBuilder {
        let port = port.into();
        let port = if port.contains('/') { port } else { format!("{port}/tcp") };
        self.config.exposed_ports.insert(port, Empty {});
        self
    }

    pub fn volume(mut self, path: impl Into<String>) -> ImageBuilder {
        self.config.volumes.insert(path.into(), Empty {});
        self
    }

    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> ImageBuilder {
        self.config.labels.insert(name.into(), value.into());
        self
    }

    pub fn stop_signal(mut self, signal: impl Into<String>) -> ImageBuilder {
        self.config.stop_signal = signal.into();
        self
    }

    pub fn healthcheck(mut self, healthcheck: Healthcheck) -> ImageBuilder {
        self.config.healthcheck = Some(healthcheck.to_spec());
        self
    }

    /// The creation time (seconds since the epoch) of the config and of every file; by default
    /// `SOURCE_DATE_EPOCH`, or 0.
    pub fn created(mut self, seconds_since_epoch: u64) -> ImageBuilder {
        self.created = Some(seconds_since_epoch);
        self
    }

    /// The `org.opencontainers.image.ref.name` annotation of the image in `index.json` (a tag
    /// such as `latest`, for tools that load layouts by name).
    pub fn ref_name(mut self, name: impl Into<String>) -> ImageBuilder {
        self.ref_name = Some(name.into());
        self
    }

    fn epoch(&self) -> Result<u64, Error> {
        if let Some(created) = self.created {
            return Ok(created);
        }
        match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(value) if !value.trim().is_empty() => value.trim().parse().map_err(|_| {
                Error::invalid("SOURCE_DATE_EPOCH", format!("{value:?} is not a number of seconds since 1970"))
            }),
            _ => Ok(0),
        }
    }

    /// A digest of everything the image is made of (entries with their contents, config, time,
    /// writer version): equal fingerprints mean the written image would be the same, so a tool may
    /// skip writing it again.
    pub fn fingerprint(&self) -> Result<String, Error> {
        let mut hasher = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        field(WRITER_VERSION.as_bytes());
        field(&GZIP_LEVEL.to_le_bytes());
        field(&self.epoch()?.to_le_bytes());
        field(self.ref_name.as_deref().unwrap_or_default().as_bytes());
        field(&serde_json::to_vec(&self.config).map_err(|error| Error::invalid("config", error.to_string()))?);
        for layer in &self.layers {
            field(b"layer");
            for (path, entry) in prepare_layer(layer)? {
                field(path.as_bytes());
                field(&[entry.mode.to_le_bytes(), entry.uid.to_le_bytes(), entry.gid.to_le_bytes()].concat());
                match &entry.kind {
                    EntryKind::Dir => field(b"dir"),
                    EntryKind::Symlink(target) => {
                        field(b"symlink");
                        field(target.as_bytes());
                    }
                    EntryKind::Bytes(bytes) => {
                        field(b"file");
                        field(digest::sha256(bytes).as_bytes());
                    }
                    EntryKind::HostFile(source) => {
                        let file = File::open(source).map_err(|error| Error::io(source, error))?;
                        let (digest, _) = digest::hash_reader(io::BufReader::with_capacity(256 << 10, file))
                            .map_err(|error| Error::io(source, error))?;
                        field(b"file");
                        field(digest.as_bytes());
                    }
                }
            }
        }
        Ok(digest::finish(hasher))
    }

    /// Writes the image as an OCI image layout in `dir` (created if missing): `oci-layout`,
    /// `index.json` (this image only; other blobs already there are left alone) and its blobs.
    pub fn write_layout(&self, dir: &Path) -> Result<Image, Error> {
        self.write_layout_files(dir)?;
        Image::open(dir)
    }

    /// Writes the image as an OCI archive (a tar of the layout) at `out`, replacing it.
    pub fn write_oci_archive(&self, out: &Path) -> Result<Image, Error> {
        let epoch = self.epoch()?;
        let parent = match out.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|error| Error::io(&parent, error))?;
        let name = out.file_name().ok_or_else(|| Error::invalid(out, "not a file name"))?.to_string_lossy();
        let unique = format!("{}-{}", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed));
        let staging = TempPath(parent.join(format!(".{name}.layout-{unique}")));
        self.write_layout_files(&staging.0)?;

        let mut entries = vec![Entry::dir("blobs", 0o755), Entry::dir("blobs/sha256", 0o755)];
        for file in ["oci-layout", "index.json"] {
            entries.push(Entry::host_file(file, staging.0.join(file), 0o644));
        }
        let blobs = staging.0.join("blobs/sha256");
        for blob in fs::read_dir(&blobs).map_err(|error| Error::io(&blobs, error))? {
            let blob = blob.map_err(|error| Error::io(&blobs, error))?;
            let file_name = blob.file_name().to_string_lossy().into_owned();
            entries.push(Entry::host_file(format!("blobs/sha256/{file_name}"), blob.path(), 0o644));
        }
        let temp = TempPath(parent.join(format!(".{name}.tmp-{unique}")));
        let file = File::create(&temp.0).map_err(|error| Error::io(&temp.0, error))?;
        let mut tar = tar::Builder::new(BufWriter::with_capacity(256 << 10, file));
        for (path, entry) in prepare_layer(&entries)? {
            append_entry(&mut tar, &path, &entry, epoch)?;
        }
        let file = tar
            .into_inner()
            .and_then(|writer| writer.into_inner().map_err(io::IntoInnerError::into_error))
            .map_err(|error| Error::io(&temp.0, error))?;
        file.sync_all().map_err(|error| Error::io(&temp.0, error))?;
        drop(file);
        fs::rename(&temp.0, out).map_err(|error| Error::io(out, error))?;
        drop(staging);
        Image::open(out)
    }

    fn write_layout_files(&self, dir: &Path) -> Result<(), Error> {
        let epoch = self.epoch()?;
        let blobs = dir.join("blobs/sha256");
        fs::create_dir_all(&blobs).map_err(|error| Error::io(&blobs, error))?;
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for entries in &self.layers {
            let entries = prepare_layer(entries)?;
            let (descriptor, diff_id) = write_layer(&entries, epoch, &blobs)?;
            layers.push(descriptor);
            diff_ids.push(diff_id);
        }
        let config = to_json(
            dir,
            &ImageConfigOut {
                created: rfc3339(epoch),
                architecture: "amd64",
                os: "linux",
                config: &self.config,
                rootfs: RootFsOut { kind: "layers", diff_ids: &diff_ids },
            },
        )?;
        let config = write_blob(&blobs, OCI_CONFIG, &config)?;
        let manifest = to_json(
            dir,
            &ManifestOut { schema_version: 2, media_type: OCI_MANIFEST, config: &config, layers: &layers },
        )?;
        let manifest = write_blob(&blobs, OCI_MANIFEST, &manifest)?;
        let mut annotations = BTreeMap::new();
        if let Some(name) = &self.ref_name {
            annotations.insert("org.opencontainers.image.ref.name", name.as_str());
        }
        let index = to_json(
            dir,
            &IndexOut {
                schema_version: 2,
                media_type: OCI_INDEX,
                manifests: vec![IndexEntryOut {
                    media_type: OCI_MANIFEST,
                    digest: &manifest.digest,
                    size: manifest.size,
                    platform: Platform { architecture: "amd64".to_owned(), os: "linux".to_owned(), variant: None },
                    annotations,
                }],
            },
        )?;
        write_file(&dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        write_file(&dir.join("index.json"), &index)
    }
}

fn to_json(dir: &Path, value: &impl serde::Serialize) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|error| Error::invalid(dir, format!("writing JSON: {error}")))
}

/// Removes a file or directory when dropped (the staging copies of an archive being written).
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        match fs::symlink_metadata(&self.0) {
            Ok(metadata) if metadata.is_dir() => drop(fs::remove_dir_all(&self.0)),
            Ok(_) => drop(fs::remove_file(&self.0)),
            Err(_) => {}
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let temp = TempPath(path.with_extension(format!("tmp-{}", std::process::id())));
    fs::write(&temp.0, bytes).map_err(|error| Error::io(&temp.0, error))?;
    fs::rename(&temp.0, path).map_err(|error| Error::io(path, error))
}

fn write_blob(blobs: &Path, media_type: &str, bytes: &[u8]) -> Result<Descriptor, Error> {
    let digest = digest::sha256(bytes);
    let hex = &digest["sha256:".len()..];
    write_file(&blobs.join(hex), bytes)?;
    Ok(Descriptor { media_type: media_type.to_owned(), digest, size: bytes.len() as u64 })
}

/// The entries of a layer by relative path, sorted, parents added; a path given twice is an error.
fn prepare_layer(entries: &[Entry]) -> Result<Vec<(String, Entry)>, Error> {
    let mut by_path = BTreeMap::new();
    for entry in entries {
        let path = entry.relative_path()?;
        if by_path.insert(path.clone(), entry.clone()).is_some() {
            return Err(Error::invalid(&entry.path, "listed twice in one layer"));
        }
    }
    let mut parents = BTreeSet::new();
    for (path, entry) in &by_path {
        let mut rest = path.as_str();
        while let Some((parent, _)) = rest.rsplit_once('/') {
            match by_path.get(parent) {
                Some(Entry { kind: EntryKind::Dir, .. }) => {}
                Some(_) => {
                    return Err(Error::invalid(&entry.path, format!("its parent /{parent} is not a directory")));
                }
                None => {
                    parents.insert(parent.to_owned());
                }
            }
            rest = parent;
        }
    }
    for parent in parents {
        by_path.insert(parent.clone(), Entry::dir(parent, 0o755));
    }
    Ok(by_path.into_iter().collect())
}

/// Writes one gzip-compressed layer into `blobs`; returns its descriptor and diff ID (the
/// digest of the uncompressed tar).
fn write_layer(entries: &[(String, Entry)], epoch: u64, blobs: &Path) -> Result<(Descriptor, String), Error> {
    let temp =
        TempPath(blobs.join(format!(".layer-{}-{}", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed))));
    let file = File::create(&temp.0).map_err(|error| Error::io(&temp.0, error))?;
    let compressed = HashingWriter::new(BufWriter::with_capacity(256 << 10, file));
    let gzip = GzBuilder::new().mtime(0).write(compressed, Compression::new(GZIP_LEVEL));
    let mut tar = tar::Builder::new(HashingWriter::new(gzip));
    for (path, entry) in entries {
        append_entry(&mut tar, path, entry, epoch)?;
    }
    let io_error = |error| Error::io(&temp.0, error);
    let (diff_id, _, gzip) = tar.into_inner().map_err(io_error)?.finish();
    let (digest, size, writer) = gzip.finish().map_err(io_error)?.finish();
    let file = writer.into_inner().map_err(|error| io_error(error.into_error()))?;
    file.sync_all().map_err(io_error)?;
    drop(file);
    let blob = blobs.join(&digest["sha256:".len()..]);
    fs::rename(&temp.0, &blob).map_err(|error| Error::io(&blob, error))?;
    Ok((Descriptor { media_type: OCI_LAYER_GZIP.to_owned(), digest, size }, diff_id))
}

/// Appends one entry with a USTAR header (a PAX extended header first when the path or link
/// target does not fit). Directories are named with a trailing `/`, as Docker's layers are.
fn append_entry<W: Write>(tar: &mut tar::Builder<W>, path: &str, entry: &Entry, epoch: u64) -> Result<(), Error> {
    let io_error = |error| Error::io(&entry.path, error);
    let mut header = tar::Header::new_ustar();
    header.set_mode(entry.mode);
    header.set_uid(u64::from(entry.uid));
    header.set_gid(u64::from(entry.gid));
    header.set_mtime(epoch);
    header.set_device_major(0).map_err(io_error)?;
    header.set_device_minor(0).map_err(io_error)?;
    let name = match entry.kind {
        EntryKind::Dir => format!("{path}/"),
        _ => path.to_owned(),
    };
    let mut pax = Vec::new();
    if !set_ustar_name(&mut header, &name) {
        pax_record(&mut pax, "path", &name);
    }
    match &entry.kind {
        EntryKind::Symlink(target) => {
            header.set_entry_type(tar::EntryType::Symlink);
            let field =
                &mut header.as_ustar_mut().ok_or_else(|| io_error(io::Error::other("no ustar header")))?.linkname;
            if target.len() <= field.len() && !target.contains('\0') {
                field[..target.len()].copy_from_slice(target.as_bytes());
            } else {
                pax_record(&mut pax, "linkpath", target);
            }
        }
        EntryKind::Dir => header.set_entry_type(tar::EntryType::Directory),
        EntryKind::Bytes(_) | EntryKind::HostFile(_) => header.set_entry_type(tar::EntryType::Regular),
    }
    if !pax.is_empty() {
        let mut pax_header = tar::Header::new_ustar();
        let base = name.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
        let base: String = base.chars().take(80).collect();
        set_ustar_name(&mut pax_header, &format!("PaxHeaders/{base}"));
        pax_header.set_entry_type(tar::EntryType::XHeader);
        pax_header.set_mode(0o644);
        pax_header.set_uid(0);
        pax_header.set_gid(0);
        pax_header.set_mtime(epoch);
        pax_header.set_size(pax.len() as u64);
        pax_header.set_cksum();
        tar.append(&pax_header, pax.as_slice()).map_err(io_error)?;
    }
    match &entry.kind {
        EntryKind::Dir | EntryKind::Symlink(_) => {
            header.set_size(0);
            header.set_cksum();
            tar.append(&header, io::empty()).map_err(io_error)
        }
        EntryKind::Bytes(bytes) => {
            header.set_size(bytes.len() as u64);
            header.set_cksum();
            tar.append(&header, bytes.as_slice()).map_err(io_error)
        }
        EntryKind::HostFile(source) => {
            let file = File::open(source).map_err(|error| Error::io(source, error))?;
            let size = file.metadata().map_err(|error| Error::io(source, error))?.len();
            header.set_size(size);
            header.set_cksum();
            let reader = ExactReader { inner: io::BufReader::with_capacity(256 << 10, file).take(size), left: size };
            tar.append(&header, reader).map_err(|error| Error::io(source, error))
        }
    }
}

/// Puts `name` into the USTAR name (and prefix) fields; false if it does not fit.
fn set_ustar_name(header: &mut tar::Header, name: &str) -> bool {
    let Some(ustar) = header.as_ustar_mut() else { return false };
    let bytes = name.as_bytes();
    if bytes.contains(&0) {
        return false;
    }
    if bytes.len() <= ustar.name.len() {
        ustar.name[..bytes.len()].copy_from_slice(bytes);
        return true;
    }
    // Split at a `/` so that the prefix fits in 155 bytes and the rest in 100.
    let split = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'/' && i <= ustar.prefix.len() && bytes.len() - i - 1 <= ustar.name.len())
        .map(|(i, _)| i)
        .find(|&i| i > 0 && i + 1 < bytes.len());
    match split {
        Some(i) => {
            ustar.prefix[..i].copy_from_slice(&bytes[..i]);
            ustar.name[..bytes.len() - i - 1].copy_from_slice(&bytes[i + 1..]);
            true
        }
        None => false,
    }
}

/// A PAX record: `<length> <key>=<value>\n`, the length counting itself.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &str) {
    let rest = key.len() + value.len() + 3; // space, '=', newline
    let mut length = rest + 1;
    while length != rest + length.to_string().len() {
        length = rest + length.to_string().len();
    }
    out.extend_from_slice(format!("{length} {key}={value}\n").as_bytes());
}

/// Fails if a host file yields fewer bytes than its size said (it changed while being written).
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while it was being read"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// `seconds` since the epoch as RFC 3339 UTC (`1970-01-01T00:00:00Z`).
fn rfc3339(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        for value in ["x", &"y".repeat(90), &"z".repeat(200), &"w".repeat(995)] {
            let mut out = Vec::new();
            pax_record(&mut out, "path", value);
            let text = String::from_utf8(out).unwrap();
            let (length, _) = text.split_once(' ').unwrap();
            assert_eq!(length.parse::<usize>().unwrap(), text.len(), "{text}");
        }
    }

    #[test]
    fn layers_get_parents_sorted_and_refuse_bad_paths() {
        let entries = [Entry::file("/usr/local/bin/app", "x", 0o755), Entry::dir("/data", 0o750).owner(1, 2)];
        let paths: Vec<String> = prepare_layer(&entries).unwrap().into_iter().map(|(path, _)| path).collect();
        assert_eq!(paths, ["data", "usr", "usr/local", "usr/local/bin", "usr/local/bin/app"]);
        assert!(prepare_layer(&[Entry::file("/a/../b", "", 0o644)]).is_err());
        assert!(prepare_layer(&[Entry::file("/", "", 0o644)]).is_err());
        assert!(prepare_layer(&[Entry::file("/a", "", 0o644), Entry::file("a", "", 0o644)]).is_err());
        assert!(prepare_layer(&[Entry::file("/a", "", 0o644), Entry::file("/a/b", "", 0o644)]).is_err());
    }

    #[test]
    fn long_names_split_into_prefix_or_go_to_pax() {
        let mut header = tar::Header::new_ustar();
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        assert!(set_ustar_name(&mut header, &long));
        assert_eq!(header.path().unwrap().to_str().unwrap(), long);
        let mut header = tar::Header::new_ustar();
        assert!(!set_ustar_name(&mut header, &"f".repeat(101)));
    }
}
