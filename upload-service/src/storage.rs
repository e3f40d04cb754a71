//! The data directory: stored files, their metadata sidecars and in-flight temporary files.
//!
//! Layout, all in one directory (so a rename is atomic, and other instances may share it over
//! NFS/EFS):
//! - `{name}`: a stored file; only files whose name passes [`FileName::parse`] are served;
//! - `.{name}.meta.json`: its [`Meta`], also the lock that claims the name while it is committed;
//! - `.upload-{uuid}.tmp`: an upload being received; renamed to `{name}` once complete and verified.
//!
//! Every function here blocks; callers run them on the blocking pool.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::checksum::to_hex;
use crate::names::FileName;
use crate::wire::{FileEntry, Meta, MetaV1};

const TEMP_PREFIX: &str = ".upload-";
const TEMP_SUFFIX: &str = ".tmp";
const PROBE_PREFIX: &str = ".ready-";
const META_SUFFIX: &str = ".meta.json";

/// How many `-N` suffixes are tried for a duplicate name before giving up.
const MAX_SUFFIX: u32 = 9999;

/// What to do when the name is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Fail with [`CommitError::Conflict`].
    Reject,
    /// Store as `stem-N.ext` with the smallest free N.
    Suffix,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("a file named {0:?} already exists")]
    Conflict(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A file being received. Dropping it removes it: an upload that fails or whose connection drops
/// leaves nothing behind.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// What the service knows of a stored file.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub name: String,
    pub size: u64,
    pub sha256: Option<String>,
    pub uploaded_at: OffsetDateTime,
    pub modified: SystemTime,
}

impl StoredFile {
    pub fn entry(&self) -> FileEntry {
        FileEntry {
            name: self.name.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            uploaded_at: rfc3339(self.uploaded_at),
        }
    }
}

/// RFC 3339 in UTC with milliseconds, always 24 characters: the strings sort like the times.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the data directory if needed and removes what crashed uploads left behind.
    pub fn prepare(&self, temp_max_idle: Duration) -> io::Result<usize> {
        fs::create_dir_all(&self.dir)?;
        self.sweep(temp_max_idle)
    }

    /// Removes temporary files and orphaned metadata untouched for `max_idle`. Younger ones may
    /// belong to uploads in progress on another instance sharing the directory.
    pub fn sweep(&self, max_idle: Duration) -> io::Result<usize> {
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let leftover = is_temp_name(&name) || name.starts_with(PROBE_PREFIX);
            let orphan = meta_target(&name).is_some_and(|data| !self.dir.join(data).exists());
            if !leftover && !orphan {
                continue;
            }
            let Ok(metadata) = entry.metadata() else { continue };
            let modified = metadata.modified().unwrap_or(now);
            if now.duration_since(modified).unwrap_or_default() < max_idle {
                continue;
            }
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// A new, empty temporary file for an upload.
    pub fn create_temp(&self) -> io::Result<(TempFile, File)> {
        let path = self.dir.join(format!("{TEMP_PREFIX}{}{TEMP_SUFFIX}", uuid::Uuid::new_v4()));
        let file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        Ok((TempFile { path }, file))
    }

    /// Whether `name` is taken (a stored file, or a commit in progress).
    pub fn exists(&self, name: &FileName) -> bool {
        self.dir.join(name.as_str()).symlink_metadata().is_ok()
            || self.meta_path(name.as_str()).symlink_metadata().is_ok()
    }

    /// Moves a complete, verified upload (already synced to disk) to its final name.
    pub fn commit(
        &self,
        temp: TempFile,
        name: &FileName,
        on_conflict: OnConflict,
        size: u64,
        sha256: &[u8; 32],
        user: &str,
    ) -> Result<StoredFile, CommitError> {
        for attempt in 0..=MAX_SUFFIX {
            let candidate = if attempt == 0 { name.clone() } else { name.with_suffix(attempt) };
            if let Some(stored) = self.try_commit(&temp, &candidate, size, sha256, user)? {
                // The temporary path no longer exists; make the guard forget it.
                let mut temp = temp;
                temp.path = PathBuf::new();
                return Ok(stored);
            }
            if on_conflict == OnConflict::Reject {
                break;
            }
        }
        Err(CommitError::Conflict(name.to_string()))
    }

    /// Claims `name` by creating its metadata file exclusively (atomic on local filesystems and on
    /// NFSv4), then renames the data into place. `None` when the name is taken.
    fn try_commit(
        &self,
        temp: &TempFile,
        name: &FileName,
        size: u64,
        sha256: &[u8; 32],
        user: &str,
    ) -> io::Result<Option<StoredFile>> {
        let meta_path = self.meta_path(name.as_str());
        let mut meta_file = match OpenOptions::new().write(true).create_new(true).open(&meta_path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(e),
        };
        let release = |error: io::Error| {
            let _ = fs::remove_file(&meta_path);
            error
        };
        let data_path = self.dir.join(name.as_str());
        if data_path.symlink_metadata().is_ok() {
            // A file put there by other means: keep it, and our hands off it.
            let _ = fs::remove_file(&meta_path);
            return Ok(None);
        }
        let uploaded_at = OffsetDateTime::now_utc();
        let meta = Meta::V1(MetaV1 {
            name: name.to_string(),
            size,
            sha256: to_hex(sha256),
            uploaded_at: rfc3339(uploaded_at),
            uploaded_by: user.to_owned(),
        });
        let json = serde_json::to_vec_pretty(&meta).expect("metadata serialises");
        meta_file.write_all(&json).and_then(|()| meta_file.sync_all()).map_err(release)?;
        fs::rename(&temp.path, &data_path).map_err(release)?;
        if let Err(e) = sync_dir(&self.dir) {
            // The file is in place and visible; only the rename's durability across a power loss
            // is in doubt. Failing the request now would report as lost a file that is listed.
            tracing::warn!(error = %e, file = %name, "syncing the data directory failed");
        }
        let modified = data_path.metadata().and_then(|m| m.modified()).unwrap_or_else(|_| SystemTime::now());
        Ok(Some(StoredFile { name: name.to_string(), size, sha256: Some(to_hex(sha256)), uploaded_at, modified }))
    }

    /// Every stored file, newest first.
    pub fn list(&self) -> io::Result<Vec<StoredFile>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Ok(name) = FileName::parse(&name) else {
                continue;
            };
            match self.stat(&name) {
                Ok(Some(file)) => files.push(file),
                Ok(None) => {}
                // Deleted between read_dir and stat.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        files.sort_by(|a, b| b.uploaded_at.cmp(&a.uploaded_at).then_with(|| a.name.cmp(&b.name)));
        Ok(files)
    }

    /// Opens a stored file for reading.
    pub fn open(&self, name: &FileName) -> io::Result<(File, StoredFile)> {
        let stored = self.stat(name)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let file = File::open(self.dir.join(name.as_str()))?;
        Ok((file, stored))
    }

    /// Removes a stored file and its metadata. Its size, or `None` when there was no such file.
    pub fn delete(&self, name: &FileName) -> io::Result<Option<u64>> {
        let Some(stored) = self.stat(name)? else {
            return Ok(None);
        };
        match fs::remove_file(self.dir.join(name.as_str())) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        match fs::remove_file(self.meta_path(name.as_str())) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Some(stored.size))
    }

    /// Storage is usable: a file can be created, written, synced and removed.
    pub fn check_writable(&self) -> io::Result<()> {
        let path = self.dir.join(format!("{PROBE_PREFIX}{}", uuid::Uuid::new_v4()));
        let result = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&path)?;
            file.write_all(b"ok")?;
            file.sync_all()
        })();
        let removed = fs::remove_file(&path);
        result.and(removed)
    }

    /// `None` when `name` is not a regular file (missing, a directory, a symlink).
    fn stat(&self, name: &FileName) -> io::Result<Option<StoredFile>> {
        let metadata = match self.dir.join(name.as_str()).symlink_metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !metadata.file_type().is_file() {
            return Ok(None);
        }
        let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let meta = self.read_meta(name.as_str());
        let sha256 = meta.as_ref().map(|m| m.sha256.clone());
        let uploaded_at = meta
            .and_then(|m| OffsetDateTime::parse(&m.uploaded_at, &Rfc3339).ok())
            .unwrap_or_else(|| OffsetDateTime::from(modified));
        Ok(Some(StoredFile { name: name.to_string(), size: metadata.len(), sha256, uploaded_at, modified }))
    }

    fn read_meta(&self, name: &str) -> Option<MetaV1> {
        let bytes = fs::read(self.meta_path(name)).ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            Meta::V1(meta) => Some(meta),
        }
    }

    fn meta_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!(".{name}{META_SUFFIX}"))
    }
}

pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

/// `.{name}.meta.json` -> `{name}`.
fn meta_target(file_name: &str) -> Option<&str> {
    file_name.strip_prefix('.')?.strip_suffix(META_SUFFIX).filter(|name| !name.is_empty() && !name.starts_with('.'))
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        (dir, store)
    }

    fn upload(store: &Store, name: &str, on_conflict: OnConflict) -> Result<StoredFile, CommitError> {
        let (temp, mut file) = store.create_temp().unwrap();
        file.write_all(b"content").unwrap();
        store.commit(temp, &FileName::parse_upload(name).unwrap(), on_conflict, 7, &[7; 32], "admin")
    }

    fn names(store: &Store) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(store.dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn timestamps_have_a_fixed_width() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_970_000_000).unwrap();
        assert_eq!(rfc3339(at), "2023-11-14T22:13:20.970Z");
        assert_eq!(OffsetDateTime::parse(&rfc3339(at), &Rfc3339).unwrap(), at);
    }

    #[test]
    fn commit_and_conflicts() {
        let (_dir, store) = store();
        let first = upload(&store, "a.tgz", OnConflict::Reject).unwrap();
        assert_eq!(first.sha256.as_deref(), Some(to_hex(&[7; 32]).as_str()));
        assert!(matches!(upload(&store, "a.tgz", OnConflict::Reject), Err(CommitError::Conflict(_))));
        assert_eq!(upload(&store, "a.tgz", OnConflict::Suffix).unwrap().name, "a-1.tgz");
        assert_eq!(upload(&store, "a.tgz", OnConflict::Suffix).unwrap().name, "a-2.tgz");
        // The failed commit's temporary file is gone with its guard.
        assert_eq!(
            names(&store),
            [".a-1.tgz.meta.json", ".a-2.tgz.meta.json", ".a.tgz.meta.json", "a-1.tgz", "a-2.tgz", "a.tgz"]
        );
        let listed: Vec<String> = store.list().unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(listed.len(), 3);
        assert_eq!(store.delete(&FileName::parse("a-1.tgz").unwrap()).unwrap(), Some(7));
        assert_eq!(store.delete(&FileName::parse("a-1.tgz").unwrap()).unwrap(), None);
        assert_eq!(store.list().unwrap().len(), 2);
    }

    #[test]
    fn a_foreign_file_is_listed_and_never_overwritten() {
        let (_dir, store) = store();
        fs::write(store.dir().join("dropped.tgz"), b"x").unwrap();
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].sha256, None);
        assert!(matches!(upload(&store, "dropped.tgz", OnConflict::Reject), Err(CommitError::Conflict(_))));
        assert_eq!(fs::read(store.dir().join("dropped.tgz")).unwrap(), b"x");
    }

    #[test]
    fn sweep_removes_only_stale_leftovers() {
        let (_dir, store) = store();
        upload(&store, "kept.tgz", OnConflict::Reject).unwrap();
        let old = SystemTime::now() - Duration::from_secs(7200);
        for name in [".upload-old.tmp", ".orphan.tgz.meta.json"] {
            let file = File::create(store.dir().join(name)).unwrap();
            file.set_modified(old).unwrap();
        }
        File::create(store.dir().join(".upload-fresh.tmp")).unwrap();
        assert_eq!(store.prepare(Duration::from_secs(900)).unwrap(), 2);
        assert_eq!(names(&store), [".kept.tgz.meta.json", ".upload-fresh.tmp", "kept.tgz"]);
    }
}
