//! What a kind's [`check`](super::KindSpec::check) works with: the resource being checked, the
//! stack around it (region, name, the other resources as written), the problems it reports,
//! and small readers of written values. Everything here is pure: checks run in `validate`,
//! before anything reaches AWS.
//!
//! A check sees values as written: a literal is `Expr::Lit`, a `${id.attr}` is `Expr::Ref` (its
//! value is known only at apply, so a rule skips it), a param is already its value.

use crate::expr::{Expr, ExprMap};
use crate::value::Value;

/// One thing AWS would refuse: where inside the resource (`containers.0.memory`, `routes.1`, or
/// `""` for the resource itself), what, and a hint where one exists.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub path: String,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { path: path.into(), message: message.into(), help: None }
    }
    pub fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }
}

/// The stack a resource is checked in.
pub trait StackView {
    /// The stack's name (`stack:`).
    fn name(&self) -> &str;
    /// The stack's region, when the header gives a valid one.
    fn region(&self) -> Option<&str>;
    /// Every resource that loaded, in file order: id, kind name, properties.
    fn resources(&self) -> Vec<(&str, &'static str, &ExprMap)>;

    /// One resource by id: kind name and properties.
    fn resource(&self, id: &str) -> Option<(&'static str, &ExprMap)> {
        self.resources().into_iter().find(|(i, _, _)| *i == id).map(|(_, k, p)| (k, p))
    }

    /// The resources of one kind, in file order: id and properties. (A rule comparing a
    /// resource with the others of its kind runs once per resource: a view indexes them.)
    fn of_kind<'s>(&'s self, kind: &str) -> Box<dyn Iterator<Item = (&'s str, &'s ExprMap)> + 's> {
        let kind = kind.to_owned();
        Box::new(self.resources().into_iter().filter(move |(_, k, _)| *k == kind).map(|(i, _, p)| (i, p)))
    }

    /// The resources whose properties refer to resource `id` (`${id.attr}`, whole or inside a
    /// string), in file order: id, kind, properties. The others in one VPC, of one subnet, one
    /// zone, one load balancer: a rule comparing a resource with them runs once per resource,
    /// so a view indexes them.
    fn referrers<'s>(&'s self, id: &str) -> Box<dyn Iterator<Item = (&'s str, &'static str, &'s ExprMap)> + 's> {
        let id = id.to_owned();
        Box::new(
            self.resources()
                .into_iter()
                .filter(move |(_, _, props)| props.values().any(|e| e.refs().iter().any(|r| r.target == id))),
        )
    }
}

/// The resource a check looks at.
pub struct Subject<'a> {
    pub id: &'a str,
    pub props: &'a ExprMap,
    pub stack: &'a dyn StackView,
}

impl Subject<'_> {
    pub fn get(&self, name: &str) -> Option<&Expr> {
        self.props.get(name)
    }
    /// A property's literal string.
    pub fn str(&self, name: &str) -> Option<&str> {
        lit_str(self.props.get(name))
    }
    /// A property's literal integer.
    pub fn int(&self, name: &str) -> Option<i64> {
        lit_int(self.props.get(name))
    }
    /// A property's literal boolean.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.props.get(name) {
            Some(Expr::Lit(Value::Bool(b))) => Some(*b),
            _ => None,
        }
    }
    /// The items of a list property (none when absent or not a literal list).
    pub fn list(&self, name: &str) -> &[Expr] {
        match self.props.get(name) {
            Some(Expr::List(items)) => items,
            _ => &[],
        }
    }
    /// The resource a property refers to as a whole (`${vpc.id}` -> `vpc`), with its kind and
    /// properties.
    pub fn referenced(&self, name: &str) -> Option<(&str, &'static str, &ExprMap)> {
        let target = ref_target(self.props.get(name)?)?;
        let (kind, props) = self.stack.resource(target)?;
        Some((target, kind, props))
    }
    /// The resource a value inside a property refers to as a whole (a list item, a field of a
    /// mapping), with its kind and properties.
    pub fn referenced_in<'e>(&'e self, e: &'e Expr) -> Option<(&'e str, &'static str, &'e ExprMap)> {
        let target = ref_target(e)?;
        let (kind, props) = self.stack.resource(target)?;
        Some((target, kind, props))
    }
    /// The name rprov gives the resource when `name` is left out: `<stack>-<id>`.
    pub fn default_name(&self) -> String {
        format!("{}-{}", self.stack.name(), self.id)
    }
}

pub fn lit_str(e: Option<&Expr>) -> Option<&str> {
    match e {
        Some(Expr::Lit(Value::Str(s))) => Some(s),
        _ => None,
    }
}

pub fn lit_int(e: Option<&Expr>) -> Option<i64> {
    match e {
        Some(Expr::Lit(Value::Int(n))) => Some(*n),
        _ => None,
    }
}

/// The resource a value refers to when it is one reference (`${subnet.id}` -> `subnet`).
pub fn ref_target(e: &Expr) -> Option<&str> {
    match e {
        Expr::Ref(r) if r.target != "params" => Some(&r.target),
        _ => None,
    }
}

/// "a subnet", "an internet_gateway".
pub fn a_kind(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {kind}")
}

/// When `e` (the value at `path`) is the `id` or `arn` of a resource of the stack that is not
/// of one of `kinds`: AWS would get the wrong kind of id there (a VPC id for a subnet), which it
/// refuses as malformed or not found. Other attributes are left alone: `${subnet.vpc_id}` is a
/// VPC id, `${vpc.default_security_group_id}` a security group's.
pub fn wrong_kind(s: &Subject, path: &str, e: &Expr, kinds: &[&str]) -> Option<Problem> {
    let Expr::Ref(r) = e else { return None };
    // A resource naming itself is the loader's to report.
    if !matches!(r.attr.as_str(), "id" | "arn") || r.target == s.id {
        return None;
    }
    let (kind, _) = s.stack.resource(&r.target)?;
    if kinds.contains(&kind) {
        return None;
    }
    // Load balancers, target groups and certificates are named by ARN (their `id` is it too).
    let attr =
        |k: &str| if matches!(k, "load_balancer" | "target_group" | "certificate" | "listener") { "arn" } else { "id" };
    let wanted: Vec<String> = kinds.iter().map(|k| a_kind(k)).collect();
    let label = if attr(kinds[0]) == "arn" { "ARN" } else { "id" };
    let p = Problem::new(
        path,
        format!(
            "`{path}` refers to `{}`, {}: AWS expects the {label} of {} here",
            r.target,
            a_kind(kind),
            wanted.join(" or ")
        ),
    );
    let example = kinds.iter().find_map(|k| s.stack.of_kind(k).next().map(|(id, _)| (id.to_owned(), attr(k))));
    Some(match example {
        Some((id, attr)) => p.help(format!("e.g. `${{{id}.{attr}}}`")),
        None => p,
    })
}

/// When `prop` is left out rprov names the resource `<stack>-<id>`: that derived name against
/// AWS's length limit, the problem saying which names to shorten. (A name the stack gives is
/// checked like any value: by the AWS model's constraint on the member, or the kind's rule.)
pub fn default_name_fits(s: &Subject, prop: &str, max: usize, aws: &str) -> Option<Problem> {
    if !matches!(s.get(prop), None | Some(Expr::Lit(Value::Null))) {
        return None;
    }
    let n = s.default_name();
    let len = n.chars().count();
    (len > max).then(|| {
        Problem::new(
            "",
            format!("the default {prop} `{n}` (`<stack>-<id>`) is {len} characters; AWS: {aws} allows at most {max}"),
        )
        .help(format!("shorten the stack name or the resource id, or give `{prop}` of at most {max} characters"))
    })
}

/// What a value names, as far as `validate` can tell: the stack's resource a whole
/// `${id.attr}` refers to, or a literal (the id, name or ARN of something outside the stack).
/// Two values naming the same thing compare equal; a value that is neither (a string with a
/// reference inside) names nothing known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named<'a> {
    Resource(&'a str),
    Literal(&'a str),
}

impl std::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Named::Resource(s) | Named::Literal(s) => write!(f, "`{s}`"),
        }
    }
}

impl Named<'_> {
    /// Whether two values surely name different things: two of the stack's resources, or two
    /// literals. A literal and a resource may be one thing (a resource adopted by its id).
    pub fn differs(&self, other: &Named) -> bool {
        match (self, other) {
            (Named::Resource(a), Named::Resource(b)) | (Named::Literal(a), Named::Literal(b)) => a != b,
            _ => false,
        }
    }
}

pub fn named(e: Option<&Expr>) -> Option<Named<'_>> {
    match e? {
        Expr::Lit(Value::Str(s)) => Some(Named::Literal(s)),
        e => ref_target(e).map(Named::Resource),
    }
}

/// The VPC of the stack's subnet or security group a value refers to: what that resource's
/// `vpc` names. None for an id written out (its VPC is AWS's to know).
pub fn vpc_of<'s>(stack: &'s dyn StackView, e: &Expr) -> Option<Named<'s>> {
    let (_, props) = stack.resource(ref_target(e)?)?;
    named(props.get("vpc"))
}

/// For names AWS keeps unique (a second create of the name fails, or overwrites the first):
/// the first resource of `kind` written before `s` whose name is `s`'s, with that name.
/// `name_of(id, props)` is the name a resource of the kind gets (its `name`, else its default),
/// None when it is known only at apply.
pub fn earlier_with_same_name(
    s: &Subject,
    kind: &str,
    name_of: impl Fn(&str, &ExprMap) -> Option<String>,
) -> Option<(String, String)> {
    let mine = name_of(s.id, s.props)?;
    s.stack
        .resources()
        .into_iter()
        .take_while(|(id, _, _)| *id != s.id)
        .find(|(id, k, props)| *k == kind && name_of(id, props).as_deref() == Some(mine.as_str()))
        .map(|(id, _, _)| (id.to_owned(), mine))
}

#[cfg(test)]
mod tests {
    use super::Named;

    /// A literal and a resource may be one thing; two of a kind differ by name.
    #[test]
    fn what_surely_differs() {
        let (r, l) = (Named::Resource, Named::Literal);
        assert!(r("a").differs(&r("b")) && l("vpc-1").differs(&l("vpc-2")));
        assert!(!r("a").differs(&r("a")) && !r("vpc").differs(&l("vpc-1")) && !l("vpc-1").differs(&r("vpc")));
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! For the rules' unit tests: a stack written as values (for the readers), and stacks read
    //! by the real loader, with every problem it reports (for the kinds' rules).

    use super::{Expr, ExprMap, StackView, Value};
    use crate::expr::Ref;

    /// `${target.attr}`.
    pub fn refer(target: &str, attr: &str) -> Expr {
        Expr::Ref(Ref { target: target.into(), attr: attr.into(), span: crate::diag::Span::start() })
    }

    /// A value as a stack writes it: `${a.b}` a reference, else a string.
    pub fn val(text: &str) -> Expr {
        match text.strip_prefix("${").and_then(|t| t.strip_suffix('}')).and_then(|t| t.split_once('.')) {
            Some((target, attr)) => refer(target, attr),
            None => Expr::Lit(Value::str(text)),
        }
    }

    /// Resources in file order: id, kind, properties.
    #[derive(Default)]
    pub struct Stack(pub Vec<(String, &'static str, ExprMap)>);

    impl Stack {
        /// One resource more; each property's value as [`val`] reads it, `a, b` a list.
        pub fn with(mut self, id: &str, kind: &'static str, props: &[(&str, &str)]) -> Stack {
            let props = props
                .iter()
                .map(|(k, v)| {
                    let e = if v.contains(", ") { Expr::List(v.split(", ").map(val).collect()) } else { val(v) };
                    (k.to_string(), e)
                })
                .collect();
            self.0.push((id.into(), kind, props));
            self
        }
    }

    impl StackView for Stack {
        fn name(&self) -> &str {
            "s"
        }
        fn region(&self) -> Option<&str> {
            Some("us-east-1")
        }
        fn resources(&self) -> Vec<(&str, &'static str, &ExprMap)> {
            self.0.iter().map(|(i, k, p)| (i.as_str(), *k, p)).collect()
        }
    }

    /// Asserts that the loader reports nothing for `resources` (see [`problems`]).
    #[track_caller]
    pub fn valid(resources: &str) {
        let p = problems(resources);
        assert!(p.is_empty(), "{p:#?}");
    }

    /// What the loader reports for `resources` (YAML lines at the indentation of entries under
    /// `resources:`) in stack `s` of us-east-1: each `LINE:COL: message`, with ` | help` when
    /// there is one; lines counted within `resources` (its first line is 1).
    pub fn problems(resources: &str) -> Vec<String> {
        let text = format!("stack: s\nregion: us-east-1\nresources:\n{}", resources.trim_start_matches('\n'));
        let src = crate::stack::Source::new("t.yaml", text);
        match crate::stack::load_str(&crate::kinds::KINDS, src, &Default::default()) {
            Ok(_) => vec![],
            Err((_, diags)) => diags
                .iter()
                .map(|d| {
                    let help = d.help.as_ref().map(|h| format!(" | {h}")).unwrap_or_default();
                    format!("{}:{}: {}{help}", d.span.line.saturating_sub(3), d.span.col, d.message)
                })
                .collect(),
        }
    }
}
