//! Request handlers, one file per area.

pub mod download;
pub mod files;
pub mod ops;
pub mod upload;

use crate::error::ApiError;

/// Runs filesystem work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Storage(std::io::Error::other(e)))?
        .map_err(ApiError::Storage)
}
