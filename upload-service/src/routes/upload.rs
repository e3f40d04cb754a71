//! `POST /upload` (multipart, one or many files) and `PUT /files/{name}` (raw body).

use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt;

use crate::auth::Writer;
use crate::checksum::Expected;
use crate::error::ApiError;
use crate::names::FileName;
use crate::page::percent_encode;
use crate::receive::{self, ChunkSource, Limits, ReceiveError, Received};
use crate::routes::blocking;
use crate::server::AppState;
use crate::space::Reservation;
use crate::storage::{OnConflict, StoredFile};
use crate::wire::FileEntry;

/// Every file part of the form is stored, whatever its field name (the original form used
/// `diag`). Parts are received to temporary files first and only committed once all of them are
/// complete and verified: a failed request stores nothing. A name already taken gets a `-N`
/// suffix; the response lists the names used. The form's length counts against the storage limits
/// before it is read, and its files' bytes as they arrive.
pub async fn post_upload(
    State(state): State<AppState>,
    Writer(caller): Writer,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Vec<FileEntry>>, ApiError> {
    let started = Instant::now();
    let Ok(_slot) = state.upload_slots.try_acquire() else {
        if let Ok(mut multipart) = multipart
            && declared_length(&headers).is_some_and(|length| length <= receive::DRAIN_BYTES)
        {
            drain_multipart(&mut multipart).await;
        }
        return Err(failed(&state, ApiError::Busy));
    };
    let _in_progress = state.metrics.upload_started();
    let mut multipart = multipart.map_err(|e| failed(&state, ApiError::bad_request("not_multipart", e.body_text())))?;
    let declared = declared_length(&headers);
    if let Err(e) = state.space.admit(declared.unwrap_or(0)).await {
        if declared.is_some_and(|length| length <= receive::DRAIN_BYTES) {
            drain_multipart(&mut multipart).await;
        }
        return Err(failed(&state, e.into()));
    }
    let mut reservation = state.space.reserve();
    let received = match receive_parts(&state, &headers, &mut multipart, &mut reservation).await {
        Ok(received) => received,
        Err(Refused { error, drain_rest }) => {
            if drain_rest {
                drain_multipart(&mut multipart).await;
            }
            return Err(failed(&state, error));
        }
    };
    let mut entries = Vec::with_capacity(received.len());
    for (name, upload) in received {
        let stored =
            commit(&state, upload, name, OnConflict::Suffix, &caller.user).await.map_err(|e| failed(&state, e))?;
        state.space.stored_added(stored.size);
        state.metrics.upload_stored(stored.size, started.elapsed());
        entries.push(stored.entry());
    }
    Ok(Json(entries))
}

/// A form refused part-way, and whether the rest of it should be read before answering.
struct Refused {
    error: ApiError,
    drain_rest: bool,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        let drain_rest = client_still_sending(&error);
        Refused { error, drain_rest }
    }
}

async fn receive_parts(
    state: &AppState,
    headers: &HeaderMap,
    multipart: &mut Multipart,
    space: &mut Reservation,
) -> Result<Vec<(FileName, Received)>, Refused> {
    // Checksum headers on the request itself describe the one file it carries.
    let request_expected = Expected::from_headers(headers).map_err(ApiError::from)?;
    let mut received: Vec<(FileName, Received)> = Vec::new();
    let mut parts = 0;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        parts += 1;
        if parts > state.config.max_parts {
            return Err(Refused::from(ApiError::TooManyParts(state.config.max_parts)));
        }
        let Some(file_name) = field.file_name().filter(|name| !name.is_empty()) else {
            // A text field, or a file input left empty.
            continue;
        };
        let name = FileName::parse_upload(file_name).map_err(ApiError::from)?;
        let part_expected = Expected::from_headers(field.headers()).map_err(ApiError::from)?;
        let expected = if !part_expected.is_empty() {
            part_expected
        } else if received.is_empty() {
            request_expected
        } else if !request_expected.is_empty() {
            return Err(Refused::from(ApiError::bad_request(
                "ambiguous_checksum",
                "checksum headers on the request apply to a single file; with several files, \
                 put them on each part",
            )));
        } else {
            Expected::default()
        };
        let mut source = FieldSource(field);
        match ingest(state, &mut source, expected, space).await {
            Ok(upload) => received.push((name, upload)),
            Err(error) => {
                // The rest of this part first, counted against the drain limit.
                let drain_rest = client_still_sending(&error) && receive::drain(&mut source).await;
                return Err(Refused { error, drain_rest });
            }
        }
    }
    if received.is_empty() {
        return Err(Refused::from(ApiError::bad_request(
            "no_file",
            "the form has no file part (use a field such as diag=@file.tgz)",
        )));
    }
    Ok(received)
}

/// Stores the body under exactly `name`: 409 if the name is taken, 413 if the declared length is
/// over the limit, 507 if it would not fit the storage limits (all checked before the body is
/// read, so a client sending `Expect: 100-continue` does not send it in vain).
pub async fn put_file(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let _in_progress = state.metrics.upload_started();
    let slot = state.upload_slots.try_acquire();
    let declared = declared_length(&headers);
    let mut source = BodySource(body);
    let result = async {
        if slot.is_err() {
            return Err(ApiError::Busy);
        }
        let name = FileName::parse_upload(&name)?;
        let expected = Expected::from_headers(&headers)?;
        if declared.is_some_and(|length| length > state.config.max_bytes) {
            return Err(ApiError::TooLarge(state.config.max_bytes));
        }
        let store = state.store.clone();
        let probe = name.clone();
        if blocking(move || Ok(store.exists(&probe))).await? {
            return Err(ApiError::Conflict(name.to_string()));
        }
        state.space.admit(declared.unwrap_or(0)).await?;
        let mut reservation = state.space.reserve();
        let upload = ingest(&state, &mut source, expected, &mut reservation).await?;
        let stored = commit(&state, upload, name, OnConflict::Reject, &caller.user).await?;
        state.space.stored_added(stored.size);
        state.metrics.upload_stored(stored.size, started.elapsed());
        Ok(stored)
    }
    .await;
    match result {
        Ok(stored) => {
            let location = format!("/download/{}", percent_encode(&stored.name));
            let mut response = (StatusCode::CREATED, Json(stored.entry())).into_response();
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        Err(e) => {
            // A large body refused before it was read is not drained: polling it would tell a
            // client waiting on `Expect: 100-continue` to send it.
            let small = declared.is_some_and(|length| length <= receive::DRAIN_BYTES);
            if client_still_sending(&e) && (small || matches!(e, ApiError::Receive(_))) {
                receive::drain(&mut source).await;
            }
            Err(failed(&state, e))
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn client_still_sending(error: &ApiError) -> bool {
    match error {
        ApiError::Receive(e) => e.client_still_sending(),
        _ => true,
    }
}

/// Reads the rest of a refused form, within the drain limits.
async fn drain_multipart(multipart: &mut Multipart) {
    let mut budget = receive::DRAIN_BYTES;
    let rest = async {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                budget = budget.saturating_sub(chunk.len() as u64);
                if budget == 0 {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), rest).await;
}

async fn ingest(
    state: &AppState,
    source: &mut impl ChunkSource,
    expected: Expected,
    space: &mut Reservation,
) -> Result<Received, ApiError> {
    let limits = Limits { max_bytes: state.config.max_bytes, idle_timeout: state.config.body_idle_timeout };
    Ok(receive::receive(&state.store, source, limits, expected, space).await?)
}

async fn commit(
    state: &AppState,
    upload: Received,
    name: FileName,
    on_conflict: OnConflict,
    user: &str,
) -> Result<StoredFile, ApiError> {
    let store = state.store.clone();
    let user = user.to_owned();
    let stored = tokio::task::spawn_blocking(move || {
        store.commit(upload.temp, &name, on_conflict, upload.size, &upload.sha256, &user)
    })
    .await
    .map_err(|e| ApiError::Storage(std::io::Error::other(e)))??;
    tracing::info!(
        file = %stored.name,
        size = stored.size,
        sha256 = stored.sha256.as_deref().unwrap_or(""),
        "stored"
    );
    Ok(stored)
}

/// Logs and counts a failed upload; passes the error on as the response.
fn failed(state: &AppState, error: ApiError) -> ApiError {
    let code = error.code();
    state.metrics.upload_failed(code);
    match &error {
        ApiError::Storage(_) => {}
        ApiError::Receive(ReceiveError::Io(_)) => {}
        _ => tracing::warn!(reason = code, error = %error, "upload refused"),
    }
    error
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    // axum answers 400 for a malformed form; otherwise reading the body failed: the client went
    // away mid-body.
    if error.status() == StatusCode::BAD_REQUEST {
        ApiError::bad_request("bad_multipart", error.body_text())
    } else {
        ApiError::Receive(ReceiveError::Aborted(error.body_text()))
    }
}

struct FieldSource<'a>(Field<'a>);

impl ChunkSource for FieldSource<'_> {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, String> {
        self.0.chunk().await.map_err(|e| e.body_text())
    }
}

struct BodySource(Body);

impl ChunkSource for BodySource {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            match self.0.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(e.to_string()),
                // Trailers carry no data.
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}
