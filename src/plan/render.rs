//! A plan for people (like Terraform's: `+`, `~`, `-/+`, `-`) and for scripts (`--json`,
//! `format_version: 1`).

use std::fmt::Write;

use super::{Action, Change, Plan};
use crate::value::Value;

pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
    }
}

fn symbol(a: Action) -> (&'static str, &'static str) {
    match a {
        Action::Create => ("+", "32"),
        Action::Update => ("~", "33"),
        Action::Replace => ("-/+", "31"),
        Action::Delete => ("-", "31"),
        Action::Adopt => ("<=", "36"),
        Action::Conflict => ("!", "31;1"),
        Action::NoOp => (" ", "0"),
    }
}

fn shown(v: &Option<Value>, secret: bool) -> String {
    match v {
        _ if secret => "(sensitive)".into(),
        None => "null".into(),
        Some(v) => v.to_string(),
    }
}

fn change_block(out: &mut String, c: &Change, style: &Style) {
    let (sym, color) = symbol(c.action);
    let pid = c.physical_id.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
    let _ = writeln!(out, "  {} {} ({}){pid}", style.paint(color, sym), c.id, c.kind);
    if let Some(r) = &c.reason {
        let _ = writeln!(out, "      # {r}");
    }
    let width = c.diffs.iter().map(|d| d.name.len()).max().unwrap_or(0);
    for d in &c.diffs {
        let note = if d.forces_replacement && c.action == Action::Replace { "  # forces replacement" } else { "" };
        let line = match c.action {
            Action::Create => format!("+ {:width$} = {}", d.name, shown(&d.after, d.secret)),
            Action::Delete => format!("- {:width$}", d.name),
            _ => format!("~ {:width$} = {} -> {}{note}", d.name, shown(&d.before, d.secret), shown(&d.after, d.secret)),
        };
        let _ = writeln!(out, "      {line}");
    }
}

pub fn render_human(plan: &Plan, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    if !plan.imports.is_empty() {
        out += "Imported from other stacks' state:\n";
        for (alias, i) in &plan.imports {
            for (name, v) in &i.outputs {
                let _ = writeln!(out, "  {alias}.outputs.{name} = {v}   (stack `{}`)", i.stack);
            }
        }
        out.push('\n');
    }
    let visible: Vec<&Change> = plan.changes.iter().filter(|c| c.action != Action::NoOp).collect();
    if visible.is_empty() {
        out += &format!("No changes. Stack `{}` matches AWS.\n", plan.stack);
    } else {
        out += &format!("rprov will perform these actions on stack `{}`:\n\n", plan.stack);
        for c in &visible {
            change_block(&mut out, c, &style);
            out.push('\n');
        }
        let s = plan.summary();
        out += &format!(
            "Plan: {} to add, {} to change, {} to replace, {} to destroy, {} to adopt.\n",
            s.create, s.update, s.replace, s.delete, s.adopt
        );
        if s.conflict > 0 {
            out += &format!(
                "{} conflict(s): something rprov did not create is in the way (`!`); apply refuses this plan.\n",
                s.conflict
            );
        }
    }
    if !plan.other_deployments.is_empty() {
        out += &format!(
            "\nTagged with stack `{}` but of another deployment (another state's lineage; left alone, never adopted):\n",
            plan.stack
        );
        for (lineage, n) in &plan.other_deployments {
            let _ = writeln!(out, "  lineage {lineage}: {n} resource(s)");
        }
        if plan.lineage.is_none() {
            out += "  This stack has no state here, so this plan makes a separate deployment. If those are this \
                    stack's and its state was lost, restore the state (an S3 state keeps versions: `rprov state \
                    list-versions`) instead of applying.\n";
        }
    }
    if !plan.unmanaged.is_empty() {
        out += "\nNot managed by this state but tagged with the stack (left alone):\n";
        for u in &plan.unmanaged {
            let _ = writeln!(out, "  ? {} {} (rprov:id={})", u.kind, u.physical_id, u.id.as_deref().unwrap_or("-"));
        }
    }
    out
}

pub fn render_json(plan: &Plan) -> serde_json::Value {
    let s = plan.summary();
    let changes: Vec<serde_json::Value> = plan
        .changes
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "type": c.kind,
                "action": c.action,
                "physical_id": c.physical_id,
                "reason": c.reason,
                "diffs": c.diffs.iter().map(|d| serde_json::json!({
                    "name": d.name,
                    "before": if d.secret { serde_json::Value::String("(sensitive)".into()) } else { d.before.as_ref().map(serde_json::Value::from).unwrap_or(serde_json::Value::Null) },
                    "after": if d.secret { serde_json::Value::String("(sensitive)".into()) } else { d.after.as_ref().map(serde_json::Value::from).unwrap_or(serde_json::Value::Null) },
                    "forces_replacement": d.forces_replacement,
                    "sensitive": d.secret,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "format_version": 1,
        "stack": plan.stack,
        "state_lineage": plan.lineage,
        "state_serial": plan.serial,
        "summary": s,
        "has_changes": plan.has_changes(),
        "changes": changes,
        "unmanaged": plan.unmanaged,
        "other_deployments": plan.other_deployments,
        "imports": plan.imports.iter().map(|(k, i)| (k.clone(), serde_json::json!({
            "stack": i.stack,
            "outputs": i.outputs.iter().map(|(n, v)| (n.clone(), serde_json::Value::from(v))).collect::<serde_json::Map<_, _>>(),
        }))).collect::<serde_json::Map<_, _>>(),
        "outputs": plan.outputs.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v))).collect::<serde_json::Map<_, _>>(),
    })
}
