//! The database layer: one connection pool per process, PostgreSQL or SQLite, and the queries.
//!
//! Queries are written once (`queries/*.rs`) and compiled for each backend's concrete connection
//! type (`queries::pg`, `queries::sqlite`); `with_backend!` picks the right one for a pooled
//! connection. Only the `DbExecutor` actor uses this module.

mod meter;
pub mod migrations;
pub mod queries;
pub mod rows;
pub mod schema;
mod search_backfill;
pub mod usernames;

use diesel::{Connection, SqliteConnection};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool as DeadPool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use futures_util::FutureExt;
use prometheus::Histogram;

use crate::config::{Config, DatabaseUrl};
use crate::error::AppResult;

pub type PgConn = AsyncPgConnection;
pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// SQLite allows one writer at a time; a single connection turns what would be `SQLITE_BUSY`
/// failures under concurrent writes into an orderly queue.
const SQLITE_POOL_SIZE: usize = 1;

#[derive(Clone)]
enum Pool {
    Postgres(DeadPool<PgConn>),
    Sqlite(DeadPool<SqliteConn>),
}

/// A pooled connection of either backend; see `with_backend!`.
// Held on the stack for one operation; boxing the larger variant would allocate per request.
#[allow(clippy::large_enum_variant)]
pub enum DbConn {
    Postgres(Object<PgConn>),
    Sqlite(Object<SqliteConn>),
}

/// Runs `$body` with `$q` bound to the backend's query module and `$c` to its connection.
/// The body is written once and type-checked for each backend.
#[macro_export]
macro_rules! with_backend {
    ($conn:expr, $q:ident, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Postgres($c) => {
                use $crate::db::queries::pg as $q;
                let $c: &mut $crate::db::PgConn = &mut *$c;
                $body
            }
            $crate::db::DbConn::Sqlite($c) => {
                use $crate::db::queries::sqlite as $q;
                let $c: &mut $crate::db::SqliteConn = &mut *$c;
                $body
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
}

/// The process's database handle: cheap to clone, shared by the `DbExecutor`.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    /// PostgreSQL only: the connections that store send rounds (`send_conn`).
    send_lane: Option<DeadPool<PgConn>>,
    query_latency: Histogram,
    /// The ids of usernames read so far (never changing: see `usernames`).
    usernames: usernames::UsernameIds,
}

impl Database {
    /// Builds the pools; connections are opened lazily, so this does not fail on a database
    /// that is down (requests then answer 503 until it is back).
    pub fn connect(config: &Config, query_latency: Histogram) -> Result<Self, String> {
        let (pool, send_lane) = match &config.database {
            DatabaseUrl::Postgres(url) => (
                Pool::Postgres(pool_of(
                    url,
                    config.db_pool_size,
                    PG_SESSION,
                    config,
                    &query_latency,
                )?),
                Some(pool_of(
                    url,
                    SEND_LANE_CONNECTIONS,
                    PG_SEND_LANE_SESSION,
                    config,
                    &query_latency,
                )?),
            ),
            DatabaseUrl::Sqlite(path) => (
                Pool::Sqlite(pool_of(
                    &path.to_string_lossy(),
                    SQLITE_POOL_SIZE,
                    SQLITE_PRAGMAS,
                    config,
                    &query_latency,
                )?),
                None,
            ),
        };
        Ok(Database {
            pool,
            send_lane,
            query_latency,
            usernames: usernames::UsernameIds::default(),
        })
    }

    pub async fn conn(&self) -> AppResult<DbConn> {
        Ok(match &self.pool {
            Pool::Postgres(p) => DbConn::Postgres(p.get().await?),
            Pool::Sqlite(p) => DbConn::Sqlite(p.get().await?),
        })
    }

    /// A connection to store a round of sends on. On PostgreSQL it comes from the send lane,
    /// whose connections keep one plan per statement (`PG_SEND_LANE_SESSION`); SQLite has
    /// its one connection.
    pub async fn send_conn(&self) -> AppResult<DbConn> {
        match &self.send_lane {
            Some(lane) => Ok(DbConn::Postgres(lane.get().await?)),
            None => self.conn().await,
        }
    }

    /// How many rounds of sends may be stored at the same time: one per send lane connection
    /// on PostgreSQL (one round commits while the next runs its statements; more only made
    /// smaller rounds sharing the same cores, docs/benchmarks.md); one on SQLite, whose single
    /// connection a second round would only wait for.
    pub fn send_rounds(&self) -> usize {
        match self.send_lane {
            Some(_) => SEND_LANE_CONNECTIONS,
            None => 1,
        }
    }

    pub fn usernames(&self) -> &usernames::UsernameIds {
        &self.usernames
    }

    /// Statements run so far on pooled connections.
    pub fn queries_run(&self) -> u64 {
        self.query_latency.get_sample_count()
    }

    /// The general pool's connections, and the send lane's (PostgreSQL only).
    pub fn pool_status(&self) -> Vec<(&'static str, PoolStatus)> {
        let general = match &self.pool {
            Pool::Postgres(p) => p.status(),
            Pool::Sqlite(p) => p.status(),
        };
        std::iter::once(("general", general))
            .chain(self.send_lane.iter().map(|lane| ("sends", lane.status())))
            .map(|(name, s)| {
                (
                    name,
                    PoolStatus {
                        max_size: s.max_size,
                        size: s.size,
                        available: s.available,
                        waiting: s.waiting,
                    },
                )
            })
            .collect()
    }

    /// `SELECT 1` on a pooled connection: what `/readyz` asks.
    pub async fn ping(&self) -> AppResult<()> {
        let mut conn = self.conn().await?;
        with_backend!(&mut conn, q, c => q::guards::ping(c).await)
    }
}

/// A pool of at most `size` connections of either backend, each of which runs `setup` (its
/// session settings or pragmas) when it opens and meters its statements into `query_latency`.
fn pool_of<C>(
    url: &str,
    size: usize,
    setup: &'static str,
    config: &Config,
    query_latency: &Histogram,
) -> Result<DeadPool<C>, String>
where
    C: diesel_async::pooled_connection::PoolableConnection + SimpleAsyncConnection + 'static,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager<Type = C>,
{
    let latency = query_latency.clone();
    let mut manager_config = ManagerConfig::<C>::default();
    // No `SELECT 1` on every checkout: a connection that died is known as closed (and
    // discarded), and one that dies mid-request gives that request a 503.
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url| {
        let latency = latency.clone();
        let url = url.to_owned();
        async move {
            let mut conn = C::establish(&url).await?;
            conn.batch_execute(setup)
                .await
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            conn.set_instrumentation(meter::QueryMeter::new(latency));
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::new_with_config(url, manager_config);
    DeadPool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(config.db_timeout))
        .create_timeout(Some(config.db_timeout))
        .recycle_timeout(Some(config.db_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| format!("cannot build the database pool: {e}"))
}

/// Every statement is planned for the values it runs with, never from a plan cached for the
/// connection. diesel prepares each statement once per connection, and PostgreSQL's default
/// (`auto`) then settles on plans chosen while the tables were small (a hash join over a
/// sequential scan of `idempotency_keys` or `chats`, right for a few hundred rows) and keeps
/// them as the tables grow, until an `ANALYZE` of the table happens to invalidate them: with
/// 300,000 keys and 50,000 chats added by SQL after 3 s of sends, sends fell from 2,881 to 908 a
/// second while batches read 64 million rows of `chats` in 10 s (docs/benchmarks.md, "Flat at
/// scale"). For a table of a few pages a sequential scan is the cheapest plan, so no statement
/// shape avoids this; only not keeping the plan does. The price is planning every run: about a
/// millisecond of PostgreSQL's time per send batch (20 % of its throughput on the batch's
/// statements alone, measured with `docs/pgbench/send_batch.sql`).
/// (Send rounds run on connections of their own instead: `PG_SEND_LANE_SESSION`.)
pub const PG_SESSION: &str = "SET plan_cache_mode = force_custom_plan";

/// The send lane's connections keep one plan per statement, made once, with sequential scans
/// and hash and merge joins ruled out. A send round's statements have fixed texts and only
/// look rows up by key from the arrays they are given (`queries::batch_statements`), so the
/// right plan for them is index probes in nested loops at any table size: ruling the rest out
/// makes the plan chosen on an empty database the one a grown database needs, which is what
/// `PG_SESSION` gets by planning every run (`scale::no_hot_statement_scans_a_grown_table`
/// holds both). Planning every run was most of a batch's database time: 2.50 ms per batch of
/// sends into 100 chats, 1.19 ms once planned (docs/benchmarks.md, "Send rounds keep their
/// plans"). Statements whose best plan depends on their values (history pages, the chat list,
/// search) never run here.
pub const PG_SEND_LANE_SESSION: &str = "SET plan_cache_mode = force_generic_plan; \
     SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off";

/// Connections in the send lane: the rounds of sends stored at the same time.
const SEND_LANE_CONNECTIONS: usize = 2;

/// WAL lets readers proceed during a write; `synchronous = FULL` makes a commit durable before
/// the client hears about it; the busy timeout covers other processes (`parley migrate`).
/// (The busy timeout comes first so that the other pragmas wait for a lock too.)
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

/// Opens a one-off connection outside the pool, on a thread of its own (the migration harness
/// is synchronous), and applies pending migrations.
pub async fn run_migrations(database: &DatabaseUrl) -> Result<usize, String> {
    let database = database.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(migrate_blocking(&database));
    });
    rx.await
        .map_err(|_| "the migration thread stopped unexpectedly".to_owned())?
}

/// Writes a consistent copy of a (possibly running) SQLite database to `target`: `VACUUM INTO`
/// reads one snapshot, whatever the server writes meanwhile, and the copy is a complete,
/// compacted database file. PostgreSQL has its own tool for this.
pub async fn backup_sqlite(database: &DatabaseUrl, target: &std::path::Path) -> Result<(), String> {
    let DatabaseUrl::Sqlite(source) = database.clone() else {
        return Err(
            "backup copies SQLite files; for PostgreSQL use pg_dump \"$DATABASE_URL\"".into(),
        );
    };
    if target.exists() {
        return Err(format!(
            "{} exists already; name a new file",
            target.display()
        ));
    }
    let target = target.to_path_buf();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let copy = || -> Result<(), String> {
            if !source.exists() {
                return Err(format!("no SQLite database at {}", source.display()));
            }
            let mut conn = SqliteConnection::establish(&source.to_string_lossy())
                .map_err(|e| format!("cannot open {}: {e}", source.display()))?;
            let quoted = target.to_string_lossy().replace('\'', "''");
            diesel::connection::SimpleConnection::batch_execute(
                &mut conn,
                &format!("PRAGMA busy_timeout = 5000; VACUUM INTO '{quoted}'"),
            )
            .map_err(|e| format!("backup to {} failed: {e}", target.display()))
        };
        let _ = tx.send(copy());
    });
    rx.await
        .map_err(|_| "the backup thread stopped unexpectedly".to_owned())?
}

/// The advisory lock that serialises migrations between nodes (any constant used for nothing
/// else).
const MIGRATION_LOCK: i64 = 0x7061_726c_6d69; // "parlmi"

fn migrate_blocking(database: &DatabaseUrl) -> Result<usize, String> {
    match database {
        DatabaseUrl::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                .map_err(|e| format!("cannot open SQLite database {}: {e}", path.display()))?;
            // Another process (a server still shutting down) may hold the write lock briefly.
            diesel::connection::SimpleConnection::batch_execute(&mut conn, SQLITE_PRAGMAS)
                .map_err(|e| format!("cannot configure SQLite database {}: {e}", path.display()))?;
            let applied = migrations::apply(&mut conn, migrations::SQLITE)?;
            search_backfill::sqlite(&mut conn)?;
            Ok(applied)
        }
        DatabaseUrl::Postgres(url) => {
            let mut conn = <AsyncConnectionWrapper<PgConn> as Connection>::establish(url)
                .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
            // Nodes starting together on one database take turns: the first applies what is
            // pending, the others then find nothing left to do. The lock ends with the session.
            diesel::connection::SimpleConnection::batch_execute(
                &mut conn,
                &format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"),
            )
            .map_err(|e| format!("cannot take the migration lock: {e}"))?;
            let applied = migrations::apply(&mut conn, migrations::POSTGRES)
                .and_then(|applied| search_backfill::postgres(&mut conn).map(|_| applied));
            diesel::connection::SimpleConnection::batch_execute(
                &mut conn,
                &format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"),
            )
            .map_err(|e| format!("cannot release the migration lock: {e}"))?;
            applied
        }
    }
}
