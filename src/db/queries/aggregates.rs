//! Aggregates: complete values (a message with its reactions and attachments, a chat with its members) read
//! with a fixed number of queries, whatever their size.

use parley_types::{ChatId, MessageId, Seq, UserId};
use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::db::queries::history_page::with_attachments;
use crate::db::queries::{
    HistoryPageStatement, MentionPageStatement, SearchPageStatement, SearchScope,
};
use crate::db::rows::{chat_from_rows, ChatRow, MemberRow, MemberSeen, MessageRow, ReactionRow};
use crate::db::schema::{
    chat_authors, chat_members, chats, message_mentions, messages, reactions, users,
};
use crate::domain::chat_list::{ChatListCursor, ChatListPage, ChatListRange};
use crate::domain::search::{SearchPage, SearchQuery, Snippet};
use crate::domain::{Chat, ChatSummary, HistoryCursor, HistoryPage, Message, Reaction};
use crate::error::{AppError, AppResult};

/// The reactions of every message in `message_ids`, in one query, grouped by message and
/// ordered by `created_at`, then `user_id`.
async fn reactions_by_message(
    conn: &mut Conn,
    message_ids: &[MessageId],
) -> AppResult<HashMap<MessageId, Vec<Reaction>>> {
    if message_ids.is_empty() {
        return Ok(HashMap::new());
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
    Ok(crate::db::rows::group_reactions(rows))
}

/// Completes message rows into aggregates (their reactions and attachments) with one more
/// query, and a second when some of them were sent with attachments, keeping their order.
pub async fn complete(conn: &mut Conn, rows: Vec<MessageRow>) -> AppResult<Vec<Message>> {
    let ids: Vec<MessageId> = rows.iter().map(|r| r.id).collect();
    let mut reactions = reactions_by_message(conn, &ids).await?;
    let holding: Vec<MessageId> = rows
        .iter()
        .filter(|r| r.attachment_count > 0)
        .map(|r| r.id)
        .collect();
    let mut attachments = super::attachments::of_messages(conn, &holding).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            row.into_aggregate(
                reactions.remove(&id).unwrap_or_default(),
                attachments.remove(&id).unwrap_or_default(),
            )
        })
        .collect())
}

/// The aggregates of the given messages, keyed by id. Two queries (three when some hold
/// attachments).
pub async fn load_by_ids(
    conn: &mut Conn,
    ids: &[MessageId],
) -> AppResult<HashMap<MessageId, Message>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<MessageRow> = messages::table
        .filter(messages::id.eq_any(ids))
        .select(MessageRow::as_select())
        .load(conn)
        .await?;
    Ok(complete(conn, rows)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect())
}

pub async fn find_row(conn: &mut Conn, message_id: MessageId) -> AppResult<MessageRow> {
    messages::table
        .find(message_id)
        .select(MessageRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("message"))
}

pub async fn aggregate(conn: &mut Conn, row: MessageRow) -> AppResult<Message> {
    let mut all = complete(conn, vec![row]).await?;
    all.pop()
        .ok_or_else(|| AppError::internal("aggregate lost its message"))
}

pub async fn message(
    conn: &mut Conn,
    user_id: UserId,
    message_id: MessageId,
) -> AppResult<Message> {
    let row = find_row(conn, message_id).await?;
    super::guards::require_member(conn, row.chat_id, user_id).await?;
    aggregate(conn, row).await
}

/// One page of a chat's history, ascending by seq: one statement (messages, their reactions
/// and the membership check), a second only when that finds nothing, to tell an empty page
/// from a chat the caller may not read, and one for the attachments when some message of the
/// page has any — at most three, whatever the page's size.
pub async fn history(
    conn: &mut Conn,
    chat_id: ChatId,
    user_id: UserId,
    cursor: HistoryCursor,
    limit: i64,
    main_only: bool,
) -> AppResult<HistoryPage> {
    let mut rows = conn
        .history_rows(chat_id, user_id, cursor, limit + 1, main_only)
        .await?;
    if rows.is_empty() {
        super::guards::require_member(conn, chat_id, user_id).await?;
    }
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    // Backward pages were read newest first; a page is always shown oldest first.
    if !cursor.reads_forward() {
        rows.reverse();
    }
    let mut attachments = super::attachments::of_messages(conn, &with_attachments(&rows)).await?;
    Ok(HistoryPage {
        messages: rows
            .into_iter()
            .map(|row| row.into_aggregate(&mut attachments))
            .collect::<AppResult<_>>()?,
        has_more,
    })
}

/// One page of search results, newest first: one statement, a second only when a search
/// within one chat finds nothing, to tell "no match" from a chat the caller may not read, and
/// one for the attachments when some result has any.
pub async fn search(
    conn: &mut Conn,
    query: &SearchQuery,
    scope: SearchScope,
    limit: i64,
) -> AppResult<SearchPage> {
    let mut rows = conn.search_rows(query, scope, limit + 1).await?;
    if let (true, Some(chat_id)) = (rows.is_empty(), scope.chat_id) {
        super::guards::require_member(conn, chat_id, scope.user_id).await?;
    }
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let mut attachments = super::attachments::of_messages(conn, &with_attachments(&rows)).await?;
    let messages: Vec<Message> = rows
        .into_iter()
        .map(|row| row.into_aggregate(&mut attachments))
        .collect::<AppResult<_>>()?;
    let snippets = messages
        .iter()
        .map(|m| Snippet {
            message_id: m.id,
            parts: query.snippet(&m.content),
        })
        .collect();
    Ok(SearchPage {
        next_before: messages.last().map(|m| m.id).filter(|_| has_more),
        messages,
        has_more,
        snippets,
    })
}

/// The messages that mention `user_id`, in chats the user is a member of now, newest first:
/// the page's ids from the mentions index, then their aggregates (at most four statements).
pub async fn mentions_page(
    conn: &mut Conn,
    user_id: UserId,
    before: Option<MessageId>,
    limit: i64,
) -> AppResult<HistoryPage> {
    let mut ids = conn.mention_page(user_id, before, limit + 1).await?;
    let has_more = ids.len() as i64 > limit;
    ids.truncate(usize::try_from(limit).unwrap_or(0));
    let mut found = load_by_ids(conn, &ids).await?;
    Ok(HistoryPage {
        messages: ids.iter().filter_map(|id| found.remove(id)).collect(),
        has_more,
    })
}

/// The members of the chats, each with when its user was last seen online.
pub async fn members(conn: &mut Conn, chat_ids: &[ChatId]) -> AppResult<Vec<MemberSeen>> {
    Ok(chat_members::table
        .inner_join(users::table)
        .filter(chat_members::chat_id.eq_any(chat_ids))
        .order((chat_members::joined_at.asc(), chat_members::user_id.asc()))
        .select((MemberRow::as_select(), users::last_seen_at))
        .load(conn)
        .await?)
}

/// User ids of every member of the chat.
pub async fn member_ids(conn: &mut Conn, chat_id: ChatId) -> AppResult<Vec<UserId>> {
    Ok(chat_members::table
        .filter(chat_members::chat_id.eq(chat_id))
        .select(chat_members::user_id)
        .load(conn)
        .await?)
}

/// Ids of every chat the user is a member of.
pub async fn chat_ids_of(conn: &mut Conn, user_id: UserId) -> AppResult<Vec<ChatId>> {
    Ok(chat_members::table
        .filter(chat_members::user_id.eq(user_id))
        .select(chat_members::chat_id)
        .load(conn)
        .await?)
}

/// The chat as `viewer` sees it (with the viewer's own notification setting).
pub async fn load_chat(conn: &mut Conn, chat_id: ChatId, viewer: UserId) -> AppResult<Chat> {
    let chat: ChatRow = chats::table
        .find(chat_id)
        .select(ChatRow::as_select())
        .first(conn)
        .await?;
    let members = members(conn, &[chat_id]).await?;
    chat_from_rows(chat, members, viewer)
}

pub async fn chat(conn: &mut Conn, chat_id: ChatId, user_id: UserId) -> AppResult<Chat> {
    let (chat, _) = super::guards::require_member(conn, chat_id, user_id).await?;
    let members = members(conn, &[chat_id]).await?;
    chat_from_rows(chat, members, user_id)
}

/// The chat's `last_seq` without locking anything, or `None` if the chat does not exist.
pub async fn last_seq(conn: &mut Conn, chat_id: ChatId) -> AppResult<Option<Seq>> {
    Ok(chats::table
        .find(chat_id)
        .select(chats::last_seq)
        .first(conn)
        .await
        .optional()?)
}

/// `(chat_id, last_seq)` of each of `chat_ids` that exists, in one query.
pub async fn last_seqs(conn: &mut Conn, chat_ids: &[ChatId]) -> AppResult<Vec<(ChatId, Seq)>> {
    Ok(chats::table
        .filter(chats::id.eq_any(chat_ids))
        .select((chats::id, chats::last_seq))
        .load(conn)
        .await?)
}

/// A chat of the caller's list: the chat, its live messages, the caller's own among them, the
/// caller's read count, and the caller's unread mentions.
type ListedChat = (ChatRow, i64, Option<i64>, i64, Option<i64>);

/// The caller's chats (all, or one page) with their last message and unread count, most
/// recent activity first. Four queries whatever the number of chats, and none of them reads
/// more than a few rows of each chat however many messages it holds: the unread count is three
/// counters (`queries::unread`), the last message one index walk from the chat's newest seq.
pub async fn list_for_user(
    conn: &mut Conn,
    user_id: UserId,
    range: ChatListRange,
) -> AppResult<ChatListPage> {
    let mut mine = chats::table
        .inner_join(chat_members::table)
        .left_join(
            chat_authors::table.on(chat_authors::chat_id
                .eq(chats::id)
                .and(chat_authors::user_id.eq(user_id))),
        )
        .filter(chat_members::user_id.eq(user_id))
        .order((chats::last_activity_at.desc(), chats::id.desc()))
        .select((
            ChatRow::as_select(),
            chats::message_count,
            chat_authors::message_count.nullable(),
            chat_members::read_count,
            // The caller's mentions past their marker: an index range per chat
            // (the primary key, (member, chat, seq)), as many rows as there are such mentions.
            message_mentions::table
                .filter(message_mentions::user_id.eq(user_id))
                .filter(message_mentions::chat_id.eq(chats::id))
                .filter(message_mentions::seq.gt(chat_members::last_read_seq))
                .count()
                .single_value(),
        ))
        .into_boxed();
    let mut limit = None;
    if let ChatListRange::Page { limit: n, before } = range {
        if let Some(c) = before {
            mine = mine.filter(
                chats::last_activity_at
                    .lt(c.last_activity_at)
                    .or(chats::last_activity_at
                        .eq(c.last_activity_at)
                        .and(chats::id.lt(c.chat_id))),
            );
        }
        // One more than asked: whether there is a next page.
        mine = mine.limit(n + 1);
        limit = Some(usize::try_from(n).unwrap_or(0));
    }
    let mut mine: Vec<ListedChat> = mine.load(conn).await?;
    let next = match limit {
        Some(n) if mine.len() > n => {
            mine.truncate(n);
            mine.last().map(|(chat, ..)| ChatListCursor {
                last_activity_at: chat.last_activity_at,
                chat_id: chat.id,
            })
        }
        _ => None,
    };
    let chat_ids: Vec<ChatId> = mine.iter().map(|(c, ..)| c.id).collect();

    let mut members_by_chat: HashMap<ChatId, Vec<MemberSeen>> = HashMap::new();
    for m in members(conn, &chat_ids).await? {
        members_by_chat.entry(m.0.chat_id).or_default().push(m);
    }

    // Each chat's newest message that is not deleted: a walk down the (chat_id, seq) index
    // from the chat's end, which stops at the first such message.
    let newest = diesel::alias!(messages as newest);
    let last_ids = chats::table.filter(chats::id.eq_any(&chat_ids)).select(
        newest
            .filter(newest.field(messages::chat_id).eq(chats::id))
            .filter(newest.field(messages::deleted).eq(false))
            .order(newest.field(messages::seq).desc())
            .select(newest.field(messages::id))
            .limit(1)
            .single_value(),
    );
    let last_rows: Vec<MessageRow> = messages::table
        .filter(messages::id.nullable().eq_any(last_ids))
        .select(MessageRow::as_select())
        .load(conn)
        .await?;
    let mut last_by_chat: HashMap<ChatId, Message> = complete(conn, last_rows)
        .await?
        .into_iter()
        .map(|m| (m.chat_id, m))
        .collect();

    let chats = mine
        .into_iter()
        .map(|(chat, live, own, read, mentions)| {
            let id = chat.id;
            let members = members_by_chat.remove(&id).unwrap_or_default();
            Ok(ChatSummary {
                chat: chat_from_rows(chat, members, user_id)?,
                last_message: last_by_chat.remove(&id),
                unread_count: live - own.unwrap_or(0) - read,
                unread_mention_count: mentions.unwrap_or(0),
            })
        })
        .collect::<AppResult<_>>()?;
    Ok(ChatListPage { chats, next })
}

/// What a chat's room starts from: the chat's `last_seq` and its members' ids, read in one
/// transaction so that they agree; `None` if the chat does not exist.
pub async fn room_state(
    conn: &mut Conn,
    chat_id: ChatId,
) -> AppResult<Option<(Seq, String, Vec<UserId>)>> {
    use diesel_async::AsyncConnection;
    conn.transaction::<_, AppError, _>(async |c| {
        let found: Option<(Seq, String)> = chats::table
            .find(chat_id)
            .select((chats::last_seq, chats::kind))
            .first(c)
            .await
            .optional()?;
        let Some((last, kind)) = found else {
            return Ok(None);
        };
        Ok(Some((last, kind, member_ids(c, chat_id).await?)))
    })
    .await
}

/// The chat a message belongs to (a message never moves), or `None` if there is no such
/// message.
pub async fn chat_of_message(conn: &mut Conn, message_id: MessageId) -> AppResult<Option<ChatId>> {
    Ok(messages::table
        .find(message_id)
        .select(messages::chat_id)
        .first(conn)
        .await
        .optional()?)
}
