//! `GET /` (the page), `GET /files` (the list) and `DELETE /files/{name}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{Caller, Writer};
use crate::error::ApiError;
use crate::names::FileName;
use crate::routes::blocking;
use crate::server::AppState;
use crate::wire::FileEntry;

pub async fn index(State(state): State<AppState>, caller: Caller) -> Response {
    state.page.render(&caller, state.config.max_bytes)
}

/// JSON (an array of [`FileEntry`], newest first) unless the client prefers HTML.
pub async fn list(State(state): State<AppState>, _caller: Caller, headers: HeaderMap) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let files = blocking(move || store.list()).await?;
    if prefers_html(&headers) {
        return Ok(state.page.file_list(&files));
    }
    let entries: Vec<FileEntry> = files.iter().map(|f| f.entry()).collect();
    let mut response = Json(entries).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

pub async fn delete(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = FileName::parse(&name)?;
    let store = state.store.clone();
    let target = name.clone();
    if let Some(size) = blocking(move || store.delete(&target)).await? {
        state.space.stored_removed(size);
        state.metrics.deleted();
        tracing::info!(file = %name, by = %caller.user, "deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Whether the `Accept` header ranks `text/html` above `application/json`. Without a header, or
/// with `*/*` alone, the answer is JSON.
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let accept = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    quality(&accept, "text", "html") > quality(&accept, "application", "json")
}

/// The q-value `accept` gives `kind/subtype`: from its most specific matching range.
fn quality(accept: &str, kind: &str, subtype: &str) -> f32 {
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let Some((k, s)) = media.split_once('/') else {
            continue;
        };
        let specificity = match (k.trim(), s.trim()) {
            (k, s) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) => 2,
            (k, "*") if k.eq_ignore_ascii_case(kind) => 1,
            ("*", "*") => 0,
            _ => continue,
        };
        let q =
            parts.filter_map(|p| p.trim().strip_prefix("q=")).find_map(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(accept: Option<&str>, html: bool) {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        }
        assert_eq!(prefers_html(&headers), html, "{accept:?}");
    }

    #[test]
    fn negotiation() {
        check(None, false);
        check(Some("*/*"), false);
        check(Some("application/json"), false);
        check(Some("text/html"), true);
        check(Some("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"), true);
        check(Some("application/json, text/html;q=0.5"), false);
        check(Some("text/*"), true);
        check(Some("text/html;q=0, */*"), false);
    }
}
