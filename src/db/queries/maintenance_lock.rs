//! Maintenance that one node at a time should run (the idempotency-key purge): on PostgreSQL,
//! where several nodes share the database, a transaction-scoped advisory lock decides; an
//! SQLite file has one process, which always may.

use std::future::Future;

use diesel::sql_types::Bool;
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use crate::db::{PgConn, SqliteConn};

/// The advisory lock's key: any constant the application uses for nothing else.
pub const PURGE_LOCK: i64 = 0x7061_726c_6579; // "parley"

pub trait MaintenanceLock {
    /// Takes the maintenance lock until the transaction ends; false if another node holds it.
    fn try_maintenance_lock(&mut self) -> impl Future<Output = QueryResult<bool>> + Send;
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

impl MaintenanceLock for PgConn {
    async fn try_maintenance_lock(&mut self) -> QueryResult<bool> {
        let row: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
            .bind::<diesel::sql_types::BigInt, _>(PURGE_LOCK)
            .get_result(self)
            .await?;
        Ok(row.locked)
    }
}

impl MaintenanceLock for SqliteConn {
    async fn try_maintenance_lock(&mut self) -> QueryResult<bool> {
        Ok(true)
    }
}
