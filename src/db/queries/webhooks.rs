//! Incoming webhooks (a secret URL that posts as the webhook's bot) and outgoing ones (event
//! subscriptions, delivered from the chat's event log): who may manage them, and their rows.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use parley_types::{ChatId, EventSubscriptionId, UserId, WebhookId};

use super::Conn;
use crate::db::queries::{Outcome, Written};
use crate::db::rows::{
    ChatRow, DeliveryRow, IncomingWebhookRow, NewIncoming, NewIncomingWebhookRow,
    NewSubscriptionRow, SubscriptionRow,
};
use crate::db::schema::{incoming_webhooks, users, webhook_deliveries, webhook_subscriptions};
use crate::domain::webhooks::{Attempted, HookKey, NextStep};
use crate::domain::{ChatKind, Role, Timestamp};
use crate::error::{AppError, AppResult};

/// Attempts kept per subscription in its delivery log.
pub const DELIVERY_LOG: i64 = 100;
/// Subscriptions one chat may have.
pub const MAX_SUBSCRIPTIONS_PER_CHAT: i64 = 20;
/// Incoming webhooks one chat may have.
pub const MAX_WEBHOOKS_PER_CHAT: i64 = 20;

/// The group, if the caller is its owner or an admin: `404` for no such chat, `403` for a
/// non-member, a direct chat or a lower role.
pub async fn require_manager(
    conn: &mut Conn,
    chat_id: ChatId,
    actor_id: UserId,
) -> AppResult<ChatRow> {
    let (chat, member) = super::guards::require_member(conn, chat_id, actor_id).await?;
    if chat.kind != ChatKind::Group.as_str() || !member.role()?.can_manage_members() {
        return Err(AppError::forbidden(
            "Only a group's owner or admins manage its webhooks.",
        ));
    }
    Ok(chat)
}

// ---- incoming ------------------------------------------------------------------------------

/// The key incoming webhooks' secrets are derived from: made by the first node to start.
pub async fn hook_key(conn: &mut Conn) -> AppResult<HookKey> {
    let kept =
        super::push::kept_secret(conn, "webhook_url_key", &HookKey::generate().to_base64url())
            .await?;
    HookKey::from_base64url(&kept).map_err(AppError::internal)
}

/// A new incoming webhook: its bot user (named `bot_username`, shown as `name`) joins the
/// group (a `member.joined` event), all in the caller's transaction, under the chat's lock.
pub async fn create_incoming(
    conn: &mut Conn,
    chat_id: ChatId,
    actor_id: UserId,
    new: NewIncoming<'_>,
) -> AppResult<Written<IncomingWebhookRow>> {
    super::guards::lock_chat(conn, chat_id)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    require_manager(conn, chat_id, actor_id).await?;
    let existing: i64 = incoming_webhooks::table
        .filter(incoming_webhooks::chat_id.eq(chat_id))
        .count()
        .get_result(conn)
        .await?;
    if existing >= MAX_WEBHOOKS_PER_CHAT {
        return Err(AppError::forbidden(format!(
            "A group has at most {MAX_WEBHOOKS_PER_CHAT} incoming webhooks."
        )));
    }
    let bot = super::bots::insert_bot(conn, new.bot_username, new.name, None)
        .await?
        .ok_or_else(|| AppError::internal("a webhook's random bot username was taken"))?;
    let events = super::chats::admit(conn, chat_id, bot.id, Role::Member).await?;
    let row: IncomingWebhookRow = diesel::insert_into(incoming_webhooks::table)
        .values(NewIncomingWebhookRow {
            chat_id,
            bot_user_id: bot.id,
            name: new.name,
            secret_hash: new.secret_hash,
            secret_salt: new.secret_salt,
            created_by: actor_id,
            created_at: Timestamp::now().millis(),
        })
        .returning(IncomingWebhookRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(Written::new(Outcome::Created, row, events))
}

pub async fn list_incoming(
    conn: &mut Conn,
    chat_id: ChatId,
    actor_id: UserId,
) -> AppResult<Vec<IncomingWebhookRow>> {
    require_manager(conn, chat_id, actor_id).await?;
    Ok(incoming_webhooks::table
        .filter(incoming_webhooks::chat_id.eq(chat_id))
        .order(incoming_webhooks::id)
        .select(IncomingWebhookRow::as_select())
        .load(conn)
        .await?)
}

/// Deletes the webhook and deactivates its bot (its messages stay, its secret stops working
/// the moment this commits); `None` if the chat has no such webhook.
pub async fn delete_incoming(
    conn: &mut Conn,
    chat_id: ChatId,
    actor_id: UserId,
    webhook_id: WebhookId,
) -> AppResult<Option<UserId>> {
    require_manager(conn, chat_id, actor_id).await?;
    let bot: Option<UserId> = diesel::delete(
        incoming_webhooks::table
            .filter(incoming_webhooks::id.eq(webhook_id))
            .filter(incoming_webhooks::chat_id.eq(chat_id)),
    )
    .returning(incoming_webhooks::bot_user_id)
    .get_result(conn)
    .await
    .optional()?;
    if let Some(bot) = bot {
        diesel::update(users::table.find(bot))
            .set(users::deactivated_at.eq(Some(Timestamp::now().millis())))
            .execute(conn)
            .await?;
    }
    Ok(bot)
}

/// The webhook a secret's hash belongs to, with its chat and bot, if its bot is active.
pub async fn find_by_secret(
    conn: &mut Conn,
    secret_hash: &str,
) -> AppResult<Option<(WebhookId, ChatId, UserId)>> {
    Ok(incoming_webhooks::table
        .inner_join(users::table.on(users::id.eq(incoming_webhooks::bot_user_id)))
        .filter(incoming_webhooks::secret_hash.eq(secret_hash))
        .filter(users::deactivated_at.is_null())
        .select((
            incoming_webhooks::id,
            incoming_webhooks::chat_id,
            incoming_webhooks::bot_user_id,
        ))
        .first(conn)
        .await
        .optional()?)
}

// ---- outgoing ------------------------------------------------------------------------------

/// A new subscription, starting after the chat's last committed event (read under the chat's
/// lock, in one transaction with the insert, so no event is both before it and missed by it,
/// and concurrent creations cannot each find room for the twentieth).
pub async fn create_subscription(
    conn: &mut Conn,
    chat_id: ChatId,
    actor_id: UserId,
    url: &str,
    events: &str,
    secret: &str,
) -> AppResult<SubscriptionRow> {
    use diesel_async::AsyncConnection;
    let (url, events, secret) = (url.to_owned(), events.to_owned(), secret.to_owned());
    conn.transaction::<_, AppError, _>(async move |c| {
        let last_seq = super::guards::lock_chat(c, chat_id)
            .await?
            .ok_or(AppError::NotFound("chat"))?;
        require_manager(c, chat_id, actor_id).await?;
        let existing: i64 = webhook_subscriptions::table
            .filter(webhook_subscriptions::chat_id.eq(chat_id))
            .count()
            .get_result(c)
            .await?;
        if existing >= MAX_SUBSCRIPTIONS_PER_CHAT {
            return Err(AppError::forbidden(format!(
                "A group has at most {MAX_SUBSCRIPTIONS_PER_CHAT} outgoing webhooks."
            )));
        }
        let now = Timestamp::now().millis();
        Ok(diesel::insert_into(webhook_subscriptions::table)
            .values(NewSubscriptionRow {
                chat_id,
                url: &url,
                events: &events,
                secret: &secret,
                created_by: actor_id,
                created_at: now,
                delivered_seq: last_seq,
                due_at: now,
            })
            .returning(SubscriptionRow::as_returning())
            .get_result(c)
            .await?)
    })
    .await
}

pub async fn list_subscriptions(
    conn: &mut Conn,
    chat_id: ChatId,
    actor_id: UserId,
) -> AppResult<Vec<SubscriptionRow>> {
    require_manager(conn, chat_id, actor_id).await?;
    Ok(webhook_subscriptions::table
        .filter(webhook_subscriptions::chat_id.eq(chat_id))
        .order(webhook_subscriptions::id)
        .select(SubscriptionRow::as_select())
        .load(conn)
        .await?)
}

/// Deletes the subscription and its log; whether there was one.
pub async fn delete_subscription(
    conn: &mut Conn,
    chat_id: ChatId,
    actor_id: UserId,
    id: EventSubscriptionId,
) -> AppResult<bool> {
    require_manager(conn, chat_id, actor_id).await?;
    let deleted = diesel::delete(
        webhook_subscriptions::table
            .filter(webhook_subscriptions::id.eq(id))
            .filter(webhook_subscriptions::chat_id.eq(chat_id)),
    )
    .execute(conn)
    .await?;
    Ok(deleted > 0)
}

/// The subscription's last attempts, newest first; `None` if the chat has no such one.
pub async fn deliveries(
    conn: &mut Conn,
    chat_id: ChatId,
    actor_id: UserId,
    id: EventSubscriptionId,
) -> AppResult<Option<Vec<DeliveryRow>>> {
    require_manager(conn, chat_id, actor_id).await?;
    let exists: Option<EventSubscriptionId> = webhook_subscriptions::table
        .filter(webhook_subscriptions::id.eq(id))
        .filter(webhook_subscriptions::chat_id.eq(chat_id))
        .select(webhook_subscriptions::id)
        .first(conn)
        .await
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    Ok(Some(
        webhook_deliveries::table
            .filter(webhook_deliveries::subscription_id.eq(id))
            .order(webhook_deliveries::id.desc())
            .limit(DELIVERY_LOG)
            .select(DeliveryRow::as_select())
            .load(conn)
            .await?,
    ))
}

/// Records an attempt and moves the subscription on, in one transaction — if the claim still
/// holds it: every change is conditioned on the subscription's `due_at` being the claim's
/// lease, which any other claim (after the lease ended) or release replaces. `false` when the
/// claim no longer holds it: nothing was written, and its holder must stop.
pub async fn settle(conn: &mut Conn, attempted: Attempted) -> AppResult<bool> {
    use diesel_async::AsyncConnection;
    conn.transaction::<_, AppError, _>(async move |c| {
        let id = attempted.subscription_id;
        let held = webhook_subscriptions::table
            .find(id)
            .filter(webhook_subscriptions::due_at.eq(attempted.lease));
        let changed = match attempted.next {
            NextStep::Advance { seq, release_at } => {
                diesel::update(held.filter(webhook_subscriptions::delivered_seq.le(seq)))
                    .set((
                        webhook_subscriptions::delivered_seq.eq(seq),
                        webhook_subscriptions::attempts.eq(0),
                        webhook_subscriptions::failing_since.eq(None::<i64>),
                        webhook_subscriptions::due_at.eq(release_at.unwrap_or(attempted.lease)),
                    ))
                    .execute(c)
                    .await?
            }
            NextStep::Retry {
                retry_at,
                attempts,
                failing_since,
            } => {
                diesel::update(held)
                    .set((
                        webhook_subscriptions::due_at.eq(retry_at),
                        webhook_subscriptions::attempts.eq(attempts),
                        webhook_subscriptions::failing_since.eq(Some(failing_since)),
                    ))
                    .execute(c)
                    .await?
            }
            NextStep::Disable { at } => {
                diesel::update(held)
                    .set(webhook_subscriptions::disabled_at.eq(Some(at)))
                    .execute(c)
                    .await?
            }
        };
        if changed == 0 {
            return Ok(false);
        }
        // One statement per row: diesel-async cannot send a multi-row INSERT to SQLite.
        for logged in &attempted.logged {
            diesel::insert_into(webhook_deliveries::table)
                .values(logged)
                .execute(c)
                .await?;
        }
        if !attempted.logged.is_empty() {
            prune_log(c, id).await?;
        }
        Ok(true)
    })
    .await
}

/// Keeps the newest `DELIVERY_LOG` attempts of the subscription.
async fn prune_log(conn: &mut Conn, id: EventSubscriptionId) -> AppResult<()> {
    let oldest_kept: Option<i64> = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(id))
        .order(webhook_deliveries::id.desc())
        .offset(DELIVERY_LOG - 1)
        .select(webhook_deliveries::id)
        .first(conn)
        .await
        .optional()?;
    if let Some(oldest_kept) = oldest_kept {
        diesel::delete(
            webhook_deliveries::table
                .filter(webhook_deliveries::subscription_id.eq(id))
                .filter(webhook_deliveries::id.lt(oldest_kept)),
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Claims subscriptions with events to deliver (see `WebhookClaims`).
pub async fn claim_behind(
    conn: &mut Conn,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> AppResult<Vec<SubscriptionRow>> {
    use crate::db::queries::WebhookClaims;
    Ok(conn.claim_behind(now, lease_ms, limit).await?)
}
