//! Located diagnostics: every problem in a stack file names `file:line:col`, the resource it
//! belongs to, and what was expected. Bad input is data, not a crash.

use std::fmt;

/// A stack file's text and name, with the line index that turns positions into offsets.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
    /// Per line: whether it is all ASCII, where a character column is a byte count. Spans are
    /// made for every scalar of a file, so the common case must not walk characters.
    ascii_lines: Vec<bool>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let ascii_lines = line_starts
            .iter()
            .enumerate()
            .map(|(n, &start)| {
                let end = line_starts.get(n + 1).copied().unwrap_or(text.len());
                text.as_bytes()[start..end].is_ascii()
            })
            .collect();
        Source { name: name.into(), text, line_starts, ascii_lines }
    }

    /// The byte range of a 0-based line, its newline included.
    fn line_range(&self, index: usize) -> (usize, usize) {
        (self.line_starts[index], self.line_starts.get(index + 1).copied().unwrap_or(self.text.len()))
    }

    /// Byte offset of a 1-based line and 1-based character column.
    fn offset(&self, line: usize, col: usize) -> usize {
        let index = line.saturating_sub(1);
        if index >= self.line_starts.len() {
            return self.text.len();
        }
        let (start, end) = self.line_range(index);
        let col = col.saturating_sub(1);
        if self.ascii_lines[index] && start + col <= end {
            return (start + col).min(self.text.len());
        }
        let rest = &self.text[start..];
        rest.char_indices().nth(col).map(|(i, _)| start + i).unwrap_or(self.text.len())
    }

    /// 1-based line and character column of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = if self.ascii_lines[line - 1] {
            offset - start
        } else {
            self.text.get(start..offset).map(|t| t.chars().count()).unwrap_or(0)
        };
        (line, col + 1)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Offsets and positions agree with a character walk, on ASCII and non-ASCII lines alike.
    #[test]
    fn positions_round_trip_on_mixed_lines() {
        let text = "a: 1\nnäme: \"größe\"\n\nb: [x, y]\nlast";
        let src = Source::new("s.yaml", text);
        for (line_no, line) in text.split('\n').enumerate() {
            let start = src.line_starts[line_no];
            for (col, (i, _)) in line.char_indices().enumerate() {
                let offset = src.offset(line_no + 1, col + 1);
                assert_eq!(offset, start + i, "line {} col {}", line_no + 1, col + 1);
                assert_eq!(src.position(offset), (line_no + 1, col + 1));
            }
        }
        assert_eq!(src.offset(99, 1), text.len());
        assert_eq!(src.position(text.len()), (5, 5));
        // A column past the end of a line runs on into the next, as a character walk does.
        assert_eq!(src.offset(1, 7), text.find("äme").unwrap());
    }
}
