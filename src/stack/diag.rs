//! Located diagnostics: every problem in a stack file names `file:line:col`, the resource it
//! belongs to, and what was expected. Bad input is data, not a crash.

use std::fmt;

/// A stack file's text and name, with the line index that turns positions into offsets.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source { name: name.into(), text, line_starts }
    }

    /// Byte offset of a 1-based line and 1-based character column.
    fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else { return self.text.len() };
        let rest = &self.text[start..];
        rest.char_indices().nth(col.saturating_sub(1)).map(|(i, _)| start + i).unwrap_or(self.text.len())
    }

    /// 1-based line and character column of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self.text.get(start..offset).map(|t| t.chars().count()).unwrap_or(0) + 1;
        (line, col)
    }

    /// A span from a byte offset and length.
    pub fn span_at(&self, offset: usize, len: usize) -> Span {
        let (line, col) = self.position(offset);
        Span { offset, len, line, col }
    }

    pub fn span(&self, line: usize, col: usize, end_line: usize, end_col: usize) -> Span {
        let offset = self.offset(line, col);
        let end = self.offset(end_line, end_col).max(offset);
        Span { offset, len: end - offset, line: line.max(1), col: col.max(1) }
    }

    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else { return "" };
        self.text[start..].lines().next().unwrap_or("")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub col: usize,
}

impl Span {
    pub fn start() -> Span {
        Span { offset: 0, len: 0, line: 1, col: 1 }
    }
    /// From the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        let end = (other.offset + other.len).max(self.offset);
        Span { len: end - self.offset, ..self }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    pub span: Span,
    pub resource: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn at(src: &Source, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: src.name.clone(), span, resource: None, message: message.into(), help: None }
    }
    pub fn resource(mut self, id: &str) -> Diagnostic {
        self.resource = Some(id.to_owned());
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.span.line, self.span.col)
    }

    /// The diagnostic with the offending line and a caret under the spot.
    pub fn render(&self, src: &Source) -> String {
        let mut out = format!("error: {self}\n");
        let line = src.line_text(self.span.line);
        if !line.is_empty() {
            let n = self.span.line.to_string();
            let pad = " ".repeat(n.len());
            let width = self.span.len.min(line.len().saturating_sub(self.span.col - 1)).max(1);
            out += &format!("{pad} |\n{n} | {line}\n{pad} | {}{}\n", " ".repeat(self.span.col - 1), "^".repeat(width));
        }
        if let Some(h) = &self.help {
            out += &format!("  help: {h}\n");
        }
        out
    }
}

/// `file:line:col: resource `id`: message` — one line, for logs and tests.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location())?;
        if let Some(r) = &self.resource {
            write!(f, "resource `{r}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// "did you mean `x`?" for a name close to one of the candidates.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| {
            // Jaro-Winkler for long names; one edit (swapped letters included) for short ones,
            // where Jaro-Winkler scores `vcp` against `vpc` too low.
            let close = strsim::damerau_levenshtein(name, c) <= 1 && c.len() > 1;
            (if close { 1.0 } else { strsim::jaro_winkler(name, c) }, c)
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}
