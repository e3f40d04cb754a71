//! Node tree -> [`Stack`], collecting every diagnostic rather than stopping at the first.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::diag::{Diagnostic, Source, Span, did_you_mean};
use super::expr::{Expr, ExprMap, parse_template};
use super::yaml::{self, Node, NodeKind, key_text};
use super::{Import, Param, Resource, Stack, check};
use crate::kinds;
use crate::schema::{Prop, Ty};
use crate::value::Value;

/// Values for params given on the command line or in the environment, by name.
pub type ParamOverrides = BTreeMap<String, String>;

/// What a stack is loaded with besides its own text.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// `--param` and `RPROV_PARAM_*` values by name (text, typed by the param's type).
    pub params: ParamOverrides,
    /// A `--param-file` (YAML or JSON mapping of name to typed value); below `params`.
    pub param_file: Option<Source>,
    /// The imported stacks' outputs, by import alias. An alias not here is left unresolved
    /// (`${net.outputs.x}` stays a reference) and its names are not checked.
    pub imports: BTreeMap<String, Imported>,
    /// A secret param given no value is "known after apply" instead of an error: for commands
    /// that never send the stack's values (validate, drift, destroy, output, graph).
    pub secrets_optional: bool,
}

/// What is known of an imported stack when loading.
#[derive(Clone, Debug)]
pub enum Imported {
    /// It has no state at `location` (never applied, or destroyed).
    Missing { location: String },
    /// The names of its outputs only: they are checked, references stay unresolved (validate).
    Declared { location: String, names: Vec<String> },
    /// Its recorded outputs: references become these values.
    Read { location: String, outputs: BTreeMap<String, Value> },
}

const TOP_KEYS: &[&str] = &[
    "stack",
    "region",
    "allowed_account_ids",
    "forbidden_account_ids",
    "tags",
    "params",
    "imports",
    "resources",
    "outputs",
    "backend",
];
const IMPORT_KEYS: &[&str] = &["stack", "state"];
const S3_BACKEND_KEYS: &[&str] = &["bucket", "key", "region", "kms_key_id"];
const RESOURCE_KEYS: &[&str] = &["type", "depends_on", "ignore_drift", "adopt"];
const PARAM_KEYS: &[&str] = &["default", "type", "secret", "description"];
const PARAM_TYPES: &[&str] = &["string", "number", "bool", "list"];

/// Reads and validates a stack file with params given by name.
pub fn load(path: &std::path::Path, params: &ParamOverrides) -> Result<Stack, (Option<Source>, Vec<Diagnostic>)> {
    load_file(path, &Inputs { params: params.clone(), ..Inputs::default() })
}

/// Reads and validates a stack file.
pub fn load_file(path: &std::path::Path, inputs: &Inputs) -> Result<Stack, (Option<Source>, Vec<Diagnostic>)> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| (None, vec![io_diag(&name, &e)]))?;
    if meta.len() > yaml::MAX_BYTES as u64 {
        let src = Source::new(&name, "");
        return Err((
            None,
            vec![Diagnostic::at(
                &src,
                Span::start(),
                format!("stack file is larger than {} MiB", yaml::MAX_BYTES >> 20),
            )],
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| (None, vec![io_diag(&name, &e)]))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let src = Source::new(&name, "");
        (
            None,
            vec![Diagnostic::at(
                &src,
                Span::start(),
                format!("stack file is not UTF-8 (invalid byte at offset {})", e.utf8_error().valid_up_to()),
            )],
        )
    })?;
    load_with(Source::new(name, text), inputs)
}

fn io_diag(name: &str, e: &std::io::Error) -> Diagnostic {
    let src = Source::new(name, "");
    Diagnostic::at(&src, Span::start(), format!("cannot read stack file: {e}"))
}

pub fn load_str(src: Source, params: &ParamOverrides) -> Result<Stack, (Option<Source>, Vec<Diagnostic>)> {
    load_with(src, &Inputs { params: params.clone(), ..Inputs::default() })
}

pub fn load_with(src: Source, inputs: &Inputs) -> Result<Stack, (Option<Source>, Vec<Diagnostic>)> {
    let root = match yaml::parse(&src) {
        Ok(r) => r,
        Err(d) => return Err((Some(src), d)),
    };
    let file = match &inputs.param_file {
        Some(f) => match yaml::parse(f) {
            Ok(n) => Some((f, n)),
            Err(d) => return Err((Some(src), d)),
        },
        None => None,
    };
    let mut l = Loader {
        src: &src,
        diags: Vec::new(),
        params: IndexMap::new(),
        resource: None,
        declared: Vec::new(),
        failed_params: Vec::new(),
        literal: false,
        failed_param_used: false,
        inputs,
        imports: IndexMap::new(),
        failed_imports: Vec::new(),
        secret_used: false,
        resource_used_failed_param: false,
        secret_spans: Vec::new(),
    };
    let stack = l.stack(&root, file.as_ref().map(|(s, n)| (*s, n)));
    match stack {
        Some(s) if l.diags.is_empty() => Ok(s),
        _ => {
            let (mut d, secret_spans) = (l.diags, l.secret_spans);
            d.sort_by_key(|d| (d.span.offset, d.message.clone()));
            d.dedup();
            Err((Some(masked(src, &secret_spans)), d))
        }
    }
}

/// The source with each span's bytes replaced by `*` (same length: every other span stays put).
fn masked(src: Source, spans: &[Span]) -> Source {
    if spans.is_empty() {
        return src;
    }
    let mut bytes = src.text.clone().into_bytes();
    for s in spans {
        for b in bytes.iter_mut().skip(s.offset).take(s.len) {
            if !b.is_ascii_whitespace() {
                *b = b'*';
            }
        }
    }
    // A multi-byte character cut in the middle turns into replacement characters: still masked.
    let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Source::new(src.name.clone(), text)
}

struct Loader<'a> {
    src: &'a Source,
    diags: Vec<Diagnostic>,
    params: IndexMap<String, Param>,
    /// The resource being read, named in its diagnostics.
    resource: Option<String>,
    /// Ids declared in `resources`, loaded or not: a reference to one that failed to load is
    /// not reported a second time.
    declared: Vec<String>,
    /// Params declared but rejected: references to them are not reported again.
    failed_params: Vec<String>,
    /// Checking a param's value: `${` in it is text, not a reference.
    literal: bool,
    failed_param_used: bool,
    inputs: &'a Inputs,
    imports: IndexMap<String, Import>,
    /// Imports whose stack has no state: already reported at the import.
    failed_imports: Vec<String>,
    /// A secret param's value went into the value being read.
    secret_used: bool,
    /// A param that failed its own checks went into the resource being read: its cross-property
    /// checks would only repeat that failure.
    resource_used_failed_param: bool,
    /// Where the stack file writes a secret (a secret param's refused default): masked in the
    /// source that diagnostics quote.
    secret_spans: Vec<Span>,
}

impl Loader<'_> {
    fn err(&mut self, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
        let msg = self.redact(msg.into());
        let mut d = Diagnostic::at(self.src, span, msg);
        d.resource = self.resource.clone();
        self.diags.push(d);
        self.diags.last_mut().expect("just pushed")
    }

    /// A diagnostic in the param file rather than the stack file.
    fn err_in(&mut self, src: &Source, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
        let msg = self.redact(msg.into());
        self.diags.push(Diagnostic::at(src, span, msg));
        self.diags.last_mut().expect("just pushed")
    }

    fn redact(&self, msg: String) -> String {
        super::redact(&self.params, msg)
    }

    fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            NodeKind::Map(m) => Some(m),
            _ => {
                let got = node.type_name();
                self.err(node.span, format!("{what} must be a mapping, found {got}"));
                None
            }
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Str { text, .. } => Some(text.clone()),
            _ => {
                let got = node.type_name();
                self.err(node.span, format!("{what} must be a string, found {got}"));
                None
            }
        }
    }

    fn stack(&mut self, root: &Node, param_file: Option<(&Source, &Node)>) -> Option<Stack> {
        let top = self.mapping(root, "the stack file")?;
        let mut name = None;
        let mut region = None;
        let mut tags = crate::kinds::Tags::new();
        let mut resources_node = None;
        let mut outputs_node = None;
        let mut params_node = None;
        let mut imports_node = None;
        let mut backend = None;
        let mut accounts = super::AccountGuard::default();
        for (k, v) in top {
            match key_text(k).as_str() {
                "stack" => name = self.stack_name(v),
                "region" => region = self.region(v),
                "allowed_account_ids" => accounts.allowed = self.account_ids(v, "allowed_account_ids"),
                "forbidden_account_ids" => accounts.forbidden = self.account_ids(v, "forbidden_account_ids"),
                "tags" => tags = self.tags(v),
                "params" => params_node = Some(v),
                "imports" => imports_node = Some(v),
                "resources" => resources_node = Some(v),
                "outputs" => outputs_node = Some(v),
                "backend" => backend = self.backend(v),
                other => {
                    let help = did_you_mean(other, TOP_KEYS.iter().copied());
                    let d = self.err(
                        k.span,
                        format!("unknown top-level key `{other}`; expected one of: {}", TOP_KEYS.join(", ")),
                    );
                    d.help = help;
                }
            }
        }
        if name.is_none() && !top.iter().any(|(k, _)| key_text(k) == "stack") {
            self.err(root.span, "missing `stack:` (the stack's name)");
        }
        if region.is_none() && !top.iter().any(|(k, _)| key_text(k) == "region") {
            self.err(root.span, "missing `region:` (e.g. us-east-1)");
        }
        if !accounts.allowed.is_empty()
            && !accounts.forbidden.is_empty()
            && let Some((_, v)) = top.iter().find(|(k, _)| key_text(k) == "forbidden_account_ids")
        {
            self.err(v.span, "`allowed_account_ids` and `forbidden_account_ids` exclude each other: give one").help =
                Some("an allow-list already forbids every account it does not name".into());
        }
        self.params(params_node, param_file);
        if let Some(NodeKind::Map(entries)) = resources_node.map(|n| &n.kind) {
            self.declared = entries.iter().map(|(k, _)| key_text(k)).collect();
        }
        if let Some(node) = imports_node {
            self.imports(node, name.as_deref());
        }
        let mut resources = IndexMap::new();
        match resources_node {
            None => {
                self.err(root.span, "missing `resources:`");
            }
            Some(node) => {
                if let Some(entries) = self.mapping(node, "`resources`") {
                    for (k, v) in entries {
                        if let Some(r) = self.resource(k, v) {
                            resources.insert(r.id.clone(), r);
                        }
                    }
                }
            }
        }
        let mut outputs = IndexMap::new();
        if let Some(node) = outputs_node
            && let Some(entries) = self.mapping(node, "`outputs`")
        {
            for (k, v) in entries {
                self.secret_used = false;
                let e = self.expr(v, &Ty::Doc);
                if self.secret_used {
                    let key = key_text(k);
                    self.err(v.span, format!("output `{key}` uses a secret param: outputs are stored in state in clear and read by importing stacks"));
                    continue;
                }
                if let Some(e) = e {
                    outputs.insert(key_text(k), e);
                }
            }
        }
        self.check_references(&resources, &outputs);
        let stack = Stack {
            name: name?,
            region: region?,
            tags,
            params: std::mem::take(&mut self.params),
            resources,
            outputs,
            imports: std::mem::take(&mut self.imports),
            backend,
            accounts,
            source: self.src.clone(),
            inputs: self.inputs.clone(),
        };
        self.diags.extend(check::network(&stack));
        if self.diags.is_empty()
            && let Err(d) = crate::graph::Graph::build(&stack)
        {
            self.diags.extend(d);
        }
        Some(stack)
    }

    /// `allowed_account_ids` / `forbidden_account_ids`: twelve-digit AWS account ids.
    fn account_ids(&mut self, v: &Node, what: &str) -> Vec<String> {
        let NodeKind::Seq(items) = &v.kind else {
            let got = v.type_name();
            self.err(v.span, format!("`{what}` must be a list of account ids, found {got}"));
            return vec![];
        };
        let mut out = Vec::new();
        for item in items {
            let text = match &item.kind {
                NodeKind::Str { text } => text.clone(),
                // YAML reads an unquoted id as a number, and drops its leading zeros.
                NodeKind::Int(n) if *n >= 0 => format!("{n:012}"),
                _ => String::new(),
            };
            if text.len() != 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
                self.err(item.span, format!("an entry of `{what}` must be a 12-digit AWS account id"));
                continue;
            }
            if matches!(item.kind, NodeKind::Int(n) if n < 100_000_000_000) {
                self.err(
                    item.span,
                    format!("quote account id {text}: YAML reads it as a number and drops its leading zeros"),
                );
                continue;
            }
            out.push(text);
        }
        out
    }

    fn stack_name(&mut self, v: &Node) -> Option<String> {
        let s = self.string(v, "`stack`")?;
        self.stack_name_node(&s, v.span)
    }

    fn stack_name_node(&mut self, s: &str, span: Span) -> Option<String> {
        let ok = (1..=63).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && !s.ends_with('-')
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            self.err(span, format!("invalid stack name `{s}`: expected 1-63 lowercase letters, digits and '-', starting with a letter and not ending with '-'"));
            return None;
        }
        Some(s.to_owned())
    }

    fn region(&mut self, v: &Node) -> Option<String> {
        let s = self.string(v, "`region`")?;
        let parts: Vec<&str> = s.split('-').collect();
        let ok = parts.len() >= 3
            && parts[0].len() == 2
            && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            self.err(v.span, format!("invalid region `{s}`: expected a region name like us-east-1"));
            return None;
        }
        Some(s)
    }

    /// `backend: { s3: { bucket, key, region?, kms_key_id? } }`.
    fn backend(&mut self, v: &Node) -> Option<crate::state::S3Location> {
        let entries = self.mapping(v, "`backend`")?;
        let mut out = None;
        for (k, val) in entries {
            match key_text(k).as_str() {
                "s3" => out = self.s3_backend(val),
                other => {
                    let d = self.err(
                        k.span,
                        format!("unknown state backend `{other}`; expected: s3 (the local file is the default)"),
                    );
                    d.help = did_you_mean(other, ["s3"]);
                }
            }
        }
        if entries.is_empty() {
            self.err(v.span, "`backend` is empty; expected `s3: { bucket, key }`");
        }
        out
    }

    fn s3_backend(&mut self, v: &Node) -> Option<crate::state::S3Location> {
        let entries = self.mapping(v, "`backend.s3`")?;
        let (mut bucket, mut key, mut region, mut kms_key_id) = (None, None, None, None);
        let mut ok = true;
        for (k, val) in entries {
            match key_text(k).as_str() {
                "bucket" => match self.string(val, "`backend.s3.bucket`") {
                    Some(b) => match crate::state::bucket_problem(&b) {
                        Some(problem) => {
                            self.err(val.span, problem);
                            ok = false;
                        }
                        None => bucket = Some(b),
                    },
                    None => ok = false,
                },
                "key" => match self.string(val, "`backend.s3.key`") {
                    Some(t) if t.is_empty() || t.starts_with('/') => {
                        self.err(val.span, format!("invalid key `{t}`: expected an object key like `rprov/network.json`, or a prefix ending in `/` (`rprov/`), not starting with `/`"));
                        ok = false;
                    }
                    Some(t) => key = Some(t),
                    None => ok = false,
                },
                "region" => {
                    region = self.region(val);
                    ok &= region.is_some();
                }
                "kms_key_id" => {
                    kms_key_id = self.string(val, "`backend.s3.kms_key_id`");
                    ok &= kms_key_id.is_some();
                }
                other => {
                    let d = self.err(
                        k.span,
                        format!(
                            "unknown key `{other}` in `backend.s3`; expected one of: {}",
                            S3_BACKEND_KEYS.join(", ")
                        ),
                    );
                    d.help = did_you_mean(other, S3_BACKEND_KEYS.iter().copied());
                    ok = false;
                }
            }
        }
        for (name, missing) in [("bucket", bucket.is_none()), ("key", key.is_none())] {
            if missing && !entries.iter().any(|(k, _)| key_text(k) == name) {
                self.err(v.span, format!("`backend.s3` needs `{name}`"));
                ok = false;
            }
        }
        Some(crate::state::S3Location { bucket: bucket?, key: key?, region, kms_key_id }).filter(|_| ok)
    }

    fn tags(&mut self, v: &Node) -> crate::kinds::Tags {
        let mut out = crate::kinds::Tags::new();
        let Some(entries) = self.mapping(v, "`tags`") else { return out };
        for (k, val) in entries {
            let key = key_text(k);
            if key.starts_with("rprov:") || key.starts_with("aws:") {
                self.err(k.span, format!("tag key `{key}` is reserved (`rprov:` and `aws:` prefixes)"));
                continue;
            }
            match scalar_text(val) {
                Some(t) => {
                    out.insert(key, t);
                }
                None => {
                    let got = val.type_name();
                    self.err(val.span, format!("tag `{key}` must be a string, found {got}"));
                }
            }
        }
        out
    }

    /// `rprov:` and `aws:` tag keys are reserved, on the stack and on every resource.
    fn check_tag_keys(&mut self, v: &Node) {
        if let NodeKind::Map(entries) = &v.kind {
            for (k, _) in entries {
                let key = key_text(k);
                if key.starts_with("rprov:") || key.starts_with("aws:") {
                    self.err(k.span, format!("tag key `{key}` is reserved (`rprov:` and `aws:` prefixes)"));
                }
            }
        }
    }

    fn params(&mut self, node: Option<&Node>, file: Option<(&Source, &Node)>) {
        let inputs = self.inputs;
        let overrides = &inputs.params;
        let file_entries: &[(Node, Node)] = match file {
            Some((_, Node { kind: NodeKind::Map(m), .. })) => m,
            Some((src, n)) => {
                let got = n.type_name();
                self.err_in(
                    src,
                    n.span,
                    format!("a param file must be a mapping of param names to values, found {got}"),
                );
                &[]
            }
            None => &[],
        };
        if let Some(node) = node
            && let Some(entries) = self.mapping(node, "`params`")
        {
            for (k, v) in entries {
                let name = key_text(k);
                if !super::expr::is_ident(&name) {
                    self.err(k.span, format!("invalid param name `{name}`: expected letters, digits, '_' and '-'"));
                    continue;
                }
                let from_file = file_entries.iter().find(|(fk, _)| key_text(fk) == name).map(|(_, fv)| fv);
                let from_file = file.zip(from_file).map(|((src, _), fv)| (src, fv));
                match self.param(&name, k, v, overrides.get(&name), from_file) {
                    Some(p) => {
                        self.params.insert(name, p);
                    }
                    None => self.failed_params.push(name),
                }
            }
        }
        for name in overrides.keys() {
            if !self.params.contains_key(name) && !self.diags.iter().any(|d| d.message.contains(&format!("`{name}`"))) {
                let help = did_you_mean(name, self.params.keys().map(String::as_str));
                let span = node.map(|n| n.span).unwrap_or(Span::start());
                let d = self.err(span, format!("unknown param `{name}` given on the command line or in RPROV_PARAM_{name}; the stack declares: {}", self.params.keys().cloned().collect::<Vec<_>>().join(", ")));
                d.help = help;
            }
        }
        if let Some((src, _)) = file {
            for (k, _) in file_entries {
                let name = key_text(k);
                if !self.params.contains_key(&name) && !self.failed_params.contains(&name) {
                    let help = did_you_mean(&name, self.params.keys().map(String::as_str));
                    let declared = self.params.keys().cloned().collect::<Vec<_>>().join(", ");
                    self.err_in(
                        src,
                        k.span,
                        format!("unknown param `{name}` in the param file; the stack declares: {declared}"),
                    )
                    .help = help;
                }
            }
        }
    }

    /// `--param`/`RPROV_PARAM_` text first, then the param file's value, then the default.
    fn param(
        &mut self,
        name: &str,
        key: &Node,
        v: &Node,
        given: Option<&String>,
        from_file: Option<(&Source, &Node)>,
    ) -> Option<Param> {
        let (mut default, mut ty, mut secret, mut description) = (None, None, false, None);
        match &v.kind {
            NodeKind::Map(m) => {
                for (pk, pv) in m {
                    match key_text(pk).as_str() {
                        "default" => default = Some(pv),
                        "type" => {
                            let t = self.string(pv, "param `type`")?;
                            if !PARAM_TYPES.contains(&t.as_str()) {
                                self.err(
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
                                self.err(pv.span, "param `secret` must be true or false");
                            }
                        },
                        "description" => description = self.string(pv, "param `description`"),
                        other => {
                            let help = did_you_mean(other, PARAM_KEYS.iter().copied());
                            let d = self.err(
                                pk.span,
                                format!(
                                    "unknown key `{other}` in param `{name}`; expected one of: {}",
                                    PARAM_KEYS.join(", ")
                                ),
                            );
                            d.help = help;
                        }
                    }
                }
            }
            // `name: value` is shorthand for `name: { default: value }`.
            _ => default = Some(v),
        }
        if secret && let Some(d) = default {
            self.secret_spans.push(d.span);
            self.err(d.span, format!("secret param `{name}` cannot have a default: a value written in the stack file is known to everyone who can read it")).help = Some(format!(
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
        let value = match (given, from_file, default) {
            (Some(text), _, _) => match param_from_text(text, &ty) {
                Some(v) => v,
                None => {
                    self.err(
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
                    self.err_in(src, n.span, format!("param `{name}` must be a {ty}, found {got}"));
                    return None;
                }
            },
            (None, None, Some(d)) => match typed_param(d, &ty) {
                Some(v) => v,
                None => {
                    self.err(d.span, format!("default of param `{name}` must be a {ty}, found {}", d.type_name()));
                    return None;
                }
            },
            (None, None, None) if secret && self.inputs.secrets_optional => Value::Unknown,
            (None, None, None) => {
                let d = self.err(key.span, format!("param `{name}` has no default and no value was given"));
                d.help =
                    Some(format!("pass --param {name}=VALUE, set RPROV_PARAM_{name} or give it in a --param-file"));
                return None;
            }
        };
        Some(Param { name: name.to_owned(), value, secret, description })
    }

    fn resource(&mut self, k: &Node, v: &Node) -> Option<Resource> {
        let id = key_text(k);
        self.resource = None;
        self.resource_used_failed_param = false;
        let valid_id = id.starts_with(|c: char| c.is_ascii_lowercase())
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid_id || id == "params" {
            self.err(k.span, format!("invalid resource id `{id}`: expected lowercase letters, digits, '_' and '-', starting with a letter (and not `params`)"));
            return None;
        }
        self.resource = Some(id.clone());
        let entries = self.mapping(v, "a resource")?;
        let Some((_, type_node)) = entries.iter().find(|(k, _)| key_text(k) == "type") else {
            self.err(k.span, "missing `type:`").help =
                Some(format!("known types: {}", kinds::kind_names().collect::<Vec<_>>().join(", ")));
            return None;
        };
        let type_name = self.string(type_node, "`type`")?;
        let Some(kind) = kinds::kind(&type_name) else {
            let help = did_you_mean(&type_name, kinds::kind_names())
                .unwrap_or_else(|| format!("known types: {}", kinds::kind_names().collect::<Vec<_>>().join(", ")));
            self.err(type_node.span, format!("unknown resource type `{type_name}`")).help = Some(help);
            return None;
        };
        let schema = kind.schema();
        let errors_before = self.diags.len();
        let mut depends_on = Vec::new();
        let mut ignore_drift = Vec::new();
        let mut adopt = false;
        let mut props = ExprMap::new();
        let mut prop_spans = Vec::new();
        let mut written: Vec<String> = Vec::new();
        let mut sensitive = std::collections::BTreeSet::new();
        for (pk, pv) in entries {
            let key = key_text(pk);
            written.push(key.clone());
            match key.as_str() {
                "type" => {}
                "depends_on" => depends_on = self.id_list_spans(pv, "depends_on"),
                "adopt" => match pv.kind {
                    NodeKind::Bool(b) if !b || kind.finds_occupants() => adopt = b,
                    NodeKind::Bool(_) => {
                        self.err(pv.span, format!("`adopt` is not supported by {type_name}: rprov cannot look up an existing {type_name} that it did not create")).help =
                            Some("a resource rprov created carries its ownership tags and is adopted after a crash without `adopt`".into());
                    }
                    _ => {
                        self.err(pv.span, "`adopt` must be true or false");
                    }
                },
                "ignore_drift" => {
                    for (n, span) in self.id_list_spans(pv, "ignore_drift") {
                        if schema.prop(&n).is_none() {
                            let help = did_you_mean(&n, schema.all_props().map(|p| p.name));
                            self.err(
                                span,
                                format!("`ignore_drift` names `{n}`, which is not a property of {type_name}"),
                            )
                            .help = help;
                        } else {
                            ignore_drift.push(n);
                        }
                    }
                }
                _ => match schema.prop(&key) {
                    Some(prop) => {
                        if key == "tags" {
                            self.check_tag_keys(pv);
                        }
                        prop_spans.push((key.clone(), pv.span));
                        self.secret_used = false;
                        let e = self.prop_value(pv, prop);
                        if self.secret_used && key == "tags" {
                            // AWS shows tags to anyone allowed to describe the resource.
                            self.err(pv.span, "a secret param cannot be used in tags: AWS shows tags to anyone allowed to describe the resource");
                        } else if self.secret_used {
                            sensitive.insert(key.clone());
                        }
                        if let Some(e) = e {
                            props.insert(key, e);
                        }
                    }
                    None => {
                        let names: Vec<&str> =
                            schema.all_props().map(|p| p.name).chain(RESOURCE_KEYS.iter().copied()).collect();
                        let help = did_you_mean(&key, names.iter().copied());
                        let d = self.err(
                            pk.span,
                            format!("unknown property `{key}` of {type_name}; expected one of: {}", names.join(", ")),
                        );
                        d.help = help;
                    }
                },
            }
        }
        self.fill_defaults(schema.all_props(), &mut props, &written, k.span, &type_name);
        // Cross-property checks only make sense on values that passed their own checks.
        let checks = if self.diags.len() == errors_before && !self.resource_used_failed_param {
            kind.check(&props)
        } else {
            Vec::new()
        };
        for (path, message) in checks {
            let span = span_at(entries, &path).unwrap_or(k.span);
            self.err(span, message);
        }
        let depends_spans = depends_on.iter().map(|(_, s)| *s).collect();
        let depends_on = depends_on.into_iter().map(|(d, _)| d).collect();
        let r = Resource {
            id: id.clone(),
            kind,
            props,
            prop_spans,
            depends_on,
            depends_spans,
            ignore_drift,
            adopt,
            sensitive,
            span: k.span,
        };
        self.resource = None;
        Some(r)
    }

    fn fill_defaults<'p>(
        &mut self,
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
            if let Some(d) = p.default {
                props.insert(p.name.to_owned(), Expr::Lit(d.value()));
            } else if p.required {
                self.err(span, format!("missing required property `{}` of {what} ({})", p.name, p.ty.describe()));
            }
        }
    }

    fn id_list_spans(&mut self, v: &Node, what: &str) -> Vec<(String, Span)> {
        let NodeKind::Seq(items) = &v.kind else {
            let got = v.type_name();
            self.err(v.span, format!("`{what}` must be a list, found {got}"));
            return vec![];
        };
        items.iter().filter_map(|i| Some((self.string(i, &format!("an entry of `{what}`"))?, i.span))).collect()
    }

    fn prop_value(&mut self, node: &Node, prop: &Prop) -> Option<Expr> {
        let e = self.expr(node, &prop.ty)?;
        Some(e)
    }

    /// Type-checks a node against a type, producing the expression it denotes.
    fn expr(&mut self, node: &Node, ty: &Ty) -> Option<Expr> {
        // References first: `${...}` is allowed wherever a value is.
        if let NodeKind::Str { text, .. } = &node.kind
            && text.contains("${")
            && !self.literal
        {
            return self.template(node, text, ty);
        }
        let mismatch = |l: &mut Self| {
            let got = node.type_name();
            l.err(node.span, format!("expected {}, found {got}", ty.describe()));
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
            (Ty::Cidr, NodeKind::Str { text, .. }) => match check::parse_cidr(text) {
                Ok(_) => Some(Expr::Lit(Value::str(text))),
                Err(msg) => {
                    self.err(node.span, msg);
                    None
                }
            },
            (Ty::Enum(options), NodeKind::Str { text, .. }) => {
                if options.contains(&text.as_str()) {
                    Some(Expr::Lit(Value::str(text)))
                } else {
                    let help = did_you_mean(text, options.iter().copied());
                    self.err(node.span, format!("invalid value `{text}`: expected {}", ty.describe())).help = help;
                    None
                }
            }
            (Ty::List(item), NodeKind::Seq(items)) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for i in items {
                    match self.expr(i, item) {
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
                    if let Some(e) = self.expr(v, &Ty::Str) {
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
                            if let Some(e) = self.expr(v, &f.ty) {
                                out.insert(key, e);
                            }
                        }
                        None => {
                            let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
                            let help = did_you_mean(&key, names.iter().copied());
                            self.err(k.span, format!("unknown key `{key}`; expected one of: {}", names.join(", ")))
                                .help = help;
                        }
                    }
                }
                let written: Vec<String> = entries.iter().map(|(k, _)| key_text(k)).collect();
                self.fill_defaults(fields.iter(), &mut out, &written, node.span, "this entry");
                Some(Expr::Map(out))
            }
            (Ty::Doc, _) => self.doc(node),
            _ => mismatch(self),
        }
    }

    fn doc(&mut self, node: &Node) -> Option<Expr> {
        Some(match &node.kind {
            NodeKind::Str { text, .. } if text.contains("${") => return self.template(node, text, &Ty::Doc),
            NodeKind::Seq(items) => Expr::List(items.iter().filter_map(|i| self.doc(i)).collect()),
            NodeKind::Map(entries) => {
                Expr::Map(entries.iter().filter_map(|(k, v)| Some((key_text(k), self.doc(v)?))).collect())
            }
            _ => Expr::Lit(node_value(node)),
        })
    }

    fn template(&mut self, node: &Node, text: &str, ty: &Ty) -> Option<Expr> {
        // Locate the n-th `${` of the value in the scalar's source text, whatever the scalar's
        // style (quoted, escaped, folded, block): its line and column in the file.
        let src = self.src;
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
                self.err(span_at(e.at, 2), e.message);
                return None;
            }
        };
        // Params are known now: substitute them, so the rest of rprov sees literals.
        let before = self.diags.len();
        self.failed_param_used = false;
        let expr = self.substitute_params(expr);
        if self.diags.len() > before || self.failed_param_used {
            self.resource_used_failed_param |= self.failed_param_used;
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
                self.err(node.span, format!("expected {}, found a string with references", ty.describe()));
                None
            }
            // A secret param not given to a command that never sends it (validate, drift,
            // destroy): nothing to check until it is given.
            (Expr::Lit(Value::Unknown), _) => Some(expr),
            (Expr::Lit(v), _) if !matches!(ty, Ty::Doc) => {
                // A param's value: check it like a literal written in place. It is data, never
                // a template: `--param 'x=${y.id}'` does not become a reference.
                let n = value_node(v, node.span);
                self.literal = true;
                let e = self.expr(&n, ty);
                self.literal = false;
                e
            }
            _ => Some(expr),
        }
    }

    fn substitute_params(&mut self, e: Expr) -> Expr {
        match e {
            Expr::Ref(r) if r.target == "params" => match self.params.get(&r.attr) {
                Some(p) => {
                    self.secret_used |= p.secret;
                    Expr::Lit(p.value.clone())
                }
                // Declared but invalid: already reported where it is declared.
                None if self.failed_params.contains(&r.attr) => {
                    self.failed_param_used = true;
                    Expr::Lit(Value::Null)
                }
                None => {
                    let help = did_you_mean(&r.attr, self.params.keys().map(String::as_str));
                    self.err(r.span, format!("unknown param `{}`", r.attr)).help = help;
                    Expr::Lit(Value::Null)
                }
            },
            Expr::Ref(r) if self.imports.contains_key(&r.target) => self.imported(r),
            Expr::Concat(parts) => Expr::Concat(parts.into_iter().map(|p| self.substitute_params(p)).collect()),
            other => other,
        }
    }

    /// `${net.outputs.NAME}`: the value recorded by the imported stack, known before the run
    /// (so no graph edge and never "known after apply"); left a reference when not read.
    fn imported(&mut self, r: super::Ref) -> Expr {
        let import = &self.imports[&r.target];
        let (alias, stack) = (import.alias.clone(), import.stack.clone());
        let Some(name) = r.attr.strip_prefix("outputs.").filter(|n| super::expr::is_ident(n)) else {
            self.err(
                r.span,
                format!("`${{{}.{}}}`: an import's outputs are read as `${{{alias}.outputs.NAME}}`", r.target, r.attr),
            );
            self.failed_param_used = true;
            return Expr::Lit(Value::Null);
        };
        let name = name.to_owned();
        if self.failed_imports.contains(&alias) {
            self.failed_param_used = true;
            return Expr::Lit(Value::Null);
        }
        let unknown_output = |l: &mut Self, names: &[&str], location: &str| {
            let help = did_you_mean(&name, names.iter().copied());
            l.err(
                r.span,
                format!(
                    "stack `{stack}` (imported as `{alias}`) declares no output `{name}`; its state ({location}) has: {}",
                    if names.is_empty() { "no outputs".to_owned() } else { names.join(", ") }
                ),
            )
            .help = help;
            l.failed_param_used = true;
            Expr::Lit(Value::Null)
        };
        let inputs = self.inputs;
        let entry = self.imports.get_mut(&alias).expect("checked above");
        match inputs.imports.get(&alias) {
            None | Some(Imported::Missing { .. }) => {
                entry.used.insert(name.clone(), Value::Unknown);
                Expr::Ref(r)
            }
            Some(Imported::Declared { location, names }) => {
                if names.contains(&name) {
                    entry.used.insert(name.clone(), Value::Unknown);
                    return Expr::Ref(r);
                }
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                unknown_output(self, &names, location)
            }
            Some(Imported::Read { location, outputs }) => match outputs.get(&name) {
                Some(v) if !v.has_unknown() => {
                    entry.used.insert(name.clone(), v.clone());
                    Expr::Lit(v.clone())
                }
                Some(_) => {
                    self.err(r.span, format!("output `{name}` of stack `{stack}` (imported as `{alias}`) has no value in its state ({location}): its last apply did not finish"))
                        .help = Some(format!("apply stack `{stack}` first"));
                    self.failed_param_used = true;
                    Expr::Lit(Value::Null)
                }
                None => {
                    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
                    unknown_output(self, &names, location)
                }
            },
        }
    }

    fn imports(&mut self, node: &Node, this_stack: Option<&str>) {
        let Some(entries) = self.mapping(node, "`imports`") else { return };
        for (k, v) in entries {
            let alias = key_text(k);
            if !super::expr::is_ident(&alias) || alias == "params" {
                self.err(
                    k.span,
                    format!("invalid import name `{alias}`: expected letters, digits, '_' and '-' (and not `params`)"),
                );
                continue;
            }
            if self.declared.contains(&alias) {
                self.err(
                    k.span,
                    format!("import `{alias}` has the name of a resource: `${{{alias}.…}}` would be ambiguous"),
                )
                .help = Some("rename the import or the resource".into());
                continue;
            }
            let (mut stack, mut state) = (None, None);
            match &v.kind {
                // `net: network` is shorthand for `net: { stack: network }`.
                NodeKind::Str { text, .. } => stack = Some((text.clone(), v.span)),
                NodeKind::Map(m) => {
                    for (ik, iv) in m {
                        match key_text(ik).as_str() {
                            "stack" => stack = self.string(iv, "import `stack`").map(|s| (s, iv.span)),
                            "state" => state = self.string(iv, "import `state`"),
                            other => {
                                let help = did_you_mean(other, IMPORT_KEYS.iter().copied());
                                self.err(
                                    ik.span,
                                    format!(
                                        "unknown key `{other}` in import `{alias}`; expected one of: {}",
                                        IMPORT_KEYS.join(", ")
                                    ),
                                )
                                .help = help;
                            }
                        }
                    }
                }
                _ => {
                    let got = v.type_name();
                    self.err(
                        v.span,
                        format!("import `{alias}` must be a mapping like `{{ stack: network }}`, found {got}"),
                    );
                    continue;
                }
            }
            let Some((stack, span)) = stack else {
                self.err(
                    k.span,
                    format!("import `{alias}` is missing `stack:` (the name of the stack to read outputs from)"),
                );
                continue;
            };
            if self.stack_name_node(&stack, span).is_none() {
                continue;
            }
            if Some(stack.as_str()) == this_stack {
                self.err(span, format!("stack `{stack}` imports itself"));
                continue;
            }
            let inputs = self.inputs;
            if let Some(Imported::Missing { location }) = inputs.imports.get(&alias) {
                self.err(span, format!("stack `{stack}` (imported as `{alias}`) has no state at {location}")).help =
                    Some(format!("apply stack `{stack}` first (or give its state's location with `state:`)"));
                self.failed_imports.push(alias.clone());
            }
            self.imports.insert(alias.clone(), Import { alias, stack, state, span, used: BTreeMap::new() });
        }
    }

    fn check_references(&mut self, resources: &IndexMap<String, Resource>, outputs: &IndexMap<String, Expr>) {
        let ids: Vec<&str> = resources.keys().map(String::as_str).collect();
        let check = |l: &mut Self, owner: Option<&str>, r: &super::Ref| {
            l.resource = owner.map(str::to_owned);
            if Some(r.target.as_str()) == owner {
                l.err(r.span, format!("`{}` references itself (`${{{}.{}}}`)", r.target, r.target, r.attr));
                return;
            }
            let Some(target) = resources.get(&r.target) else {
                // Unread imports stay references; their names were checked when substituted.
                if l.declared.contains(&r.target) || l.imports.contains_key(&r.target) {
                    return;
                }
                let help = did_you_mean(&r.target, ids.iter().copied());
                l.err(r.span, format!("reference to unknown resource `{}`", r.target)).help = help;
                return;
            };
            let schema = target.kind.schema();
            if schema.attr(&r.attr).is_none() {
                let names: Vec<&str> = schema.attrs.iter().map(|a| a.name).collect();
                let help = did_you_mean(&r.attr, names.iter().copied());
                l.err(
                    r.span,
                    format!(
                        "{} `{}` has no attribute `{}`; it has: {}",
                        schema.name,
                        r.target,
                        r.attr,
                        names.join(", ")
                    ),
                )
                .help = help;
            }
        };
        for res in resources.values() {
            for e in res.props.values() {
                for r in e.refs() {
                    check(self, Some(&res.id), r);
                }
            }
            self.resource = Some(res.id.clone());
            for (d, span) in res.depends_on.iter().zip(&res.depends_spans) {
                if d == &res.id {
                    self.err(*span, format!("`{d}` depends on itself"));
                } else if !resources.contains_key(d) && !self.declared.contains(d) {
                    let help = did_you_mean(d, ids.iter().copied());
                    self.err(*span, format!("`depends_on` names unknown resource `{d}`")).help = help;
                }
            }
        }
        for e in outputs.values() {
            for r in e.refs() {
                check(self, None, r);
            }
        }
        self.resource = None;
    }
}

fn scalar_text(n: &Node) -> Option<String> {
    match &n.kind {
        NodeKind::Str { text, .. } => Some(text.clone()),
        NodeKind::Int(i) => Some(i.to_string()),
        NodeKind::Num(f) => Some(f.to_string()),
        NodeKind::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn node_value(n: &Node) -> Value {
    match &n.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Bool(b) => Value::Bool(*b),
        NodeKind::Int(i) => Value::Int(*i),
        NodeKind::Num(f) => Value::Num(*f),
        NodeKind::Str { text, .. } => Value::Str(text.clone()),
        NodeKind::Seq(items) => Value::List(items.iter().map(node_value).collect()),
        NodeKind::Map(m) => Value::Map(m.iter().map(|(k, v)| (key_text(k), node_value(v))).collect()),
    }
}

fn value_node(v: &Value, span: Span) -> Node {
    let kind = match v {
        Value::Null | Value::Unknown => NodeKind::Null,
        Value::Bool(b) => NodeKind::Bool(*b),
        Value::Int(i) => NodeKind::Int(*i),
        Value::Num(n) => NodeKind::Num(*n),
        Value::Str(s) => NodeKind::Str { text: s.clone() },
        Value::List(l) => NodeKind::Seq(l.iter().map(|i| value_node(i, span)).collect()),
        Value::Map(m) => NodeKind::Map(
            m.iter()
                .map(|(k, v)| (Node { kind: NodeKind::Str { text: k.clone() }, span }, value_node(v, span)))
                .collect(),
        ),
    };
    Node { kind, span }
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

/// The most precise place of a path inside a resource's mapping (`routes.1.gateway`, else
/// `routes.1`, else `routes`): found when a check reports it, not recorded for every value.
fn span_at(entries: &[(Node, Node)], path: &str) -> Option<Span> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut node = &entries.iter().find(|(k, _)| key_text(k) == first)?.1;
    for part in parts {
        let next = match &node.kind {
            NodeKind::Seq(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            NodeKind::Map(es) => es.iter().find(|(k, _)| key_text(k) == part).map(|(_, v)| v),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    Some(node.span)
}

/// A YAML document as JSON, by the same parser and limits as stack files (for schema checks).
pub fn yaml_to_json(src: &Source) -> Result<serde_json::Value, Vec<Diagnostic>> {
    yaml::parse(src).map(|n| serde_json::Value::from(&node_value(&n)))
}
