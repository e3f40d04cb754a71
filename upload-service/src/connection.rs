//! Accepting connections and serving HTTP/1.1 on them, with two timeouts against clients that
//! hold connections without using them (slow-loris):
//!
//! - **header read**: a request's headers must have arrived within this time, counted from the
//!   connection's opening for the first request and from the first byte of each later one;
//! - **idle**: a kept-alive connection with no request for this long is closed.
//!
//! hyper's own `header_read_timeout` also runs while a kept-alive connection waits for its next
//! request, so it cannot be short for headers and long for idle connections at once (an idle
//! timeout under the load balancer's makes it send requests on connections being closed, and
//! answer 502). Both are kept here instead: the connection's reads and its requests in flight are
//! watched, and the connection is dropped when the deadline of its current phase passes. A
//! request being handled is not timed here; its body has its own idle timeout.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

/// Serves `router` on the connections `listener` accepts until `shutdown` completes; then stops
/// accepting, lets each connection finish the request it is serving, and returns when all are
/// closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // Dropped to tell the connections to finish.
    let (stop_tx, stop_rx) = watch::channel(());
    // Each connection holds a receiver: `closed()` completes when the last one is gone.
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, typically: give connections time to close.
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(stream, peer, router.clone(), timeouts, stop_rx.clone(), open_rx.clone()));
    }
    drop(listener);
    drop(stop_tx);
    drop((stop_rx, open_rx));
    open_tx.closed().await;
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<()>,
    _open: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let in_flight = InFlight::begin(activity.clone());
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let response = match router.oneshot(request.map(Body::new)).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(response.map(|body| Tracked { body, _in_flight: in_flight }))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The timeouts are enforced below; hyper's would also cut idle connections at the header
    // timeout.
    builder.keep_alive(true).header_read_timeout(None);
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stop.changed(), if !stopping => {
                // Finishes the request in progress, if any, then closes.
                connection.as_mut().graceful_shutdown();
                stopping = true;
            }
            phase = activity.expired(timeouts) => {
                match phase {
                    Expired::Header => tracing::info!(%peer, "closing a connection that did not send its request headers in time"),
                    Expired::Idle => tracing::debug!(%peer, "closing an idle connection"),
                }
                break;
            }
        }
    }
}

/// Where a connection stands, for its timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first byte of a request since then.
    Idle(Instant),
    /// Receiving a request's headers since then.
    Header(Instant),
    /// Requests are being handled (their responses are not all sent).
    Busy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    Header,
    Idle,
}

#[derive(Debug)]
struct Activity {
    phase: Mutex<Phase>,
    /// Requests whose responses are not yet sent (more than one when pipelined).
    in_flight: AtomicUsize,
    changed: Notify,
}

impl Activity {
    /// A new connection: its first request's headers are due.
    fn new() -> Activity {
        Activity {
            phase: Mutex::new(Phase::Header(Instant::now())),
            in_flight: AtomicUsize::new(0),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = phase;
        self.changed.notify_one();
    }

    /// Bytes arrived: on an idle connection, they start a request.
    fn read_some(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let mut phase = self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if matches!(*phase, Phase::Idle(_)) {
                *phase = Phase::Header(Instant::now());
                drop(phase);
                self.changed.notify_one();
            }
        }
    }

    /// Completes when the deadline of the connection's phase has passed.
    async fn expired(&self, timeouts: Timeouts) -> Expired {
        loop {
            let changed = self.changed.notified();
            let Some((deadline, _)) = self.phase().deadline(timeouts) else {
                changed.await;
                continue;
            };
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(deadline) => {
                    // Unless the phase changed meanwhile.
                    if let Some((deadline, expiry)) = self.phase().deadline(timeouts)
                        && deadline <= Instant::now()
                    {
                        return expiry;
                    }
                }
            }
        }
    }
}

impl Phase {
    /// When a connection in this phase is closed, and why; `None` while requests are handled.
    fn deadline(self, timeouts: Timeouts) -> Option<(Instant, Expired)> {
        match self {
            Phase::Idle(since) => Some((since + timeouts.idle, Expired::Idle)),
            Phase::Header(since) => Some((since + timeouts.header_read, Expired::Header)),
            Phase::Busy => None,
        }
    }
}

/// One request from the moment its headers are in until its response is sent (or abandoned).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.set(Phase::Busy);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.set(Phase::Idle(Instant::now()));
        }
    }
}

/// A response body that keeps its request in flight until hyper has sent it or dropped it.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The connection's socket, reporting reads to its [`Activity`].
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts() -> Timeouts {
        Timeouts { header_read: Duration::from_secs(10), idle: Duration::from_secs(75) }
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_must_send_its_headers_in_time() {
        let activity = Activity::new();
        let started = Instant::now();
        assert_eq!(activity.expired(timeouts()).await, Expired::Header);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_in_flight_are_not_timed_and_idleness_follows() {
        let activity = Arc::new(Activity::new());
        let request = InFlight::begin(activity.clone());
        let watcher = tokio::spawn({
            let activity = activity.clone();
            async move { activity.expired(timeouts()).await }
        });
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!watcher.is_finished());
        let done = Instant::now();
        drop(request);
        assert_eq!(watcher.await.unwrap(), Expired::Idle);
        assert_eq!(done.elapsed(), Duration::from_secs(75));
    }

    #[tokio::test(start_paused = true)]
    async fn a_byte_on_an_idle_connection_starts_the_header_clock() {
        let activity = Arc::new(Activity::new());
        drop(InFlight::begin(activity.clone()));
        let watcher = tokio::spawn({
            let activity = activity.clone();
            async move { activity.expired(timeouts()).await }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        let first_byte = Instant::now();
        activity.read_some();
        assert_eq!(watcher.await.unwrap(), Expired::Header);
        assert_eq!(first_byte.elapsed(), Duration::from_secs(10));
    }
}
