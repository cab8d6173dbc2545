//! Integration tests of the REST API against a real server, on SQLite and PostgreSQL.
//! One test binary (not one per file) keeps link time down.

#[path = "../common/mod.rs"]
mod common;

mod accounts;
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
mod messages;
mod operations;
mod operators;
mod presence;
mod process;
mod realtime;
mod robustness;
mod scale;
mod search;
mod supervision;
mod upgrades;

/// Tells, once per run, whether the PostgreSQL variants of the tests ran.
#[test]
fn postgres_backend_status() {
    match std::env::var(common::POSTGRES_ENV) {
        Ok(url) => eprintln!("PostgreSQL tests ran against {url} (a fresh database per test)."),
        Err(_) => eprintln!(
            "SKIPPED: {} is not set, so every `::postgres` test returned without running. \
             Set it (e.g. postgres://root@127.0.0.1:5432/test) to run them.",
            common::POSTGRES_ENV
        ),
    }
}
