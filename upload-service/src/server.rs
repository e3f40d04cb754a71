//! The router, its middleware, and running it until shutdown.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::auth::{self, Authenticator};
use crate::client::Client;
use crate::config::{Config, LogFormat};
use crate::connection::{self, Timeouts};
use crate::error::ApiError;
use crate::limiter::{self, FailureLimiter};
use crate::metrics::Metrics;
use crate::page::Page;
use crate::routes::{download, files, ops, upload};
use crate::space::Space;
use crate::storage::Store;

/// Sent with every response to a request that reached the load balancer over HTTPS.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");

/// Shared by every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: Config,
    pub store: Store,
    /// One permit per upload being received.
    pub upload_slots: tokio::sync::Semaphore,
    pub authenticator: Authenticator,
    /// Failed logins per client address.
    pub limiter: FailureLimiter,
    /// The storage quota and free-space floor.
    pub space: Arc<Space>,
    pub metrics: Metrics,
    pub page: Page,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The whole service as a router. Performs no I/O: see [`serve`] for the startup work.
pub fn app(config: Config) -> Router {
    let store = Store::new(&config.data_dir);
    let state = AppState(Arc::new(Shared {
        space: Arc::new(Space::new(store.clone(), config.quota_bytes, config.min_free_bytes)),
        store,
        upload_slots: tokio::sync::Semaphore::new(config.max_concurrent_uploads),
        authenticator: Authenticator::new(&config.accounts),
        limiter: FailureLimiter::new(config.auth_fail_limit, config.auth_fail_window, limiter::MAX_CLIENTS),
        metrics: Metrics::default(),
        page: Page::new(),
        config,
    }));
    Router::new()
        .route("/", get(files::index))
        .route("/upload", post(upload::post_upload))
        .route("/files", get(files::list))
        .route("/files/{name}", get(download::download).put(upload::put_file).delete(files::delete))
        .route("/download/{name}", get(download::download))
        .route(auth::PUBLIC_PATH, get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { ApiError::NotFound })
        // Uploads are streamed to disk and limited per file by `max_bytes`, not buffered.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION]))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(middleware::from_fn_with_state(state.clone(), observe)),
        )
        .with_state(state)
}

fn request_span(request: &Request) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info_span!(
        "request",
        id,
        method = %request.method(),
        path = %request.uri().path(),
        client = tracing::field::Empty,
        user = tracing::field::Empty,
    )
}

/// Identifies the client (see [`Client`]), counts every response and adds the headers all of
/// them carry: HSTS when the client came over HTTPS.
async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| *peer);
    let client = Client::identify(peer, request.headers(), &state.config.trusted_proxies);
    tracing::Span::current().record("client", tracing::field::display(client.ip));
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if client.https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    state.metrics.request_done(method, response.status().as_u16(), started.elapsed());
    response
}

/// Bounded label values: a client cannot grow the metrics with invented methods.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Prepares the data directory, then serves on `listener` until `shutdown` completes and the
/// requests in flight are done.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let store = Store::new(&config.data_dir);
    let max_idle = config.temp_max_idle;
    let prepared = store.clone();
    let removed = tokio::task::spawn_blocking(move || prepared.prepare(max_idle))
        .await
        .map_err(io::Error::other)?
        .map_err(|e| io::Error::new(e.kind(), format!("data directory {}: {e}", config.data_dir.display())))?;
    if removed > 0 {
        tracing::info!(removed, "removed files left by interrupted uploads");
    }
    let sweeper = tokio::spawn(sweep_periodically(store, max_idle));
    tracing::info!(
        address = %listener.local_addr()?,
        data_dir = %config.data_dir.display(),
        max_bytes = config.max_bytes,
        quota_bytes = config.quota_bytes,
        min_free_bytes = config.min_free_bytes,
        trusted_proxies = config.trusted_proxies.len(),
        "listening"
    );
    let timeouts = Timeouts { header_read: config.header_read_timeout, idle: config.idle_timeout };
    let result = connection::serve(listener, app(config), timeouts, shutdown).await;
    sweeper.abort();
    tracing::info!("stopped");
    result
}

/// Binds `config.listen` and serves until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> io::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.listen)))?;
    serve(listener, config, shutdown_signal()).await
}

async fn sweep_periodically(store: Store, max_idle: Duration) {
    let period = (max_idle / 2).max(Duration::from_secs(30));
    let mut interval = tokio::time::interval(period);
    interval.tick().await;
    loop {
        interval.tick().await;
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.sweep(max_idle)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::info!(removed, "removed stale temporary files"),
            Ok(Err(e)) => tracing::warn!(error = %e, "sweeping temporary files failed"),
            Err(e) => tracing::warn!(error = %e, "sweeping temporary files failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Keeps the buffers an upload cycles through in the heap. hyper allocates a read buffer of up to
/// ~400 KiB for every few frames and the upload frees it once hashed and written; above glibc's
/// default mmap threshold (128 KiB) each is a fresh mapping whose pages fault in zeroed, which
/// measured ~15% of an upload's CPU time. Call before starting threads.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
    }
}

pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}

/// `GET /health` against a service listening on `listen` (a wildcard address means this host).
pub fn healthcheck(listen: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let mut address = listen;
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            SocketAddr::V4(_) => [127, 0, 0, 1].into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let timeout = Duration::from_secs(3);
    let attempt = || -> io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&address, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 16];
        let mut filled = 0;
        while filled < head.len() {
            match stream.read(&mut head[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        let status_line = &head[..filled];
        Ok(status_line.starts_with(b"HTTP/1.") && status_line.get(9..12) == Some(b"200"))
    };
    attempt().unwrap_or(false)
}
