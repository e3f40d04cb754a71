//! What rprov last did, per stack: one JSON document with lineage and serial, written after
//! every completed resource operation. Backends live behind [`StateBackend`].

mod local;
mod s3;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use local::{LocalBackend, write_atomic};
pub use s3::{S3Backend, S3Location, bucket_problem};

use crate::kinds::Tags;
use crate::value::{Props, Value};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub format_version: u32,
    /// Identity of this state's history; a saved plan only applies to the same lineage.
    pub lineage: String,
    /// Bumped on every write.
    pub serial: u64,
    pub stack: String,
    pub region: String,
    pub rprov_version: String,
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    /// The outputs declared by the stack file at the last apply, with their values: what
    /// importing stacks read and check their references against.
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    /// Stacks that import this one, with the outputs each uses (written by their applies with a
    /// compare-and-swap, no lock; removed by their destroys).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consumers: BTreeMap<String, Vec<String>>,
    /// The stacks this one imported at its last apply, with where their states are: their
    /// consumer lists are updated when an import goes away.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imports: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ResourceState {
    #[serde(rename = "type")]
    pub kind: String,
    pub physical_id: String,
    /// The properties last applied; secret ones as `sha256:` digests.
    pub properties: Props,
    #[serde(default)]
    pub attributes: Props,
    #[serde(default)]
    pub tags: Tags,
    /// Logical ids it depended on when applied: the order to delete it in once it has left
    /// the stack file.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

impl State {
    pub fn new(stack: &str, region: &str) -> State {
        State {
            format_version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            stack: stack.to_owned(),
            region: region.to_owned(),
            rprov_version: env!("CARGO_PKG_VERSION").to_owned(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            consumers: BTreeMap::new(),
            imports: BTreeMap::new(),
        }
    }
}

/// Parses a stored state document; `place` names it in errors.
pub(crate) fn parse(bytes: &[u8], place: &str) -> Result<State, StateError> {
    let state: State = serde_json::from_slice(bytes)
        .map_err(|e| StateError::Corrupt { path: place.to_owned(), message: e.to_string() })?;
    if state.format_version > FORMAT_VERSION {
        return Err(StateError::Corrupt {
            path: place.to_owned(),
            message: format!(
                "format version {} is newer than this rprov understands ({FORMAT_VERSION})",
                state.format_version
            ),
        });
    }
    Ok(state)
}

/// How a secret is kept in state: enough to tell whether it changed, nothing more.
pub fn digest(v: &Value) -> Value {
    let text = serde_json::to_string(v).unwrap_or_default();
    Value::Str(format!("sha256:{:x}", Sha256::digest(text.as_bytes())))
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
