//! Checksums a client sends with an upload (`Content-MD5`, `x-checksum-sha256`) and their
//! verification against what was received.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::decode_hex;

pub const SHA256_HEADER: &str = "x-checksum-sha256";
pub const MD5_HEADER: &str = "content-md5";

/// The digests a client announced for one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected {
    pub sha256: Option<[u8; 32]>,
    pub md5: Option<[u8; 16]>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    #[error("the {header} header is not a valid digest (expected hex or base64)")]
    Malformed { header: &'static str },
    #[error("{algorithm} mismatch: the client announced {expected}, the server received {actual}")]
    Mismatch { algorithm: &'static str, expected: String, actual: String },
}

impl Expected {
    /// Reads `x-checksum-sha256` (hex, or base64 as S3 writes it) and `Content-MD5` (base64 per
    /// RFC 1864, hex also accepted).
    pub fn from_headers(headers: &HeaderMap) -> Result<Expected, ChecksumError> {
        Ok(Expected {
            sha256: header_digest::<32>(headers, SHA256_HEADER)?,
            md5: header_digest::<16>(headers, MD5_HEADER)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.sha256.is_none() && self.md5.is_none()
    }

    pub fn verify(&self, sha256: &[u8; 32], md5: Option<&[u8; 16]>) -> Result<(), ChecksumError> {
        if let Some(expected) = &self.sha256
            && expected != sha256
        {
            return Err(ChecksumError::Mismatch {
                algorithm: "sha256",
                expected: to_hex(expected),
                actual: to_hex(sha256),
            });
        }
        if let (Some(expected), Some(actual)) = (&self.md5, md5)
            && expected != actual
        {
            return Err(ChecksumError::Mismatch {
                algorithm: "md5",
                expected: to_hex(expected),
                actual: to_hex(actual),
            });
        }
        Ok(())
    }
}

fn header_digest<const N: usize>(headers: &HeaderMap, header: &'static str) -> Result<Option<[u8; N]>, ChecksumError> {
    let Some(value) = headers.get(header) else {
        return Ok(None);
    };
    let malformed = || ChecksumError::Malformed { header };
    let text = value.to_str().map_err(|_| malformed())?.trim();
    if let Some(digest) = decode_hex::<N>(text) {
        return Ok(Some(digest));
    }
    let bytes = STANDARD.decode(text).map_err(|_| malformed())?;
    bytes.try_into().map(Some).map_err(|_| malformed())
}

pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn parses_hex_and_base64() {
        // sha256("") and md5("")
        let sha_hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let sha_b64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let md5_b64 = "1B2M2Y8AsgTpgAmY7PhCfg==";
        let md5_hex = "d41d8cd98f00b204e9800998ecf8427e";
        let from_hex = Expected::from_headers(&headers(&[(SHA256_HEADER, sha_hex), (MD5_HEADER, md5_hex)])).unwrap();
        let from_b64 = Expected::from_headers(&headers(&[(SHA256_HEADER, sha_b64), (MD5_HEADER, md5_b64)])).unwrap();
        assert_eq!(from_hex, from_b64);
        assert_eq!(to_hex(&from_hex.sha256.unwrap()), sha_hex);
        assert!(Expected::from_headers(&HeaderMap::new()).unwrap().is_empty());
        for bad in ["zz", "abcd", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"] {
            assert_eq!(
                Expected::from_headers(&headers(&[(SHA256_HEADER, bad)])),
                Err(ChecksumError::Malformed { header: SHA256_HEADER }),
                "{bad}"
            );
        }
    }

    #[test]
    fn verifies() {
        let expected = Expected { sha256: Some([1; 32]), md5: Some([2; 16]) };
        assert_eq!(expected.verify(&[1; 32], Some(&[2; 16])), Ok(()));
        assert!(matches!(
            expected.verify(&[9; 32], Some(&[2; 16])),
            Err(ChecksumError::Mismatch { algorithm: "sha256", .. })
        ));
        assert!(matches!(
            expected.verify(&[1; 32], Some(&[9; 16])),
            Err(ChecksumError::Mismatch { algorithm: "md5", .. })
        ));
    }
}
