//! The diagnostics upload service: customers upload gzip-compressed tar archives, support
//! engineers list and download them.
//!
//! [`app`] is the whole service as an axum router; [`serve`] runs it on a listener with the
//! startup work (data directory, leftover cleanup) and graceful shutdown; `main` only reads the
//! configuration and calls [`run`].

pub mod auth;
pub mod checksum;
pub mod client;
pub mod config;
pub mod connection;
pub mod error;
pub mod limiter;
pub mod metrics;
pub mod names;
pub mod origin;
pub mod page;
pub mod password;
pub mod receive;
pub mod routes;
pub mod server;
pub mod sniff;
pub mod space;
pub mod storage;
pub mod wire;

pub use config::{Account, Cli, Config, Role};
pub use server::{app, healthcheck, init_tracing, run, serve, tune_allocator};
