//! Storage limits: a quota on the total size of the stored files, and a floor of free space on
//! the data directory's file system. Both are checked before an upload's body is read (with its
//! declared length) and again while it streams in; an upload refused part-way leaves nothing.
//!
//! The stored total is counted at startup, kept up to date by this instance's uploads and
//! deletions, and recounted from the directory when older than [`RESCAN_AFTER`] (other instances
//! sharing the directory change it too). Uploads in progress on this instance count towards the
//! quota as their bytes arrive.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::storage::Store;

/// Free space is checked again every this many bytes of an upload.
pub const FREE_CHECK_EVERY: u64 = 16 << 20;
/// The stored total is recounted from the directory when older than this (quota only).
pub const RESCAN_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpaceError {
    #[error("the upload would exceed the storage quota of {quota} bytes")]
    Quota { quota: u64 },
    #[error("the server is short of disk space; retry later")]
    LowSpace,
}

#[derive(Debug)]
pub struct Space {
    store: Store,
    quota: Option<u64>,
    min_free: u64,
    /// Bytes of the stored files.
    stored: AtomicU64,
    /// Bytes received by this instance's uploads in progress.
    in_flight: AtomicU64,
    /// When `stored` was last counted from the directory.
    counted_at: Mutex<Option<Instant>>,
}

impl Space {
    /// `min_free` 0 disables the free-space check.
    pub fn new(store: Store, quota: Option<u64>, min_free: u64) -> Space {
        Space {
            store,
            quota,
            min_free,
            stored: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            counted_at: Mutex::new(None),
        }
    }

    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts the stored files now (blocking).
    pub fn count(&self) -> io::Result<u64> {
        let total = self.store.list()?.iter().map(|file| file.size).sum();
        self.stored.store(total, Ordering::Relaxed);
        *lock(&self.counted_at) = Some(Instant::now());
        Ok(total)
    }

    pub fn stored_added(&self, bytes: u64) {
        self.stored.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn stored_removed(&self, bytes: u64) {
        let _ = self.stored.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(bytes)));
    }

    /// Whether an upload of `length` more bytes (0 when unknown) may start.
    pub async fn admit(self: &Arc<Self>, length: u64) -> Result<(), SpaceError> {
        if let Some(quota) = self.quota {
            let stale = lock(&self.counted_at).is_none_or(|at| at.elapsed() >= RESCAN_AFTER);
            if stale {
                let space = self.clone();
                match tokio::task::spawn_blocking(move || space.count()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "counting the stored files failed"),
                    Err(e) => tracing::warn!(error = %e, "counting the stored files failed"),
                }
            }
            if self.stored().saturating_add(self.in_flight()).saturating_add(length) > quota {
                return Err(SpaceError::Quota { quota });
            }
        }
        self.check_free(length).await
    }

    /// Tracks an upload's bytes as they arrive; they stop counting as in flight when dropped.
    pub fn reserve(self: &Arc<Self>) -> Reservation {
        Reservation { space: self.clone(), bytes: 0, next_free_check: 0 }
    }

    /// Refuses when fewer than `min_free + more` bytes are free. A file system that cannot be
    /// asked is not refused: writing will tell.
    async fn check_free(&self, more: u64) -> Result<(), SpaceError> {
        if self.min_free == 0 {
            return Ok(());
        }
        let dir = self.store.dir().to_owned();
        let free = match tokio::task::spawn_blocking(move || free_bytes(&dir)).await {
            Ok(Ok(free)) => free,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot tell the free space of the data directory");
                None
            }
            Err(_) => None,
        };
        match free {
            Some(free) if free < self.min_free.saturating_add(more) => Err(SpaceError::LowSpace),
            _ => Ok(()),
        }
    }
}

/// One upload's bytes so far.
#[derive(Debug)]
pub struct Reservation {
    space: Arc<Space>,
    bytes: u64,
    next_free_check: u64,
}

impl Reservation {
    /// Counts `bytes` more: refused when the quota is passed, or (every [`FREE_CHECK_EVERY`]
    /// bytes) when free space is under the floor.
    pub async fn grow(&mut self, bytes: u64) -> Result<(), SpaceError> {
        self.bytes += bytes;
        let in_flight = self.space.in_flight.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(quota) = self.space.quota
            && self.space.stored().saturating_add(in_flight) > quota
        {
            return Err(SpaceError::Quota { quota });
        }
        if self.bytes >= self.next_free_check {
            self.next_free_check = self.bytes + FREE_CHECK_EVERY;
            self.space.check_free(0).await?;
        }
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.space.in_flight.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Bytes available to unprivileged users on the file system holding `dir`; `None` where the
/// platform has no `statvfs`.
pub fn free_bytes(dir: &Path) -> io::Result<Option<u64>> {
    #[cfg(unix)]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let path = CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
        let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `path` is a valid NUL-terminated string and `stat` points to writable memory
        // of the right type, which statvfs fills when it returns 0.
        let stat = unsafe {
            if libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            stat.assume_init()
        };
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        Ok(Some(u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize))))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(None)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(quota: Option<u64>, min_free: u64) -> (tempfile::TempDir, Arc<Space>) {
        let dir = tempfile::tempdir().unwrap();
        let space = Arc::new(Space::new(Store::new(dir.path()), quota, min_free));
        (dir, space)
    }

    #[tokio::test]
    async fn the_quota_counts_stored_and_incoming_bytes() {
        let (dir, space) = limits(Some(1000), 0);
        std::fs::write(dir.path().join("old.tgz"), vec![0; 400]).unwrap();
        // Hidden files (metadata, temporary files) are not stored files.
        std::fs::write(dir.path().join(".old.tgz.meta.json"), vec![0; 100]).unwrap();
        space.admit(600).await.unwrap();
        assert_eq!(space.stored(), 400);
        assert_eq!(space.admit(601).await, Err(SpaceError::Quota { quota: 1000 }));

        let mut first = space.reserve();
        first.grow(300).await.unwrap();
        let mut second = space.reserve();
        assert_eq!(second.grow(301).await, Err(SpaceError::Quota { quota: 1000 }));
        drop(second);
        assert_eq!(space.in_flight(), 300);
        second = space.reserve();
        second.grow(300).await.unwrap();
        drop((first, second));
        assert_eq!(space.in_flight(), 0);

        space.stored_added(600);
        assert_eq!(space.admit(1).await, Err(SpaceError::Quota { quota: 1000 }));
        space.stored_removed(5000);
        assert_eq!(space.stored(), 0);
    }

    #[tokio::test]
    async fn the_free_space_floor() {
        let free = free_bytes(std::env::temp_dir().as_path()).unwrap().unwrap();
        assert!(free > 0);
        let (_dir, space) = limits(None, u64::MAX / 2);
        assert_eq!(space.admit(0).await, Err(SpaceError::LowSpace));
        assert_eq!(space.reserve().grow(1).await, Err(SpaceError::LowSpace));
        let (_dir, space) = limits(None, 1);
        space.admit(0).await.unwrap();
        assert_eq!(space.admit(u64::MAX - 1).await, Err(SpaceError::LowSpace));
        let (_dir, space) = limits(None, 0);
        space.admit(u64::MAX).await.unwrap();
    }
}
