//! What AWS's own API models allow of the members rprov sends properties as ([`Prop::aws`]):
//! ranges, lengths, patterns, enums and list sizes. The table, `schema/aws-constraints.json`, is
//! generated from the botocore models `scripts/venv` pins (`scripts/aws-model`) and kept true
//! by `tests/constraints.rs`; it is read once, from the binary itself.
//!
//! How a limit is applied, so that rprov never refuses what AWS would take:
//! - a pattern must match the whole value: AWS's validation applies them so (a log group name
//!   with one `:` in it is refused with "Member must satisfy regular expression pattern:
//!   [\.\-_/#A-Za-z0-9]+"). Patterns the Rust regex engine cannot compile (look-arounds,
//!   surrogate ranges) are not in the table; the table counts them and says why;
//! - a list's minimum applies to a list that has items: an empty list is how a stack says
//!   "none", and a kind sends none then;
//! - a value known only at apply (a reference) is not checked.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use super::Catalog;
use crate::schema::{Prop, Ty};
use crate::value::Value;

const TABLE: &str = include_str!("../../schema/aws-constraints.json");

/// The generated table: its source and the members.
#[derive(Debug, Default, Deserialize)]
pub struct Table {
    pub source: Source,
    pub members: BTreeMap<String, Shape>,
}

/// Which models the table was generated from.
#[derive(Debug, Default, Deserialize)]
pub struct Source {
    pub botocore: String,
    /// Service -> API version of its model.
    pub models: BTreeMap<String, String>,
}

/// What the model says of the shape a member targets, in JSON Schema's words.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    /// The model's name of the shape (`Port`, `DomainNameString`).
    pub shape: String,
    /// The model's type: string, integer, long, double, float, boolean, list, structure, ...
    #[serde(rename = "type")]
    pub ty: String,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
    #[serde(rename = "enum")]
    pub values: Option<Vec<String>>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    /// A list's item shape.
    pub items: Option<Box<Shape>>,
    #[serde(skip)]
    regex: OnceLock<Option<Regex>>,
}

/// The table compiled into rprov. A table that does not parse (it is generated and tested, so
/// only a broken build has one) checks nothing rather than stopping every command.
pub fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| serde_json::from_str(TABLE).unwrap_or_default())
}

/// A model pattern as rprov applies it: anchored at both ends (see the module doc).
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!(r"\A(?:{pattern})\z"))
}

/// One member of the model with what it allows.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    /// `service:Shape.Member`.
    pub name: &'static str,
    pub shape: &'static Shape,
}

/// The member a property is sent as, when the table has it.
pub fn of(prop: &Prop) -> Option<Member> {
    member(prop.aws?)
}

pub fn member(name: &str) -> Option<Member> {
    table().members.get_key_value(name).map(|(name, shape)| Member { name, shape })
}

/// A property that names the member it is sent as.
#[derive(Clone, Debug)]
pub struct Mapped {
    pub kind: &'static str,
    /// The property, and the fields above it: `health_check.interval`, `containers[].memory`.
    pub path: String,
    pub prop: &'static Prop,
}

/// Every property of a catalog's kinds that names a member ([`Prop::aws`]), nested fields
/// included, in schema order.
pub fn mapped(catalog: &dyn Catalog) -> Vec<Mapped> {
    fn walk(kind: &'static str, prefix: &str, props: &'static [Prop], out: &mut Vec<Mapped>) {
        for prop in props {
            let path = format!("{prefix}{}", prop.name);
            if prop.aws.is_some() {
                out.push(Mapped { kind, path: path.clone(), prop });
            }
            match prop.ty {
                Ty::Obj(fields) => walk(kind, &format!("{path}."), fields, out),
                Ty::List(Ty::Obj(fields)) => walk(kind, &format!("{path}[]."), fields, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for k in catalog.specs() {
        let s = k.schema();
        walk(s.name, "", s.props, &mut out);
    }
    out
}

/// A limit a value breaks.
#[derive(Clone, Debug, PartialEq)]
pub struct Breach {
    /// What the value is, as far as the limit goes: `70000`, `(41 characters)`.
    pub found: String,
    /// Whether `found` shows the value itself (hidden for secrets).
    pub shows_value: bool,
    /// What AWS allows: `must be 1-65535`.
    pub rule: String,
    pub help: Option<String>,
}

impl Member {
    /// How messages name it: `CreateTargetGroup Port` (the operation for an input shape,
    /// else the structure: `HealthCheck interval`).
    pub fn display(&self) -> String {
        let rest = self.name.split_once(':').map_or(self.name, |(_, r)| r);
        let (shape, member) = rest.split_once('.').unwrap_or((rest, ""));
        let shape = shape.strip_suffix("Request").or_else(|| shape.strip_suffix("Input")).unwrap_or(shape);
        format!("{shape} {member}")
    }

    /// What each item of a list property is checked against: the list's item shape, or the
    /// member itself when each item is sent as it (a subnet id per AssociateRouteTable).
    pub fn item(&self) -> Option<Member> {
        if self.shape.ty == "list" {
            self.shape.items.as_deref().map(|shape| Member { name: self.name, shape })
        } else {
            Some(*self)
        }
    }

    /// The limits a literal breaks: a number's range, a string's length, pattern and enum, a
    /// list's number of items (its items are checked one by one against [`Member::item`]).
    pub fn check(&self, v: &Value) -> Vec<Breach> {
        let s = self.shape;
        let mut out = Vec::new();
        match v {
            Value::Int(_) | Value::Num(_) if is_number(&s.ty) => {
                let n = v.as_f64().unwrap_or_default();
                let low = s.minimum.is_some_and(|m| n < m);
                let high = s.maximum.is_some_and(|m| n > m);
                if low || high {
                    let found = match v {
                        Value::Int(i) => i.to_string(),
                        _ => number(n),
                    };
                    out.push(breach(found, true, format!("must be {}", range(s.minimum, s.maximum, ""))));
                }
            }
            Value::Str(text) if s.ty == "string" => {
                let len = text.chars().count() as u64;
                if s.min_length.is_some_and(|m| len < m) || s.max_length.is_some_and(|m| len > m) {
                    let found = if len == 0 { "(empty)".into() } else { format!("({len} characters)") };
                    let (min, max) = (s.min_length.map(|m| m as f64), s.max_length.map(|m| m as f64));
                    out.push(breach(found, false, format!("must be {} long", range(min, max, " characters"))));
                }
                if let Some(values) = &s.values
                    && !values.iter().any(|v| v == text)
                {
                    let mut b = breach(quoted(text), true, format!("must be one of {}", values.join(", ")));
                    b.help = crate::diag::did_you_mean(text, values.iter().map(String::as_str));
                    out.push(b);
                }
                if let Some(re) = self.regex()
                    && !re.is_match(text)
                {
                    let pattern = s.pattern.as_deref().unwrap_or_default();
                    let mut b = breach(quoted(text), true, format!("must match the pattern `{pattern}`"));
                    b.help = Some("AWS matches the pattern against the whole value".into());
                    out.push(b);
                }
            }
            Value::List(items) => out.extend(self.count(items.len())),
            _ => {}
        }
        out
    }

    /// The limit a list of `n` items breaks, if any (an empty list is none: never sent).
    pub fn count(&self, n: usize) -> Option<Breach> {
        let s = self.shape;
        let n = n as u64;
        let outside = s.min_items.is_some_and(|m| n < m) || s.max_items.is_some_and(|m| n > m);
        (s.ty == "list" && n > 0 && outside).then(|| {
            let (min, max) = (s.min_items.map(|m| m as f64), s.max_items.map(|m| m as f64));
            let found = if n == 1 { "(1 item)".into() } else { format!("({n} items)") };
            breach(found, false, format!("takes {}", range(min, max, " items")))
        })
    }

    /// What it allows, in words (`1-65535`, `at most 5 items`, `each 1-1024 characters`); empty
    /// when the model says nothing beyond the type.
    pub fn limits(&self) -> Vec<String> {
        fn of(s: &Shape, out: &mut Vec<String>, each: &str) {
            if s.minimum.is_some() || s.maximum.is_some() {
                out.push(format!("{each}{}", range(s.minimum, s.maximum, "")));
            }
            if s.min_length.is_some() || s.max_length.is_some() {
                let (min, max) = (s.min_length.map(|m| m as f64), s.max_length.map(|m| m as f64));
                out.push(format!("{each}{}", range(min, max, " characters")));
            }
            if let Some(p) = &s.pattern {
                out.push(format!("{each}matching `{p}`"));
            }
            if let Some(v) = &s.values {
                out.push(format!("{each}one of {}", v.join(", ")));
            }
            if s.min_items.is_some() || s.max_items.is_some() {
                let (min, max) = (s.min_items.map(|m| m as f64), s.max_items.map(|m| m as f64));
                out.push(range(min, max, " items"));
            }
            if let Some(items) = &s.items {
                of(items, out, "each ");
            }
        }
        let mut out = Vec::new();
        of(self.shape, &mut out, "");
        out
    }

    fn regex(&self) -> Option<&Regex> {
        let s = self.shape;
        s.regex.get_or_init(|| s.pattern.as_deref().and_then(|p| compile(p).ok())).as_ref()
    }
}

/// Whether a property of type `ty` can be sent as a member of model type `model` (what
/// `tests/constraints.rs` holds every mapping to). A list property may also be sent item by item
/// as a scalar member.
pub fn fits(ty: &Ty, shape: &Shape) -> bool {
    match (ty, shape.ty.as_str()) {
        (Ty::Str | Ty::Cidr | Ty::Enum(_), "string") => true,
        (Ty::Int, "integer" | "long") => true,
        (Ty::Num, "double" | "float") => true,
        (Ty::Bool, "boolean") => true,
        (Ty::Obj(_), "structure") => true,
        (Ty::StrMap, "map") => true,
        (Ty::List(item), "list") => shape.items.as_deref().is_some_and(|i| fits(item, i)),
        (Ty::List(item), _) => !matches!(item, Ty::List(_)) && fits(item, shape),
        _ => false,
    }
}

fn is_number(ty: &str) -> bool {
    matches!(ty, "integer" | "long" | "float" | "double")
}

fn breach(found: String, shows_value: bool, rule: String) -> Breach {
    Breach { found, shows_value, rule, help: None }
}

/// `1-65535`, `at least 1`, `at most 1024 characters`.
fn range(min: Option<f64>, max: Option<f64>, unit: &str) -> String {
    match (min, max) {
        (Some(a), Some(b)) if a == b => format!("exactly {}{unit}", number(a)),
        (Some(a), Some(b)) if a >= 0.0 => format!("{}-{}{unit}", number(a), number(b)),
        (Some(a), Some(b)) => format!("from {} to {}{unit}", number(a), number(b)),
        (Some(a), None) => format!("at least {}{unit}", number(a)),
        (None, Some(b)) => format!("at most {}{unit}", number(b)),
        (None, None) => "any".into(),
    }
}

/// A limit or value as written: `65535`, `1.5`.
pub fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() }
}

/// A string value in a message, cut when long.
fn quoted(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() > MAX {
        format!("`{}...`", text.chars().take(MAX).collect::<String>())
    } else {
        format!("`{text}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(json: &str) -> &'static Shape {
        Box::leak(Box::new(serde_json::from_str::<Shape>(json).unwrap()))
    }

    fn m(json: &str) -> Member {
        Member { name: "svc:CreateThingRequest.Field", shape: shape(json) }
    }

    fn rules(m: &Member, v: Value) -> Vec<String> {
        m.check(&v).into_iter().map(|b| format!("{} {}", b.found, b.rule)).collect()
    }

    #[test]
    fn the_checked_in_table_parses_and_names_its_source() {
        let t: Table = serde_json::from_str(TABLE).expect("schema/aws-constraints.json parses");
        assert!(!t.source.botocore.is_empty());
        assert!(!t.members.is_empty());
        assert!(t.source.models.contains_key("elbv2"));
    }

    #[test]
    fn a_range_takes_its_edges_and_refuses_past_them() {
        let port = m(r#"{"shape": "Port", "type": "integer", "minimum": 1, "maximum": 65535}"#);
        assert!(rules(&port, Value::Int(1)).is_empty());
        assert!(rules(&port, Value::Int(65535)).is_empty());
        assert_eq!(rules(&port, Value::Int(65536)), ["65536 must be 1-65535"]);
        assert_eq!(rules(&port, Value::Int(0)), ["0 must be 1-65535"]);
        let at_least = m(r#"{"shape": "P", "type": "double", "minimum": 1.0}"#);
        assert!(rules(&at_least, Value::Num(1.0)).is_empty());
        assert_eq!(rules(&at_least, Value::Num(0.5)), ["0.5 must be at least 1"]);
        assert_eq!(rules(&at_least, Value::Int(0)), ["0 must be at least 1"]);
    }

    #[test]
    fn a_length_counts_characters_not_bytes() {
        let name = m(r#"{"shape": "N", "type": "string", "minLength": 1, "maxLength": 3}"#);
        assert!(rules(&name, Value::str("abc")).is_empty());
        assert!(rules(&name, Value::str("äöü")).is_empty());
        assert_eq!(rules(&name, Value::str("abcd")), ["(4 characters) must be 1-3 characters long"]);
        assert_eq!(rules(&name, Value::str("")), ["(empty) must be 1-3 characters long"]);
        let max = m(r#"{"shape": "D", "type": "string", "maxLength": 1024}"#);
        assert!(rules(&max, Value::str("x".repeat(1024))).is_empty());
        assert_eq!(
            rules(&max, Value::str("x".repeat(1025))),
            ["(1025 characters) must be at most 1024 characters long"]
        );
    }

    #[test]
    fn a_pattern_must_match_the_whole_value() {
        let p = m(r#"{"shape": "Permissions", "type": "string", "pattern": "^[0-7]{3,4}$"}"#);
        assert!(rules(&p, Value::str("755")).is_empty());
        assert!(rules(&p, Value::str("0750")).is_empty());
        assert_eq!(rules(&p, Value::str("799")), ["`799` must match the pattern `^[0-7]{3,4}$`"]);
        // Unanchored in the model, whole-value in AWS.
        let name = m(r#"{"shape": "LogGroupName", "type": "string", "pattern": "[\\.\\-_/#A-Za-z0-9]+"}"#);
        assert!(rules(&name, Value::str("/ecs/app_1.log#2")).is_empty());
        assert_eq!(rules(&name, Value::str("app:latest")).len(), 1);
        // An alternation is anchored as a whole.
        let either = m(r#"{"shape": "E", "type": "string", "pattern": "a|bc"}"#);
        assert!(rules(&either, Value::str("bc")).is_empty());
        assert_eq!(rules(&either, Value::str("abc")).len(), 1);
    }

    #[test]
    fn an_enum_names_the_values_and_the_nearest() {
        let e = m(r#"{"shape": "Tier", "type": "string", "enum": ["Standard", "Advanced"]}"#);
        assert!(rules(&e, Value::str("Advanced")).is_empty());
        let b = e.check(&Value::str("Advancd"));
        assert_eq!(b[0].rule, "must be one of Standard, Advanced");
        assert_eq!(b[0].help.as_deref(), Some("did you mean `Advanced`?"));
    }

    #[test]
    fn a_list_counts_items_but_an_empty_list_is_none() {
        let l = m(r#"{"shape": "L", "type": "list", "minItems": 2, "maxItems": 5,
                      "items": {"shape": "S", "type": "string", "maxLength": 3}}"#);
        let list = |n: usize| Value::List(vec![Value::str("a"); n]);
        assert!(rules(&l, list(5)).is_empty());
        assert!(rules(&l, list(2)).is_empty());
        assert!(rules(&l, list(0)).is_empty());
        assert_eq!(rules(&l, list(6)), ["(6 items) takes 2-5 items"]);
        assert_eq!(rules(&l, list(1)), ["(1 item) takes 2-5 items"]);
        let item = l.item().unwrap();
        assert_eq!(rules(&item, Value::str("abcd")), ["(4 characters) must be at most 3 characters long"]);
        // A scalar member: each item of a list property is sent as it.
        let scalar = m(r#"{"shape": "S", "type": "string", "maxLength": 3}"#);
        assert_eq!(scalar.item().unwrap().shape.shape, "S");
    }

    #[test]
    fn values_of_another_type_are_not_this_check_s_business() {
        let port = m(r#"{"shape": "Port", "type": "integer", "minimum": 1}"#);
        assert!(rules(&port, Value::str("0")).is_empty());
        assert!(rules(&port, Value::Unknown).is_empty());
    }

    #[test]
    fn members_are_named_as_aws_documents_them() {
        let d = |name: &'static str| Member { name, shape: shape(r#"{"shape": "X", "type": "string"}"#) }.display();
        assert_eq!(d("elbv2:CreateTargetGroupInput.Port"), "CreateTargetGroup Port");
        assert_eq!(d("ssm:PutParameterRequest.Name"), "PutParameter Name");
        assert_eq!(d("ecs:HealthCheck.interval"), "HealthCheck interval");
    }
}
