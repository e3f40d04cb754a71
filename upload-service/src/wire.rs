//! Types written to disk or sent over the wire, kept apart from the service's own types.

use serde::{Deserialize, Serialize};

/// One stored file, as `GET /files`, `POST /upload` and `PUT /files/{name}` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
    /// Lowercase hex; absent for a file placed in the data directory by other means.
    pub sha256: Option<String>,
    /// RFC 3339, UTC.
    pub uploaded_at: String,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable, machine-readable: `not_gzip`, `checksum_mismatch`, `too_large`, ...
    pub code: String,
    pub error: String,
}

/// The sidecar `.{name}.meta.json` stored beside each uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum Meta {
    #[serde(rename = "1")]
    V1(MetaV1),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaV1 {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_at: String,
    pub uploaded_by: String,
}
