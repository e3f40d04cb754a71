//! HTTP basic authentication and roles, the failed-login limit, and the cross-site check.
//!
//! Passwords are verified against argon2id hashes (tens of milliseconds each, on the blocking
//! pool, a few at a time). A name that is no account's is verified against a decoy hash of the
//! same cost, so the time of an answer does not tell whether a user exists. Browsers send basic
//! credentials with every request, so credentials that verified are remembered for a while, under
//! a keyed hash (HMAC-SHA-256 with a key drawn at startup): see [`VerifiedCache`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::client::Client;
use crate::config::{Account, Role};
use crate::error::ApiError;
use crate::origin;
use crate::password;
use crate::server::AppState;

/// The only path served without credentials: the load balancer's liveness check.
/// `/metrics` stays behind authentication: Prometheus scrape configs support basic auth, and
/// upload counts are not for the public.
pub const PUBLIC_PATH: &str = "/health";

/// Credentials that verified are remembered this long...
pub const CACHE_TTL: Duration = Duration::from_secs(300);
/// ...and at most this many of them.
pub const CACHE_ENTRIES: usize = 1024;

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

/// Middleware, in order: lets `/health` through; refuses cross-site requests that would change
/// something (403); refuses clients with too many recent failed logins (429, credentials not
/// checked); answers 401 to anyone without valid credentials.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if request.uri().path() == PUBLIC_PATH {
        return next.run(request).await;
    }
    let client =
        request.extensions().get::<Client>().copied().unwrap_or_else(|| Client::identify(None, request.headers(), &[]));
    if !is_safe(request.method()) && origin::is_cross_site(request.headers(), &client) {
        state.metrics.cross_site_refused();
        tracing::warn!(client = %client.ip, "cross-site request refused");
        return ApiError::CrossSite.into_response();
    }
    let key = client.rate_key();
    if let Some(wait) = state.limiter.blocked(key, Instant::now()) {
        state.metrics.rate_limited();
        return ApiError::RateLimited { retry_after_secs: whole_seconds(wait) }.into_response();
    }
    match state.authenticator.check(request.headers()).await {
        Ok(caller) => {
            tracing::Span::current().record("user", &*caller.user);
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(failure) => {
            state.metrics.auth_failed();
            if failure == Failure::Wrong {
                state.limiter.record_failure(key, Instant::now());
                tracing::info!(client = %client.ip, "wrong credentials");
            }
            ApiError::Unauthorized.into_response()
        }
    }
}

/// Methods that change nothing.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// Rounded up, at least 1: a client told to retry after 0 seconds would retry at once.
fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No `Authorization` header: a browser's first request, or a client that has none.
    Missing,
    /// Credentials were given and are wrong (or malformed): a login attempt that failed.
    Wrong,
}

/// An account as compared: the name's digest, so that looking a name up takes the same time
/// whatever the names involved, and the password's argon2id hash.
#[derive(Debug)]
struct Credentials {
    user: Arc<str>,
    user_sha256: [u8; 32],
    hash: PasswordHash,
    role: Role,
}

/// The accounts, and the decoy hash names that are no account's are verified against.
#[derive(Debug)]
struct Verifier {
    accounts: Vec<Credentials>,
    decoy: Option<PasswordHash>,
}

impl Verifier {
    /// The index of the account `user` and `password` are, if any. Always costs one argon2
    /// verification with the first account's parameters (unless several accounts have hashes of
    /// different costs: give them hashes of the same cost).
    fn verify(&self, user: &str, password: &str) -> Option<usize> {
        let user_sha256: [u8; 32] = Sha256::digest(user.as_bytes()).into();
        // Every name is compared in full: timing says nothing about which one matched.
        let mut found = None;
        for (index, account) in self.accounts.iter().enumerate() {
            if bool::from(account.user_sha256.ct_eq(&user_sha256)) {
                found = Some(index);
            }
        }
        match found {
            Some(index) => password::verify(password.as_bytes(), &self.accounts[index].hash).then_some(index),
            None => {
                // Same work as a real verification; the result is always a refusal.
                if let Some(decoy) = self.decoy.as_ref().or_else(|| self.accounts.first().map(|a| &a.hash)) {
                    let _ = password::verify(password.as_bytes(), decoy);
                }
                None
            }
        }
    }
}

/// Checks basic credentials; see the module's documentation.
pub struct Authenticator {
    verifier: Arc<Verifier>,
    cache: Option<VerifiedCache>,
    /// Verifications running at once: each takes ~19 MiB and a core for tens of milliseconds.
    verifications: Semaphore,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("accounts", &self.verifier.accounts.len()).finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(accounts: &[Account]) -> Authenticator {
        let accounts: Vec<Credentials> = accounts
            .iter()
            .map(|account| Credentials {
                user: account.user.as_str().into(),
                user_sha256: Sha256::digest(account.user.as_bytes()).into(),
                hash: account.password_hash.clone(),
                role: account.role,
            })
            .collect();
        let decoy = accounts.first().and_then(|account| password::decoy(&account.hash));
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        Authenticator {
            verifier: Arc::new(Verifier { accounts, decoy }),
            cache: VerifiedCache::new(CACHE_ENTRIES, CACHE_TTL),
            verifications: Semaphore::new(parallel),
        }
    }

    /// The caller whose `Authorization: Basic` header matches an account.
    pub async fn check(&self, headers: &HeaderMap) -> Result<Caller, Failure> {
        let (user, password) = basic_credentials(headers)?;
        let cache_key = self.cache.as_ref().map(|cache| cache.key(&user, &password));
        if let (Some(cache), Some(key)) = (&self.cache, &cache_key)
            && let Some(index) = cache.get(key, Instant::now())
        {
            return Ok(self.caller(index));
        }
        let _permit = self.verifications.acquire().await.map_err(|_| Failure::Wrong)?;
        let verifier = self.verifier.clone();
        let index = tokio::task::spawn_blocking(move || verifier.verify(&user, &password))
            .await
            .map_err(|_| Failure::Wrong)?
            .ok_or(Failure::Wrong)?;
        if let (Some(cache), Some(key)) = (&self.cache, cache_key) {
            cache.insert(key, index, Instant::now());
        }
        Ok(self.caller(index))
    }

    fn caller(&self, index: usize) -> Caller {
        let account = &self.verifier.accounts[index];
        Caller { user: account.user.clone(), role: account.role }
    }
}

/// The user name and password of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Result<(String, String), Failure> {
    let value = headers.get(AUTHORIZATION).ok_or(Failure::Missing)?;
    let parse = || -> Option<(String, String)> {
        let (scheme, encoded) = value.to_str().ok()?.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = STANDARD.decode(encoded.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    };
    parse().ok_or(Failure::Wrong)
}

/// Credentials that verified recently, so that a browser sending them with every request does not
/// pay an argon2 verification each time. Entries are keyed by HMAC-SHA-256 of the user name and
/// password under a key drawn at startup and never stored: the table holds no password nor
/// anything a password could be tested against offline, and lasts as long as the process. Bounded
/// in size (the oldest entries go first) and in time (an entry is trusted for `ttl` after its
/// verification).
struct VerifiedCache {
    key: [u8; 64],
    ttl: Duration,
    capacity: usize,
    table: Mutex<CacheTable>,
}

#[derive(Default)]
struct CacheTable {
    entries: HashMap<[u8; 32], (usize, Instant)>,
    /// Keys in insertion order, with their insertion time.
    order: VecDeque<([u8; 32], Instant)>,
}

impl VerifiedCache {
    /// `None` when the system's random number generator fails: then nothing is cached.
    fn new(capacity: usize, ttl: Duration) -> Option<VerifiedCache> {
        let mut key = [0u8; 64];
        getrandom::fill(&mut key).ok()?;
        Some(VerifiedCache { key, ttl, capacity: capacity.max(1), table: Mutex::new(CacheTable::default()) })
    }

    fn key(&self, user: &str, password: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&self.key.into());
        // Length-prefixed: ("ab", "c") and ("a", "bc") differ.
        mac.update(&(user.len() as u64).to_be_bytes());
        mac.update(user.as_bytes());
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn get(&self, key: &[u8; 32], now: Instant) -> Option<usize> {
        let table = lock(&self.table);
        let &(index, verified_at) = table.entries.get(key)?;
        (now.saturating_duration_since(verified_at) < self.ttl).then_some(index)
    }

    fn insert(&self, key: [u8; 32], index: usize, now: Instant) {
        let mut guard = lock(&self.table);
        let table = &mut *guard;
        while let Some(&(oldest, at)) = table.order.front() {
            let expired = now.saturating_duration_since(at) >= self.ttl;
            if !expired && table.entries.len() < self.capacity {
                break;
            }
            table.order.pop_front();
            // Only if not re-inserted since.
            if table.entries.get(&oldest).is_some_and(|&(_, entry_at)| entry_at == at) {
                table.entries.remove(&oldest);
            }
        }
        table.entries.insert(key, (index, now));
        table.order.push_back((key, now));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.table).entries.len()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn cheap(password: &str) -> PasswordHash {
        password::hash_with(password, argon2::Params::new(64, 1, 1, None).unwrap()).unwrap()
    }

    fn authenticator() -> Authenticator {
        Authenticator::new(&[
            Account::with_hash("admin", cheap("pw"), Role::Uploader),
            Account::with_hash("support", cheap("ro"), Role::ReadOnly),
        ])
    }

    fn basic(user_password: &str) -> String {
        format!("Basic {}", STANDARD.encode(user_password))
    }

    async fn check_header(auth: &Authenticator, value: &str) -> Result<(String, Role), Failure> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        auth.check(&headers).await.map(|caller| (caller.user.to_string(), caller.role))
    }

    #[tokio::test]
    async fn basic_auth() {
        let auth = authenticator();
        let ok = |user: &str, role| Ok((user.to_owned(), role));
        assert_eq!(check_header(&auth, &basic("admin:pw")).await, ok("admin", Role::Uploader));
        assert_eq!(check_header(&auth, &basic("support:ro")).await, ok("support", Role::ReadOnly));
        assert_eq!(
            check_header(&auth, &format!("basic  {}", STANDARD.encode("admin:pw"))).await,
            ok("admin", Role::Uploader)
        );
        for wrong in [
            basic("admin:ro"),
            basic("admin:pw "),
            basic("admin"),
            basic(":pw"),
            basic("nobody:pw"),
            "Bearer abc".to_owned(),
            "Basic !!!".to_owned(),
        ] {
            assert_eq!(check_header(&auth, &wrong).await, Err(Failure::Wrong), "{wrong}");
        }
        assert_eq!(auth.check(&HeaderMap::new()).await.unwrap_err(), Failure::Missing);
        // Only successes are remembered.
        assert_eq!(auth.cache.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn unknown_names_are_verified_against_a_decoy_of_the_same_cost() {
        let auth = authenticator();
        let verifier = &auth.verifier;
        let decoy = verifier.decoy.as_ref().unwrap();
        assert_eq!(decoy.params, verifier.accounts[0].hash.params);
        assert_ne!(decoy.hash, verifier.accounts[0].hash.hash);
        assert_eq!(verifier.verify("nobody", "pw"), None);
        assert_eq!(verifier.verify("admin", "pw"), Some(0));
    }

    /// CPU time this thread has used (where the OS tells it; elsewhere wall time).
    fn thread_time() -> Duration {
        #[cfg(target_os = "linux")]
        {
            let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: clock_gettime writes one timespec into the one given.
            if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0 {
                return Duration::new(t.tv_sec.unsigned_abs(), t.tv_nsec.clamp(0, 999_999_999) as u32);
            }
        }
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }

    #[test]
    fn a_wrong_user_name_costs_what_a_wrong_password_costs() {
        // Costly enough that one verification dwarfs everything else the check does.
        let params = argon2::Params::new(2048, 2, 1, None).unwrap();
        let auth = Authenticator::new(&[Account::with_hash(
            "admin",
            password::hash_with("pw", params).unwrap(),
            Role::Uploader,
        )]);
        let time = |user: &str| {
            let started = thread_time();
            assert_eq!(auth.verifier.verify(user, "wrong"), None);
            thread_time().saturating_sub(started)
        };
        // Interleaved, the fastest of seven each, in this thread's CPU time: other work on the
        // machine does not count.
        let (mut wrong_password, mut wrong_user) = (Duration::MAX, Duration::MAX);
        for _ in 0..7 {
            wrong_password = wrong_password.min(time("admin"));
            wrong_user = wrong_user.min(time("nobody"));
        }
        // A shortcut for unknown names would be a thousand times faster; a factor of five
        // leaves room for a machine running the rest of the suite beside this test.
        assert!(wrong_user * 5 > wrong_password, "{wrong_user:?} against {wrong_password:?}");
        assert!(wrong_password * 5 > wrong_user, "{wrong_user:?} against {wrong_password:?}");
    }

    #[test]
    fn the_cache_is_keyed_bounded_and_expires() {
        let cache = VerifiedCache::new(2, Duration::from_secs(10)).unwrap();
        let other = VerifiedCache::new(2, Duration::from_secs(10)).unwrap();
        // Keyed: another process (key) gives other values; the user/password split matters.
        assert_ne!(cache.key("admin", "pw"), other.key("admin", "pw"));
        assert_ne!(cache.key("ab", "c"), cache.key("a", "bc"));
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let (a, b, c) = (cache.key("a", "1"), cache.key("b", "2"), cache.key("c", "3"));
        cache.insert(a, 0, at(0));
        assert_eq!(cache.get(&a, at(9)), Some(0));
        assert_eq!(cache.get(&a, at(10)), None);
        cache.insert(b, 1, at(1));
        cache.insert(c, 1, at(2));
        // Full: the oldest went.
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&a, at(2)), None);
        assert_eq!(cache.get(&b, at(2)), Some(1));
        // Expired entries are dropped on the next insertion.
        cache.insert(a, 0, at(100));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn retry_after_is_rounded_up() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }
}
