//! A strict local AWS for tests and benchmarks: moto server, started in a child process, behind
//! a middleware that enforces AWS rules moto lacks, counts calls, adds latency, shows eventual
//! states and injects faults shaped exactly as AWS sends them. See `localaws/README.md`.
//!
//! ```no_run
//! use localaws::{Fault, Faults, LocalAws};
//!
//! let aws = LocalAws::start(); // strict, on a free port, killed on drop
//! let endpoint = aws.endpoint(); // point the SDK here, with any credentials
//! # let _ = endpoint;
//! assert_eq!(aws.count("ec2", "DescribeVpcs"), 0);
//!
//! let slow = LocalAws::builder()
//!     .latency_ms(100)
//!     .op_latency_ms("ec2", "CreateNatGateway", 150)
//!     .faults(Faults::seeded(42).throttle(0.1).reset_after(0.05))
//!     .eventual("nat_gateway", 3)
//!     .start();
//! slow.configure(&localaws::Config::new().faults(
//!     Faults::none().next("ec2", "DeleteSubnet", Fault::Throttle),
//! ));
//! ```
//!
//! The crate has no AWS SDK dependency: tests build their own `SdkConfig` from
//! [`LocalAws::endpoint`].

mod config;
mod control;
mod launch;

pub use config::{Config, Fault, Faults};

/// The python of the workspace's virtualenv (moto and the pinned botocore): `RPROV_PYTHON`, else
/// `.venv`, installed by `scripts/venv` when missing (once per process). For tests that run the
/// project's python scripts.
pub fn python() -> Result<PathBuf, String> {
    launch::python()
}

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(120);

/// One call the local AWS received (control calls are not counted).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Call {
    /// SigV4 signing name: `ec2`, `ecs`, `elasticloadbalancing`, `elasticfilesystem`, ...
    pub service: String,
    /// API operation name, e.g. `DescribeVpcs`, `PutObject`, `ChangeResourceRecordSets`.
    pub operation: String,
    /// HTTP status answered; 0 when the connection was reset instead.
    pub status: u16,
    /// The injected fault (`throttle`, `reset_after`, `error`, ...), if any.
    pub fault: Option<String>,
}

/// What `GET /_localaws/inflight` answers.
#[derive(Debug, Deserialize)]
struct InFlight {
    inflight: usize,
    /// The calls among them that the server has read (one still being read is only counted).
    calls: Vec<InFlightCall>,
}

#[derive(Debug, Deserialize)]
struct InFlightCall {
    service: String,
    operation: String,
    fault: Option<String>,
}

impl fmt::Display for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} call(s) in flight", self.inflight)?;
        let unread = self.inflight - self.calls.len().min(self.inflight);
        let mut sep = ": ";
        for call in &self.calls {
            let fault = call.fault.as_deref().map(|kind| format!(" ({kind})")).unwrap_or_default();
            write!(f, "{sep}{} {}{fault}", call.service, call.operation)?;
            sep = ", ";
        }
        if unread > 0 {
            write!(f, "{sep}{unread} not yet read")?;
        }
        Ok(())
    }
}

/// Why the local AWS could not start.
#[derive(Debug, Clone)]
pub struct StartError(String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local AWS (moto) did not start: {}", self.0)
    }
}

impl std::error::Error for StartError {}

/// A running strict local AWS; the process is killed when this is dropped.
pub struct LocalAws {
    child: Child,
    endpoint: String,
    addr: SocketAddr,
    log: launch::Log,
}

/// Options for [`LocalAws`]; [`Builder::start`] launches it.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    config: Config,
    python: Option<PathBuf>,
    start_timeout: Option<Duration>,
}

impl Builder {
    /// AWS's rules are enforced (the default).
    pub fn strict(mut self) -> Builder {
        self.config = self.config.strict(true);
        self
    }

    /// moto as it is: no AWS rules, no idempotency replay (counting, latency, faults and
    /// eventual states still work).
    pub fn lax(mut self) -> Builder {
        self.config = self.config.strict(false);
        self
    }

    pub fn latency_ms(mut self, ms: u64) -> Builder {
        self.config = self.config.latency_ms(ms);
        self
    }

    pub fn op_latency_ms(mut self, service: &str, operation: &str, ms: u64) -> Builder {
        self.config = self.config.op_latency_ms(service, operation, ms);
        self
    }

    pub fn faults(mut self, faults: Faults) -> Builder {
        self.config = self.config.faults(faults);
        self
    }

    pub fn eventual(mut self, kind: &str, polls: u32) -> Builder {
        self.config = self.config.eventual(kind, polls);
        self
    }

    /// The python to run the launcher with (default: `RPROV_PYTHON`, else the workspace's
    /// `.venv`, installed by `scripts/venv` when missing).
    pub fn python(mut self, path: impl Into<PathBuf>) -> Builder {
        self.python = Some(path.into());
        self
    }

    pub fn start_timeout(mut self, timeout: Duration) -> Builder {
        self.start_timeout = Some(timeout);
        self
    }

    /// Starts the local AWS; panics with the reason (test support).
    pub fn start(self) -> LocalAws {
        match self.try_start() {
            Ok(aws) => aws,
            Err(error) => panic!("{error}"),
        }
    }

    pub fn try_start(self) -> Result<LocalAws, StartError> {
        let python = match self.python {
            Some(path) => path,
            None => launch::python().map_err(StartError)?,
        };
        let strict = self.config.strictness().unwrap_or(true);
        let timeout = self.start_timeout.unwrap_or(START_TIMEOUT);
        let started = launch::spawn(&python, strict, timeout).map_err(|e| {
            StartError(format!("{e}\n(python: {}; set RPROV_PYTHON or run scripts/venv)", python.display()))
        })?;
        let addr = started
            .endpoint
            .trim_start_matches("http://")
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| StartError(format!("bad endpoint {:?}", started.endpoint)))?;
        let aws = LocalAws { child: started.child, endpoint: started.endpoint, addr, log: started.log };
        if !self.config.is_empty() {
            aws.try_configure(&self.config).map_err(StartError)?;
        }
        Ok(aws)
    }
}

impl LocalAws {
    /// A strict local AWS with the default configuration (no latency, no faults).
    pub fn start() -> LocalAws {
        LocalAws::builder().start()
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL for every AWS client.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Every call received since start (or the last [`LocalAws::clear_calls`] / [`LocalAws::reset`]).
    pub fn calls(&self) -> Vec<Call> {
        let body = self.control("GET", "calls", "");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("local AWS answered calls with {body:?}: {e}"))
    }

    /// How many calls of `operation` on `service` (SigV4 signing name) were received.
    pub fn count(&self, service: &str, operation: &str) -> usize {
        self.calls().iter().filter(|c| c.service == service && c.operation == operation).count()
    }

    /// Calls per (service, operation), for benchmark reports.
    pub fn count_by_operation(&self) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for call in self.calls() {
            *counts.entry((call.service, call.operation)).or_insert(0) += 1;
        }
        counts
    }

    /// How many calls have been sent and not yet answered: from the moment the connection is
    /// made (still in the kernel's accept queue, or being read) until the answer is ready to be
    /// written (or the reset decided), including calls held by latency or a `slow` fault, and a
    /// `late` call until it has landed. Control calls are not counted.
    pub fn inflight(&self) -> usize {
        self.in_flight().inflight
    }

    /// Waits until no call is in flight ([`LocalAws::inflight`] is 0): whatever a client had sent
    /// before it died has then been answered or landed, and the server holds nothing back.
    /// Polls every 20 ms; panics after `timeout`, naming the calls still in flight.
    #[track_caller]
    pub fn wait_idle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.in_flight();
            if now.inflight == 0 {
                return;
            }
            if Instant::now() >= deadline {
                panic!("the local AWS still had {now} after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn in_flight(&self) -> InFlight {
        let body = self.control("GET", "inflight", "");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("local AWS answered inflight with {body:?}: {e}"))
    }

    pub fn clear_calls(&self) {
        self.control("POST", "calls/clear", "{}");
    }

    /// Changes the configuration of the running server (only the fields set in `config`).
    pub fn configure(&self, config: &Config) {
        if let Err(error) = self.try_configure(config) {
            panic!("local AWS refused the configuration: {error}");
        }
    }

    /// Empties moto (every resource of every service), the call list, the idempotency tables
    /// and the eventual-state counters. The configuration stays as it is, fault plan included
    /// (configuring faults again restarts a plan from its seed).
    pub fn reset(&self) {
        self.control("POST", "reset", "{}");
    }

    fn try_configure(&self, config: &Config) -> Result<(), String> {
        control::request(self.addr, "POST", "config", &config.to_json().to_string()).map(drop)
    }

    fn control(&self, method: &str, route: &str, body: &str) -> String {
        control::request(self.addr, method, route, body)
            .unwrap_or_else(|error| panic!("local AWS control call failed: {error}\n{}", launch::tail(&self.log)))
    }
}

impl fmt::Debug for LocalAws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalAws").field("endpoint", &self.endpoint).field("pid", &self.child.id()).finish()
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::LocalAws;

    #[test]
    fn a_launcher_that_cannot_start_is_reported() {
        let missing = LocalAws::builder().python("no-such-python-here").try_start().unwrap_err();
        assert!(missing.to_string().contains("cannot start no-such-python-here"), "{missing}");
        let exits = LocalAws::builder().python("false").try_start().unwrap_err();
        assert!(exits.to_string().contains("it exited before listening"), "{exits}");
    }
}
