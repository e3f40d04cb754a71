//! What the Lambda kinds (function, permission) share: the client, tags, and the reproducible
//! zip package a function's code is built into.
//!
//! The package is a plain zip written here rather than by an archiver, so that the same files
//! always give the same bytes, and so the same `CodeSha256` (the base64 SHA-256 of the zip that
//! Lambda reports): entries sorted by their path, every timestamp 1980-01-01 00:00 (the zip
//! epoch), permissions 0644 or 0755 (any execute bit set), no directory entries, no extra
//! fields, no comments, deflated at one fixed level. File order on disk, modification times,
//! owners and umasks do not matter. The deflate stream is the compressor's of this build: a
//! different rprov binary could compress differently, and then the hash changes once.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use aws_sdk_lambda::Client;
use sha2::{Digest, Sha256};

use crate::aws::Cx;
use crate::kinds::{Tags, without_aws_tags};

pub fn client(cx: &Cx) -> Client {
    cx.client(Client::new)
}

pub fn to_sdk(tags: &Tags) -> HashMap<String, String> {
    tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub fn from_sdk(tags: Option<&HashMap<String, String>>) -> Tags {
    without_aws_tags(tags.into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Lambda's limit for a zip sent in the CreateFunction / UpdateFunctionCode request itself
/// (larger packages go through S3): 50 MB.
/// https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
pub const DIRECT_UPLOAD_MAX: usize = 50 * 1024 * 1024;

/// A function's code as one reproducible zip.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub zip: Vec<u8>,
    /// Base64 of the zip's SHA-256: what Lambda reports as `CodeSha256`.
    pub sha256: String,
    pub files: usize,
}

/// One file to package: its name in the zip and where it is.
struct Entry {
    name: String,
    path: PathBuf,
    executable: bool,
}

/// The files under `root` (a directory: every regular file below it, named by its path
/// relative to `root` with `/`; a file: that one file, by its name), sorted by name. Symbolic
/// links are followed; hidden files are packaged like any other.
fn entries(root: &Path) -> Result<Vec<Entry>, String> {
    let meta = std::fs::metadata(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut out = Vec::new();
    if meta.is_file() {
        let name = root
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: not a UTF-8 file name", root.display()))?;
        out.push(Entry { name: name.to_owned(), path: root.to_owned(), executable: executable(&meta) });
        return Ok(out);
    }
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        let read = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for item in read {
            let item = item.map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = item.path();
            let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            if meta.is_dir() {
                dirs.push(path);
            } else if meta.is_file() {
                let rel = path.strip_prefix(root).map_err(|e| format!("{}: {e}", path.display()))?;
                let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
                let name = parts.ok_or_else(|| format!("{}: not a UTF-8 file name", path.display()))?.join("/");
                out.push(Entry { name, path, executable: executable(&meta) });
            }
        }
    }
    if out.is_empty() {
        return Err(format!("{}: no files to package", root.display()));
    }
    out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(out)
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// 1980-01-01 00:00:00 in MS-DOS form: time 0, date (year - 1980) << 9 | month << 5 | day.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
/// "Version needed to extract" 2.0 (deflate); "made by" 2.0 on Unix (3), so that the external
/// attributes carry Unix permissions, which Lambda applies to the extracted files.
const VERSION_NEEDED: u16 = 20;
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// General purpose flag bit 11: the name is UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
const DEFLATE: u16 = 8;

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn fits(n: usize, what: &str) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| format!("{what} is larger than a zip without ZIP64 holds"))
}

/// The zip of `root` (see the module's doc). Reads every file once.
pub fn package(root: &Path) -> Result<Package, String> {
    let files = entries(root)?;
    let mut zip = Vec::new();
    let mut central = Vec::new();
    for f in &files {
        let data = std::fs::read(&f.path).map_err(|e| format!("{}: {e}", f.path.display()))?;
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
        enc.write_all(&data).map_err(|e| e.to_string())?;
        let deflated = enc.finish().map_err(|e| e.to_string())?;
        let flags = if f.name.is_ascii() { 0 } else { FLAG_UTF8 };
        let name = f.name.as_bytes();
        let name_len = u16::try_from(name.len()).map_err(|_| format!("{}: name too long for a zip", f.name))?;
        let (csize, usize_) = (fits(deflated.len(), &f.name)?, fits(data.len(), &f.name)?);
        let offset = fits(zip.len(), "the package")?;
        // Local file header.
        u32le(&mut zip, 0x0403_4b50);
        u16le(&mut zip, VERSION_NEEDED);
        u16le(&mut zip, flags);
        u16le(&mut zip, DEFLATE);
        u16le(&mut zip, DOS_TIME);
        u16le(&mut zip, DOS_DATE);
        u32le(&mut zip, crc.sum());
        u32le(&mut zip, csize);
        u32le(&mut zip, usize_);
        u16le(&mut zip, name_len);
        u16le(&mut zip, 0);
        zip.extend_from_slice(name);
        zip.extend_from_slice(&deflated);
        // Its central directory record.
        let mode: u32 = 0o100_000 | if f.executable { 0o755 } else { 0o644 };
        u32le(&mut central, 0x0201_4b50);
        u16le(&mut central, VERSION_MADE_BY);
        u16le(&mut central, VERSION_NEEDED);
        u16le(&mut central, flags);
        u16le(&mut central, DEFLATE);
        u16le(&mut central, DOS_TIME);
        u16le(&mut central, DOS_DATE);
        u32le(&mut central, crc.sum());
        u32le(&mut central, csize);
        u32le(&mut central, usize_);
        u16le(&mut central, name_len);
        u16le(&mut central, 0); // extra field
        u16le(&mut central, 0); // comment
        u16le(&mut central, 0); // disk number start
        u16le(&mut central, 0); // internal attributes
        u32le(&mut central, mode << 16);
        u32le(&mut central, offset);
        central.extend_from_slice(name);
    }
    let count = u16::try_from(files.len()).map_err(|_| "more than 65,535 files for a zip without ZIP64".to_owned())?;
    let (cd_offset, cd_size) = (fits(zip.len(), "the package")?, fits(central.len(), "the package")?);
    zip.extend_from_slice(&central);
    // End of central directory record.
    u32le(&mut zip, 0x0605_4b50);
    u16le(&mut zip, 0);
    u16le(&mut zip, 0);
    u16le(&mut zip, count);
    u16le(&mut zip, count);
    u32le(&mut zip, cd_size);
    u32le(&mut zip, cd_offset);
    u16le(&mut zip, 0);
    let sha256 = aws_smithy_types::base64::encode(Sha256::digest(&zip));
    Ok(Package { zip, sha256, files: files.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, name: &str, body: &str) {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    #[cfg(unix)]
    fn chmod(p: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_same_tree_gives_the_same_bytes_whatever_the_order_and_times() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        // Written in opposite orders, at different times, with different permissions that
        // mean the same (no execute bit).
        for (n, body) in [("handler.py", "def handler(e, c):\n    return 1\n"), ("lib/util.py", "X = 1\n")] {
            write(a.path(), n, body);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        for (n, body) in [("lib/util.py", "X = 1\n"), ("handler.py", "def handler(e, c):\n    return 1\n")] {
            write(b.path(), n, body);
        }
        #[cfg(unix)]
        {
            chmod(&a.path().join("handler.py"), 0o600);
            chmod(&b.path().join("handler.py"), 0o664);
        }
        let (pa, pb) = (package(a.path()).unwrap(), package(b.path()).unwrap());
        assert_eq!(pa.zip, pb.zip);
        assert_eq!(pa.sha256, pb.sha256);
        assert_eq!(pa.files, 2);
        // Packaged twice: the same.
        assert_eq!(package(a.path()).unwrap(), pa);
        // One changed byte: another hash.
        write(b.path(), "lib/util.py", "X = 2\n");
        assert_ne!(package(b.path()).unwrap().sha256, pa.sha256);
        // An execute bit is part of the package.
        #[cfg(unix)]
        {
            chmod(&a.path().join("handler.py"), 0o700);
            assert_ne!(package(a.path()).unwrap().sha256, pa.sha256);
        }
    }

    #[test]
    fn a_zip_that_readers_take_with_sorted_names_and_fixed_metadata() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "z.py", "z");
        write(d.path(), "a/b.py", &"b".repeat(1000));
        write(d.path(), "a.py", "a");
        let p = package(d.path()).unwrap();
        // Names in the central directory, in order.
        let mut names = Vec::new();
        let mut i = p.zip.windows(4).position(|w| w == [0x50, 0x4b, 0x01, 0x02]).unwrap();
        while p.zip[i..].starts_with(&[0x50, 0x4b, 0x01, 0x02]) {
            let n = u16::from_le_bytes([p.zip[i + 28], p.zip[i + 29]]) as usize;
            assert_eq!(&p.zip[i + 12..i + 16], &[0, 0, 0x21, 0], "1980-01-01 00:00");
            assert_eq!(u32::from_le_bytes(p.zip[i + 38..i + 42].try_into().unwrap()) >> 16, 0o100644);
            names.push(String::from_utf8(p.zip[i + 46..i + 46 + n].to_vec()).unwrap());
            i += 46 + n;
        }
        assert_eq!(names, ["a.py", "a/b.py", "z.py"]);
        // The deflated data inflates back to the file.
        let start = p.zip.windows(6).position(|w| w == b"a/b.py").unwrap() + 6;
        let csize = u32::from_le_bytes(p.zip[start - 6 - 12..start - 6 - 8].try_into().unwrap()) as usize;
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::DeflateDecoder::new(&p.zip[start..start + csize]), &mut out)
            .unwrap();
        assert_eq!(out, "b".repeat(1000));
        // The hash is the base64 SHA-256 of the bytes.
        assert_eq!(p.sha256, aws_smithy_types::base64::encode(Sha256::digest(&p.zip)));
    }

    #[test]
    fn a_single_file_and_what_cannot_be_packaged() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "index.mjs", "export const handler = async () => 1;\n");
        let p = package(&d.path().join("index.mjs")).unwrap();
        assert_eq!(p.files, 1);
        assert!(p.zip.windows(9).any(|w| w == b"index.mjs"));
        assert!(package(&d.path().join("missing")).unwrap_err().contains("missing"));
        let empty = tempfile::tempdir().unwrap();
        assert!(package(empty.path()).unwrap_err().contains("no files to package"));
    }
}
