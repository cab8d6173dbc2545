//! The typed operations of bots and webhooks.

use parley_types::{ChatId, EventSubscriptionId, TokenId, UserId, WebhookId};

use super::{DbOp, ExecDeps};
use crate::auth;
use crate::db::queries::Idempotent;
use crate::db::rows::{IncomingWebhookRow, NewIncoming, SubscriptionRow};
use crate::domain::webhooks::{Attempted, HookKey};
use crate::domain::{
    BotToken, EventSubscription, IncomingWebhook, Timestamp, User, WebhookDelivery,
};
use crate::error::{AppError, AppResult};
use crate::with_backend;
use futures_util::future::BoxFuture;

/// How long a bot's token lives: until it is rotated, in practice (a script that posts once a
/// quarter should not find its token expired).
pub const BOT_TOKEN_TTL_MILLIS: i64 = 10 * 365 * 24 * 60 * 60 * 1000;

// ---- bots ----------------------------------------------------------------------------------

pub struct CreateBot {
    pub owner_id: UserId,
    pub username: String,
    pub display_name: String,
}

db_op!(CreateBot -> BotToken, "create_bot", |this, deps| {
    let token = auth::issue_token();
    let mut conn = deps.db.conn().await?;
    let user = with_backend!(&mut conn, q, c => q::bots::create(
        c, this.owner_id, &this.username, &this.display_name, &token.digest,
        BOT_TOKEN_TTL_MILLIS,
    ).await)?;
    Ok(BotToken { user, access_token: token.token })
});

pub struct ListBots {
    pub owner_id: UserId,
}

db_op!(ListBots -> Vec<User>, "list_bots", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::bots::list(c, this.owner_id).await)
});

/// A new token for a bot of the caller's; every other one is revoked (and forgotten by the
/// cache at once). `None` if the caller has no such bot.
pub struct RotateBotToken {
    pub owner_id: UserId,
    pub bot_id: UserId,
}

db_op!(RotateBotToken -> Option<(BotToken, Vec<TokenId>)>, "rotate_bot_token", |this, deps| {
    let token = auth::issue_token();
    let mut conn = deps.db.conn().await?;
    let rotated = with_backend!(&mut conn, q, c => q::bots::rotate_token(
        c, this.owner_id, this.bot_id, &token.digest, BOT_TOKEN_TTL_MILLIS,
    ).await)?;
    Ok(rotated.map(|(user, revoked)| {
        for &token_id in &revoked {
            deps.tokens.forget_token(token_id);
        }
        (BotToken { user, access_token: token.token }, revoked)
    }))
});

pub struct BotOwnedBy {
    pub owner_id: UserId,
    pub bot_id: UserId,
}

db_op!(BotOwnedBy -> bool, "bot_owned_by", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::bots::is_owned(c, this.owner_id, this.bot_id).await)
});

// ---- incoming webhooks ---------------------------------------------------------------------

pub struct LoadHookKey;

db_op!(LoadHookKey -> HookKey, "load_hook_key", |_this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::webhooks::hook_key(c).await)
});

fn shown(row: IncomingWebhookRow, key: &HookKey) -> AppResult<IncomingWebhook> {
    Ok(IncomingWebhook {
        id: row.id,
        url: key
            .url(&row.secret_salt)
            .ok_or_else(|| AppError::internal("deriving a webhook's secret"))?,
        name: row.name,
        bot_user_id: row.bot_user_id,
        created_at: Timestamp(row.created_at),
    })
}

/// Goes through the chat's room: its bot joins the chat. Never replayed by an idempotency
/// key: the answer holds the secret, which is stored nowhere.
pub struct CreateIncomingWebhook {
    pub actor_id: UserId,
    pub chat_id: ChatId,
    pub name: String,
    pub key: HookKey,
}

db_op!(CreateIncomingWebhook -> Idempotent<IncomingWebhook>, "create_incoming_webhook", |this, deps| {
    let CreateIncomingWebhook { actor_id, chat_id, name, key } = this;
    let salt = HookKey::new_salt();
    let secret = key
        .secret(&salt)
        .ok_or_else(|| AppError::internal("deriving a webhook's secret"))?;
    let secret_hash = auth::token_digest(&secret);
    let bot_username = format!("hook.{:016x}", rand::random::<u64>());
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, tx => q::idempotency::run(tx, actor_id, None, move |c| {
        Box::pin(async move {
            let new = NewIncoming {
                name: &name,
                bot_username: &bot_username,
                secret_hash: &secret_hash,
                secret_salt: &salt,
            };
            let written = q::webhooks::create_incoming(c, chat_id, actor_id, new).await?;
            let value = shown(written.value, &key)?;
            Ok(crate::db::queries::Written::new(written.outcome, value, written.events))
        })
    }).await)
});

pub struct ListIncomingWebhooks {
    pub actor_id: UserId,
    pub chat_id: ChatId,
    pub key: HookKey,
}

db_op!(ListIncomingWebhooks -> Vec<IncomingWebhook>, "list_incoming_webhooks", |this, deps| {
    let mut conn = deps.db.conn().await?;
    let rows = with_backend!(&mut conn, q, c => q::webhooks::list_incoming(
        c, this.chat_id, this.actor_id,
    ).await)?;
    rows.into_iter().map(|row| shown(row, &this.key)).collect()
});

/// Deletes a webhook and deactivates its bot; the bot's id, or `None` if there is no such
/// webhook in the chat.
pub struct DeleteIncomingWebhook {
    pub actor_id: UserId,
    pub chat_id: ChatId,
    pub webhook_id: WebhookId,
}

db_op!(DeleteIncomingWebhook -> Option<UserId>, "delete_incoming_webhook", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::webhooks::delete_incoming(
        c, this.chat_id, this.actor_id, this.webhook_id,
    ).await)
});

/// The webhook (its id, chat and bot) a presented secret opens, if any.
pub struct FindHook {
    pub secret: String,
}

db_op!(FindHook -> Option<(WebhookId, ChatId, UserId)>, "find_hook", |this, deps| {
    let digest = auth::token_digest(&this.secret);
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::webhooks::find_by_secret(c, &digest).await)
});

// ---- outgoing webhooks ---------------------------------------------------------------------

pub struct CreateEventSubscription {
    pub actor_id: UserId,
    pub chat_id: ChatId,
    pub url: String,
    pub events: Vec<String>,
}

db_op!(CreateEventSubscription -> EventSubscription, "create_subscription", |this, deps| {
    let secret = crate::domain::webhooks::new_signing_secret();
    let events = this.events.join(",");
    let mut conn = deps.db.conn().await?;
    let row = with_backend!(&mut conn, q, c => q::webhooks::create_subscription(
        c, this.chat_id, this.actor_id, &this.url, &events, &secret,
    ).await)?;
    Ok(EventSubscription { secret: Some(secret), ..row.shown() })
});

pub struct ListEventSubscriptions {
    pub actor_id: UserId,
    pub chat_id: ChatId,
}

db_op!(ListEventSubscriptions -> Vec<EventSubscription>, "list_subscriptions", |this, deps| {
    let mut conn = deps.db.conn().await?;
    let rows = with_backend!(&mut conn, q, c => q::webhooks::list_subscriptions(
        c, this.chat_id, this.actor_id,
    ).await)?;
    Ok(rows.into_iter().map(SubscriptionRow::shown).collect())
});

pub struct DeleteEventSubscription {
    pub actor_id: UserId,
    pub chat_id: ChatId,
    pub id: EventSubscriptionId,
}

db_op!(DeleteEventSubscription -> bool, "delete_subscription", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::webhooks::delete_subscription(
        c, this.chat_id, this.actor_id, this.id,
    ).await)
});

pub struct EventSubscriptionDeliveries {
    pub actor_id: UserId,
    pub chat_id: ChatId,
    pub id: EventSubscriptionId,
}

db_op!(EventSubscriptionDeliveries -> Option<Vec<WebhookDelivery>>, "subscription_deliveries", |this, deps| {
    let mut conn = deps.db.conn().await?;
    let rows = with_backend!(&mut conn, q, c => q::webhooks::deliveries(
        c, this.chat_id, this.actor_id, this.id,
    ).await)?;
    Ok(rows.map(|rows| rows.into_iter().map(WebhookDelivery::from).collect()))
});

/// Whether the caller manages the group's webhooks (its owner or an admin): the contract's
/// errors if not. Asked before anything is done on the caller's behalf (resolving a URL).
pub struct ManagesWebhooks {
    pub actor_id: UserId,
    pub chat_id: ChatId,
}

db_op!(ManagesWebhooks -> (), "manages_webhooks", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::webhooks::require_manager(
        c, this.chat_id, this.actor_id,
    ).await)?;
    Ok(())
});

/// Claims subscriptions with events to deliver, for this node's delivery actor.
pub struct ClaimWebhooks {
    pub now: i64,
    pub lease_ms: i64,
    pub limit: i64,
}

db_op!(ClaimWebhooks -> Vec<SubscriptionRow>, "claim_webhooks", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::webhooks::claim_behind(
        c, this.now, this.lease_ms, this.limit,
    ).await)
});

/// Records one attempt (or skipped events) and moves the subscription on, if the claim still
/// holds it (`false`: it does not, and nothing was written).
pub struct SettleWebhook {
    pub attempted: Attempted,
}

db_op!(SettleWebhook -> bool, "settle_webhook", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::webhooks::settle(c, this.attempted).await)
});
