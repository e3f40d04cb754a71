use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{LockInfo, StateBackend, StateError, StateVersion};
use crate::state::State;

/// State in a local file (default `.rprov/<stack>.json`), lock beside it (`.lock`).
pub struct LocalBackend {
    path: PathBuf,
    /// Lineage and serial this process last read or wrote: the compare in compare-and-swap.
    seen: std::sync::Mutex<Option<(String, u64)>>,
}

impl LocalBackend {
    pub fn new(path: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend { path: path.into(), seen: std::sync::Mutex::new(None) }
    }
    pub fn for_stack(dir: &Path, stack: &str) -> LocalBackend {
        LocalBackend::new(dir.join(format!("{stack}.json")))
    }
    fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }
    fn describe_lock(&self) -> String {
        self.lock_path().display().to_string()
    }

    /// Who holds the lock, as its file says; unreadable: held by someone unknown.
    fn holder(&self) -> LockInfo {
        std::fs::read_to_string(self.lock_path())
            .ok()
            .and_then(|t| serde_json::from_str::<LockInfo>(&t).ok())
            .unwrap_or_else(LockInfo::unreadable)
    }

    fn no_history(&self) -> StateError {
        StateError::Refused(format!(
            "{} is a local state file: it keeps no earlier versions (each write replaces it). Keep state in S3 with bucket versioning (`--state s3://BUCKET/KEY`) for a history to roll back to",
            self.path.display()
        ))
    }
    fn io(&self, e: std::io::Error) -> StateError {
        StateError::Io(format!("{}: {e}", self.path.display()))
    }
    fn read_sync(&self) -> Result<Option<State>, StateError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        super::parse(text.as_bytes(), &self.path.display().to_string()).map(Some)
    }
}

/// Temp file in the same directory, fsync, rename, fsync the directory: a reader sees the old
/// document or the new one, never half of one, even after a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id()
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[async_trait]
impl StateBackend for LocalBackend {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    async fn read(&self) -> Result<Option<State>, StateError> {
        let s = self.read_sync()?;
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = s.as_ref().map(|s| (s.lineage.clone(), s.serial));
        Ok(s)
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        // Compare-and-swap: the file must still hold what this process last read or wrote, so a
        // writer that lost a race never overwrites newer state. (The lock makes this rare; the
        // check makes it harmless.)
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.read_sync()?.map(|s| (s.lineage, s.serial));
        if current.is_some() && current != *seen {
            return Err(StateError::Conflict {
                at: self.describe(),
                expected: seen.as_ref().map(|s| s.1).unwrap_or(0),
            });
        }
        if state.serial <= current.as_ref().map(|c| c.1).unwrap_or(0) && current.is_some() {
            return Err(StateError::Conflict { at: self.describe(), expected: state.serial });
        }
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| StateError::Io(e.to_string()))?;
        write_atomic(&self.path, &bytes).map_err(|e| self.io(e))?;
        *seen = Some((state.lineage.clone(), state.serial));
        Ok(())
    }

    async fn lock(&self, info: &LockInfo) -> Result<(), StateError> {
        let path = self.lock_path();
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        // The body is written to a file of this process first and then hard-linked into place:
        // link(2) fails if the lock exists, so exactly one process wins, and the lock is never
        // seen empty or half-written (a kill between an O_EXCL create and its write left an
        // empty lock that no `force-unlock` could name).
        let body = serde_json::to_vec_pretty(info).map_err(|e| StateError::Io(e.to_string()))?;
        let tmp = dir.join(format!(
            ".{}.{}.{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("state.lock"),
            std::process::id(),
            info.id
        ));
        let written = std::fs::File::create(&tmp).and_then(|mut f| f.write_all(&body).and_then(|()| f.sync_all()));
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(StateError::Locked(self.holder())),
            Err(e) => Err(self.io(e)),
        }
    }

    async fn unlock(&self, info: &LockInfo) -> Result<(), StateError> {
        let path = self.lock_path();
        let held = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<LockInfo>(&t).ok());
        if held.is_some_and(|h| h.id == info.id) {
            std::fs::remove_file(&path).map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    async fn force_unlock(&self, lock_id: &str) -> Result<LockInfo, StateError> {
        let path = self.lock_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NoSuchLock(lock_id.to_owned()));
            }
            Err(e) => return Err(self.io(e)),
        };
        match serde_json::from_str::<LockInfo>(&text) {
            Ok(h) if h.id == lock_id => {}
            Ok(_) => return Err(StateError::NoSuchLock(lock_id.to_owned())),
            // A lock file no rprov of this version wrote whole (an older one killed between
            // creating and writing it): it names no id, so `unknown` is the one that removes it.
            Err(_) if lock_id == LockInfo::unreadable().id => {}
            Err(_) => return Err(StateError::UnreadableLock(self.describe_lock())),
        }
        std::fs::remove_file(&path).map_err(|e| self.io(e))?;
        Ok(serde_json::from_str(&text).unwrap_or_else(|_| LockInfo::unreadable()))
    }

    async fn delete(&self) -> Result<(), StateError> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.io(e)),
            _ => Ok(()),
        }
    }

    // A local file keeps no history: the rename replaces it. Rather than invent a backup scheme
    // that only this machine would see, say so; the S3 backend (with bucket versioning) has one.
    async fn list_versions(&self) -> Result<Vec<StateVersion>, StateError> {
        Err(self.no_history())
    }

    async fn read_version(&self, _id: &str) -> Result<State, StateError> {
        Err(self.no_history())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lock_is_exclusive_and_released_by_holder_only() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::for_stack(dir.path(), "net");
        let a = LockInfo::new("apply");
        let other = LockInfo::new("apply");
        b.lock(&a).await.unwrap();
        match b.lock(&other).await {
            Err(StateError::Locked(h)) => assert_eq!(h.id, a.id),
            r => panic!("second lock: {r:?}"),
        }
        b.unlock(&other).await.unwrap();
        assert!(b.lock(&other).await.is_err(), "a non-holder's unlock must not release");
        assert!(matches!(b.force_unlock("nope").await, Err(StateError::NoSuchLock(_))));
        assert_eq!(b.force_unlock(&a.id).await.unwrap().id, a.id);
        b.lock(&other).await.unwrap();
    }

    #[tokio::test]
    async fn a_lock_is_never_seen_without_its_body_and_an_unreadable_one_is_removed_as_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::for_stack(dir.path(), "net");
        let a = LockInfo::new("apply");
        b.lock(&a).await.unwrap();
        let body: LockInfo = serde_json::from_str(&std::fs::read_to_string(b.lock_path()).unwrap()).unwrap();
        assert_eq!(body, a);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left beside the lock: {leftovers:?}");
        b.force_unlock(&a.id).await.unwrap();
        // What an older rprov killed between creating the lock and writing it left behind.
        std::fs::write(b.lock_path(), "").unwrap();
        match b.lock(&LockInfo::new("apply")).await {
            Err(StateError::Locked(h)) => assert_eq!(h.id, "unknown"),
            r => panic!("{r:?}"),
        }
        assert!(matches!(b.force_unlock("some-id").await, Err(StateError::UnreadableLock(_))));
        b.force_unlock("unknown").await.unwrap();
        b.lock(&a).await.unwrap();
    }

    #[tokio::test]
    async fn writes_are_compare_and_swap_on_serial() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::for_stack(dir.path(), "net");
        let mut s = State::new("net", "us-east-1");
        s.serial = 1;
        b.write(&s).await.unwrap();
        s.serial = 4;
        b.write(&s).await.unwrap();
        // Another process (its own view of the file) writes meanwhile.
        let other = LocalBackend::for_stack(dir.path(), "net");
        let mut theirs = other.read().await.unwrap().unwrap();
        theirs.serial = 5;
        other.write(&theirs).await.unwrap();
        s.serial = 6;
        assert!(matches!(b.write(&s).await, Err(StateError::Conflict { .. })));
        assert_eq!(b.read().await.unwrap().unwrap().serial, 5);
        // Having read the newer state, it may write again.
        s.serial = 6;
        b.write(&s).await.unwrap();
    }
}
