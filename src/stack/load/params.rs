//! `params:`: declarations, their types, the values given (`--param`, `RPROV_PARAM_*`, a param
//! file, the default, in that order), and the rules of secret params.

use indexmap::IndexMap;

use super::{Diags, Inputs, node_value};
use crate::stack::Param;
use crate::stack::diag::{Source, Span, did_you_mean};
use crate::stack::yaml::{Node, NodeKind, key_text};
use crate::value::Value;

const PARAM_KEYS: &[&str] = &["default", "type", "secret", "description"];
const PARAM_TYPES: &[&str] = &["string", "number", "bool", "list"];

/// The params read, and those declared but refused: references to a refused one are not
/// reported again.
#[derive(Default)]
pub(super) struct Params {
    pub(super) values: IndexMap<String, Param>,
    pub(super) failed: Vec<String>,
}

/// `params:` with the values `inputs` give, and the param file (`file`, parsed); names given but
/// not declared are reported.
pub(super) fn read(d: &mut Diags, inputs: &Inputs, node: Option<&Node>, file: Option<(&Source, &Node)>) -> Params {
    let mut params = Params::default();
    let overrides = &inputs.params;
    let file_entries: &[(Node, Node)] = match file {
        Some((_, Node { kind: NodeKind::Map(m), .. })) => m,
        Some((src, n)) => {
            let got = n.type_name();
            d.err_in(src, n.span, format!("a param file must be a mapping of param names to values, found {got}"));
            &[]
        }
        None => &[],
    };
    if let Some(node) = node
        && let Some(entries) = d.mapping(node, "`params`")
    {
        for (k, v) in entries {
            let name = key_text(k);
            if !crate::stack::expr::is_ident(&name) {
                d.err(k.span, format!("invalid param name `{name}`: expected letters, digits, '_' and '-'"));
                continue;
            }
            let from_file = file_entries.iter().find(|(fk, _)| key_text(fk) == name).map(|(_, fv)| fv);
            let from_file = file.zip(from_file).map(|((src, _), fv)| (src, fv));
            match param(d, inputs, &name, k, v, from_file) {
                Some(p) => {
                    if p.secret {
                        d.secrets.insert(name.clone(), p.clone());
                    }
                    params.values.insert(name, p);
                }
                None => params.failed.push(name),
            }
        }
    }
    for name in overrides.keys() {
        if !params.values.contains_key(name) && !d.list.iter().any(|d| d.message.contains(&format!("`{name}`"))) {
            let help = did_you_mean(name, params.values.keys().map(String::as_str));
            let span = node.map(|n| n.span).unwrap_or(Span::start());
            d.err(
                span,
                format!(
                    "unknown param `{name}` given on the command line or in RPROV_PARAM_{name}; the stack declares: {}",
                    params.values.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
            .help = help;
        }
    }
    if let Some((src, _)) = file {
        for (k, _) in file_entries {
            let name = key_text(k);
            if !params.values.contains_key(&name) && !params.failed.contains(&name) {
                let help = did_you_mean(&name, params.values.keys().map(String::as_str));
                let declared = params.values.keys().cloned().collect::<Vec<_>>().join(", ");
                d.err_in(
                    src,
                    k.span,
                    format!("unknown param `{name}` in the param file; the stack declares: {declared}"),
                )
                .help = help;
            }
        }
    }
    params
}

/// `--param`/`RPROV_PARAM_` text first, then the param file's value, then the default.
fn param(
    d: &mut Diags,
    inputs: &Inputs,
    name: &str,
    key: &Node,
    v: &Node,
    from_file: Option<(&Source, &Node)>,
) -> Option<Param> {
    let (mut default, mut ty, mut secret, mut description) = (None, None, false, None);
    match &v.kind {
        NodeKind::Map(m) => {
            for (pk, pv) in m {
                match key_text(pk).as_str() {
                    "default" => default = Some(pv),
                    "type" => {
                        let t = d.string(pv, "param `type`")?;
                        if !PARAM_TYPES.contains(&t.as_str()) {
                            d.err(
                                pv.span,
                                format!("unknown param type `{t}`; expected one of: {}", PARAM_TYPES.join(", ")),
                            );
                            return None;
                        }
                        ty = Some(t);
                    }
                    "secret" => match pv.kind {
                        NodeKind::Bool(b) => secret = b,
                        _ => {
                            d.err(pv.span, "param `secret` must be true or false");
                        }
                    },
                    "description" => description = d.string(pv, "param `description`"),
                    other => {
                        let help = did_you_mean(other, PARAM_KEYS.iter().copied());
                        d.err(
                            pk.span,
                            format!(
                                "unknown key `{other}` in param `{name}`; expected one of: {}",
                                PARAM_KEYS.join(", ")
                            ),
                        )
                        .help = help;
                    }
                }
            }
        }
        // `name: value` is shorthand for `name: { default: value }`.
        _ => default = Some(v),
    }
    if secret && let Some(default) = default {
        d.secret_spans.push(default.span);
        d.err(default.span, format!("secret param `{name}` cannot have a default: a value written in the stack file is known to everyone who can read it")).help = Some(format!(
            "remove `default:` and give the value at run time: --param {name}=VALUE, RPROV_PARAM_{name}, or a --param-file kept out of version control; or let AWS hold a random one: an ssm_parameter with `generate: true`"
        ));
        return None;
    }
    let ty = ty.unwrap_or_else(|| match default.map(|d| &d.kind) {
        Some(NodeKind::Int(_) | NodeKind::Num(_)) => "number".into(),
        Some(NodeKind::Bool(_)) => "bool".into(),
        Some(NodeKind::Seq(_)) => "list".into(),
        _ => "string".into(),
    });
    let value = match (inputs.params.get(name), from_file, default) {
        (Some(text), _, _) => match param_from_text(text, &ty) {
            Some(v) => v,
            None => {
                d.err(
                    key.span,
                    format!(
                        "param `{name}` is a {ty}; the value given (`{}`) is not",
                        if secret { "***" } else { text }
                    ),
                );
                return None;
            }
        },
        (None, Some((src, n)), _) => match typed_param(n, &ty) {
            Some(v) => v,
            None => {
                let got = n.type_name();
                d.err_in(src, n.span, format!("param `{name}` must be a {ty}, found {got}"));
                return None;
            }
        },
        (None, None, Some(default)) => match typed_param(default, &ty) {
            Some(v) => v,
            None => {
                let got = default.type_name();
                d.err(default.span, format!("default of param `{name}` must be a {ty}, found {got}"));
                return None;
            }
        },
        (None, None, None) if secret && inputs.secrets_optional => Value::Unknown,
        (None, None, None) => {
            d.err(key.span, format!("param `{name}` has no default and no value was given")).help =
                Some(format!("pass --param {name}=VALUE, set RPROV_PARAM_{name} or give it in a --param-file"));
            return None;
        }
    };
    Some(Param { name: name.to_owned(), value, secret, description })
}

/// A param's value written in YAML (a default, a param file's entry), if it is of the param's type.
fn typed_param(n: &Node, ty: &str) -> Option<Value> {
    let value = node_value(n);
    let fits = matches!(
        (ty, &value),
        ("string", Value::Str(_) | Value::Int(_) | Value::Num(_))
            | ("bool", Value::Bool(_))
            | ("list", Value::List(_))
            | ("number", Value::Int(_) | Value::Num(_))
    );
    fits.then_some(match value {
        Value::Int(i) if ty == "string" => Value::Str(i.to_string()),
        Value::Num(n) if ty == "string" => Value::Str(n.to_string()),
        v => v,
    })
}

fn param_from_text(text: &str, ty: &str) -> Option<Value> {
    match ty {
        "string" => Some(Value::str(text)),
        "number" => text
            .parse::<i64>()
            .map(Value::Int)
            .ok()
            .or_else(|| text.parse::<f64>().ok().filter(|f| f.is_finite()).map(Value::Num)),
        "bool" => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        "list" => Some(Value::List(
            text.split(',').map(|s| Value::str(s.trim())).filter(|v| v.as_str() != Some("")).collect(),
        )),
        _ => None,
    }
}
