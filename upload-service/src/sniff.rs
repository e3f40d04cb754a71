//! Recognises a gzip-compressed tar archive from the first bytes of a stream, so junk is refused
//! before it is stored in full.

use std::io::Write;

use flate2::write::GzDecoder;

const TAR_BLOCK: usize = 512;

/// Compressed bytes fed to the decoder per call. Deflate expands at most about 1032:1, so this
/// bounds the decompressed output (and the memory a hostile stream can make us use) per step.
const FEED: usize = 64;

/// A tar header appears at the very start of the decompressed stream; allow for a large gzip
/// header (name and comment fields) before giving up.
const MAX_SNIFF_INPUT: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SniffError {
    #[error("the content is not gzip-compressed (bad magic bytes)")]
    NotGzip,
    #[error("the gzip stream is corrupt")]
    CorruptGzip,
    #[error("the decompressed content is not a tar archive")]
    NotTar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// More input is needed.
    Undecided,
    Tgz,
}

/// Fed the stream's chunks in order until it decides.
pub struct TgzSniffer {
    consumed: usize,
    decoder: GzDecoder<Vec<u8>>,
    decided: bool,
}

impl Default for TgzSniffer {
    fn default() -> Self {
        TgzSniffer { consumed: 0, decoder: GzDecoder::new(Vec::with_capacity(TAR_BLOCK * 2)), decided: false }
    }
}

impl TgzSniffer {
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<Verdict, SniffError> {
        if self.decided {
            return Ok(Verdict::Tgz);
        }
        // The magic bytes and the "deflate" method byte give a precise error for non-gzip files.
        const MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
        for (offset, &byte) in chunk.iter().enumerate().take(MAGIC.len().saturating_sub(self.consumed)) {
            if byte != MAGIC[self.consumed + offset] {
                return Err(SniffError::NotGzip);
            }
        }
        while !chunk.is_empty() {
            let take = chunk.len().min(FEED);
            let written = self.decoder.write(&chunk[..take]).map_err(|_| SniffError::CorruptGzip)?;
            self.consumed += written;
            chunk = &chunk[written..];
            if self.decoder.get_ref().len() >= TAR_BLOCK {
                return self.decide();
            }
            if written == 0 {
                // The gzip member ended before a whole tar block came out.
                return Err(SniffError::NotTar);
            }
            if self.consumed > MAX_SNIFF_INPUT {
                return Err(SniffError::NotTar);
            }
        }
        Ok(Verdict::Undecided)
    }

    /// The stream ended: decide on what was seen.
    pub fn finish(&mut self) -> Result<(), SniffError> {
        if self.decided {
            return Ok(());
        }
        if self.consumed < 3 {
            return Err(SniffError::NotGzip);
        }
        self.decoder.try_finish().map_err(|_| SniffError::CorruptGzip)?;
        if self.decoder.get_ref().len() >= TAR_BLOCK { self.decide().map(|_| ()) } else { Err(SniffError::NotTar) }
    }

    fn decide(&mut self) -> Result<Verdict, SniffError> {
        let block: &[u8; TAR_BLOCK] = self.decoder.get_ref()[..TAR_BLOCK].try_into().expect("slice has the block size");
        if looks_like_tar_header(block) {
            self.decided = true;
            // Nothing more is decoded: release the buffers.
            self.decoder = GzDecoder::new(Vec::new());
            Ok(Verdict::Tgz)
        } else {
            Err(SniffError::NotTar)
        }
    }
}

/// True when `block` is a tar header with a valid checksum (every tar dialect has one), or the
/// all-zero block an empty archive starts with.
pub fn looks_like_tar_header(block: &[u8; TAR_BLOCK]) -> bool {
    if block.iter().all(|&b| b == 0) {
        return true;
    }
    let Some(stored) = parse_octal(&block[148..156]) else {
        return false;
    };
    // The checksum is computed with its own field read as eight spaces; historic tars summed
    // signed bytes, so accept either sum.
    let field = 148..156;
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if field.contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || i64::try_from(stored) == Ok(signed)
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let text = field.iter().skip_while(|&&b| b == b' ').take_while(|&&b| b != 0 && b != b' ');
    let mut value = 0u64;
    let mut digits = 0;
    for &b in text {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        value = value * 8 + u64::from(b - b'0');
        digits += 1;
    }
    (digits > 0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn tar_header(name: &str) -> [u8; 512] {
        let mut block = [0u8; 512];
        block[..name.len()].copy_from_slice(name.as_bytes());
        block[100..108].copy_from_slice(b"0000644\0");
        block[124..136].copy_from_slice(b"00000000000\0");
        block[156] = b'0';
        block[257..263].copy_from_slice(b"ustar\0");
        block[263..265].copy_from_slice(b"00");
        block[148..156].copy_from_slice(b"        ");
        let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
        block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        block
    }

    /// Feeds `data` in chunks of `chunk` bytes, then finishes.
    fn sniff(data: &[u8], chunk: usize) -> Result<(), SniffError> {
        let mut sniffer = TgzSniffer::default();
        for piece in data.chunks(chunk) {
            if sniffer.feed(piece)? == Verdict::Tgz {
                return Ok(());
            }
        }
        sniffer.finish()
    }

    #[test]
    fn verdicts() {
        let mut tar = tar_header("a.txt").to_vec();
        tar.extend_from_slice(&[0u8; 1024]);
        let tgz = gzip(&tar);
        for chunk in [1, 7, 64, 4096] {
            assert_eq!(sniff(&tgz, chunk), Ok(()), "chunk {chunk}");
        }
        assert_eq!(sniff(&gzip(&[0u8; 10240]), 100), Ok(()), "empty archive");
        assert_eq!(sniff(b"This is a test", 4), Err(SniffError::NotGzip));
        assert_eq!(sniff(b"", 4), Err(SniffError::NotGzip));
        assert_eq!(sniff(&[0x1f], 4), Err(SniffError::NotGzip));
        assert_eq!(sniff(&gzip(b"plain text, not a tar archive"), 4), Err(SniffError::NotTar));
        assert_eq!(sniff(&gzip(&[b'x'; 4096]), 4096), Err(SniffError::NotTar));
        let mut corrupt = tgz.clone();
        corrupt.truncate(12);
        corrupt.extend_from_slice(&[0xff; 64]);
        assert!(sniff(&corrupt, 16).is_err());
        let mut bad_checksum = tar_header("a.txt");
        bad_checksum[0] = b'b';
        assert_eq!(sniff(&gzip(&bad_checksum), 512), Err(SniffError::NotTar));
    }

    #[test]
    fn a_bomb_is_not_decompressed_whole() {
        // 64 MiB of zeros compress to ~64 KiB; the sniffer stops after the first block.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        let mut sniffer = TgzSniffer::default();
        assert_eq!(sniffer.feed(&bomb), Ok(Verdict::Tgz));
    }
}
