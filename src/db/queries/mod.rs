//! Query code, written once and compiled for each backend's connection type.
//!
//! Each file in this folder is a module compiled twice, as `pg::<name>` and `sqlite::<name>`,
//! where `super::Conn` is that backend's concrete connection: diesel checks every query
//! against both backends at compile time, and `with_backend!` chooses the module at run time.
//! The modules depend on each other in one direction: `guards` (checks and locks), then
//! `aggregates` (complete reads), then `events` (the log), then the commands (`chats`,
//! `messages`); `users` and `idempotency` stand apart.

// Each query file is compiled once per backend, on purpose.
#[allow(clippy::duplicate_mod)]
pub mod pg;
#[allow(clippy::duplicate_mod)]
pub mod sqlite;

/// What a write hands back to the executor: the answer for the client, and the events it
/// committed (to be broadcast once the transaction is durable).
#[derive(Debug)]
pub struct Written<T> {
    pub status: u16,
    pub value: T,
    pub events: Vec<crate::domain::ChatEvent>,
}

impl<T> Written<T> {
    pub fn new(status: u16, value: T, events: Vec<crate::domain::ChatEvent>) -> Self {
        Written {
            status,
            value,
            events,
        }
    }
}

/// The answer to a request that carried an `Idempotency-Key`.
#[derive(Debug)]
pub enum Idempotent<T> {
    /// First time this key was used: the operation ran and committed.
    Fresh(Written<T>),
    /// The key was used before with the same request: the stored answer, byte for byte.
    Replayed(StoredReply),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReply {
    pub status: u16,
    pub body: String,
}

/// A validated `Idempotency-Key` with the fingerprint of the request that carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

/// A message to store, already validated.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub chat_id: i64,
    pub author_id: i64,
    pub content: String,
    pub reply_to_id: Option<i64>,
    pub client_id: Option<String>,
}

/// The account a valid token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenOwner {
    pub token_id: i64,
    pub user_id: i64,
    pub expires_at: crate::domain::Timestamp,
}

/// Where a read marker ended up, when it moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReadMarker {
    pub chat_id: i64,
    pub user_id: i64,
    pub seq: i64,
}

/// Multi-row inserts where the backend allows them. diesel-async cannot send a multi-row
/// INSERT to SQLite, so there each row is its own statement (cheap: SQLite is in-process, and
/// the rows still commit together).
pub trait InsertRows {
    fn insert_messages<'a>(
        &'a mut self,
        rows: &'a [crate::db::rows::NewMessageRow<'a>],
    ) -> impl std::future::Future<Output = diesel::QueryResult<Vec<crate::db::rows::MessageRow>>>
           + Send
           + 'a;

    fn insert_events<'a>(
        &'a mut self,
        rows: &'a [crate::db::rows::EventRow],
    ) -> impl std::future::Future<Output = diesel::QueryResult<()>> + Send + 'a;

    /// Inserts idempotency records, skipping keys that exist; returns the keys inserted.
    fn insert_keys<'a>(
        &'a mut self,
        rows: &'a [crate::db::rows::IdempotencyRow],
    ) -> impl std::future::Future<Output = diesel::QueryResult<Vec<(i64, String)>>> + Send + 'a;
}

mod insert_rows {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    use super::InsertRows;
    use crate::db::rows::{EventRow, IdempotencyRow, MessageRow, NewMessageRow};
    use crate::db::schema::{chat_events, idempotency_keys, messages};
    use crate::db::{PgConn, SqliteConn};

    impl InsertRows for PgConn {
        async fn insert_messages<'a>(
            &'a mut self,
            rows: &'a [NewMessageRow<'a>],
        ) -> QueryResult<Vec<MessageRow>> {
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            diesel::insert_into(messages::table)
                .values(rows)
                .returning(MessageRow::as_returning())
                .get_results(self)
                .await
        }

        async fn insert_events<'a>(&'a mut self, rows: &'a [EventRow]) -> QueryResult<()> {
            if !rows.is_empty() {
                diesel::insert_into(chat_events::table)
                    .values(rows)
                    .execute(self)
                    .await?;
            }
            Ok(())
        }

        async fn insert_keys<'a>(
            &'a mut self,
            rows: &'a [IdempotencyRow],
        ) -> QueryResult<Vec<(i64, String)>> {
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            diesel::insert_into(idempotency_keys::table)
                .values(rows)
                .on_conflict((idempotency_keys::user_id, idempotency_keys::key))
                .do_nothing()
                .returning((idempotency_keys::user_id, idempotency_keys::key))
                .get_results(self)
                .await
        }
    }

    impl InsertRows for SqliteConn {
        async fn insert_messages<'a>(
            &'a mut self,
            rows: &'a [NewMessageRow<'a>],
        ) -> QueryResult<Vec<MessageRow>> {
            let mut inserted = Vec::with_capacity(rows.len());
            for row in rows {
                inserted.push(
                    diesel::insert_into(messages::table)
                        .values(row)
                        .returning(MessageRow::as_returning())
                        .get_result(self)
                        .await?,
                );
            }
            Ok(inserted)
        }

        async fn insert_events<'a>(&'a mut self, rows: &'a [EventRow]) -> QueryResult<()> {
            for row in rows {
                diesel::insert_into(chat_events::table)
                    .values(row)
                    .execute(self)
                    .await?;
            }
            Ok(())
        }

        async fn insert_keys<'a>(
            &'a mut self,
            rows: &'a [IdempotencyRow],
        ) -> QueryResult<Vec<(i64, String)>> {
            let mut inserted = Vec::with_capacity(rows.len());
            for row in rows {
                let done = diesel::insert_into(idempotency_keys::table)
                    .values(row)
                    .on_conflict((idempotency_keys::user_id, idempotency_keys::key))
                    .do_nothing()
                    .execute(self)
                    .await?;
                if done == 1 {
                    inserted.push((row.user_id, row.key.clone()));
                }
            }
            Ok(inserted)
        }
    }
}

/// What became of one send in a batch.
// One per send of a batch, moved once; boxing the answer would allocate for every send.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum BatchOutcome {
    Done(crate::error::AppResult<Idempotent<crate::domain::Message>>),
    /// Another send in the same batch carries the same `Idempotency-Key`; it goes in a later
    /// batch, where it replays the first one's answer.
    Deferred,
}

/// A send waiting for its batch.
#[derive(Clone, Debug)]
pub struct BatchedSend {
    pub message: NewMessage,
    pub key: Option<IdempotencyKey>,
}

/// Returned when a key claimed by a concurrent request appeared after the batch checked it;
/// the whole batch is rolled back and tried again.
pub const BATCH_RACE: &str = "idempotency_key_in_flight";
