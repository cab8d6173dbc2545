//! Integration tests of the REST API against a real server, on SQLite and PostgreSQL.
//! One test binary (not one per file) keeps link time down.
//!
//! The PostgreSQL variants need `PARLEY_TEST_POSTGRES_URL` when they are built: without it they
//! are built as ignored, and the runner reports them as skipped (see `build.rs`).

// A test fails by panicking, and so do its helpers (which clippy does not count as tests):
// the workspace's no-panic lints are lifted here, and only here in this crate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test and its helpers fail by panicking"
)]

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod attachments;
mod bots;
mod browser;
mod chats;
mod cluster;
mod cross_origin;
mod dead_peers;
mod errors;
mod hardening;
mod idempotency;
mod load_smoke;
mod membership;
mod mentions;
mod messages;
mod moderation;
mod operations;
mod operators;
mod presence;
mod process;
mod push;
mod push_delivery;
mod realtime;
mod robustness;
mod scale;
mod search;
mod storage;
mod supervision;
mod threads;
mod upgrades;
mod webhooks;
