//! `.dockerignore` patterns as Docker and BuildKit read them (moby's `patternmatcher` and
//! `ignorefile`), and the digest of a build context.

use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Error;
use crate::digest;

/// The patterns of an ignore file, in order; the last one matching a path decides (`!` patterns
/// re-include).
#[derive(Debug, Clone, Default)]
pub struct IgnorePatterns {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// Cleaned, without its `!`.
    text: String,
    exclusion: bool,
    kind: MatchKind,
    tokens: Vec<Token>,
}

/// How a pattern is compared, as moby's `patternmatcher` decides it: patterns without wildcards
/// compare as strings (exactly, by prefix for a trailing `**`, by suffix for a leading `**`),
/// the others as a regular expression, here the token matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchKind {
    Exact,
    Prefix,
    Suffix,
    Tokens,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    Question,
    /// `[...]` (`[^...]` negated): like a regular expression class, it may match `/`.
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
    /// `**/` (or `**` before more pattern): nothing, or anything ending in `/`.
    AnyDirs,
    /// `**` at the end: anything.
    Rest,
}

impl IgnorePatterns {
    /// Reads an ignore file.
    pub fn read(file: &Path) -> Result<IgnorePatterns, Error> {
        let text = fs::read(file).map_err(|error| Error::io(file, error))?;
        IgnorePatterns::parse(&String::from_utf8_lossy(&text), file)
    }

    /// Parses the text of an ignore file (`file` names it in errors): one pattern a line, `#`
    /// starts a comment line, blank lines are skipped, surrounding spaces trimmed, a leading `/`
    /// means the context root (as no `/` does).
    pub fn parse(text: &str, file: &Path) -> Result<IgnorePatterns, Error> {
        let mut patterns = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = if number == 0 { line.trim_start_matches('\u{feff}') } else { line };
            // A comment only when `#` is the very first character, as in Docker.
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (exclusion, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if pattern.is_empty() {
                return Err(Error::invalid(file, format!("line {}: illegal exclusion pattern \"!\"", number + 1)));
            }
            let mut cleaned = clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            let (kind, tokens) = compile(&cleaned)
                .map_err(|message| Error::invalid(file, format!("line {}: {pattern:?}: {message}", number + 1)))?;
            patterns.push(Pattern { text: cleaned, exclusion, kind, tokens });
        }
        Ok(IgnorePatterns { patterns })
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out of the context: by a
    /// pattern matching it or one of its parent directories, the last matching pattern deciding.
    pub fn is_excluded(&self, path: &str) -> bool {
        let parent = match path.rsplit_once('/') {
            Some((parent, _)) => parent,
            None => "",
        };
        let mut excluded = false;
        for pattern in &self.patterns {
            // An exclusion only matters for a path excluded so far, an inclusion for one not.
            if pattern.exclusion != excluded {
                continue;
            }
            let mut matched = pattern.matches(path);
            if !matched && !parent.is_empty() {
                let mut end = 0;
                for component in parent.split('/') {
                    end += component.len();
                    if pattern.matches(&parent[..end]) {
                        matched = true;
                        break;
                    }
                    end += 1;
                }
            }
            if matched {
                excluded = !pattern.exclusion;
            }
        }
        excluded
    }

    /// Whether an exception (`!`) pattern might re-include something below the directory `dir`:
    /// if not, an excluded directory need not be walked.
    fn may_include_below(&self, dir: &str) -> bool {
        let below = format!("{dir}/");
        self.patterns.iter().filter(|p| p.exclusion).any(|pattern| {
            let literal =
                pattern.text.find(['*', '?', '[', '\\']).map_or(pattern.text.as_str(), |i| &pattern.text[..i]);
            literal.is_empty() || literal.starts_with(&below) || below.starts_with(literal)
        })
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match self.kind {
            MatchKind::Exact => path == self.text,
            MatchKind::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            MatchKind::Suffix => {
                let suffix = &self.text[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|suffix| path == suffix)
            }
            MatchKind::Tokens => {
                let chars: Vec<char> = path.chars().collect();
                let mut failed = vec![false; (self.tokens.len() + 1) * (chars.len() + 1)];
                match_tokens(&self.tokens, 0, &chars, 0, &mut failed)
            }
        }
    }
}

/// Go's `filepath.Clean`: one `/` between components, no `.`, `..` resolved where it can be, no
/// trailing `/`; empty is `.`.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Tokenizes a pattern and decides how it is matched, as `patternmatcher`'s `compile` does.
fn compile(pattern: &str) -> Result<(MatchKind, Vec<Token>), String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut kind = MatchKind::Exact;
    let mut i = 0;
    while i < chars.len() {
        let first = i == 0;
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == MatchKind::Exact {
                        kind = MatchKind::Prefix;
                    } else {
                        kind = MatchKind::Tokens;
                    }
                    tokens.push(Token::Rest);
                } else {
                    kind = MatchKind::Tokens;
                    tokens.push(Token::AnyDirs);
                }
                if first {
                    kind = MatchKind::Suffix;
                }
            }
            '*' => {
                kind = MatchKind::Tokens;
                tokens.push(Token::Star);
            }
            '?' => {
                kind = MatchKind::Tokens;
                tokens.push(Token::Question);
            }
            '\\' => match chars.get(i) {
                Some(&next) => {
                    i += 1;
                    kind = MatchKind::Tokens;
                    tokens.push(Token::Char(next));
                }
                None => return Err("a trailing \\ escapes nothing".to_owned()),
            },
            '[' => {
                kind = MatchKind::Tokens;
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut items = Vec::new();
                loop {
                    let Some(&c) = chars.get(i) else { return Err("a [ is not closed".to_owned()) };
                    i += 1;
                    if c == ']' {
                        if items.is_empty() {
                            return Err("an empty [] class".to_owned());
                        }
                        break;
                    }
                    let low = if c == '\\' {
                        let Some(&escaped) = chars.get(i) else { return Err("a [ is not closed".to_owned()) };
                        i += 1;
                        escaped
                    } else {
                        c
                    };
                    if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']') {
                        let mut high = chars[i + 1];
                        i += 2;
                        if high == '\\' {
                            let Some(&escaped) = chars.get(i) else { return Err("a [ is not closed".to_owned()) };
                            i += 1;
                            high = escaped;
                        }
                        if high < low {
                            return Err(format!("bad range {low}-{high} in a [] class"));
                        }
                        items.push((low, high));
                    } else {
                        items.push((low, low));
                    }
                }
                tokens.push(Token::Class { negated, items });
            }
            ']' => {
                kind = MatchKind::Tokens;
                tokens.push(Token::Char(']'));
            }
            c => tokens.push(Token::Char(c)),
        }
    }
    Ok((kind, tokens))
}

/// Whether `tokens[t..]` match all of `path[p..]`; `failed` memoizes the (t, p) found not to.
fn match_tokens(tokens: &[Token], t: usize, path: &[char], p: usize, failed: &mut [bool]) -> bool {
    let slot = t * (path.len() + 1) + p;
    if failed[slot] {
        return false;
    }
    let matched = match tokens.get(t) {
        None => p == path.len(),
        Some(Token::Rest) => true,
        Some(Token::Char(c)) => path.get(p) == Some(c) && match_tokens(tokens, t + 1, path, p + 1, failed),
        Some(Token::Question) => {
            path.get(p).is_some_and(|&c| c != '/') && match_tokens(tokens, t + 1, path, p + 1, failed)
        }
        Some(Token::Class { negated, items }) => {
            path.get(p).is_some_and(|&c| items.iter().any(|&(low, high)| low <= c && c <= high) != *negated)
                && match_tokens(tokens, t + 1, path, p + 1, failed)
        }
        Some(Token::Star) => {
            let mut end = p;
            loop {
                if match_tokens(tokens, t + 1, path, end, failed) {
                    break true;
                }
                if end == path.len() || path[end] == '/' {
                    break false;
                }
                end += 1;
            }
        }
        Some(Token::AnyDirs) => {
            match_tokens(tokens, t + 1, path, p, failed)
                || (p..path.len()).any(|i| path[i] == '/' && match_tokens(tokens, t + 1, path, i + 1, failed))
        }
    };
    if !matched {
        failed[slot] = true;
    }
    matched
}

/// The content digest of a docker build context as it affects the build: every file, symbolic
/// link and directory the ignore file does not exclude, as (relative path, type, executable bit,
/// contents or link target) in sorted path order, then the Dockerfile's bytes; `sha256:<hex>`.
///
/// The ignore file is `<Dockerfile>.dockerignore` beside the Dockerfile if there is one (as
/// BuildKit does), else `<context>/.dockerignore`.
pub fn context_digest(context: &Path, dockerfile: &Path) -> Result<String, Error> {
    let metadata = fs::metadata(context).map_err(|error| Error::io(context, error))?;
    if !metadata.is_dir() {
        return Err(Error::invalid(context, "the build context is not a directory"));
    }
    let dockerfile_bytes = fs::read(dockerfile).map_err(|error| Error::io(dockerfile, error))?;
    let patterns = match ignore_file(context, dockerfile) {
        Some(file) => IgnorePatterns::read(&file)?,
        None => IgnorePatterns::default(),
    };
    let mut entries = Vec::new();
    walk(context, &mut PathBuf::new(), &patterns, &mut entries)?;
    entries.sort_by(|a, b| a.relative.as_os_str().as_bytes().cmp(b.relative.as_os_str().as_bytes()));

    let mut hasher = Sha256::new();
    let field = |hasher: &mut Sha256, bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(&mut hasher, b"rprov-oci context 1");
    for entry in &entries {
        let path = context.join(&entry.relative);
        field(&mut hasher, entry.relative.as_os_str().as_bytes());
        match entry.kind {
            ContextKind::Dir => field(&mut hasher, b"dir"),
            ContextKind::Symlink => {
                let target = fs::read_link(&path).map_err(|error| Error::io(&path, error))?;
                field(&mut hasher, b"symlink");
                field(&mut hasher, target.as_os_str().as_bytes());
            }
            ContextKind::File { executable } => {
                field(&mut hasher, if executable { b"executable" } else { b"file" });
                let file = File::open(&path).map_err(|error| Error::io(&path, error))?;
                let (digest, _) = digest::hash_reader(io::BufReader::with_capacity(256 << 10, file))
                    .map_err(|error| Error::io(&path, error))?;
                field(&mut hasher, digest.as_bytes());
            }
        }
    }
    field(&mut hasher, b"Dockerfile");
    field(&mut hasher, &dockerfile_bytes);
    Ok(digest::finish(hasher))
}

fn ignore_file(context: &Path, dockerfile: &Path) -> Option<PathBuf> {
    let beside = dockerfile.file_name().map(|name| {
        let mut name = name.to_owned();
        name.push(".dockerignore");
        dockerfile.with_file_name(name)
    });
    [beside, Some(context.join(".dockerignore"))].into_iter().flatten().find(|path| path.is_file())
}

enum ContextKind {
    Dir,
    Symlink,
    File { executable: bool },
}

struct ContextEntry {
    relative: PathBuf,
    kind: ContextKind,
}

fn walk(
    root: &Path,
    relative: &mut PathBuf,
    patterns: &IgnorePatterns,
    out: &mut Vec<ContextEntry>,
) -> Result<(), Error> {
    let dir = root.join(&*relative);
    let mut children: Vec<_> = fs::read_dir(&dir)
        .map_err(|error| Error::io(&dir, error))?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<_, _>>()
        .map_err(|error| Error::io(&dir, error))?;
    children.sort();
    for name in children {
        relative.push(&name);
        let path = root.join(&*relative);
        let metadata = fs::symlink_metadata(&path).map_err(|error| Error::io(&path, error))?;
        let matched_path = relative.to_string_lossy().into_owned();
        let excluded = patterns.is_excluded(&matched_path);
        let file_type = metadata.file_type();
        if file_type.is_dir() {
            if !excluded {
                out.push(ContextEntry { relative: relative.clone(), kind: ContextKind::Dir });
            }
            if !excluded || patterns.may_include_below(&matched_path) {
                walk(root, relative, patterns, out)?;
            }
        } else if !excluded {
            let kind = if file_type.is_symlink() {
                Some(ContextKind::Symlink)
            } else if file_type.is_file() {
                Some(ContextKind::File { executable: metadata.permissions().mode() & 0o111 != 0 })
            } else {
                None // sockets, fifos, devices: not sent with the context
            };
            if let Some(kind) = kind {
                out.push(ContextEntry { relative: relative.clone(), kind });
            }
        }
        relative.pop();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(text: &str) -> IgnorePatterns {
        IgnorePatterns::parse(text, Path::new(".dockerignore")).unwrap()
    }

    #[test]
    fn go_clean() {
        assert_eq!(clean("a//b/./c/"), "a/b/c");
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("./"), ".");
        assert_eq!(clean("/"), "/");
    }

    #[test]
    fn single_star_and_question_stay_within_a_component() {
        let p = patterns("*.md\nsrc/?.rs\n");
        assert!(p.is_excluded("README.md"));
        assert!(!p.is_excluded("docs/README.md"));
        assert!(p.is_excluded("src/a.rs"));
        assert!(!p.is_excluded("src/ab.rs"));
        assert!(!p.is_excluded("src/x/a.rs"));
    }

    #[test]
    fn double_star() {
        let p = patterns("**/*.swp\nlogs/**\n**/cache\n");
        assert!(p.is_excluded("a.swp"));
        assert!(p.is_excluded("a/b/c.swp"));
        assert!(p.is_excluded("logs/today"));
        assert!(!p.is_excluded("logs"), "logs/** matches what is below logs, not logs itself");
        assert!(p.is_excluded("cache"));
        assert!(p.is_excluded("x/y/cache/z"));
        let p = patterns("a/**/b\n");
        assert!(p.is_excluded("a/b"));
        assert!(p.is_excluded("a/x/y/b"));
        assert!(!p.is_excluded("a/xb"));
    }

    #[test]
    fn a_directory_pattern_excludes_everything_below() {
        let p = patterns("target\n/.git/\n");
        assert!(p.is_excluded("target"));
        assert!(p.is_excluded("target/debug/app"));
        assert!(p.is_excluded(".git/HEAD"));
        assert!(!p.is_excluded("src/target.rs"));
        assert!(!p.is_excluded("src/target/x"), "an unanchored name only matches at the root");
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let p = patterns("# comment\n*.md\n!README.md\n\n  docs  \n!docs/keep/**\n");
        assert!(p.is_excluded("CHANGES.md"));
        assert!(!p.is_excluded("README.md"));
        assert!(p.is_excluded("docs/a.txt"));
        assert!(!p.is_excluded("docs/keep/a.txt"));
        let p = patterns("!README.md\n*.md\n");
        assert!(p.is_excluded("README.md"), "a later pattern overrides the exception");
        let p = patterns("a/b\n!a\n");
        assert!(!p.is_excluded("a/b/c"), "the exception matches a parent");
    }

    #[test]
    fn classes_escapes_and_errors() {
        let p = patterns("file[0-9].txt\nx[^a].y\n\\*literal\n");
        assert!(p.is_excluded("file7.txt"));
        assert!(!p.is_excluded("filex.txt"));
        assert!(p.is_excluded("xb.y"));
        assert!(!p.is_excluded("xa.y"));
        assert!(p.is_excluded("*literal"));
        assert!(!p.is_excluded("aliteral"));
        for bad in ["a[", "[]", "x\\", "!"] {
            let error = IgnorePatterns::parse(bad, Path::new("ctx/.dockerignore")).unwrap_err().to_string();
            assert!(error.starts_with("ctx/.dockerignore: line 1"), "{error}");
        }
    }

    #[test]
    fn a_hash_not_at_the_start_is_a_pattern() {
        let p = patterns(" #notcomment\n");
        assert!(p.is_excluded("#notcomment"));
    }
}
