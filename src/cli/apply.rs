use super::out::{errln, out, outln};
use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;

use super::common::{
    Failure, Settings, backend_for, check_identity, check_region, confirm, cx, graph_or_report, inputs, load_stack,
    load_stack_to_apply, param_overrides, plan_live, refresh, stack_or_report,
};
use super::imports::{self, Mode};
use super::plan::{PLAN_FILE_KIND, PlanFile};
use super::progress::printer;
use crate::apply::{ApplyConfig, Outcome, execute};
use crate::graph::Graph;
use crate::plan::{self, Action, Change, Plan, render_human};
use crate::stack::{self, Ref, Source, Stack};
use crate::state::State;
use crate::store::{LockInfo, StateBackend};
use crate::value::Value;

enum Target {
    Stack(Stack),
    Saved(Stack, Box<PlanFile>),
}

async fn load_target(s: &Settings, path: &Path) -> Result<Target, Failure> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Failure::User(format!("cannot read {}: {e}", path.display())))?;
    if text.trim_start().starts_with('{')
        && let Ok(file) = serde_json::from_str::<PlanFile>(&text)
    {
        if file.kind != PLAN_FILE_KIND || file.format_version != 1 {
            return Err(Failure::User(format!(
                "{} is not an rprov plan of a format this version understands",
                path.display()
            )));
        }
        let mut params = file.params.clone();
        params.extend(param_overrides(s)?);
        let stack = stack_or_report(stack::load_with(
            &crate::kinds::KINDS,
            Source::new(&file.stack_file, file.source.clone()),
            &inputs(s, params)?,
        ))?;
        let stack = imports::bind(s, stack, Mode::Bind).await?;
        let now = crate::plan::imports_of(&stack);
        if now != file.plan.imports {
            return Err(Failure::User(
                "stale plan: outputs of an imported stack changed since the plan was made; run `rprov plan` again"
                    .into(),
            ));
        }
        return Ok(Target::Saved(stack, Box::new(file)));
    }
    Ok(Target::Stack(imports::bind(s, load_stack_to_apply(s, path)?, Mode::Bind).await?))
}

/// Holds the state lock until `release`. While held it is also listed in [`HELD`], so that a
/// second Ctrl-C, which leaves at once, still releases it.
pub(super) struct Locked {
    backend: Arc<dyn StateBackend>,
    info: LockInfo,
}

/// State locks this process holds.
static HELD: std::sync::Mutex<Vec<(Arc<dyn StateBackend>, LockInfo)>> = std::sync::Mutex::new(Vec::new());

fn held() -> std::sync::MutexGuard<'static, Vec<(Arc<dyn StateBackend>, LockInfo)>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

impl Locked {
    pub(super) async fn take(backend: Arc<dyn StateBackend>, op: &str) -> Result<Locked, Failure> {
        let info = LockInfo::new(op);
        backend.lock(&info).await?;
        held().push((backend.clone(), info.clone()));
        Ok(Locked { backend, info })
    }
    pub(super) async fn release(self) {
        held().retain(|(_, i)| i.id != self.info.id);
        let _ = self.backend.unlock(&self.info).await;
    }
}

/// The first Ctrl-C stops starting operations and lets running ones finish and be recorded.
/// A second one leaves at once: what finished is in state already; an operation cut short may
/// have made a resource the state does not name (`rprov teardown` finds it by its tags). The
/// state lock is released first, as no writer is left.
pub(super) fn cancel_on_ctrl_c() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send(true);
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            let locks = std::mem::take(&mut *held());
            for (backend, info) in locks {
                let released = tokio::time::timeout(std::time::Duration::from_secs(5), backend.unlock(&info)).await;
                if !matches!(released, Ok(Ok(()))) {
                    errln!(
                        "the state lock of {} is still held; release it with `rprov force-unlock {}`",
                        backend.describe(),
                        info.id
                    );
                }
            }
            errln!("Interrupted twice: stopped without waiting for running operations.");
            std::process::exit(130);
        }
    });
    rx
}

pub async fn run(s: &Settings, path: &Path, yes: bool, parallelism: usize) -> Result<u8, Failure> {
    let target = load_target(s, path).await?;
    let stack = match &target {
        Target::Stack(st) | Target::Saved(st, _) => st.clone(),
    };
    check_region(s, &stack).await?;
    let graph = graph_or_report(&stack)?;
    let backend = backend_for(s, &stack, &stack.name)?;
    let lock = Locked::take(backend.clone(), "apply").await?;
    let result = apply_locked(s, stack, &graph, target, backend, yes, parallelism).await;
    lock.release().await;
    result
}

async fn apply_locked(
    s: &Settings,
    stack: Stack,
    graph: &Graph,
    target: Target,
    backend: Arc<dyn StateBackend>,
    yes: bool,
    parallelism: usize,
) -> Result<u8, Failure> {
    let state = backend.read().await?;
    let mut stack = stack;
    let bound = super::common::bind_local(&mut stack, state.as_ref())?;
    let cx = cx(s, &stack).await;
    let account = check_identity(&cx, &stack, state.as_ref(), backend.as_ref()).await?;
    let cx = Arc::new(cx.with_account(&account));
    let saved = matches!(target, Target::Saved(..));
    let (plan, mut state) = match target {
        Target::Saved(_, file) => {
            let Some(state) = state else {
                return Err(Failure::User(
                    "stale plan: it was made before the stack had a state, and a saved plan now needs one; run `rprov plan --out` again".into(),
                ));
            };
            let now = (Some(state.lineage.clone()), Some(state.serial));
            if (file.plan.lineage.clone(), file.plan.serial) != now {
                return Err(Failure::User(format!(
                    "stale plan: it was made against state serial {:?} and the state is now at {:?}; run `rprov plan` again",
                    file.plan.serial, now.1
                )));
            }
            check_secrets_as_planned(&stack, &file, &state)?;
            check_local_as_planned(&stack, &bound, &file.plan, &state)?;
            out!("{}", render_human(&file.plan, &crate::kinds::KINDS, s.color));
            (file.plan, state)
        }
        Target::Stack(_) => {
            let state = state.unwrap_or_else(|| State::new(&stack.name, &stack.region));
            let plan = plan_live(&cx, &stack, graph, Some(&state)).await?;
            out!("{}", render_human(&plan, &crate::kinds::KINDS, s.color));
            refuse_conflicts(&plan)?;
            if plan.has_changes() {
                confirm(s, yes, &format!("Apply these changes to stack `{}`", stack.name))?;
            }
            (plan, state)
        }
    };
    refuse_conflicts(&plan)?;
    if plan.has_changes() && (state.serial == 0 || state.account_id.is_none()) {
        // Recorded before the first create: a run killed before its first checkpoint leaves a
        // lineage (its resources carry it) that the next run adopts by, not a new one.
        state.account_id = Some(account);
        state.serial += 1;
        backend.write(&state).await?;
    }
    let (state, outcome) = run_plan(s, cx, &stack, &plan, state, backend.clone(), parallelism, saved).await?;
    let state = record_outputs(&stack, state, backend.as_ref()).await?;
    finish(&outcome, "Apply")?;
    let state = record_imports(s, &stack, state, backend.as_ref(), true).await?;
    if !state.outputs.is_empty() {
        outln!("\nOutputs:");
        for (k, v) in &state.outputs {
            outln!("  {k} = {v}");
        }
    }
    Ok(0)
}

/// A plan with conflicts (something rprov does not own holds a resource's identity) is never
/// applied, not even in part.
fn refuse_conflicts(plan: &Plan) -> Result<(), Failure> {
    let conflicts: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Conflict)
        .map(|c| format!("  {}: {}", c.id, c.reason.as_deref().unwrap_or("conflict")))
        .collect();
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(Failure::User(format!(
        "{} resource(s) would take over something rprov did not create; nothing was changed:\n{}",
        conflicts.len(),
        conflicts.join("\n")
    )))
}

/// The secret params given to apply a saved plan must be the ones it was planned with: their
/// digests (under the state's key) are in the plan file, the values are not.
fn check_secrets_as_planned(stack: &Stack, file: &PlanFile, state: &State) -> Result<(), Failure> {
    for p in stack.params.values().filter(|p| p.secret) {
        let Some(planned) = file.secret_digests.get(&p.name) else { continue };
        if !crate::state::digest_matches(&state.secret_key, planned, &p.value) {
            return Err(Failure::User(format!(
                "secret param `{}` differs from the value this plan was made with; nothing was changed.\n  Give the same value again (--param, RPROV_PARAM_{}, --param-file), or run `rprov plan` again",
                p.name, p.name
            )));
        }
    }
    Ok(())
}

/// A saved plan sends what it showed: each value computed from local files (an image's digest)
/// must be what the plan was made with (its change's new value, or the recorded one), unless
/// the plan left it to apply (an image built then).
fn check_local_as_planned(
    stack: &Stack,
    bound: &[(String, String)],
    plan: &Plan,
    state: &State,
) -> Result<(), Failure> {
    for (id, prop) in bound {
        let Some(crate::expr::Expr::Lit(now)) = stack.resources.get(id).and_then(|r| r.props.get(prop)) else {
            continue;
        };
        let change = plan.changes.iter().find(|c| &c.id == id);
        let planned = match change.and_then(|c| c.diffs.iter().find(|d| &d.name == prop)) {
            Some(d) => d.after.clone(),
            None => state.resources.get(id).and_then(|r| r.properties.get(prop)).cloned(),
        };
        match planned {
            Some(Value::Unknown) => {}
            Some(p) if p == *now => {}
            p => {
                let was = p.map_or("(none)".to_owned(), |v| v.to_string());
                return Err(Failure::User(format!(
                    "stale plan: `{id}`'s {prop} is {now} now, but the plan was made with {was} (its local files changed); nothing was changed. Run `rprov plan` again"
                )));
            }
        }
    }
    Ok(())
}

// Each input is a different party's; `saved`: the plan was not refreshed in this run.
#[allow(clippy::too_many_arguments)]
async fn run_plan(
    s: &Settings,
    cx: Arc<crate::aws::Cx>,
    stack: &Stack,
    plan: &Plan,
    state: State,
    backend: Arc<dyn StateBackend>,
    parallelism: usize,
    saved: bool,
) -> Result<(State, Outcome), Failure> {
    if !plan.has_changes() {
        return Ok((state, Outcome::default()));
    }
    let p = printer(s.color, s.tty);
    let status = p.progress.clone();
    let cx = Arc::new(rebuild_cx_with_status(cx, status));
    let cfg = apply_config(s, parallelism, saved);
    let started = std::time::Instant::now();
    let (state, outcome) =
        execute(cx, stack, plan, state, backend, cfg, p.progress.clone(), cancel_on_ctrl_c()).await?;
    outln!(
        "\n{} operation(s) done in {:.1}s, {} failed, {} skipped, {} retried call(s).",
        outcome.done.len(),
        started.elapsed().as_secs_f64(),
        outcome.failed.len(),
        outcome.skipped.len(),
        outcome.retries
    );
    print_retries(&outcome);
    Ok((state, outcome))
}

/// The executor's settings for this run.
pub(super) fn apply_config(s: &Settings, parallelism: usize, lookup_before_create: bool) -> ApplyConfig {
    let mut cfg = ApplyConfig { parallelism: parallelism.max(1), lookup_before_create, ..ApplyConfig::default() };
    if let Some(w) = s.lost_create_window {
        cfg.retry.lost_create_window = w;
    }
    cfg
}

/// Which resources needed retries and why (the last error each met).
pub(super) fn print_retries(outcome: &Outcome) {
    for (id, (n, why)) in &outcome.retried {
        outln!("  {id}: {n} retried call(s); last: {why}");
    }
}

pub(super) fn rebuild_cx_with_status(cx: Arc<crate::aws::Cx>, progress: crate::apply::Progress) -> crate::aws::Cx {
    cx.for_operations(Arc::new(move |id: &str, msg: &str| progress(crate::apply::Event::Status { id, message: msg })))
}

fn finish(o: &Outcome, what: &str) -> Result<(), Failure> {
    if o.interrupted {
        return Err(Failure::User(format!(
            "{what} interrupted; state records everything that finished. Run it again to continue."
        )));
    }
    if !o.ok() {
        let list: Vec<String> = o.failed.iter().map(|(id, e)| format!("  {id}: {e}")).collect();
        return Err(Failure::User(format!("{what} failed:\n{}", list.join("\n"))));
    }
    Ok(())
}

/// After an apply: each imported stack's state names this one among its consumers (and stops
/// naming it once the import is gone); this state remembers where those states are.
async fn record_imports(
    s: &Settings,
    stack: &Stack,
    mut state: State,
    backend: &dyn StateBackend,
    present: bool,
) -> Result<State, Failure> {
    if stack.imports.is_empty() && state.imports.is_empty() {
        return Ok(state);
    }
    let now = imports::record_consumer(s, stack, &state.imports, present).await;
    if now != state.imports {
        state.imports = now;
        state.serial += 1;
        backend.write(&state).await?;
    }
    Ok(state)
}

async fn record_outputs(stack: &Stack, mut state: State, backend: &dyn StateBackend) -> Result<State, Failure> {
    let lookup = |r: &Ref| {
        state.resources.get(&r.target).and_then(|rs| rs.attributes.get(&r.attr)).cloned().unwrap_or(Value::Unknown)
    };
    let outputs: std::collections::BTreeMap<String, Value> =
        stack.outputs.iter().map(|(k, e)| (k.clone(), e.resolve(&lookup))).collect();
    if outputs != state.outputs {
        state.outputs = outputs;
        state.serial += 1;
        backend.write(&state).await?;
    }
    Ok(state)
}

pub async fn destroy(s: &Settings, path: &Path, yes: bool, parallelism: usize) -> Result<u8, Failure> {
    let stack = load_stack(s, path)?;
    check_region(s, &stack).await?;
    let backend = backend_for(s, &stack, &stack.name)?;
    let lock = Locked::take(backend.clone(), "destroy").await?;
    let result = destroy_locked(s, &stack, backend, yes, parallelism).await;
    lock.release().await;
    result
}

async fn destroy_locked(
    s: &Settings,
    stack: &Stack,
    backend: Arc<dyn StateBackend>,
    yes: bool,
    parallelism: usize,
) -> Result<u8, Failure> {
    let Some(state) = backend.read().await? else {
        outln!("Stack `{}` has no state: nothing to destroy.", stack.name);
        return Ok(0);
    };
    let cx = cx(s, stack).await;
    let account = check_identity(&cx, stack, Some(&state), backend.as_ref()).await?;
    let cx = Arc::new(cx.with_account(&account));
    let mut empty = stack.clone();
    empty.resources.clear();
    empty.outputs.clear();
    let live = refresh(&cx, &empty, Some(&state)).await?;
    let graph = graph_or_report(&empty)?;
    let plan = plan::plan(&empty, &graph, Some(&state), &live);
    out!("{}", render_human(&plan, &crate::kinds::KINDS, s.color));
    let consumers = (!state.consumers.is_empty()).then(|| imports::consumers_text(&state.consumers));
    if let Some(c) = &consumers {
        errln!("warning: stack `{}` is imported by {c}; their next plan fails until it is applied again", stack.name);
    }
    if !plan.has_changes() && consumers.is_none() {
        record_imports(s, stack, state, backend.as_ref(), false).await?;
        return Ok(0);
    }
    let question = match &consumers {
        Some(c) => format!("Destroy every resource of stack `{}` although {c} import it", stack.name),
        None => format!("Destroy every resource of stack `{}`", stack.name),
    };
    confirm(s, yes, &question)?;
    let (mut state, outcome) = run_plan(s, cx, &empty, &plan, state, backend.clone(), parallelism, false).await?;
    finish(&outcome, "Destroy")?;
    state.outputs.clear();
    state.serial += 1;
    backend.write(&state).await?;
    record_imports(s, stack, state, backend.as_ref(), false).await?;
    let deleted = plan.changes.iter().filter(|c: &&Change| c.action == Action::Delete).count();
    outln!("Destroyed {deleted} resource(s) of stack `{}`.", stack.name);
    Ok(0)
}

/// `apply --refresh-only`: the state takes the live values; AWS is not touched.
pub async fn refresh_only(s: &Settings, path: &Path, yes: bool) -> Result<u8, Failure> {
    let stack = load_stack(s, path)?;
    check_region(s, &stack).await?;
    let backend = backend_for(s, &stack, &stack.name)?;
    let lock = Locked::take(backend.clone(), "apply -refresh-only").await?;
    let result = async {
        let Some(state) = backend.read().await? else {
            outln!("Stack `{}` has no state: nothing to refresh.", stack.name);
            return Ok(0);
        };
        let cx = cx(s, &stack).await;
        check_identity(&cx, &stack, Some(&state), backend.as_ref()).await?;
        let live = refresh(&cx, &stack, Some(&state)).await?;
        let report = crate::drift::detect(&stack, &state, &live, &super::drift::read_ignore(path)?, false);
        if report.changed() + report.missing() == 0 {
            outln!("No drift to accept.");
            return Ok(0);
        }
        out!("{}", crate::drift::markdown(&report, stack.kinds));
        confirm(s, yes, "Accept these live values into the state (AWS is not changed)")?;
        let mut next = crate::drift::accept(&state, &report);
        next.serial = state.serial + 1;
        backend.write(&next).await?;
        outln!("State updated: {} changed and {} missing resource(s) accepted.", report.changed(), report.missing());
        Ok(0)
    }
    .await;
    lock.release().await;
    result
}
