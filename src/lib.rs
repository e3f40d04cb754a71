//! rprov: declarative AWS stacks — validate, plan, apply, drift, destroy, teardown.
//!
//! The core (`stack`, `graph`, `plan`) is pure: it does no I/O. AWS lives behind
//! [`kinds::Kind`]; state behind [`state`]; the executor in [`apply`] knows no kind.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod delta;
pub mod diag;
pub mod docs;
pub mod drift;
pub mod expr;
pub mod graph;
pub mod import;
pub mod kinds;
pub mod model;
pub mod plan;
pub mod schema;
pub mod sorted_map;
pub mod spec;
pub mod stack;
pub mod state;
pub mod store;
pub mod teardown;
pub mod value;
