//! `WebhookDelivery`: one per node. It claims outgoing webhooks whose chat has events they
//! have not had (the chat's event log is their outbox: each event was written in its own
//! transaction), and delivers each subscription's events one at a time, in seq order, signed
//! as Standard Webhooks asks. An event is retried, with the same `webhook-id`, until its
//! receiver answers 2xx; the next is not sent before. On PostgreSQL every node claims from the
//! same table and each subscription goes to one of them at a time (see `webhook_claims`).
//!
//! The machinery is the push delivery's: claims every second under a lease, at most
//! `PER_SERVICE` requests in flight to one receiver's origin, the same backoff (5 s doubling
//! to an hour, ±20 %, never before `Retry-After`), and a day of failure to give up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::db_executor::{ask, DbExecutor};
use super::db_ops::{ClaimWebhooks, LoadEvents, SettleWebhook};
use super::service_lanes::ServiceLanes;
use crate::db::rows::{DeliveryRow, SubscriptionRow};
use crate::domain::delivery::backoff_ms;
use crate::domain::webhooks::{self, Attempted, NextStep, DISABLE_AFTER_MS};
use crate::domain::{ChatEvent, EventPayload, Timestamp};
use crate::metrics::Metrics;
use crate::outbound::{Answered, OutboundClient};

/// Subscriptions claimed at once, and delivered to at once, at most.
const MAX_IN_FLIGHT: usize = 64;
/// Requests in flight to one receiver (one origin), at most.
const PER_SERVICE: usize = 8;
/// How long a claim holds a subscription: a node killed while delivering leaves it to be
/// claimed again (by any node) this long after its claim.
const LEASE: Duration = Duration::from_secs(30);
/// A claim starts no request this long after it was made, leaving the lease's rest for the
/// last one (10 s at most) and its record; the subscription is then released and claimed
/// again at once.
const SEND_WITHIN: Duration = Duration::from_secs(15);
/// Events read from the log at a time (a claim reads on while there are more, until
/// `SEND_WITHIN`).
const EVENTS_PER_READ: i64 = 100;
/// Deliveries recorded (the cursor moved, the attempts logged) together, at most this many or
/// this long after the last record: a node killed in between sends them again (at least once,
/// with the same ids), and a busy subscription does not pay a transaction per event.
const RECORD_EVERY: usize = 64;
const RECORD_WITHIN: Duration = Duration::from_millis(250);
/// Between two claims.
const CLAIM_EVERY: Duration = Duration::from_secs(1);

pub struct WebhookDelivery {
    db: Addr<DbExecutor>,
    metrics: Arc<Metrics>,
    client: OutboundClient,
    claiming: bool,
    in_flight: usize,
    services: ServiceLanes,
    /// The wait after a first failure (`PARLEY_WEBHOOK_FIRST_RETRY_MS`).
    first_retry_ms: i64,
}

impl WebhookDelivery {
    pub fn new(
        db: Addr<DbExecutor>,
        metrics: Arc<Metrics>,
        client: OutboundClient,
        first_retry: Duration,
    ) -> Self {
        WebhookDelivery {
            db,
            metrics,
            client,
            first_retry_ms: i64::try_from(first_retry.as_millis()).unwrap_or(i64::MAX),
            claiming: false,
            in_flight: 0,
            services: ServiceLanes::new(PER_SERVICE),
        }
    }

    fn claim(&mut self, ctx: &mut Context<Self>) {
        let room = MAX_IN_FLIGHT.saturating_sub(self.in_flight);
        if self.claiming || room == 0 {
            return;
        }
        self.claiming = true;
        let claim = ClaimWebhooks {
            now: Timestamp::now().millis(),
            lease_ms: i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX),
            limit: i64::try_from(room).unwrap_or(1),
        };
        let db = self.db.clone();
        // The lease runs from before the claim is asked (it may wait in the executor's queue).
        let at = Instant::now();
        ctx.spawn(async move { ask(&db, claim).await }.into_actor(self).map(
            move |result, this, ctx| {
                this.claiming = false;
                match result {
                    Ok(claimed) => {
                        for subscription in claimed {
                            this.deliver(subscription, at, ctx);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.chain(), "claiming outgoing webhooks failed");
                    }
                }
            },
        ));
    }

    fn deliver(
        &mut self,
        subscription: SubscriptionRow,
        claimed: Instant,
        ctx: &mut Context<Self>,
    ) {
        let Some(lane) = self.services.lane(&subscription.url) else {
            tracing::warn!(subscription.id = %subscription.id, "an outgoing webhook's URL has no origin");
            return;
        };
        self.in_flight += 1;
        self.metrics.webhook_in_flight.inc();
        let span = tracing::info_span!(
            "webhook",
            subscription.id = %subscription.id,
            chat.id = %subscription.chat_id
        );
        let run = Run {
            db: self.db.clone(),
            metrics: self.metrics.clone(),
            client: self.client.clone(),
            claimed,
            first_retry_ms: self.first_retry_ms,
        };
        let delivery = async move {
            // Closed never: the semaphore lives as long as the lanes that hold it.
            let _turn = lane.acquire_owned().await;
            if let Err(e) = run.subscription(subscription).await {
                // Left claimed: claimed again when the lease ends.
                tracing::warn!(error = %e.chain(), "delivering an outgoing webhook failed");
            }
        };
        ctx.spawn(
            tracing::Instrument::instrument(delivery, span)
                .into_actor(self)
                .map(|(), this, _| {
                    this.in_flight -= 1;
                    this.metrics.webhook_in_flight.dec();
                }),
        );
    }
}

/// One claimed subscription's delivery.
struct Run {
    db: Addr<DbExecutor>,
    metrics: Arc<Metrics>,
    client: OutboundClient,
    claimed: Instant,
    first_retry_ms: i64,
}

impl Run {
    /// Delivers the subscription's events after its cursor, in order, until one fails, the
    /// claim is old, or they are all done; records each step.
    async fn subscription(&self, mut sub: SubscriptionRow) -> crate::error::AppResult<()> {
        let wanted = sub.event_types();
        // `sub` follows what is recorded: its cursor, and the failures of the next event.
        // `done` is how far delivery has come, `unrecorded` the attempts not yet written.
        let mut done = sub.delivered_seq;
        let mut unrecorded: Vec<DeliveryRow> = Vec::new();
        let mut recorded_at = Instant::now();
        'claim: loop {
            let events = ask(
                &self.db,
                LoadEvents {
                    chat_id: sub.chat_id,
                    after_seq: done,
                    limit: EVENTS_PER_READ,
                },
            )
            .await?;
            let more = i64::try_from(events.len()).unwrap_or(0) == EVENTS_PER_READ;
            for event in &events {
                if self.claimed.elapsed() > SEND_WITHIN {
                    break 'claim;
                }
                if !wanted.iter().any(|w| w == event_type(event)) {
                    done = event.seq;
                    continue;
                }
                match self.attempt(&sub, event).await {
                    Step::Delivered(logged) => {
                        done = event.seq;
                        unrecorded.push(logged);
                        sub.attempts = 0;
                        sub.failing_since = None;
                        if unrecorded.len() >= RECORD_EVERY || recorded_at.elapsed() > RECORD_WITHIN
                        {
                            self.settle(&sub, std::mem::take(&mut unrecorded), keep_going(done))
                                .await?;
                            sub.delivered_seq = done;
                            recorded_at = Instant::now();
                        }
                    }
                    Step::Failed(logged, retry_after_ms) => {
                        // What was delivered or skipped before it is done; it is next.
                        if done > sub.delivered_seq {
                            self.settle(&sub, std::mem::take(&mut unrecorded), keep_going(done))
                                .await?;
                            sub.delivered_seq = done;
                        }
                        let next = self.after_failure(&sub, retry_after_ms);
                        let disabled = matches!(next, NextStep::Disable { .. });
                        self.settle(&sub, vec![logged], next).await?;
                        if disabled {
                            self.metrics.webhook_disabled.inc();
                            tracing::warn!(subscription.id = %sub.id, "an outgoing webhook failed for a day and is disabled");
                        }
                        return Ok(());
                    }
                }
            }
            if !more {
                break;
            }
        }
        // Released: claimed again at once if its chat has gone further meanwhile.
        let release = NextStep::Advance {
            seq: done,
            release_at: Some(Timestamp::now().millis()),
        };
        self.settle(&sub, unrecorded, release).await
    }

    /// Retried later, or, after a day of failure, disabled.
    fn after_failure(&self, sub: &SubscriptionRow, retry_after_ms: Option<i64>) -> NextStep {
        let now = Timestamp::now().millis();
        let failing_since = sub.failing_since.unwrap_or(now);
        if now - failing_since >= DISABLE_AFTER_MS {
            return NextStep::Disable { at: now };
        }
        NextStep::Retry {
            retry_at: now.saturating_add(backoff_ms(
                self.first_retry_ms,
                sub.attempts,
                retry_after_ms,
                rand::random(),
            )),
            attempts: sub.attempts.saturating_add(1),
            failing_since,
        }
    }

    async fn attempt(&self, sub: &SubscriptionRow, event: &ChatEvent) -> Step {
        let webhook_id = webhooks::webhook_id(event.chat_id, event.seq);
        let attempt = sub.attempts.saturating_add(1);
        let log = |status: Option<u16>, error: Option<String>| DeliveryRow {
            subscription_id: sub.id,
            webhook_id: webhook_id.clone(),
            seq: event.seq,
            status: status.map(i32::from),
            attempt,
            at: Timestamp::now().millis(),
            error,
        };
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(e) => return Step::Failed(log(None, Some(format!("serialising: {e}"))), None),
        };
        let timestamp = Timestamp::now().millis() / 1000;
        let Some(signature) = webhooks::signature(&sub.secret, &webhook_id, timestamp, &body)
        else {
            return Step::Failed(
                log(None, Some("the signing secret is unusable".into())),
                None,
            );
        };
        let headers = [
            ("webhook-id", webhook_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        match self.client.post_json(&sub.url, &headers, body).await {
            Answered::Status(status, _) if (200..300).contains(&status) => {
                self.count("delivered");
                if let EventPayload::MessageCreated(message) = &event.payload {
                    let waited = Timestamp::now().millis() - message.created_at.millis();
                    self.metrics
                        .webhook_delivery
                        .observe((waited.max(0) as f64) / 1000.0);
                }
                Step::Delivered(log(Some(status), None))
            }
            Answered::Status(status, retry_after) => {
                self.count("failed");
                let reason = http::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("unexpected status");
                Step::Failed(log(Some(status), Some(reason.to_owned())), retry_after)
            }
            Answered::Nothing(why) => {
                self.count("unreachable");
                tracing::info!(why, "an outgoing webhook's receiver did not answer");
                Step::Failed(log(None, Some(webhooks::short_error(&why))), None)
            }
        }
    }

    fn count(&self, outcome: &str) {
        self.metrics
            .webhook_attempts
            .with_label_values(&[outcome])
            .inc();
    }

    /// Records a step; an error when the claim no longer holds the subscription (its lease
    /// ended and another claim took it): this delivery stops, the other goes on.
    async fn settle(
        &self,
        sub: &SubscriptionRow,
        logged: Vec<DeliveryRow>,
        next: NextStep,
    ) -> crate::error::AppResult<()> {
        let held = ask(
            &self.db,
            SettleWebhook {
                attempted: Attempted {
                    subscription_id: sub.id,
                    lease: sub.due_at,
                    logged,
                    next,
                },
            },
        )
        .await?;
        if held {
            Ok(())
        } else {
            Err(crate::error::AppError::internal(
                "the claim's lease ended before the delivery did",
            ))
        }
    }
}

enum Step {
    Delivered(DeliveryRow),
    /// Not delivered; the receiver's `Retry-After`, if it gave one.
    Failed(DeliveryRow, Option<i64>),
}

/// Done up to `seq`, still holding the claim.
fn keep_going(seq: crate::domain::Seq) -> NextStep {
    NextStep::Advance {
        seq,
        release_at: None,
    }
}

fn event_type(event: &ChatEvent) -> &'static str {
    use crate::domain::events::EventKind;
    match &event.payload {
        EventPayload::MessageCreated(_) => EventKind::MessageCreated,
        EventPayload::MessageUpdated(_) => EventKind::MessageUpdated,
        EventPayload::MessageDeleted(_) => EventKind::MessageDeleted,
        EventPayload::ReactionAdded(_) => EventKind::ReactionAdded,
        EventPayload::ReactionRemoved(_) => EventKind::ReactionRemoved,
        EventPayload::MemberJoined(_) => EventKind::MemberJoined,
        EventPayload::MemberLeft(_) => EventKind::MemberLeft,
    }
    .as_str()
}

impl Actor for WebhookDelivery {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(CLAIM_EVERY, |this, ctx| this.claim(ctx));
        self.claim(ctx);
    }
}
