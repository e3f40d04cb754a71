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
    /// Every `--region` given (the last one is `aws.region`).
    pub regions: Vec<String>,
    pub state: Option<String>,
    pub params: Vec<String>,
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
            params: g.params.clone(),
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

pub fn load_stack(s: &Settings, path: &Path) -> Result<Stack, Failure> {
    let overrides = param_overrides(s)?;
    stack::load(path, &overrides).map_err(|(src, diags)| report(src.as_ref(), &diags))
}

pub fn report(src: Option<&stack::Source>, diags: &[stack::Diagnostic]) -> Failure {
    for d in diags {
        match src {
            Some(src) => eprint!("{}", d.render(src)),
            None => eprintln!("error: {d}"),
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
