//! The JSON documents of the OCI image spec (and Docker's equivalents), as read and as written.
//!
//! What is written goes through these structs (fields serialize in declaration order, maps are
//! `BTreeMap`s), never through `serde_json::Value`, whose key order depends on a cargo feature:
//! the bytes, hence the digests, must not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A blob as a manifest refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `sha256:<64 lowercase hex>`
    pub digest: String,
    pub size: u64,
}

/// A descriptor as found in an index or manifest: the media type may be missing (then it is
/// told by the document itself), and index entries carry a platform and annotations.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawDescriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(variant) if !variant.is_empty() => write!(f, "/{variant}"),
            _ => Ok(()),
        }
    }
}

/// An image index (or Docker manifest list), or an image manifest: both have a `schemaVersion`
/// and maybe a `mediaType`; which one it is shows in `manifests` versus `layers`.
#[derive(Debug, Deserialize)]
pub(crate) struct RawDocument {
    #[serde(rename = "schemaVersion")]
    pub schema_version: Option<u32>,
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    pub config: Option<RawDescriptor>,
    #[serde(default)]
    pub layers: Option<Vec<RawDescriptor>>,
}

/// The part of an image config that says what it runs on.
#[derive(Debug, Deserialize)]
pub(crate) struct RawConfigPlatform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// One image of a legacy `docker save` archive's `manifest.json`.
#[derive(Debug, Deserialize)]
pub(crate) struct LegacyManifestEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

// ---- written ----

#[derive(Serialize)]
pub(crate) struct ManifestOut<'a> {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType")]
    pub media_type: &'a str,
    pub config: &'a Descriptor,
    pub layers: &'a [Descriptor],
}

#[derive(Serialize)]
pub(crate) struct IndexOut<'a> {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType")]
    pub media_type: &'a str,
    pub manifests: Vec<IndexEntryOut<'a>>,
}

#[derive(Serialize)]
pub(crate) struct IndexEntryOut<'a> {
    #[serde(rename = "mediaType")]
    pub media_type: &'a str,
    pub digest: &'a str,
    pub size: u64,
    pub platform: Platform,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
pub(crate) struct ImageConfigOut<'a> {
    pub created: String,
    pub architecture: &'a str,
    pub os: &'a str,
    pub config: &'a ContainerConfig,
    pub rootfs: RootFsOut<'a>,
}

#[derive(Serialize)]
pub(crate) struct RootFsOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub diff_ids: &'a [String],
}

/// `{}`: the value of the set-like maps `ExposedPorts` and `Volumes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Empty {}

/// The `config` of an image config: what the container runs and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ContainerConfig {
    #[serde(rename = "User", skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(rename = "ExposedPorts", skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, Empty>,
    #[serde(rename = "Env", skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(rename = "Entrypoint", skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Healthcheck", skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthcheckOut>,
    #[serde(rename = "Volumes", skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Empty>,
    #[serde(rename = "WorkingDir", skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(rename = "Labels", skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "StopSignal", skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
}

/// Docker's `Healthcheck` extension of the image config; durations in nanoseconds, zero omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct HealthcheckOut {
    #[serde(rename = "Test")]
    pub test: Vec<String>,
    #[serde(rename = "Interval", skip_serializing_if = "is_zero")]
    pub interval: u64,
    #[serde(rename = "Timeout", skip_serializing_if = "is_zero")]
    pub timeout: u64,
    #[serde(rename = "StartPeriod", skip_serializing_if = "is_zero")]
    pub start_period: u64,
    #[serde(rename = "StartInterval", skip_serializing_if = "is_zero")]
    pub start_interval: u64,
    #[serde(rename = "Retries", skip_serializing_if = "is_zero_u32")]
    pub retries: u32,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn is_zero_u32(value: &u32) -> bool {
    *value == 0
}
