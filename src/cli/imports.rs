//! Cross-stack references: the imported stacks' outputs read from their states (read-only, no
//! lock), and the list of consumers each exporting state keeps so its destroy can name them.

use super::out::errln;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::common::{Failure, Settings, other_state, stack_or_report};
use crate::stack::{self, Imported, Stack};
use crate::store::{StateBackend, StateError, update_locked};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `validate`: check the names against the outputs a readable state declares; a stack
    /// without state is not an error.
    Check,
    /// `plan`/`apply`: the values, which must all exist.
    Bind,
}

fn state_of(s: &Settings, home: &Stack, import: &stack::Import) -> Result<Arc<dyn StateBackend>, Failure> {
    other_state(s, home, &import.stack, import.state.as_deref())
}

/// The stack loaded again with its imports read from the other stacks' states.
pub async fn bind(s: &Settings, stack: Stack, mode: Mode) -> Result<Stack, Failure> {
    if stack.imports.is_empty() {
        return Ok(stack);
    }
    let mut read = BTreeMap::new();
    for import in stack.imports.values() {
        let backend = state_of(s, &stack, import)?;
        let location = backend.describe();
        let state = backend.read().await.map_err(|e| {
            Failure::User(format!(
                "reading the state of stack `{}` (imported as `{}`): {e}",
                import.stack, import.alias
            ))
        })?;
        if let Some(st) = state.as_ref().filter(|st| st.stack != import.stack) {
            return Err(Failure::User(format!(
                "import `{}`: the state at {location} belongs to stack `{}`, not `{}`",
                import.alias, st.stack, import.stack
            )));
        }
        let entry = match (state, mode) {
            (None, Mode::Check) => {
                errln!(
                    "note: stack `{}` (imported as `{}`) has no state at {location}: its output names are not checked",
                    import.stack,
                    import.alias
                );
                continue;
            }
            (None, Mode::Bind) => Imported::Missing { location },
            (Some(st), Mode::Check) => Imported::Declared { location, names: st.outputs.into_keys().collect() },
            (Some(st), Mode::Bind) => Imported::Read { location, outputs: st.outputs },
        };
        read.insert(import.alias.clone(), entry);
    }
    let mut inputs = stack.inputs.clone();
    inputs.imports = read;
    stack_or_report(stack::load_with(stack.kinds, stack.source.clone(), &inputs))
}

/// Records in each imported stack's state that `stack` uses it (after an apply), or that it no
/// longer does (`present` false: after a destroy; also for imports dropped from the stack file,
/// found in the consumer's own state). Compare-and-swap writes without the exporter's lock: a
/// conflict is retried on the newer state. Failing to record only warns: the apply itself is done.
pub async fn record_consumer(
    s: &Settings,
    stack: &Stack,
    previous: &BTreeMap<String, String>,
    present: bool,
) -> BTreeMap<String, String> {
    // Exporting stack -> (its state, outputs used), several aliases of one stack merged.
    let mut uses: BTreeMap<String, (Arc<dyn StateBackend>, Vec<String>)> = BTreeMap::new();
    for import in stack.imports.values().filter(|_| present) {
        match state_of(s, stack, import) {
            Ok(b) => {
                let e = uses.entry(import.stack.clone()).or_insert_with(|| (b, Vec::new()));
                e.1.extend(import.used.keys().cloned());
            }
            Err(f) => warn_not_recorded(&import.stack, &f),
        }
    }
    let mut now = BTreeMap::new();
    for (exporter, location) in previous {
        if !uses.contains_key(exporter) {
            match other_state(s, stack, exporter, Some(location)) {
                Ok(b) => {
                    if let Err(e) = set_consumer(b.as_ref(), &stack.name, None).await {
                        warn_not_recorded(exporter, &Failure::User(e.to_string()));
                    }
                }
                Err(f) => warn_not_recorded(exporter, &f),
            }
        }
    }
    for (exporter, (backend, mut names)) in uses {
        names.sort();
        names.dedup();
        match set_consumer(backend.as_ref(), &stack.name, Some(names)).await {
            Ok(()) => {
                now.insert(exporter, backend.describe());
            }
            Err(e) => warn_not_recorded(&exporter, &Failure::User(e.to_string())),
        }
    }
    now
}

fn warn_not_recorded(exporter: &str, f: &Failure) {
    let why = match f {
        Failure::User(m) => m.clone(),
        Failure::Unexpected(e) => format!("{e:#}"),
        Failure::Reported => String::new(),
    };
    errln!(
        "warning: could not record in the state of stack `{exporter}` which of its outputs this stack uses \
         (this stack's next apply records it): {why}"
    );
}

/// Sets (or removes) one consumer's entry in an exporting state; a no-op when already so.
/// Under the exporter's lock, taken without waiting: a write beside a running apply of the
/// exporter would make that apply's next checkpoint conflict. A locked exporter is an error
/// here (a warning to the user); the entry is made by the consumer's next apply.
pub async fn set_consumer(
    backend: &dyn StateBackend,
    consumer: &str,
    outputs: Option<Vec<String>>,
) -> Result<(), StateError> {
    // Checked without the lock first: usually the entry is already so, and an exporter being
    // applied then costs no warning.
    match backend.read().await? {
        Some(st) if st.consumers.get(consumer) != outputs.as_ref() => {}
        _ => return Ok(()),
    }
    let operation = format!("record consumer {consumer}");
    update_locked(backend, &operation, |st| {
        if st.consumers.get(consumer) == outputs.as_ref() {
            return false;
        }
        match outputs {
            Some(o) => st.consumers.insert(consumer.to_owned(), o),
            None => st.consumers.remove(consumer),
        };
        true
    })
    .await
    .map(|_| ())
}

/// Who imports this stack, for the warning before it is destroyed: `app (uses a, b)`.
pub fn consumers_text(consumers: &BTreeMap<String, Vec<String>>) -> String {
    consumers.iter().map(|(c, o)| format!("`{c}` (uses {})", o.join(", "))).collect::<Vec<_>>().join(", ")
}
