use super::out::{errln, out, outln};
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::apply::Locked;
use super::common::{
    Failure, Settings, backend_for, check_identity, check_region, cx, graph_or_report, load_stack_to_apply,
    param_overrides, plan_live,
};
use crate::plan::{Action, COMMENT_LIMIT, Plan, render_human, render_json, render_markdown};
use crate::state::State;
use crate::value::Value;

/// A plan saved by `plan --out`: the stack as it was, the params given (secret ones left out:
/// they must be given again, and must match `secret_digests`), and the exact changes. Applied
/// only against the same state.
#[derive(Serialize, Deserialize)]
pub struct PlanFile {
    pub format_version: u32,
    pub kind: String,
    pub stack_file: String,
    pub source: String,
    pub params: BTreeMap<String, String>,
    /// By secret param: a digest of the value planned with, under the state's key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_digests: BTreeMap<String, Value>,
    pub plan: Plan,
}

pub const PLAN_FILE_KIND: &str = "rprov-plan";

/// What `rprov plan` writes, besides the plan on stdout.
pub struct Args<'a> {
    pub out: Option<&'a Path>,
    pub json: bool,
    pub markdown: Option<&'a Path>,
    pub detailed_exitcode: bool,
}

pub async fn run(s: &Settings, path: &Path, args: Args<'_>) -> Result<u8, Failure> {
    let Args { out, json, markdown, detailed_exitcode: detailed } = args;
    let stack = super::imports::bind(s, load_stack_to_apply(s, path)?, super::imports::Mode::Bind).await?;
    check_region(s, &stack).await?;
    let graph = graph_or_report(&stack)?;
    let backend = backend_for(s, &stack, &stack.name)?;
    let mut state = backend.read().await?;
    let cx = cx(s, &stack).await;
    let account = check_identity(&cx, &stack, state.as_ref(), backend.as_ref()).await?;
    if out.is_some() && state.is_none() {
        // A saved plan is bound to a state (its lineage, serial and digest key): a new stack's
        // state is made now, empty, rather than kept in the plan file with its key.
        let lock = Locked::take(backend.clone(), "plan --out").await?;
        let mut new = State::new(&stack.name, &stack.region);
        new.account_id = Some(account);
        new.serial = 1;
        let written = backend.write(&new).await;
        lock.release().await;
        written?;
        errln!(
            "Created the (empty) state of stack `{}` at {}, which the saved plan is bound to.",
            stack.name,
            backend.describe()
        );
        state = Some(new);
    }
    let mut stack = stack;
    super::common::bind_local(&mut stack, state.as_ref())?;
    let p = plan_live(&cx, &stack, &graph, state.as_ref()).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&render_json(&p)).unwrap_or_default());
    } else {
        out!("{}", render_human(&p, &crate::kinds::KINDS, s.color));
    }
    if let Some(md) = markdown {
        std::fs::write(md, render_markdown(&p, &crate::kinds::KINDS, COMMENT_LIMIT))
            .map_err(|e| Failure::User(format!("cannot write {}: {e}", md.display())))?;
    }
    if let Some(out) = out {
        let secret: Vec<&str> = stack.params.values().filter(|p| p.secret).map(|p| p.name.as_str()).collect();
        let params = param_overrides(s)?.into_iter().filter(|(k, _)| !secret.contains(&k.as_str())).collect();
        let key = state.as_ref().map(|st| st.secret_key.as_str()).unwrap_or_default();
        let secret_digests = stack
            .params
            .values()
            .filter(|p| p.secret)
            .map(|p| (p.name.clone(), crate::state::digest(key, &p.value)))
            .collect();
        let file = PlanFile {
            secret_digests,
            format_version: 1,
            kind: PLAN_FILE_KIND.into(),
            stack_file: path.display().to_string(),
            source: stack.source.text.clone(),
            params,
            plan: p.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| Failure::Unexpected(e.into()))?;
        crate::store::write_atomic(out, &bytes)
            .map_err(|e| Failure::User(format!("cannot write plan to {}: {e}", out.display())))?;
        if !json {
            outln!(
                "\nSaved the plan to {}. Apply exactly these actions with: rprov apply {}",
                out.display(),
                out.display()
            );
        }
    }
    let conflicts = p.changes.iter().filter(|c| c.action == Action::Conflict).count();
    if conflicts > 0 {
        return Err(Failure::User(format!(
            "{conflicts} resource(s) would take over something rprov did not create (marked `!` above): apply refuses this plan"
        )));
    }
    Ok(if detailed && p.has_changes() { 2 } else { 0 })
}
