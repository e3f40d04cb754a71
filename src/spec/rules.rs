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
