//! Streams one uploaded file to a temporary file: size limit, content check and digests on the
//! fly, never more than a few buffers in memory.
//!
//! The network side fills a buffer while the previous one is hashed and written on the blocking
//! pool, so receiving, hashing and writing overlap. No thread is held between buffers, so slow
//! clients cost no threads.

use std::fs::File;
use std::io::{self, Write};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use md5::Md5;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::checksum::{ChecksumError, Expected};
use crate::sniff::{SniffError, TgzSniffer, Verdict};
use crate::storage::{Store, TempFile};

/// Size of the buffers handed to the writer: large writes are what make the disk fast.
const WRITE_CHUNK: usize = 1 << 20;

/// Ask the kernel to start writing back every this many bytes, so the final fsync has little
/// left to do and dirty pages do not pile up.
#[cfg(target_os = "linux")]
const WRITEBACK_EVERY: u64 = 8 << 20;

/// A stream of body bytes: a raw request body or one multipart field.
pub trait ChunkSource: Send {
    /// The next piece of the body; `None` at its end. The error says why the client's data stopped.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, String>> + Send;
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub idle_timeout: Duration,
}

/// A complete upload, verified and synced to disk, not yet given its name.
#[derive(Debug)]
pub struct Received {
    pub temp: TempFile,
    pub size: u64,
    pub sha256: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the file is larger than the limit of {max} bytes")]
    TooLarge { max: u64 },
    #[error(transparent)]
    Content(#[from] SniffError),
    #[error(transparent)]
    Checksum(#[from] ChecksumError),
    #[error("the upload was interrupted: {0}")]
    Aborted(String),
    #[error("no data received for {0:?}")]
    IdleTimeout(Duration),
    #[error("storage error: {0}")]
    Io(#[from] io::Error),
}

pub async fn receive(
    store: &Store,
    source: &mut impl ChunkSource,
    limits: Limits,
    expected: Expected,
) -> Result<Received, ReceiveError> {
    let store = store.clone();
    let (temp, file) = tokio::task::spawn_blocking(move || store.create_temp())
        .await
        .map_err(io::Error::other)??;
    let mut sink = Sink::new(file, expected.md5.is_some());
    let mut sniffer = TgzSniffer::default();
    let mut recognised = false;
    let mut size = 0u64;
    let mut buffer = BytesMut::new();

    loop {
        let chunk = match tokio::time::timeout(limits.idle_timeout, source.next_chunk()).await {
            Err(_) => return Err(ReceiveError::IdleTimeout(limits.idle_timeout)),
            Ok(Err(reason)) => return Err(ReceiveError::Aborted(reason)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => chunk,
        };
        size += chunk.len() as u64;
        if size > limits.max_bytes {
            return Err(ReceiveError::TooLarge {
                max: limits.max_bytes,
            });
        }
        if !recognised {
            recognised = sniffer.feed(&chunk)? == Verdict::Tgz;
        }
        if buffer.is_empty() && chunk.len() >= WRITE_CHUNK / 2 {
            // Already large: hand it over without copying.
            sink.push(chunk).await?;
            continue;
        }
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            if buffer.capacity() == 0 {
                buffer.reserve(WRITE_CHUNK);
            }
            let take = rest.len().min(WRITE_CHUNK - buffer.len());
            buffer.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if buffer.len() == WRITE_CHUNK {
                sink.push(buffer.split().freeze()).await?;
            }
        }
    }
    if !recognised {
        sniffer.finish()?;
    }
    if !buffer.is_empty() {
        sink.push(buffer.split().freeze()).await?;
    }
    let digests = sink.finish().await?;
    expected.verify(&digests.sha256, digests.md5.as_ref())?;
    Ok(Received {
        temp,
        size,
        sha256: digests.sha256,
    })
}

/// What is read of a refused body before closing the connection.
pub const DRAIN_BYTES: u64 = 1 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Reads and discards what is left of a refused body, within limits. Closing a socket with unread
/// data makes the kernel reset the connection, and a client still sending then sees the reset
/// instead of the error response. `true` when the body ended within the limits.
pub async fn drain(source: &mut impl ChunkSource) -> bool {
    let mut drained = 0u64;
    let read_all = async {
        while drained <= DRAIN_BYTES {
            match source.next_chunk().await {
                Ok(Some(chunk)) => drained += chunk.len() as u64,
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
        false
    };
    tokio::time::timeout(DRAIN_TIME, read_all)
        .await
        .unwrap_or(false)
}

impl ReceiveError {
    /// Whether the client may still be sending: not when it went away or went silent.
    pub fn client_still_sending(&self) -> bool {
        !matches!(self, ReceiveError::Aborted(_) | ReceiveError::IdleTimeout(_))
    }
}

struct Digests {
    sha256: [u8; 32],
    md5: Option<[u8; 16]>,
}

/// The file and the running digests; moved to the blocking pool for each buffer.
struct SinkState {
    file: File,
    sha256: Sha256,
    md5: Option<Md5>,
    #[cfg(target_os = "linux")]
    written: u64,
    #[cfg(target_os = "linux")]
    flushed: u64,
}

impl SinkState {
    fn absorb(&mut self, data: &[u8]) -> io::Result<()> {
        self.sha256.update(data);
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        self.file.write_all(data)?;
        #[cfg(target_os = "linux")]
        {
            self.written += data.len() as u64;
            if self.written - self.flushed >= WRITEBACK_EVERY {
                start_writeback(&self.file, self.flushed, self.written - self.flushed);
                self.flushed = self.written;
            }
        }
        Ok(())
    }
}

/// Writes buffers in order, at most one in flight.
struct Sink {
    idle: Option<SinkState>,
    busy: Option<JoinHandle<io::Result<SinkState>>>,
}

impl Sink {
    fn new(file: File, with_md5: bool) -> Sink {
        Sink {
            idle: Some(SinkState {
                file,
                sha256: Sha256::new(),
                md5: with_md5.then(Md5::new),
                #[cfg(target_os = "linux")]
                written: 0,
                #[cfg(target_os = "linux")]
                flushed: 0,
            }),
            busy: None,
        }
    }

    async fn take_state(&mut self) -> io::Result<SinkState> {
        if let Some(busy) = self.busy.take() {
            return busy.await.map_err(io::Error::other)?;
        }
        Ok(self.idle.take().expect("the sink holds its state when no write is in flight"))
    }

    async fn push(&mut self, data: Bytes) -> io::Result<()> {
        let mut state = self.take_state().await?;
        self.busy = Some(tokio::task::spawn_blocking(move || {
            state.absorb(&data)?;
            Ok(state)
        }));
        Ok(())
    }

    /// Waits for the last write, syncs the file to disk and returns the digests.
    async fn finish(mut self) -> io::Result<Digests> {
        let state = self.take_state().await?;
        tokio::task::spawn_blocking(move || {
            state.file.sync_all()?;
            Ok(Digests {
                sha256: state.sha256.finalize().into(),
                md5: state.md5.map(|md5| md5.finalize().into()),
            })
        })
        .await
        .map_err(io::Error::other)?
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the duration of the call; the flag only starts
    // asynchronous writeback of the range and touches no memory of ours. A failure is harmless:
    // the final fsync writes whatever is left.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}
