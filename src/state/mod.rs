//! What rprov last did, per stack: one JSON document with lineage and serial, written after
//! every completed resource operation. Pure data; where it is kept (a file, S3) and how it is
//! locked is `crate::store`'s.

mod location;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use location::{S3Location, bucket_problem};
use sha2::{Digest, Sha256};

use crate::model::Tags;
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

impl State {
    /// A state written before secrets were keyed gets its key when read (kept at its next
    /// write); the plain digests it holds still compare (`digest_matches`).
    pub fn ensure_secret_key(&mut self) {
        if self.secret_key.is_empty() {
            self.secret_key = new_secret_key();
        }
    }
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
}
