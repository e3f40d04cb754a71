use super::out::out;
use std::path::Path;

use super::common::{Failure, Settings, load_stack};
use crate::graph::Graph;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Dot,
    Mermaid,
}

pub async fn run(s: &Settings, path: &Path, format: Format) -> Result<u8, Failure> {
    let stack = load_stack(s, path)?;
    let g = Graph::build(&stack).map_err(|d| super::common::report(Some(&stack.source), &d))?;
    out!(
        "{}",
        match format {
            Format::Dot => g.dot(),
            Format::Mermaid => g.mermaid(),
        }
    );
    Ok(0)
}
