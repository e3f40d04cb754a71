//! SHA-256 digests: formatting, parsing, and readers and writers that hash what passes through.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// `sha256:<hex>` of a finished hasher.
pub(crate) fn finish(hasher: Sha256) -> String {
    format!("sha256:{}", hex(&hasher.finalize()))
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    finish(Sha256::new_with_prefix(bytes))
}

/// The hex part of a `sha256:<64 lowercase hex>` digest, or why it is not one.
pub(crate) fn sha256_hex(digest: &str) -> Result<&str, String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!("{digest:?} is not a digest (algorithm:hex)"));
    };
    if algorithm != "sha256" {
        return Err(format!("digest {digest:?}: only sha256 is supported"));
    }
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(format!("digest {digest:?}: not 64 lowercase hex digits"));
    }
    Ok(hex)
}

/// Passes reads through while hashing them; at EOF checks the size and digest and fails with
/// `InvalidData` naming the expected digest when either differs.
pub(crate) struct VerifyingReader<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    expected_size: u64,
    expected_digest: String,
    verified: bool,
}

impl<R: Read> VerifyingReader<R> {
    /// `inner` should yield at most `expected_size + 1` bytes (a `take`), so that a longer file is
    /// noticed without reading all of it.
    pub(crate) fn new(inner: R, expected_size: u64, expected_digest: String) -> Self {
        VerifyingReader { inner, hasher: Sha256::new(), read: 0, expected_size, expected_digest, verified: false }
    }

    fn mismatch(&self, what: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("blob {}: {what}", self.expected_digest))
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.verified || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.expected_size {
            return Err(self.mismatch(format!("longer than its size, {} bytes", self.expected_size)));
        }
        if n > 0 {
            self.hasher.update(&buf[..n]);
            return Ok(n);
        }
        if self.read < self.expected_size {
            return Err(self.mismatch(format!("truncated: {} of {} bytes", self.read, self.expected_size)));
        }
        let actual = finish(std::mem::take(&mut self.hasher));
        if actual != self.expected_digest {
            return Err(self.mismatch(format!("content does not match its digest (it hashes to {actual})")));
        }
        self.verified = true;
        Ok(0)
    }
}

/// Counts and hashes the bytes written through it.
pub(crate) struct HashingWriter<W> {
    pub(crate) inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), written: 0 }
    }

    /// The digest and size of what was written, and the inner writer.
    pub(crate) fn finish(self) -> (String, u64, W) {
        (finish(self.hasher), self.written, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `sha256:<hex>` and size of everything `reader` yields.
pub(crate) fn hash_reader(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut writer = HashingWriter::new(io::sink());
    io::copy(&mut reader, &mut writer)?;
    let (digest, size, _) = writer.finish();
    Ok((digest, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifying_reader_accepts_the_right_bytes_and_names_the_digest_otherwise() {
        let data = b"hello world";
        let digest = sha256(data);
        let mut out = Vec::new();
        VerifyingReader::new(&data[..], 11, digest.clone()).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);

        let error = VerifyingReader::new(&b"hello wurld"[..], 11, digest.clone()).read_to_end(&mut out).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains(&digest), "{error}");

        let error = VerifyingReader::new(&b"hello"[..], 11, digest.clone()).read_to_end(&mut out).unwrap_err();
        assert!(error.to_string().contains("truncated"), "{error}");

        let error = VerifyingReader::new(&b"hello world!"[..], 11, digest).read_to_end(&mut out).unwrap_err();
        assert!(error.to_string().contains("longer"), "{error}");
    }

    #[test]
    fn digest_syntax() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(sha256_hex(&good).unwrap(), "a".repeat(64));
        assert!(sha256_hex("sha512:abc").is_err());
        assert!(sha256_hex(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(sha256_hex("nocolon").is_err());
    }
}
