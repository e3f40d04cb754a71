use super::out::outln;
use std::path::Path;

use super::common::{Failure, Settings, backend_for, load_stack};

pub async fn run(s: &Settings, path: &Path, name: Option<&str>, json: bool) -> Result<u8, Failure> {
    let stack = load_stack(s, path)?;
    let state = backend_for(s, &stack, &stack.name)?
        .read()
        .await?
        .ok_or_else(|| Failure::User(format!("stack `{}` has no state yet: apply it first", stack.name)))?;
    let outputs = &state.outputs;
    match name {
        Some(n) => {
            let v = outputs.get(n).ok_or_else(|| {
                Failure::User(format!(
                    "no output `{n}`; outputs: {}",
                    outputs.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            match (json, v) {
                (false, crate::value::Value::Str(s)) => outln!("{s}"),
                _ => outln!("{}", serde_json::Value::from(v)),
            }
        }
        None if json => {
            let map: serde_json::Map<String, serde_json::Value> =
                outputs.iter().map(|(k, v)| (k.clone(), v.into())).collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"format_version": 1, "outputs": map}))
                    .unwrap_or_default()
            );
        }
        None => {
            for (k, v) in outputs {
                outln!("{k} = {v}");
            }
        }
    }
    Ok(0)
}
