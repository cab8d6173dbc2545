//! Guards: the checks and locks every command starts with. They read or lock; they never
//! change anything another user can observe.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use parley_types::{ChatId, Seq, UserId};

use super::Conn;
use crate::db::rows::{ChatRow, MemberRow};
use crate::db::schema::{chat_members, chats};
use crate::error::{AppError, AppResult};

/// The chat and the caller's membership in it: 404 if the chat does not exist, 403 if the
/// caller is not a member.
pub async fn require_member(
    conn: &mut Conn,
    chat_id: ChatId,
    user_id: UserId,
) -> AppResult<(ChatRow, MemberRow)> {
    let found: Option<(ChatRow, Option<MemberRow>)> = chats::table
        .left_join(
            chat_members::table.on(chat_members::chat_id
                .eq(chats::id)
                .and(chat_members::user_id.eq(user_id))),
        )
        .filter(chats::id.eq(chat_id))
        .select((ChatRow::as_select(), Option::<MemberRow>::as_select()))
        .first(conn)
        .await
        .optional()?;
    match found {
        None => Err(AppError::NotFound("chat")),
        Some((_, None)) => Err(AppError::not_a_member()),
        Some((chat, Some(member))) => Ok((chat, member)),
    }
}

/// Locks the chat's row until the transaction ends and returns its `last_seq`, or `None` if
/// the chat does not exist. Every writer of a chat passes here first, so writers of one chat
/// are serialised and their seqs are handed out in commit order.
pub async fn lock_chat(conn: &mut Conn, chat_id: ChatId) -> AppResult<Option<Seq>> {
    Ok(diesel::update(chats::table.find(chat_id))
        .set(chats::last_seq.eq(chats::last_seq))
        .returning(chats::last_seq)
        .get_result(conn)
        .await
        .optional()?)
}

/// `SELECT 1`: whether the database answers.
pub async fn ping(conn: &mut Conn) -> AppResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).await?;
    Ok(())
}
