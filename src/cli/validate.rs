use std::path::Path;

use super::common::{Failure, Settings, load_stack};

pub async fn run(s: &Settings, path: &Path) -> Result<u8, Failure> {
    let stack = load_stack(s, path)?;
    println!(
        "{}: stack `{}` is valid ({} resources, {} outputs)",
        path.display(),
        stack.name,
        stack.resources.len(),
        stack.outputs.len()
    );
    Ok(0)
}
