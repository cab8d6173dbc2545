//! `PushDelivery`: one per node. It claims due notifications from the outbox (the sends wrote
//! them in their own transactions), sends each to its push service, and records how each
//! ended. On PostgreSQL every node claims from the same outbox and each row goes to one of
//! them; a node that dies holding rows leaves them to the others when the lease ends.
//!
//! A claim runs every second, and when a room says a batch may have queued some (at once, or
//! `NUDGE_GAP` after the last claim, whichever is later). At
//! most `PER_SERVICE` requests are in flight to one push service, so a slow one holds up only
//! its own notifications, and never a send: sends only write rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::db_executor::{ask, DbExecutor};
use super::db_ops::{ClaimPushes, SettlePush};
use super::presence::PresenceBoard;
use super::service_lanes::ServiceLanes;
use crate::domain::delivery::retry_delay_ms;
use crate::domain::push::{next_due, DuePush, NotOwed, Settled};
use crate::domain::Timestamp;
use crate::metrics::Metrics;
use crate::web_push::{Answer, WebPushSender};

/// Rows claimed at once.
const CLAIM_BATCH: usize = 64;
/// Deliveries started and not finished, at most (claims wait below it).
const MAX_IN_FLIGHT: usize = 512;
/// Requests in flight to one push service (one origin), at most.
const PER_SERVICE: usize = 8;
/// How long a claim holds its rows: a node that dies holding some leaves them to be claimed
/// again (by any node) this long after it claimed them.
const LEASE: Duration = Duration::from_secs(120);
/// A delivery that waited this long for its push service's turn is abandoned, not sent: its
/// lease might end while the request is out (10 s at most), and another node could then
/// claim and send it too. It goes out after the lease, from whichever node claims it.
const SEND_WITHIN: Duration = Duration::from_secs(90);
/// Between two claims when nobody says a batch queued some.
const CLAIM_EVERY: Duration = Duration::from_secs(1);
/// The least time between two claims that rooms asked for. A hot chat with offline members
/// commits a batch every few milliseconds and each says it may have queued something; a claim
/// for each kept a database connection claiming back to back, which cost the chat's sends
/// their p99 (measured: 31 ms against 21 with delivery off). A device is owed at most one
/// notification per chat every few seconds anyway; this adds at most this much to one's way.
const NUDGE_GAP: Duration = Duration::from_millis(100);

/// A batch that had offline members committed: there may be notifications to send.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct PushQueued;

pub struct PushDelivery {
    db: Addr<DbExecutor>,
    board: PresenceBoard,
    metrics: Arc<Metrics>,
    sender: Arc<WebPushSender>,
    /// Whether payloads carry the chat's title and a preview (`PARLEY_PUSH_PREVIEW`).
    preview: bool,
    claiming: bool,
    /// Told to claim while a claim was running: claim again when it ends.
    nudged: bool,
    /// When the last claim started, and the claim waiting for `NUDGE_GAP` to pass since.
    last_claim: Option<Instant>,
    nudge_later: Option<SpawnHandle>,
    in_flight: usize,
    services: ServiceLanes,
}

impl PushDelivery {
    pub fn new(
        db: Addr<DbExecutor>,
        board: PresenceBoard,
        metrics: Arc<Metrics>,
        sender: WebPushSender,
        preview: bool,
    ) -> Self {
        PushDelivery {
            db,
            board,
            metrics,
            sender: Arc::new(sender),
            preview,
            claiming: false,
            nudged: false,
            last_claim: None,
            nudge_later: None,
            in_flight: 0,
            services: ServiceLanes::new(PER_SERVICE),
        }
    }

    fn claim(&mut self, ctx: &mut Context<Self>) {
        if self.claiming {
            self.nudged = true;
            return;
        }
        let room = MAX_IN_FLIGHT
            .saturating_sub(self.in_flight)
            .min(CLAIM_BATCH);
        if room == 0 {
            return;
        }
        self.claiming = true;
        self.nudged = false;
        self.last_claim = Some(Instant::now());
        let claim = ClaimPushes {
            now: Timestamp::now().millis(),
            lease_ms: i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX),
            limit: i64::try_from(room).unwrap_or(1),
        };
        let db = self.db.clone();
        ctx.spawn(async move { ask(&db, claim).await }.into_actor(self).map(
            move |result, this, ctx| {
                this.claiming = false;
                match result {
                    Ok(due) => {
                        let full = due.len() == room;
                        let claimed = Instant::now();
                        for push in due {
                            this.deliver(push, claimed, ctx);
                        }
                        if full {
                            this.claim(ctx);
                        } else if this.nudged {
                            this.nudged = false;
                            this.nudge(ctx);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.chain(), "claiming push notifications failed");
                    }
                }
            },
        ));
    }

    /// A room's word that a batch may have queued notifications: a claim now, or when
    /// `NUDGE_GAP` has passed since the last one (however many words came meanwhile).
    fn nudge(&mut self, ctx: &mut Context<Self>) {
        if self.claiming {
            self.nudged = true;
            return;
        }
        if self.nudge_later.is_some() {
            return;
        }
        let since = self.last_claim.map_or(NUDGE_GAP, |at| at.elapsed());
        if since >= NUDGE_GAP {
            self.claim(ctx);
            return;
        }
        self.nudge_later = Some(ctx.run_later(NUDGE_GAP - since, |this, ctx| {
            this.nudge_later = None;
            this.claim(ctx);
        }));
    }

    fn deliver(&mut self, push: DuePush, claimed: Instant, ctx: &mut Context<Self>) {
        self.metrics.push_queued.inc();
        let now = Timestamp::now().millis();
        let payload = match push.still_owed(now, self.board.is_online(push.recipient)) {
            Ok(message) => message.payload(push.chat_id, self.preview),
            // Nothing new since the last notification (a pause that ended quietly, or a message
            // deleted): the row goes, and what a send in flight owes is looked for.
            Err(NotOwed::Nothing) => {
                self.settle(push.done(), ctx);
                return;
            }
            // Online now, silenced, or no longer a member: the row goes, owing nothing. (Kept,
            // it would come back due again and again while the chat is busy; later sends
            // decide afresh whether the person is owed one.)
            Err(reason) => {
                self.metrics
                    .push_dropped
                    .with_label_values(&["not_owed"])
                    .inc();
                tracing::debug!(user.id = %push.recipient, chat.id = %push.chat_id, ?reason, "push no longer owed");
                self.settle(
                    Settled::Drop {
                        subscription_id: push.subscription_id,
                        chat_id: push.chat_id,
                    },
                    ctx,
                );
                return;
            }
        };
        if push.expired(now) {
            self.metrics
                .push_dropped
                .with_label_values(&["expired"])
                .inc();
            self.settle(
                Settled::Drop {
                    subscription_id: push.subscription_id,
                    chat_id: push.chat_id,
                },
                ctx,
            );
            return;
        }
        let Some(service) = self.services.lane(&push.endpoint) else {
            self.metrics
                .push_dropped
                .with_label_values(&["rejected"])
                .inc();
            self.settle(
                Settled::Gone {
                    subscription_id: push.subscription_id,
                },
                ctx,
            );
            return;
        };
        let (sender, db, metrics) = (self.sender.clone(), self.db.clone(), self.metrics.clone());
        self.in_flight += 1;
        metrics.push_in_flight.inc();
        let span = tracing::info_span!(
            "push",
            chat.id = %push.chat_id,
            user.id = %push.recipient,
            subscription.id = %push.subscription_id
        );
        let delivery = async move {
            // Closed never: the semaphore lives as long as the map that holds it.
            let _turn = service.acquire_owned().await;
            if claimed.elapsed() > SEND_WITHIN {
                metrics
                    .push_failed
                    .with_label_values(&["lease_ended"])
                    .inc();
                return;
            }
            let answer = sender.send(&push, &payload).await;
            let now = Timestamp::now().millis();
            record(&db, outcome(&push, answer, now, &metrics), now).await;
        };
        ctx.spawn(
            tracing::Instrument::instrument(delivery, span)
                .into_actor(self)
                .map(|(), this, ctx| {
                    this.in_flight -= 1;
                    this.metrics.push_in_flight.dec();
                    // Room for more: rows may be waiting that the last claim left.
                    if this.in_flight + CLAIM_BATCH == MAX_IN_FLIGHT {
                        this.claim(ctx);
                    }
                }),
        );
    }

    fn settle(&mut self, settled: Settled, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        let now = Timestamp::now().millis();
        ctx.spawn(actix::fut::wrap_future(async move {
            record(&db, settled, now).await;
        }));
    }
}

/// Records how a claimed notification ended. If that fails before anything was written, the
/// row stays claimed until its lease ends and is then tried again; a `Done` that fails after
/// its delete leaves no row (what a send in flight owed is then not looked for).
async fn record(db: &Addr<DbExecutor>, settled: Settled, now: i64) {
    if let Err(e) = ask(db, SettlePush { settled, now }).await {
        tracing::warn!(error = %e.chain(), "recording a push outcome failed");
    }
}

/// What a push service's answer means for the row, counted.
fn outcome(push: &DuePush, answer: Answer, now: i64, metrics: &Metrics) -> Settled {
    let (subscription_id, chat_id) = (push.subscription_id, push.chat_id);
    match answer {
        Answer::Accepted => {
            metrics.push_sent.inc();
            if let Some(message) = &push.message {
                metrics
                    .push_delivery
                    .observe(((now - message.created_at).max(0) as f64) / 1000.0);
            }
            push.sent(next_due(now, rand::random::<f64>()))
        }
        Answer::Gone => {
            metrics.push_dropped.with_label_values(&["gone"]).inc();
            Settled::Gone { subscription_id }
        }
        Answer::Refused(why) => {
            metrics.push_dropped.with_label_values(&["rejected"]).inc();
            tracing::warn!(why, "a push service refused a notification");
            Settled::Drop {
                subscription_id,
                chat_id,
            }
        }
        Answer::Later {
            throttled,
            retry_after_ms,
        } => {
            let reason = if throttled {
                "throttled"
            } else {
                "unavailable"
            };
            metrics.push_failed.with_label_values(&[reason]).inc();
            retry(push, retry_after_ms, now)
        }
        Answer::Unreachable(why) => {
            metrics
                .push_failed
                .with_label_values(&["unreachable"])
                .inc();
            tracing::info!(why, "a push service did not answer");
            retry(push, None, now)
        }
    }
}

fn retry(push: &DuePush, retry_after_ms: Option<i64>, now: i64) -> Settled {
    let delay = retry_delay_ms(push.attempts, retry_after_ms, rand::random::<f64>());
    Settled::Retry {
        subscription_id: push.subscription_id,
        chat_id: push.chat_id,
        retry_at: now.saturating_add(delay),
        failing_since: push.failing_since.unwrap_or(now),
    }
}

impl Actor for PushDelivery {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(CLAIM_EVERY, |this, ctx| this.claim(ctx));
        // What a previous run (of this node or another) left owed goes out now.
        self.claim(ctx);
    }
}

impl Handler<PushQueued> for PushDelivery {
    type Result = ();

    fn handle(&mut self, _: PushQueued, ctx: &mut Context<Self>) {
        self.nudge(ctx);
    }
}
