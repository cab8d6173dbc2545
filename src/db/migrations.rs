use diesel::backend::Backend;
use diesel::migration::MigrationConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Applies every pending migration; returns how many ran.
pub fn apply<C, DB>(conn: &mut C, migrations: EmbeddedMigrations) -> Result<usize, String>
where
    DB: Backend,
    C: MigrationHarness<DB> + MigrationConnection<Backend = DB>,
{
    conn.run_pending_migrations(migrations)
        .map(|applied| applied.len())
        .map_err(|e| format!("migrations failed: {e}"))
}

/// Reverts every applied migration (used by the migration round-trip test).
pub fn revert_all<C, DB>(conn: &mut C, migrations: EmbeddedMigrations) -> Result<usize, String>
where
    DB: Backend,
    C: MigrationHarness<DB> + MigrationConnection<Backend = DB>,
{
    conn.revert_all_migrations(migrations)
        .map(|reverted| reverted.len())
        .map_err(|e| format!("reverting migrations failed: {e}"))
}
