// Messages and reactions, always loaded as complete aggregates.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::db::queries::{NewMessage, Written};
use crate::db::rows::{EventRow, MessageRow, NewMessageRow, ReactionRow};
use crate::db::schema::{messages, reactions};
use crate::domain::events::EventKind;
use crate::domain::{
    ChatEvent, EventPayload, HistoryCursor, HistoryPage, Message, Reaction, ReactionChange, Role,
    Timestamp,
};
use crate::error::{AppError, AppResult};

/// The reactions of every message in `message_ids`, in one query, grouped by message and
/// ordered by `created_at`, then `user_id`.
async fn reactions_by_message(
    conn: &mut Conn,
    message_ids: &[i64],
) -> AppResult<HashMap<i64, Vec<Reaction>>> {
    let mut grouped: HashMap<i64, Vec<Reaction>> = HashMap::new();
    if message_ids.is_empty() {
        return Ok(grouped);
    }
    let rows: Vec<ReactionRow> = reactions::table
        .filter(reactions::message_id.eq_any(message_ids))
        .order((
            reactions::created_at.asc(),
            reactions::user_id.asc(),
            reactions::emoji.asc(),
        ))
        .select(ReactionRow::as_select())
        .load(conn)
        .await?;
    for row in rows {
        grouped
            .entry(row.message_id)
            .or_default()
            .push(row.into_domain());
    }
    Ok(grouped)
}

/// Completes message rows into aggregates with one more query, keeping their order.
pub async fn with_reactions(conn: &mut Conn, rows: Vec<MessageRow>) -> AppResult<Vec<Message>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut grouped = reactions_by_message(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let reactions = grouped.remove(&row.id).unwrap_or_default();
            row.into_aggregate(reactions)
        })
        .collect())
}

/// The aggregates of the given messages, keyed by id. Two queries.
pub async fn load_by_ids(conn: &mut Conn, ids: &[i64]) -> AppResult<HashMap<i64, Message>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<MessageRow> = messages::table
        .filter(messages::id.eq_any(ids))
        .select(MessageRow::as_select())
        .load(conn)
        .await?;
    Ok(with_reactions(conn, rows)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect())
}

async fn find_row(conn: &mut Conn, message_id: i64) -> AppResult<MessageRow> {
    messages::table
        .find(message_id)
        .select(MessageRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("message"))
}

async fn aggregate(conn: &mut Conn, row: MessageRow) -> AppResult<Message> {
    let mut all = with_reactions(conn, vec![row]).await?;
    all.pop()
        .ok_or_else(|| AppError::Internal("aggregate lost its message".into()))
}

pub async fn get(conn: &mut Conn, user_id: i64, message_id: i64) -> AppResult<Message> {
    let row = find_row(conn, message_id).await?;
    super::chats::require_member(conn, row.chat_id, user_id).await?;
    aggregate(conn, row).await
}

/// One page of a chat's history, ascending by seq. Three queries (membership, messages,
/// reactions), whatever `limit` is.
pub async fn history(
    conn: &mut Conn,
    user_id: i64,
    chat_id: i64,
    cursor: HistoryCursor,
    limit: i64,
) -> AppResult<HistoryPage> {
    super::chats::require_member(conn, chat_id, user_id).await?;
    let in_chat = messages::table
        .filter(messages::chat_id.eq(chat_id))
        .select(MessageRow::as_select())
        .limit(limit + 1);
    let mut rows: Vec<MessageRow> = match cursor {
        HistoryCursor::Newest => in_chat.order(messages::seq.desc()).load(conn).await?,
        HistoryCursor::BeforeSeq(seq) => {
            in_chat
                .filter(messages::seq.lt(seq))
                .order(messages::seq.desc())
                .load(conn)
                .await?
        }
        HistoryCursor::AfterSeq(seq) => {
            in_chat
                .filter(messages::seq.gt(seq))
                .order(messages::seq.asc())
                .load(conn)
                .await?
        }
    };
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    // Backward pages were read newest first; a page is always shown oldest first.
    if !matches!(cursor, HistoryCursor::AfterSeq(_)) {
        rows.reverse();
    }
    Ok(HistoryPage {
        messages: with_reactions(conn, rows).await?,
        has_more,
    })
}

/// Stores a message under the chat's next seq with its `message.created` event.
pub async fn send(conn: &mut Conn, new: &NewMessage) -> AppResult<Written<Message>> {
    let seq = super::events::reserve_seqs(conn, new.chat_id, 1)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    super::chats::require_member(conn, new.chat_id, new.author_id).await?;
    if let Some(reply_to) = new.reply_to_id {
        let same_chat: bool = diesel::select(diesel::dsl::exists(
            messages::table
                .filter(messages::id.eq(reply_to))
                .filter(messages::chat_id.eq(new.chat_id)),
        ))
        .get_result(conn)
        .await?;
        if !same_chat {
            return Err(AppError::invalid(
                "reply_to_id",
                "must be the id of a message in the same chat",
            ));
        }
    }
    let now = Timestamp::now().millis();
    let row: MessageRow = diesel::insert_into(messages::table)
        .values(NewMessageRow {
            chat_id: new.chat_id,
            seq,
            author_id: new.author_id,
            kind: "text",
            content: &new.content,
            reply_to_id: new.reply_to_id,
            client_id: new.client_id.as_deref(),
            created_at: now,
            deleted: false,
        })
        .returning(MessageRow::as_returning())
        .get_result(conn)
        .await?;
    super::events::append(
        conn,
        &[EventRow::message(
            EventKind::MessageCreated,
            new.chat_id,
            seq,
            row.id,
            now,
        )],
    )
    .await?;
    let message = row.into_aggregate(Vec::new());
    let event = ChatEvent {
        chat_id: new.chat_id,
        seq,
        payload: EventPayload::MessageCreated(message.clone()),
    };
    Ok(Written::new(200, message, vec![event]))
}

/// Locks the message's chat and returns the message as it is under that lock, with the
/// caller's role in the chat.
async fn lock_message(
    conn: &mut Conn,
    user_id: i64,
    message_id: i64,
) -> AppResult<(MessageRow, Role)> {
    let chat_id = find_row(conn, message_id).await?.chat_id;
    super::events::lock_chat(conn, chat_id)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    let (_, member) = super::chats::require_member(conn, chat_id, user_id).await?;
    Ok((find_row(conn, message_id).await?, member.role()?))
}

fn message_deleted() -> AppError {
    AppError::Conflict {
        code: "message_deleted",
        detail: "The message was deleted.".into(),
    }
}

async fn append_one(
    conn: &mut Conn,
    chat_id: i64,
    row: impl FnOnce(i64, i64) -> EventRow,
) -> AppResult<i64> {
    let seq = super::events::reserve_seqs(conn, chat_id, 1)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    super::events::append(conn, &[row(seq, Timestamp::now().millis())]).await?;
    Ok(seq)
}

pub async fn edit(
    conn: &mut Conn,
    user_id: i64,
    message_id: i64,
    content: &str,
) -> AppResult<Written<Message>> {
    let (row, _) = lock_message(conn, user_id, message_id).await?;
    if row.author_id != user_id {
        return Err(AppError::forbidden("Only the author can edit a message."));
    }
    if row.deleted {
        return Err(message_deleted());
    }
    let row: MessageRow = diesel::update(messages::table.find(message_id))
        .set((
            messages::content.eq(content),
            messages::edited_at.eq(Timestamp::now().millis()),
        ))
        .returning(MessageRow::as_returning())
        .get_result(conn)
        .await?;
    let chat_id = row.chat_id;
    let seq = append_one(conn, chat_id, |seq, at| {
        EventRow::message(EventKind::MessageUpdated, chat_id, seq, message_id, at)
    })
    .await?;
    let message = aggregate(conn, row).await?;
    let event = ChatEvent {
        chat_id,
        seq,
        payload: EventPayload::MessageUpdated(message.clone()),
    };
    Ok(Written::new(200, message, vec![event]))
}

/// Turns the message into a tombstone. Deleting a tombstone again changes nothing.
pub async fn delete(conn: &mut Conn, user_id: i64, message_id: i64) -> AppResult<Written<Message>> {
    let (row, role) = lock_message(conn, user_id, message_id).await?;
    if row.author_id != user_id && !role.can_manage_members() {
        return Err(AppError::forbidden(
            "Only the author or a chat owner or admin can delete a message.",
        ));
    }
    if row.deleted {
        return Ok(Written::new(
            200,
            row.into_aggregate(Vec::new()),
            Vec::new(),
        ));
    }
    diesel::delete(reactions::table.filter(reactions::message_id.eq(message_id)))
        .execute(conn)
        .await?;
    let row: MessageRow = diesel::update(messages::table.find(message_id))
        .set((messages::content.eq(""), messages::deleted.eq(true)))
        .returning(MessageRow::as_returning())
        .get_result(conn)
        .await?;
    let chat_id = row.chat_id;
    let seq = append_one(conn, chat_id, |seq, at| {
        EventRow::message(EventKind::MessageDeleted, chat_id, seq, message_id, at)
    })
    .await?;
    let message = row.into_aggregate(Vec::new());
    let event = ChatEvent {
        chat_id,
        seq,
        payload: EventPayload::MessageDeleted(message.clone()),
    };
    Ok(Written::new(200, message, vec![event]))
}

/// Adds the caller's reaction; adding the same emoji again changes nothing.
pub async fn add_reaction(
    conn: &mut Conn,
    user_id: i64,
    message_id: i64,
    emoji: &str,
) -> AppResult<Written<Message>> {
    let (row, _) = lock_message(conn, user_id, message_id).await?;
    if row.deleted {
        return Err(message_deleted());
    }
    let reaction = ReactionRow {
        message_id,
        user_id,
        emoji: emoji.to_owned(),
        created_at: Timestamp::now().millis(),
    };
    let inserted = diesel::insert_into(reactions::table)
        .values(&reaction)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let chat_id = row.chat_id;
    let message = aggregate(conn, row).await?;
    if inserted == 0 {
        return Ok(Written::new(200, message, Vec::new()));
    }
    let reaction = reaction.into_domain();
    let seq = append_one(conn, chat_id, |seq, at| {
        EventRow::reaction(
            EventKind::ReactionAdded,
            chat_id,
            seq,
            message_id,
            &reaction,
            at,
        )
    })
    .await?;
    let event = ChatEvent {
        chat_id,
        seq,
        payload: EventPayload::ReactionAdded(ReactionChange {
            message: message.clone(),
            reaction,
        }),
    };
    Ok(Written::new(200, message, vec![event]))
}

/// Removes the caller's reaction; removing one that is not there changes nothing.
pub async fn remove_reaction(
    conn: &mut Conn,
    user_id: i64,
    message_id: i64,
    emoji: &str,
) -> AppResult<Written<Message>> {
    let (row, _) = lock_message(conn, user_id, message_id).await?;
    if row.deleted {
        return Err(message_deleted());
    }
    let removed: Option<ReactionRow> =
        diesel::delete(reactions::table.find((message_id, user_id, emoji)))
            .returning(ReactionRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
    let chat_id = row.chat_id;
    let message = aggregate(conn, row).await?;
    let Some(removed) = removed else {
        return Ok(Written::new(200, message, Vec::new()));
    };
    let reaction = removed.into_domain();
    let seq = append_one(conn, chat_id, |seq, at| {
        EventRow::reaction(
            EventKind::ReactionRemoved,
            chat_id,
            seq,
            message_id,
            &reaction,
            at,
        )
    })
    .await?;
    let event = ChatEvent {
        chat_id,
        seq,
        payload: EventPayload::ReactionRemoved(ReactionChange {
            message: message.clone(),
            reaction,
        }),
    };
    Ok(Written::new(200, message, vec![event]))
}
