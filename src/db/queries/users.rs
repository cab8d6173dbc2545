//! Accounts and bearer tokens.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use parley_types::{ChatId, TokenId, UserId};

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
                is_bot: false,
                bot_owner_id: None,
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

/// The account's row, if there is one.
pub async fn find_row(conn: &mut Conn, user_id: UserId) -> AppResult<Option<UserRow>> {
    Ok(users::table
        .find(user_id)
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Which of `ids` name existing accounts.
pub async fn existing_ids(conn: &mut Conn, ids: &[UserId]) -> AppResult<Vec<UserId>> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select(users::id)
        .load(conn)
        .await?)
}

pub(super) async fn insert_token(
    conn: &mut Conn,
    user_id: UserId,
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

/// Locks the account's row until the transaction ends if it is active; `false` (and no lock
/// kept) when it is deactivated or gone. A deactivation either committed before (then this
/// sees it, after waiting for its lock) or waits for this transaction (then it revokes what
/// this one created), so no token outlives a deactivation.
pub(super) async fn lock_active_user(conn: &mut Conn, user_id: UserId) -> AppResult<bool> {
    let locked: Option<i64> = diesel::update(
        users::table
            .find(user_id)
            .filter(users::deactivated_at.is_null()),
    )
    .set(users::deactivated_at.eq(users::deactivated_at))
    .returning(users::id)
    .get_result(conn)
    .await
    .optional()?;
    Ok(locked.is_some())
}

/// Creates a token for the account if, and only if, it is active when the token commits;
/// `false` when it is not.
pub async fn issue_token_if_active(
    conn: &mut Conn,
    user_id: UserId,
    token_hash: &str,
    ttl_millis: i64,
) -> AppResult<bool> {
    let token_hash = token_hash.to_owned();
    conn.transaction::<_, AppError, _>(async move |c| {
        if !lock_active_user(c, user_id).await? {
            return Ok(false);
        }
        insert_token(c, user_id, &token_hash, ttl_millis).await?;
        Ok(true)
    })
    .await
}

/// Tokens that are live now: not revoked, not expired, of an account that is active (checked
/// in the statement that reads the token, so a deactivation is final the moment it commits).
#[diesel::dsl::auto_type(no_type_alias)]
fn live_tokens(now: i64) -> _ {
    auth_tokens::table
        .inner_join(users::table)
        .filter(auth_tokens::revoked_at.is_null())
        .filter(auth_tokens::expires_at.gt(now))
        .filter(users::deactivated_at.is_null())
}

/// The owner of a live token.
pub async fn authenticate(conn: &mut Conn, token_hash: &str) -> AppResult<Option<TokenOwner>> {
    let found: Option<(TokenId, UserId, i64)> = live_tokens(Timestamp::now().millis())
        .filter(auth_tokens::token_hash.eq(token_hash))
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

/// Whether the token is live now, read from the database: the check a WebSocket session makes
/// once it is where revocations can find it.
pub async fn token_is_live(conn: &mut Conn, token_id: TokenId) -> AppResult<bool> {
    let found: Option<i64> = live_tokens(Timestamp::now().millis())
        .filter(auth_tokens::id.eq(token_id))
        .select(auth_tokens::id)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

pub async fn revoke_token(conn: &mut Conn, token_id: TokenId) -> AppResult<()> {
    diesel::update(auth_tokens::table.find(token_id))
        .set(auth_tokens::revoked_at.eq(Timestamp::now().millis()))
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes every live token of the user but `keep` (the caller's own, or none); returns the
/// ids revoked.
pub async fn revoke_tokens_of(
    conn: &mut Conn,
    user_id: UserId,
    keep: Option<TokenId>,
) -> AppResult<Vec<TokenId>> {
    // Token ids start at 1, so keeping id 0 keeps none.
    let keep = keep.unwrap_or(TokenId(0));
    Ok(diesel::update(
        auth_tokens::table
            .filter(auth_tokens::user_id.eq(user_id))
            .filter(auth_tokens::revoked_at.is_null())
            .filter(auth_tokens::id.ne(keep)),
    )
    .set(auth_tokens::revoked_at.eq(Timestamp::now().millis()))
    .returning(auth_tokens::id)
    .get_results(conn)
    .await?)
}

/// Replaces the password of an active account and revokes every other token of it, in one
/// transaction; `None` if the account is deactivated (or gone) by then.
pub async fn change_password(
    conn: &mut Conn,
    user_id: UserId,
    password_hash: &str,
    keep_token: TokenId,
) -> AppResult<Option<Vec<TokenId>>> {
    let password_hash = password_hash.to_owned();
    conn.transaction::<_, AppError, _>(async move |c| {
        if !lock_active_user(c, user_id).await? {
            return Ok(None);
        }
        diesel::update(users::table.find(user_id))
            .set(users::password_hash.eq(&password_hash))
            .execute(c)
            .await?;
        Ok(Some(revoke_tokens_of(c, user_id, Some(keep_token)).await?))
    })
    .await
}

/// Which of `token_ids` are revoked (a node's sweep closes their sessions).
pub async fn revoked_among(conn: &mut Conn, token_ids: &[TokenId]) -> AppResult<Vec<TokenId>> {
    Ok(auth_tokens::table
        .filter(auth_tokens::id.eq_any(token_ids))
        .filter(auth_tokens::revoked_at.is_not_null())
        .select(auth_tokens::id)
        .load(conn)
        .await?)
}

/// Deactivates the account, and the bots it owns, and revokes all their live tokens, in one
/// transaction; `None` if there is no such account. Returns the account and the tokens it
/// revoked, each with its user (the account's own, and its bots').
pub async fn deactivate(
    conn: &mut Conn,
    user_id: UserId,
) -> AppResult<Option<(UserRow, Vec<(UserId, TokenId)>)>> {
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
        let mut revoked: Vec<(UserId, TokenId)> = revoke_tokens_of(c, user_id, None)
            .await?
            .into_iter()
            .map(|token| (user_id, token))
            .collect();
        // A person's bots go with them: nobody could rotate or delete them any more.
        let bots: Vec<UserId> = diesel::update(
            users::table
                .filter(users::bot_owner_id.eq(user_id))
                .filter(users::deactivated_at.is_null()),
        )
        .set(users::deactivated_at.eq(Some(now)))
        .returning(users::id)
        .get_results(c)
        .await?;
        for bot in bots {
            let tokens = revoke_tokens_of(c, bot, None).await?;
            revoked.extend(tokens.into_iter().map(|token| (bot, token)));
        }
        // Nothing is pushed to a deactivated account's devices any more.
        super::push::forget_user(c, user_id).await?;
        Ok(Some((user, revoked)))
    })
    .await
}

/// Lets the account log in again (its old tokens stay revoked); `None` if there is no such
/// account.
pub async fn reactivate(conn: &mut Conn, user_id: UserId) -> AppResult<Option<UserRow>> {
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
/// false, which the presence tracker corrects) when the viewer is a member of a chat in which
/// the user shows their presence; without
/// either otherwise (users do not need to be told their own presence).
pub async fn find_seen_by(
    conn: &mut Conn,
    user_id: UserId,
    viewer_id: UserId,
) -> AppResult<Option<User>> {
    let Some(row) = find_row(conn, user_id).await? else {
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

/// Whether `b` is a member of a chat in which `a` shows their presence (see `contacts`).
async fn share_a_chat(conn: &mut Conn, a: UserId, b: UserId) -> AppResult<bool> {
    let other = diesel::alias!(chat_members as other);
    let shared: Option<ChatId> = chat_members::table
        .inner_join(
            other.on(other
                .field(chat_members::chat_id)
                .eq(chat_members::chat_id)
                .and(other.field(chat_members::user_id).eq(b))),
        )
        .filter(chat_members::user_id.eq(a))
        .filter(chat_members::shows_presence.eq(true))
        .select(chat_members::chat_id)
        .first(conn)
        .await
        .optional()?;
    Ok(shared.is_some())
}

/// Users who may see `user_id`'s presence (the user not among them), at most `limit`: the
/// members of the chats in which the user shows it, having created the chat or written in
/// it. Being added to a chat, or sent a direct chat by a stranger, shows nothing.
pub async fn contacts(conn: &mut Conn, user_id: UserId, limit: i64) -> AppResult<Vec<UserId>> {
    let other = diesel::alias!(chat_members as other);
    Ok(chat_members::table
        .inner_join(other.on(other.field(chat_members::chat_id).eq(chat_members::chat_id)))
        .filter(chat_members::user_id.eq(user_id))
        .filter(chat_members::shows_presence.eq(true))
        .filter(other.field(chat_members::user_id).ne(user_id))
        .select(other.field(chat_members::user_id))
        .distinct()
        .limit(limit)
        .load(conn)
        .await?)
}

/// Moves each user's `last_seen_at` forward to the given time (milliseconds), never back (two
/// nodes may write it for one user), in one transaction.
pub async fn record_last_seen(conn: &mut Conn, seen: &[(UserId, i64)]) -> AppResult<()> {
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
