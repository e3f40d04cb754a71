use super::out::outln;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;

use super::common::{Failure, Settings, StateLocation, backend_for, load_stack};
use crate::store::{LocalBackend, LockInfo, StateBackend, StateError};

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// Print the stack's state document (secrets are stored as digests only).
    Show { stack: PathBuf },
    /// List the stored versions of the stack's state, newest first (S3 with versioning).
    ListVersions {
        stack: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Print the stack's state document, or an earlier version of it (to inspect or roll back by hand).
    #[command(disable_version_flag = true)]
    Pull {
        stack: PathBuf,
        /// A version id from `state list-versions`.
        #[arg(long)]
        version: Option<String>,
    },
    /// Copy the stack's state to another location (a file path or s3://BUCKET/KEY), keeping its
    /// lineage and serial. The source is locked meanwhile and left in place.
    Migrate {
        stack: PathBuf,
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

pub async fn run(s: &Settings, cmd: StateCommand) -> Result<u8, Failure> {
    match cmd {
        StateCommand::Show { stack } | StateCommand::Pull { stack, version: None } => {
            let stack = load_stack(s, &stack)?;
            let st = backend_for(s, &stack, &stack.name)?
                .read()
                .await?
                .ok_or_else(|| Failure::User(format!("stack `{}` has no state", stack.name)))?;
            print_json(&st)
        }
        StateCommand::Pull { stack, version: Some(id) } => {
            let stack = load_stack(s, &stack)?;
            print_json(&backend_for(s, &stack, &stack.name)?.read_version(&id).await?)
        }
        StateCommand::ListVersions { stack, json } => {
            let stack = load_stack(s, &stack)?;
            let b = backend_for(s, &stack, &stack.name)?;
            let versions = b.list_versions().await?;
            if json {
                return print_json(
                    &serde_json::json!({ "format_version": 1, "state": b.describe(), "versions": versions }),
                );
            }
            if versions.is_empty() {
                outln!("{}: no versions stored", b.describe());
            }
            for v in versions {
                outln!("{}  {}  {:>8} bytes{}", v.id, v.modified, v.size, if v.latest { "  (current)" } else { "" });
            }
            Ok(0)
        }
        StateCommand::Migrate { stack, to } => migrate(s, &stack, &to).await,
    }
}

fn print_json(v: &impl serde::Serialize) -> Result<u8, Failure> {
    outln!("{}", serde_json::to_string_pretty(v).map_err(|e| Failure::Unexpected(e.into()))?);
    Ok(0)
}

async fn migrate(s: &Settings, path: &Path, to: &str) -> Result<u8, Failure> {
    let stack = load_stack(s, path)?;
    let source = backend_for(s, &stack, &stack.name)?;
    let target = StateLocation::parse(to)?.open(s, &stack.name, &stack.region);
    if source.describe() == target.describe() {
        return Err(Failure::User(format!("the state is already at {}", target.describe())));
    }
    // Both locked: no apply may write either copy while the state moves.
    let info = LockInfo::new("state migrate");
    source.lock(&info).await?;
    let result = async {
        target.lock(&info).await?;
        let r = copy(source.as_ref(), target.as_ref()).await;
        let _ = target.unlock(&info).await;
        r
    }
    .await;
    let _ = source.unlock(&info).await;
    result
}

async fn copy(source: &dyn StateBackend, target: &dyn StateBackend) -> Result<u8, Failure> {
    let st = source.read().await?.ok_or_else(|| Failure::User(format!("{} holds no state", source.describe())))?;
    match target.read().await? {
        Some(there) if there.lineage != st.lineage => {
            return Err(Failure::User(format!(
                "{} already holds another state (lineage {}, serial {}); refusing to replace it with lineage {}",
                target.describe(),
                there.lineage,
                there.serial,
                st.lineage
            )));
        }
        Some(there) if there.serial > st.serial => {
            return Err(Failure::User(format!(
                "{} holds a newer serial of this state ({} > {}); refusing to go back",
                target.describe(),
                there.serial,
                st.serial
            )));
        }
        Some(there) if there == st => {
            outln!("{} already holds this state (lineage {}, serial {}).", target.describe(), st.lineage, st.serial);
            return Ok(0);
        }
        _ => {}
    }
    target.write(&st).await?;
    outln!(
        "Copied the state of stack `{}` (lineage {}, serial {}, {} resources) from {} to {}.\n{} is left as it was; use the new location from now on (--state, RPROV_STATE or the stack file's `backend:`).",
        st.stack,
        st.lineage,
        st.serial,
        st.resources.len(),
        source.describe(),
        target.describe(),
        source.describe()
    );
    Ok(0)
}

pub async fn force_unlock(s: &Settings, lock_id: &str, stack: Option<&Path>, yes: bool) -> Result<u8, Failure> {
    if lock_id == crate::store::LockInfo::unreadable().id {
        // An unreadable lock names no holder to check: the user says no run is using it.
        super::common::confirm(
            s,
            yes,
            "Remove a state lock that cannot be read (do so only if no rprov run is using this state)",
        )?;
    }
    let backends: Vec<Arc<dyn StateBackend>> = match (stack, s.state.as_deref()) {
        (Some(p), _) => {
            let st = load_stack(s, p)?;
            vec![backend_for(s, &st, &st.name)?]
        }
        (None, Some(text)) => match StateLocation::parse(text)? {
            StateLocation::S3(loc) if loc.key.ends_with('/') => {
                return Err(Failure::User(format!(
                    "{} is a prefix holding one state per stack: name the stack with --stack FILE",
                    loc.url()
                )));
            }
            at => vec![at.open(s, "", &s.aws.region.clone().unwrap_or_else(|| "us-east-1".into()))],
        },
        (None, None) => std::fs::read_dir(".rprov")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name().to_str().and_then(|n| n.strip_suffix(".json.lock")).map(str::to_owned)
                    })
                    .map(|stack| {
                        Arc::new(LocalBackend::for_stack(Path::new(".rprov"), &stack)) as Arc<dyn StateBackend>
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    for b in backends {
        match b.force_unlock(lock_id).await {
            Ok(info) => {
                outln!(
                    "released lock {} held by {} for `{}` since {}",
                    info.id,
                    info.who,
                    info.operation,
                    info.created
                );
                return Ok(0);
            }
            Err(StateError::NoSuchLock(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::User(format!("no state lock with id {lock_id}")))
}
