//! The actors: `DbExecutor` owns the database, `ChatRegistry` finds (and starts) the one
//! `ChatRoom` of each live chat, and each `ChatRoom` broadcasts its chat's committed events.

pub mod chat_registry;
pub mod chat_room;
pub mod db_executor;
pub mod db_ops;
pub mod send_batcher;
pub mod session_directory;
pub mod token_cache;
pub mod ws_protocol;
pub mod ws_session;

use actix::{Actor, Addr, Arbiter, Context};

use std::sync::Arc;

use crate::db::Database;
use crate::metrics::Metrics;
pub use chat_registry::ChatRegistry;
pub use chat_room::ChatRoom;
pub use db_executor::DbExecutor;
pub use session_directory::SessionDirectory;

/// The long-lived actors of one server, each on its own thread so that neither slow queries
/// nor a busy broadcast holds up the HTTP workers.
#[derive(Clone)]
pub struct Actors {
    pub db: Addr<DbExecutor>,
    pub registry: Addr<ChatRegistry>,
    pub directory: SessionDirectory,
    pub metrics: Arc<Metrics>,
}

pub struct ActorThreads {
    db: Arbiter,
    rooms: Arbiter,
}

impl ActorThreads {
    pub fn stop(&self) {
        self.db.stop();
        self.rooms.stop();
    }
}

/// Starts the `DbExecutor` and the `ChatRegistry`. They need each other's address, so the
/// executor's mailbox is made first and its actor started on it once the registry exists.
pub fn start(
    database: Database,
    metrics: Arc<Metrics>,
    settings: RoomSettings,
    send_batch: usize,
) -> (Actors, ActorThreads) {
    let directory = SessionDirectory::default();
    let db_thread = Arbiter::new();
    let rooms_thread = Arbiter::new();
    let (db_sender, db_receiver) = actix::dev::channel::channel::<DbExecutor>(DB_MAILBOX);
    let db = Addr::new(db_sender);
    let registry = {
        let (db, directory, metrics) = (db.clone(), directory.clone(), metrics.clone());
        ChatRegistry::start_in_arbiter(&rooms_thread.handle(), move |_| {
            ChatRegistry::new(db, directory, metrics, settings)
        })
    };
    let executor = DbExecutor::new(
        database,
        registry.clone(),
        directory.clone(),
        metrics.clone(),
        send_batch,
    );
    db_thread.spawn_fn(move || {
        Context::with_receiver(db_receiver).run(executor);
    });
    (
        Actors {
            db,
            registry,
            directory,
            metrics,
        },
        ActorThreads {
            db: db_thread,
            rooms: rooms_thread,
        },
    )
}

/// The executor hands each request to a spawned future at once, so its mailbox only absorbs
/// bursts; `send` waits when it is full.
const DB_MAILBOX: usize = 1024;

/// Tunables of the room actors.
#[derive(Clone, Copy, Debug)]
pub struct RoomSettings {
    /// A room with no sessions and no traffic for this long stops; it restarts on demand.
    pub idle_after: std::time::Duration,
    /// How long a room holds a later event while waiting for an earlier one before it reads
    /// the missing seqs from the event log.
    pub gap_timeout: std::time::Duration,
}

impl Default for RoomSettings {
    fn default() -> Self {
        RoomSettings {
            idle_after: std::time::Duration::from_secs(60),
            gap_timeout: std::time::Duration::from_millis(250),
        }
    }
}
