//! Streams one uploaded file to a temporary file: size limit, content check and digests on the
//! fly, never more than a few buffers in memory.
//!
//! The body's frames are gathered into batches of about 1 MiB (without copying) and queued to
//! workers on the blocking pool: one writing, one computing the SHA-256, and, only when the client
//! sent a `Content-MD5` to check, one computing the MD5. Receiving, writing and each digest run in
//! parallel on their own cores. The short queues bound an upload's memory to a few MiB and let
//! each worker go on without waiting to be woken for every batch. The workers live as long as the
//! upload, so the number of concurrent uploads is capped by the caller
//! (`Config::max_concurrent_uploads`).

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use md5::Md5;
use sha2::digest::Output as DigestOutput;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::checksum::{ChecksumError, Expected};
use crate::sniff::{SniffError, TgzSniffer, Verdict};
use crate::space::{Reservation, SpaceError};
use crate::storage::{Store, TempFile};

/// Size of the batches handed to the hasher and the writer: large writes make the disk fast.
const BATCH_BYTES: usize = 1 << 20;

/// At most this many frames per batch (one `writev`, well under `IOV_MAX`).
const BATCH_FRAMES: usize = 256;

/// Batches queued to each worker.
const QUEUE: usize = 4;

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
    #[error(transparent)]
    Space(#[from] SpaceError),
    #[error("storage error: {0}")]
    Io(#[from] io::Error),
}

/// Receives one file; `space` counts its bytes against the storage limits as they arrive.
pub async fn receive(
    store: &Store,
    source: &mut impl ChunkSource,
    limits: Limits,
    expected: Expected,
    space: &mut Reservation,
) -> Result<Received, ReceiveError> {
    let store = store.clone();
    let (temp, file) = tokio::task::spawn_blocking(move || store.create_temp()).await.map_err(io::Error::other)??;
    let mut sink = Sink::new(file, expected.md5.is_some());
    let mut sniffer = TgzSniffer::default();
    let mut recognised = false;
    let mut size = 0u64;
    let mut batch = Batch::default();

    loop {
        let chunk = match tokio::time::timeout(limits.idle_timeout, source.next_chunk()).await {
            Err(_) => return Err(ReceiveError::IdleTimeout(limits.idle_timeout)),
            Ok(Err(reason)) => return Err(ReceiveError::Aborted(reason)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => chunk,
        };
        size += chunk.len() as u64;
        if size > limits.max_bytes {
            return Err(ReceiveError::TooLarge { max: limits.max_bytes });
        }
        space.grow(chunk.len() as u64).await?;
        if !recognised {
            recognised = sniffer.feed(&chunk)? == Verdict::Tgz;
        }
        batch.bytes += chunk.len();
        batch.frames.push(chunk);
        if batch.bytes >= BATCH_BYTES || batch.frames.len() >= BATCH_FRAMES {
            sink.push(std::mem::take(&mut batch)).await?;
        }
    }
    if !recognised {
        sniffer.finish()?;
    }
    if !batch.frames.is_empty() {
        sink.push(batch).await?;
    }
    let digests = sink.finish().await?;
    expected.verify(&digests.sha256, digests.md5.as_ref())?;
    Ok(Received { temp, size, sha256: digests.sha256 })
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
    tokio::time::timeout(DRAIN_TIME, read_all).await.unwrap_or(false)
}

impl ReceiveError {
    /// Whether the client may still be sending: not when it went away or went silent.
    pub fn client_still_sending(&self) -> bool {
        !matches!(self, ReceiveError::Aborted(_) | ReceiveError::IdleTimeout(_))
    }
}

/// Frames of the body, in order.
#[derive(Default)]
struct Batch {
    frames: Vec<Bytes>,
    bytes: usize,
}

struct Digests {
    sha256: [u8; 32],
    md5: Option<[u8; 16]>,
}

/// Appends batches to the file, starting writeback as it goes.
struct Output {
    file: File,
    #[cfg(target_os = "linux")]
    written: u64,
    #[cfg(target_os = "linux")]
    flushed: u64,
}

impl Output {
    fn write(&mut self, frames: &[Bytes]) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = frames.iter().map(|f| IoSlice::new(f)).collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            match self.file.write_vectored(slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        #[cfg(target_os = "linux")]
        {
            self.written += frames.iter().map(|f| f.len() as u64).sum::<u64>();
            if self.written - self.flushed >= WRITEBACK_EVERY {
                start_writeback(&self.file, self.flushed, self.written - self.flushed);
                self.flushed = self.written;
            }
        }
        Ok(())
    }
}

/// A batch, shared by the workers without a copy (frames are reference-counted).
type Shared = Arc<Vec<Bytes>>;

/// A worker computing one digest of the batches it is sent.
struct Hasher<D: Digest> {
    queue: mpsc::Sender<Shared>,
    done: JoinHandle<DigestOutput<D>>,
}

impl<D: Digest + Send + 'static> Hasher<D> {
    fn spawn() -> Hasher<D> {
        let (queue, mut batches) = mpsc::channel::<Shared>(QUEUE);
        let done = tokio::task::spawn_blocking(move || {
            let mut digest = D::new();
            while let Some(frames) = batches.blocking_recv() {
                for frame in frames.iter() {
                    digest.update(frame);
                }
            }
            digest.finalize()
        });
        Hasher { queue, done }
    }

    async fn push(&self, frames: Shared) -> io::Result<()> {
        self.queue.send(frames).await.map_err(|_| io::Error::other("a hasher stopped"))
    }

    /// Closes the queue and waits for the digest.
    async fn finish(self) -> io::Result<DigestOutput<D>> {
        let Hasher { queue, done } = self;
        drop(queue);
        done.await.map_err(io::Error::other)
    }
}

/// The workers and their queues. Dropping it (an upload that fails or is abandoned) closes the
/// queues: the workers stop without syncing anything.
struct Sink {
    to_writer: mpsc::Sender<Shared>,
    /// `None` once awaited.
    writer: Option<JoinHandle<io::Result<File>>>,
    sha256: Hasher<Sha256>,
    /// Only when the client sent a `Content-MD5`: the digest is not stored.
    md5: Option<Hasher<Md5>>,
}

impl Sink {
    fn new(file: File, with_md5: bool) -> Sink {
        let (to_writer, mut writer_queue) = mpsc::channel::<Shared>(QUEUE);
        let writer = tokio::task::spawn_blocking(move || {
            let mut output = Output {
                file,
                #[cfg(target_os = "linux")]
                written: 0,
                #[cfg(target_os = "linux")]
                flushed: 0,
            };
            while let Some(frames) = writer_queue.blocking_recv() {
                output.write(&frames)?;
            }
            Ok(output.file)
        });
        Sink { to_writer, writer: Some(writer), sha256: Hasher::spawn(), md5: with_md5.then(Hasher::spawn) }
    }

    async fn push(&mut self, batch: Batch) -> io::Result<()> {
        let frames = Arc::new(batch.frames);
        if self.to_writer.send(frames.clone()).await.is_err() {
            // The writer stopped on an error: report it.
            return Err(match self.writer.take() {
                Some(writer) => match writer.await {
                    Ok(Err(e)) => e,
                    Ok(Ok(_)) => io::Error::other("the writer stopped"),
                    Err(e) => io::Error::other(e),
                },
                None => io::Error::other("the writer stopped"),
            });
        }
        if let Some(md5) = &self.md5 {
            md5.push(frames.clone()).await?;
        }
        self.sha256.push(frames).await
    }

    /// Waits for the workers, syncs the file to disk and returns the digests.
    async fn finish(self) -> io::Result<Digests> {
        let Sink { to_writer, writer, sha256, md5 } = self;
        drop(to_writer);
        let writer = writer.ok_or_else(|| io::Error::other("the writer stopped"))?;
        let file = writer.await.map_err(io::Error::other)??;
        let synced = tokio::task::spawn_blocking(move || file.sync_all());
        let sha256 = sha256.finish().await?.into();
        let md5 = match md5 {
            Some(md5) => Some(md5.finish().await?.into()),
            None => None,
        };
        synced.await.map_err(io::Error::other)??;
        Ok(Digests { sha256, md5 })
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
