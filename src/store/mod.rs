//! Where a stack's state is kept and how runs take turns with it: the [`StateBackend`] trait, a
//! local file (`local.rs`) and an S3 object (`s3.rs`), lock bodies and the errors they report.

mod local;
mod s3;
mod unrecorded;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use crate::state::{S3Location, bucket_problem};
pub use local::{LocalBackend, write_atomic};
pub use s3::S3Backend;
pub use unrecorded::Unrecorded;

use crate::state::State;

/// Parses a stored state document; `place` names it in errors.
pub(crate) fn parse(bytes: &[u8], place: &str) -> Result<State, StateError> {
    let mut state: State = serde_json::from_slice(bytes)
        .map_err(|e| StateError::Corrupt { path: place.to_owned(), message: e.to_string() })?;
    if state.format_version > crate::state::FORMAT_VERSION {
        return Err(StateError::Corrupt {
            path: place.to_owned(),
            message: format!(
                "format version {} is newer than this rprov understands ({})",
                state.format_version,
                crate::state::FORMAT_VERSION
            ),
        });
    }
    state.ensure_secret_key();
    Ok(state)
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub id: String,
    pub who: String,
    pub operation: String,
    pub version: String,
    pub created: String,
}

impl LockInfo {
    pub fn new(operation: &str) -> LockInfo {
        let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into());
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "unknown-host".into());
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            who: format!("{user}@{host} (pid {})", std::process::id()),
            operation: operation.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    /// What a lock whose body cannot be read is shown as: held, by someone unknown.
    pub fn unreadable() -> LockInfo {
        LockInfo {
            id: "unknown".into(),
            who: "unknown".into(),
            operation: "unknown".into(),
            version: String::new(),
            created: String::new(),
        }
    }

    pub fn age(&self) -> String {
        humantime::parse_rfc3339(&self.created)
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map(|d| humantime::format_duration(std::time::Duration::from_secs(d.as_secs())).to_string())
            .unwrap_or_else(|| "unknown".into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state is locked by {} for `{}` since {} ({} ago); lock id {}\n  if that run is gone, release it with: rprov force-unlock {}", .0.who, .0.operation, .0.created, .0.age(), .0.id, .0.id)]
    Locked(LockInfo),
    #[error(
        "state {at} was changed by someone else since this run read it (expected serial {expected}); nothing was overwritten.\n  another run may have written it after a force-unlock: inspect it with `rprov state show` before running again"
    )]
    Conflict { at: String, expected: u64 },
    #[error("state file {path}: {message}")]
    Corrupt { path: String, message: String },
    #[error("no lock with id {0}")]
    NoSuchLock(String),
    #[error("the lock {0} cannot be read (no rprov wrote it whole): remove it with `rprov force-unlock unknown`")]
    UnreadableLock(String),
    #[error("no state version `{0}`")]
    NoSuchVersion(String),
    /// The backend cannot do what was asked (with the reason and what to do instead).
    #[error("{0}")]
    Refused(String),
    #[error("state storage: {0}")]
    Io(String),
}

/// One stored version of a state document, newest first in listings.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StateVersion {
    pub id: String,
    /// RFC 3339.
    pub modified: String,
    pub size: i64,
    pub latest: bool,
}

/// Where a stack's state lives. Nothing above this trait knows which backend is in use.
#[async_trait]
pub trait StateBackend: Send + Sync {
    /// A short description for messages (`.rprov/network.json`, `s3://b/k`).
    fn describe(&self) -> String;
    async fn read(&self) -> Result<Option<State>, StateError>;
    /// Writes `state` atomically; refuses when the stored serial is not `state.serial - 1`.
    async fn write(&self, state: &State) -> Result<(), StateError>;
    async fn lock(&self, info: &LockInfo) -> Result<(), StateError>;
    async fn unlock(&self, info: &LockInfo) -> Result<(), StateError>;
    async fn force_unlock(&self, lock_id: &str) -> Result<LockInfo, StateError>;
    async fn delete(&self) -> Result<(), StateError>;
    /// Stored versions of the state document, newest first (the undo history).
    async fn list_versions(&self) -> Result<Vec<StateVersion>, StateError>;
    /// One stored version, as it was written.
    async fn read_version(&self, id: &str) -> Result<State, StateError>;
}

/// A backend that forwards every call to `inner` and tells `on_write` of each write once it is
/// answered: the state written, how long the write took, and whether it succeeded. What tests
/// and benchmarks watch checkpoints with.
pub struct Observed<B, F> {
    inner: B,
    on_write: F,
}

impl<B, F> Observed<B, F>
where
    B: StateBackend,
    F: Fn(&State, std::time::Duration, bool) + Send + Sync,
{
    pub fn new(inner: B, on_write: F) -> Observed<B, F> {
        Observed { inner, on_write }
    }
}

#[async_trait]
impl<B, F> StateBackend for Observed<B, F>
where
    B: StateBackend,
    F: Fn(&State, std::time::Duration, bool) + Send + Sync,
{
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn read(&self) -> Result<Option<State>, StateError> {
        self.inner.read().await
    }
    async fn write(&self, state: &State) -> Result<(), StateError> {
        let start = std::time::Instant::now();
        let r = self.inner.write(state).await;
        (self.on_write)(state, start.elapsed(), r.is_ok());
        r
    }
    async fn lock(&self, info: &LockInfo) -> Result<(), StateError> {
        self.inner.lock(info).await
    }
    async fn unlock(&self, info: &LockInfo) -> Result<(), StateError> {
        self.inner.unlock(info).await
    }
    async fn force_unlock(&self, lock_id: &str) -> Result<LockInfo, StateError> {
        self.inner.force_unlock(lock_id).await
    }
    async fn delete(&self) -> Result<(), StateError> {
        self.inner.delete().await
    }
    async fn list_versions(&self) -> Result<Vec<StateVersion>, StateError> {
        self.inner.list_versions().await
    }
    async fn read_version(&self, id: &str) -> Result<State, StateError> {
        self.inner.read_version(id).await
    }
}

/// Reads, changes and writes a state under its lock, taken without waiting (a held lock is
/// [`StateError::Locked`]): for a short change beside the stack's own runs (a consumer
/// recording itself, teardown forgetting what it deleted). `change` says whether it changed
/// anything; when not, or when there is no state, nothing is written and the answer is false.
pub async fn update_locked(
    backend: &dyn StateBackend,
    operation: &str,
    change: impl FnOnce(&mut State) -> bool,
) -> Result<bool, StateError> {
    let info = LockInfo::new(operation);
    backend.lock(&info).await?;
    let result = async {
        let Some(mut state) = backend.read().await? else { return Ok(false) };
        if !change(&mut state) {
            return Ok(false);
        }
        state.serial += 1;
        backend.write(&state).await.map(|()| true)
    }
    .await;
    let unlocked = backend.unlock(&info).await;
    result.and_then(|changed| unlocked.map(|()| changed))
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::value::Value;

    #[test]
    fn an_unkeyed_digest_of_an_older_state_still_compares_and_the_state_gets_a_key() {
        let v = Value::str("hunter2");
        let text = serde_json::to_string(&v).unwrap();
        let legacy = Value::Str(format!("sha256:{:x}", Sha256::digest(text.as_bytes())));
        assert!(crate::state::digest_matches("any", &legacy, &v));
        assert!(!crate::state::digest_matches("any", &legacy, &Value::str("other")));
        let mut old = serde_json::to_value(State::new("s", "us-east-1")).unwrap();
        old.as_object_mut().unwrap().remove("secret_key");
        let read = parse(&serde_json::to_vec(&old).unwrap(), "old").unwrap();
        assert_eq!(read.secret_key.len(), 64);
        assert_ne!(read.secret_key, State::new("s", "us-east-1").secret_key);
    }
}
