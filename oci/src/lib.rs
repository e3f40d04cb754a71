//! OCI images without a container daemon, std only.
//!
//! - [`Image::open`] reads an image from an OCI image-layout directory, an OCI archive (a tar of a
//!   layout) or a `docker save` archive, and streams its blobs with their digests checked
//!   ([`Image::open_blob`]), ready to push to a registry.
//! - [`ImageBuilder`] writes reproducible images: the same inputs give the same bytes and digest.
//! - [`context_digest`] hashes a docker build context as the build sees it (`.dockerignore` applied),
//!   and [`build`] runs whichever OCI builder is installed (Docker buildx, Podman, Buildah).

mod build;
mod digest;
mod dockerignore;
mod read;
mod spec;
mod write;

use std::path::PathBuf;
use std::process::ExitStatus;

pub use build::{build, build_using};
pub use dockerignore::{IgnorePatterns, context_digest};
pub use read::Image;
pub use spec::Descriptor;
pub use write::{Entry, Healthcheck, ImageBuilder};

/// Media types this crate reads and writes.
pub mod media_type {
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
}

/// What went wrong, in one line that names the file (or tool) concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    /// A file (or input) is not what it should be: a malformed or incomplete image, a bad ignore
    /// pattern, an invalid image entry.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// The image index has several images and none for linux/amd64.
    #[error("{}: no linux/amd64 image in the index (it has {})", path.display(), platforms.join(", "))]
    NoAmd64 { path: PathBuf, platforms: Vec<String> },
    /// [`build`] found none of the builders it knows on PATH.
    #[error(
        "no OCI image builder found on PATH: install Docker with the buildx plugin (`docker buildx`), \
         Podman (`podman`) or Buildah (`buildah`)"
    )]
    NoBuilder,
    /// A builder ran and failed; `stderr` is the tail of what it printed.
    #[error("`{command}` failed ({status}){}", stderr_suffix(stderr))]
    BuildFailed { command: String, status: ExitStatus, stderr: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Error {
        Error::Io { path: path.into(), error }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::Invalid { path: path.into(), message: message.into() }
    }
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() { String::new() } else { format!(":\n{stderr}") }
}
