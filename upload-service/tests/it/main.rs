//! Acceptance tests: the service runs in-process on 127.0.0.1:0 with a fresh data directory.

mod api;
mod auth;
mod browser;
mod cli;
mod common;
mod hardening;
mod streaming;
mod validation;
