//! Web Push: the VAPID key every node shares, and the caller's push subscriptions.

use parley_types::{ChatId, MessageId, NotificationLevel, Seq, SubscriptionId, UserId};
use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::db::queries::{ClaimedRow, DeviceFlagLocks, PushClaims};
use crate::db::queries::{Outcome, Written};
use crate::db::schema::{chat_members, chats, message_mentions, messages, push_outbox};
use crate::db::schema::{push_subscriptions, server_secrets, users};
use crate::domain::push::{CheckedSubscription, Concern, DuePush, OwedMessage, Settled, VapidKey};
use crate::domain::{PushSubscription, Timestamp};
use crate::error::{AppError, AppResult};

const VAPID: &str = "vapid_private_key";

/// The VAPID key: the one kept, or `configured` (the operator's) kept now, or a new one. Two
/// nodes starting together both insert and both read back the one that won. A configured key
/// that differs from the one kept is refused: the devices subscribed with the kept one.
pub async fn vapid_key(conn: &mut Conn, configured: Option<&VapidKey>) -> AppResult<VapidKey> {
    let candidate = configured.cloned().unwrap_or_else(VapidKey::generate);
    let kept = kept_secret(conn, VAPID, &candidate.to_base64url()).await?;
    let kept = VapidKey::from_base64url(&kept).map_err(AppError::internal)?;
    if configured.is_some_and(|c| c.public_base64url() != kept.public_base64url()) {
        return Err(AppError::internal(
            "PARLEY_VAPID_PRIVATE_KEY differs from the key this database keeps; devices \
             subscribed with that one",
        ));
    }
    Ok(kept)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = push_subscriptions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct SubscriptionRow {
    id: SubscriptionId,
    user_id: UserId,
    endpoint: String,
    created_at: i64,
}

impl SubscriptionRow {
    fn into_domain(self) -> PushSubscription {
        PushSubscription {
            id: self.id,
            endpoint: self.endpoint,
            created_at: Timestamp(self.created_at),
        }
    }
}

/// Keeps the caller's subscription: `Created`, or `Done` with the existing one when the caller
/// had subscribed this endpoint already (its keys brought up to date). An endpoint another
/// account had is that browser's now signed-in account's: it moves. Two requests racing with
/// one new endpoint: one inserts it, the other finds it (no unique-key error).
pub async fn subscribe(
    conn: &mut Conn,
    user_id: UserId,
    subscription: &CheckedSubscription,
) -> AppResult<Written<PushSubscription>> {
    // Held against memberships beginning meanwhile, which would not see this device
    // (`device_flags`); every membership of the user is flagged once the device is kept.
    conn.hold_user_against_joins(user_id).await?;
    let kept = keep_subscription(conn, user_id, subscription).await?;
    diesel::update(
        chat_members::table
            .filter(chat_members::user_id.eq(user_id))
            .filter(chat_members::has_devices.eq(false)),
    )
    .set(chat_members::has_devices.eq(true))
    .execute(conn)
    .await?;
    Ok(kept)
}

/// Inserts the subscription, or brings the caller's existing one up to date (see `subscribe`).
async fn keep_subscription(
    conn: &mut Conn,
    user_id: UserId,
    subscription: &CheckedSubscription,
) -> AppResult<Written<PushSubscription>> {
    // Twice at most: a second look finds what a concurrent request committed meanwhile.
    for _ in 0..2 {
        let existing: Option<SubscriptionRow> = push_subscriptions::table
            .filter(push_subscriptions::endpoint.eq(&subscription.endpoint))
            .select(SubscriptionRow::as_select())
            .first(conn)
            .await
            .optional()?;
        if let Some(row) = existing {
            if row.user_id == user_id {
                diesel::update(push_subscriptions::table.find(row.id))
                    .set((
                        push_subscriptions::p256dh.eq(&subscription.p256dh),
                        push_subscriptions::auth.eq(&subscription.auth),
                    ))
                    .execute(conn)
                    .await?;
                return Ok(Written::new(Outcome::Done, row.into_domain(), Vec::new()));
            }
            diesel::delete(push_subscriptions::table.find(row.id))
                .execute(conn)
                .await?;
        }
        let inserted: Option<SubscriptionRow> = diesel::insert_into(push_subscriptions::table)
            .values((
                push_subscriptions::user_id.eq(user_id),
                push_subscriptions::endpoint.eq(&subscription.endpoint),
                push_subscriptions::p256dh.eq(&subscription.p256dh),
                push_subscriptions::auth.eq(&subscription.auth),
                push_subscriptions::created_at.eq(Timestamp::now().millis()),
            ))
            .on_conflict(push_subscriptions::endpoint)
            .do_nothing()
            .returning(SubscriptionRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        if let Some(row) = inserted {
            return Ok(Written::new(
                Outcome::Created,
                row.into_domain(),
                Vec::new(),
            ));
        }
    }
    Err(AppError::internal(
        "a push endpoint was taken and given back while it was subscribed",
    ))
}

/// The caller's subscriptions, oldest first.
pub async fn list(conn: &mut Conn, user_id: UserId) -> AppResult<Vec<PushSubscription>> {
    Ok(push_subscriptions::table
        .filter(push_subscriptions::user_id.eq(user_id))
        .order(push_subscriptions::id)
        .select(SubscriptionRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(SubscriptionRow::into_domain)
        .collect())
}

/// Deletes one of the caller's subscriptions; someone else's, or none, is `404`.
pub async fn unsubscribe(conn: &mut Conn, user_id: UserId, id: SubscriptionId) -> AppResult<()> {
    let deleted = diesel::delete(
        push_subscriptions::table
            .filter(push_subscriptions::id.eq(id))
            .filter(push_subscriptions::user_id.eq(user_id)),
    )
    .execute(conn)
    .await?;
    if deleted == 0 {
        return Err(AppError::NotFound("subscription"));
    }
    Ok(())
}

/// Forgets every subscription of an account (deactivated: nothing may reach it any more).
pub async fn forget_user(conn: &mut Conn, user_id: UserId) -> AppResult<()> {
    diesel::delete(push_subscriptions::table.filter(push_subscriptions::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Claims up to `limit` due notifications for this node (held for `lease_ms`) and reads what
/// each delivery needs: the device, the recipient's membership and level as they are now, the
/// chat (its kind, title and last seq, read before its messages), and the newest message owed.
pub async fn claim_due(
    conn: &mut Conn,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> AppResult<Vec<DuePush>> {
    let claimed: Vec<ClaimedRow> = conn.claim_due(now, lease_ms, limit).await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let subscription_ids: Vec<SubscriptionId> = claimed.iter().map(|r| r.subscription_id).collect();
    let devices: HashMap<SubscriptionId, (UserId, String, String, String)> =
        push_subscriptions::table
            .filter(push_subscriptions::id.eq_any(&subscription_ids))
            .select((
                push_subscriptions::id,
                push_subscriptions::user_id,
                push_subscriptions::endpoint,
                push_subscriptions::p256dh,
                push_subscriptions::auth,
            ))
            .load::<(SubscriptionId, UserId, String, String, String)>(conn)
            .await?
            .into_iter()
            .map(|(id, user, endpoint, p256dh, auth)| (id, (user, endpoint, p256dh, auth)))
            .collect();
    // The chats first: every message up to their last seq is then visible to the reads below.
    let chat_ids: Vec<ChatId> = claimed.iter().map(|r| r.chat_id).collect();
    let chat_rows: HashMap<ChatId, (String, Option<String>, Seq)> = chats::table
        .filter(chats::id.eq_any(&chat_ids))
        .select((chats::id, chats::kind, chats::title, chats::last_seq))
        .load::<(ChatId, String, Option<String>, Seq)>(conn)
        .await?
        .into_iter()
        .map(|(id, kind, title, last)| (id, (kind, title, last)))
        .collect();
    let recipients: Vec<UserId> = devices.values().map(|d| d.0).collect();
    let levels: HashMap<(ChatId, UserId), (String, Option<i64>)> = chat_members::table
        .filter(chat_members::chat_id.eq_any(&chat_ids))
        .filter(chat_members::user_id.eq_any(&recipients))
        .select((
            chat_members::chat_id,
            chat_members::user_id,
            chat_members::notify_level,
            chat_members::muted_until,
        ))
        .load::<(ChatId, UserId, String, Option<i64>)>(conn)
        .await?
        .into_iter()
        .map(|(chat, user, level, muted)| ((chat, user), (level, muted)))
        .collect();
    let mut due = Vec::with_capacity(claimed.len());
    // The author of each notification's message, in `due`'s order.
    let mut authors: Vec<Option<UserId>> = Vec::new();
    for row in claimed {
        // A row whose subscription went meanwhile went with it (the cascade): nothing to send.
        let Some((recipient, endpoint, p256dh, auth)) = devices.get(&row.subscription_id).cloned()
        else {
            continue;
        };
        let Some((kind, title, last_seq)) = chat_rows.get(&row.chat_id).cloned() else {
            continue;
        };
        let direct = kind == parley_types::ChatKind::Direct.as_str();
        let member = levels.get(&(row.chat_id, recipient)).map(|(level, muted)| {
            // An unknown level (none is ever written) reads as the default.
            let level = NotificationLevel::parse(level).unwrap_or(NotificationLevel::All);
            (level, *muted)
        });
        let concern = Concern::of(
            member.map_or(NotificationLevel::All, |(level, _)| level),
            direct,
        );
        let owed = newest_owed(conn, row.chat_id, recipient, concern, row.after_seq).await?;
        let mentioned = direct
            || concern == Concern::Mentions
            || mentioned_after(conn, row.chat_id, recipient, row.after_seq).await?;
        authors.push(owed.as_ref().map(|o| o.2));
        // What this notification covers: everything up to the chat's last seq as read above,
        // and the message it sends, which may have committed after that read.
        let covered_seq = owed.as_ref().map_or(last_seq, |o| o.1.max(last_seq));
        let message = owed.map(|(id, seq, _, content, created_at)| {
            OwedMessage {
                id,
                seq,
                created_at,
                direct,
                chat_title: title,
                // Filled in below, with every author's name read at once.
                author_name: String::new(),
                content,
            }
        });
        due.push(DuePush {
            subscription_id: row.subscription_id,
            chat_id: row.chat_id,
            recipient,
            covered_seq,
            concern,
            attempts: row.attempts,
            failing_since: row.failing_since,
            endpoint,
            p256dh,
            auth,
            member,
            message,
            urgent: mentioned,
        });
    }
    let ids: Vec<UserId> = authors.iter().flatten().copied().collect();
    let names: HashMap<UserId, String> = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::display_name))
        .load::<(UserId, String)>(conn)
        .await?
        .into_iter()
        .collect();
    for (push, author) in due.iter_mut().zip(authors) {
        let name = author.and_then(|a| names.get(&a));
        if let (Some(message), Some(name)) = (push.message.as_mut(), name) {
            message.author_name.clone_from(name);
        }
    }
    Ok(due)
}

/// The newest message of the chat after `after_seq` that concerns `user`: `(id, seq, author,
/// content, created_at)`. One index range read, from the chat's newest message down.
async fn newest_owed(
    conn: &mut Conn,
    chat_id: ChatId,
    user: UserId,
    concern: Concern,
    after_seq: Seq,
) -> AppResult<Option<(MessageId, Seq, UserId, String, i64)>> {
    let columns = (
        messages::id,
        messages::seq,
        messages::author_id,
        messages::content,
        messages::created_at,
    );
    Ok(match concern {
        Concern::Everything => messages::table
            .filter(messages::chat_id.eq(chat_id))
            .filter(messages::seq.gt(after_seq))
            .filter(messages::author_id.ne(user))
            .filter(messages::deleted.eq(false))
            .order(messages::seq.desc())
            .select(columns)
            .first(conn)
            .await
            .optional()?,
        Concern::Mentions => {
            // Deleting a message forgets its mentions: a mention row names a live message.
            let mentioned: Option<MessageId> = message_mentions::table
                .filter(message_mentions::user_id.eq(user))
                .filter(message_mentions::chat_id.eq(chat_id))
                .filter(message_mentions::seq.gt(after_seq))
                .order(message_mentions::seq.desc())
                .select(message_mentions::message_id)
                .first(conn)
                .await
                .optional()?;
            match mentioned {
                Some(id) => messages::table
                    .find(id)
                    .filter(messages::deleted.eq(false))
                    .select(columns)
                    .first(conn)
                    .await
                    .optional()?,
                None => None,
            }
        }
    })
}

/// Whether a message of the chat after `after_seq` mentions `user`.
async fn mentioned_after(
    conn: &mut Conn,
    chat_id: ChatId,
    user: UserId,
    after_seq: Seq,
) -> AppResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        message_mentions::table
            .filter(message_mentions::user_id.eq(user))
            .filter(message_mentions::chat_id.eq(chat_id))
            .filter(message_mentions::seq.gt(after_seq)),
    ))
    .get_result(conn)
    .await?)
}

/// Records how a claimed notification ended (`domain::push::Settled`).
pub async fn settle(conn: &mut Conn, settled: Settled, now: i64) -> AppResult<()> {
    match settled {
        Settled::Sent {
            subscription_id,
            chat_id,
            covered_seq,
            next_due_at,
        } => {
            // The row stays through the pause: a send meanwhile finds it and adds none (a row
            // deleted now and added by the next send, due at once, was a second notification
            // right after the first).
            diesel::update(push_outbox::table.find((subscription_id, chat_id)))
                .set((
                    push_outbox::after_seq.eq(covered_seq),
                    push_outbox::queued_at.eq(now),
                    push_outbox::due_at.eq(next_due_at),
                    push_outbox::attempts.eq(0),
                    push_outbox::failing_since.eq(None::<i64>),
                ))
                .execute(conn)
                .await?;
        }
        Settled::Done {
            subscription_id,
            chat_id,
            recipient,
            concern,
            covered_seq,
        } => {
            // The row goes. A send that found it before the delete added none and may not have
            // committed yet: once the chat's sends in flight have ended, what they owe is
            // looked for. (A send after the delete adds its own row.)
            diesel::delete(push_outbox::table.find((subscription_id, chat_id)))
                .execute(conn)
                .await?;
            conn.await_chat_sends(chat_id).await?;
            if newest_owed(conn, chat_id, recipient, concern, covered_seq)
                .await?
                .is_some()
            {
                diesel::insert_into(push_outbox::table)
                    .values((
                        push_outbox::subscription_id.eq(subscription_id),
                        push_outbox::chat_id.eq(chat_id),
                        push_outbox::after_seq.eq(covered_seq),
                        push_outbox::queued_at.eq(now),
                        push_outbox::due_at.eq(now),
                    ))
                    .on_conflict((push_outbox::subscription_id, push_outbox::chat_id))
                    .do_nothing()
                    .execute(conn)
                    .await?;
            }
        }
        Settled::Retry {
            subscription_id,
            chat_id,
            retry_at,
            failing_since,
        } => {
            diesel::update(push_outbox::table.find((subscription_id, chat_id)))
                .set((
                    push_outbox::due_at.eq(retry_at),
                    push_outbox::attempts.eq(push_outbox::attempts + 1),
                    push_outbox::failing_since.eq(failing_since),
                ))
                .execute(conn)
                .await?;
        }
        Settled::Drop {
            subscription_id,
            chat_id,
        } => {
            diesel::delete(push_outbox::table.find((subscription_id, chat_id)))
                .execute(conn)
                .await?;
        }
        Settled::Gone { subscription_id } => {
            // Its outbox rows go with it (ON DELETE CASCADE).
            diesel::delete(push_subscriptions::table.find(subscription_id))
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

/// The server secret named `name`: `candidate` if no node had made it yet, else the one kept.
pub(super) async fn kept_secret(conn: &mut Conn, name: &str, candidate: &str) -> AppResult<String> {
    diesel::insert_into(server_secrets::table)
        .values((
            server_secrets::name.eq(name),
            server_secrets::value.eq(candidate),
            server_secrets::created_at.eq(Timestamp::now().millis()),
        ))
        .on_conflict(server_secrets::name)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(server_secrets::table
        .find(name)
        .select(server_secrets::value)
        .first(conn)
        .await?)
}
