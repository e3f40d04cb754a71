//! Reading images: OCI layouts (directories or tar archives) and `docker save` archives.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::digest::{self, VerifyingReader};
use crate::media_type::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_MANIFEST,
};
use crate::spec::{
    Descriptor, LegacyManifestEntry, ManifestOut, Platform, RawConfigPlatform, RawDescriptor, RawDocument,
};

/// The largest JSON document (index, manifest, config) read whole.
const MAX_JSON_BYTES: u64 = 16 << 20;
/// How deep indexes may nest.
const MAX_INDEX_DEPTH: usize = 8;
const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// One image (one platform) of an image layout or archive: its manifest, and a way to stream its
/// blobs.
#[derive(Debug, Clone)]
pub struct Image {
    /// The exact manifest bytes to push (`digest` is their sha256).
    pub manifest: Vec<u8>,
    /// `application/vnd.oci.image.manifest.v1+json` or Docker's v2 schema 2 manifest type.
    pub manifest_media_type: String,
    /// `sha256:...` of `manifest`.
    pub digest: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    store: Store,
    /// Where each blob of the image is in the store, by digest.
    locations: HashMap<String, String>,
}

impl Image {
    /// Opens an OCI image-layout directory, an OCI archive (a tar of a layout, as
    /// `docker buildx build --output type=oci`, `podman save --format oci-archive` or
    /// `buildah push ... oci-archive:` write) or a `docker save` archive.
    ///
    /// An index with several images yields the linux/amd64 one (nested indexes are followed;
    /// attestation manifests are not images). A legacy `docker save` archive (no `index.json`,
    /// only `manifest.json`) gets an OCI manifest built from its config and layer files.
    ///
    /// The manifest and config are read and their digests checked; every blob must be present with
    /// its size; layers are checked as they are streamed ([`Image::open_blob`]).
    pub fn open(path: &Path) -> Result<Image, Error> {
        let metadata = fs::metadata(path).map_err(|error| Error::io(path, error))?;
        let store = if metadata.is_dir() {
            Store::Dir(path.to_owned())
        } else {
            let mut magic = [0u8; 4];
            let mut file = File::open(path).map_err(|error| Error::io(path, error))?;
            let n = read_up_to(&mut file, &mut magic).map_err(|error| Error::io(path, error))?;
            if magic[..n].starts_with(&[0x1f, 0x8b]) {
                return Err(Error::invalid(
                    path,
                    "gzip-compressed: an image archive is a plain tar, decompress it first (gunzip)",
                ));
            }
            Store::Tar { path: path.to_owned(), files: index_tar(path, file)? }
        };
        if store.size("index.json").is_some() {
            open_layout(store)
        } else if store.size("manifest.json").is_some() {
            open_docker_save(store)
        } else {
            let what =
                if metadata.is_dir() { "an OCI layout or docker save directory" } else { "an OCI or docker archive" };
            Err(Error::invalid(path, format!("no index.json or manifest.json: not {what}")))
        }
    }

    /// The layout directory or archive the image was read from.
    pub fn path(&self) -> &Path {
        self.store.origin()
    }

    /// The config, then the layers in order.
    pub fn blobs(&self) -> Vec<&Descriptor> {
        std::iter::once(&self.config).chain(&self.layers).collect()
    }

    /// A streaming reader of one of the image's blobs (a tar archive's entry is read in place).
    /// At its end the reader checks the blob's size and sha256 and fails with
    /// [`io::ErrorKind::InvalidData`], naming the digest, if either is wrong.
    pub fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send>, Error> {
        let Some(location) = self.locations.get(&descriptor.digest) else {
            return Err(Error::invalid(
                self.path(),
                format!("blob {} is not part of image {}", descriptor.digest, self.digest),
            ));
        };
        let reader = self.store.open(location)?;
        let limited = reader.take(descriptor.size.saturating_add(1));
        Ok(Box::new(VerifyingReader::new(limited, descriptor.size, descriptor.digest.clone())))
    }

    /// The image config, parsed: `config.Env`, `config.Entrypoint`, `config.User`, `rootfs`...
    pub fn config_json(&self) -> Result<serde_json::Value, Error> {
        if self.config.size > MAX_JSON_BYTES {
            return Err(Error::invalid(self.path(), format!("config {}: too large", self.config.digest)));
        }
        let mut bytes = Vec::new();
        self.open_blob(&self.config)?
            .read_to_end(&mut bytes)
            .map_err(|error| Error::invalid(self.path(), error.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|error| {
            Error::invalid(self.path(), format!("config {}: not valid JSON: {error}", self.config.digest))
        })
    }
}

/// Where the files of a layout or `docker save` output are: a directory, or a tar archive whose
/// regular files were indexed (name to data offset and size) in one pass.
#[derive(Debug, Clone)]
enum Store {
    Dir(PathBuf),
    Tar { path: PathBuf, files: HashMap<String, TarFile> },
}

#[derive(Debug, Clone, Copy)]
struct TarFile {
    offset: u64,
    size: u64,
}

impl Store {
    fn origin(&self) -> &Path {
        match self {
            Store::Dir(path) | Store::Tar { path, .. } => path,
        }
    }

    /// The size of a regular file of the store, `None` if there is none by that name.
    fn size(&self, name: &str) -> Option<u64> {
        match self {
            Store::Dir(root) => fs::metadata(root.join(name)).ok().filter(|m| m.is_file()).map(|m| m.len()),
            Store::Tar { files, .. } => files.get(name).map(|file| file.size),
        }
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send>, Error> {
        match self {
            Store::Dir(root) => {
                let path = root.join(name);
                let file = File::open(&path).map_err(|error| Error::io(&path, error))?;
                Ok(Box::new(io::BufReader::with_capacity(256 << 10, file)))
            }
            Store::Tar { path, files } => {
                let Some(entry) = files.get(name) else {
                    return Err(Error::invalid(path, format!("{name}: not in the archive")));
                };
                let mut file = File::open(path).map_err(|error| Error::io(path, error))?;
                file.seek(SeekFrom::Start(entry.offset)).map_err(|error| Error::io(path, error))?;
                Ok(Box::new(io::BufReader::with_capacity(256 << 10, file).take(entry.size)))
            }
        }
    }

    fn invalid(&self, message: impl Into<String>) -> Error {
        Error::invalid(self.origin(), message)
    }

    /// A small file (a JSON document) read whole.
    fn read_small(&self, name: &str) -> Result<Vec<u8>, Error> {
        let Some(size) = self.size(name) else {
            return Err(self.invalid(format!("{name} is missing")));
        };
        if size > MAX_JSON_BYTES {
            return Err(self.invalid(format!("{name}: {size} bytes, too large for a JSON document")));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        self.open(name)?.read_to_end(&mut bytes).map_err(|error| Error::io(self.origin(), error))?;
        Ok(bytes)
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, name: &str, bytes: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(bytes).map_err(|error| self.invalid(format!("{name}: {error}")))
    }
}

/// Reads a small blob whole, checking its size and digest.
fn read_blob(store: &Store, name: &str, digest: &str, size: u64) -> Result<Vec<u8>, Error> {
    if size > MAX_JSON_BYTES {
        return Err(store.invalid(format!("{digest}: {size} bytes, too large for a JSON document")));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    VerifyingReader::new(store.open(name)?.take(size + 1), size, digest.to_owned())
        .read_to_end(&mut bytes)
        .map_err(|error| store.invalid(error.to_string()))?;
    Ok(bytes)
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// A path inside an archive or layout, made relative and without `.` or `..` components; `None` if
/// it is empty or climbs out.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    if parts.is_empty() { None } else { Some(parts.join("/")) }
}

/// Indexes the regular files of a tar archive (seeking over their data); hard and symbolic links
/// resolve to the file they lead to.
fn index_tar(path: &Path, mut file: File) -> Result<HashMap<String, TarFile>, Error> {
    file.seek(SeekFrom::Start(0)).map_err(|error| Error::io(path, error))?;
    let mut archive = tar::Archive::new(file);
    let not_tar = |error: io::Error| Error::invalid(path, format!("not a readable tar archive: {error}"));
    let mut files = HashMap::new();
    let mut links = HashMap::new();
    for entry in archive.entries_with_seek().map_err(not_tar)? {
        let entry = entry.map_err(not_tar)?;
        let Some(name) = normalize(&String::from_utf8_lossy(&entry.path_bytes())) else { continue };
        let kind = entry.header().entry_type();
        if kind.is_file() || kind == tar::EntryType::Continuous {
            files.insert(name.clone(), TarFile { offset: entry.raw_file_position(), size: entry.size() });
            links.remove(&name);
        } else if kind.is_symlink() || kind.is_hard_link() {
            let Some(target) = entry.link_name_bytes() else { continue };
            let target = String::from_utf8_lossy(&target);
            let target = if kind.is_hard_link() || target.starts_with('/') {
                normalize(&target)
            } else {
                let parent = name.rsplit_once('/').map_or("", |(parent, _)| parent);
                normalize(&format!("{parent}/{target}"))
            };
            if let Some(target) = target {
                files.remove(&name);
                links.insert(name, target);
            }
        }
    }
    // A link resolves to the file it leads to, through at most a few more links.
    let mut resolved = Vec::new();
    for (name, first) in &links {
        let mut target = first;
        for _ in 0..16 {
            if let Some(file) = files.get(target) {
                resolved.push((name.clone(), *file));
                break;
            }
            match links.get(target) {
                Some(next) => target = next,
                None => break,
            }
        }
    }
    files.extend(resolved);
    Ok(files)
}

/// A manifest an index refers to.
#[derive(Debug, Clone)]
struct Candidate {
    digest: String,
    size: u64,
    media_type: Option<String>,
    platform: Option<Platform>,
}

fn blob_name(store: &Store, digest: &str) -> Result<String, Error> {
    let hex = digest::sha256_hex(digest).map_err(|message| store.invalid(message))?;
    Ok(format!("blobs/sha256/{hex}"))
}

/// What kind of document a descriptor points at.
enum Kind {
    Index,
    Manifest,
    Other,
}

fn kind_of(media_type: &str) -> Kind {
    match media_type {
        OCI_INDEX | DOCKER_MANIFEST_LIST => Kind::Index,
        OCI_MANIFEST | DOCKER_MANIFEST => Kind::Manifest,
        _ => Kind::Other,
    }
}

fn open_layout(store: Store) -> Result<Image, Error> {
    let bytes = store.read_small("index.json")?;
    let index: RawDocument = store.parse("index.json", &bytes)?;
    let Some(manifests) = index.manifests else {
        return Err(store.invalid("index.json: no \"manifests\": not an image index"));
    };
    let mut candidates = Vec::new();
    collect(&store, &manifests, 0, &mut candidates)?;
    let mut images: Vec<Candidate> = Vec::new();
    for candidate in candidates {
        if !images.iter().any(|image| image.digest == candidate.digest) {
            images.push(candidate);
        }
    }
    let chosen = match images.len() {
        0 => return Err(store.invalid("index.json lists no image manifest")),
        1 => images.remove(0),
        _ => choose_amd64(&store, images)?,
    };
    load_manifest(store, &chosen)
}

/// Gathers the image manifests of an index, following nested indexes; attestation manifests
/// (BuildKit's provenance and SBOM, platform unknown/unknown) are not images.
fn collect(store: &Store, descriptors: &[RawDescriptor], depth: usize, out: &mut Vec<Candidate>) -> Result<(), Error> {
    if depth > MAX_INDEX_DEPTH {
        return Err(store.invalid(format!("indexes nest deeper than {MAX_INDEX_DEPTH} levels")));
    }
    for descriptor in descriptors {
        let is_attestation = descriptor
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get("vnd.docker.reference.type"))
            .is_some_and(|kind| kind == "attestation-manifest");
        let is_unknown_platform =
            descriptor.platform.as_ref().is_some_and(|p| p.os == "unknown" && p.architecture == "unknown");
        if is_attestation || is_unknown_platform {
            continue;
        }
        let name = blob_name(store, &descriptor.digest)?;
        let present = store.size(&name).is_some();
        let kind = match descriptor.media_type.as_deref() {
            Some(media_type) => kind_of(media_type),
            // No media type in the descriptor: the document says what it is.
            None if present => {
                let bytes = read_blob(store, &name, &descriptor.digest, descriptor.size)?;
                let document: RawDocument = store.parse(&descriptor.digest, &bytes)?;
                match (document.media_type.as_deref().map(kind_of), document.manifests.is_some()) {
                    (Some(Kind::Index), _) | (None, true) => Kind::Index,
                    _ => Kind::Manifest,
                }
            }
            None => Kind::Other,
        };
        match kind {
            Kind::Index => {
                if !present {
                    return Err(store.invalid(format!("index {} is missing ({name})", descriptor.digest)));
                }
                let bytes = read_blob(store, &name, &descriptor.digest, descriptor.size)?;
                let nested: RawDocument = store.parse(&descriptor.digest, &bytes)?;
                collect(store, nested.manifests.as_deref().unwrap_or_default(), depth + 1, out)?;
            }
            Kind::Manifest => out.push(Candidate {
                digest: descriptor.digest.clone(),
                size: descriptor.size,
                media_type: descriptor.media_type.clone(),
                platform: descriptor.platform.clone(),
            }),
            Kind::Other => {}
        }
    }
    Ok(())
}

/// The linux/amd64 image among several (preferring no variant, or `v1`, over others), its
/// platform read from its config when the index does not say.
fn choose_amd64(store: &Store, images: Vec<Candidate>) -> Result<Candidate, Error> {
    let mut found: Vec<(Candidate, Option<Platform>)> = Vec::new();
    for image in images {
        let platform = match &image.platform {
            Some(platform) => Some(platform.clone()),
            None => platform_from_config(store, &image),
        };
        found.push((image, platform));
    }
    let is_amd64 = |p: &Option<Platform>| p.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == "amd64");
    let plain_variant =
        |p: &Option<Platform>| p.as_ref().is_some_and(|p| matches!(p.variant.as_deref(), None | Some("") | Some("v1")));
    let best = found
        .iter()
        .position(|(_, p)| is_amd64(p) && plain_variant(p))
        .or_else(|| found.iter().position(|(_, p)| is_amd64(p)));
    match best {
        Some(i) => Ok(found.swap_remove(i).0),
        None => {
            let mut platforms: Vec<String> = found
                .iter()
                .map(|(_, p)| p.as_ref().map_or("unknown platform".to_owned(), |p| p.to_string()))
                .collect();
            platforms.dedup();
            Err(Error::NoAmd64 { path: store.origin().to_owned(), platforms })
        }
    }
}

fn platform_from_config(store: &Store, image: &Candidate) -> Option<Platform> {
    let name = blob_name(store, &image.digest).ok()?;
    let manifest: RawDocument =
        serde_json::from_slice(&read_blob(store, &name, &image.digest, image.size).ok()?).ok()?;
    let config = manifest.config?;
    let name = blob_name(store, &config.digest).ok()?;
    let config: RawConfigPlatform =
        serde_json::from_slice(&read_blob(store, &name, &config.digest, config.size).ok()?).ok()?;
    Some(Platform { architecture: config.architecture, os: config.os, variant: config.variant })
}

fn load_manifest(store: Store, chosen: &Candidate) -> Result<Image, Error> {
    let digest = &chosen.digest;
    let name = blob_name(&store, digest)?;
    if store.size(&name).is_none() {
        return Err(store.invalid(format!("manifest {digest} is missing ({name})")));
    }
    let manifest = read_blob(&store, &name, digest, chosen.size)?;
    let document: RawDocument = store.parse(digest, &manifest)?;
    if document.schema_version != Some(2) {
        return Err(store.invalid(format!(
            "manifest {digest}: schemaVersion {} is not supported (only 2)",
            document.schema_version.map_or("missing".to_owned(), |v| v.to_string())
        )));
    }
    let media_type = chosen.media_type.clone().or(document.media_type).unwrap_or_else(|| OCI_MANIFEST.to_owned());
    if !matches!(kind_of(&media_type), Kind::Manifest) {
        return Err(store.invalid(format!("manifest {digest}: media type {media_type} is not an image manifest")));
    }
    let (Some(config), Some(layers)) = (document.config, document.layers) else {
        return Err(store.invalid(format!("manifest {digest}: no config or no layers: not an image manifest")));
    };
    let descriptor = |raw: RawDescriptor, what: &str| -> Result<Descriptor, Error> {
        let Some(media_type) = raw.media_type else {
            return Err(store.invalid(format!("manifest {digest}: {what} has no mediaType")));
        };
        Ok(Descriptor { media_type, digest: raw.digest, size: raw.size })
    };
    let config = descriptor(config, "the config")?;
    let layers = layers
        .into_iter()
        .enumerate()
        .map(|(i, layer)| descriptor(layer, &format!("layer {}", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut locations = HashMap::new();
    for (i, blob) in std::iter::once(&config).chain(&layers).enumerate() {
        let what = if i == 0 { "config".to_owned() } else { format!("layer {i}") };
        let name = blob_name(&store, &blob.digest)?;
        check_present(&store, &name, &blob.digest, blob.size, &what)?;
        locations.insert(blob.digest.clone(), name);
    }
    read_blob(&store, &locations[&config.digest], &config.digest, config.size)?;
    Ok(Image { manifest, manifest_media_type: media_type, digest: digest.clone(), config, layers, store, locations })
}

fn check_present(store: &Store, name: &str, digest: &str, size: u64, what: &str) -> Result<(), Error> {
    match store.size(name) {
        None => Err(store.invalid(format!("{what} {digest} is missing ({name}): the image is incomplete"))),
        Some(actual) if actual != size => {
            Err(store.invalid(format!("{what} {digest}: {name} is {actual} bytes, the manifest says {size}")))
        }
        Some(_) => Ok(()),
    }
}

/// A legacy `docker save` archive: `manifest.json` names each image's config and layer files;
/// the manifest is built here (OCI media types; the layer type by its magic bytes).
fn open_docker_save(store: Store) -> Result<Image, Error> {
    let bytes = store.read_small("manifest.json")?;
    let entries: Vec<LegacyManifestEntry> = store.parse("manifest.json", &bytes)?;
    let path_in =
        |name: &str| normalize(name).ok_or_else(|| store.invalid(format!("manifest.json: bad path {name:?}")));
    let mut images = Vec::new();
    for entry in entries {
        let config_name = path_in(&entry.config)?;
        let config = store.read_small(&config_name)?;
        let platform: RawConfigPlatform = store.parse(&config_name, &config)?;
        images.push((entry, config_name, config, platform));
    }
    let chosen = match images.len() {
        0 => return Err(store.invalid("manifest.json lists no image")),
        1 => 0,
        _ => match images.iter().position(|(_, _, _, p)| p.os == "linux" && p.architecture == "amd64") {
            Some(i) => i,
            None => {
                let platforms = images
                    .iter()
                    .map(|(entry, _, _, p)| {
                        let tags = entry.repo_tags.as_deref().unwrap_or_default().join(" ");
                        format!("{}/{} {tags}", p.os, p.architecture).trim_end().to_owned()
                    })
                    .collect();
                return Err(Error::NoAmd64 { path: store.origin().to_owned(), platforms });
            }
        },
    };
    let (entry, config_name, config_bytes, _) = images.swap_remove(chosen);
    let config = Descriptor {
        media_type: OCI_CONFIG.to_owned(),
        digest: digest::sha256(&config_bytes),
        size: config_bytes.len() as u64,
    };
    let mut locations = HashMap::from([(config.digest.clone(), config_name)]);
    let mut layers = Vec::new();
    for layer in &entry.layers {
        let name = path_in(layer)?;
        let Some(size) = store.size(&name) else {
            return Err(store.invalid(format!("manifest.json: layer {name} is missing")));
        };
        let mut magic = [0u8; 4];
        let n = read_up_to(&mut store.open(&name)?, &mut magic).map_err(|error| Error::io(store.origin(), error))?;
        let media_type = match &magic[..n] {
            [0x1f, 0x8b, ..] => OCI_LAYER_GZIP,
            [0x28, 0xb5, 0x2f, 0xfd] => OCI_LAYER_ZSTD,
            _ => OCI_LAYER_TAR,
        };
        // A layer stored as its blob is named by its digest; others are hashed.
        let digest =
            match name.strip_prefix("blobs/sha256/").filter(|hex| digest::sha256_hex(&format!("sha256:{hex}")).is_ok())
            {
                Some(hex) => format!("sha256:{hex}"),
                None => {
                    let (digest, _) = digest::hash_reader(store.open(&name)?)
                        .map_err(|error| store.invalid(format!("{name}: {error}")))?;
                    digest
                }
            };
        locations.insert(digest.clone(), name);
        layers.push(Descriptor { media_type: media_type.to_owned(), digest, size });
    }
    let manifest = serde_json::to_vec(&ManifestOut {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        config: &config,
        layers: &layers,
    })
    .map_err(|error| store.invalid(format!("writing the manifest: {error}")))?;
    Ok(Image {
        digest: digest::sha256(&manifest),
        manifest,
        manifest_media_type: OCI_MANIFEST.to_owned(),
        config,
        layers,
        store,
        locations,
    })
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn archive_paths_are_normalized() {
        assert_eq!(normalize("./blobs/sha256/ab").as_deref(), Some("blobs/sha256/ab"));
        assert_eq!(normalize("/index.json").as_deref(), Some("index.json"));
        assert_eq!(normalize("a/../b").as_deref(), Some("b"));
        assert_eq!(normalize("../etc/passwd"), None);
        assert_eq!(normalize("./"), None);
    }
}
