//! The locks that keep each member's `read_count` exact (see `queries::unread`).
//!
//! A read marker's move counts messages; a delete changes which messages count. On PostgreSQL
//! the two must not interleave: a marker move holds its chat's row `FOR KEY SHARE`, a delete
//! holds it `FOR UPDATE`, and those two conflict. Sends hold the row `FOR NO KEY UPDATE`, which
//! conflicts with deletes but not with marker moves: a marker never passes a seq that is not
//! committed (it is capped at the chat's committed `last_seq`), so sends cannot change what a
//! move counts. A member's own concurrent moves queue on their membership row.
//! SQLite has one connection, so every transaction already runs alone.

use parley_types::{ChatId, Seq, UserId};
use std::future::Future;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{chat_members, chats};
use crate::db::{PgConn, SqliteConn};

pub trait UnreadLocks {
    /// Holds the chat against deletes and the membership against the member's other marker
    /// moves until the transaction ends; returns the member's `last_read_seq` and
    /// `read_count` as they are then, or `None` if they are not a member.
    fn lock_read_marker(
        &mut self,
        chat_id: ChatId,
        user_id: UserId,
    ) -> impl Future<Output = QueryResult<Option<(Seq, i64)>>> + Send;

    /// Holds the chat against marker moves until the transaction ends (the caller already
    /// holds it against every other writer).
    fn lock_against_read_markers(
        &mut self,
        chat_id: ChatId,
    ) -> impl Future<Output = QueryResult<()>> + Send;
}

impl UnreadLocks for PgConn {
    async fn lock_read_marker(
        &mut self,
        chat_id: ChatId,
        user_id: UserId,
    ) -> QueryResult<Option<(Seq, i64)>> {
        chats::table
            .find(chat_id)
            .select(chats::id)
            .for_key_share()
            .first::<i64>(self)
            .await
            .optional()?;
        chat_members::table
            .find((chat_id, user_id))
            .select((chat_members::last_read_seq, chat_members::read_count))
            .for_update()
            .first(self)
            .await
            .optional()
    }

    async fn lock_against_read_markers(&mut self, chat_id: ChatId) -> QueryResult<()> {
        chats::table
            .find(chat_id)
            .select(chats::id)
            .for_update()
            .first::<i64>(self)
            .await
            .optional()?;
        Ok(())
    }
}

impl UnreadLocks for SqliteConn {
    async fn lock_read_marker(
        &mut self,
        chat_id: ChatId,
        user_id: UserId,
    ) -> QueryResult<Option<(Seq, i64)>> {
        chat_members::table
            .find((chat_id, user_id))
            .select((chat_members::last_read_seq, chat_members::read_count))
            .first(self)
            .await
            .optional()
    }

    async fn lock_against_read_markers(&mut self, _chat_id: ChatId) -> QueryResult<()> {
        Ok(())
    }
}
