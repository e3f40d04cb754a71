//! The executor: walks a plan as a DAG of operations, starting each the moment its own
//! dependencies finish, at most `parallelism` at once; checkpoints state after every completed
//! operation; skips (and reports once) what depends on a failure. It knows no kind.

mod policy;

pub use policy::{Decision, RetryBudget, error_policy};

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::aws::{AwsError, Cx};
use crate::kinds::{CreateReq, DeleteReq, KINDS, Kind, Kinds, Live, Tags, UpdateReq};
use crate::plan::{Action, Change, Plan, desired_props};
use crate::schema::KindSchema;
use crate::stack::{Ref, Stack};
use crate::state::{ResourceState, State, digest};
use crate::store::{StateBackend, StateError};
use crate::value::{Props, Value};

#[derive(Clone, Debug)]
pub struct ApplyConfig {
    pub parallelism: usize,
    pub retry: RetryBudget,
    /// The plan was not made from a refresh in this run (a saved plan): a resource an earlier
    /// run created but never recorded (it was killed before its checkpoint) was not seen, so a
    /// create without an idempotency token looks for it by its ownership tags first.
    pub lookup_before_create: bool,
    /// The kinds whose operations run the plan's changes: every kind rprov knows, or fakes in
    /// the executor's own tests.
    pub kinds: &'static Kinds,
}

impl Default for ApplyConfig {
    fn default() -> Self {
        ApplyConfig { parallelism: 32, retry: RetryBudget::default(), lookup_before_create: false, kinds: &KINDS }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Delete,
    Up(Action),
}

impl Step {
    pub fn verb(self) -> &'static str {
        match self {
            Step::Delete => "delete",
            Step::Up(Action::Create) | Step::Up(Action::Replace) => "create",
            Step::Up(Action::Update) => "update",
            Step::Up(Action::Adopt) => "adopt",
            Step::Up(_) => "read",
        }
    }
}

/// What the executor tells the outside world; rendering is the CLI's business.
#[derive(Debug)]
pub enum Event<'a> {
    Started {
        id: &'a str,
        step: Step,
    },
    Status {
        id: &'a str,
        message: &'a str,
    },
    /// `error` is the AWS error's text with secret params' values masked.
    Retrying {
        id: &'a str,
        step: Step,
        error: &'a str,
        after: Duration,
    },
    Done {
        id: &'a str,
        step: Step,
        elapsed: Duration,
        physical_id: Option<&'a str>,
    },
    Failed {
        id: &'a str,
        step: Step,
        error: &'a str,
    },
    Skipped {
        id: &'a str,
        because: &'a str,
    },
    Interrupted {
        in_flight: usize,
    },
}

pub type Progress = Arc<dyn Fn(Event<'_>) + Send + Sync>;

#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<(String, Step)>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<String>,
    pub interrupted: bool,
    /// Operations that would have run but did not start (interrupted).
    pub not_started: usize,
    pub retries: usize,
    /// Retried calls per logical id, with the last error that caused one.
    pub retried: std::collections::BTreeMap<String, (usize, String)>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && !self.interrupted
    }
}

struct Node {
    id: String,
    step: Step,
    change: usize,
}

struct Shared {
    cx: Arc<Cx>,
    stack: Stack,
    plan: Plan,
    state: Mutex<State>,
    backend: Arc<dyn StateBackend>,
    attrs: Mutex<HashMap<String, Props>>,
    cfg: ApplyConfig,
    progress: Progress,
    retries: Mutex<std::collections::BTreeMap<String, (usize, String)>>,
    /// The serial last written to the backend.
    written: tokio::sync::Mutex<u64>,
    /// What each kind's describe showed the first time this run looked (for
    /// `lookup_before_create`): resources of earlier runs, read once per kind.
    before_run: tokio::sync::Mutex<HashMap<&'static str, Arc<Vec<Live>>>>,
}

/// The operations of a plan and the order constraints between them.
fn build_nodes(stack: &Stack, plan: &Plan, state: &State) -> (Vec<Node>, Vec<Vec<usize>>) {
    let mut nodes = Vec::new();
    let mut del_of: HashMap<&str, usize> = HashMap::new();
    let mut up_of: HashMap<&str, usize> = HashMap::new();
    for (ci, c) in plan.changes.iter().enumerate() {
        if matches!(c.action, Action::Delete | Action::Replace) {
            del_of.insert(&c.id, nodes.len());
            nodes.push(Node { id: c.id.clone(), step: Step::Delete, change: ci });
        }
        if c.action != Action::Delete {
            up_of.insert(&c.id, nodes.len());
            nodes.push(Node { id: c.id.clone(), step: Step::Up(c.action), change: ci });
        }
    }
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        let c = &plan.changes[n.change];
        match n.step {
            Step::Up(_) => {
                if let Some(r) = stack.resources.get(&n.id) {
                    deps[i].extend(r.dependencies().iter().filter_map(|d| up_of.get(d.as_str())));
                }
                if let Some(&d) = del_of.get(n.id.as_str()) {
                    deps[i].push(d);
                }
            }
            Step::Delete => {
                // Whatever was recorded as depending on this resource goes (or lets go) first.
                for (other, rec) in &state.resources {
                    if other == &n.id || !rec.depends_on.iter().any(|d| d == &n.id) {
                        continue;
                    }
                    if let Some(&d) = del_of.get(other.as_str()) {
                        deps[i].push(d);
                    } else if c.action == Action::Delete
                        && let Some(&u) = up_of.get(other.as_str())
                    {
                        deps[i].push(u);
                    }
                }
            }
        }
        deps[i].sort_unstable();
        deps[i].dedup();
    }
    (nodes, deps)
}

/// Applies `plan`. State is written through `backend` after every completed operation; the
/// final state is returned with what happened. Sending `true` on `cancel` stops new work.
// Eight inputs, each a different party's (AWS, stack, plan, state, backend, tuning, progress,
// cancellation): a struct of them would only rename the call.
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    cx: Arc<Cx>,
    stack: &Stack,
    plan: &Plan,
    state: State,
    backend: Arc<dyn StateBackend>,
    cfg: ApplyConfig,
    progress: Progress,
    mut cancel: watch::Receiver<bool>,
) -> Result<(State, Outcome), StateError> {
    let (nodes, deps) = build_nodes(stack, plan, &state);
    let mut attrs = HashMap::new();
    for c in &plan.changes {
        if matches!(c.action, Action::NoOp | Action::Update | Action::Adopt) {
            attrs.insert(c.id.clone(), c.attrs.clone());
        }
    }
    let shared = Arc::new(Shared {
        cx,
        stack: stack.clone(),
        plan: plan.clone(),
        state: Mutex::new(state),
        backend,
        attrs: Mutex::new(attrs),
        cfg: cfg.clone(),
        progress: progress.clone(),
        retries: Mutex::new(Default::default()),
        written: tokio::sync::Mutex::new(0),
        before_run: tokio::sync::Mutex::new(HashMap::new()),
    });
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: VecDeque<usize> = (0..nodes.len()).filter(|&i| waiting[i] == 0).collect();
    let mut skipped = vec![false; nodes.len()];
    let mut outcome = Outcome::default();
    let mut running: JoinSet<(usize, Result<(), String>)> = JoinSet::new();
    let mut fatal: Option<StateError> = None;
    let nodes = Arc::new(nodes);
    let mut started = 0usize;
    loop {
        while running.len() < cfg.parallelism.max(1) && !outcome.interrupted && fatal.is_none() {
            let Some(i) = ready.pop_front() else { break };
            started += 1;
            let sh = shared.clone();
            let ns = nodes.clone();
            running.spawn(async move {
                let r = run_node(&sh, &ns[i]).await;
                (i, r)
            });
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => {
                let Some(joined) = joined else { break };
                let (i, result) = match joined {
                    Ok(x) => x,
                    Err(e) => {
                        outcome.failed.push(("(internal)".into(), format!("operation task failed: {e}")));
                        continue;
                    }
                };
                let n = &nodes[i];
                match result {
                    Ok(()) => {
                        outcome.done.push((n.id.clone(), n.step));
                        for &d in &dependents[i] {
                            waiting[d] -= 1;
                            if waiting[d] == 0 && !skipped[d] {
                                ready.push_back(d);
                            }
                        }
                    }
                    Err(msg) if msg.starts_with(STATE_FAILURE) => {
                        fatal = Some(StateError::Io(msg[STATE_FAILURE.len()..].to_owned()));
                        outcome.failed.push((n.id.clone(), msg));
                    }
                    Err(msg) => {
                        outcome.failed.push((n.id.clone(), msg));
                        // Everything downstream is skipped and reported once, naming the cause.
                        let mut stack_ = dependents[i].clone();
                        while let Some(d) = stack_.pop() {
                            if skipped[d] {
                                continue;
                            }
                            skipped[d] = true;
                            if !outcome.skipped.contains(&nodes[d].id) {
                                outcome.skipped.push(nodes[d].id.clone());
                                (progress)(Event::Skipped { id: &nodes[d].id, because: &n.id });
                            }
                            stack_.extend(dependents[d].iter().copied());
                        }
                    }
                }
            }
            changed = cancel.changed(), if !outcome.interrupted => {
                if changed.is_err() || *cancel.borrow() {
                    outcome.interrupted = true;
                    (progress)(Event::Interrupted { in_flight: running.len() });
                }
            }
        }
    }
    outcome.not_started = nodes.len() - started;
    outcome.retried = shared.retries.lock().unwrap_or_else(|e| e.into_inner()).clone();
    outcome.retries = outcome.retried.values().map(|(n, _)| n).sum();
    let state = shared.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match fatal {
        Some(e) => Err(e),
        None => Ok((state, outcome)),
    }
}

const STATE_FAILURE: &str = "state: ";

async fn run_node(sh: &Shared, n: &Node) -> Result<(), String> {
    let change = &sh.plan.changes[n.change];
    let start = Instant::now();
    if n.step == Step::Up(Action::NoOp) {
        return Ok(());
    }
    (sh.progress)(Event::Started { id: &n.id, step: n.step });
    let kind =
        sh.cfg.kinds.get(&change.kind).ok_or_else(|| format!("unknown resource type `{}` in state", change.kind))?;
    let result = match n.step {
        Step::Delete => delete(sh, kind, change).await,
        Step::Up(_) => up(sh, kind, change).await,
    };
    match result {
        Ok(pid) => {
            (sh.progress)(Event::Done {
                id: &n.id,
                step: n.step,
                elapsed: start.elapsed(),
                physical_id: pid.as_deref(),
            });
            Ok(())
        }
        Err(e) => {
            let msg = sh.stack.redact(e.to_string());
            (sh.progress)(Event::Failed { id: &n.id, step: n.step, error: &msg });
            Err(msg)
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum OpError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Input(String),
}

/// Calls `f` until it succeeds or the error policy gives up, reporting each retry.
async fn with_retries<T, F, Fut>(sh: &Shared, id: &str, step: Step, mut f: F) -> Result<T, AwsError>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    // Tokio's clock, as `create` uses: a test can run the in-use deadline on a paused clock.
    let start = tokio::time::Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) => match error_policy(&e, attempt, start.elapsed(), &sh.cfg.retry) {
                Decision::Retry(after) => {
                    note_retry(sh, id, step, &e, after);
                    tokio::time::sleep(after).await;
                }
                Decision::Fail => return Err(e),
            },
        }
    }
}

/// Counts a retry of `id` and reports it (the error's text with secrets masked).
fn note_retry(sh: &Shared, id: &str, step: Step, e: &AwsError, after: Duration) {
    let text = sh.stack.redact(e.to_string());
    {
        let mut retried = sh.retries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = retried.entry(id.to_owned()).or_default();
        entry.0 += 1;
        entry.1 = text.clone();
    }
    (sh.progress)(Event::Retrying { id, step, error: &text, after });
}

async fn delete(sh: &Shared, kind: &'static dyn Kind, change: &Change) -> Result<Option<String>, OpError> {
    let rec = sh.state.lock().unwrap_or_else(|e| e.into_inner()).resources.get(&change.id).cloned();
    if let (Some(rec), false) = (&rec, change.reason.as_deref().is_some_and(|r| r.starts_with("already gone"))) {
        let req =
            DeleteReq { id: &change.id, physical_id: &rec.physical_id, props: &rec.properties, attrs: &rec.attributes };
        with_retries(sh, &change.id, Step::Delete, |_| kind.delete(&sh.cx, &req)).await?;
    }
    checkpoint(sh, |s| {
        s.resources.remove(&change.id);
        s.next_generation(&change.id);
    })
    .await?;
    Ok(rec.map(|r| r.physical_id))
}

/// The idempotency token of one resource's create (see `State::create_token`).
fn token(sh: &Shared, id: &str) -> String {
    sh.state.lock().unwrap_or_else(|e| e.into_inner()).create_token(&sh.stack.name, id)
}

async fn up(sh: &Shared, kind: &'static dyn Kind, change: &Change) -> Result<Option<String>, OpError> {
    let r = sh
        .stack
        .resources
        .get(&change.id)
        .ok_or_else(|| OpError::Input(format!("`{}` is not in the stack", change.id)))?;
    let attrs = sh.attrs.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let lookup = |rf: &Ref| attrs.get(&rf.target).and_then(|a| a.get(&rf.attr)).cloned().unwrap_or(Value::Unknown);
    let lineage = sh.state.lock().unwrap_or_else(|e| e.into_inner()).lineage.clone();
    let (props, tags) = desired_props(&sh.stack, r, Some(&lineage), &lookup);
    // Unknown as written: a value the kind itself makes during the operation (`kinds::bind_local`:
    // the digest of an image built now). Any other unknown is a reference still unresolved.
    let made_now = |name: &str| matches!(r.props.get(name), Some(crate::expr::Expr::Lit(Value::Unknown)));
    if let Some((name, _)) = props.iter().find(|(n, v)| v.has_unknown() && !made_now(n)) {
        return Err(OpError::Input(format!("property `{name}` still depends on a value that is not known")));
    }
    let schema = kind.schema();
    let live: Live = match change.action {
        Action::Create | Action::Replace => {
            let stale = sh.state.lock().unwrap_or_else(|e| e.into_inner()).resources.contains_key(&change.id);
            if stale {
                // Recorded, but gone from AWS (deleted behind rprov's back): forgotten, and a new
                // generation, so the create cannot get the old resource's token (see `token`),
                // before anything is sent.
                checkpoint(sh, |s| {
                    s.resources.remove(&change.id);
                    s.next_generation(&change.id);
                })
                .await?;
            }
            let (live, adopted) = create(sh, kind, &change.id, &props, &tags).await?;
            if adopted { finish_adopted(sh, kind, &change.id, live, &props, &tags).await? } else { live }
        }
        Action::Update => {
            let pid = change.physical_id.clone().unwrap_or_default();
            let recorded = sh.state.lock().unwrap_or_else(|e| e.into_inner()).resources.get(&change.id).cloned();
            let mut old = recorded.as_ref().map(|r| r.properties.clone()).unwrap_or_default();
            let mut old_tags = recorded.as_ref().map(|r| r.tags.clone()).unwrap_or_default();
            for d in &change.diffs {
                match (d.name.as_str(), &d.before) {
                    ("tags", Some(Value::Map(m))) => {
                        old_tags = m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect()
                    }
                    (name, Some(b)) => {
                        old.insert(name.to_owned(), b.clone());
                    }
                    _ => {}
                }
            }
            let changed: Vec<String> = change.diffs.iter().map(|d| d.name.clone()).collect();
            let req = UpdateReq {
                id: &change.id,
                physical_id: &pid,
                old: &old,
                new: &props,
                changed: &changed,
                old_tags: &old_tags,
                tags: &tags,
            };
            with_retries(sh, &change.id, Step::Up(Action::Update), |_| kind.update(&sh.cx, &req)).await?
        }
        _ => Live {
            physical_id: change.physical_id.clone().unwrap_or_default(),
            props: Props::new(),
            attrs: change.attrs.clone(),
            tags: tags.clone(),
        },
    };
    let pid = live.physical_id.clone();
    let mut attrs_now = change.attrs.clone();
    attrs_now.extend(live.attrs.clone());
    attrs_now.entry("id".into()).or_insert_with(|| Value::str(&pid));
    sh.attrs.lock().unwrap_or_else(|e| e.into_inner()).insert(change.id.clone(), attrs_now.clone());
    let key = sh.state.lock().unwrap_or_else(|e| e.into_inner()).secret_key.clone();
    let record = ResourceState {
        kind: schema.name.to_owned(),
        physical_id: pid.clone(),
        properties: recorded_props(schema, &r.sensitive, &key, &known_now(&props, &live.props)),
        attributes: attrs_now,
        tags,
        depends_on: r.dependencies(),
    };
    checkpoint(sh, |s| {
        s.resources.insert(change.id.clone(), record);
    })
    .await?;
    Ok(Some(pid))
}

/// A resource found by its tags after an ambiguous create may have stopped half-way (created,
/// but an attribute not yet set, e.g. a subnet's public-IP mapping): bring it the rest of the way.
/// Every property is either seen to match or applied again: one the kind's describe does not
/// report (a VPC's DNS attributes) is re-applied, as an update does, rather than assumed.
async fn finish_adopted(
    sh: &Shared,
    kind: &'static dyn Kind,
    id: &str,
    live: Live,
    props: &Props,
    tags: &Tags,
) -> Result<Live, OpError> {
    let schema = kind.schema();
    let mut current = live.props.clone();
    crate::plan::canonical(schema, &mut current);
    let sensitive = sh.stack.resources.get(id).map(|r| r.sensitive.clone()).unwrap_or_default();
    let key = sh.state.lock().unwrap_or_else(|e| e.into_inner()).secret_key.clone();
    let diffs: Vec<_> = crate::plan::diff(schema, &sensitive, &key, props, tags, &current, &live.tags)
        .into_iter()
        // Unreported and only settable at creation: it was sent in the create that made it.
        .filter(|d| live.props.contains_key(&d.name) || d.name == "tags" || !d.forces_replacement)
        .collect();
    if diffs.is_empty() {
        return Ok(live);
    }
    if let Some(d) = diffs.iter().find(|d| d.forces_replacement) {
        return Err(OpError::Input(format!(
            "{} was created with a different `{}`; delete it and apply again",
            live.physical_id, d.name
        )));
    }
    let changed: Vec<String> = diffs.iter().map(|d| d.name.clone()).collect();
    let req = UpdateReq {
        id,
        physical_id: &live.physical_id,
        old: &live.props,
        new: props,
        changed: &changed,
        old_tags: &live.tags,
        tags,
    };
    Ok(with_retries(sh, id, Step::Up(Action::Update), |_| kind.update(&sh.cx, &req)).await?)
}

/// Creates a resource without ever creating it twice, and returns it with whether it was found
/// by its ownership tags rather than made by this call. Where the API has no idempotency token,
/// a create that got no answer may still have made the resource: it is looked up by its tags,
/// again and again for `lost_create_window` (describes are eventually consistent, and the
/// request may still be in flight), and only sent again when it is still not there.
async fn create(
    sh: &Shared,
    kind: &'static dyn Kind,
    id: &str,
    props: &Props,
    tags: &Tags,
) -> Result<(Live, bool), OpError> {
    let token = token(sh, id);
    let req = CreateReq { id, props, tags, token: &token };
    let step = Step::Up(Action::Create);
    let looks_up = !kind.create_is_idempotent();
    if looks_up
        && sh.cfg.lookup_before_create
        && let Some(l) = made_before_run(sh, kind, id).await?
    {
        let message = format!("found {} made by an earlier run; adopting it", l.physical_id);
        (sh.progress)(Event::Status { id, message: &message });
        return Ok((l, true));
    }
    let start = tokio::time::Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match kind.create(&sh.cx, &req).await {
            Ok(l) => return Ok((l, false)),
            // A name taken: by this resource (made earlier, its answer lost), or by one rprov
            // does not own, which it never takes over.
            Err(AwsError::AlreadyExists(msg)) => match find_owned(sh, kind, id, props).await? {
                Some(l) => return Ok((l, true)),
                None => {
                    return Err(OpError::Aws(AwsError::AlreadyExists(format!(
                        "{msg} (it does not carry this stack's ownership tags: rprov does not take over what it did not create)"
                    ))));
                }
            },
            Err(e) => e,
        };
        let Decision::Retry(after) = error_policy(&err, attempt, start.elapsed(), &sh.cfg.retry) else {
            return Err(err.into());
        };
        note_retry(sh, id, step, &err, after);
        if err.is_ambiguous() && looks_up {
            if let Some(l) = look_for_lost(sh, kind, id, props).await? {
                let message = format!("found {} made by the request that got no answer; adopting it", l.physical_id);
                (sh.progress)(Event::Status { id, message: &message });
                return Ok((l, true));
            }
        } else {
            tokio::time::sleep(after).await;
        }
    }
}

/// Polls the ownership-tag lookup until the resource shows up or `lost_create_window` passes.
async fn look_for_lost(
    sh: &Shared,
    kind: &'static dyn Kind,
    id: &str,
    props: &Props,
) -> Result<Option<Live>, AwsError> {
    let window = sh.cfg.retry.lost_create_window;
    // Tokio's clock: a test can run the window on a paused clock.
    let start = tokio::time::Instant::now();
    let mut interval = Duration::from_millis(500);
    let message = format!(
        "no answer to the create; looking for what it may have made (for up to {}) before sending it again",
        humantime::format_duration(window)
    );
    (sh.progress)(Event::Status { id, message: &message });
    loop {
        if let Some(l) = find_owned(sh, kind, id, props).await? {
            return Ok(Some(l));
        }
        if start.elapsed() >= window {
            return Ok(None);
        }
        tokio::time::sleep(interval.min(window.saturating_sub(start.elapsed()))).await;
        interval = (interval * 2).min(Duration::from_secs(15));
    }
}

/// The resource of logical id `id` of this stack and lineage, if AWS shows one now. A kind
/// without tags (a DNS record) has its identity instead: what holds it with exactly the
/// content this create sends (`props`) is the create's own, its answer lost; the plan already
/// refused anything that held it before.
async fn find_owned(sh: &Shared, kind: &'static dyn Kind, id: &str, props: &Props) -> Result<Option<Live>, AwsError> {
    if let Some(pid) = kind.identity(props).filter(|_| !kind.schema().taggable) {
        let found = kind.read_many(&sh.cx, std::slice::from_ref(&pid)).await?;
        return Ok(found.into_iter().find(|l| {
            let mut seen = l.props.clone();
            crate::plan::canonical(kind.schema(), &mut seen);
            l.physical_id == pid && props.iter().all(|(k, v)| v.is_null() || seen.get(k).is_some_and(|s| s.same(v)))
        }));
    }
    let all = kind.read_many(&sh.cx, &[]).await?;
    Ok(pick_owned(sh, all.iter(), id))
}

fn pick_owned<'a>(sh: &Shared, mut all: impl Iterator<Item = &'a Live>, id: &str) -> Option<Live> {
    let lineage = sh.state.lock().unwrap_or_else(|e| e.into_inner()).lineage.clone();
    all.find(|l| l.owned_by(&sh.stack.name, Some(&lineage)) && l.logical_id() == Some(id)).cloned()
}

/// [`find_owned`] against what the kind's describe showed when this run first asked: resources
/// of earlier runs, read once per kind however many creates ask.
async fn made_before_run(sh: &Shared, kind: &'static dyn Kind, id: &str) -> Result<Option<Live>, AwsError> {
    let name = kind.schema().name;
    let mut seen = sh.before_run.lock().await;
    let all = match seen.get(name) {
        Some(all) => all.clone(),
        None => {
            let all = Arc::new(kind.read_many(&sh.cx, &[]).await?);
            seen.insert(name, all.clone());
            all
        }
    };
    drop(seen);
    Ok(pick_owned(sh, all.iter(), id))
}

/// What state keeps of a resource's properties: secrets as digests (under the state's `key`).
/// `props` with what was unknown until the operation (an image built during apply: its digest)
/// taken from the resource as read back.
fn known_now(props: &Props, live: &Props) -> Props {
    props
        .iter()
        .map(|(k, v)| match v {
            Value::Unknown => (k.clone(), live.get(k).cloned().unwrap_or(Value::Null)),
            v => (k.clone(), v.clone()),
        })
        .collect()
}

pub fn recorded_props(
    schema: &KindSchema,
    sensitive: &std::collections::BTreeSet<String>,
    key: &str,
    props: &Props,
) -> Props {
    props
        .iter()
        .map(|(k, v)| {
            let secret = crate::plan::is_secret(schema, sensitive, k);
            (k.clone(), if secret { digest(key, v) } else { v.clone() })
        })
        .collect()
}

async fn checkpoint(sh: &Shared, f: impl FnOnce(&mut State)) -> Result<(), OpError> {
    let mine = {
        let mut s = sh.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s);
        s.serial += 1;
        s.serial
    };
    // Group commit: one writer at a time writes the newest state; a checkpoint whose change a
    // later write already carried has nothing left to do.
    let mut written = sh.written.lock().await;
    if *written >= mine {
        return Ok(());
    }
    let latest = sh.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
    sh.backend.write(&latest).await.map_err(OpError::State)?;
    *written = latest.serial;
    Ok(())
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
