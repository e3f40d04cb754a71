//! Node tree -> [`Stack`], collecting every diagnostic rather than stopping at the first.
//!
//! One file per part of the stack file: the header (`header.rs`), params (`params.rs`),
//! imports (`imports.rs`), resources (`resources.rs`) and the values written in them
//! (`values.rs`), then the references between them (`references.rs`). Each takes what it
//! reads and reports into one `Diags`.

mod header;
mod imports;
mod params;
mod references;
mod resources;
pub use resources::is_resource_id;
mod values;

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;

use super::diag::{Diagnostic, Source, Span, did_you_mean};
use super::yaml::{self, Node, NodeKind, key_text};
use super::{Param, Resource, Stack};
use crate::expr::ExprMap;
use crate::spec::Catalog;
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

/// Reads and validates a stack file with params given by name.
pub fn load(
    kinds: &'static dyn Catalog,
    path: &std::path::Path,
    params: &ParamOverrides,
) -> Result<Stack, (Option<Source>, Vec<Diagnostic>)> {
    load_file(kinds, path, &Inputs { params: params.clone(), ..Inputs::default() })
}

/// Reads and validates a stack file.
pub fn load_file(
    kinds: &'static dyn Catalog,
    path: &std::path::Path,
    inputs: &Inputs,
) -> Result<Stack, (Option<Source>, Vec<Diagnostic>)> {
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
    load_with(kinds, Source::new(name, text), inputs)
}

fn io_diag(name: &str, e: &std::io::Error) -> Diagnostic {
    let src = Source::new(name, "");
    Diagnostic::at(&src, Span::start(), format!("cannot read stack file: {e}"))
}

pub fn load_str(
    kinds: &'static dyn Catalog,
    src: Source,
    params: &ParamOverrides,
) -> Result<Stack, (Option<Source>, Vec<Diagnostic>)> {
    load_with(kinds, src, &Inputs { params: params.clone(), ..Inputs::default() })
}

/// The stack, or every problem found in it. Dependency cycles are not looked for here: whoever
/// builds the stack's graph reports them.
/// `kinds`: the resource types it may use.
pub fn load_with(
    kinds: &'static dyn Catalog,
    src: Source,
    inputs: &Inputs,
) -> Result<Stack, (Option<Source>, Vec<Diagnostic>)> {
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
    let mut d = Diags::new(&src);
    let stack = read_stack(kinds, &mut d, inputs, &root, file.as_ref().map(|(s, n)| (*s, n)));
    match stack {
        Some(s) if d.list.is_empty() => Ok(s),
        _ => {
            let Diags { list: mut diags, secret_spans, .. } = d;
            diags.sort_by_key(|d| (d.span.offset, d.message.clone()));
            diags.dedup();
            Err((Some(masked(src, &secret_spans)), diags))
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

/// Where the diagnostics of one load go, with what decides how they read: the stack file they
/// point into, the resource being read (named in each), the secrets they must not show.
struct Diags<'a> {
    src: &'a Source,
    list: Vec<Diagnostic>,
    /// The resource being read, named in its diagnostics.
    resource: Option<String>,
    /// The secret params read so far: their values are redacted from every later message.
    secrets: IndexMap<String, Param>,
    /// Where the stack file writes a secret (a secret param's refused default): masked in the
    /// source that diagnostics quote.
    secret_spans: Vec<Span>,
}

impl<'a> Diags<'a> {
    fn new(src: &'a Source) -> Diags<'a> {
        Diags { src, list: Vec::new(), resource: None, secrets: IndexMap::new(), secret_spans: Vec::new() }
    }

    fn err(&mut self, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
        let msg = super::redact(&self.secrets, msg.into());
        let mut d = Diagnostic::at(self.src, span, msg);
        d.resource = self.resource.clone();
        self.list.push(d);
        self.list.last_mut().expect("just pushed")
    }

    /// A diagnostic in the param file rather than the stack file.
    fn err_in(&mut self, src: &Source, span: Span, msg: impl Into<String>) -> &mut Diagnostic {
        let msg = super::redact(&self.secrets, msg.into());
        self.list.push(Diagnostic::at(src, span, msg));
        self.list.last_mut().expect("just pushed")
    }

    fn len(&self) -> usize {
        self.list.len()
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
}

/// The top-level walk: the header first, then params, imports, resources and outputs, each
/// reading what the ones before it declared; references last, when every name is known.
fn read_stack(
    kinds: &'static dyn Catalog,
    d: &mut Diags,
    inputs: &Inputs,
    root: &Node,
    param_file: Option<(&Source, &Node)>,
) -> Option<Stack> {
    let top = d.mapping(root, "the stack file")?;
    let mut header = header::Header::default();
    let mut resources_node = None;
    let mut outputs_node = None;
    let mut params_node = None;
    let mut imports_node = None;
    for (k, v) in top {
        match key_text(k).as_str() {
            "params" => params_node = Some(v),
            "imports" => imports_node = Some(v),
            "resources" => resources_node = Some(v),
            "outputs" => outputs_node = Some(v),
            key => {
                if !header.read(d, key, v) {
                    let help = did_you_mean(key, TOP_KEYS.iter().copied());
                    d.err(k.span, format!("unknown top-level key `{key}`; expected one of: {}", TOP_KEYS.join(", ")))
                        .help = help;
                }
            }
        }
    }
    header.check(d, root, top);
    let params = params::read(d, inputs, params_node, param_file);
    let declared: Vec<String> = match resources_node.map(|n| &n.kind) {
        Some(NodeKind::Map(entries)) => entries.iter().map(|(k, _)| key_text(k)).collect(),
        _ => Vec::new(),
    };
    let mut imports = imports::Imports::new(&inputs.imports);
    if let Some(node) = imports_node {
        imports.read(d, node, header.name.as_deref(), &declared);
    }
    let (resources, checkable) = resources::read(kinds, d, &params, &mut imports, root, resources_node);
    let outputs = resources::outputs(d, &params, &mut imports, outputs_node);
    references::check(d, &resources, &outputs, &declared, &imports.declared);
    let view = View::new(header.name.as_deref().unwrap_or_default(), header.region.as_deref(), &resources);
    resources::run_checks(d, &view, &resources, &checkable);
    let stack = Stack {
        kinds,
        name: header.name?,
        region: header.region?,
        tags: header.tags,
        params: params.values,
        resources,
        outputs,
        imports: imports.declared,
        backend: header.backend,
        accounts: header.accounts,
        source: d.src.clone(),
        inputs: inputs.clone(),
    };
    Some(stack)
}

/// The stack as a kind's rules see it while it loads, its resources indexed by kind and by
/// the resources they refer to (a rule comparing a resource with the others of its kind, or
/// around one VPC, runs once per resource: without the index, a stack of 10,000 resources would
/// cost 10,000 scans of 10,000).
struct View<'a> {
    name: &'a str,
    region: Option<&'a str>,
    resources: &'a IndexMap<String, Resource>,
    by_kind: BTreeMap<&'static str, Vec<(&'a str, &'a ExprMap)>>,
    referrers: HashMap<&'a str, Vec<(&'a str, &'static str, &'a ExprMap)>>,
}

impl<'a> View<'a> {
    fn new(name: &'a str, region: Option<&'a str>, resources: &'a IndexMap<String, Resource>) -> View<'a> {
        let mut by_kind: BTreeMap<&'static str, Vec<(&str, &ExprMap)>> = BTreeMap::new();
        let mut referrers: HashMap<&str, Vec<(&str, &'static str, &ExprMap)>> = HashMap::new();
        for r in resources.values() {
            let kind = r.kind.schema().name;
            by_kind.entry(kind).or_default().push((r.id.as_str(), &r.props));
            let mut targets: Vec<&str> = r.props.values().flat_map(|e| e.refs()).map(|rf| rf.target.as_str()).collect();
            targets.sort_unstable();
            targets.dedup();
            for t in targets {
                referrers.entry(t).or_default().push((r.id.as_str(), kind, &r.props));
            }
        }
        View { name, region, resources, by_kind, referrers }
    }
}

impl crate::spec::StackView for View<'_> {
    fn name(&self) -> &str {
        self.name
    }
    fn region(&self) -> Option<&str> {
        self.region
    }
    fn resources(&self) -> Vec<(&str, &'static str, &ExprMap)> {
        self.resources.values().map(|r| (r.id.as_str(), r.kind.schema().name, &r.props)).collect()
    }
    fn resource(&self, id: &str) -> Option<(&'static str, &ExprMap)> {
        self.resources.get(id).map(|r| (r.kind.schema().name, &r.props))
    }
    fn of_kind<'s>(&'s self, kind: &str) -> Box<dyn Iterator<Item = (&'s str, &'s ExprMap)> + 's> {
        Box::new(self.by_kind.get(kind).into_iter().flatten().copied())
    }
    fn referrers<'s>(&'s self, id: &str) -> Box<dyn Iterator<Item = (&'s str, &'static str, &'s ExprMap)> + 's> {
        Box::new(self.referrers.get(id).into_iter().flatten().copied())
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

/// A YAML document as JSON, by the same parser and limits as stack files (for schema checks).
pub fn yaml_to_json(src: &Source) -> Result<serde_json::Value, Vec<Diagnostic>> {
    yaml::parse(src).map(|n| serde_json::Value::from(&node_value(&n)))
}
