//! Build-time facts for the test harness:
//! - `cfg(parley_pg_tests)` when `PARLEY_TEST_POSTGRES_URL` is set, so that the PostgreSQL tests
//!   are built as ignored — and reported as skipped — when there is no database to run them on;
//! - `PARLEY_MIGRATIONS_FINGERPRINT`, a hash of the PostgreSQL migrations, which names the
//!   template database the tests migrate once and copy for each test.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(parley_pg_tests)");
    println!("cargo::rerun-if-env-changed=PARLEY_TEST_POSTGRES_URL");
    if std::env::var_os("PARLEY_TEST_POSTGRES_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=parley_pg_tests");
    }
    println!("cargo::rerun-if-changed=migrations/postgres");
    let mut hasher = DefaultHasher::new();
    hash_tree(Path::new("migrations/postgres"), &mut hasher);
    println!(
        "cargo::rustc-env=PARLEY_MIGRATIONS_FINGERPRINT={:016x}",
        hasher.finish()
    );
}

/// Hashes every file's path and bytes under `dir`, in name order.
fn hash_tree(dir: &Path, hasher: &mut DefaultHasher) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        path.to_string_lossy().hash(hasher);
        if path.is_dir() {
            hash_tree(&path, hasher);
        } else if let Ok(bytes) = std::fs::read(&path) {
            bytes.hash(hasher);
        }
    }
}
