//! Web Push: the VAPID key every node shares, and the caller's push subscriptions.

use parley_types::{SubscriptionId, UserId};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::db::queries::{Outcome, Written};
use crate::db::schema::{push_subscriptions, server_secrets};
use crate::domain::push::{CheckedSubscription, VapidKey};
use crate::domain::{PushSubscription, Timestamp};
use crate::error::{AppError, AppResult};

const VAPID: &str = "vapid_private_key";

/// The VAPID key: the one kept, or `configured` (the operator's) kept now, or a new one. Two
/// nodes starting together both insert and both read back the one that won. A configured key
/// that differs from the one kept is refused: the devices subscribed with the kept one.
pub async fn vapid_key(conn: &mut Conn, configured: Option<&VapidKey>) -> AppResult<VapidKey> {
    let candidate = configured.cloned().unwrap_or_else(VapidKey::generate);
    diesel::insert_into(server_secrets::table)
        .values((
            server_secrets::name.eq(VAPID),
            server_secrets::value.eq(candidate.to_base64url()),
            server_secrets::created_at.eq(Timestamp::now().millis()),
        ))
        .on_conflict(server_secrets::name)
        .do_nothing()
        .execute(conn)
        .await?;
    let kept: String = server_secrets::table
        .find(VAPID)
        .select(server_secrets::value)
        .first(conn)
        .await?;
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
