//! Bots: users with `is_bot` that a person owns, which sign in only by token.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use parley_types::{TokenId, UserId};

use super::Conn;
use crate::db::rows::{NewUserRow, UserRow, NO_PASSWORD};
use crate::db::schema::users;
use crate::domain::{Timestamp, User};
use crate::error::{AppError, AppResult, ErrorCode};

/// Bots one person may have (deleted ones do not count).
pub const MAX_BOTS_PER_OWNER: i64 = 20;

/// A new bot of `owner_id`, with its first token, in one transaction. Only an active person
/// (not a bot) may own bots; the owner's row is locked, so concurrent creations cannot each
/// find room for the twentieth.
pub async fn create(
    conn: &mut Conn,
    owner_id: UserId,
    username: &str,
    display_name: &str,
    token_hash: &str,
    token_ttl_millis: i64,
) -> AppResult<User> {
    let (username, display_name, token_hash) = (
        username.to_owned(),
        display_name.to_owned(),
        token_hash.to_owned(),
    );
    conn.transaction::<_, AppError, _>(async move |c| {
        if !super::users::lock_active_user(c, owner_id).await? {
            return Err(AppError::Unauthorized);
        }
        let owner_is_bot: bool = users::table
            .find(owner_id)
            .select(users::is_bot)
            .first(c)
            .await?;
        if owner_is_bot {
            return Err(AppError::forbidden("A bot cannot own bots."));
        }
        let owned: i64 = live_bots_of(owner_id).count().get_result(c).await?;
        if owned >= MAX_BOTS_PER_OWNER {
            return Err(AppError::Conflict {
                code: ErrorCode::TooManyBots,
                detail: format!("A person has at most {MAX_BOTS_PER_OWNER} bots."),
            });
        }
        let bot = insert_bot(c, &username, &display_name, Some(owner_id))
            .await?
            .ok_or_else(|| AppError::Conflict {
                code: ErrorCode::UsernameTaken,
                detail: "That username is taken.".into(),
            })?;
        super::users::insert_token(c, bot.id, &token_hash, token_ttl_millis).await?;
        Ok(User::from(bot))
    })
    .await
}

/// Inserts a bot user; `None` if the username is taken.
pub(super) async fn insert_bot(
    conn: &mut Conn,
    username: &str,
    display_name: &str,
    owner_id: Option<UserId>,
) -> AppResult<Option<UserRow>> {
    Ok(diesel::insert_into(users::table)
        .values(NewUserRow {
            username,
            display_name,
            password_hash: NO_PASSWORD,
            created_at: Timestamp::now().millis(),
            is_bot: true,
            bot_owner_id: owner_id,
        })
        .on_conflict(users::username)
        .do_nothing()
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

#[diesel::dsl::auto_type(no_type_alias)]
fn live_bots_of(owner_id: UserId) -> _ {
    users::table
        .filter(users::bot_owner_id.eq(owner_id))
        .filter(users::deactivated_at.is_null())
}

/// The caller's bots that are not deleted, oldest first.
pub async fn list(conn: &mut Conn, owner_id: UserId) -> AppResult<Vec<User>> {
    let rows: Vec<UserRow> = live_bots_of(owner_id)
        .order(users::id)
        .select(UserRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(User::from).collect())
}

/// Whether `bot_id` is a live bot of `owner_id`.
pub async fn is_owned(conn: &mut Conn, owner_id: UserId, bot_id: UserId) -> AppResult<bool> {
    let found: Option<UserId> = live_bots_of(owner_id)
        .filter(users::id.eq(bot_id))
        .select(users::id)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// Gives a live bot of `owner_id` a new token and revokes every other, in one transaction;
/// `None` if there is no such bot. Returns the bot and the revoked tokens' ids.
pub async fn rotate_token(
    conn: &mut Conn,
    owner_id: UserId,
    bot_id: UserId,
    token_hash: &str,
    token_ttl_millis: i64,
) -> AppResult<Option<(User, Vec<TokenId>)>> {
    let token_hash = token_hash.to_owned();
    conn.transaction::<_, AppError, _>(async move |c| {
        // Locked as a login locks it: a deletion either committed before (then this finds no
        // live bot) or waits for this transaction and revokes the token it made.
        if !super::users::lock_active_user(c, bot_id).await? {
            return Ok(None);
        }
        let bot: Option<UserRow> = live_bots_of(owner_id)
            .filter(users::id.eq(bot_id))
            .select(UserRow::as_select())
            .first(c)
            .await
            .optional()?;
        let Some(bot) = bot else {
            return Ok(None);
        };
        let revoked = super::users::revoke_tokens_of(c, bot_id, None).await?;
        super::users::insert_token(c, bot_id, &token_hash, token_ttl_millis).await?;
        Ok(Some((User::from(bot), revoked)))
    })
    .await
}
