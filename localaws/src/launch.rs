//! Finding the virtualenv's python and starting the launcher as a child process.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

/// The last lines the launcher wrote to stderr, for error messages.
pub(crate) type Log = Arc<Mutex<VecDeque<String>>>;
const LOG_LINES: usize = 60;

pub(crate) fn workspace_root() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir.parent().unwrap_or(crate_dir).to_path_buf()
}

pub(crate) fn launcher_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/strict_moto.py")
}

/// `RPROV_PYTHON`, else the workspace's `.venv` python, installing it with `scripts/venv`
/// when it is missing (once per process: parallel tests must not run two pip installs).
pub(crate) fn python() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("RPROV_PYTHON") {
        return Ok(PathBuf::from(path));
    }
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(|| {
        let root = workspace_root();
        let venv_python = root.join(".venv/bin/python");
        // The stamp is written by scripts/venv once moto is installed: a venv without it may
        // be half-installed.
        if venv_python.exists() && root.join(".venv/.rprov-installed").exists() {
            return Ok(venv_python);
        }
        let script = root.join("scripts/venv");
        let output = Command::new(&script)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !output.status.success() {
            return Err(format!("{} failed ({})", script.display(), output.status));
        }
        let printed = String::from_utf8_lossy(&output.stdout);
        printed
            .lines()
            .last()
            .map(|line| PathBuf::from(line.trim()))
            .ok_or_else(|| format!("{} printed no python path", script.display()))
    })
    .clone()
}

pub(crate) struct Started {
    pub child: Child,
    pub endpoint: String,
    pub log: Log,
}

pub(crate) fn spawn(python: &Path, strict: bool, timeout: Duration) -> Result<Started, String> {
    let script = launcher_script();
    let mut child = Command::new(python)
        .arg(&script)
        .args(["--host", "127.0.0.1", "--port", "0", "--watch-stdin"])
        .arg(if strict { "--strict" } else { "--lax" })
        // The launcher exits when this pipe closes, so it cannot outlive the test process.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {} {}: {e}", python.display(), script.display()))?;

    let log: Log = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = child.stderr.take() {
        let log = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                if log.len() == LOG_LINES {
                    log.pop_front();
                }
                log.push_back(line);
            }
        });
    }
    let (sender, receiver) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            for line in lines.by_ref() {
                if let Some(endpoint) = line.strip_prefix("LISTENING ") {
                    let _ = sender.send(endpoint.trim().to_owned());
                    break;
                }
            }
            // Keep draining so the child never blocks on a full pipe.
            lines.for_each(drop);
        });
    }
    match receiver.recv_timeout(timeout) {
        Ok(endpoint) => Ok(Started { child, endpoint, log }),
        Err(error) => {
            let _ = child.kill();
            let _ = child.wait();
            // Give the stderr reader a moment to collect the launcher's last words.
            thread::sleep(Duration::from_millis(100));
            let reason = match error {
                mpsc::RecvTimeoutError::Timeout => format!("no LISTENING line within {timeout:?}"),
                mpsc::RecvTimeoutError::Disconnected => "it exited before listening".to_owned(),
            };
            Err(format!("{reason}\n{}", tail(&log)))
        }
    }
}

pub(crate) fn tail(log: &Log) -> String {
    let log = log.lock().unwrap_or_else(|e| e.into_inner());
    if log.is_empty() {
        return "(launcher wrote nothing to stderr)".to_owned();
    }
    let lines: Vec<&str> = log.iter().map(String::as_str).collect();
    format!("launcher stderr:\n{}", lines.join("\n"))
}
