//! Mentions kept beside their messages: re-resolved when a message is edited, forgotten when
//! it is deleted (the member's page of them is `mention_page`).

use parley_types::{ChatId, UserId};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::db::rows::{mentionable, MemberNameRow, MessageRow, MEMBER_NAME};
use crate::db::schema::{chat_members, chats, message_mentions, users};
use crate::domain::mentions;
use crate::error::AppResult;

/// The members a text by `author` in `chat_id` mentions, ascending (one query, and none when
/// the text has no `@` word).
pub async fn resolve(
    conn: &mut Conn,
    chat_id: ChatId,
    author: UserId,
    text: &str,
) -> AppResult<Vec<UserId>> {
    let request = mentions::requested(text);
    if request.is_empty() {
        return Ok(Vec::new());
    }
    // The members the text names (every member only where it says `@all`), as a send reads them.
    let mut members = chat_members::table
        .inner_join(users::table)
        .inner_join(chats::table)
        .filter(chat_members::chat_id.eq(chat_id))
        .select(MEMBER_NAME)
        .into_boxed();
    if !request.all {
        members = members.filter(users::username.eq_any(&request.names));
    }
    let rows: Vec<MemberNameRow> = members.load(conn).await?;
    Ok(match mentionable(rows).remove(&chat_id) {
        Some((kind, members)) => mentions::resolve(&request, kind, author, &members),
        None => Vec::new(),
    })
}

/// Makes `mentioned` the message's mentions, on the row and as rows per member.
pub async fn replace(
    conn: &mut Conn,
    message: &MessageRow,
    mentioned: &[UserId],
) -> AppResult<String> {
    let ids = serde_json::to_string(mentioned)?;
    forget(conn, message).await?;
    let rows: Vec<_> = mentioned
        .iter()
        .map(|&user_id| {
            (
                message_mentions::user_id.eq(user_id),
                message_mentions::message_id.eq(message.id),
                message_mentions::chat_id.eq(message.chat_id),
                message_mentions::seq.eq(message.seq),
            )
        })
        .collect();
    for row in rows {
        diesel::insert_into(message_mentions::table)
            .values(row)
            .execute(conn)
            .await?;
    }
    Ok(ids)
}

/// The message mentions no one any more (it was deleted, or is about to be re-resolved): its
/// rows, found by the members its `mention_ids` names and its chat and seq (primary-key
/// lookups).
pub async fn forget(conn: &mut Conn, message: &MessageRow) -> AppResult<()> {
    let mentioned: Vec<UserId> = serde_json::from_str(&message.mention_ids).unwrap_or_default();
    if mentioned.is_empty() {
        return Ok(());
    }
    diesel::delete(
        message_mentions::table
            .filter(message_mentions::user_id.eq_any(&mentioned))
            .filter(message_mentions::chat_id.eq(message.chat_id))
            .filter(message_mentions::seq.eq(message.seq)),
    )
    .execute(conn)
    .await?;
    Ok(())
}
