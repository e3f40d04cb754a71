//! Settings: command-line flags and `UPLOAD_*` environment variables, resolved in one place into a
//! [`Config`] the server runs from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use sha2::{Digest, Sha256};

/// Default upload size limit: 10 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 10 << 30;

#[derive(Debug, Parser)]
#[command(
    name = "upload-service",
    version,
    about = "Diagnostics upload service: upload .tgz files, list and download them"
)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "UPLOAD_LISTEN", default_value = "0.0.0.0:8000")]
    pub listen: SocketAddr,

    /// Directory the files are stored in (created if missing).
    #[arg(long, env = "UPLOAD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// User with full access: upload, list, download, delete.
    #[arg(long, env = "UPLOAD_USER", default_value = "admin")]
    pub user: String,

    /// Password of --user, in clear or as `sha256:<64 hex digits>`. Prefer --password-file.
    #[arg(long, env = "UPLOAD_PASSWORD", hide_env_values = true, conflicts_with = "password_file")]
    pub password: Option<String>,

    /// File holding the password of --user (one line; same formats as --password).
    #[arg(long, env = "UPLOAD_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,

    /// Optional user that may only list and download.
    #[arg(long, env = "UPLOAD_READONLY_USER")]
    pub readonly_user: Option<String>,

    /// Password of --readonly-user (same formats as --password).
    #[arg(long, env = "UPLOAD_READONLY_PASSWORD", hide_env_values = true, conflicts_with = "readonly_password_file")]
    pub readonly_password: Option<String>,

    /// File holding the password of --readonly-user.
    #[arg(long, env = "UPLOAD_READONLY_PASSWORD_FILE")]
    pub readonly_password_file: Option<PathBuf>,

    /// Largest accepted file, in bytes; K, M, G and T suffixes (powers of 1024) are accepted.
    #[arg(long, env = "UPLOAD_MAX_BYTES", default_value = "10G", value_parser = parse_byte_size)]
    pub max_bytes: u64,

    /// Uploads received at the same time; more are answered 503 (each holds two worker threads).
    #[arg(long, env = "UPLOAD_MAX_CONCURRENT_UPLOADS", default_value_t = 32)]
    pub max_concurrent_uploads: usize,

    /// Abort an upload when its body sends nothing for this many seconds.
    #[arg(long, env = "UPLOAD_BODY_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub body_idle_timeout_secs: u64,

    /// Temporary files untouched for this many seconds are left over from a crash and removed
    /// (at startup and periodically). Other instances may share the data directory, so this must be
    /// well above --body-idle-timeout-secs.
    #[arg(long, env = "UPLOAD_TEMP_MAX_IDLE_SECS", default_value_t = 900)]
    pub temp_max_idle_secs: u64,

    /// Log format.
    #[arg(long, env = "UPLOAD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Check that a service listening on --listen answers GET /health, then exit 0 (healthy) or 1.
    /// For container health checks: the runtime image has no curl.
    #[arg(long)]
    pub healthcheck: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What an authenticated user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Upload, list, download and delete.
    Uploader,
    /// List and download only.
    ReadOnly,
}

impl Role {
    pub fn can_write(self) -> bool {
        self == Role::Uploader
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Uploader => "uploader",
            Role::ReadOnly => "readonly",
        }
    }
}

/// One user allowed in. Only a SHA-256 digest of the password is kept in memory.
#[derive(Clone)]
pub struct Account {
    pub user: String,
    pub password_sha256: [u8; 32],
    pub role: Role,
}

impl Account {
    /// An account from a password given in clear.
    pub fn with_password(user: &str, password: &str, role: Role) -> Account {
        Account { user: user.to_owned(), password_sha256: Sha256::digest(password.as_bytes()).into(), role }
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("user", &self.user).field("role", &self.role).finish_non_exhaustive()
    }
}

/// Everything the server needs, already validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub accounts: Vec<Account>,
    pub max_bytes: u64,
    pub max_concurrent_uploads: usize,
    pub body_idle_timeout: Duration,
    pub temp_max_idle: Duration,
}

impl Config {
    /// A configuration with the default limits.
    pub fn new(data_dir: impl Into<PathBuf>, accounts: Vec<Account>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            accounts,
            max_bytes: DEFAULT_MAX_BYTES,
            max_concurrent_uploads: 32,
            body_idle_timeout: Duration::from_secs(60),
            temp_max_idle: Duration::from_secs(900),
        }
    }
}

/// A configuration problem the operator must fix; the process exits with status 1.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no password configured for user {user:?}: set UPLOAD_PASSWORD or UPLOAD_PASSWORD_FILE \
         (or --password / --password-file); there is no default password"
    )]
    MissingPassword { user: String },
    #[error(
        "UPLOAD_READONLY_USER {user:?} has no password: set UPLOAD_READONLY_PASSWORD or \
         UPLOAD_READONLY_PASSWORD_FILE"
    )]
    MissingReadonlyPassword { user: String },
    #[error("a read-only password is set but UPLOAD_READONLY_USER is not")]
    MissingReadonlyUser,
    #[error("the password of user {user:?} is empty")]
    EmptyPassword { user: String },
    #[error("user name {user:?} is not usable with basic auth: it must be non-empty and contain no ':'")]
    BadUser { user: String },
    #[error("the read-only user must differ from UPLOAD_USER ({user:?})")]
    SameUser { user: String },
    #[error("cannot read password file {path}: {source}")]
    PasswordFile { path: PathBuf, source: std::io::Error },
    #[error("the password of user {user:?} starts with 'sha256:' but is not followed by 64 hex digits")]
    BadHash { user: String },
    #[error("UPLOAD_MAX_BYTES must be greater than zero")]
    ZeroMaxBytes,
}

impl Cli {
    /// Checks the settings and loads the secrets they point at.
    pub fn resolve(self) -> Result<Config, ConfigError> {
        let mut accounts = Vec::new();
        check_user(&self.user)?;
        let password = read_secret(self.password, self.password_file.as_deref())?
            .ok_or_else(|| ConfigError::MissingPassword { user: self.user.clone() })?;
        accounts.push(account(&self.user, &password, Role::Uploader)?);

        let readonly_password = read_secret(self.readonly_password, self.readonly_password_file.as_deref())?;
        match (self.readonly_user, readonly_password) {
            (None, None) => {}
            (None, Some(_)) => return Err(ConfigError::MissingReadonlyUser),
            (Some(user), None) => return Err(ConfigError::MissingReadonlyPassword { user }),
            (Some(user), Some(password)) => {
                check_user(&user)?;
                if user == self.user {
                    return Err(ConfigError::SameUser { user });
                }
                accounts.push(account(&user, &password, Role::ReadOnly)?);
            }
        }

        if self.max_bytes == 0 {
            return Err(ConfigError::ZeroMaxBytes);
        }
        Ok(Config {
            listen: self.listen,
            data_dir: self.data_dir,
            accounts,
            max_bytes: self.max_bytes,
            max_concurrent_uploads: self.max_concurrent_uploads.max(1),
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout_secs.max(1)),
            temp_max_idle: Duration::from_secs(self.temp_max_idle_secs),
        })
    }
}

fn check_user(user: &str) -> Result<(), ConfigError> {
    if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
        return Err(ConfigError::BadUser { user: user.to_owned() });
    }
    Ok(())
}

fn read_secret(value: Option<String>, file: Option<&Path>) -> Result<Option<String>, ConfigError> {
    if let Some(value) = value {
        return Ok(Some(value));
    }
    let Some(path) = file else { return Ok(None) };
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::PasswordFile { path: path.to_owned(), source })?;
    // Secret stores and editors add a final newline; it is never part of the password.
    Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()))
}

fn account(user: &str, password: &str, role: Role) -> Result<Account, ConfigError> {
    if password.is_empty() {
        return Err(ConfigError::EmptyPassword { user: user.to_owned() });
    }
    if let Some(hex) = password.strip_prefix("sha256:") {
        let digest = decode_hex::<32>(hex).ok_or_else(|| ConfigError::BadHash { user: user.to_owned() })?;
        return Ok(Account { user: user.to_owned(), password_sha256: digest, role });
    }
    Ok(Account::with_password(user, password, role))
}

/// Decodes exactly `N` bytes of hexadecimal, either case.
pub(crate) fn decode_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let hex = hex.as_bytes();
    if hex.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        *byte = (high * 16 + low) as u8;
    }
    Some(out)
}

/// Parses `1048576`, `512K`, `100M`, `10G`, `1T` (suffixes are powers of 1024, `B`/`iB` optional).
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    let upper = upper.strip_suffix("IB").or_else(|| upper.strip_suffix('B')).unwrap_or(&upper);
    let (digits, shift) = match upper.chars().last() {
        Some('K') => (&upper[..upper.len() - 1], 10),
        Some('M') => (&upper[..upper.len() - 1], 20),
        Some('G') => (&upper[..upper.len() - 1], 30),
        Some('T') => (&upper[..upper.len() - 1], 40),
        _ => (upper, 0),
    };
    let number: u64 =
        digits.trim().parse().map_err(|_| format!("{text:?} is not a size such as 1048576, 512M or 10G"))?;
    number.checked_mul(1u64 << shift).ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["upload-service"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("flags parse").resolve()
    }

    #[test]
    fn byte_sizes() {
        let check = |text: &str, want: Option<u64>| assert_eq!(parse_byte_size(text).ok(), want, "{text}");
        check("1048576", Some(1 << 20));
        check("512K", Some(512 << 10));
        check("100M", Some(100 << 20));
        check("10G", Some(10 << 30));
        check("10GiB", Some(10 << 30));
        check("1t", Some(1 << 40));
        check("12 MB", Some(12 << 20));
        check("", None);
        check("ten", None);
        check("-1", None);
        check("99999999999T", None);
    }

    #[test]
    fn password_is_required() {
        // Flags only: the test must not depend on the environment of whoever runs it.
        let err = cli(&["--password-file", "/nonexistent/upload-password"]).unwrap_err();
        assert!(matches!(err, ConfigError::PasswordFile { .. }), "{err}");
        let err = cli(&["--user", "admin", "--password", ""]).unwrap_err();
        assert!(matches!(err, ConfigError::EmptyPassword { .. }), "{err}");
    }

    #[test]
    fn hashed_password_and_readonly_user() {
        let hash = "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
        let config = cli(&["--password", hash, "--readonly-user", "support", "--readonly-password", "s3cret"]).unwrap();
        assert_eq!(config.accounts.len(), 2);
        assert_eq!(
            config.accounts[0].password_sha256,
            Account::with_password("admin", "secret", Role::Uploader).password_sha256
        );
        assert_eq!(config.accounts[1].role, Role::ReadOnly);

        let err = cli(&["--password", "sha256:abc"]).unwrap_err();
        assert!(matches!(err, ConfigError::BadHash { .. }), "{err}");
        let err = cli(&["--password", "x", "--readonly-user", "ro"]).unwrap_err();
        assert!(matches!(err, ConfigError::MissingReadonlyPassword { .. }), "{err}");
        let err = cli(&["--password", "x", "--readonly-user", "admin", "--readonly-password", "y"]).unwrap_err();
        assert!(matches!(err, ConfigError::SameUser { .. }), "{err}");
        let err = cli(&["--user", "a:b", "--password", "x"]).unwrap_err();
        assert!(matches!(err, ConfigError::BadUser { .. }), "{err}");
    }
}
