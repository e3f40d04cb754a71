//! Every way a request fails, and the response it becomes.

use std::io;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::checksum::ChecksumError;
use crate::names::NameError;
use crate::receive::ReceiveError;
use crate::sniff::SniffError;
use crate::space::SpaceError;
use crate::storage::CommitError;
use crate::wire::ErrorBody;

pub const REALM: &str = "Basic realm=\"upload-service\", charset=\"UTF-8\"";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthorized,
    #[error("this user may not change files")]
    Forbidden,
    #[error("cross-site requests may not change files")]
    CrossSite,
    #[error("too many failed logins from your address; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("no such file")]
    NotFound,
    #[error("{0}")]
    BadName(#[from] NameError),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    #[error("a file named {0:?} already exists")]
    Conflict(String),
    #[error("the file is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("too many uploads in progress; retry shortly")]
    Busy,
    #[error("the form has more than {0} parts")]
    TooManyParts(usize),
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error("storage error")]
    Storage(#[source] io::Error),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest { code, message: message.into() }
    }

    /// Stable label for responses and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::CrossSite => "cross_site",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::NotFound => "not_found",
            ApiError::BadName(NameError::NotTgz) => "not_tgz_name",
            ApiError::BadName(_) => "bad_name",
            ApiError::BadRequest { code, .. } => code,
            ApiError::Receive(e) => match e {
                ReceiveError::TooLarge { .. } => "too_large",
                ReceiveError::Content(SniffError::NotGzip) => "not_gzip",
                ReceiveError::Content(SniffError::CorruptGzip) => "corrupt_gzip",
                ReceiveError::Content(SniffError::NotTar) => "not_tar",
                ReceiveError::Checksum(ChecksumError::Mismatch { .. }) => "checksum_mismatch",
                ReceiveError::Checksum(ChecksumError::Malformed { .. }) => "bad_checksum_header",
                ReceiveError::Aborted(_) => "aborted",
                ReceiveError::IdleTimeout(_) => "idle_timeout",
                ReceiveError::Space(e) => space_code(e),
                ReceiveError::Io(e) if is_storage_full(e) => "storage_full",
                ReceiveError::Io(_) => "storage_error",
            },
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "too_large",
            ApiError::Busy => "busy",
            ApiError::TooManyParts(_) => "too_many_parts",
            ApiError::Space(e) => space_code(e),
            ApiError::Storage(e) if is_storage_full(e) => "storage_full",
            ApiError::Storage(_) => "storage_error",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::CrossSite => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadName(_) | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Receive(e) => match e {
                ReceiveError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                ReceiveError::Content(_) | ReceiveError::Checksum(_) | ReceiveError::Aborted(_) => {
                    StatusCode::BAD_REQUEST
                }
                ReceiveError::IdleTimeout(_) => StatusCode::REQUEST_TIMEOUT,
                ReceiveError::Space(_) => StatusCode::INSUFFICIENT_STORAGE,
                ReceiveError::Io(e) => storage_status(e),
            },
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyParts(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Space(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Storage(e) => storage_status(e),
        }
    }
}

impl From<CommitError> for ApiError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Conflict(name) => ApiError::Conflict(name),
            CommitError::Io(e) => ApiError::Storage(e),
        }
    }
}

impl From<ChecksumError> for ApiError {
    fn from(e: ChecksumError) -> Self {
        ApiError::Receive(ReceiveError::Checksum(e))
    }
}

fn space_code(e: &SpaceError) -> &'static str {
    match e {
        SpaceError::Quota { .. } => "quota_exceeded",
        SpaceError::LowSpace => "insufficient_storage",
    }
}

fn is_storage_full(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

fn storage_status(e: &io::Error) -> StatusCode {
    if is_storage_full(e) { StatusCode::INSUFFICIENT_STORAGE } else { StatusCode::INTERNAL_SERVER_ERROR }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            // The details (paths, errno) go to the log, not to the client.
            ApiError::Storage(e) | ApiError::Receive(ReceiveError::Io(e)) => {
                tracing::error!(error = %e, "storage error");
                "storage error".to_owned()
            }
            _ => self.to_string(),
        };
        let body = ErrorBody { code: self.code().to_owned(), error: message };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
        }
        match self {
            ApiError::Busy => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            ApiError::RateLimited { retry_after_secs } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            _ => {}
        }
        response
    }
}
