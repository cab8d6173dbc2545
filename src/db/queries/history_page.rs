//! One page of a chat's history in one statement: the messages with their reactions
//! aggregated per message (one row per message, not one per reaction), and the caller's
//! membership checked in the same statement. Each backend has its own text, because each
//! spells a JSON aggregate its own way; both return the reactions as a JSON array of
//! `[user_id, emoji, created_at]`, ordered by `created_at`, then `user_id`, then `emoji`, and
//! each message's `attachment_count`: the attachments of the few messages that have some are
//! read by a second statement, so that a page without any costs what it did before attachments
//! existed (a subquery per row would be planned and run for every page).

use parley_types::{ChatId, MessageId, Seq, UserId};
use std::collections::HashMap;
use std::future::Future;

use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text};
use diesel_async::RunQueryDsl;

use super::fixed_text::FixedText;
use crate::db::rows::MessageRow;
use crate::db::{PgConn, SqliteConn};
use crate::domain::{Attachment, HistoryCursor, Reaction, Timestamp};
use crate::error::{AppError, AppResult};

/// A message row with its reactions as the JSON text the statement aggregated.
#[derive(QueryableByName)]
pub struct PageRow {
    #[diesel(embed)]
    pub message: MessageRow,
    #[diesel(sql_type = Text)]
    pub reactions: String,
}

impl PageRow {
    /// The complete message: the reactions parsed from the aggregate, the attachments taken
    /// from those read for the page (`attachments::of_messages`).
    pub fn into_aggregate(
        self,
        attachments: &mut HashMap<MessageId, Vec<Attachment>>,
    ) -> AppResult<crate::domain::Message> {
        let reactions = self.reactions()?;
        let attachments = attachments.remove(&self.message.id).unwrap_or_default();
        Ok(self.message.into_aggregate(reactions, attachments))
    }

    /// The reactions, parsed from the statement's aggregate.
    pub fn reactions(&self) -> AppResult<Vec<Reaction>> {
        let reactions: Vec<(UserId, String, i64)> = serde_json::from_str(&self.reactions)
            .map_err(|e| AppError::internal(format!("reactions aggregate: {e}")))?;
        Ok(reactions
            .into_iter()
            .map(|(user_id, emoji, created_at)| Reaction {
                emoji,
                user_id,
                created_at: Timestamp(created_at),
            })
            .collect())
    }
}

/// The ids of the messages of a page that were sent with attachments.
pub fn with_attachments(rows: &[PageRow]) -> Vec<MessageId> {
    rows.iter()
        .filter(|r| r.message.attachment_count > 0)
        .map(|r| r.message.id)
        .collect()
}

pub trait HistoryPageStatement {
    /// Up to `limit` messages of `chat_id` within the cursor's bounds, newest first for a backward
    /// page and oldest first for a forward one; no rows at all unless `user_id` is a member.
    /// With `main_only`, thread replies are left out.
    fn history_rows(
        &mut self,
        chat_id: ChatId,
        user_id: UserId,
        cursor: HistoryCursor,
        limit: i64,
        main_only: bool,
    ) -> impl Future<Output = QueryResult<Vec<PageRow>>> + Send + '_;
}

/// `(lower, upper)` of a cursor: a page takes the seqs strictly between the bounds, from the
/// upper one down or, when the cursor reads forward, from the lower one up.
fn bounds(cursor: HistoryCursor) -> (Seq, Seq) {
    match cursor {
        HistoryCursor::Newest => (Seq(i64::MIN), Seq(i64::MAX)),
        HistoryCursor::BeforeSeq(seq) => (Seq(i64::MIN), seq),
        HistoryCursor::AfterSeq(seq) => (seq, Seq(i64::MAX)),
        HistoryCursor::Between { after, before } => (after, before),
    }
}

/// A backend's four texts of the page statement: forward and backward, each with every
/// message and with the main timeline only (a text each, rather than a parameter, so that each
/// is planned for what it reads).
struct PageTexts {
    forward: &'static str,
    backward: &'static str,
    main_forward: &'static str,
    main_backward: &'static str,
}

/// The page statement in its backend's text (by the cursor's direction and `main_only`), with
/// its five parameters bound in the order every text uses them.
fn page_query<DB>(
    texts: &PageTexts,
    chat_id: ChatId,
    user_id: UserId,
    cursor: HistoryCursor,
    limit: i64,
    main_only: bool,
) -> BoxedSqlQuery<'static, DB, SqlQuery>
where
    DB: Backend + HasSqlType<BigInt>,
    i64: ToSql<BigInt, DB>,
{
    let (lower, upper) = bounds(cursor);
    diesel::sql_query(match (cursor.reads_forward(), main_only) {
        (true, false) => texts.forward,
        (false, false) => texts.backward,
        (true, true) => texts.main_forward,
        (false, true) => texts.main_backward,
    })
    .into_boxed::<DB>()
    .bind::<BigInt, _>(chat_id)
    .bind::<BigInt, _>(user_id)
    .bind::<BigInt, _>(lower)
    .bind::<BigInt, _>(upper)
    .bind::<BigInt, _>(limit)
}

macro_rules! page_text {
    ($reactions:expr, $chat:literal, $user:literal, $lower:literal, $upper:literal, $limit:literal, $order:literal, $only:expr) => {
        concat!(
            message_columns!($reactions),
            " FROM messages m WHERE m.chat_id = ",
            $chat,
            " AND EXISTS (SELECT 1 FROM chat_members c WHERE c.chat_id = ",
            $chat,
            " AND c.user_id = ",
            $user,
            ") AND m.seq > ",
            $lower,
            " AND m.seq < ",
            $upper,
            $only,
            " ORDER BY m.seq ",
            $order,
            " LIMIT ",
            $limit
        )
    };
}

/// The reactions of message `m` as a JSON array of `[user_id, emoji, created_at]`, in the
/// contract's order, in PostgreSQL's spelling (`'[]'` when there are none).
macro_rules! pg_reactions {
    () => {
        "COALESCE((SELECT json_agg(json_build_array(r.user_id, r.emoji, r.created_at) \
         ORDER BY r.created_at, r.user_id, r.emoji) FROM reactions r \
         WHERE r.message_id = m.id)::text, '[]')"
    };
}

/// The same in SQLite's spelling.
macro_rules! sqlite_reactions {
    () => {
        "(SELECT json_group_array(json_array(r.user_id, r.emoji, r.created_at) \
         ORDER BY r.created_at, r.user_id, r.emoji) FROM reactions r \
         WHERE r.message_id = m.id)"
    };
}

/// The columns of `MessageRow` from messages `m`, then the reactions aggregate and how many
/// attachments the message was sent with.
macro_rules! message_columns {
    ($reactions:expr) => {
        concat!(
            "SELECT m.id, m.chat_id, m.seq, m.author_id, m.kind, m.content, m.reply_to_id, ",
            "m.client_id, m.created_at, m.edited_at, m.deleted, m.attachment_count, m.mention_ids, ",
            "m.thread_root_id, m.thread_summary, ",
            $reactions,
            " AS reactions"
        )
    };
}

macro_rules! pg_page {
    ($order:literal, $only:expr) => {
        page_text!(pg_reactions!(), "$1", "$2", "$3", "$4", "$5", $order, $only)
    };
}

macro_rules! sqlite_page {
    ($order:literal, $only:expr) => {
        page_text!(
            sqlite_reactions!(),
            "?1",
            "?2",
            "?3",
            "?4",
            "?5",
            $order,
            $only
        )
    };
}

/// What `thread=main` adds: the replies of threads are left out.
macro_rules! main_only {
    () => {
        " AND m.thread_root_id IS NULL"
    };
}

const PG_TEXTS: PageTexts = PageTexts {
    forward: pg_page!("ASC", ""),
    backward: pg_page!("DESC", ""),
    main_forward: pg_page!("ASC", main_only!()),
    main_backward: pg_page!("DESC", main_only!()),
};
const SQLITE_TEXTS: PageTexts = PageTexts {
    forward: sqlite_page!("ASC", ""),
    backward: sqlite_page!("DESC", ""),
    main_forward: sqlite_page!("ASC", main_only!()),
    main_backward: sqlite_page!("DESC", main_only!()),
};

impl HistoryPageStatement for PgConn {
    async fn history_rows(
        &mut self,
        chat_id: ChatId,
        user_id: UserId,
        cursor: HistoryCursor,
        limit: i64,
        main_only: bool,
    ) -> QueryResult<Vec<PageRow>> {
        let query =
            page_query::<diesel::pg::Pg>(&PG_TEXTS, chat_id, user_id, cursor, limit, main_only);
        FixedText(query).load(self).await
    }
}

impl HistoryPageStatement for SqliteConn {
    async fn history_rows(
        &mut self,
        chat_id: ChatId,
        user_id: UserId,
        cursor: HistoryCursor,
        limit: i64,
        main_only: bool,
    ) -> QueryResult<Vec<PageRow>> {
        page_query::<diesel::sqlite::Sqlite>(
            &SQLITE_TEXTS,
            chat_id,
            user_id,
            cursor,
            limit,
            main_only,
        )
        .load(self)
        .await
    }
}
