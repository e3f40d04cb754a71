//! State in an S3 object, for teams and CI. S3 itself refuses the two things that must never
//! happen: a second lock (`PutObject` of `KEY.lock` with `If-None-Match: *`) and a write over a
//! state this process has not seen (`PutObject` with `If-Match: <ETag last read or written>`).
//! A writer whose lock was removed behind its back is stopped by S3 at its next checkpoint.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, OnceCell};

use super::{LockInfo, StateBackend, StateError, StateVersion};
use crate::aws::{AwsSettings, load_sdk_config};
use crate::state::{S3Location, State};

/// What this process knows of the stored object: the compare in compare-and-swap.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    /// Never read: a write must not replace anything (`If-None-Match: *`).
    Unknown,
    /// Read and found missing.
    Absent,
    At(String),
}

pub struct S3Backend {
    bucket: String,
    key: String,
    kms_key_id: Option<String>,
    allow_unversioned: bool,
    client: OnceCell<Client>,
    /// How to build the client on first use (none when one was handed in).
    settings: Option<(AwsSettings, String)>,
    /// Held across a write, so one write at a time compares against the newest ETag.
    seen: Mutex<Seen>,
}

impl S3Backend {
    /// `stack` picks the key under a prefix; `fallback_region` is used when neither the location,
    /// the flags nor the environment name one.
    pub fn new(
        loc: &S3Location,
        stack: &str,
        aws: &AwsSettings,
        fallback_region: &str,
        allow_unversioned: bool,
    ) -> S3Backend {
        let mut aws = aws.clone();
        if loc.region.is_some() {
            aws.region = loc.region.clone();
        }
        S3Backend {
            settings: Some((aws, fallback_region.to_owned())),
            ..S3Backend::with_client(None, loc, stack, allow_unversioned)
        }
    }

    /// With a ready client (unit tests hand in a mocked one).
    pub fn with_client(client: Option<Client>, loc: &S3Location, stack: &str, allow_unversioned: bool) -> S3Backend {
        S3Backend {
            bucket: loc.bucket.clone(),
            key: loc.key_for(stack),
            kms_key_id: loc.kms_key_id.clone(),
            allow_unversioned,
            client: OnceCell::new_with(client),
            settings: None,
            seen: Mutex::new(Seen::Unknown),
        }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let (aws, region) = self.settings.clone().unwrap_or_default();
                let sdk = load_sdk_config(&aws, &region).await;
                // A local emulator answers on one host name: path-style addressing. Real S3
                // keeps virtual-hosted style.
                let conf =
                    aws_sdk_s3::config::Builder::from(&sdk).force_path_style(sdk.endpoint_url().is_some()).build();
                Client::from_conf(conf)
            })
            .await
    }

    fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }

    fn err<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
        &self,
        what: &str,
        key: &str,
        e: &SdkError<E, R>,
    ) -> StateError {
        let detail = match (e.code(), e.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_owned(),
            _ => format!("{e:?}"),
        };
        StateError::Io(format!("{what} s3://{}/{key}: {detail}", self.bucket))
    }

    /// Versioning is the undo button: a bucket without it is refused unless told otherwise. The
    /// lock put answers with the object's version id (none, or `null`, when the bucket does not
    /// keep versions): the check costs no call and no s3:GetBucketVersioning permission. Every
    /// writer takes the lock before its first write.
    async fn check_versioned(&self, version_id: Option<&str>, lock_etag: &str) -> Result<(), StateError> {
        if version_id.is_some_and(|v| v != "null") {
            return Ok(());
        }
        if self.allow_unversioned {
            tracing::warn!(bucket = %self.bucket, "state bucket keeps no versions: no earlier state to roll back to");
            return Ok(());
        }
        self.delete_lock(lock_etag).await?;
        Err(StateError::Refused(format!(
            "bucket `{}` does not keep versions: each state write there would be final, with no earlier version to roll back to.\n  turn versioning on (aws s3api put-bucket-versioning --bucket {} --versioning-configuration Status=Enabled) or pass --allow-unversioned",
            self.bucket, self.bucket
        )))
    }

    /// The object's body, ETag and version id; `None` when there is none.
    async fn get(&self, key: &str, version: Option<&str>) -> Result<Option<Stored>, StateError> {
        let out = match self
            .client()
            .await
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(Into::into))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e)
                if e.as_service_error().is_some_and(|se| se.is_no_such_key())
                    || matches!(e.code(), Some("NoSuchKey" | "NoSuchVersion")) =>
            {
                return Ok(None);
            }
            // AWS answers a malformed version id with 400 InvalidArgument.
            Err(e) if version.is_some() && e.code() == Some("InvalidArgument") => return Ok(None),
            // Without s3:ListBucket, S3 answers a missing key with 403; say which permission.
            Err(e) => return Err(self.err("reading", key, &e)),
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let version = out.version_id().map(str::to_owned);
        let body =
            out.body.collect().await.map_err(|e| StateError::Io(format!("reading s3://{}/{key}: {e}", self.bucket)))?;
        Ok(Some(Stored { body: body.into_bytes().to_vec(), etag, version }))
    }

    async fn get_lock(&self) -> Result<Option<(LockInfo, Stored)>, StateError> {
        Ok(self
            .get(&self.lock_key(), None)
            .await?
            .map(|s| (serde_json::from_slice(&s.body).unwrap_or_else(|_| LockInfo::unreadable()), s)))
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: &Seen,
    ) -> Result<PutObjectOutput, SdkError<PutObjectError, HttpResponse>> {
        let mut req = self
            .client()
            .await
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        req = match condition {
            Seen::At(etag) => req.if_match(etag),
            Seen::Unknown | Seen::Absent => req.if_none_match("*"),
        };
        req = match &self.kms_key_id {
            Some(k) => req.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(k),
            None => req.server_side_encryption(ServerSideEncryption::Aes256),
        };
        req.send().await
    }

    /// Deletes the lock object only if it still is the one read (its ETag).
    async fn delete_lock(&self, etag: &str) -> Result<(), StateError> {
        let key = self.lock_key();
        match self.client().await.delete_object().bucket(&self.bucket).key(&key).if_match(etag).send().await {
            Ok(_) => Ok(()),
            // Gone already (a retried delete whose first answer was lost), or replaced by a new
            // holder's lock: either way it is not ours to remove.
            Err(e) if matches!(e.code(), Some("NoSuchKey" | "PreconditionFailed")) => Ok(()),
            Err(e) => Err(self.err("removing the lock", &key, &e)),
        }
    }
}

struct Stored {
    body: Vec<u8>,
    etag: String,
    version: Option<String>,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn is_precondition<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    // 409 ConditionalRequestConflict: another conditional write to the key was in flight.
    matches!(e.code(), Some("PreconditionFailed" | "ConditionalRequestConflict"))
}

#[async_trait]
impl StateBackend for S3Backend {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    async fn read(&self) -> Result<Option<State>, StateError> {
        let mut seen = self.seen.lock().await;
        match self.get(&self.key, None).await? {
            None => {
                *seen = Seen::Absent;
                Ok(None)
            }
            Some(stored) => {
                let state = super::parse(&stored.body, &self.describe())?;
                *seen = Seen::At(stored.etag);
                Ok(Some(state))
            }
        }
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        let body = serde_json::to_vec_pretty(state).map_err(|e| StateError::Io(e.to_string()))?;
        let mut seen = self.seen.lock().await;
        let err = match self.put(&self.key, body.clone(), &seen).await {
            Ok(out) => {
                *seen = Seen::At(out.e_tag().unwrap_or_default().to_owned());
                return Ok(());
            }
            Err(e) => e,
        };
        // The put may have landed although its answer was lost: the SDK's retry then meets the
        // ETag it moved (PreconditionFailed), or the retries ran out. The object says which.
        match self.get(&self.key, None).await {
            Ok(Some(stored)) if sha256(&stored.body) == sha256(&body) => {
                tracing::debug!(key = %self.key, "state write answered {:?} but the object holds it", err.code());
                *seen = Seen::At(stored.etag);
                Ok(())
            }
            Ok(_) if is_precondition(&err) => {
                Err(StateError::Conflict { at: self.describe(), expected: state.serial.saturating_sub(1) })
            }
            Ok(_) => Err(self.err("writing", &self.key, &err)),
            Err(read) => {
                Err(StateError::Io(format!("{}; reading it back: {read}", self.err("writing", &self.key, &err))))
            }
        }
    }

    async fn lock(&self, info: &LockInfo) -> Result<(), StateError> {
        let body = serde_json::to_vec_pretty(info).map_err(|e| StateError::Io(e.to_string()))?;
        // A lock released between a refused put and the read of its holder: try again, a few
        // times, rather than report a holder that is gone.
        for _ in 0..3 {
            let err = match self.put(&self.lock_key(), body.clone(), &Seen::Absent).await {
                Ok(out) => return self.check_versioned(out.version_id(), out.e_tag().unwrap_or_default()).await,
                Err(e) => e,
            };
            match self.get_lock().await? {
                // Ours: the put landed and its answer was lost (the retry met our own lock).
                Some((holder, s)) if holder.id == info.id => {
                    return self.check_versioned(s.version.as_deref(), &s.etag).await;
                }
                Some((holder, _)) => return Err(StateError::Locked(holder)),
                None if is_precondition(&err) => continue,
                None => return Err(self.err("creating the lock", &self.lock_key(), &err)),
            }
        }
        Err(StateError::Io(format!("s3://{}/{}: the lock kept changing hands", self.bucket, self.lock_key())))
    }

    async fn unlock(&self, info: &LockInfo) -> Result<(), StateError> {
        match self.get_lock().await? {
            Some((held, s)) if held.id == info.id => self.delete_lock(&s.etag).await,
            _ => Ok(()),
        }
    }

    async fn force_unlock(&self, lock_id: &str) -> Result<LockInfo, StateError> {
        match self.get_lock().await? {
            Some((held, s)) if held.id == lock_id => {
                self.delete_lock(&s.etag).await?;
                Ok(held)
            }
            _ => Err(StateError::NoSuchLock(lock_id.to_owned())),
        }
    }

    async fn delete(&self) -> Result<(), StateError> {
        match self.client().await.delete_object().bucket(&self.bucket).key(&self.key).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchKey") => Ok(()),
            Err(e) => Err(self.err("deleting", &self.key, &e)),
        }
    }

    async fn list_versions(&self) -> Result<Vec<StateVersion>, StateError> {
        let mut out = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .client()
                .await
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&self.key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| self.err("listing versions of", &self.key, &e))?;
            // The prefix also matches `KEY.lock` and longer keys: keep the state's own versions.
            for v in page.versions().iter().filter(|v| v.key() == Some(self.key.as_str())) {
                out.push(StateVersion {
                    id: v.version_id().unwrap_or("null").to_owned(),
                    modified: v
                        .last_modified()
                        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                        .unwrap_or_default(),
                    size: v.size().unwrap_or_default(),
                    latest: v.is_latest().unwrap_or(false),
                });
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        // S3 lists versions of a key newest first; keep that order whatever the paging did.
        out.sort_by(|a, b| b.modified.cmp(&a.modified).then(b.latest.cmp(&a.latest)));
        Ok(out)
    }

    async fn read_version(&self, id: &str) -> Result<State, StateError> {
        match self.get(&self.key, Some(id)).await? {
            Some(stored) => super::parse(&stored.body, &format!("{} (version {id})", self.describe())),
            None => Err(StateError::NoSuchVersion(id.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The ETag bookkeeping and the lost-answer logic, call by call (moto cannot lose an answer
    //! on demand between two specific calls; the integration tests do it on the wire).
    use aws_sdk_s3::Client;
    use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
    use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
    use aws_sdk_s3::types::error::NoSuchKey;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn backend(rules: &[&Rule]) -> S3Backend {
        let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, rules, |b| b.force_path_style(true));
        let loc = S3Location::parse("s3://bkt/envs/").unwrap();
        S3Backend::with_client(Some(client), &loc, "net", false)
    }

    fn object(body: Vec<u8>, etag: &'static str) -> Rule {
        mock!(Client::get_object)
            .match_requests(|r| r.key() == Some("envs/net.json"))
            .then_output(move || GetObjectOutput::builder().body(ByteStream::from(body.clone())).e_tag(etag).build())
    }

    fn precondition_failed() -> PutObjectError {
        PutObjectError::generic(
            ErrorMetadata::builder()
                .code("PreconditionFailed")
                .message("At least one of the pre-conditions you specified did not hold")
                .build(),
        )
    }

    fn state(serial: u64) -> State {
        let mut s = State::new("net", "us-east-1");
        s.lineage = "l-1".into();
        s.secret_key = "k-1".into();
        s.serial = serial;
        s
    }

    fn body(s: &State) -> Vec<u8> {
        serde_json::to_vec_pretty(s).unwrap()
    }

    #[tokio::test]
    async fn writes_are_conditional_on_the_etag_last_read_or_written() {
        let read = object(body(&state(3)), "\"e3\"");
        let first = mock!(Client::put_object)
            .match_requests(|r| {
                r.if_match() == Some("\"e3\"")
                    && r.if_none_match().is_none()
                    && r.server_side_encryption() == Some(&ServerSideEncryption::Aes256)
            })
            .then_output(|| PutObjectOutput::builder().e_tag("\"e4\"").build());
        let second = mock!(Client::put_object)
            .match_requests(|r| r.if_match() == Some("\"e4\""))
            .then_output(|| PutObjectOutput::builder().e_tag("\"e5\"").build());
        let b = backend(&[&read, &first, &second]);
        assert_eq!(b.read().await.unwrap().unwrap().serial, 3);
        b.write(&state(4)).await.unwrap();
        b.write(&state(5)).await.unwrap();
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_missing_state_is_created_only_if_still_missing() {
        let missing = mock!(Client::get_object).then_error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build()));
        let create = mock!(Client::put_object)
            .match_requests(|r| r.if_none_match() == Some("*") && r.if_match().is_none())
            .then_output(|| PutObjectOutput::builder().e_tag("\"e1\"").build());
        let b = backend(&[&missing, &create]);
        assert!(b.read().await.unwrap().is_none());
        b.write(&state(1)).await.unwrap();
        assert_eq!(create.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_put_whose_object_holds_what_was_sent_is_a_lost_answer_not_a_conflict() {
        // The SDK's retry of a put that had landed meets the ETag the put itself moved.
        let read = object(body(&state(3)), "\"e3\"");
        let refused = mock!(Client::put_object).then_error(precondition_failed);
        let landed = object(body(&state(4)), "\"e4\"");
        let next = mock!(Client::put_object)
            .match_requests(|r| r.if_match() == Some("\"e4\""))
            .then_output(|| PutObjectOutput::builder().e_tag("\"e5\"").build());
        let b = backend(&[&read, &refused, &landed, &next]);
        b.read().await.unwrap();
        b.write(&state(4)).await.unwrap();
        b.write(&state(5)).await.unwrap();
        assert_eq!(next.num_calls(), 1, "the next write is conditional on the ETag read back");
    }

    #[tokio::test]
    async fn a_refused_put_over_someone_elses_state_is_a_conflict_and_stays_one() {
        let read = object(body(&state(3)), "\"e3\"");
        let refused = || {
            mock!(Client::put_object).match_requests(|r| r.if_match() == Some("\"e3\"")).then_error(precondition_failed)
        };
        let (r1, r2) = (refused(), refused());
        let (t1, t2) = (object(body(&state(9)), "\"e9\""), object(body(&state(9)), "\"e9\""));
        let b = backend(&[&read, &r1, &t1, &r2, &t2]);
        b.read().await.unwrap();
        for _ in 0..2 {
            match b.write(&state(4)).await {
                Err(StateError::Conflict { at, expected: 3 }) => assert_eq!(at, "s3://bkt/envs/net.json"),
                r => panic!("{r:?}"),
            }
        }
        assert_eq!(r1.num_calls() + r2.num_calls(), 2, "still conditional on the ETag this run saw, never forced");
    }

    #[tokio::test]
    async fn an_unversioned_bucket_is_refused_when_locking_and_the_lock_is_removed() {
        // No version id in the answer: the bucket keeps none.
        let lock = mock!(Client::put_object)
            .match_requests(|r| r.key() == Some("envs/net.json.lock") && r.if_none_match() == Some("*"))
            .then_output(|| PutObjectOutput::builder().e_tag("\"l1\"").build());
        let unlock = mock!(Client::delete_object)
            .match_requests(|r| r.key() == Some("envs/net.json.lock") && r.if_match() == Some("\"l1\""))
            .then_output(|| DeleteObjectOutput::builder().build());
        let b = backend(&[&lock, &unlock]);
        match b.lock(&LockInfo::new("apply")).await {
            Err(StateError::Refused(m)) => {
                assert!(m.contains("does not keep versions") && m.contains("--allow-unversioned"), "{m}")
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(unlock.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_lock_put_refused_by_our_own_lost_answer_is_ours_and_anothers_names_the_holder() {
        let mine = LockInfo::new("apply");
        let theirs = LockInfo::new("destroy");
        let refused = || {
            mock!(Client::put_object).match_requests(|r| r.if_none_match() == Some("*")).then_error(precondition_failed)
        };
        let holder = |l: &LockInfo| {
            let body = serde_json::to_vec(l).unwrap();
            mock!(Client::get_object).match_requests(|r| r.key() == Some("envs/net.json.lock")).then_output(move || {
                GetObjectOutput::builder().body(ByteStream::from(body.clone())).e_tag("\"l\"").version_id("v1").build()
            })
        };
        let (r1, h1, r2, h2) = (refused(), holder(&mine), refused(), holder(&theirs));
        let b = backend(&[&r1, &h1, &r2, &h2]);
        b.lock(&mine).await.unwrap();
        match b.lock(&mine).await {
            Err(StateError::Locked(h)) => assert_eq!(h.id, theirs.id),
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn keys_under_a_prefix_and_beside_an_exact_key() {
        let p = S3Location::parse("s3://bkt/envs/").unwrap();
        assert_eq!(p.key_for("net"), "envs/net.json");
        assert_eq!(p.beside("app").key_for("app"), "envs/app.json");
        let e = S3Location::parse("s3://bkt/prod/state-of-net.json").unwrap();
        assert_eq!(e.key_for("net"), "prod/state-of-net.json");
        assert_eq!(e.beside("app").key_for("app"), "prod/app.json");
        assert_eq!(S3Location::parse("s3://bkt/top.json").unwrap().beside("app").key, "app.json");
        assert!(S3Location::parse("s3://bkt").unwrap_err().contains("no key"));
        assert!(S3Location::parse("s3://B_kt/k").unwrap_err().contains("invalid bucket name"));
    }
}
