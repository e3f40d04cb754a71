use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{LockInfo, State, StateBackend, StateError, StateVersion};

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
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        // create_new is O_CREAT|O_EXCL: exactly one process wins.
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                let body = serde_json::to_vec_pretty(info).map_err(|e| StateError::Io(e.to_string()))?;
                f.write_all(&body).and_then(|_| f.sync_all()).map_err(|e| self.io(e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| serde_json::from_str::<LockInfo>(&t).ok())
                    .unwrap_or_else(LockInfo::unreadable);
                Err(StateError::Locked(holder))
            }
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
        let held = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<LockInfo>(&t).ok());
        match held {
            Some(h) if h.id == lock_id => {
                std::fs::remove_file(&path).map_err(|e| self.io(e))?;
                Ok(h)
            }
            _ => Err(StateError::NoSuchLock(lock_id.to_owned())),
        }
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
