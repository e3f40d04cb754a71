//! What the commands share: settings, loading a stack with its diagnostics, the state backend,
//! the batched refresh, confirmation, and the user-error / unexpected-error split.

use super::out::{err, errln};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::aws::{AwsError, AwsSettings, Cx, WaitConfig, load_sdk_config};
use crate::graph::Graph;
use crate::kinds;
use crate::plan::LiveSet;
use crate::stack::{self, Stack};
use crate::state::State;
use crate::store::{LocalBackend, S3Backend, S3Location, StateBackend, StateError};

use super::Global;

/// Flags and environment, resolved once.
#[derive(Clone, Debug)]
pub struct Settings {
    pub aws: AwsSettings,
    /// Every `--region` given on the command line (the last one is `aws.region`).
    pub regions: Vec<String>,
    /// A region the environment names (`AWS_REGION`, else `AWS_DEFAULT_REGION`), with the
    /// variable's name: ignored, with a notice, by commands on a stack (its `region:` decides).
    pub env_region: Option<(&'static str, String)>,
    /// How long a create that got no answer is looked for before being sent again
    /// (`RPROV_LOST_CREATE_WINDOW`, e.g. `2m`; default: the executor's).
    pub lost_create_window: Option<std::time::Duration>,
    pub state: Option<String>,
    pub allow_unversioned: bool,
    pub params: Vec<String>,
    pub param_file: Option<PathBuf>,
    pub color: bool,
    pub tty: bool,
}

/// `NO_COLOR` set to anything but the empty string turns colour off (no-color.org), `0`
/// included.
fn no_color_env(v: Option<std::ffi::OsString>) -> bool {
    v.is_some_and(|v| !v.is_empty())
}

impl Settings {
    pub fn from_global(g: &Global) -> Settings {
        let tty = std::io::stdout().is_terminal();
        let env_region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .into_iter()
            .find_map(|var| std::env::var(var).ok().filter(|r| !r.trim().is_empty()).map(|r| (var, r)));
        let lost_create_window =
            std::env::var("RPROV_LOST_CREATE_WINDOW").ok().and_then(|t| humantime::parse_duration(t.trim()).ok());
        Settings {
            env_region: env_region.clone(),
            lost_create_window,
            aws: AwsSettings {
                // Commands without a stack file (teardown, state) fall back to the environment.
                region: g.region.last().cloned().or_else(|| env_region.as_ref().map(|(_, r)| r.clone())),
                profile: g.profile.clone(),
                endpoint_url: g.endpoint_url.clone(),
            },
            regions: g.region.clone(),
            state: g.state.clone(),
            allow_unversioned: g.allow_unversioned,
            params: g.params.clone(),
            param_file: g.param_file.clone(),
            color: tty && !g.no_color && !no_color_env(std::env::var_os("NO_COLOR")),
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
            Failure::User(m) => errln!("error: {m}"),
            Failure::Unexpected(e) if verbose => errln!("error: {e:?}"),
            Failure::Unexpected(e) => errln!("error: {e:#}"),
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
    Ok(stack::Inputs { params, param_file, imports: BTreeMap::new(), secrets_optional: false })
}

/// Loads a stack for a command that never sends its values to AWS (validate, drift, destroy,
/// output, graph, state): a secret param given no value is left unknown.
pub fn load_stack(s: &Settings, path: &Path) -> Result<Stack, Failure> {
    let mut inputs = inputs(s, param_overrides(s)?)?;
    inputs.secrets_optional = true;
    stack_or_report(stack::load_file(&kinds::KINDS, path, &inputs))
}

/// Loads a stack to plan or apply: every param, secret ones included, needs its value.
pub fn load_stack_to_apply(s: &Settings, path: &Path) -> Result<Stack, Failure> {
    let inputs = inputs(s, param_overrides(s)?)?;
    stack_or_report(stack::load_file(&kinds::KINDS, path, &inputs))
}

/// A loaded stack, or its problems reported. A dependency cycle is one of them: the graph is
/// built here to report it with the others (located, nothing sent to AWS) by every command,
/// before anything else is read (imported states, AWS).
pub fn stack_or_report(
    loaded: Result<Stack, (Option<stack::Source>, Vec<stack::Diagnostic>)>,
) -> Result<Stack, Failure> {
    let stack = loaded.map_err(|(src, diags)| report(src.as_ref(), &diags))?;
    graph_or_report(&stack)?;
    Ok(stack)
}

/// The stack's dependency graph; its cycles are reported like the stack file's other problems.
pub fn graph_or_report(stack: &Stack) -> Result<Graph, Failure> {
    Graph::build(stack).map_err(|d| report(Some(&stack.source), &d))
}

pub fn report(src: Option<&stack::Source>, diags: &[stack::Diagnostic]) -> Failure {
    for d in diags {
        match src {
            Some(src) if src.name == d.file => err!("{}", d.render(src)),
            // Another file (a param file): its location, without the stack file's line.
            _ => {
                errln!("error: {d}");
                if let Some(h) = &d.help {
                    errln!("  help: {h}");
                }
            }
        }
    }
    let n = diags.len();
    errln!("{n} problem{} found; nothing was sent to AWS.", if n == 1 { "" } else { "s" });
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

/// The context a stack's commands talk to AWS with: always in the stack's own region (see
/// [`check_region`]).
pub async fn cx(s: &Settings, stack: &Stack) -> Cx {
    let aws = AwsSettings { region: Some(stack.region.clone()), ..s.aws.clone() };
    let sdk = load_sdk_config(&aws, &stack.region).await;
    Cx::new(&stack.name, sdk, WaitConfig::default()).with_base(&stack_dir(stack))
}

/// Adds what the stack's resources compute from local files (`kinds::bind_local`: an image's
/// digest) before planning; a file's problems are reported like the stack file's.
/// Returns what was computed, as `(logical id, property)`.
pub fn bind_local(stack: &mut Stack, state: Option<&State>) -> Result<Vec<(String, String)>, Failure> {
    let base = stack_dir(stack);
    let (problems, bound) = crate::kinds::bind_local(stack, &base, state, false);
    if problems.is_empty() { Ok(bound) } else { Err(report(Some(&stack.source), &problems)) }
}

/// The directory of the stack's file: local files it names are relative to it.
pub fn stack_dir(stack: &Stack) -> std::path::PathBuf {
    match Path::new(&stack.source.name).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    }
}

/// The stack's `region:` decides where it lives. An explicit `--region` that differs is an
/// error (a different region is a different stack); a region from the environment or the
/// profile that differs is ignored, with a notice. Before any AWS call.
pub async fn check_region(s: &Settings, stack: &Stack) -> Result<(), Failure> {
    match s.regions.as_slice() {
        [] => {}
        [r] if *r == stack.region => {}
        [r] => {
            return Err(Failure::User(format!(
                "--region {r}, but stack `{}` lives in {} (its `region:`): a different region is a different stack, and rprov does not move or copy one.\n  To deploy it to {r}, give it a stack file of its own with `region: {r}` (and its own name or state); to act on the stack in {}, drop --region",
                stack.name, stack.region, stack.region
            )));
        }
        more => {
            return Err(Failure::User(format!(
                "--region given {} times ({}): a stack lives in one region, its `region:` (only `teardown` takes several)",
                more.len(),
                more.join(", ")
            )));
        }
    }
    let ignored = match &s.env_region {
        Some((var, r)) if *r != stack.region => Some(format!("{var}={r}")),
        Some(_) => None,
        None => profile_region(s)
            .await
            .filter(|r| *r != stack.region)
            .map(|r| format!("the region of profile `{}` ({r})", s.aws.profile.as_deref().unwrap_or("default"))),
    };
    if let Some(what) = ignored {
        errln!("note: {what} is ignored: stack `{}` lives in {} (its `region:`)", stack.name, stack.region);
    }
    Ok(())
}

/// The region the shared config file gives the profile in use, if any.
async fn profile_region(s: &Settings) -> Option<String> {
    let mut p = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(name) = &s.aws.profile {
        p = p.profile_name(name);
    }
    aws_config::meta::region::ProvideRegion::region(&p.build()).await.map(|r| r.to_string())
}

/// The account the credentials act for (STS `GetCallerIdentity`, the one call made before any
/// check), with the caller's ARN.
pub async fn caller(sdk: &aws_config::SdkConfig) -> Result<(String, String), Failure> {
    let out = aws_sdk_sts::Client::new(sdk).get_caller_identity().send().await.map_err(|e| {
        Failure::User(format!("AWS: cannot tell which account the credentials belong to: {}", crate::aws::classify(e)))
    })?;
    Ok((out.account().unwrap_or("unknown").to_owned(), out.arn().unwrap_or_default().to_owned()))
}

/// Binds a run to one account and region before anything else is sent: the credentials'
/// account must be allowed by the stack file, and be the one (and the region the one) the state
/// was made in. Returns the account.
pub async fn check_identity(
    cx: &Cx,
    stack: &Stack,
    state: Option<&State>,
    backend: &dyn StateBackend,
) -> Result<String, Failure> {
    let (account, arn) = caller(&cx.sdk).await?;
    if let Some(why) = stack.accounts.refusal(&account) {
        return Err(Failure::User(format!("{why} ({arn}); nothing was changed")));
    }
    let Some(state) = state else { return Ok(account) };
    if state.region != stack.region {
        return Err(Failure::User(format!(
            "the state of stack `{}` ({}) was made in region {}, but the stack file now says `region: {}`: a stack does not move between regions, and acting here would build a second copy.\n  Put `region: {}` back to act on it there (or destroy it there first); for a copy in {}, give it its own stack name or state",
            stack.name,
            backend.describe(),
            state.region,
            stack.region,
            state.region,
            stack.region
        )));
    }
    if let Some(recorded) = &state.account_id
        && *recorded != account
    {
        return Err(Failure::User(format!(
            "the state of stack `{}` ({}) belongs to account {recorded}, but the credentials are for account {account} ({arn}); nothing was changed.\n  Use credentials for {recorded} (another profile or role), or another state for a stack in {account}",
            stack.name,
            backend.describe(),
        )));
    }
    Ok(account)
}

/// The batched refresh (`kinds::refresh`), its failure as a user error.
pub async fn refresh(cx: &Cx, stack: &Stack, state: Option<&State>) -> Result<LiveSet, Failure> {
    kinds::refresh(cx, stack, state)
        .await
        .map_err(|(name, e)| Failure::User(format!("reading {name} resources from AWS: {e}")))
}

/// The plan of `stack` against AWS as it is: the batched refresh, the plan, and, when the plan
/// creates resources whose identity something rprov did not make may hold (DNS records), a look
/// at those and a second plan that shows each as a conflict or an adoption. `state` may be a new
/// one not written yet (serial 0): nothing is recorded in it to refresh.
pub async fn plan_live(
    cx: &Cx,
    stack: &Stack,
    graph: &crate::graph::Graph,
    state: Option<&State>,
) -> Result<crate::plan::Plan, Failure> {
    let recorded = state.filter(|s| s.serial > 0);
    let live = refresh(cx, stack, recorded).await?;
    let mut occupied = crate::plan::Occupied::new();
    let mut asked = std::collections::HashMap::new();
    let mut plan = crate::plan::plan(stack, graph, state, &live);
    // Each round may make identities known for the next (a looked-up zone's id, then the
    // records to create in it): a few rounds at most, one batched read per kind and round.
    for _ in 0..4 {
        let asked_any = kinds::find_occupants(cx, &plan, &mut asked, &mut occupied)
            .await
            .map_err(|(name, e)| Failure::User(format!("reading {name} resources from AWS: {e}")))?;
        if !asked_any {
            break;
        }
        plan = crate::plan::plan_with(stack, graph, state, &live, &occupied);
    }
    Ok(plan)
}

/// Asks on a TTY; refuses without one unless `--yes`.
pub fn confirm(s: &Settings, yes: bool, question: &str) -> Result<(), Failure> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !s.tty {
        return Err(Failure::User(format!("{question}: refusing without a terminal to ask on; pass --yes to proceed")));
    }
    err!("{question}? Only 'yes' will be accepted: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Failure::Unexpected(e.into()))?;
    if answer.trim() == "yes" { Ok(()) } else { Err(Failure::User("cancelled".into())) }
}

#[cfg(test)]
mod colour_tests {
    #[test]
    fn no_color_is_any_non_empty_value() {
        use super::no_color_env;
        assert!(!no_color_env(None));
        assert!(!no_color_env(Some("".into())));
        assert!(no_color_env(Some("1".into())));
        assert!(no_color_env(Some("0".into())), "no-color.org: regardless of its value");
    }
}
