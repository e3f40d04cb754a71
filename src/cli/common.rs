//! What the commands share: settings, loading a stack with its diagnostics, the state backend,
//! the batched refresh, confirmation, and the user-error / unexpected-error split.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aws::{AwsError, AwsSettings, Cx, WaitConfig, load_sdk_config};
use crate::kinds;
use crate::plan::LiveSet;
use crate::stack::{self, Stack};
use crate::state::{LocalBackend, State, StateBackend, StateError};

use super::Global;

/// Flags and environment, resolved once.
#[derive(Clone, Debug)]
pub struct Settings {
    pub aws: AwsSettings,
    pub state: Option<String>,
    pub params: Vec<String>,
    pub param_file: Option<PathBuf>,
    pub color: bool,
    pub tty: bool,
}

impl Settings {
    pub fn from_global(g: &Global) -> Settings {
        let tty = std::io::stdout().is_terminal();
        Settings {
            aws: AwsSettings {
                region: g.region.clone(),
                profile: g.profile.clone(),
                endpoint_url: g.endpoint_url.clone(),
            },
            state: g.state.clone(),
            params: g.params.clone(),
            param_file: g.param_file.clone(),
            color: tty && !g.no_color,
            tty,
        }
    }
}

/// Why a command failed. User errors print a message (and hints); unexpected ones the chain.
#[derive(Debug)]
pub enum Failure {
    /// Already printed (diagnostics).
    Reported,
    User(String),
    Unexpected(anyhow::Error),
}

impl Failure {
    pub fn print(&self, verbose: bool) {
        match self {
            Failure::Reported => {}
            Failure::User(m) => eprintln!("error: {m}"),
            Failure::Unexpected(e) if verbose => eprintln!("error: {e:?}"),
            Failure::Unexpected(e) => eprintln!("error: {e:#}"),
        }
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        Failure::User(e.to_string())
    }
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::User(format!("AWS: {e}"))
    }
}

/// `--param` flags and `RPROV_PARAM_*` variables; flags win.
pub fn param_overrides(s: &Settings) -> Result<stack::ParamOverrides, Failure> {
    let mut out = BTreeMap::new();
    for (k, v) in std::env::vars() {
        if let Some(name) = k.strip_prefix("RPROV_PARAM_") {
            out.insert(name.to_owned(), v);
        }
    }
    for p in &s.params {
        let Some((k, v)) = p.split_once('=') else {
            return Err(Failure::User(format!("--param `{p}`: expected NAME=VALUE")));
        };
        out.insert(k.trim().to_owned(), v.to_owned());
    }
    Ok(out)
}

/// Everything a stack is loaded with from flags and environment: params (`--param` over
/// `RPROV_PARAM_*`) and the `--param-file` below them. Imports are bound later (`imports::bind`).
pub fn inputs(s: &Settings, params: stack::ParamOverrides) -> Result<stack::Inputs, Failure> {
    let param_file = match &s.param_file {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::User(format!("cannot read param file {}: {e}", p.display())))?;
            Some(stack::Source::new(p.display().to_string(), text))
        }
        None => None,
    };
    Ok(stack::Inputs { params, param_file, imports: BTreeMap::new() })
}

pub fn load_stack(s: &Settings, path: &Path) -> Result<Stack, Failure> {
    let inputs = inputs(s, param_overrides(s)?)?;
    stack::load_file(path, &inputs).map_err(|(src, diags)| report(src.as_ref(), &diags))
}

pub fn report(src: Option<&stack::Source>, diags: &[stack::Diagnostic]) -> Failure {
    for d in diags {
        match src {
            Some(src) if src.name == d.file => eprint!("{}", d.render(src)),
            // Another file (a param file): its location, without the stack file's line.
            _ => {
                eprintln!("error: {d}");
                if let Some(h) = &d.help {
                    eprintln!("  help: {h}");
                }
            }
        }
    }
    let n = diags.len();
    eprintln!("{n} problem{} found; nothing was sent to AWS.", if n == 1 { "" } else { "s" });
    Failure::Reported
}

pub fn backend(s: &Settings, stack: &str) -> Result<Arc<dyn StateBackend>, Failure> {
    match s.state.as_deref() {
        Some(url) if url.starts_with("s3://") => {
            Err(Failure::User("the S3 state backend is not available in this version".into()))
        }
        Some(path) => Ok(Arc::new(LocalBackend::new(PathBuf::from(path)))),
        None => Ok(Arc::new(LocalBackend::for_stack(Path::new(".rprov"), stack))),
    }
}

/// The state of another stack (an import): where `state:` says, else beside this stack's state
/// (same directory or prefix, `<stack>.json`), through the same backends as [`backend`].
pub fn other_state(s: &Settings, stack: &str, explicit: Option<&str>) -> Result<Arc<dyn StateBackend>, Failure> {
    let location = match (explicit, s.state.as_deref()) {
        (Some(l), _) => Some(l.to_owned()),
        (None, Some(mine)) => Some(match mine.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{stack}.json"),
            None => format!("{stack}.json"),
        }),
        (None, None) => None,
    };
    backend(&Settings { state: location, ..s.clone() }, stack)
}

pub async fn cx(s: &Settings, stack: &Stack) -> Cx {
    let sdk = load_sdk_config(&s.aws, &stack.region).await;
    Cx::new(&stack.name, sdk, WaitConfig::default())
}

/// The batched refresh (`kinds::refresh`), its failure as a user error.
pub async fn refresh(cx: &Cx, stack: &Stack, state: Option<&State>) -> Result<LiveSet, Failure> {
    kinds::refresh(cx, stack, state)
        .await
        .map_err(|(name, e)| Failure::User(format!("reading {name} resources from AWS: {e}")))
}

/// Asks on a TTY; refuses without one unless `--yes`.
pub fn confirm(s: &Settings, yes: bool, question: &str) -> Result<(), Failure> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !s.tty {
        return Err(Failure::User(format!("{question}: refusing without a terminal to ask on; pass --yes to proceed")));
    }
    eprint!("{question}? Only 'yes' will be accepted: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Failure::Unexpected(e.into()))?;
    if answer.trim() == "yes" { Ok(()) } else { Err(Failure::User("cancelled".into())) }
}
