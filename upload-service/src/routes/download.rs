//! `GET /download/{name}` (also `GET /files/{name}`): streamed, with ETag, conditional requests
//! and single byte ranges.

use std::io::SeekFrom;
use std::time::UNIX_EPOCH;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::names::FileName;
use crate::page::percent_encode;
use crate::server::AppState;
use crate::storage::StoredFile;

/// Read size for streaming a file out.
const READ_CHUNK: usize = 256 << 10;

pub async fn download(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = FileName::parse(&name)?;
    let store = state.store.clone();
    let opened = tokio::task::spawn_blocking(move || store.open(&name))
        .await
        .map_err(|e| ApiError::Storage(std::io::Error::other(e)))?;
    let (file, stored) = match opened {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::NotFound),
        Err(e) => return Err(ApiError::Storage(e)),
    };
    let size = stored.size;
    let etag = etag(&stored);
    let last_modified = httpdate::fmt_http_date(stored.modified);

    let mut response_headers = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            response_headers.insert(name, value);
        }
    };
    set(header::ETAG, &etag);
    set(header::LAST_MODIFIED, &last_modified);
    set(header::ACCEPT_RANGES, "bytes");
    set(header::CACHE_CONTROL, "private, no-cache");

    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| if_none_match(v, &etag)) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }

    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(range) if if_range_holds(&headers, &etag, &last_modified) => parse_range(range, size),
        _ => ByteRange::Whole,
    };
    let (status, start, length) = match range {
        ByteRange::Whole => (StatusCode::OK, 0, size),
        ByteRange::Part { start, end } => {
            set(header::CONTENT_RANGE, &format!("bytes {start}-{end}/{size}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        ByteRange::Unsatisfiable => {
            set(header::CONTENT_RANGE, &format!("bytes */{size}"));
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response());
        }
    };
    set(header::CONTENT_TYPE, "application/gzip");
    set(header::CONTENT_LENGTH, &length.to_string());
    set(header::CONTENT_DISPOSITION, &content_disposition(&stored.name));

    let mut file = tokio::fs::File::from_std(file);
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await.map_err(ApiError::Storage)?;
    }
    state.metrics.download_started(length);
    let body = Body::from_stream(ReaderStream::with_capacity(file.take(length), READ_CHUNK));
    Ok((status, response_headers, body).into_response())
}

/// Strong (the content's SHA-256) when the upload recorded it, weak otherwise.
fn etag(stored: &StoredFile) -> String {
    match &stored.sha256 {
        Some(sha256) => format!("\"{sha256}\""),
        None => {
            let modified = stored.modified.duration_since(UNIX_EPOCH).unwrap_or_default();
            format!("W/\"{:x}-{:x}\"", stored.size, modified.as_nanos())
        }
    }
}

/// `If-None-Match` uses weak comparison (RFC 9110 13.1.2).
fn if_none_match(header: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    header.trim() == "*" || header.split(',').any(|tag| opaque(tag) == opaque(etag))
}

/// A range applies unless `If-Range` names another version (strong comparison, RFC 9110 13.1.5).
fn if_range_holds(headers: &HeaderMap, etag: &str, last_modified: &str) -> bool {
    match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(value) => {
            let value = value.trim();
            if value.starts_with('"') { !etag.starts_with("W/") && value == etag } else { value == last_modified }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByteRange {
    Whole,
    /// Inclusive bounds, within the file.
    Part {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

/// One range of `bytes=a-b`, `bytes=a-` or `bytes=-n`. Several ranges, or a header that does not
/// parse, are ignored and the whole file is sent, as RFC 9110 14.2 permits.
fn parse_range(header: &str, size: u64) -> ByteRange {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return ByteRange::Whole;
    };
    if spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |text: &str| text.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        (true, true) => ByteRange::Whole,
        (true, false) => match number(last) {
            None => ByteRange::Whole,
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if size == 0 => ByteRange::Unsatisfiable,
            Some(suffix) => ByteRange::Part { start: size.saturating_sub(suffix), end: size - 1 },
        },
        (false, _) => {
            let Some(start) = number(first) else {
                return ByteRange::Whole;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match number(last) {
                    Some(end) if end >= start => end,
                    _ => return ByteRange::Whole,
                }
            };
            if start >= size { ByteRange::Unsatisfiable } else { ByteRange::Part { start, end: end.min(size - 1) } }
        }
    }
}

/// `attachment` with an ASCII fallback name and the exact name in RFC 6266 / 5987 form.
fn content_disposition(name: &str) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{}", percent_encode(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let check = |header: &str, size: u64, want: ByteRange| {
            assert_eq!(parse_range(header, size), want, "{header} of {size}");
        };
        use ByteRange::*;
        check("bytes=0-9", 100, Part { start: 0, end: 9 });
        check("bytes=90-", 100, Part { start: 90, end: 99 });
        check("bytes=90-1000", 100, Part { start: 90, end: 99 });
        check("bytes=-10", 100, Part { start: 90, end: 99 });
        check("bytes=-1000", 100, Part { start: 0, end: 99 });
        check("bytes=100-", 100, Unsatisfiable);
        check("bytes=-0", 100, Unsatisfiable);
        check("bytes=0-0", 0, Unsatisfiable);
        check("bytes=9-0", 100, Whole);
        check("bytes=0-1,5-6", 100, Whole);
        check("items=0-1", 100, Whole);
        check("bytes=a-b", 100, Whole);
        check("bytes=-", 100, Whole);
    }

    #[test]
    fn conditionals() {
        assert!(if_none_match("\"abc\"", "\"abc\""));
        assert!(if_none_match("W/\"abc\", \"x\"", "\"abc\""));
        assert!(if_none_match("*", "\"abc\""));
        assert!(!if_none_match("\"abd\"", "\"abc\""));
    }

    #[test]
    fn disposition() {
        assert_eq!(
            content_disposition("a \"b\" ü.tgz"),
            "attachment; filename=\"a _b_ _.tgz\"; filename*=UTF-8''a%20%22b%22%20%C3%BC.tgz"
        );
    }
}
