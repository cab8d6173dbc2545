//! Guards: the checks and locks every command starts with. They read or lock; they never
//! change anything another user can observe. Among them, the checks of blocks (the rows
//! `moderation` writes): whom a block turns away, wherever a write would reach the blocker.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use parley_types::{ChatId, Seq, UserId};

use super::Conn;
use crate::db::rows::{ChatRow, MemberRow};
use crate::db::schema::{chat_members, chats, user_blocks, users};
use crate::domain::ChatKind;
use crate::error::{AppError, AppResult, ErrorCode};

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

// ---- blocks ---------------------------------------------------------------------------

/// What a block answers the blocked person: `403 blocked`.
pub fn blocked() -> AppError {
    AppError::Forbidden {
        code: ErrorCode::Blocked,
        detail: "This person does not accept that from you.".into(),
    }
}

/// Whom a block of someone covers when `user_id` acts: the user, and a bot's owner (a person
/// who is blocked is not let back in through their bots).
async fn acting_as(conn: &mut Conn, user_id: UserId) -> AppResult<Vec<UserId>> {
    let owner: Option<Option<UserId>> = users::table
        .find(user_id)
        .select(users::bot_owner_id)
        .first(conn)
        .await
        .optional()?;
    Ok(std::iter::once(user_id).chain(owner.flatten()).collect())
}

/// Refuses (`403 blocked`) when any of `blockers` blocks `user_id` (or, for a bot, its owner):
/// one index probe each.
pub async fn refuse_if_blocked_by(
    conn: &mut Conn,
    blockers: &[UserId],
    user_id: UserId,
) -> AppResult<()> {
    if blockers.is_empty() {
        return Ok(());
    }
    let acting = acting_as(conn, user_id).await?;
    let found: bool = diesel::select(diesel::dsl::exists(
        user_blocks::table
            .filter(user_blocks::blocked_id.eq_any(&acting))
            .filter(user_blocks::blocker_id.eq_any(blockers)),
    ))
    .get_result(conn)
    .await?;
    if found {
        Err(blocked())
    } else {
        Ok(())
    }
}

/// Refuses (`403 blocked`) a write by `user_id` into a direct chat whose other member blocks
/// them; a group is never refused for a block.
pub async fn refuse_if_blocked_in(
    conn: &mut Conn,
    chat_kind: &str,
    chat_id: ChatId,
    user_id: UserId,
) -> AppResult<()> {
    if chat_kind != ChatKind::Direct.as_str() {
        return Ok(());
    }
    let others: Vec<UserId> = chat_members::table
        .filter(chat_members::chat_id.eq(chat_id))
        .filter(chat_members::user_id.ne(user_id))
        .select(chat_members::user_id)
        .load(conn)
        .await?;
    refuse_if_blocked_by(conn, &others, user_id).await
}
