//! Password hashes: argon2id in the PHC string format (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
//!
//! A password given in clear is hashed once at startup; only its hash is kept. Verification takes
//! the parameters from the hash itself and compares the outputs in constant time.

use std::io::{self, BufRead, IsTerminal, Write};

use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// Memory cost in KiB, iterations and parallelism recommended by OWASP for argon2id
/// (m=19456 KiB, t=2, p=1): about 20-50 ms and 19 MiB per verification on a server core.
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// The identifier of the one accepted algorithm.
pub const ALGORITHM: &str = "argon2id";

/// The parameters plain passwords are hashed with.
pub fn default_params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or(Params::DEFAULT)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhcError {
    #[error("it is not a PHC string ({0})")]
    Syntax(String),
    #[error("its algorithm is {0:?}; only argon2id is accepted")]
    Algorithm(String),
    #[error("its version is {0}; only v=19 is accepted")]
    Version(u32),
    #[error("its parameters are not valid for argon2id ({0})")]
    Params(String),
    #[error("it has no salt or no hash output")]
    Incomplete,
}

/// Hashing failed: the system's random number generator is unavailable, or the parameters are
/// out of range.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

/// Parses and checks an argon2id PHC string.
pub fn parse(text: &str) -> Result<PasswordHash, PhcError> {
    let hash = PasswordHash::new(text.trim()).map_err(|e| PhcError::Syntax(e.to_string()))?;
    if hash.algorithm.as_str() != ALGORITHM {
        return Err(PhcError::Algorithm(hash.algorithm.as_str().to_owned()));
    }
    if let Some(version) = hash.version
        && version != u32::from(Version::V0x13)
    {
        return Err(PhcError::Version(version));
    }
    Params::try_from(&hash).map_err(|e| PhcError::Params(e.to_string()))?;
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(PhcError::Incomplete);
    }
    Ok(hash)
}

/// Whether `hash` costs less than the recommended parameters (it is still accepted).
pub fn is_weak(hash: &PasswordHash) -> bool {
    Params::try_from(hash).is_ok_and(|params| params.m_cost() < M_COST_KIB || params.t_cost() < T_COST)
}

/// Hashes `password` with a random salt and the recommended parameters.
pub fn hash(password: &str) -> Result<PasswordHash, HashError> {
    hash_with(password, default_params())
}

/// Hashes `password` with a random salt and the given parameters.
pub fn hash_with(password: &str, params: Params) -> Result<PasswordHash, HashError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches `hash`. Takes the full time of one hashing whatever the answer.
pub fn verify(password: &[u8], hash: &PasswordHash) -> bool {
    Argon2::default().verify_password(password, hash).is_ok()
}

/// A hash with the same algorithm and parameters as `like` that no password matches (its output
/// is random): verifying a password against it costs what a real verification costs. `None`
/// only when the system's random number generator fails.
pub fn decoy(like: &PasswordHash) -> Option<PasswordHash> {
    let salt_len = like.salt.as_ref().map_or(16, |salt| salt.len()).clamp(Salt::MIN_LENGTH, Salt::MAX_LENGTH);
    let output_len = like.hash.as_ref().map_or(Params::DEFAULT_OUTPUT_LEN, Output::len);
    let mut random = vec![0u8; salt_len + output_len];
    getrandom::fill(&mut random).ok()?;
    let (salt, output) = random.split_at(salt_len);
    Some(PasswordHash {
        algorithm: like.algorithm,
        version: like.version,
        params: like.params.clone(),
        salt: Some(Salt::new(salt).ok()?),
        hash: Some(Output::new(output).ok()?),
    })
}

/// `--hash-password`: reads a password (one line) from stdin and returns its PHC string. On a
/// terminal, prompts on stderr and does not echo what is typed.
pub fn hash_from_stdin() -> Result<String, String> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return hash_line(&mut stdin.lock());
    }
    eprint!("Password: ");
    let _ = io::stderr().flush();
    let result = {
        let _quiet = NoEcho::new();
        hash_line(&mut stdin.lock())
    };
    eprintln!();
    result
}

/// Reads one line (its line ending is not part of the password) and hashes it.
pub fn hash_line(input: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    input.read_line(&mut line).map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err("no password on stdin (give it as one line, e.g. `upload-service --hash-password < file`)".into());
    }
    hash(password).map(|hash| hash.to_string()).map_err(|e| e.to_string())
}

/// Turns off the terminal's echo on stdin until dropped.
struct NoEcho {
    #[cfg(target_os = "linux")]
    saved: Option<libc::termios>,
}

impl NoEcho {
    fn new() -> NoEcho {
        #[cfg(target_os = "linux")]
        {
            let mut saved = std::mem::MaybeUninit::<libc::termios>::uninit();
            // SAFETY: tcgetattr fills the termios it is given when it returns 0, and only then is
            // it read; tcsetattr reads a valid termios. Both act on stdin's descriptor only.
            let saved = unsafe {
                if libc::tcgetattr(libc::STDIN_FILENO, saved.as_mut_ptr()) != 0 {
                    None
                } else {
                    let saved = saved.assume_init();
                    let mut quiet = saved;
                    quiet.c_lflag &= !libc::ECHO;
                    libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet);
                    Some(saved)
                }
            };
            NoEcho { saved }
        }
        #[cfg(not(target_os = "linux"))]
        NoEcho {}
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(saved) = &self.saved {
            // SAFETY: restores the settings read in `new` on the same descriptor.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters: the unit tests run unoptimised.
    fn cheap() -> Params {
        Params::new(64, 1, 1, None).unwrap()
    }

    #[test]
    fn hashes_verify_and_parse_back() {
        let hash = hash_with("s3cret", cheap()).unwrap();
        let text = hash.to_string();
        assert!(text.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{text}");
        let parsed = parse(&text).unwrap();
        assert!(verify(b"s3cret", &parsed));
        assert!(!verify(b"s3cret ", &parsed));
        assert!(!verify(b"", &parsed));
        assert!(is_weak(&parsed));
        // Two hashes of one password differ: the salt is random.
        assert_ne!(hash_with("s3cret", cheap()).unwrap().to_string(), text);
    }

    #[test]
    fn the_default_parameters_are_owasp_s() {
        let params = default_params();
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), (19_456, 2, 1));
    }

    #[test]
    fn only_argon2id_is_accepted() {
        let id = hash_with("pw", cheap()).unwrap().to_string();
        let i = id.replacen("$argon2id$", "$argon2i$", 1);
        assert_eq!(parse(&i).unwrap_err(), PhcError::Algorithm("argon2i".into()));
        let v16 = id.replacen("$v=19$", "$v=16$", 1);
        assert_eq!(parse(&v16).unwrap_err(), PhcError::Version(16));
        assert!(matches!(parse("$argon2id$v=19$m=64,t=1,p=1"), Err(PhcError::Incomplete)));
        assert!(matches!(parse("$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"), Err(PhcError::Params(_))));
        assert!(matches!(parse("sha256:abc"), Err(PhcError::Syntax(_))));
        assert!(matches!(parse("$argon2id$v=19$m=64,t=1,p=1$!!$!!"), Err(PhcError::Syntax(_))));
    }

    #[test]
    fn a_decoy_matches_nothing_and_has_the_same_cost() {
        let real = hash_with("pw", cheap()).unwrap();
        let decoy = decoy(&real).unwrap();
        assert_eq!(decoy.params, real.params);
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_ne!(decoy.salt, real.salt);
        assert!(!verify(b"pw", &decoy));
        assert!(parse(&decoy.to_string()).is_ok());
    }

    #[test]
    fn reads_one_line() {
        let hash = hash_line(&mut &b"correct horse\n"[..]).unwrap();
        assert!(verify(b"correct horse", &parse(&hash).unwrap()));
        assert!(hash_line(&mut &b"\n"[..]).is_err());
        assert!(hash_line(&mut &b""[..]).is_err());
    }
}
