//! Generated from the kinds' own schemas: the JSON Schema of stack files (for editors) and the
//! per-kind reference (`rprov explain KIND`, `docs/kinds/`).

use serde_json::{Value as J, json};

use crate::schema::{Default, OnChange, Prop, Ty};
use crate::spec::constraints::{self, Member};
use crate::spec::{Catalog, KindSpec};

/// Where a reference (`${id.attr}`) may stand in for a value of any type.
fn or_reference(schema: J) -> J {
    json!({ "anyOf": [schema, { "$ref": "#/$defs/reference" }] })
}

fn ty_schema(ty: &Ty, aws: Option<Member>) -> J {
    match ty {
        Ty::Str => {
            let plain = json!({ "type": ["string", "number"] });
            let limited = limit(plain.clone(), aws);
            // A reference (`${...}`) stands for a value the limits cannot see.
            if limited == plain { plain } else { or_reference(limited) }
        }
        Ty::Int => or_reference(limit(json!({ "type": "integer" }), aws)),
        Ty::Num => or_reference(limit(json!({ "type": "number" }), aws)),
        Ty::Bool => or_reference(json!({ "type": "boolean" })),
        Ty::Cidr => json!({ "type": "string", "description": "IPv4 CIDR block, e.g. 10.0.0.0/16" }),
        // rprov's own value set, a subset of the model's (tests/constraints.rs).
        Ty::Enum(values) => or_reference(json!({ "enum": values })),
        Ty::List(item) => {
            or_reference(limit(json!({ "type": "array", "items": ty_schema(item, aws.and_then(|m| m.item())) }), aws))
        }
        Ty::StrMap => or_reference(
            json!({ "type": "object", "additionalProperties": { "type": ["string", "number", "boolean"] } }),
        ),
        Ty::Obj(fields) => or_reference(object(fields.iter(), &[])),
        Ty::Doc => json!({}),
    }
}

/// A schema with the AWS model's limits of the member the value is sent as, as
/// `validate` applies them ([`constraints`]): patterns match the whole value, and a list's
/// minimum does not refuse an empty list.
fn limit(mut schema: J, aws: Option<Member>) -> J {
    let (Some(m), Some(o)) = (aws, schema.as_object_mut()) else { return schema };
    let s = m.shape;
    let is_list = o.get("type").is_some_and(|t| t == "array");
    if o.get("type").is_some_and(|t| t == "integer" || t == "number") {
        if let Some(v) = s.minimum {
            o.insert("minimum".into(), number(v));
        }
        if let Some(v) = s.maximum {
            o.insert("maximum".into(), number(v));
        }
    } else if is_list && s.ty == "list" {
        if let Some(n) = s.min_items.filter(|n| *n > 1) {
            o.insert("not".into(), json!({ "minItems": 1, "maxItems": n - 1 }));
        }
        if let Some(n) = s.max_items {
            o.insert("maxItems".into(), json!(n));
        }
    } else if !is_list && s.ty == "string" {
        if let Some(n) = s.min_length {
            o.insert("minLength".into(), json!(n));
        }
        if let Some(n) = s.max_length {
            o.insert("maxLength".into(), json!(n));
        }
        if let Some(p) = &s.pattern {
            o.insert("pattern".into(), J::String(format!("^(?:{p})$")));
        }
        if let Some(v) = &s.values {
            o.insert("enum".into(), json!(v));
        }
    }
    schema
}

/// A model limit as JSON: an integer where it is one.
fn number(v: f64) -> J {
    if v.fract() == 0.0 && v.abs() < 1e15 { json!(v as i64) } else { json!(v) }
}

fn prop_schema(p: &Prop) -> J {
    let mut s = ty_schema(&p.ty, constraints::of(p));
    if let Some(obj) = s.as_object_mut() {
        obj.insert("description".into(), J::String(p.doc.to_owned()));
    }
    s
}

fn object<'a>(fields: impl Iterator<Item = &'a Prop>, extra: &[(&str, J)]) -> J {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for p in fields {
        props.insert(p.name.to_owned(), prop_schema(p));
        if p.required && p.default.is_none() {
            required.push(p.name);
        }
    }
    for (k, v) in extra {
        props.insert((*k).to_owned(), v.clone());
        if *k == "type" {
            required.insert(0, "type");
        }
    }
    json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
}

fn kind_schema(k: &dyn KindSpec) -> J {
    let s = k.schema();
    let ids = json!({ "type": "array", "items": { "type": "string" } });
    let mut extra = vec![("type", json!({ "const": s.name })), ("depends_on", ids.clone()), ("ignore_drift", ids)];
    if k.finds_occupants() {
        extra.push((
            "adopt",
            json!({ "type": "boolean", "description": "Take over an existing resource of this identity that rprov did not create (otherwise a conflict: apply refuses)." }),
        ));
    }
    let mut o = object(s.all_props(), &extra);
    o["description"] = J::String(s.doc.to_owned());
    o
}

/// The JSON Schema (2020-12) of a stack file.
pub fn json_schema(catalog: &dyn Catalog) -> J {
    let kinds: Vec<J> = catalog.specs().into_iter().map(kind_schema).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://rprov.dev/schema/stack.schema.json",
        "title": "rprov stack",
        "type": "object",
        "required": ["stack", "region", "resources"],
        "additionalProperties": false,
        "properties": {
            "stack": { "type": "string", "pattern": "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", "description": "The stack's name; tagged on every resource as rprov:stack." },
            "region": { "type": "string", "pattern": "^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$", "description": "Where the stack lives; a different --region is refused, AWS_REGION and the profile's region are ignored." },
            "allowed_account_ids": { "type": "array", "items": { "type": "string", "pattern": "^[0-9]{12}$" }, "minItems": 1, "description": "The only AWS accounts the stack may be applied in (checked with STS before anything else)." },
            "forbidden_account_ids": { "type": "array", "items": { "type": "string", "pattern": "^[0-9]{12}$" }, "minItems": 1, "description": "AWS accounts the stack must never be applied in." },
            "tags": { "type": "object", "additionalProperties": { "type": ["string", "number", "boolean"] }, "description": "Added to every taggable resource." },
            "params": {
                "type": "object",
                "additionalProperties": {
                    "anyOf": [
                        { "type": ["string", "number", "boolean", "array"] },
                        {
                            "type": "object",
                            "properties": {
                                "default": {},
                                "type": { "enum": ["string", "number", "bool", "list"] },
                                "secret": { "type": "boolean" },
                                "description": { "type": "string" }
                            },
                            "additionalProperties": false
                        }
                    ]
                }
            },
            "imports": {
                "type": "object",
                "description": "Other stacks whose outputs this one reads as ${ALIAS.outputs.NAME}, from their state.",
                "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$", "not": { "const": "params" } },
                "additionalProperties": {
                    "anyOf": [
                        { "type": "string", "pattern": "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$" },
                        {
                            "type": "object",
                            "required": ["stack"],
                            "properties": {
                                "stack": { "type": "string", "pattern": "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", "description": "The exporting stack's name." },
                                "state": { "type": "string", "description": "Its state's location; default: beside this stack's state, <stack>.json." }
                            },
                            "additionalProperties": false
                        }
                    ]
                }
            },
            "resources": {
                "type": "object",
                "propertyNames": { "pattern": "^[a-z][a-z0-9_-]*$" },
                "additionalProperties": { "oneOf": kinds }
            },
            "outputs": { "type": "object" },
            "backend": {
                "type": "object",
                "description": "Where the stack's state lives when --state / RPROV_STATE do not say (default: the local file .rprov/<stack>.json).",
                "additionalProperties": false,
                "properties": {
                    "s3": {
                        "type": "object",
                        "required": ["bucket", "key"],
                        "additionalProperties": false,
                        "properties": {
                            "bucket": { "type": "string", "pattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "description": "A bucket with versioning on (refused otherwise unless --allow-unversioned)." },
                            "key": { "type": "string", "minLength": 1, "pattern": "^[^/]", "description": "The state object's key, or a prefix ending in '/' (state at PREFIX<stack>.json)." },
                            "region": { "type": "string", "pattern": "^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$", "description": "The bucket's region (default: the AWS configuration's, else the stack's)." },
                            "kms_key_id": { "type": "string", "description": "Encrypt with SSE-KMS under this key (default: SSE-S3, AES256)." }
                        }
                    }
                }
            }
        },
        "$defs": {
            "reference": { "type": "string", "pattern": "\\$\\{[^}]+\\}", "description": "A reference: ${ID.ATTRIBUTE}, ${params.NAME} or ${IMPORT.outputs.NAME}" }
        }
    })
}

fn default_text(d: Default) -> String {
    match d {
        Default::Bool(b) => b.to_string(),
        Default::Int(i) => i.to_string(),
        Default::Str(s) => format!("`{s}`"),
        Default::EmptyList => "`[]`".into(),
        Default::EmptyMap => "`{}`".into(),
    }
}

fn prop_rows(out: &mut String, prefix: &str, props: &[&Prop]) {
    for p in props {
        let name = format!("{prefix}{}", p.name);
        let default =
            p.default.map(default_text).unwrap_or_else(|| if p.required { "required".into() } else { "—".into() });
        let change = if p.on_change == OnChange::Replace { "replaces" } else { "in place" };
        let mut notes: Vec<String> = Vec::new();
        if p.secret {
            notes.push("secret: never printed, state keeps a digest".into());
        }
        if !p.key.is_empty() {
            let key: Vec<String> = p.key.iter().map(|k| format!("`{k}`")).collect();
            notes.push(format!("items identified by {}; order does not matter", key.join(", ")));
        } else if p.unordered {
            notes.push("order does not matter".into());
        }
        let doc = if notes.is_empty() { p.doc.to_owned() } else { format!("{} ({})", p.doc, notes.join("; ")) };
        let aws = aws_cell(p);
        out.push_str(&format!("| `{name}` | {} | {default} | {change} | {aws} | {doc} |\n", p.ty.describe()));
        let nested = match p.ty {
            Ty::Obj(fields) => Some(fields),
            Ty::List(Ty::Obj(fields)) => Some(*fields),
            _ => None,
        };
        if let Some(fields) = nested {
            let nested: Vec<&Prop> = fields.iter().collect();
            let sep = if matches!(p.ty, Ty::List(_)) { "[]." } else { "." };
            prop_rows(out, &format!("{name}{sep}"), &nested);
        }
    }
}

/// The AWS model member a property is sent as and what the model allows of it, for a table
/// cell: `CreateTargetGroup Port: 1-65535`. Values rprov's own type already lists are not
/// repeated.
fn aws_cell(p: &Prop) -> String {
    let Some(member) = p.aws else { return "—".into() };
    let limits = match constraints::member(member) {
        Some(m) => m.limits().into_iter().filter(|l| !(matches!(p.ty, Ty::Enum(_)) && l.contains("one of"))).collect(),
        None => Vec::new(),
    };
    let name = constraints::member(member).map_or_else(|| member.to_owned(), |m| m.display());
    let text = if limits.is_empty() { format!("`{name}`") } else { format!("`{name}`: {}", limits.join("; ")) };
    // A `|` (in a pattern) would end the cell.
    text.replace('|', "\\|")
}

/// The reference of one kind, in Markdown.
pub fn explain(k: &dyn KindSpec) -> String {
    let s = k.schema();
    let mut out = format!("# `{}`\n\n{}\n\n## Properties\n\n", s.name, s.doc);
    out.push_str(
        "| property | type | default | on change | AWS (member: limits) | description |\n|---|---|---|---|---|---|\n",
    );
    let props: Vec<&Prop> = s.all_props().collect();
    prop_rows(&mut out, "", &props);
    out.push_str("\n## Attributes\n\nReferenced as `${ID.ATTRIBUTE}`.\n\n| attribute | description |\n|---|---|\n");
    for a in s.attrs {
        let list = if a.list { " (a list)" } else { "" };
        out.push_str(&format!("| `{}` | {}{list} |\n", a.name, a.doc));
    }
    if s.taggable {
        out.push_str("\nTagged with `rprov:stack`, `rprov:id`, `rprov:lineage` and the stack's tags.\n");
    }
    if k.finds_occupants() {
        out.push_str(
            "\n`adopt: true` on the resource takes over an existing one of the same identity that rprov did not \
             create; without it, such a resource is a conflict that `plan` shows and `apply` refuses.\n",
        );
    }
    out
}

/// `docs/kinds/README.md`: the index of kinds.
pub fn kinds_index(catalog: &dyn Catalog) -> String {
    let mut out = String::from(
        "# Resource kinds\n\nGenerated by `rprov explain`; do not edit by hand.\n\n| kind | what it is |\n|---|---|\n",
    );
    for k in catalog.specs() {
        let s = k.schema();
        out.push_str(&format!("| [`{}`]({}.md) | {} |\n", s.name, s.name, s.doc));
    }
    out
}
