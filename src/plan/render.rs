//! A plan for people (like Terraform's: `+`, `~`, `-/+`, `-`), as text on a terminal and as
//! Markdown for a pull-request comment, and for scripts (`--json`, `format_version: 1`).
//!
//! Values are shown as blocks: nested maps and lists one entry a line, a change as the leaves
//! that change (`delta`), what stays the same hidden and counted, list items matched by key.

use std::fmt::Write;

use super::{Action, Change, Plan, PropDiff};
use crate::delta::{self, Delta, Shape};
use crate::spec::Catalog;
use crate::value::Value;

/// Lines longer than this show their lists and maps as blocks rather than inline.
const WIDTH: usize = 100;

pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color && code != "0" { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
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

/// What a line says happens to what it shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sym {
    Add,
    Remove,
    Change,
    /// Unchanged: shown for context (an item's key), or a closing bracket, or a comment.
    Keep,
}

impl Sym {
    fn text(self) -> &'static str {
        match self {
            Sym::Add => "+",
            Sym::Remove => "-",
            Sym::Change => "~",
            Sym::Keep => " ",
        }
    }
    fn color(self) -> &'static str {
        match self {
            Sym::Add => "32",
            Sym::Remove => "31",
            Sym::Change => "33",
            Sym::Keep => "0",
        }
    }
    /// The first column of a line in a ```diff block, which GitHub colours by it.
    fn diff_column(self) -> char {
        match self {
            Sym::Add => '+',
            Sym::Remove => '-',
            Sym::Change => '!',
            Sym::Keep => ' ',
        }
    }
}

/// One line of a resource's properties: its depth (4 columns a level), what happens, the text.
#[derive(Debug)]
struct Line {
    depth: usize,
    sym: Sym,
    text: String,
}

/// Writes the lines of one resource's properties.
#[derive(Default)]
struct Lines(Vec<Line>);

/// How a value is written: as the stack file's properties (`name = value`) or, for documents
/// such as policies, as JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Props,
    Json,
}

fn syntax(shape: Shape, outer: Syntax) -> Syntax {
    if shape.is_doc() { Syntax::Json } else { outer }
}

/// A scalar (or a value kept from view, or unknown) as written on one line.
fn scalar(v: &Value, syn: Syntax) -> Option<String> {
    Some(match v {
        _ if delta::is_sensitive(v) => "(sensitive)".into(),
        Value::Unknown => "(known after apply)".into(),
        Value::Str(s) if syn == Syntax::Json => serde_json::to_string(s).unwrap_or_default(),
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Num(_) | Value::Str(_) => v.to_string(),
        Value::List(l) if l.is_empty() => "[]".into(),
        Value::Map(m) if m.is_empty() => "{}".into(),
        _ => return None,
    })
}

/// A value on one line, where it is short and flat: scalars, and lists of scalars.
fn inline(v: &Value, syn: Syntax) -> Option<String> {
    if let Some(s) = scalar(v, syn) {
        return Some(s);
    }
    match v {
        Value::List(l) => {
            let items: Option<Vec<String>> = l.iter().map(|i| scalar(i, syn)).collect();
            Some(format!("[{}]", items?.join(", ")))
        }
        _ => None,
    }
}

/// A map key as written: bare where it is a plain name, else quoted (always in JSON).
fn key_text(k: &str, syn: Syntax) -> String {
    let plain = k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if plain && syn == Syntax::Props { k.to_owned() } else { serde_json::to_string(k).unwrap_or_default() }
}

/// `name = ` (padded to `width`), `"name": ` in JSON, nothing for a list item.
fn head(name: Option<&str>, width: usize, syn: Syntax) -> String {
    match (name, syn) {
        (None, _) => String::new(),
        (Some(n), Syntax::Props) => format!("{:width$} = ", key_text(n, syn)),
        (Some(n), Syntax::Json) => format!("{}: ", key_text(n, syn)),
    }
}

/// The noun of a count of hidden entries.
fn hidden(n: usize, what: &str) -> String {
    let (one, many) = match what {
        "item" => ("item", "items"),
        "entry" => ("entry", "entries"),
        _ => ("property", "properties"),
    };
    format!("# {n} unchanged {} hidden", if n == 1 { one } else { many })
}

impl Lines {
    fn push(&mut self, depth: usize, sym: Sym, text: impl Into<String>) {
        self.0.push(Line { depth, sym, text: text.into() });
    }

    /// A whole value (created, added, removed, or shown for context), every line marked `sym`.
    /// `head` goes before it, `tail` after its last line (a comma, a note).
    #[allow(clippy::too_many_arguments)]
    fn value(&mut self, depth: usize, sym: Sym, head: &str, v: &Value, shape: Shape, syn: Syntax, tail: &str) {
        let syn = syntax(shape, syn);
        if let Some(s) = inline(v, syn)
            && (scalar(v, syn).is_some() || 4 * depth + 6 + head.len() + s.len() + tail.len() <= WIDTH)
        {
            self.push(depth, sym, format!("{head}{s}{tail}"));
            return;
        }
        match v {
            Value::Map(m) => {
                self.push(depth, sym, format!("{head}{{"));
                let width =
                    if syn == Syntax::Props { m.keys().map(|k| key_text(k, syn).len()).max().unwrap_or(0) } else { 0 };
                let last = m.len().saturating_sub(1);
                for (i, (k, item)) in m.iter().enumerate() {
                    let comma = if syn == Syntax::Json && i < last { "," } else { "" };
                    self.value(depth + 1, sym, &head_of(k, width, syn), item, shape.field(k), syn, comma);
                }
                self.push(depth, Sym::Keep, format!("}}{tail}"));
            }
            Value::List(l) => {
                self.push(depth, sym, format!("{head}["));
                let last = l.len().saturating_sub(1);
                for (i, item) in l.iter().enumerate() {
                    let comma = if syn == Syntax::Props || i < last { "," } else { "" };
                    self.value(depth + 1, sym, "", item, shape.item(), syn, comma);
                }
                self.push(depth, Sym::Keep, format!("]{tail}"));
            }
            _ => self.push(depth, sym, format!("{head}{}{tail}", v)),
        }
    }

    /// What became of a value: the leaves that change, what stays hidden and counted.
    /// `keep`: the fields shown although unchanged (a list item's key).
    #[allow(clippy::too_many_arguments)]
    fn delta(&mut self, depth: usize, head: &str, d: &Delta, shape: Shape, syn: Syntax, tail: &str, keep: &[&str]) {
        let syn = syntax(shape, syn);
        match d {
            Delta::Same(v) => self.value(depth, Sym::Keep, head, v, shape, syn, tail),
            Delta::Added(v) => self.value(depth, Sym::Add, head, v, shape, syn, tail),
            Delta::Removed(v) => self.value(depth, Sym::Remove, head, v, shape, syn, tail),
            Delta::Changed(a, b) => match (inline(a, syn), inline(b, syn)) {
                (Some(x), Some(y)) if 4 * depth + 10 + head.len() + x.len() + y.len() + tail.len() <= WIDTH => {
                    self.push(depth, Sym::Change, format!("{head}{x} -> {y}{tail}"));
                }
                // Two long scalars: the new value on a line of its own, its arrow under the `=`.
                (Some(x), Some(y)) if scalar(a, syn).is_some() && scalar(b, syn).is_some() => {
                    self.push(depth, Sym::Change, format!("{head}{x}"));
                    let pad = " ".repeat(head.trim_end().len().saturating_sub(1));
                    self.push(depth, Sym::Keep, format!("{pad}-> {y}{tail}"));
                }
                _ => {
                    self.value(depth, Sym::Remove, head, a, shape, syn, tail);
                    self.value(depth, Sym::Add, head, b, shape, syn, tail);
                }
            },
            Delta::Map(entries) => {
                self.push(depth, Sym::Change, format!("{head}{{"));
                let shown: Vec<&(String, Delta)> =
                    entries.iter().filter(|(k, d)| !d.is_same() || keep.contains(&k.as_str())).collect();
                let width = if syn == Syntax::Props {
                    shown.iter().map(|(k, _)| key_text(k, syn).len()).max().unwrap_or(0)
                } else {
                    0
                };
                for (i, (k, d)) in shown.iter().enumerate() {
                    let comma = if syn == Syntax::Json && i + 1 < shown.len() { "," } else { "" };
                    self.delta(depth + 1, &head_of(k, width, syn), d, shape.field(k), syn, comma, &[]);
                }
                let n = entries.len() - shown.len();
                if n > 0 {
                    let noun = if shape.is_object() { "property" } else { "entry" };
                    self.push(depth + 1, Sym::Keep, hidden(n, noun));
                }
                self.push(depth, Sym::Keep, format!("}}{tail}"));
            }
            Delta::List(items) => {
                self.push(depth, Sym::Change, format!("{head}["));
                let key = shape.key();
                let shown: Vec<&Delta> = items.iter().filter(|d| !d.is_same()).collect();
                for (i, d) in shown.iter().enumerate() {
                    let comma = if syn == Syntax::Props || i + 1 < shown.len() { "," } else { "" };
                    self.delta(depth + 1, "", d, shape.item(), syn, comma, key);
                }
                let n = items.len() - shown.len();
                if n > 0 {
                    self.push(depth + 1, Sym::Keep, hidden(n, "item"));
                }
                self.push(depth, Sym::Keep, format!("]{tail}"));
            }
        }
    }
}

fn head_of(k: &str, width: usize, syn: Syntax) -> String {
    head(Some(k), width, syn)
}

/// The lines of one change's properties, and whether a property is shown in part because it
/// holds a secret.
fn change_lines(c: &Change, kinds: &dyn Catalog) -> Lines {
    let shape = |name: &str| Shape::of_property(kinds, &c.kind, name);
    let mut out = Lines::default();
    let width = c.diffs.iter().map(|d| key_text(&d.name, Syntax::Props).len()).max().unwrap_or(0);
    for d in &c.diffs {
        let note = if d.forces_replacement && c.action == Action::Replace { "  # forces replacement" } else { "" };
        let head = head(Some(&d.name), width, Syntax::Props);
        let (before, after) = shown_values(d);
        let delta = match (&before, &after) {
            // Everything is new: the whole value, not its difference from nothing.
            (_, Some(a)) if c.action == Action::Create => Delta::Added(a.clone()),
            (Some(b), Some(a)) => delta::diff(b, a, shape(&d.name)),
            (None, Some(a)) => Delta::Added(a.clone()),
            (Some(b), None) => Delta::Removed(b.clone()),
            (None, None) => Delta::Added(Value::Null),
        };
        let delta = match delta {
            // A change only a secret's digest tells: the value is shown whole, kept from view.
            Delta::Same(_) => Delta::Changed(delta::sensitive(true), delta::sensitive(false)),
            d => d,
        };
        out.delta(0, &head, &delta, shape(&d.name), Syntax::Props, note, &[]);
    }
    if matches!(c.action, Action::Update | Action::Replace | Action::Adopt) && c.unchanged > 0 {
        out.push(0, Sym::Keep, hidden(c.unchanged, "property"));
    }
    out
}

/// The values of a property change as they may be shown: secrets kept from view, whole or at
/// the leaves that hold them.
fn shown_values(d: &PropDiff) -> (Option<Value>, Option<Value>) {
    match (&d.shown, d.secret) {
        (Some(s), _) => (s.before.clone(), s.after.clone()),
        (None, true) => {
            (d.before.as_ref().map(|_| delta::sensitive(true)), d.after.as_ref().map(|_| delta::sensitive(false)))
        }
        (None, false) => (d.before.clone(), d.after.clone()),
    }
}

/// Writes lines as a terminal shows them: each `indent` spaces in, then 4 more a level.
fn write_lines(out: &mut String, lines: Lines, indent: usize, style: &Style) {
    for l in lines.0 {
        let _ = writeln!(
            out,
            "{}{} {}",
            " ".repeat(indent + 4 * l.depth),
            style.paint(l.sym.color(), l.sym.text()),
            l.text
        );
    }
}

/// One property's difference as a plan shows it (`~ name = ...`, nested blocks, only what
/// differs), `indent` spaces in, `note` after its first line: for other reports of differences
/// (drift).
pub fn property_change(name: &str, before: &Value, after: &Value, shape: Shape, note: &str, color: bool) -> String {
    let mut lines = Lines::default();
    lines.delta(
        0,
        &head(Some(name), 0, Syntax::Props),
        &delta::diff(before, after, shape),
        shape,
        Syntax::Props,
        "",
        &[],
    );
    if let Some(first) = lines.0.first_mut() {
        first.text += note;
    }
    let mut out = String::new();
    write_lines(&mut out, lines, 4, &Style { color });
    out
}

fn change_block(out: &mut String, c: &Change, kinds: &dyn Catalog, style: &Style) {
    let (sym, color) = symbol(c.action);
    let pid = c.physical_id.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
    let _ = writeln!(out, "  {} {} ({}){pid}", style.paint(color, sym), c.id, c.kind);
    if let Some(r) = &c.reason {
        let _ = writeln!(out, "      # {r}");
    }
    write_lines(out, change_lines(c, kinds), 6, style);
}

pub fn render_human(plan: &Plan, kinds: &dyn Catalog, color: bool) -> String {
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
            change_block(&mut out, c, kinds, &style);
            out.push('\n');
        }
        out += &summary_line(plan);
        out.push('\n');
        let s = plan.summary();
        if s.conflict > 0 {
            out += &format!(
                "{} conflict(s): something rprov did not create is in the way (`!`); apply refuses this plan.\n",
                s.conflict
            );
        }
    }
    out += &others(plan);
    out
}

fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy, {} to adopt.",
        s.create, s.update, s.replace, s.delete, s.adopt
    )
}

/// What the plan leaves alone: other deployments' resources, unmanaged ones.
fn others(plan: &Plan) -> String {
    let mut out = String::new();
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

/// The first line of a plan comment, hidden on GitHub: a workflow finds the comment it posted
/// for a stack by it and edits it instead of adding another.
pub fn comment_marker(stack: &str) -> String {
    format!("<!-- rprov plan: {stack} -->")
}

/// GitHub's limit on a comment's body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "destroy",
        Action::Adopt => "adopt",
        Action::Conflict => "conflict",
        Action::NoOp => "no change",
    }
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One resource's section: a collapsible block with its properties as a ```diff.
fn markdown_section(c: &Change, kinds: &dyn Catalog) -> String {
    let (sym, _) = symbol(c.action);
    let pid = c.physical_id.as_deref().map(|p| format!(" <code>{}</code>", html(p))).unwrap_or_default();
    let mut body = String::new();
    if let Some(r) = &c.reason {
        let _ = writeln!(body, "# {r}");
    }
    for l in change_lines(c, kinds).0 {
        let _ = writeln!(body, "{} {}{}", l.sym.diff_column(), " ".repeat(4 * l.depth), l.text);
    }
    let summary = format!(
        "<details><summary><code>{} {}</code> {} {}{pid}</summary>\n\n",
        html(sym),
        html(&c.id),
        html(&c.kind),
        action_word(c.action)
    );
    if body.is_empty() {
        return format!("{summary}_No properties to show._\n\n</details>\n\n");
    }
    // A fence longer than any run of backticks in the values, so none can close it.
    let longest = body.split(|ch| ch != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{summary}{fence}diff\n{body}{fence}\n\n</details>\n\n")
}

/// The plan as a pull-request comment: a summary table per kind, then one collapsible section
/// per resource. At most `limit` bytes (GitHub counts characters, never more than bytes): the
/// sections that do not fit are left out, and a line says so.
pub fn render_markdown(plan: &Plan, kinds: &dyn Catalog, limit: usize) -> String {
    let mut out = format!("{}\n## rprov plan: `{}`\n\n", comment_marker(&plan.stack), plan.stack);
    let visible: Vec<&Change> = plan.changes.iter().filter(|c| c.action != Action::NoOp).collect();
    if visible.is_empty() {
        out += "No changes: AWS matches the stack.\n";
        return out + &others_markdown(plan);
    }
    let s = plan.summary();
    let _ = writeln!(out, "**{}**\n", summary_line(plan).trim_start_matches("Plan: "));
    let mut table: std::collections::BTreeMap<&str, [usize; 6]> = Default::default();
    for c in &visible {
        let col = match c.action {
            Action::Create => 0,
            Action::Update => 1,
            Action::Replace => 2,
            Action::Delete => 3,
            Action::Adopt => 4,
            _ => 5,
        };
        table.entry(c.kind.as_str()).or_default()[col] += 1;
    }
    let mut cols = vec![("add", 0), ("change", 1), ("replace", 2), ("destroy", 3)];
    if s.adopt > 0 {
        cols.push(("adopt", 4));
    }
    if s.conflict > 0 {
        cols.push(("conflict", 5));
    }
    out += "| type |";
    for (name, _) in &cols {
        let _ = write!(out, " {name} |");
    }
    out += "\n|---|";
    out += &"---:|".repeat(cols.len());
    out.push('\n');
    for (kind, n) in &table {
        let _ = write!(out, "| `{kind}` |");
        for (_, i) in &cols {
            let cell = if n[*i] == 0 { String::new() } else { n[*i].to_string() };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
    if s.conflict > 0 {
        out += "**Conflicts** (`!`): something rprov did not create is in the way; apply refuses this plan.\n\n";
    }
    let tail = others_markdown(plan);
    let mut shown = 0;
    for c in &visible {
        let section = markdown_section(c, kinds);
        let left = visible.len() - shown;
        if out.len() + section.len() + tail.len() + truncation(left, visible.len()).len() > limit {
            break;
        }
        out += &section;
        shown += 1;
    }
    if shown < visible.len() {
        out += &truncation(visible.len() - shown, visible.len());
    }
    out + &tail
}

fn truncation(left: usize, all: usize) -> String {
    format!(
        "> **Truncated:** {left} of {all} resources are not shown: a pull-request comment holds at most \
         {COMMENT_LIMIT} characters. The job log (`rprov plan`) has the whole plan.\n\n"
    )
}

fn others_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.other_deployments.is_empty() {
        let n: usize = plan.other_deployments.values().sum();
        let _ = writeln!(
            out,
            "_{n} resource(s) tagged with stack `{}` belong to another deployment (another state's lineage): left alone._\n",
            plan.stack
        );
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "_{} resource(s) tagged with the stack but not in its state: left alone (`rprov drift` lists them)._\n",
            plan.unmanaged.len()
        );
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

#[cfg(test)]
mod tests;
