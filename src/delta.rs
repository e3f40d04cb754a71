//! Structural differences between two values of a property, shaped by its schema: maps key by
//! key, lists of objects matched by their key fields (a container's `name`, a route's
//! `destination`, a rule's identity), other lists as sets or by position. What a plan and a
//! drift report show instead of two whole values. Pure: no I/O.

use crate::schema::{Prop, Ty};
use crate::value::{Props, Value};

/// How a value is compared: its type (none: a kind this build does not know, compared by the
/// values' own shape), and for a list, what identifies its items and whether order counts.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    ty: Option<&'static Ty>,
    key: &'static [&'static str],
    unordered: bool,
}

/// Policy statements are told apart by their `Sid` where every statement has one.
const DOC_KEY: &[&str] = &["Sid"];

impl Shape {
    /// The shape of a property (or an object's field) as its schema declares it.
    pub fn of(p: &'static Prop) -> Shape {
        Shape { ty: Some(&p.ty), key: p.key, unordered: p.unordered }
    }
    /// The shape of property `name` of kind `kind` (any shape where the catalog has neither).
    pub fn of_property(kinds: &dyn crate::spec::Catalog, kind: &str, name: &str) -> Shape {
        kinds.spec(kind).and_then(|k| k.schema().prop(name)).map_or(Shape::ANY, Shape::of)
    }
    /// No schema: maps by key, lists by position.
    pub const ANY: Shape = Shape { ty: None, key: &[], unordered: false };
    const DOC: Shape = Shape { ty: Some(&Ty::Doc), key: DOC_KEY, unordered: false };

    /// A free-form document (a policy): shown as JSON.
    pub fn is_doc(&self) -> bool {
        matches!(self.ty, Some(Ty::Doc))
    }
    /// An object of the schema: its entries are properties.
    pub fn is_object(&self) -> bool {
        matches!(self.ty, Some(Ty::Obj(_)))
    }
    /// The shape of the entry `name` of a map of this shape.
    pub fn field(&self, name: &str) -> Shape {
        match self.ty {
            Some(Ty::Obj(fields)) => fields.iter().find(|f| f.name == name).map_or(Shape::ANY, Shape::of),
            Some(Ty::StrMap) => Shape { ty: Some(&Ty::Str), key: &[], unordered: false },
            Some(Ty::Doc) => Shape::DOC,
            _ => Shape::ANY,
        }
    }
    /// The shape of the items of a list of this shape.
    pub fn item(&self) -> Shape {
        match self.ty {
            Some(Ty::List(t)) => Shape { ty: Some(t), key: &[], unordered: false },
            Some(Ty::Doc) => Shape::DOC,
            _ => Shape::ANY,
        }
    }
    /// The fields that identify an item of this list (empty: none).
    pub fn key(&self) -> &'static [&'static str] {
        self.key
    }
}

/// What became of a value.
#[derive(Clone, Debug, PartialEq)]
pub enum Delta {
    Same(Value),
    Added(Value),
    Removed(Value),
    /// Replaced as a whole: a scalar, or values of different shapes (a list and "known after
    /// apply").
    Changed(Value, Value),
    /// Both maps: every key of either, in key order.
    Map(Vec<(String, Delta)>),
    /// Both lists: items matched by key, as a set, or by position.
    List(Vec<Delta>),
}

impl Delta {
    pub fn is_same(&self) -> bool {
        matches!(self, Delta::Same(_))
    }
    /// The value before (none: added).
    pub fn before(&self) -> Option<Value> {
        self.side(true)
    }
    /// The value after (none: removed).
    pub fn after(&self) -> Option<Value> {
        self.side(false)
    }
    fn side(&self, before: bool) -> Option<Value> {
        match self {
            Delta::Same(v) => Some(v.clone()),
            Delta::Added(v) => (!before).then(|| v.clone()),
            Delta::Removed(v) => before.then(|| v.clone()),
            Delta::Changed(b, a) => Some(if before { b } else { a }.clone()),
            Delta::Map(e) => {
                Some(Value::Map(e.iter().filter_map(|(k, d)| Some((k.clone(), d.side(before)?))).collect()))
            }
            Delta::List(items) => Some(Value::List(items.iter().filter_map(|d| d.side(before)).collect())),
        }
    }
}

/// The JSON (and plan file) marker of a value kept from view, as `{"$known_after_apply": true}`
/// is of an unknown one.
pub const SENSITIVE_MARKER: &str = "$sensitive";

/// A value kept from view. `changed`: a value that differs from the one beside it (shown as
/// a change even though neither side is shown).
pub fn sensitive(changed: bool) -> Value {
    Value::Map([(SENSITIVE_MARKER.to_owned(), Value::Bool(changed))].into_iter().collect())
}

pub fn is_sensitive(v: &Value) -> bool {
    matches!(v, Value::Map(m) if m.len() == 1 && m.contains_key(SENSITIVE_MARKER))
}

/// A value with every text that contains one of `secrets` kept from view.
pub fn mask(v: &Value, secrets: &[String]) -> Value {
    match v {
        Value::Str(s) if secrets.iter().any(|x| !x.is_empty() && s.contains(x.as_str())) => sensitive(false),
        Value::List(l) => Value::List(l.iter().map(|i| mask(i, secrets)).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, i)| (k.clone(), mask(i, secrets))).collect()),
        other => other.clone(),
    }
}

/// `before` as it may be shown beside `after` (already masked) when the property holds a
/// secret: what equals the value beside it is shown (or kept from view) as that one is; every
/// other leaf is kept from view, since it may be an earlier secret.
pub fn mask_before(before: &Value, after: &Value) -> Value {
    match (before, after) {
        (b, a) if b == a => a.clone(),
        (Value::Map(b), Value::Map(a)) if !is_sensitive(after) => Value::Map(
            b.iter()
                .map(|(k, v)| (k.clone(), a.get(k).map_or_else(|| sensitive(true), |a| mask_before(v, a))))
                .collect(),
        ),
        (Value::List(b), Value::List(a)) if b.len() == a.len() => {
            Value::List(b.iter().zip(a).map(|(b, a)| mask_before(b, a)).collect())
        }
        (Value::List(b), Value::List(a)) => {
            Value::List(b.iter().map(|b| if a.contains(b) { b.clone() } else { sensitive(true) }).collect())
        }
        _ => sensitive(true),
    }
}

/// The identity of a list item: the values of its key fields.
pub fn key_of(item: &Value, key: &[&str]) -> Option<Vec<String>> {
    let m = item.as_map()?;
    if key.is_empty() {
        return None;
    }
    Some(key.iter().map(|k| m.get(*k).map_or_else(String::new, Value::to_string)).collect())
}

/// The difference between `before` and `after`, which have `shape`.
pub fn diff(before: &Value, after: &Value, shape: Shape) -> Delta {
    if before.same(after) {
        return Delta::Same(after.clone());
    }
    if is_sensitive(before) || is_sensitive(after) {
        return Delta::Changed(before.clone(), after.clone());
    }
    match (before, after) {
        (Value::Map(b), Value::Map(a)) => Delta::Map(diff_maps(b, a, shape)),
        (Value::List(b), Value::List(a)) => Delta::List(diff_lists(b, a, shape)),
        _ => Delta::Changed(before.clone(), after.clone()),
    }
}

fn diff_maps(b: &Props, a: &Props, shape: Shape) -> Vec<(String, Delta)> {
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            let d = match (b.get(k), a.get(k)) {
                (Some(x), Some(y)) => diff(x, y, shape.field(k)),
                (Some(x), None) => Delta::Removed(x.clone()),
                (None, Some(y)) => Delta::Added(y.clone()),
                (None, None) => unreachable!("a key of one of the maps"),
            };
            (k.clone(), d)
        })
        .collect()
}

fn diff_lists(b: &[Value], a: &[Value], shape: Shape) -> Vec<Delta> {
    let key = shape.key();
    let keyed = |l: &[Value]| l.iter().map(|v| key_of(v, key)).collect::<Option<Vec<_>>>();
    if let (Some(kb), Some(ka)) = (keyed(b), keyed(a)) {
        let unique = |k: &[Vec<String>]| {
            let mut s = k.to_vec();
            s.sort();
            s.dedup();
            s.len() == k.len()
        };
        if unique(&kb) && unique(&ka) {
            return by_key(b, &kb, a, &ka, shape.item());
        }
    }
    if shape.unordered {
        let mut out: Vec<Delta> = b
            .iter()
            .map(|x| if a.iter().any(|y| x.same(y)) { Delta::Same(x.clone()) } else { Delta::Removed(x.clone()) })
            .collect();
        out.extend(a.iter().filter(|y| !b.iter().any(|x| x.same(y))).map(|y| Delta::Added(y.clone())));
        return out;
    }
    if b.len() == a.len() {
        return b.iter().zip(a).map(|(x, y)| diff(x, y, shape.item())).collect();
    }
    in_order(b, a)
}

/// Items matched by key, in the order of `after` with the removed ones where they stood.
fn by_key(b: &[Value], kb: &[Vec<String>], a: &[Value], ka: &[Vec<String>], item: Shape) -> Vec<Delta> {
    let mut out = Vec::new();
    for (x, k) in b.iter().zip(kb) {
        if !ka.contains(k) {
            out.push(Delta::Removed(x.clone()));
        }
    }
    for (y, k) in a.iter().zip(ka) {
        out.push(match kb.iter().position(|x| x == k) {
            Some(i) => diff(&b[i], y, item),
            None => Delta::Added(y.clone()),
        });
    }
    out
}

/// An ordered list whose length changed: the longest common subsequence kept, the rest removed
/// or added where it stands.
fn in_order(b: &[Value], a: &[Value]) -> Vec<Delta> {
    let (n, m) = (b.len(), a.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if b[i].same(&a[j]) { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && b[i].same(&a[j]) {
            out.push(Delta::Same(a[j].clone()));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(Delta::Added(a[j].clone()));
            j += 1;
        } else {
            out.push(Delta::Removed(b[i].clone()));
            i += 1;
        }
    }
    out
}

/// One changed leaf of a delta: where (`.field`, `["item key"]`), the value before and after
/// (none: absent), and whether it is a list item added or removed as a whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub item: bool,
}

/// The changed leaves of a delta, in order: for a table, where nesting has no room.
pub fn leaves(d: &Delta, shape: Shape) -> Vec<Leaf> {
    let mut out = Vec::new();
    walk(d, shape, String::new(), false, &mut out);
    out
}

fn walk(d: &Delta, shape: Shape, path: String, item: bool, out: &mut Vec<Leaf>) {
    let leaf = |before: Option<&Value>, after: Option<&Value>| Leaf {
        path: path.clone(),
        before: before.cloned(),
        after: after.cloned(),
        item,
    };
    match d {
        Delta::Same(_) => {}
        Delta::Added(v) => out.push(leaf(None, Some(v))),
        Delta::Removed(v) => out.push(leaf(Some(v), None)),
        Delta::Changed(x, y) => out.push(leaf(Some(x), Some(y))),
        Delta::Map(entries) => {
            for (k, d) in entries {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                walk(d, shape.field(k), p, false, out);
            }
        }
        Delta::List(items) => {
            let key = shape.key();
            for d in items {
                let label = d.after().or_else(|| d.before()).and_then(|v| item_label(&v, key));
                match (label, d) {
                    (Some(l), Delta::Map(_) | Delta::Changed(..)) => {
                        walk(d, shape.item(), format!("{path}[{l}]"), false, out)
                    }
                    _ => walk(d, shape.item(), path.clone(), true, out),
                }
            }
        }
    }
}

/// How a list item is named where its key identifies it: `"upload-service"` for one key field,
/// `protocol = "tcp", from_port = 8000, ...` (the fields it has) for several.
pub fn item_label(item: &Value, key: &[&str]) -> Option<String> {
    let m = item.as_map()?;
    match key {
        [] => None,
        [one] => m.get(*one).map(Value::to_string),
        many => Some(
            many.iter()
                .filter_map(|k| m.get(*k).filter(|v| !v.is_null()).map(|v| format!("{k} = {v}")))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ITEM: Ty =
        Ty::Obj(&[Prop::new("name", Ty::Str, ""), Prop::new("image", Ty::Str, ""), Prop::new("env", Ty::StrMap, "")]);
    static LIST: Prop = Prop::new("containers", Ty::List(&ITEM), "").keyed(&["name"]);
    static SET: Prop = Prop::new("subnets", Ty::List(&Ty::Str), "").unordered();
    static ORDERED: Prop = Prop::new("command", Ty::List(&Ty::Str), "");

    fn v(j: serde_json::Value) -> Value {
        Value::from(&j)
    }

    fn check(prop: &'static Prop, before: serde_json::Value, after: serde_json::Value, expect: &[(&str, &str)]) {
        let d = diff(&v(before), &v(after), Shape::of(prop));
        let got: Vec<(String, String)> = leaves(&d, Shape::of(prop))
            .into_iter()
            .map(|l| {
                let show = |x: &Option<Value>| x.as_ref().map_or("(absent)".to_owned(), Value::to_string);
                (l.path, format!("{} -> {}{}", show(&l.before), show(&l.after), if l.item { " (item)" } else { "" }))
            })
            .collect();
        let expect: Vec<(String, String)> = expect.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn keyed_items_are_matched_by_key() {
        use serde_json::json;
        let a = json!({"name": "a", "image": "x:1", "env": {"K": "1"}});
        let b = json!({"name": "b", "image": "y:1"});
        check(&LIST, json!([a, b]), json!([b, a]), &[]);
        check(
            &LIST,
            json!([a, b]),
            json!([b, {"name": "a", "image": "x:2", "env": {"K": "1", "L": "2"}}]),
            &[("[\"a\"].env.L", "(absent) -> \"2\""), ("[\"a\"].image", "\"x:1\" -> \"x:2\"")],
        );
        check(&LIST, json!([a]), json!([a, b]), &[("", "(absent) -> {image: \"y:1\", name: \"b\"} (item)")]);
    }

    #[test]
    fn sets_and_ordered_lists() {
        use serde_json::json;
        check(
            &SET,
            json!(["a", "b"]),
            json!(["b", "c"]),
            &[("", "\"a\" -> (absent) (item)"), ("", "(absent) -> \"c\" (item)")],
        );
        check(&ORDERED, json!(["CMD", "a"]), json!(["CMD", "b"]), &[("", "\"a\" -> \"b\" (item)")]);
        check(&ORDERED, json!(["CMD", "a"]), json!(["CMD", "x", "a"]), &[("", "(absent) -> \"x\" (item)")]);
        check(
            &ORDERED,
            json!(["a", "b"]),
            json!(["b", "a"]),
            &[("", "\"a\" -> \"b\" (item)"), ("", "\"b\" -> \"a\" (item)")],
        );
    }

    #[test]
    fn masking_keeps_secrets_and_earlier_values_from_view() {
        use serde_json::json;
        let after = mask(&v(json!({"URL": "pg://u:s3cret@h", "USER": "u"})), &["s3cret".into()]);
        assert_eq!(after, v(json!({"URL": {"$sensitive": false}, "USER": "u"})));
        let before = mask_before(&v(json!({"URL": "pg://u:old@h", "USER": "u", "GONE": "x"})), &after);
        assert_eq!(before, v(json!({"URL": {"$sensitive": true}, "USER": "u", "GONE": {"$sensitive": true}})));
        let d = diff(&before, &after, Shape::ANY);
        assert!(matches!(&d, Delta::Map(e) if e.iter().filter(|(_, d)| !d.is_same()).count() == 2), "{d:?}");
    }
}
