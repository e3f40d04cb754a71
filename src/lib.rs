//! rprov: declarative AWS stacks — validate, plan, apply, drift, destroy, teardown.
//!
//! The core (`stack`, `graph`, `plan`) is pure: it does no I/O. AWS lives behind
//! [`kinds::Kind`]; state behind [`state`]; the executor in [`apply`] knows no kind.

pub mod aws;
pub mod kinds;
pub mod schema;
pub mod value;
pub mod graph;
pub mod stack;
pub mod state;
pub mod plan;
pub mod apply;
pub mod cli;
