// Messages and reactions, always loaded as complete aggregates.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::Conn;
use crate::db::queries::{
    BatchOutcome, BatchedSend, Idempotent, InsertRows, NewMessage, Written, BATCH_RACE,
};
use crate::db::rows::{EventRow, IdempotencyRow, MessageRow, NewMessageRow, ReactionRow};
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

/// Stores a batch of sends in one transaction (group commit): every check for the whole batch
/// is one query, each chat's seqs are taken with one statement, and the rows go in with
/// multi-row inserts. Each send keeps its own answer: a refusal (403, 404, 422, a replay) of one
/// send does not touch the others, and no refused send takes a seq.
pub async fn send_batch(conn: &mut Conn, sends: &[BatchedSend]) -> AppResult<Vec<BatchOutcome>> {
    conn.transaction::<_, AppError, _>(async |c| store_batch(c, sends).await)
        .await
}

async fn store_batch(c: &mut Conn, sends: &[BatchedSend]) -> AppResult<Vec<BatchOutcome>> {
    use crate::db::schema::{chat_members, idempotency_keys as ik};
    use std::collections::{BTreeMap, HashSet};

    let mut outcome: Vec<Option<BatchOutcome>> = sends.iter().map(|_| None).collect();
    let open = |outcome: &Vec<Option<BatchOutcome>>| -> Vec<usize> {
        (0..outcome.len())
            .filter(|&i| outcome[i].is_none())
            .collect()
    };

    // A key used twice in one batch: the later use waits for the next batch.
    let mut keys_seen = HashSet::new();
    for (i, send) in sends.iter().enumerate() {
        if let Some(key) = &send.key {
            if !keys_seen.insert((send.message.author_id, key.key.as_str())) {
                outcome[i] = Some(BatchOutcome::Deferred);
            }
        }
    }

    // Keys used before: replay, or refuse a different request under the same key.
    let keyed: Vec<usize> = open(&outcome)
        .into_iter()
        .filter(|&i| sends[i].key.is_some())
        .collect();
    if !keyed.is_empty() {
        let users: Vec<i64> = keyed.iter().map(|&i| sends[i].message.author_id).collect();
        let keys: Vec<&str> = keyed
            .iter()
            .filter_map(|&i| sends[i].key.as_ref())
            .map(|k| k.key.as_str())
            .collect();
        let stored: HashMap<(i64, String), IdempotencyRow> = ik::table
            .filter(ik::user_id.eq_any(&users))
            .filter(ik::key.eq_any(&keys))
            .select(IdempotencyRow::as_select())
            .load(c)
            .await?
            .into_iter()
            .map(|row| ((row.user_id, row.key.clone()), row))
            .collect();
        for &i in &keyed {
            let Some(key) = &sends[i].key else { continue };
            if let Some(row) = stored.get(&(sends[i].message.author_id, key.key.clone())) {
                outcome[i] = Some(BatchOutcome::Done(super::idempotency::replay_or_refuse(
                    row, key,
                )));
            }
        }
    }

    // Take each chat's seqs for all its candidate sends in one statement, in chat id order (a
    // fixed order, so concurrent writers cannot deadlock); the statement also locks the chat
    // row until commit, so the checks below see a membership no one can change meanwhile.
    let mut candidates: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for i in open(&outcome) {
        candidates
            .entry(sends[i].message.chat_id)
            .or_default()
            .push(i);
    }
    let mut first_seq: HashMap<i64, i64> = HashMap::new();
    for (&chat_id, indices) in &candidates {
        let count = i64::try_from(indices.len())
            .map_err(|_| AppError::Internal("batch too large".into()))?;
        match super::events::reserve_seqs(c, chat_id, count).await? {
            Some(first) => {
                first_seq.insert(chat_id, first);
            }
            None => {
                for &i in indices {
                    outcome[i] = Some(BatchOutcome::Done(Err(AppError::NotFound("chat"))));
                }
            }
        }
    }
    let chat_ids: Vec<i64> = first_seq.keys().copied().collect();
    let authors: Vec<i64> = open(&outcome)
        .iter()
        .map(|&i| sends[i].message.author_id)
        .collect();
    let memberships: HashSet<(i64, i64)> = chat_members::table
        .filter(chat_members::chat_id.eq_any(&chat_ids))
        .filter(chat_members::user_id.eq_any(&authors))
        .select((chat_members::chat_id, chat_members::user_id))
        .load(c)
        .await?
        .into_iter()
        .collect();
    let reply_ids: Vec<i64> = open(&outcome)
        .iter()
        .filter_map(|&i| sends[i].message.reply_to_id)
        .collect();
    let reply_chats: HashMap<i64, i64> = if reply_ids.is_empty() {
        HashMap::new()
    } else {
        messages::table
            .filter(messages::id.eq_any(&reply_ids))
            .select((messages::id, messages::chat_id))
            .load::<(i64, i64)>(c)
            .await?
            .into_iter()
            .collect()
    };
    for i in open(&outcome) {
        let m = &sends[i].message;
        let refusal = if !memberships.contains(&(m.chat_id, m.author_id)) {
            Some(AppError::not_a_member())
        } else if m
            .reply_to_id
            .is_some_and(|r| reply_chats.get(&r) != Some(&m.chat_id))
        {
            Some(AppError::invalid(
                "reply_to_id",
                "must be the id of a message in the same chat",
            ))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            outcome[i] = Some(BatchOutcome::Done(Err(refusal)));
        }
    }

    // Survivors take the reserved seqs in arrival order; seqs of refused sends go back, so
    // the chat's sequence has no gap.
    let now = Timestamp::now().millis();
    let mut order = Vec::new();
    let mut seq_of: HashMap<usize, i64> = HashMap::new();
    for (chat_id, indices) in &candidates {
        let Some(&first) = first_seq.get(chat_id) else {
            continue;
        };
        let survivors: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| outcome[i].is_none())
            .collect();
        let refused = indices.len() - survivors.len();
        if refused > 0 {
            let refused =
                i64::try_from(refused).map_err(|_| AppError::Internal("batch too large".into()))?;
            super::events::return_seqs(c, *chat_id, refused).await?;
        }
        for (&i, seq) in survivors.iter().zip(first..) {
            seq_of.insert(i, seq);
            order.push(i);
        }
    }
    let rows: Vec<NewMessageRow> = order
        .iter()
        .map(|&i| {
            let m = &sends[i].message;
            NewMessageRow {
                chat_id: m.chat_id,
                seq: seq_of[&i],
                author_id: m.author_id,
                kind: "text",
                content: &m.content,
                reply_to_id: m.reply_to_id,
                client_id: m.client_id.as_deref(),
                created_at: now,
                deleted: false,
            }
        })
        .collect();
    let inserted: HashMap<(i64, i64), MessageRow> = c
        .insert_messages(&rows)
        .await?
        .into_iter()
        .map(|row| ((row.chat_id, row.seq), row))
        .collect();
    let events: Vec<EventRow> = inserted
        .values()
        .map(|row| EventRow::message(EventKind::MessageCreated, row.chat_id, row.seq, row.id, now))
        .collect();
    c.insert_events(&events).await?;

    let mut records = Vec::new();
    let mut stored = Vec::with_capacity(order.len());
    for &i in &order {
        let m = &sends[i].message;
        let row = inserted
            .get(&(m.chat_id, seq_of[&i]))
            .cloned()
            .ok_or_else(|| AppError::Internal("inserted message missing from RETURNING".into()))?;
        let message = row.into_aggregate(Vec::new());
        if let Some(key) = &sends[i].key {
            records.push(IdempotencyRow {
                user_id: m.author_id,
                key: key.key.clone(),
                fingerprint: key.fingerprint.clone(),
                status: 200,
                body: serde_json::to_string(&message)?,
                created_at: now,
            });
        }
        stored.push((i, message));
    }
    // In key order, so that two batches racing for the same keys take them in the same order
    // (one waits for the other instead of deadlocking).
    records.sort_by(|a, b| (a.user_id, &a.key).cmp(&(b.user_id, &b.key)));
    let recorded = c.insert_keys(&records).await?;
    if recorded.len() != records.len() {
        // A request outside this batch committed one of these keys after the check above.
        return Err(AppError::Conflict {
            code: BATCH_RACE,
            detail: "A request with this Idempotency-Key is still being processed.".into(),
        });
    }
    for (i, message) in stored {
        let event = ChatEvent {
            chat_id: message.chat_id,
            seq: message.seq,
            payload: EventPayload::MessageCreated(message.clone()),
        };
        outcome[i] = Some(BatchOutcome::Done(Ok(Idempotent::Fresh(Written::new(
            200,
            message,
            vec![event],
        )))));
    }
    Ok(outcome
        .into_iter()
        .map(|o| o.unwrap_or(BatchOutcome::Deferred))
        .collect())
}
