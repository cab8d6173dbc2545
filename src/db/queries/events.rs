//! The chat event log and the per-chat sequence counter.

use parley_types::{ChatId, MessageId, Seq};
use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::db::rows::EventRow;
use crate::db::schema::{chat_events, chats};
use crate::domain::events::EventKind;
use crate::domain::{
    ChatEvent, EventPayload, MemberChange, Reaction, ReactionChange, Role, Timestamp,
};
use crate::error::{AppError, AppResult};

/// Takes the chat's next `count` seqs (locking the chat row as `lock_chat` does) and returns the
/// first of them, or `None` if the chat does not exist.
pub async fn reserve_seqs(conn: &mut Conn, chat_id: ChatId, count: i64) -> AppResult<Option<Seq>> {
    let last: Option<Seq> = diesel::update(chats::table.find(chat_id))
        .set((
            chats::last_seq.eq(chats::last_seq + count),
            chats::last_activity_at.eq(Timestamp::now().millis()),
        ))
        .returning(chats::last_seq)
        .get_result(conn)
        .await
        .optional()?;
    Ok(last.map(|last| last - count + 1))
}

pub async fn append(conn: &mut Conn, rows: &[EventRow]) -> AppResult<()> {
    // One statement per row: diesel-async cannot send a multi-row INSERT to SQLite.
    for row in rows {
        diesel::insert_into(chat_events::table)
            .values(row)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Up to `limit` events of the chat with `seq > after_seq`, in order, each carrying the current
/// state of its message. Three queries, whatever `limit` is.
pub async fn load_after(
    conn: &mut Conn,
    chat_id: ChatId,
    after_seq: Seq,
    limit: i64,
) -> AppResult<Vec<ChatEvent>> {
    let rows: Vec<EventRow> = chat_events::table
        .filter(chat_events::chat_id.eq(chat_id))
        .filter(chat_events::seq.gt(after_seq))
        .order(chat_events::seq.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
        .await?;
    let mut message_ids: Vec<MessageId> = rows.iter().filter_map(|r| r.message_id).collect();
    message_ids.sort_unstable();
    message_ids.dedup();
    let messages: HashMap<MessageId, crate::domain::Message> =
        super::aggregates::load_by_ids(conn, &message_ids).await?;
    rows.into_iter()
        .map(|row| hydrate(row, &messages))
        .collect()
}

fn hydrate(
    row: EventRow,
    messages: &HashMap<MessageId, crate::domain::Message>,
) -> AppResult<ChatEvent> {
    let corrupt =
        |what: &str| AppError::internal(format!("event {}/{}: {what}", row.chat_id, row.seq));
    let kind = EventKind::parse(&row.kind).ok_or_else(|| corrupt("unknown kind"))?;
    let message = || {
        row.message_id
            .and_then(|id| messages.get(&id).cloned())
            .ok_or_else(|| corrupt("missing message"))
    };
    let reaction = || -> AppResult<ReactionChange> {
        Ok(ReactionChange {
            message: message()?,
            reaction: Reaction {
                emoji: row.emoji.clone().ok_or_else(|| corrupt("missing emoji"))?,
                user_id: row.user_id.ok_or_else(|| corrupt("missing user"))?,
                created_at: Timestamp(row.reaction_created_at.unwrap_or(row.created_at)),
            },
        })
    };
    let member = || -> AppResult<MemberChange> {
        Ok(MemberChange {
            chat_id: row.chat_id,
            user_id: row.user_id.ok_or_else(|| corrupt("missing user"))?,
            role: row
                .role
                .as_deref()
                .and_then(Role::parse)
                .ok_or_else(|| corrupt("missing role"))?,
        })
    };
    let payload = match kind {
        EventKind::MessageCreated => EventPayload::MessageCreated(message()?),
        EventKind::MessageUpdated => EventPayload::MessageUpdated(message()?),
        EventKind::MessageDeleted => EventPayload::MessageDeleted(message()?),
        EventKind::ReactionAdded => EventPayload::ReactionAdded(reaction()?),
        EventKind::ReactionRemoved => EventPayload::ReactionRemoved(reaction()?),
        EventKind::MemberJoined => EventPayload::MemberJoined(member()?),
        EventKind::MemberLeft => EventPayload::MemberLeft(member()?),
    };
    Ok(ChatEvent {
        chat_id: row.chat_id,
        seq: row.seq,
        payload,
    })
}
