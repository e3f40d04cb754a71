use std::path::Path;

use clap::Subcommand;

use super::common::{Failure, Settings, backend, load_stack};
use crate::state::{LocalBackend, StateBackend, StateError};

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// Print the stack's state document (secrets are stored as digests only).
    Show { stack: std::path::PathBuf },
}

pub async fn run(s: &Settings, cmd: StateCommand) -> Result<u8, Failure> {
    match cmd {
        StateCommand::Show { stack } => {
            let stack = load_stack(s, &stack)?;
            let st = backend(s, &stack.name)?
                .read()
                .await?
                .ok_or_else(|| Failure::User(format!("stack `{}` has no state", stack.name)))?;
            println!("{}", serde_json::to_string_pretty(&st).map_err(|e| Failure::Unexpected(e.into()))?);
            Ok(0)
        }
    }
}

pub async fn force_unlock(s: &Settings, lock_id: &str, stack: Option<&Path>) -> Result<u8, Failure> {
    let backends: Vec<std::sync::Arc<dyn StateBackend>> = match (stack, s.state.as_deref()) {
        (Some(p), _) => {
            let st = load_stack(s, p)?;
            vec![backend(s, &st.name)?]
        }
        (None, Some(path)) => vec![std::sync::Arc::new(LocalBackend::new(path))],
        (None, None) => std::fs::read_dir(".rprov")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name().to_str().and_then(|n| n.strip_suffix(".json.lock")).map(str::to_owned)
                    })
                    .map(|stack| {
                        std::sync::Arc::new(LocalBackend::for_stack(Path::new(".rprov"), &stack))
                            as std::sync::Arc<dyn StateBackend>
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    for b in backends {
        match b.force_unlock(lock_id).await {
            Ok(info) => {
                println!(
                    "released lock {} held by {} for `{}` since {}",
                    info.id, info.who, info.operation, info.created
                );
                return Ok(0);
            }
            Err(StateError::NoSuchLock(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::User(format!("no state lock with id {lock_id}")))
}
