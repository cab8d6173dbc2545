//! One page of a member's mentions across the chats they are in now, newest first by message
//! id, in one statement. The rows' one index on PostgreSQL is (member, chat, seq) (migration
//! `mention_rows_one_index`), so there the page takes each chat's newest rows by seq and merges
//! them; SQLite keeps an index by (member, message) and walks it.

use parley_types::{MessageId, UserId};
use std::future::Future;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use super::fixed_text::FixedText;
use crate::db::schema::{chat_members, message_mentions};
use crate::db::{PgConn, SqliteConn};

pub trait MentionPageStatement {
    /// Up to `limit` ids of messages that mention `user_id` in chats the user is a member of
    /// now, older than `before`, newest first.
    fn mention_page(
        &mut self,
        user_id: UserId,
        before: Option<MessageId>,
        limit: i64,
    ) -> impl Future<Output = QueryResult<Vec<MessageId>>> + Send;
}

/// Each of the member's chats gives at most `limit` of its newest mentions below the cursor,
/// by seq (a primary-key range, read backwards); the page is the newest `limit` of those by
/// id. Within a chat, ids rise with seqs (the send's statement takes them in seq order), so a
/// chat's newest by seq are its newest by id. A chat's mentions newer than the cursor are
/// passed over in the index, which holds the id.
const PG_PAGE: &str = "\
SELECT x.message_id FROM chat_members cm \
CROSS JOIN LATERAL (SELECT mm.message_id FROM message_mentions mm \
                    WHERE mm.user_id = cm.user_id AND mm.chat_id = cm.chat_id \
                      AND mm.message_id < $2 \
                    ORDER BY mm.seq DESC LIMIT $3) x \
WHERE cm.user_id = $1 \
ORDER BY x.message_id DESC LIMIT $3";

#[derive(QueryableByName)]
struct MentionedMessage {
    #[diesel(sql_type = BigInt)]
    message_id: MessageId,
}

impl MentionPageStatement for PgConn {
    async fn mention_page(
        &mut self,
        user_id: UserId,
        before: Option<MessageId>,
        limit: i64,
    ) -> QueryResult<Vec<MessageId>> {
        let rows: Vec<MentionedMessage> = FixedText(
            diesel::sql_query(PG_PAGE)
                .bind::<BigInt, _>(user_id)
                // Ids are positive: no cursor is one past them all.
                .bind::<BigInt, _>(before.unwrap_or(MessageId(i64::MAX)))
                .bind::<BigInt, _>(limit),
        )
        .load(self)
        .await?;
        Ok(rows.into_iter().map(|row| row.message_id).collect())
    }
}

impl MentionPageStatement for SqliteConn {
    async fn mention_page(
        &mut self,
        user_id: UserId,
        before: Option<MessageId>,
        limit: i64,
    ) -> QueryResult<Vec<MessageId>> {
        // The member's mentions by id, backwards (`message_mentions_page`), each kept if its
        // chat is one of theirs.
        let mut query = message_mentions::table
            .inner_join(
                chat_members::table.on(chat_members::chat_id
                    .eq(message_mentions::chat_id)
                    .and(chat_members::user_id.eq(message_mentions::user_id))),
            )
            .filter(message_mentions::user_id.eq(user_id))
            .order(message_mentions::message_id.desc())
            .limit(limit)
            .select(message_mentions::message_id)
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(message_mentions::message_id.lt(before));
        }
        query.load(self).await
    }
}
