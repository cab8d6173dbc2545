//! Claiming due push notifications: on PostgreSQL several nodes claim from one outbox, and
//! `FOR UPDATE SKIP LOCKED` gives each row to one of them; an SQLite file has one process.
//! A claim moves the row's `due_at` past a lease, so that a node that dies holding it leaves
//! it to be claimed again once the lease ends (at least once).

use std::future::Future;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use super::fixed_text::FixedText;
use crate::db::schema::{chats, push_outbox};
use crate::db::{PgConn, SqliteConn};
use parley_types::{ChatId, Seq, SubscriptionId};

/// An outbox row as claimed.
#[derive(Clone, Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = push_outbox, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ClaimedRow {
    pub subscription_id: SubscriptionId,
    pub chat_id: ChatId,
    pub after_seq: Seq,
    pub attempts: i32,
    pub failing_since: Option<i64>,
}

pub trait PushClaims {
    /// Up to `limit` rows due at `now`, oldest due first, each held until `now + lease_ms`.
    fn claim_due(
        &mut self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> impl Future<Output = QueryResult<Vec<ClaimedRow>>> + Send;

    /// Returns once every send into the chat that was in flight has ended (sends hold the
    /// chat's row until they commit). A send that found a device's row owed adds none: the
    /// row's holder must see that send's message before it lets the row go.
    fn await_chat_sends(&mut self, chat_id: ChatId)
        -> impl Future<Output = QueryResult<()>> + Send;
}

const CLAIM: &str = "\
UPDATE push_outbox o SET due_at = $1 + $2 \
FROM (SELECT subscription_id, chat_id FROM push_outbox WHERE due_at <= $1 \
      ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) d \
WHERE o.subscription_id = d.subscription_id AND o.chat_id = d.chat_id \
RETURNING o.subscription_id, o.chat_id, o.after_seq, o.attempts, o.failing_since";

impl PushClaims for PgConn {
    async fn claim_due(
        &mut self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> QueryResult<Vec<ClaimedRow>> {
        FixedText(
            diesel::sql_query(CLAIM)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(lease_ms)
                .bind::<BigInt, _>(limit),
        )
        .load(self)
        .await
    }

    async fn await_chat_sends(&mut self, chat_id: ChatId) -> QueryResult<()> {
        // FOR SHARE waits for the FOR NO KEY UPDATE a send holds, and is let go at once.
        chats::table
            .find(chat_id)
            .select(chats::id)
            .for_share()
            .first::<i64>(self)
            .await
            .optional()?;
        Ok(())
    }
}

impl PushClaims for SqliteConn {
    async fn claim_due(
        &mut self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> QueryResult<Vec<ClaimedRow>> {
        // The pool's one connection: nothing else writes between the read and the update.
        let due: Vec<ClaimedRow> = push_outbox::table
            .filter(push_outbox::due_at.le(now))
            .order(push_outbox::due_at)
            .limit(limit)
            .select(ClaimedRow::as_select())
            .load(self)
            .await?;
        for row in &due {
            diesel::update(push_outbox::table.find((row.subscription_id, row.chat_id)))
                .set(push_outbox::due_at.eq(now + lease_ms))
                .execute(self)
                .await?;
        }
        Ok(due)
    }

    async fn await_chat_sends(&mut self, _: ChatId) -> QueryResult<()> {
        // The pool's one connection: no send is in flight while this runs.
        Ok(())
    }
}
