//! HTTP basic authentication and roles.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Account, Role};
use crate::error::ApiError;
use crate::server::AppState;

/// The only path served without credentials: the load balancer's liveness check.
/// `/metrics` stays behind authentication: Prometheus scrape configs support basic auth, and
/// upload counts are not for the public.
pub const PUBLIC_PATH: &str = "/health";

/// An account as compared: digests only, so every comparison takes the same time whatever the
/// lengths and contents of the names and passwords involved.
#[derive(Debug, Clone)]
pub struct Credentials {
    user: Arc<str>,
    user_sha256: [u8; 32],
    password_sha256: [u8; 32],
    role: Role,
}

impl From<&Account> for Credentials {
    fn from(account: &Account) -> Self {
        Credentials {
            user: account.user.as_str().into(),
            user_sha256: Sha256::digest(account.user.as_bytes()).into(),
            password_sha256: account.password_sha256,
            role: account.role,
        }
    }
}

/// Who is making the request, put in the request's extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Arc<str>,
    pub role: Role,
}

/// A caller allowed to upload and delete.
#[derive(Debug, Clone)]
pub struct Writer(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or(ApiError::Unauthorized)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.role.can_write() { Ok(Writer(caller)) } else { Err(ApiError::Forbidden) }
    }
}

/// Middleware: lets `/health` through, answers 401 to anyone else without valid credentials.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if request.uri().path() == PUBLIC_PATH {
        return next.run(request).await;
    }
    match check(&state.credentials, request.headers()) {
        Some(caller) => {
            tracing::Span::current().record("user", &*caller.user);
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        None => {
            state.metrics.auth_failed();
            ApiError::Unauthorized.into_response()
        }
    }
}

/// The caller whose `Authorization: Basic` header matches an account, if any.
pub fn check(accounts: &[Credentials], headers: &HeaderMap) -> Option<Caller> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = std::str::from_utf8(&decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    let user_sha256: [u8; 32] = Sha256::digest(user.as_bytes()).into();
    let password_sha256: [u8; 32] = Sha256::digest(password.as_bytes()).into();
    // Every account is compared in full: timing says nothing about which part was wrong.
    let mut found = None;
    for account in accounts {
        let matches = account.user_sha256.ct_eq(&user_sha256) & account.password_sha256.ct_eq(&password_sha256);
        if bool::from(matches) {
            found = Some(Caller { user: account.user.clone(), role: account.role });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accounts() -> Vec<Credentials> {
        [Account::with_password("admin", "pw", Role::Uploader), Account::with_password("support", "ro", Role::ReadOnly)]
            .iter()
            .map(Credentials::from)
            .collect()
    }

    fn check_header(value: &str) -> Option<(String, Role)> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        check(&accounts(), &headers).map(|caller| (caller.user.to_string(), caller.role))
    }

    fn basic(user_password: &str) -> String {
        format!("Basic {}", STANDARD.encode(user_password))
    }

    #[test]
    fn basic_auth() {
        assert_eq!(check_header(&basic("admin:pw")), Some(("admin".into(), Role::Uploader)));
        assert_eq!(check_header(&basic("support:ro")), Some(("support".into(), Role::ReadOnly)));
        assert_eq!(
            check_header(&format!("basic  {}", STANDARD.encode("admin:pw"))),
            Some(("admin".into(), Role::Uploader))
        );
        assert_eq!(check_header(&basic("admin:ro")), None);
        assert_eq!(check_header(&basic("admin:pw ")), None);
        assert_eq!(check_header(&basic("admin")), None);
        assert_eq!(check_header(&basic(":pw")), None);
        assert_eq!(check_header("Bearer abc"), None);
        assert_eq!(check_header("Basic !!!"), None);
        assert!(check(&accounts(), &HeaderMap::new()).is_none());
    }
}
