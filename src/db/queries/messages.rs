//! Message commands: send (in batches), edit, delete and reactions.

use parley_types::{AttachmentId, ChatId, ChatKind, MessageId, NotificationLevel, Seq, UserId};
use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::Conn;
use crate::db::queries::{
    BatchOutcome, BatchStatements, BatchedSend, Idempotent, Outcome, UnreadLocks, Written,
    BATCH_RACE,
};
use crate::db::rows::{EventRow, IdempotencyRow, MessageRow, ReactionRow, StoredThread};
use crate::db::schema::{messages, reactions, users};
use crate::db::usernames::UsernameIds;
use crate::domain::events::EventKind;
use crate::domain::mentions;
use crate::domain::search::index_terms;
use crate::domain::{ChatEvent, EventPayload, Message, ReactionChange, Role, Timestamp};
use crate::error::{AppError, AppResult, ErrorCode};

/// Locks the message's chat and returns the message as it is under that lock, with the
/// caller's role in the chat and the chat's kind.
async fn lock_message(
    conn: &mut Conn,
    user_id: UserId,
    message_id: MessageId,
) -> AppResult<(MessageRow, Role, String)> {
    let chat_id = super::aggregates::find_row(conn, message_id).await?.chat_id;
    super::guards::lock_chat(conn, chat_id)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    let (chat, member) = super::guards::require_member(conn, chat_id, user_id).await?;
    Ok((
        super::aggregates::find_row(conn, message_id).await?,
        member.role()?,
        chat.kind,
    ))
}

/// Locks the message's chat, as `lock_message`, for a change that shows something new to the
/// chat's other member (an edit, a reaction): refused in a direct chat whose other member
/// blocks the caller.
async fn lock_message_to_show(
    conn: &mut Conn,
    user_id: UserId,
    message_id: MessageId,
) -> AppResult<(MessageRow, Role)> {
    let (row, role, kind) = lock_message(conn, user_id, message_id).await?;
    super::guards::refuse_if_blocked_in(conn, &kind, row.chat_id, user_id).await?;
    Ok((row, role))
}

fn message_deleted() -> AppError {
    AppError::Conflict {
        code: ErrorCode::MessageDeleted,
        detail: "The message was deleted.".into(),
    }
}

async fn append_one(
    conn: &mut Conn,
    chat_id: ChatId,
    row: impl FnOnce(Seq, i64) -> EventRow,
) -> AppResult<Seq> {
    let seq = super::events::reserve_seqs(conn, chat_id, 1)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    super::events::append(conn, &[row(seq, Timestamp::now().millis())]).await?;
    Ok(seq)
}

pub async fn edit(
    conn: &mut Conn,
    user_id: UserId,
    message_id: MessageId,
    content: &str,
) -> AppResult<Written<Message>> {
    let (row, _) = lock_message_to_show(conn, user_id, message_id).await?;
    if row.author_id != user_id {
        return Err(AppError::forbidden("Only the author can edit a message."));
    }
    if row.deleted {
        return Err(message_deleted());
    }
    // Mentions are resolved again: the text, and the members, may have changed.
    let mentioned = super::mentions::resolve(conn, row.chat_id, user_id, content).await?;
    let mention_ids = super::mentions::replace(conn, &row, &mentioned).await?;
    let row: MessageRow = diesel::update(messages::table.find(message_id))
        .set((
            messages::content.eq(content),
            messages::search_terms.eq(index_terms(content)),
            messages::edited_at.eq(Timestamp::now().millis()),
            messages::mention_ids.eq(mention_ids),
        ))
        .returning(MessageRow::as_returning())
        .get_result(conn)
        .await?;
    let chat_id = row.chat_id;
    let seq = append_one(conn, chat_id, |seq, at| {
        EventRow::message(EventKind::MessageUpdated, chat_id, seq, message_id, at)
    })
    .await?;
    let message = super::aggregates::aggregate(conn, row).await?;
    let event = ChatEvent {
        chat_id,
        seq,
        payload: EventPayload::MessageUpdated(message.clone()),
    };
    Ok(Written::message(Outcome::Done, message, vec![event]))
}

/// Turns the message into a tombstone. Deleting a tombstone again changes nothing.
pub async fn delete(
    conn: &mut Conn,
    user_id: UserId,
    message_id: MessageId,
) -> AppResult<Written<Message>> {
    let (row, role, _) = lock_message(conn, user_id, message_id).await?;
    if row.author_id != user_id && !role.can_manage_members() {
        return Err(AppError::forbidden(
            "Only the author or a chat owner or admin can delete a message.",
        ));
    }
    tombstone(conn, row).await
}

/// Turns the message into a tombstone on an operator's decision (a report resolved with
/// `delete_message`), as its author's delete would.
pub async fn delete_as_operator(
    conn: &mut Conn,
    message_id: MessageId,
) -> AppResult<Written<Message>> {
    let chat_id = super::aggregates::find_row(conn, message_id).await?.chat_id;
    super::guards::lock_chat(conn, chat_id)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    let row = super::aggregates::find_row(conn, message_id).await?;
    tombstone(conn, row).await
}

/// Empties the message under its chat's lock, with its `message.deleted` event (and its thread
/// root's `message.updated`); a tombstone stays as it is.
async fn tombstone(conn: &mut Conn, row: MessageRow) -> AppResult<Written<Message>> {
    let message_id = row.id;
    if row.deleted {
        return Ok(Written::message(
            Outcome::Done,
            row.into_aggregate(Vec::new(), Vec::new()),
            Vec::new(),
        ));
    }
    // Read markers must not move while the unread counts learn of the delete.
    conn.lock_against_read_markers(row.chat_id).await?;
    diesel::delete(reactions::table.filter(reactions::message_id.eq(message_id)))
        .execute(conn)
        .await?;
    // Unreadable from this commit on; the sweeper removes the bytes.
    super::attachments::remove_of_message(conn, message_id, Timestamp::now().millis()).await?;
    // No longer counted, nor on anyone's mentions page.
    super::mentions::forget(conn, &row).await?;
    let row: MessageRow = diesel::update(messages::table.find(message_id))
        .set((
            messages::content.eq(""),
            messages::search_terms.eq(""),
            messages::deleted.eq(true),
            messages::mention_ids.eq("[]"),
        ))
        .returning(MessageRow::as_returning())
        .get_result(conn)
        .await?;
    let chat_id = row.chat_id;
    let thread_root_id = row.thread_root_id;
    super::unread::forget_message(conn, chat_id, row.seq, row.author_id).await?;
    let seq = append_one(conn, chat_id, |seq, at| {
        EventRow::message(EventKind::MessageDeleted, chat_id, seq, message_id, at)
    })
    .await?;
    let message = row.into_aggregate(Vec::new(), Vec::new());
    super::idempotency::replay_tombstone(conn, message_id, &serde_json::to_string(&message)?)
        .await?;
    let mut events = vec![ChatEvent {
        chat_id,
        seq,
        payload: EventPayload::MessageDeleted(message.clone()),
    }];
    // A deleted reply no longer counts in its thread: the root shows it at the next seq.
    if let Some(root_id) = thread_root_id {
        let root = super::threads::recount(conn, root_id).await?;
        let seq = append_one(conn, chat_id, |seq, at| {
            EventRow::message(EventKind::MessageUpdated, chat_id, seq, root_id, at)
        })
        .await?;
        events.push(ChatEvent {
            chat_id,
            seq,
            payload: EventPayload::MessageUpdated(super::aggregates::aggregate(conn, root).await?),
        });
    }
    Ok(Written::message(Outcome::Done, message, events))
}

/// Adds the caller's reaction; adding the same emoji again changes nothing.
pub async fn add_reaction(
    conn: &mut Conn,
    user_id: UserId,
    message_id: MessageId,
    emoji: &str,
) -> AppResult<Written<Message>> {
    let (row, _) = lock_message_to_show(conn, user_id, message_id).await?;
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
    let message = super::aggregates::aggregate(conn, row).await?;
    if inserted == 0 {
        return Ok(Written::message(Outcome::Done, message, Vec::new()));
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
    Ok(Written::message(Outcome::Done, message, vec![event]))
}

/// Removes the caller's reaction; removing one that is not there changes nothing.
pub async fn remove_reaction(
    conn: &mut Conn,
    user_id: UserId,
    message_id: MessageId,
    emoji: &str,
) -> AppResult<Written<Message>> {
    let (row, _, _) = lock_message(conn, user_id, message_id).await?;
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
    let message = super::aggregates::aggregate(conn, row).await?;
    let Some(removed) = removed else {
        return Ok(Written::message(Outcome::Done, message, Vec::new()));
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
    Ok(Written::message(Outcome::Done, message, vec![event]))
}

/// Stores a batch of sends in one transaction (group commit): every check for the whole batch
/// is one query, each chat's seqs are taken with one statement, and the rows go in with
/// multi-row inserts. Each send keeps its own answer: a refusal (403, 404, 422, a replay) of one
/// send does not touch the others, and no refused send takes a seq.
pub async fn send_batch(
    conn: &mut Conn,
    sends: &[BatchedSend],
    names: &UsernameIds,
) -> AppResult<Vec<BatchOutcome>> {
    conn.transaction::<_, AppError, _>(async |c| store_batch(c, sends, names).await)
        .await
}

/// The ids of `names` that are usernames: those this process knows, and the rest read in one
/// statement.
async fn user_ids_named(
    c: &mut Conn,
    known: &UsernameIds,
    names: BTreeSet<&str>,
) -> AppResult<HashMap<String, UserId>> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let (mut found, unknown) = known.look_up(names);
    if !unknown.is_empty() {
        let read: Vec<(String, UserId)> = users::table
            .filter(users::username.eq_any(&unknown))
            .select((users::username, users::id))
            .load(c)
            .await?;
        known.learn(&read);
        found.extend(read);
    }
    Ok(found)
}

/// `items` in order, each once (the batch's arrays: lock order, and no value asked twice).
fn sorted_unique<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut sorted: Vec<T> = items.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

async fn store_batch(
    c: &mut Conn,
    sends: &[BatchedSend],
    names: &UsernameIds,
) -> AppResult<Vec<BatchOutcome>> {
    use crate::db::queries::batch_statements::{
        ChatCount, CheckInputs, MentionRow, PendingMessage, ThreadWrites,
    };
    use std::collections::{BTreeMap, HashSet};

    // Each send with its outcome, once decided.
    let mut slots: Vec<(&BatchedSend, Option<BatchOutcome>)> =
        sends.iter().map(|send| (send, None)).collect();

    // A key used twice in one batch: the later use waits for the next batch.
    let mut keys_seen = HashSet::new();
    for (send, outcome) in &mut slots {
        if let Some(key) = &send.key {
            if !keys_seen.insert((send.message.author_id, key.key.as_str())) {
                *outcome = Some(BatchOutcome::Deferred);
            }
        }
    }

    // Lock the chats first, in id order (a fixed order, so concurrent writers cannot
    // deadlock). Under the lock the checks below see a membership no one can change meanwhile,
    // and a send they refuse has touched nothing: no seq, no activity time.
    let open: Vec<&BatchedSend> = slots
        .iter()
        .filter(|(_, outcome)| outcome.is_none())
        .map(|(send, _)| *send)
        .collect();
    let wanted: Vec<ChatId> = sorted_unique(open.iter().map(|send| send.message.chat_id));
    // Each send's `@` words, read once (by the send's place in the batch). `@name`s resolve to
    // ids before the chats are locked (a name's id never changes); which of them are members is
    // read with the memberships below. Every member is read only where someone wrote `@all`.
    let requests: Vec<mentions::MentionRequest> = slots
        .iter()
        .map(|(send, _)| mentions::requested(&send.message.content))
        .collect();
    let mut mention_all_in: Vec<ChatId> = Vec::new();
    let mut named: BTreeSet<&str> = BTreeSet::new();
    for ((send, outcome), request) in slots.iter().zip(&requests) {
        if outcome.is_some() {
            continue;
        }
        if request.all {
            mention_all_in.push(send.message.chat_id);
        }
        named.extend(request.names_to_look_up());
    }
    let mention_all_in = sorted_unique(mention_all_in);
    let name_ids = user_ids_named(c, names, named).await?;
    let locked = c.lock_chats(&wanted).await?;
    let keys: Vec<(UserId, String)> = open
        .iter()
        .filter_map(|send| Some((send.message.author_id, send.key.as_ref()?.key.clone())))
        .collect();
    // Whose membership each send needs, in its own chat: its author's, and that of each user
    // its text names (`@all` reads every member instead).
    let member_pairs: Vec<(ChatId, UserId)> = sorted_unique(
        slots
            .iter()
            .zip(&requests)
            .filter(|((_, outcome), _)| outcome.is_none())
            .flat_map(|((send, _), request)| {
                let named = request
                    .names_to_look_up()
                    .filter_map(|name| name_ids.get(name).copied());
                std::iter::once(send.message.author_id)
                    .chain(named)
                    .map(|user_id| (send.message.chat_id, user_id))
            }),
    );
    // The messages replied to and the thread roots, read under the chats' locks.
    let roots: Vec<MessageId> =
        sorted_unique(open.iter().filter_map(|send| send.message.thread_root_id));
    let referenced: Vec<MessageId> = sorted_unique(
        open.iter()
            .filter_map(|send| send.message.reply_to_id)
            .chain(roots.iter().copied()),
    );
    let attachment_ids: Vec<AttachmentId> = sorted_unique(
        open.iter()
            .flat_map(|send| send.message.attachment_ids.iter().copied()),
    );
    // The devices of the chats where the rooms found members offline, read with the checks
    // (most chats have none, and then the store statement writes no push rows).
    let offline_in: Vec<ChatId> = sorted_unique(
        slots
            .iter()
            .filter(|(send, _)| !send.offline_members.ids().is_empty())
            .map(|(send, _)| send.message.chat_id),
    );
    // Sends into direct chats: whether the other member blocks the author.
    let direct_pairs: Vec<(UserId, UserId)> = sorted_unique(
        open.iter()
            .filter_map(|send| Some((send.direct_peer?, send.message.author_id))),
    );
    let checks = c
        .batch_checks(&CheckInputs {
            direct_pairs,
            keys,
            member_pairs,
            referenced,
            roots,
            attachment_ids,
            mention_all_in,
            offline_in,
        })
        .await?;
    // Attachments given to a send of this batch already: a later send cannot take them.
    let mut taken: HashSet<AttachmentId> = HashSet::new();

    let stored_keys: HashMap<(UserId, &str), &IdempotencyRow> = checks
        .stored_keys
        .iter()
        .map(|row| ((row.user_id, row.key.as_str()), row))
        .collect();
    for (send, outcome) in slots.iter_mut().filter(|(_, outcome)| outcome.is_none()) {
        let m = &send.message;
        let decided = if let Some((key, row)) = send
            .key
            .as_ref()
            .and_then(|k| Some((k, *stored_keys.get(&(m.author_id, k.key.as_str()))?)))
        {
            // Used before: replay, or refuse a different request under the same key.
            Some(super::idempotency::replay_or_refuse(row, key))
        } else if locked.binary_search(&m.chat_id).is_err() {
            Some(Err(AppError::NotFound("chat")))
        } else if !checks.memberships.contains(&(m.chat_id, m.author_id)) {
            Some(Err(AppError::not_a_member()))
        } else if send
            .direct_peer
            .is_some_and(|peer| checks.blocking.contains(&(peer, m.author_id)))
        {
            Some(Err(super::guards::blocked()))
        } else if m
            .reply_to_id
            .is_some_and(|r| checks.referenced.get(&r).map(|row| row.chat_id) != Some(m.chat_id))
        {
            Some(Err(AppError::invalid(
                "reply_to_id",
                "must be the id of a message in the same chat",
            )))
        } else if m.thread_root_id.is_some_and(|r| {
            !checks
                .referenced
                .get(&r)
                .is_some_and(|root| root.chat_id == m.chat_id && root.thread_root_id.is_none())
        }) {
            Some(Err(AppError::invalid(
                "thread_root_id",
                "must be the id of a message in the same chat that is not itself in a thread",
            )))
        } else if !m.attachment_ids.iter().all(|id| {
            checks.attachments.get(id).is_some_and(|a| {
                a.uploader_id == m.author_id
                    && a.message_id.is_none()
                    && a.removed_at.is_none()
                    && !taken.contains(id)
            })
        }) {
            Some(Err(AppError::invalid(
                "attachment_ids",
                "must be ids of your own uploads that no message holds yet",
            )))
        } else {
            taken.extend(m.attachment_ids.iter().copied());
            None
        };
        if let Some(decided) = decided {
            *outcome = Some(BatchOutcome::Done(decided));
        }
    }

    // The sends that passed take their chat's next seqs in arrival order.
    let now = Timestamp::now().millis();
    let mut by_chat: BTreeMap<ChatId, Vec<usize>> = BTreeMap::new();
    for (i, (send, _)) in slots
        .iter()
        .enumerate()
        .filter(|(_, (_, outcome))| outcome.is_none())
    {
        by_chat.entry(send.message.chat_id).or_default().push(i);
    }
    let mut counts: Vec<ChatCount> = Vec::with_capacity(by_chat.len());
    let mut pending: Vec<(usize, PendingMessage)> = Vec::new();
    // Each root's thread as the batch's replies leave it, and its aggregate after each reply
    // (what that reply's `message.updated` of the root carries), by the reply's place.
    let mut threads: BTreeMap<MessageId, ThreadProgress> = BTreeMap::new();
    let mut root_updates: HashMap<usize, Message> = HashMap::new();
    let mut thread_writes = ThreadWrites::default();
    let mut mention_rows: Vec<MentionRow> = Vec::new();
    for (&chat_id, indices) in &by_chat {
        let mut pos = 0;
        for &i in indices {
            let Some((send, _)) = slots.get(i) else {
                continue;
            };
            pos += 1;
            let m = &send.message;
            if let Some(root_id) = m.thread_root_id {
                let root = checks
                    .referenced
                    .get(&root_id)
                    .ok_or_else(|| AppError::internal("a checked thread root is missing"))?;
                let thread = threads
                    .entry(root_id)
                    .or_insert_with(|| ThreadProgress::of(root));
                thread.add_reply(m.author_id, now);
                // The root's `message.updated` takes the seq right after the reply's.
                thread_writes.events.push((chat_id, pos + 1, root_id));
                root_updates.insert(
                    i,
                    thread.aggregate(
                        root,
                        checks.root_reactions.get(&root_id),
                        checks.root_attachments.get(&root_id),
                    )?,
                );
            }
            let mentioned = match requests.get(i) {
                Some(request) if request.all => match checks.mentionable.get(&chat_id) {
                    Some((kind, members)) => {
                        mentions::resolve(request, *kind, m.author_id, members)
                    }
                    None => Vec::new(),
                },
                Some(request) => mentions::resolve_named(
                    request
                        .names_to_look_up()
                        .filter_map(|name| name_ids.get(name).copied()),
                    m.author_id,
                    |id| checks.memberships.contains(&(chat_id, id)),
                ),
                None => Vec::new(),
            };
            pending.push((
                i,
                PendingMessage {
                    chat_id,
                    pos,
                    author_id: m.author_id,
                    content: &m.content,
                    reply_to_id: m.reply_to_id,
                    client_id: m.client_id.as_deref(),
                    mention_ids: serde_json::to_string(&mentioned)?,
                    thread_root_id: m.thread_root_id,
                },
            ));
            mention_rows.extend(mentioned.iter().map(|&user_id| (chat_id, pos, user_id)));
            if m.thread_root_id.is_some() {
                pos += 1;
            }
        }
        counts.push(ChatCount {
            chat_id,
            seqs: pos,
            messages: i64::try_from(indices.len()).unwrap_or(i64::MAX),
        });
    }
    for (root_id, thread) in &threads {
        thread_writes.roots.push((*root_id, thread.column()?));
    }
    let pushes = owed_pushes(
        &by_chat,
        &slots,
        &pending,
        &mention_rows,
        &checks.devices,
        now,
    );
    let (order, rows): (Vec<usize>, Vec<PendingMessage>) = pending.into_iter().unzip();
    let stored: HashMap<(ChatId, Seq), MessageRow> = c
        .store_messages(&counts, &rows, &mention_rows, &thread_writes, &pushes, now)
        .await?
        .into_iter()
        .map(|row| ((row.chat_id, row.seq), row))
        .collect();

    // Each chat's messages took consecutive seqs, the first at `pos` 1.
    let mut first_seq: HashMap<ChatId, Seq> = HashMap::new();
    for &(chat_id, seq) in stored.keys() {
        let first = first_seq.entry(chat_id).or_insert(seq);
        *first = (*first).min(seq);
    }
    let mut records = Vec::new();
    let mut links: Vec<(AttachmentId, MessageId, i32)> = Vec::new();
    let mut messages = Vec::with_capacity(order.len());
    for (&i, pending) in order.iter().zip(&rows) {
        let Some((send, _)) = slots.get(i) else {
            continue;
        };
        let row = first_seq
            .get(&pending.chat_id)
            .and_then(|first| stored.get(&(pending.chat_id, *first + (pending.pos - 1))))
            .cloned()
            .ok_or_else(|| AppError::internal("a stored message is missing"))?;
        let mut attachments = Vec::with_capacity(send.message.attachment_ids.len());
        for (position, id) in (0..).zip(&send.message.attachment_ids) {
            let attachment = checks
                .attachments
                .get(id)
                .ok_or_else(|| AppError::internal("a checked attachment is missing"))?;
            links.push((*id, row.id, position));
            attachments.push(attachment.to_domain());
        }
        let message = row.into_aggregate(Vec::new(), attachments);
        if let Some(key) = &send.key {
            records.push(IdempotencyRow {
                user_id: send.message.author_id,
                key: key.key.clone(),
                fingerprint: key.fingerprint.clone(),
                status: Outcome::Done.stored(),
                body: serde_json::to_string(&message)?,
                created_at: now,
                message_id: Some(message.id),
            });
        }
        messages.push((i, message));
    }
    // The attachments were locked and checked above, so each is still free.
    if c.link_attachments(&links).await? != links.len() {
        return Err(AppError::internal(
            "an attachment was taken during its send",
        ));
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
    for (i, message) in messages {
        let mut events = vec![ChatEvent {
            chat_id: message.chat_id,
            seq: message.seq,
            payload: EventPayload::MessageCreated(message.clone()),
        }];
        if let Some(root) = root_updates.remove(&i) {
            events.push(ChatEvent {
                chat_id: message.chat_id,
                seq: message.seq.next(),
                payload: EventPayload::MessageUpdated(root),
            });
        }
        if let Some((_, outcome)) = slots.get_mut(i) {
            *outcome = Some(BatchOutcome::Done(Ok(Idempotent::Fresh(Written::message(
                Outcome::Done,
                message,
                events,
            )))));
        }
    }
    // Every send was decided above; one that was not is a bug, answered as one rather than
    // sent round again.
    Ok(slots
        .into_iter()
        .map(|(_, outcome)| {
            outcome.unwrap_or_else(|| {
                BatchOutcome::Done(Err(AppError::internal(
                    "a send of the batch got no outcome",
                )))
            })
        })
        .collect())
}

/// The push notifications the batch owes: for each device of a member its chat's room found
/// offline (one list per chat: a chat's sends come from its one room), whether a message of
/// the batch concerns them — one they did not write, in a direct chat or at level `all`, or
/// one that mentions them — unless the chat is at `none` or muted until later.
fn owed_pushes(
    by_chat: &std::collections::BTreeMap<ChatId, Vec<usize>>,
    slots: &[(&BatchedSend, Option<BatchOutcome>)],
    pending: &[(usize, crate::db::queries::batch_statements::PendingMessage)],
    mentions: &[crate::db::queries::batch_statements::MentionRow],
    devices: &[crate::db::queries::batch_statements::MemberDevice],
    now: i64,
) -> Vec<crate::db::queries::batch_statements::PushRow> {
    use crate::domain::push::Concern;
    let mut owed = Vec::new();
    for (&chat_id, indices) in by_chat {
        let Some((send, _)) = <[usize]>::first(indices).and_then(|&i| slots.get(i)) else {
            continue;
        };
        let offline = send.offline_members.ids();
        for device in devices.iter().filter(|d| d.chat_id == chat_id) {
            if offline.binary_search(&device.user_id).is_err() {
                continue;
            }
            let level =
                NotificationLevel::parse(&device.notify_level).unwrap_or(NotificationLevel::All);
            if level == NotificationLevel::None
                || device.muted_until.is_some_and(|until| until > now)
            {
                continue;
            }
            let direct = device.kind == ChatKind::Direct.as_str();
            let concerned = match Concern::of(level, direct) {
                Concern::Everything => pending
                    .iter()
                    .any(|(_, p)| p.chat_id == chat_id && p.author_id != device.user_id),
                Concern::Mentions => mentions
                    .iter()
                    .any(|m| m.0 == chat_id && m.2 == device.user_id),
            };
            if concerned {
                owed.push((device.subscription_id, chat_id));
            }
        }
    }
    owed
}

/// A thread's summary as a batch's replies move it on.
struct ThreadProgress(StoredThread);

impl ThreadProgress {
    fn of(root: &MessageRow) -> Self {
        ThreadProgress(root.stored_thread())
    }

    /// One more reply, by `author_id`, sent `now`.
    fn add_reply(&mut self, author_id: UserId, now: i64) {
        let thread = &mut self.0;
        thread.reply_count += 1;
        thread.last_reply_at = now;
        if let Err(at) = thread.participant_ids.binary_search(&author_id) {
            thread.participant_ids.insert(at, author_id);
        }
    }

    fn column(&self) -> AppResult<String> {
        Ok(serde_json::to_string(&self.0)?)
    }

    /// The root's aggregate with the thread as it is now.
    fn aggregate(
        &self,
        root: &MessageRow,
        reactions: Option<&Vec<crate::domain::Reaction>>,
        attachments: Option<&Vec<crate::domain::Attachment>>,
    ) -> AppResult<Message> {
        let mut row = root.clone();
        row.thread_summary = Some(self.column()?);
        Ok(row.into_aggregate(
            reactions.cloned().unwrap_or_default(),
            attachments.cloned().unwrap_or_default(),
        ))
    }
}
