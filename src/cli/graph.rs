use super::out::out;
use std::path::Path;

use super::common::{Failure, Settings, graph_or_report, load_stack};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Dot,
    Mermaid,
}

pub async fn run(s: &Settings, path: &Path, format: Format) -> Result<u8, Failure> {
    let stack = load_stack(s, path)?;
    let g = graph_or_report(&stack)?;
    out!(
        "{}",
        match format {
            Format::Dot => g.dot(),
            Format::Mermaid => g.mermaid(),
        }
    );
    Ok(0)
}
