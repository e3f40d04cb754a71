use super::out::outln;
use std::path::Path;

use super::common::{Failure, Settings, load_stack};

pub async fn run(s: &Settings, path: &Path) -> Result<u8, Failure> {
    // Reads the imported stacks' states (not AWS) to check the output names used.
    let stack = super::imports::bind(s, load_stack(s, path)?, super::imports::Mode::Check).await?;
    outln!(
        "{}: stack `{}` is valid ({} resources, {} outputs)",
        path.display(),
        stack.name,
        stack.resources.len(),
        stack.outputs.len()
    );
    Ok(0)
}
