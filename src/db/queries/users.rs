//! Accounts and bearer tokens.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::Conn;
use crate::db::queries::TokenOwner;
use crate::db::rows::{NewTokenRow, NewUserRow, UserRow};
use crate::db::schema::{auth_tokens, chat_members, users};
use crate::domain::{Timestamp, User};
use crate::error::{AppError, AppResult, ErrorCode};

/// Creates the account and its first token in one transaction.
pub async fn register(
    conn: &mut Conn,
    username: &str,
    display_name: &str,
    password_hash: &str,
    token_hash: &str,
    token_ttl_millis: i64,
) -> AppResult<User> {
    let username = username.to_owned();
    let display_name = display_name.to_owned();
    let password_hash = password_hash.to_owned();
    let token_hash = token_hash.to_owned();
    conn.transaction::<_, AppError, _>(async move |conn| {
        let now = Timestamp::now().millis();
        let user: Option<UserRow> = diesel::insert_into(users::table)
            .values(NewUserRow {
                username: &username,
                display_name: &display_name,
                password_hash: &password_hash,
                created_at: now,
            })
            .on_conflict(users::username)
            .do_nothing()
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        let user = user.ok_or_else(|| AppError::Conflict {
            code: ErrorCode::UsernameTaken,
            detail: "That username is taken.".into(),
        })?;
        insert_token(conn, user.id, &token_hash, token_ttl_millis).await?;
        Ok(User::from(user))
    })
    .await
}

pub async fn find_by_username(conn: &mut Conn, username: &str) -> AppResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn find(conn: &mut Conn, user_id: i64) -> AppResult<Option<User>> {
    Ok(users::table
        .find(user_id)
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(User::from))
}

/// Which of `ids` name existing accounts.
pub async fn existing_ids(conn: &mut Conn, ids: &[i64]) -> AppResult<Vec<i64>> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select(users::id)
        .load(conn)
        .await?)
}

pub async fn insert_token(
    conn: &mut Conn,
    user_id: i64,
    token_hash: &str,
    ttl_millis: i64,
) -> AppResult<()> {
    let now = Timestamp::now().millis();
    diesel::insert_into(auth_tokens::table)
        .values(NewTokenRow {
            user_id,
            token_hash,
            created_at: now,
            expires_at: now.saturating_add(ttl_millis),
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// The owner of a live (not expired, not revoked) token.
pub async fn authenticate(conn: &mut Conn, token_hash: &str) -> AppResult<Option<TokenOwner>> {
    let now = Timestamp::now().millis();
    let found: Option<(i64, i64, i64)> = auth_tokens::table
        .filter(auth_tokens::token_hash.eq(token_hash))
        .filter(auth_tokens::revoked_at.is_null())
        .filter(auth_tokens::expires_at.gt(now))
        .select((
            auth_tokens::id,
            auth_tokens::user_id,
            auth_tokens::expires_at,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|(token_id, user_id, expires_at)| TokenOwner {
        token_id,
        user_id,
        expires_at: Timestamp(expires_at),
    }))
}

pub async fn revoke_token(conn: &mut Conn, token_id: i64) -> AppResult<()> {
    diesel::update(auth_tokens::table.find(token_id))
        .set(auth_tokens::revoked_at.eq(Timestamp::now().millis()))
        .execute(conn)
        .await?;
    Ok(())
}

/// Which of `token_ids` are revoked (a node's sweep closes their sessions).
pub async fn revoked_among(conn: &mut Conn, token_ids: &[i64]) -> AppResult<Vec<i64>> {
    Ok(auth_tokens::table
        .filter(auth_tokens::id.eq_any(token_ids))
        .filter(auth_tokens::revoked_at.is_not_null())
        .select(auth_tokens::id)
        .load(conn)
        .await?)
}

/// Deactivates the account and revokes all its live tokens, in one transaction; `None` if
/// there is no such account. Returns the account and the ids of the tokens it revoked.
pub async fn deactivate(conn: &mut Conn, user_id: i64) -> AppResult<Option<(UserRow, Vec<i64>)>> {
    conn.transaction::<_, AppError, _>(async |c| {
        let now = Timestamp::now().millis();
        // Deactivated once: a second call keeps the first time.
        diesel::update(
            users::table
                .find(user_id)
                .filter(users::deactivated_at.is_null()),
        )
        .set(users::deactivated_at.eq(Some(now)))
        .execute(c)
        .await?;
        let updated: Option<UserRow> = users::table
            .find(user_id)
            .select(UserRow::as_select())
            .first(c)
            .await
            .optional()?;
        let Some(user) = updated else {
            return Ok(None);
        };
        let revoked: Vec<i64> = diesel::update(
            auth_tokens::table
                .filter(auth_tokens::user_id.eq(user_id))
                .filter(auth_tokens::revoked_at.is_null()),
        )
        .set(auth_tokens::revoked_at.eq(now))
        .returning(auth_tokens::id)
        .get_results(c)
        .await?;
        Ok(Some((user, revoked)))
    })
    .await
}

/// Lets the account log in again (its old tokens stay revoked); `None` if there is no such
/// account.
pub async fn reactivate(conn: &mut Conn, user_id: i64) -> AppResult<Option<UserRow>> {
    Ok(diesel::update(users::table.find(user_id))
        .set(users::deactivated_at.eq(None::<i64>))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

/// Accounts whose username contains `query` (all when it is empty), by username, at most
/// `limit`.
pub async fn search(conn: &mut Conn, query: &str, limit: i64) -> AppResult<Vec<UserRow>> {
    if !crate::domain::validate::could_be_in_username(query) {
        return Ok(Vec::new());
    }
    let escaped: String = query
        .chars()
        .flat_map(|ch| match ch {
            '%' | '_' | '\\' => vec!['\\', ch],
            other => vec![other],
        })
        .collect();
    Ok(users::table
        .filter(users::username.like(format!("%{escaped}%")).escape('\\'))
        .order(users::username.asc())
        .limit(limit)
        .select(UserRow::as_select())
        .load(conn)
        .await?)
}

/// The user as `viewer_id` may see it: with `last_seen_at` as last written (and `online`
/// false, which the presence tracker corrects) when the viewer shares a chat with it; without
/// either otherwise (users do not need to be told their own presence).
pub async fn find_seen_by(
    conn: &mut Conn,
    user_id: i64,
    viewer_id: i64,
) -> AppResult<Option<User>> {
    let Some(row) = users::table
        .find(user_id)
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let last_seen_at = row.last_seen_at;
    let mut user = User::from(row);
    if viewer_id != user_id && share_a_chat(conn, user_id, viewer_id).await? {
        user.online = Some(false);
        user.last_seen_at = last_seen_at.map(Timestamp);
    }
    Ok(Some(user))
}

/// Whether the two users are members of one chat.
async fn share_a_chat(conn: &mut Conn, a: i64, b: i64) -> AppResult<bool> {
    let other = diesel::alias!(chat_members as other);
    let shared: Option<i64> = chat_members::table
        .inner_join(
            other.on(other
                .field(chat_members::chat_id)
                .eq(chat_members::chat_id)
                .and(other.field(chat_members::user_id).eq(b))),
        )
        .filter(chat_members::user_id.eq(a))
        .select(chat_members::chat_id)
        .first(conn)
        .await
        .optional()?;
    Ok(shared.is_some())
}

/// Users who share a chat with `user_id` (the user not among them), at most `limit`.
pub async fn contacts(conn: &mut Conn, user_id: i64, limit: i64) -> AppResult<Vec<i64>> {
    let other = diesel::alias!(chat_members as other);
    Ok(chat_members::table
        .inner_join(other.on(other.field(chat_members::chat_id).eq(chat_members::chat_id)))
        .filter(chat_members::user_id.eq(user_id))
        .filter(other.field(chat_members::user_id).ne(user_id))
        .select(other.field(chat_members::user_id))
        .distinct()
        .limit(limit)
        .load(conn)
        .await?)
}

/// Moves each user's `last_seen_at` forward to the given time (milliseconds), never back (two
/// nodes may write it for one user), in one transaction.
pub async fn record_last_seen(conn: &mut Conn, seen: &[(i64, i64)]) -> AppResult<()> {
    conn.transaction::<_, AppError, _>(async |c| {
        for &(user_id, at) in seen {
            diesel::update(users::table.find(user_id))
                .filter(users::last_seen_at.is_null().or(users::last_seen_at.lt(at)))
                .set(users::last_seen_at.eq(at))
                .execute(c)
                .await?;
        }
        Ok(())
    })
    .await
}
