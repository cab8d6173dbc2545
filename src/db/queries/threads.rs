//! Threads: a root's summary after one of its replies is deleted, and a page of a thread.

use parley_types::{MessageId, Seq, UserId};

use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::db::rows::{MessageRow, StoredThread};
use crate::db::schema::messages;
use crate::domain::{Message, ThreadPage};
use crate::error::AppResult;

/// Counts the root's thread again from its replies that are not deleted (after one was
/// deleted, in that transaction and under the chat's lock) and stores the summary; returns the
/// root as it now is. Two reads of the thread's index entries, not of the whole chat.
pub async fn recount(conn: &mut Conn, root_id: MessageId) -> AppResult<MessageRow> {
    let live = messages::table
        .filter(messages::thread_root_id.eq(root_id))
        .filter(messages::deleted.eq(false));
    let (count, last): (i64, Option<i64>) = live
        .select((count_star(), max(messages::created_at)))
        .first(conn)
        .await?;
    let participants: Vec<UserId> = live
        .select(messages::author_id)
        .distinct()
        .order(messages::author_id)
        .load(conn)
        .await?;
    let thread = StoredThread {
        reply_count: count,
        last_reply_at: last.unwrap_or(0),
        participant_ids: participants,
    };
    Ok(diesel::update(messages::table.find(root_id))
        .set(messages::thread_summary.eq(thread.to_column()?))
        .returning(MessageRow::as_returning())
        .get_result(conn)
        .await?)
}

/// The thread `message_id` belongs to (its own, or the one it replies in) as `user_id` may
/// read it: the root and up to `limit` replies after `after_seq`, ascending. At most six
/// queries (the row, the membership, the root when the message was a reply, the replies, and
/// the reactions and attachments of them all), whatever the page's size.
pub async fn page(
    conn: &mut Conn,
    user_id: UserId,
    message_id: MessageId,
    after_seq: Seq,
    limit: i64,
) -> AppResult<ThreadPage> {
    let asked = super::aggregates::find_row(conn, message_id).await?;
    super::guards::require_member(conn, asked.chat_id, user_id).await?;
    let root = match asked.thread_root_id {
        Some(root_id) => super::aggregates::find_row(conn, root_id).await?,
        None => asked,
    };
    let mut rows: Vec<MessageRow> = messages::table
        .filter(messages::thread_root_id.eq(root.id))
        .filter(messages::seq.gt(after_seq))
        .order(messages::seq.asc())
        .limit(limit.saturating_add(1))
        .select(MessageRow::as_select())
        .load(conn)
        .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    rows.insert(0, root);
    let mut all = super::aggregates::complete(conn, rows).await?.into_iter();
    let root: Message = all
        .next()
        .ok_or_else(|| crate::error::AppError::internal("a thread lost its root"))?;
    Ok(ThreadPage {
        root,
        messages: all.collect(),
        has_more,
    })
}
