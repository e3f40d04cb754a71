//! `rprov drift`: refresh-only comparison of AWS with the state. Read-only: takes no lock.

use super::out::{out, outln};
use std::path::Path;

use super::common::{
    Failure, Settings, backend_for, check_identity, check_region, cx, graph_or_report, load_stack, refresh,
};
use crate::drift::{self, Ignore, Report, Status};
use crate::plan;

pub async fn run(s: &Settings, path: &Path, json: bool, markdown: Option<&Path>) -> Result<u8, Failure> {
    let stack = load_stack(s, path)?;
    check_region(s, &stack).await?;
    let backend = backend_for(s, &stack, &stack.name)?;
    let state = backend.read().await?.ok_or_else(|| {
        Failure::User(format!("stack `{}` has no state: nothing was applied, so nothing can drift", stack.name))
    })?;
    let ignore = read_ignore(path)?;
    let cx = cx(s, &stack).await;
    check_identity(&cx, &stack, Some(&state), backend.as_ref()).await?;
    let live = refresh(&cx, &stack, Some(&state)).await?;
    let graph = graph_or_report(&stack)?;
    // Whether the stack file has changes not applied yet: local inputs (an image archive) as
    // planning sees them, or as recorded where this checkout has not built them.
    let mut stack = stack;
    let base = super::common::stack_dir(&stack);
    let _ = crate::kinds::bind_local(&mut stack, &base, Some(&state), true);
    let unapplied = plan::plan(&stack, &graph, Some(&state), &drift::recorded_as_live(&state)).has_changes();
    let report = drift::detect(&stack, &state, &live, &ignore, unapplied);
    if json {
        outln!("{}", serde_json::to_string_pretty(&report).map_err(|e| Failure::Unexpected(e.into()))?);
    } else {
        out!("{}", human(&report, stack.kinds, s.color));
    }
    if let Some(md) = markdown {
        std::fs::write(md, drift::markdown(&report, stack.kinds))
            .map_err(|e| Failure::User(format!("cannot write {}: {e}", md.display())))?;
    }
    Ok(if report.has_drift() { 2 } else { 0 })
}

/// `.rprovignore` beside the stack file, if there is one.
pub fn read_ignore(stack_path: &Path) -> Result<Ignore, Failure> {
    let file = stack_path.parent().unwrap_or(Path::new(".")).join(".rprovignore");
    match std::fs::read_to_string(&file) {
        Ok(text) => Ignore::parse(&text).map_err(Failure::User),
        Err(_) => Ok(Ignore::default()),
    }
}

fn human(r: &Report, kinds: &dyn crate::spec::Catalog, color: bool) -> String {
    let mut out = String::new();
    for res in &r.resources {
        match &res.status {
            Status::InSync => {}
            Status::Missing => {
                out += &format!("- {} ({}) {}: missing — deleted outside rprov\n", res.id, res.kind, res.physical_id)
            }
            Status::Changed { properties } => {
                out += &format!("~ {} ({}) {}: changed\n", res.id, res.kind, res.physical_id);
                for p in properties {
                    let note = if p.ignored { "  # (ignored)" } else { "" };
                    let shape = crate::delta::Shape::of_property(kinds, &res.kind, &p.name);
                    out += &plan::property_change(&p.name, &p.recorded, &p.live, shape, note, color);
                }
            }
        }
    }
    for u in &r.unmanaged {
        out += &format!(
            "? {} {} (rprov:id={}): unmanaged — tagged with this stack but not in its state\n",
            u.kind,
            u.physical_id,
            u.id.as_deref().unwrap_or("-")
        );
    }
    for (lineage, n) in &r.other_deployments {
        out += &format!(
            "  {n} resource(s) tagged with stack `{}` belong to another deployment (lineage {lineage}): not drift, left alone\n",
            r.stack
        );
    }
    if r.has_drift() {
        out +=
            &format!("\nDrift: {} changed, {} missing, {} unmanaged.\n", r.changed(), r.missing(), r.unmanaged.len());
    } else {
        out += &format!("No drift: stack `{}` matches what rprov last applied.\n", r.stack);
    }
    if r.stack_file_has_unapplied_changes {
        out += "Note: the stack file has changes that were never applied (not drift; see `rprov plan`).\n";
    }
    out
}
