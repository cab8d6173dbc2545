//! Claiming outgoing webhooks that have events to deliver, as push notifications are claimed
//! (`push_claims`): on PostgreSQL `FOR UPDATE SKIP LOCKED` gives each subscription to one node,
//! and the claim moves `due_at` past a lease, so a node that dies holding one leaves it to be
//! claimed again when the lease ends. A subscription has events to deliver when its chat's
//! `last_seq` (committed with the events, in their transaction) is past its `delivered_seq`.

use std::future::Future;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use super::fixed_text::FixedText;
use crate::db::rows::SubscriptionRow;
use crate::db::schema::{chats, webhook_subscriptions};
use crate::db::{PgConn, SqliteConn};

pub trait WebhookClaims {
    /// Up to `limit` enabled subscriptions that are due at `now` and behind their chat,
    /// oldest due first, each held until `now + lease_ms`.
    fn claim_behind(
        &mut self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> impl Future<Output = QueryResult<Vec<SubscriptionRow>>> + Send;
}

const CLAIM: &str = "\
UPDATE webhook_subscriptions s SET due_at = $1 + $2 \
FROM (SELECT w.id FROM webhook_subscriptions w JOIN chats c ON c.id = w.chat_id \
      WHERE w.disabled_at IS NULL AND w.due_at <= $1 AND c.last_seq > w.delivered_seq \
      ORDER BY w.due_at LIMIT $3 FOR UPDATE OF w SKIP LOCKED) d \
WHERE s.id = d.id \
RETURNING s.id, s.chat_id, s.url, s.events, s.secret, s.created_at, s.delivered_seq, \
          s.due_at, s.attempts, s.failing_since, s.disabled_at";

impl WebhookClaims for PgConn {
    async fn claim_behind(
        &mut self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> QueryResult<Vec<SubscriptionRow>> {
        FixedText(
            diesel::sql_query(CLAIM)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(lease_ms)
                .bind::<BigInt, _>(limit),
        )
        .load(self)
        .await
    }
}

impl WebhookClaims for SqliteConn {
    async fn claim_behind(
        &mut self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> QueryResult<Vec<SubscriptionRow>> {
        // The pool's one connection: nothing else writes between the read and the update.
        let due: Vec<SubscriptionRow> = webhook_subscriptions::table
            .inner_join(chats::table)
            .filter(webhook_subscriptions::disabled_at.is_null())
            .filter(webhook_subscriptions::due_at.le(now))
            .filter(chats::last_seq.gt(webhook_subscriptions::delivered_seq))
            .order(webhook_subscriptions::due_at)
            .limit(limit)
            .select(SubscriptionRow::as_select())
            .load(self)
            .await?;
        let lease = now + lease_ms;
        for row in &due {
            diesel::update(webhook_subscriptions::table.find(row.id))
                .set(webhook_subscriptions::due_at.eq(lease))
                .execute(self)
                .await?;
        }
        Ok(due
            .into_iter()
            .map(|row| SubscriptionRow {
                due_at: lease,
                ..row
            })
            .collect())
    }
}
