use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::common::{Failure, Settings, backend_for, cx, load_stack, param_overrides, refresh};
use crate::graph::Graph;
use crate::plan::{self, Plan, render_human, render_json};

/// A plan saved by `plan --out`: the stack as it was, the params given (secret ones left out:
/// they must be given again), and the exact changes. Applied only against the same state.
#[derive(Serialize, Deserialize)]
pub struct PlanFile {
    pub format_version: u32,
    pub kind: String,
    pub stack_file: String,
    pub source: String,
    pub params: BTreeMap<String, String>,
    pub plan: Plan,
}

pub const PLAN_FILE_KIND: &str = "rprov-plan";

pub async fn run(s: &Settings, path: &Path, out: Option<&Path>, json: bool, detailed: bool) -> Result<u8, Failure> {
    let stack = super::imports::bind(s, load_stack(s, path)?, super::imports::Mode::Bind).await?;
    let graph = Graph::build(&stack).map_err(|d| super::common::report(Some(&stack.source), &d))?;
    let state = backend_for(s, &stack, &stack.name)?.read().await?;
    let cx = cx(s, &stack).await;
    let live = refresh(&cx, &stack, state.as_ref()).await?;
    let p = plan::plan(&stack, &graph, state.as_ref(), &live);
    if json {
        println!("{}", serde_json::to_string_pretty(&render_json(&p)).unwrap_or_default());
    } else {
        print!("{}", render_human(&p, s.color));
    }
    if let Some(out) = out {
        let secret: Vec<&str> = stack.params.values().filter(|p| p.secret).map(|p| p.name.as_str()).collect();
        let params = param_overrides(s)?.into_iter().filter(|(k, _)| !secret.contains(&k.as_str())).collect();
        let file = PlanFile {
            format_version: 1,
            kind: PLAN_FILE_KIND.into(),
            stack_file: path.display().to_string(),
            source: stack.source.text.clone(),
            params,
            plan: p.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| Failure::Unexpected(e.into()))?;
        crate::state::write_atomic(out, &bytes)
            .map_err(|e| Failure::User(format!("cannot write plan to {}: {e}", out.display())))?;
        if !json {
            println!(
                "\nSaved the plan to {}. Apply exactly these actions with: rprov apply {}",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if detailed && p.has_changes() { 2 } else { 0 })
}
