//! Property values as written in a stack: literals, `${id.attr}` references and strings that
//! interpolate references. Resolution against known attributes turns them into [`Value`]s.

use crate::diag::Span;
use crate::value::Value;

/// Property name (or map key) -> expression, sorted by name.
pub type ExprMap = crate::sorted_map::SortedMap<String, Expr>;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Lit(Value),
    /// The whole value is one reference: it takes the referenced attribute's type (a list
    /// attribute stays a list).
    Ref(Ref),
    /// A string with references inside: always a string.
    Concat(Vec<Expr>),
    List(Vec<Expr>),
    Map(ExprMap),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    pub target: String,
    pub attr: String,
    pub span: Span,
}

impl Expr {
    pub fn refs(&self) -> Vec<&Ref> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }
    fn collect<'a>(&'a self, out: &mut Vec<&'a Ref>) {
        match self {
            Expr::Lit(_) => {}
            Expr::Ref(r) => out.push(r),
            Expr::Concat(p) | Expr::List(p) => p.iter().for_each(|e| e.collect(out)),
            Expr::Map(m) => m.values().for_each(|e| e.collect(out)),
        }
    }

    /// The value, with each reference looked up; `Unknown` where a lookup has no value yet.
    pub fn resolve(&self, lookup: &dyn Fn(&Ref) -> Value) -> Value {
        match self {
            Expr::Lit(v) => v.clone(),
            Expr::Ref(r) => lookup(r),
            Expr::Concat(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p.resolve(lookup) {
                        Value::Str(t) => s.push_str(&t),
                        Value::Int(i) => s.push_str(&i.to_string()),
                        Value::Num(n) => s.push_str(&n.to_string()),
                        Value::Bool(b) => s.push_str(&b.to_string()),
                        Value::Null => {}
                        Value::Unknown => return Value::Unknown,
                        other => s.push_str(&other.to_string()),
                    }
                }
                Value::Str(s)
            }
            Expr::List(items) => Value::List(items.iter().map(|e| e.resolve(lookup)).collect()),
            Expr::Map(m) => Value::Map(m.iter().map(|(k, e)| (k.clone(), e.resolve(lookup))).collect()),
        }
    }
}

/// A problem in `${...}` syntax, with the byte range inside the string.
#[derive(Debug, PartialEq)]
pub struct TemplateError {
    pub at: usize,
    pub message: String,
}

/// Splits a string into literal text and `${a.b}` references. `$${` is a literal `${`.
/// `span_at(byte_offset)` locates a reference inside the string for diagnostics.
pub fn parse_template(s: &str, span_at: &dyn Fn(usize, usize) -> Span) -> Result<Expr, TemplateError> {
    if !s.contains("${") {
        return Ok(Expr::Lit(Value::Str(s.to_owned())));
    }
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    let mut pos = 0;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest[..i].ends_with('$') {
            lit.push_str(&rest[..i - 1]);
            lit.push_str("${");
            rest = &rest[i + 2..];
            pos += i + 2;
            continue;
        }
        lit.push_str(&rest[..i]);
        let body_start = i + 2;
        let Some(end) = rest[body_start..].find('}') else {
            return Err(TemplateError { at: pos + i, message: "unclosed `${`: expected `}`".into() });
        };
        let body = rest[body_start..body_start + end].trim();
        let span = span_at(pos + i, end + 3);
        let (target, attr) = match body.split_once('.') {
            Some((t, a)) if is_ident(t) && is_ident(a) => (t, a),
            Some((t, a)) if is_ident(t) && a.split('.').all(is_ident) => (t, a),
            _ => {
                return Err(TemplateError {
                    at: pos + i,
                    message: format!(
                        "invalid reference `${{{body}}}`: expected `${{ID.ATTRIBUTE}}` or `${{params.NAME}}`"
                    ),
                });
            }
        };
        if !lit.is_empty() {
            parts.push(Expr::Lit(Value::Str(std::mem::take(&mut lit))));
        }
        parts.push(Expr::Ref(Ref { target: target.to_owned(), attr: attr.to_owned(), span }));
        rest = &rest[body_start + end + 1..];
        pos += body_start + end + 1;
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(Expr::Lit(Value::Str(lit)));
    }
    Ok(match parts.len() {
        1 => parts.pop().expect("one part"),
        _ => Expr::Concat(parts),
    })
}

pub fn is_ident(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Expr, TemplateError> {
        parse_template(s, &|_, _| Span::default())
    }
    fn r(t: &str, a: &str) -> Expr {
        Expr::Ref(Ref { target: t.into(), attr: a.into(), span: Span::default() })
    }
    fn lit(s: &str) -> Expr {
        Expr::Lit(Value::str(s))
    }

    #[test]
    fn templates() {
        assert_eq!(parse("plain"), Ok(lit("plain")));
        assert_eq!(parse("${vpc.id}"), Ok(r("vpc", "id")));
        assert_eq!(
            parse("https://${params.domain}/x"),
            Ok(Expr::Concat(vec![lit("https://"), r("params", "domain"), lit("/x")]))
        );
        assert_eq!(parse("cost $${HOME}"), Ok(lit("cost ${HOME}")));
        assert_eq!(parse("${ vpc.id }"), Ok(r("vpc", "id")));
        assert!(parse("${vpc.id").unwrap_err().message.contains("unclosed"));
        assert!(parse("${vpc}").unwrap_err().message.contains("expected `${ID.ATTRIBUTE}`"));
        assert!(parse("${1a.b}").is_err());
    }

    #[test]
    fn resolve_marks_unknown() {
        let e = Expr::Concat(vec![lit("x-"), r("a", "id")]);
        assert_eq!(e.resolve(&|_| Value::Unknown), Value::Unknown);
        assert_eq!(e.resolve(&|_| Value::str("1")), Value::str("x-1"));
    }
}
