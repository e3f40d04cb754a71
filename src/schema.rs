//! Declarative description of each resource kind's properties and attributes. The loader
//! type-checks stack files against it, the planner learns from it which properties force a
//! replacement and which are secret, and `rprov schema` / `rprov explain` are generated from it.

#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Str,
    Int,
    Num,
    Bool,
    /// An IPv4 network in CIDR notation.
    Cidr,
    Enum(&'static [&'static str]),
    List(&'static Ty),
    /// String keys to string values (tags, environment variables).
    StrMap,
    /// A nested object with its own fields.
    Obj(&'static [Prop]),
    /// Free-form JSON-like document (policy documents); compared structurally.
    Doc,
}

impl Ty {
    pub fn describe(&self) -> String {
        match self {
            Ty::Str => "a string".into(),
            Ty::Int => "an integer".into(),
            Ty::Num => "a number".into(),
            Ty::Bool => "true or false".into(),
            Ty::Cidr => "an IPv4 CIDR block (e.g. 10.0.0.0/16)".into(),
            Ty::Enum(v) => format!("one of {}", v.join(", ")),
            Ty::List(t) => format!("a list of {}", t.describe_plural()),
            Ty::StrMap => "a map of strings".into(),
            Ty::Obj(_) => "a mapping".into(),
            Ty::Doc => "a document (mapping or list)".into(),
        }
    }
    fn describe_plural(&self) -> String {
        match self {
            Ty::Str => "strings".into(),
            Ty::Int => "integers".into(),
            Ty::Cidr => "CIDR blocks".into(),
            Ty::Obj(_) => "mappings".into(),
            other => other.describe(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    Bool(bool),
    Int(i64),
    Str(&'static str),
    EmptyList,
    EmptyMap,
}

impl Default {
    pub fn value(self) -> crate::value::Value {
        use crate::value::Value;
        match self {
            Default::Bool(b) => Value::Bool(b),
            Default::Int(i) => Value::Int(i),
            Default::Str(s) => Value::str(s),
            Default::EmptyList => Value::List(vec![]),
            Default::EmptyMap => Value::Map(crate::value::Props::new()),
        }
    }
}

/// What a change of the property does to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChange {
    UpdateInPlace,
    Replace,
}

#[derive(Debug, Clone, Copy)]
pub struct Prop {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    pub default: Option<Default>,
    pub on_change: OnChange,
    /// Never printed; recorded in state as a digest only.
    pub secret: bool,
    /// Order of list items carries no meaning: compared as a set.
    pub unordered: bool,
    /// A list of objects whose items are identified by these fields (a container by its
    /// `name`, a route by its `destination`): order carries no meaning, and a plan shows a
    /// changed item as that item changed rather than one item removed and another added.
    pub key: &'static [&'static str],
    /// The AWS API model member the value is sent as, `service:Shape.Member` in the model's
    /// own names (`elbv2:CreateTargetGroupInput.Port`): its constraints (range, length,
    /// pattern, enum) come from the model, are checked by `validate` and carried by the JSON
    /// Schema.
    pub aws: Option<&'static str>,
    pub doc: &'static str,
}

impl Prop {
    pub const fn new(name: &'static str, ty: Ty, doc: &'static str) -> Prop {
        Prop {
            name,
            ty,
            required: false,
            default: None,
            on_change: OnChange::UpdateInPlace,
            secret: false,
            unordered: false,
            key: &[],
            aws: None,
            doc,
        }
    }
    pub const fn required(mut self) -> Prop {
        self.required = true;
        self
    }
    pub const fn default(mut self, d: Default) -> Prop {
        self.default = Some(d);
        self
    }
    pub const fn replaces(mut self) -> Prop {
        self.on_change = OnChange::Replace;
        self
    }
    pub const fn secret(mut self) -> Prop {
        self.secret = true;
        self
    }
    /// The AWS model member the value is sent as (see [`Prop::aws`]).
    pub const fn aws(mut self, member: &'static str) -> Prop {
        self.aws = Some(member);
        self
    }
    pub const fn unordered(mut self) -> Prop {
        self.unordered = true;
        self
    }
    /// Items of this list of objects are identified by `fields` (see [`Prop::key`]).
    pub const fn keyed(mut self, fields: &'static [&'static str]) -> Prop {
        self.key = fields;
        self
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub name: &'static str,
    pub doc: &'static str,
    /// Attribute holds a list (e.g. a set of ids) rather than a string.
    pub list: bool,
}

impl Attr {
    pub const fn new(name: &'static str, doc: &'static str) -> Attr {
        Attr { name, doc, list: false }
    }
    pub const fn list(name: &'static str, doc: &'static str) -> Attr {
        Attr { name, doc, list: true }
    }
}

#[derive(Debug)]
pub struct KindSchema {
    /// The `type:` of the resource in a stack file.
    pub name: &'static str,
    pub doc: &'static str,
    pub props: &'static [Prop],
    pub attrs: &'static [Attr],
    /// Carries tags (ownership tags and the stack's tags); adds the `tags` property.
    pub taggable: bool,
}

/// The `tags` property every taggable kind has.
pub const TAGS_PROP: Prop =
    Prop::new("tags", Ty::StrMap, "Tags added to this resource, on top of the stack's tags and the ownership tags.")
        .default(Default::EmptyMap);

impl KindSchema {
    pub fn prop(&self, name: &str) -> Option<&Prop> {
        if self.taggable && name == "tags" {
            return Some(&TAGS_PROP);
        }
        self.props.iter().find(|p| p.name == name)
    }
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }
    pub fn all_props(&self) -> impl Iterator<Item = &Prop> {
        self.props.iter().chain(self.taggable.then_some(&TAGS_PROP))
    }
}
