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
use crate::state::{LocalBackend, S3Backend, S3Location, State, StateBackend, StateError};

use super::Global;

/// Flags and environment, resolved once.
#[derive(Clone, Debug)]
pub struct Settings {
    pub aws: AwsSettings,
    /// Every `--region` given (the last one is `aws.region`).
    pub regions: Vec<String>,
    pub state: Option<String>,
    pub allow_unversioned: bool,
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
                region: g.region.last().cloned(),
                profile: g.profile.clone(),
                endpoint_url: g.endpoint_url.clone(),
            },
            regions: g.region.clone(),
            state: g.state.clone(),
            allow_unversioned: g.allow_unversioned,
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

/// Where a stack's state lives: a local file or an S3 object (or prefix).
#[derive(Clone, Debug, PartialEq)]
pub enum StateLocation {
    Local(PathBuf),
    S3(S3Location),
}

impl StateLocation {
    /// `s3://BUCKET/KEY` or a file path.
    pub fn parse(text: &str) -> Result<StateLocation, Failure> {
        if text.starts_with("s3://") {
            S3Location::parse(text).map(StateLocation::S3).map_err(|e| Failure::User(format!("state location {e}")))
        } else if text.contains("://") {
            Err(Failure::User(format!("state location `{text}`: expected a file path or s3://BUCKET/KEY")))
        } else {
            Ok(StateLocation::Local(PathBuf::from(text)))
        }
    }

    /// `--state`/`RPROV_STATE` > the stack file's `backend:` block > `.rprov/<stack>.json`.
    pub fn resolve(s: &Settings, file_backend: Option<&S3Location>) -> Result<Option<StateLocation>, Failure> {
        match (&s.state, file_backend) {
            (Some(text), _) => StateLocation::parse(text).map(Some),
            (None, Some(loc)) => Ok(Some(StateLocation::S3(loc.clone()))),
            (None, None) => Ok(None),
        }
    }

    /// Another stack's state, beside this one: same prefix or directory, `<other>.json`.
    pub fn beside(&self, other: &str) -> StateLocation {
        match self {
            StateLocation::S3(loc) => StateLocation::S3(loc.beside(other)),
            StateLocation::Local(path) => {
                StateLocation::Local(path.parent().unwrap_or(Path::new("")).join(format!("{other}.json")))
            }
        }
    }

    /// The backend of `stack`'s state here (`stack` picks the object under an S3 prefix).
    pub fn open(&self, s: &Settings, stack: &str, region: &str) -> Arc<dyn StateBackend> {
        match self {
            StateLocation::Local(path) => Arc::new(LocalBackend::new(path.clone())),
            StateLocation::S3(loc) => Arc::new(S3Backend::new(loc, stack, &s.aws, region, s.allow_unversioned)),
        }
    }
}

/// The state backend of `stack` as seen from the loaded stack file `home`: `home`'s own state
/// when `stack == home.name` (`--state` > its `backend:` block > `.rprov/`), and another stack's
/// state (a cross-stack import) beside it otherwise.
pub fn backend_for(s: &Settings, home: &Stack, stack: &str) -> Result<Arc<dyn StateBackend>, Failure> {
    let own = StateLocation::resolve(s, home.backend.as_ref())?
        .unwrap_or_else(|| StateLocation::Local(Path::new(".rprov").join(format!("{}.json", home.name))));
    let at = if stack == home.name { own } else { own.beside(stack) };
    Ok(at.open(s, stack, &home.region))
}

/// The state backend of `stack` from flags alone (no stack file's `backend:` block; S3 in the
/// configured region, else us-east-1). Prefer [`backend_for`].
#[allow(dead_code)] // for commands that load no stack file
pub fn backend(s: &Settings, stack: &str) -> Result<Arc<dyn StateBackend>, Failure> {
    let region = s.aws.region.clone().unwrap_or_else(|| "us-east-1".into());
    Ok(match StateLocation::resolve(s, None)? {
        Some(at) => at.open(s, stack, &region),
        None => Arc::new(LocalBackend::for_stack(Path::new(".rprov"), stack)),
    })
}

/// The state of another stack (an import) seen from `home`: where `explicit` says (a path or
/// `s3://` URL: an import's `state:`, or a location recorded earlier), else beside `home`'s own
/// state ([`backend_for`]).
pub fn other_state(
    s: &Settings,
    home: &Stack,
    stack: &str,
    explicit: Option<&str>,
) -> Result<Arc<dyn StateBackend>, Failure> {
    match explicit {
        Some(text) => Ok(StateLocation::parse(text)?.open(s, stack, &home.region)),
        None => backend_for(s, home, stack),
    }
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
