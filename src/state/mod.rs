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
    /// The region every resource of the stack lives in (the stack file's `region:`).
    pub region: String,
    /// The AWS account the resources live in (STS `GetCallerIdentity` when the state was first
    /// written): every command refuses, before any write, to act with another account's
    /// credentials on this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The key secrets are digested with (HMAC-SHA-256), random for each state: a digest in a
    /// leaked plan cannot be matched against a dictionary without it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret_key: String,
    /// By logical id, how many of its resources this lineage has deleted (or given up as gone):
    /// part of the seed of create idempotency tokens, so a create sent again after a crash
    /// reuses its token, while a resource created anew after a delete gets a fresh one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub generations: BTreeMap<String, u32>,
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
            account_id: None,
            secret_key: new_secret_key(),
            generations: BTreeMap::new(),
            rprov_version: env!("CARGO_PKG_VERSION").to_owned(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            consumers: BTreeMap::new(),
            imports: BTreeMap::new(),
        }
    }
}

impl State {
    /// The generation of `id`'s resource: bumped each time one is deleted or given up.
    pub fn generation(&self, id: &str) -> u32 {
        self.generations.get(id).copied().unwrap_or(0)
    }

    pub fn next_generation(&mut self, id: &str) {
        *self.generations.entry(id.to_owned()).or_default() += 1;
    }

    /// The idempotency token of the create of `id`'s resource: the same for every attempt, in
    /// this run and in a run after a crash (so a create whose answer was lost is answered with
    /// the resource it made, even in the next run), and new for each resource this logical id
    /// gets in this lineage (AWS remembers Route 53 caller references forever and ACM tokens for
    /// an hour: a token used again after its resource was deleted would bring that one back).
    pub fn create_token(&self, stack: &str, id: &str) -> String {
        let h = Sha256::digest(format!("{stack}/{}/{id}/{}", self.lineage, self.generation(id)).as_bytes());
        format!("rprov-{:x}", h)[..40].to_owned()
    }
}

fn new_secret_key() -> String {
    let mut key = [0u8; 32];
    // The OS's generator; if it is unavailable, uuids (which draw from it too) are no better.
    if getrandom::fill(&mut key).is_err() {
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a stored state document; `place` names it in errors.
pub(crate) fn parse(bytes: &[u8], place: &str) -> Result<State, StateError> {
    let mut state: State = serde_json::from_slice(bytes)
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
    // A state written before secrets were keyed: it gets its key now (kept at its next write);
    // the plain digests it holds still compare (`digest_matches`).
    if state.secret_key.is_empty() {
        state.secret_key = new_secret_key();
    }
    Ok(state)
}

const HMAC_PREFIX: &str = "hmac-sha256:";
const LEGACY_PREFIX: &str = "sha256:";

/// How a secret is kept in state and plans: enough to tell whether it changed, nothing more.
/// HMAC-SHA-256 under the state's own random key, so a leaked plan or state cannot be checked
/// against a dictionary of likely passwords.
pub fn digest(key: &str, v: &Value) -> Value {
    use hmac::Mac;
    let text = serde_json::to_string(v).unwrap_or_default();
    // HMAC accepts a key of any length.
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    let out = mac.finalize().into_bytes();
    Value::Str(format!("{HMAC_PREFIX}{}", out.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// Whether `v` is a digest [`digest`] made (or an unkeyed one of an older state).
pub fn is_digest(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with(HMAC_PREFIX) || s.starts_with(LEGACY_PREFIX))
}

/// Whether the digest `recorded` was made of `value`: keyed, or (states from before secrets
/// were keyed) plain SHA-256.
pub fn digest_matches(key: &str, recorded: &Value, value: &Value) -> bool {
    match recorded.as_str() {
        Some(s) if s.starts_with(LEGACY_PREFIX) => {
            let text = serde_json::to_string(value).unwrap_or_default();
            *s == format!("{LEGACY_PREFIX}{:x}", Sha256::digest(text.as_bytes()))
        }
        Some(_) => *recorded == digest(key, value),
        None => false,
    }
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
    use super::*;

    #[test]
    fn secrets_are_digested_with_the_states_key() {
        let v = Value::str("hunter2");
        let a = digest("key-a", &v);
        assert_ne!(a, digest("key-b", &v), "another state's key gives another digest");
        assert_eq!(a, digest("key-a", &v));
        assert!(is_digest(&a) && !is_digest(&v));
        assert!(digest_matches("key-a", &a, &v));
        assert!(!digest_matches("key-a", &a, &Value::str("hunter3")));
        assert!(!digest_matches("key-b", &a, &v));
        // RFC 4231 test case 2: HMAC-SHA-256 of "what do ya want for nothing?" under "Jefe"
        // (the value is digested as its JSON text, so the quotes are part of the message here).
        let mut mac = <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(b"Jefe").unwrap();
        hmac::Mac::update(&mut mac, b"what do ya want for nothing?");
        let hex: String = hmac::Mac::finalize(mac).into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn an_unkeyed_digest_of_an_older_state_still_compares_and_the_state_gets_a_key() {
        let v = Value::str("hunter2");
        let text = serde_json::to_string(&v).unwrap();
        let legacy = Value::Str(format!("sha256:{:x}", Sha256::digest(text.as_bytes())));
        assert!(digest_matches("any", &legacy, &v));
        assert!(!digest_matches("any", &legacy, &Value::str("other")));
        let mut old = serde_json::to_value(State::new("s", "us-east-1")).unwrap();
        old.as_object_mut().unwrap().remove("secret_key");
        let read = parse(&serde_json::to_vec(&old).unwrap(), "old").unwrap();
        assert_eq!(read.secret_key.len(), 64);
        assert_ne!(read.secret_key, State::new("s", "us-east-1").secret_key);
    }
}
