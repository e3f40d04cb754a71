//! Settings: command-line flags and `UPLOAD_*` environment variables, resolved in one place into a
//! [`Config`] the server runs from.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use clap::{Parser, ValueEnum};
use ipnet::IpNet;

use crate::password::{self, HashError, PhcError};

/// Default upload size limit: 10 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 10 << 30;
/// Default free-space floor: 1 GiB.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 1 << 30;
pub const DEFAULT_MAX_PARTS: usize = 20;
pub const DEFAULT_AUTH_FAIL_LIMIT: u32 = 10;
pub const DEFAULT_AUTH_FAIL_WINDOW: Duration = Duration::from_secs(300);
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Above the load balancer's idle timeout (60 s on an ALB by default): the load balancer, not
/// the service, should close idle connections, or it may send a request on a connection the
/// service is closing and answer 502.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);

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

    /// Password of --user, in clear or as an argon2id PHC string (`$argon2id$v=19$...`, see
    /// --hash-password). Prefer --password-file.
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

    /// Total size of the stored files (and of uploads in progress) past which uploads are
    /// refused with 507; K, M, G and T suffixes. Unlimited when unset.
    #[arg(long, env = "UPLOAD_QUOTA_BYTES", value_parser = parse_byte_size)]
    pub quota_bytes: Option<u64>,

    /// Free space to leave on the data directory's file system: an upload that would leave less
    /// is refused with 507. 0 disables the check.
    #[arg(long, env = "UPLOAD_MIN_FREE_BYTES", default_value = "1G", value_parser = parse_byte_size)]
    pub min_free_bytes: u64,

    /// Parts (file and text fields) accepted in one multipart form; 413 past it.
    #[arg(long, env = "UPLOAD_MAX_PARTS", default_value_t = DEFAULT_MAX_PARTS)]
    pub max_parts: usize,

    /// Failed logins from one client address within --auth-fail-window-secs after which it is
    /// answered 429 without its credentials being checked. 0 disables the limit.
    #[arg(long, env = "UPLOAD_AUTH_FAIL_LIMIT", default_value_t = DEFAULT_AUTH_FAIL_LIMIT)]
    pub auth_fail_limit: u32,

    /// The window failed logins are counted in, in seconds.
    #[arg(long, env = "UPLOAD_AUTH_FAIL_WINDOW_SECS", default_value_t = DEFAULT_AUTH_FAIL_WINDOW.as_secs())]
    pub auth_fail_window_secs: u64,

    /// Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: comma-separated CIDRs
    /// (behind an ALB, the VPC's CIDR). None by default: the client is the TCP peer.
    #[arg(long, env = "UPLOAD_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,

    /// A connection must deliver a request's headers within this many seconds (from the
    /// connection's opening, or from the first byte of a later request).
    #[arg(long, env = "UPLOAD_HEADER_READ_TIMEOUT_SECS", default_value_t = DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    pub header_read_timeout_secs: u64,

    /// A kept-alive connection idle for this many seconds between requests is closed.
    #[arg(long, env = "UPLOAD_IDLE_TIMEOUT_SECS", default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs())]
    pub idle_timeout_secs: u64,

    /// Log format.
    #[arg(long, env = "UPLOAD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Read a password (one line) from stdin, print its argon2id hash (a PHC string for
    /// UPLOAD_PASSWORD or a password file), and exit.
    #[arg(long, conflicts_with = "healthcheck")]
    pub hash_password: bool,

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

/// One user allowed in. Only an argon2id hash of the password is kept in memory.
#[derive(Clone)]
pub struct Account {
    pub user: String,
    pub password_hash: PasswordHash,
    pub role: Role,
}

impl Account {
    /// An account from a password given in clear, hashed with the recommended parameters.
    pub fn with_password(user: &str, password: &str, role: Role) -> Result<Account, HashError> {
        Ok(Account::with_hash(user, password::hash(password)?, role))
    }

    pub fn with_hash(user: &str, password_hash: PasswordHash, role: Role) -> Account {
        Account { user: user.to_owned(), password_hash, role }
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
    /// `None`: unlimited.
    pub quota_bytes: Option<u64>,
    /// 0: no check.
    pub min_free_bytes: u64,
    pub max_parts: usize,
    /// 0: no limit.
    pub auth_fail_limit: u32,
    pub auth_fail_window: Duration,
    pub trusted_proxies: Vec<IpNet>,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
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
            quota_bytes: None,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            max_parts: DEFAULT_MAX_PARTS,
            auth_fail_limit: DEFAULT_AUTH_FAIL_LIMIT,
            auth_fail_window: DEFAULT_AUTH_FAIL_WINDOW,
            trusted_proxies: Vec::new(),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
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
    #[error(
        "the password of user {user:?} is an unsalted 'sha256:' digest, which is no longer accepted: \
         give the password itself, or an argon2id hash of it made with \
         `upload-service --hash-password` (it reads the password from stdin and prints a \
         $argon2id$v=19$... string)"
    )]
    UnsaltedHash { user: String },
    #[error(
        "the password of user {user:?} looks like a PHC hash but is not usable: {reason}; \
         make one with `upload-service --hash-password`"
    )]
    BadHash { user: String, reason: PhcError },
    #[error(transparent)]
    Hashing(#[from] HashError),
    #[error("UPLOAD_MAX_BYTES must be greater than zero")]
    ZeroMaxBytes,
    #[error("UPLOAD_QUOTA_BYTES must be greater than zero (leave it unset for no quota)")]
    ZeroQuota,
    #[error("UPLOAD_TRUSTED_PROXIES: {entry:?} is not an address or a CIDR such as 10.0.0.0/16")]
    BadProxy { entry: String },
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
        if self.quota_bytes == Some(0) {
            return Err(ConfigError::ZeroQuota);
        }
        Ok(Config {
            listen: self.listen,
            data_dir: self.data_dir,
            accounts,
            max_bytes: self.max_bytes,
            max_concurrent_uploads: self.max_concurrent_uploads.max(1),
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout_secs.max(1)),
            temp_max_idle: Duration::from_secs(self.temp_max_idle_secs),
            quota_bytes: self.quota_bytes,
            min_free_bytes: self.min_free_bytes,
            max_parts: self.max_parts.max(1),
            auth_fail_limit: self.auth_fail_limit,
            auth_fail_window: Duration::from_secs(self.auth_fail_window_secs.max(1)),
            trusted_proxies: parse_trusted_proxies(self.trusted_proxies.as_deref().unwrap_or(""))?,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(1)),
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

/// An account from a configured secret: an argon2id PHC string is used as is, anything else is a
/// password in clear and hashed now. The former `sha256:<hex>` form is refused: an unsalted fast
/// digest is brute-forced in no time if it leaks.
fn account(user: &str, secret: &str, role: Role) -> Result<Account, ConfigError> {
    if secret.is_empty() {
        return Err(ConfigError::EmptyPassword { user: user.to_owned() });
    }
    if secret.starts_with("sha256:") {
        return Err(ConfigError::UnsaltedHash { user: user.to_owned() });
    }
    if secret.starts_with("$argon2") {
        let hash = password::parse(secret).map_err(|reason| ConfigError::BadHash { user: user.to_owned(), reason })?;
        if password::is_weak(&hash) {
            tracing::warn!(
                user,
                "the password hash is cheaper than the recommended m=19456,t=2,p=1: consider a new one \
                 from --hash-password"
            );
        }
        return Ok(Account::with_hash(user, hash, role));
    }
    Ok(Account::with_password(user, secret, role)?)
}

/// `10.0.0.0/16, 192.168.1.7` -> networks; a bare address is a network of one.
pub fn parse_trusted_proxies(text: &str) -> Result<Vec<IpNet>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .map(|net| net.trunc())
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::BadProxy { entry: entry.to_owned() })
        })
        .collect()
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

    fn cheap_hash(password: &str) -> String {
        password::hash_with(password, argon2::Params::new(64, 1, 1, None).unwrap()).unwrap().to_string()
    }

    #[test]
    fn hashed_password_and_readonly_user() {
        let hash = cheap_hash("secret");
        let ro_hash = cheap_hash("s3cret");
        let config =
            cli(&["--password", &hash, "--readonly-user", "support", "--readonly-password", &ro_hash]).unwrap();
        assert_eq!(config.accounts.len(), 2);
        assert_eq!(config.accounts[0].password_hash.to_string(), hash);
        assert!(password::verify(b"secret", &config.accounts[0].password_hash));
        assert_eq!(config.accounts[1].role, Role::ReadOnly);
        assert!(password::verify(b"s3cret", &config.accounts[1].password_hash));

        let err = cli(&["--password", "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"])
            .unwrap_err();
        assert!(matches!(err, ConfigError::UnsaltedHash { .. }), "{err}");
        assert!(err.to_string().contains("--hash-password"), "{err}");
        let err = cli(&["--password", &hash.replacen("argon2id", "argon2i", 1)]).unwrap_err();
        assert!(matches!(err, ConfigError::BadHash { reason: PhcError::Algorithm(_), .. }), "{err}");
        let err = cli(&["--password", "$argon2id$v=19$m=64,t=1,p=1$short"]).unwrap_err();
        assert!(matches!(err, ConfigError::BadHash { .. }), "{err}");
        let err = cli(&["--password", &hash, "--readonly-user", "ro"]).unwrap_err();
        assert!(matches!(err, ConfigError::MissingReadonlyPassword { .. }), "{err}");
        let err = cli(&["--password", &hash, "--readonly-user", "admin", "--readonly-password", &hash]).unwrap_err();
        assert!(matches!(err, ConfigError::SameUser { .. }), "{err}");
        let err = cli(&["--user", "a:b", "--password", &hash]).unwrap_err();
        assert!(matches!(err, ConfigError::BadUser { .. }), "{err}");
    }

    #[test]
    fn a_plain_password_is_kept_only_as_an_argon2id_hash() {
        let config = cli(&["--password", "in clear"]).unwrap();
        let hash = &config.accounts[0].password_hash;
        assert!(hash.to_string().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(!format!("{config:?}").contains("in clear"));
    }

    #[test]
    fn limits_and_proxies() {
        let hash = cheap_hash("pw");
        let config = cli(&["--password", &hash]).unwrap();
        assert_eq!(config.quota_bytes, None);
        assert_eq!(config.min_free_bytes, 1 << 30);
        assert_eq!(config.max_parts, 20);
        assert_eq!((config.auth_fail_limit, config.auth_fail_window), (10, Duration::from_secs(300)));
        assert!(config.trusted_proxies.is_empty());
        assert_eq!(config.header_read_timeout, Duration::from_secs(10));

        let config = cli(&[
            "--password",
            &hash,
            "--quota-bytes",
            "50G",
            "--min-free-bytes",
            "0",
            "--trusted-proxies",
            " 10.0.0.0/16, 192.168.1.7,2001:db8::/32 ,",
        ])
        .unwrap();
        assert_eq!(config.quota_bytes, Some(50 << 30));
        assert_eq!(config.min_free_bytes, 0);
        let proxies: Vec<String> = config.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(proxies, ["10.0.0.0/16", "192.168.1.7/32", "2001:db8::/32"]);
        // Host bits are dropped rather than refused.
        assert_eq!(parse_trusted_proxies("10.1.2.3/8").unwrap()[0].to_string(), "10.0.0.0/8");

        let err = cli(&["--password", &hash, "--trusted-proxies", "10.0.0.0/33"]).unwrap_err();
        assert!(matches!(err, ConfigError::BadProxy { .. }), "{err}");
        let err = cli(&["--password", &hash, "--trusted-proxies", "vpc"]).unwrap_err();
        assert!(matches!(err, ConfigError::BadProxy { .. }), "{err}");
        let err = cli(&["--password", &hash, "--quota-bytes", "0"]).unwrap_err();
        assert!(matches!(err, ConfigError::ZeroQuota), "{err}");
    }
}
