//! File names that are safe to use as one path component inside the data directory.

use std::fmt;

/// Longest name a client may upload, in bytes. Stored names may be a few bytes longer (a `-N`
/// suffix), and the sidecar `.{name}.meta.json` must still fit the usual 255-byte limit.
pub const MAX_UPLOAD_NAME_BYTES: usize = 200;

/// Longest stored name accepted anywhere, in bytes.
const MAX_NAME_BYTES: usize = 240;

/// Extensions an uploaded file may have (compared without regard to case).
const UPLOAD_EXTENSIONS: [&str; 2] = [".tar.gz", ".tgz"];

/// A name that is a single, visible, printable path component: never a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the file name is empty")]
    Empty,
    #[error("the file name is longer than {0} bytes")]
    TooLong(usize),
    #[error("the file name contains a path separator")]
    Separator,
    #[error("the file name may not be '.' or '..' or start with '.'")]
    Hidden,
    #[error("the file name contains control or invisible formatting characters")]
    Control,
    #[error("the file name may not end with a space or a dot")]
    Trailing,
    #[error("only .tgz and .tar.gz files are accepted")]
    NotTgz,
}

impl FileName {
    /// Accepts a name of a stored file (for download and delete).
    pub fn parse(name: &str) -> Result<FileName, NameError> {
        check_component(name, MAX_NAME_BYTES)?;
        Ok(FileName(name.to_owned()))
    }

    /// Accepts a name for a new upload: a safe component ending in `.tgz` or `.tar.gz`.
    pub fn parse_upload(name: &str) -> Result<FileName, NameError> {
        check_component(name, MAX_UPLOAD_NAME_BYTES)?;
        if split_extension(name).is_none() {
            return Err(NameError::NotTgz);
        }
        Ok(FileName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `diag.tgz` -> `diag-3.tgz`, `a.tar.gz` -> `a-3.tar.gz`: the unique name for a duplicate.
    pub fn with_suffix(&self, n: u32) -> FileName {
        let (stem, extension) = split_extension(&self.0).unwrap_or((&self.0, ""));
        FileName(format!("{stem}-{n}{extension}"))
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn split_extension(name: &str) -> Option<(&str, &str)> {
    let lower = name.to_ascii_lowercase();
    UPLOAD_EXTENSIONS.iter().find_map(|extension| {
        // ASCII lowercasing keeps byte offsets, so the split point is valid in `name` too.
        let at = lower.strip_suffix(extension)?.len();
        (at > 0).then(|| name.split_at(at))
    })
}

fn check_component(name: &str, max_bytes: usize) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > max_bytes {
        return Err(NameError::TooLong(max_bytes));
    }
    if name.contains(['/', '\\']) {
        return Err(NameError::Separator);
    }
    // Covers ".", "..", and every hidden name, among them this service's own temporary and
    // metadata files.
    if name.starts_with('.') {
        return Err(NameError::Hidden);
    }
    if name.chars().any(is_forbidden_char) {
        return Err(NameError::Control);
    }
    if name.ends_with([' ', '.']) {
        return Err(NameError::Trailing);
    }
    Ok(())
}

/// Control characters (NUL included) and the invisible characters that make a name display as
/// something it is not (bidirectional overrides, zero-width characters, BOM).
fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, want: Result<(), NameError>) {
        assert_eq!(FileName::parse_upload(name).map(|_| ()), want, "{name:?}");
    }

    #[test]
    fn upload_names() {
        check("diag.tgz", Ok(()));
        check("Diag Report (2).TAR.GZ", Ok(()));
        check("diagnóstico-ß.tgz", Ok(()));
        check("a.b.c.tgz", Ok(()));
        check("", Err(NameError::Empty));
        check(".tgz", Err(NameError::Hidden));
        check("..", Err(NameError::Hidden));
        check(".hidden.tgz", Err(NameError::Hidden));
        check("../x.tgz", Err(NameError::Separator));
        check("..\\x.tgz", Err(NameError::Separator));
        check("/etc/x.tgz", Err(NameError::Separator));
        check("C:\\Users\\x.tgz", Err(NameError::Separator));
        check("x\0.tgz", Err(NameError::Control));
        check("x\n.tgz", Err(NameError::Control));
        check("x\u{7f}.tgz", Err(NameError::Control));
        check("evil\u{202E}zgt.exe.tgz", Err(NameError::Control));
        check("x.tgz ", Err(NameError::Trailing));
        check("x.tgz.", Err(NameError::Trailing));
        check("x.zip", Err(NameError::NotTgz));
        check("x.gz", Err(NameError::NotTgz));
        check("x.tar", Err(NameError::NotTgz));
        check("tgz", Err(NameError::NotTgz));
        check(&format!("{}.tgz", "a".repeat(196)), Ok(()));
        check(&format!("{}.tgz", "a".repeat(197)), Err(NameError::TooLong(200)));
    }

    #[test]
    fn stored_names_need_no_extension() {
        assert!(FileName::parse("notes.txt").is_ok());
        assert_eq!(FileName::parse("../etc/passwd"), Err(NameError::Separator));
    }

    #[test]
    fn suffixes() {
        let suffixed = |name: &str| FileName::parse_upload(name).unwrap().with_suffix(2).0;
        assert_eq!(suffixed("diag.tgz"), "diag-2.tgz");
        assert_eq!(suffixed("diag.TAR.GZ"), "diag-2.TAR.GZ");
        assert_eq!(suffixed("a.b.tar.gz"), "a.b-2.tar.gz");
    }
}
