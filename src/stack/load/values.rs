//! A value written in the stack file -> the [`Expr`] it denotes, typed against the schema:
//! nested objects with their defaults, `${...}` templates, and params and imported outputs
//! substituted (the rest of rprov sees literals where they are known).

use super::imports::Imports;
use super::params::Params;
use super::{Diags, node_value, value_node};
use crate::schema::{Prop, Ty};
use crate::spec::constraints::{self, Member};
use crate::stack::diag::{Span, did_you_mean};
use crate::stack::expr::{Expr, ExprMap, parse_template};
use crate::stack::yaml::{Node, NodeKind, key_text};
use crate::value::Value;

/// One value being read (a property, an output): the params and imports it may use, and what
/// went into it.
pub(super) struct Scope<'s, 'i> {
    params: &'s Params,
    imports: &'s mut Imports<'i>,
    /// Checking a param's value: `${` in it is text, not a reference.
    literal: bool,
    pub(super) used: Used,
}

/// What went into a value, read once it is: where it may go, and which checks would only
/// repeat a failure.
#[derive(Default)]
pub(super) struct Used {
    /// A secret param.
    pub(super) secret: bool,
    /// A param or import that failed its own checks (reported where it is declared).
    pub(super) failed: bool,
}

impl<'s, 'i> Scope<'s, 'i> {
    pub(super) fn new(params: &'s Params, imports: &'s mut Imports<'i>) -> Scope<'s, 'i> {
        Scope { params, imports, literal: false, used: Used::default() }
    }
}

/// Where a value is sent: the property (or field) it is written for and the AWS model member it
/// goes to AWS as, whose limits a literal must keep ([`constraints`]).
#[derive(Clone, Copy)]
pub(super) struct Sent<'a> {
    name: &'a str,
    member: Member,
    /// A secret's value is never quoted in a message.
    secret: bool,
}

impl<'a> Sent<'a> {
    /// The member `prop` is sent as, when the AWS model table has it.
    pub(super) fn of(prop: &'a Prop) -> Option<Sent<'a>> {
        Some(Sent { name: prop.name, member: constraints::of(prop)?, secret: prop.secret })
    }

    /// What each item of a list is sent as.
    fn item(self) -> Option<Sent<'a>> {
        Some(Sent { member: self.member.item()?, ..self })
    }

    /// Reports each limit of the member `v` breaks, at `span`; whether it keeps them all.
    fn keeps(self, d: &mut Diags, span: Span, v: &Value) -> bool {
        self.report(d, span, self.member.check(v))
    }

    fn report(self, d: &mut Diags, span: Span, breaches: Vec<constraints::Breach>) -> bool {
        for b in &breaches {
            let found = if self.secret && b.shows_value { "(secret)" } else { b.found.as_str() };
            let at = format!("{} {found}: AWS: {} {}", self.name, self.member.display(), b.rule);
            d.err(span, at).help = b.help.clone();
        }
        breaches.is_empty()
    }
}

/// Type-checks a node against a type, producing the expression it denotes; a literal sent to
/// AWS (`to`) must keep the limits of the AWS model's member.
pub(super) fn expr(d: &mut Diags, s: &mut Scope, node: &Node, ty: &Ty, to: Option<Sent>) -> Option<Expr> {
    // References first: `${...}` is allowed wherever a value is.
    if let NodeKind::Str { text, .. } = &node.kind
        && text.contains("${")
        && !s.literal
    {
        return template(d, s, node, text, ty, to);
    }
    let e = typed(d, s, node, ty, to)?;
    match (&e, to) {
        (Expr::Lit(v), Some(to)) if !matches!(v, Value::List(_)) => to.keeps(d, node.span, v).then_some(e),
        _ => Some(e),
    }
}

fn typed(d: &mut Diags, s: &mut Scope, node: &Node, ty: &Ty, to: Option<Sent>) -> Option<Expr> {
    let mismatch = |d: &mut Diags| {
        let got = node.type_name();
        d.err(node.span, format!("expected {}, found {got}", ty.describe()));
        None
    };
    match (ty, &node.kind) {
        (Ty::Str, NodeKind::Str { text, .. }) => Some(Expr::Lit(Value::str(text))),
        // Numbers are accepted where text is expected (ports in env maps, account ids).
        (Ty::Str, NodeKind::Int(i)) => Some(Expr::Lit(Value::Str(i.to_string()))),
        (Ty::Int, NodeKind::Int(i)) => Some(Expr::Lit(Value::Int(*i))),
        (Ty::Num, NodeKind::Int(i)) => Some(Expr::Lit(Value::Int(*i))),
        (Ty::Num, NodeKind::Num(n)) => Some(Expr::Lit(Value::Num(*n))),
        (Ty::Bool, NodeKind::Bool(b)) => Some(Expr::Lit(Value::Bool(*b))),
        (Ty::Cidr, NodeKind::Str { text, .. }) => match crate::spec::network::parse_cidr(text) {
            Ok(_) => Some(Expr::Lit(Value::str(text))),
            Err(msg) => {
                d.err(node.span, msg);
                None
            }
        },
        (Ty::Enum(options), NodeKind::Str { text, .. }) => {
            if options.contains(&text.as_str()) {
                Some(Expr::Lit(Value::str(text)))
            } else {
                let help = did_you_mean(text, options.iter().copied());
                d.err(node.span, format!("invalid value `{text}`: expected {}", ty.describe())).help = help;
                None
            }
        }
        (Ty::List(item), NodeKind::Seq(items)) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok =
                to.is_none_or(|to| to.report(d, node.span, to.member.count(items.len()).into_iter().collect()));
            let to_item = to.and_then(Sent::item);
            for i in items {
                match expr(d, s, i, item, to_item) {
                    Some(e) => out.push(e),
                    None => ok = false,
                }
            }
            ok.then_some(Expr::List(out))
        }
        (Ty::StrMap, NodeKind::Map(entries)) => {
            let mut out = ExprMap::new();
            for (k, v) in entries {
                let key = key_text(k);
                if let Some(e) = expr(d, s, v, &Ty::Str, None) {
                    out.insert(key, e);
                }
            }
            Some(Expr::Map(out))
        }
        (Ty::Obj(fields), NodeKind::Map(entries)) => {
            let mut out = ExprMap::new();
            for (k, v) in entries {
                let key = key_text(k);
                match fields.iter().find(|f| f.name == key) {
                    Some(f) => {
                        if let Some(e) = expr(d, s, v, &f.ty, Sent::of(f)) {
                            out.insert(key, e);
                        }
                    }
                    None => {
                        let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
                        let help = did_you_mean(&key, names.iter().copied());
                        d.err(k.span, format!("unknown key `{key}`; expected one of: {}", names.join(", "))).help =
                            help;
                    }
                }
            }
            let written: Vec<String> = entries.iter().map(|(k, _)| key_text(k)).collect();
            fill_defaults(d, fields.iter(), &mut out, &written, node.span, "this entry");
            Some(Expr::Map(out))
        }
        (Ty::Doc, _) => doc(d, s, node),
        _ => mismatch(d),
    }
}

/// The properties (or an object's fields) not written: their defaults, or a diagnostic for each
/// required one.
pub(super) fn fill_defaults<'p>(
    d: &mut Diags,
    fields: impl Iterator<Item = &'p Prop>,
    props: &mut ExprMap,
    written: &[String],
    span: Span,
    what: &str,
) {
    for p in fields {
        // A key that was written but rejected already has its diagnostic.
        if props.contains_key(p.name) || written.iter().any(|w| w == p.name) {
            continue;
        }
        if let Some(default) = p.default {
            props.insert(p.name.to_owned(), Expr::Lit(default_value(&p.ty, default.value())));
        } else if p.required {
            d.err(span, format!("missing required property `{}` of {what} ({})", p.name, p.ty.describe()));
        }
    }
}

/// A default as the stack states it: an object's default (`{}`) carries its own fields'
/// defaults, as a written `{}` would.
fn default_value(ty: &Ty, v: Value) -> Value {
    match (ty, v) {
        (Ty::Obj(fields), Value::Map(mut m)) => {
            for f in fields.iter() {
                if let Some(d) = f.default
                    && !m.contains_key(f.name)
                {
                    m.insert(f.name.to_owned(), default_value(&f.ty, d.value()));
                }
            }
            Value::Map(m)
        }
        (_, v) => v,
    }
}

fn doc(d: &mut Diags, s: &mut Scope, node: &Node) -> Option<Expr> {
    Some(match &node.kind {
        NodeKind::Str { text, .. } if text.contains("${") => return template(d, s, node, text, &Ty::Doc, None),
        NodeKind::Seq(items) => Expr::List(items.iter().filter_map(|i| doc(d, s, i)).collect()),
        NodeKind::Map(entries) => {
            Expr::Map(entries.iter().filter_map(|(k, v)| Some((key_text(k), doc(d, s, v)?))).collect())
        }
        _ => Expr::Lit(node_value(node)),
    })
}

fn template(d: &mut Diags, s: &mut Scope, node: &Node, text: &str, ty: &Ty, to: Option<Sent>) -> Option<Expr> {
    // Locate the n-th `${` of the value in the scalar's source text, whatever the scalar's
    // style (quoted, escaped, folded, block): its line and column in the file.
    let src = d.src;
    let base = node.span;
    let raw = src.text.get(base.offset..base.offset + base.len).unwrap_or("");
    let span_at = |off: usize, len: usize| {
        let nth = text.get(..off).map(|t| t.matches("${").count()).unwrap_or(0);
        match raw.match_indices("${").nth(nth) {
            Some((i, _)) => src.span_at(base.offset + i, len),
            None => base,
        }
    };
    let expr = match parse_template(text, &span_at) {
        Ok(e) => e,
        Err(e) => {
            d.err(span_at(e.at, 2), e.message);
            return None;
        }
    };
    // Params are known now: substitute them, so the rest of rprov sees literals.
    let before = d.len();
    let mut used = Used::default();
    let expr = substitute(d, s, &mut used, expr);
    s.used.secret |= used.secret;
    s.used.failed |= used.failed;
    if d.len() > before || used.failed {
        return None;
    }
    let expr = match expr {
        Expr::Concat(parts) if parts.iter().all(|p| matches!(p, Expr::Lit(_))) => {
            Expr::Lit(Expr::Concat(parts).resolve(&|_| Value::Unknown))
        }
        e => e,
    };
    match (&expr, ty) {
        (Expr::Concat(_), Ty::Int | Ty::Num | Ty::Bool | Ty::List(_) | Ty::StrMap | Ty::Obj(_)) => {
            d.err(node.span, format!("expected {}, found a string with references", ty.describe()));
            None
        }
        // A secret param not given to a command that never sends it (validate, drift,
        // destroy): nothing to check until it is given.
        (Expr::Lit(Value::Unknown), _) => Some(expr),
        (Expr::Lit(v), _) if !matches!(ty, Ty::Doc) => {
            // A param's value: check it like a literal written in place. It is data, never
            // a template: `--param 'x=${y.id}'` does not become a reference.
            let n = value_node(v, node.span);
            // A secret is redacted from messages only where it appears whole: never quote it.
            let to = to.map(|t| Sent { secret: t.secret || used.secret, ..t });
            s.literal = true;
            let e = self::expr(d, s, &n, ty, to);
            s.literal = false;
            e
        }
        _ => Some(expr),
    }
}

/// `${params.NAME}` and `${alias.outputs.NAME}` replaced by their values; what they used goes
/// into `used`.
fn substitute(d: &mut Diags, s: &mut Scope, used: &mut Used, e: Expr) -> Expr {
    match e {
        Expr::Ref(r) if r.target == "params" => match s.params.values.get(&r.attr) {
            Some(p) => {
                used.secret |= p.secret;
                Expr::Lit(p.value.clone())
            }
            // Declared but invalid: already reported where it is declared.
            None if s.params.failed.contains(&r.attr) => {
                used.failed = true;
                Expr::Lit(Value::Null)
            }
            None => {
                let help = did_you_mean(&r.attr, s.params.values.keys().map(String::as_str));
                d.err(r.span, format!("unknown param `{}`", r.attr)).help = help;
                Expr::Lit(Value::Null)
            }
        },
        Expr::Ref(r) if s.imports.contains(&r.target) => s.imports.output(d, r).unwrap_or_else(|| {
            used.failed = true;
            Expr::Lit(Value::Null)
        }),
        Expr::Concat(parts) => Expr::Concat(parts.into_iter().map(|p| substitute(d, s, used, p)).collect()),
        other => other,
    }
}
