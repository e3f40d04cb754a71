//! YAML text -> a tree of nodes that remember where they came from. The only place YAML is
//! known. Refuses what makes YAML dangerous or ambiguous for a stack file: anchors and aliases
//! (billion laughs), custom tags, several documents, duplicate keys, deep nesting, huge input.

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan};

use super::diag::{Diagnostic, Source, Span};

pub const MAX_BYTES: usize = 32 * 1024 * 1024;
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    /// A string (quoted scalars always are: never reinterpreted as a number or bool).
    Str {
        text: String,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Num(_) => "a number",
            NodeKind::Str { .. } => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

fn scalar(text: &str, style: ScalarStyle) -> NodeKind {
    if style != ScalarStyle::Plain {
        return NodeKind::Str { text: text.to_owned() };
    }
    // The YAML 1.2 core schema's plain scalars.
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = text.parse::<i64>()
    {
        return NodeKind::Int(i);
    }
    let looks_numeric = digits.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_numeric
        && let Ok(n) = text.parse::<f64>()
        && n.is_finite()
    {
        return NodeKind::Num(n);
    }
    NodeKind::Str { text: text.to_owned() }
}

enum Frame {
    Seq(Vec<Node>, Span),
    Map(Vec<(Node, Node)>, Option<Node>, Span, std::collections::HashMap<String, Span>),
}

/// Parses one YAML document. Returns the root node, or every problem found before parsing had
/// to stop (a YAML syntax error ends parsing; duplicate keys do not).
pub fn parse(src: &Source) -> Result<Node, Vec<Diagnostic>> {
    if src.text.len() > MAX_BYTES {
        return Err(vec![Diagnostic::at(
            src,
            Span::start(),
            format!("stack file is larger than {} MiB", MAX_BYTES >> 20),
        )]);
    }
    let mut diags = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut docs = 0;
    let span_of = |s: &YSpan| src.span(s.start.line(), s.start.col() + 1, s.end.line(), s.end.col() + 1);
    for ev in Parser::new_from_str(&src.text) {
        let (event, yspan) = match ev {
            Ok(e) => e,
            Err(e) => {
                diags.push(syntax_error(src, &e, &stack));
                return Err(diags);
            }
        };
        let span = span_of(&yspan);
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => continue,
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    diags.push(Diagnostic::at(src, span, "a stack file holds one YAML document; found a second `---`"));
                    return Err(diags);
                }
                continue;
            }
            Event::Alias(_) => {
                diags.push(Diagnostic::at(src, span, "YAML aliases (`*name`) are not supported in stack files"));
                return Err(diags);
            }
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 {
                    diags.push(Diagnostic::at(src, span, "YAML anchors (`&name`) are not supported in stack files"));
                    return Err(diags);
                }
                let kind = match tag {
                    None => scalar(&text, style),
                    Some(t) if t.handle == "!!" || t.handle == "tag:yaml.org,2002:" => match t.suffix.as_str() {
                        "str" => NodeKind::Str { text: text.to_string() },
                        _ => scalar(&text, style),
                    },
                    Some(t) => {
                        diags.push(Diagnostic::at(
                            src,
                            span,
                            format!("unsupported YAML tag `{}{}`", t.handle, t.suffix),
                        ));
                        return Err(diags);
                    }
                };
                Node { kind, span }
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) if anchor != 0 || tag.is_some() => {
                let what = if anchor != 0 { "YAML anchors (`&name`) are" } else { "YAML tags are" };
                diags.push(Diagnostic::at(src, span, format!("{what} not supported in stack files")));
                return Err(diags);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    diags.push(Diagnostic::at(src, span, format!("nesting deeper than {MAX_DEPTH} levels")));
                    return Err(diags);
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new(), span)
                } else {
                    Frame::Map(Vec::new(), None, span, std::collections::HashMap::new())
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, start)) => Node { kind: NodeKind::Seq(items), span: start.to(span) },
                _ => unreachable_frame(&mut diags, src, span)?,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(items, _, start, _)) => Node { kind: NodeKind::Map(items), span: start.to(span) },
                _ => unreachable_frame(&mut diags, src, span)?,
            },
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(items, key, _, seen)) => match key.take() {
                None => {
                    if !matches!(
                        node.kind,
                        NodeKind::Str { .. } | NodeKind::Int(_) | NodeKind::Bool(_) | NodeKind::Null
                    ) {
                        diags.push(Diagnostic::at(src, node.span, "mapping keys must be plain strings"));
                    }
                    let text = key_text(&node);
                    if let Some(first) = seen.get(&text) {
                        let (l, c) = (first.line, first.col);
                        diags.push(Diagnostic::at(
                            src,
                            node.span,
                            format!("duplicate key `{text}` (first defined at line {l}, column {c})"),
                        ));
                    }
                    seen.entry(text).or_insert(node.span);
                    *key = Some(node);
                }
                Some(k) => items.push((k, node)),
            },
        }
    }
    match (root, diags.is_empty()) {
        (Some(r), true) => Ok(r),
        (None, true) => Err(vec![Diagnostic::at(src, Span::start(), "the stack file is empty")]),
        (_, false) => Err(diags),
    }
}

/// A YAML syntax error, placed where a person would look: at a tab used for indentation, or at
/// the bracket that was never closed, rather than where the scanner gave up.
fn syntax_error(src: &Source, e: &saphyr_parser::ScanError, open: &[Frame]) -> Diagnostic {
    let m = e.marker();
    let (line, col) = (m.line(), m.col() + 1);
    for n in 1..=(line + 1).min(src.text.lines().count()) {
        let text = src.line_text(n);
        let indent: String = text.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
        if let Some(i) = indent.find('\t') {
            let span = src.span(n, i + 1, n, i + 2);
            return Diagnostic::at(src, span, "invalid YAML: tabs are not allowed for indentation; use spaces");
        }
    }
    let past_end = line > src.text.lines().count()
        || (line == src.text.lines().count() && col > src.line_text(line).chars().count());
    if past_end
        && let Some(start) = open.last().map(|f| match f {
            Frame::Seq(_, s) | Frame::Map(_, _, s, _) => *s,
        })
    {
        let span = Span { len: 1, ..start };
        return Diagnostic::at(src, span, format!("invalid YAML: this is never closed ({})", e.info()));
    }
    Diagnostic::at(src, src.span(line, col, line, col + 1), format!("invalid YAML: {}", e.info()))
}

fn unreachable_frame(diags: &mut Vec<Diagnostic>, src: &Source, span: Span) -> Result<Node, Vec<Diagnostic>> {
    diags.push(Diagnostic::at(src, span, "invalid YAML structure"));
    Err(std::mem::take(diags))
}

/// A mapping key as text (`8000:` and `"8000":` are the same key).
pub fn key_text(n: &Node) -> String {
    match &n.kind {
        NodeKind::Str { text, .. } => text.clone(),
        NodeKind::Int(i) => i.to_string(),
        NodeKind::Bool(b) => b.to_string(),
        NodeKind::Num(f) => f.to_string(),
        NodeKind::Null => "null".into(),
        _ => String::new(),
    }
}
