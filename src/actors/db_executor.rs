//! `DbExecutor`: the one owner of the database. Each request is a typed operation (`DbOp`)
//! whose reply is a typed result built completely (messages with their reactions) before it
//! leaves the actor. It knows nothing of rooms or sessions: it stores and loads.
//!
//! Sends come in batches, one per room at a time; the batches that wait while earlier rounds
//! are being stored are merged into one transaction (group commit), so that many quiet chats
//! share a commit as the sends of one busy chat do.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::future::BoxFuture;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::group_commit::store_round;
use super::token_cache::TokenCache;
use crate::db::queries::{BatchedSend, Idempotent};
use crate::db::Database;
use crate::domain::Message as ChatMessage;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::with_backend;

/// What an operation may use.
#[derive(Clone)]
pub struct ExecDeps {
    pub db: Database,
    pub metrics: Arc<Metrics>,
    pub tokens: TokenCache,
}

/// A typed database operation. `run` does all its work, including completing aggregates,
/// before it returns.
pub trait DbOp: Send + 'static {
    type Output: Send + 'static;
    /// Names the operation in traces.
    const NAME: &'static str;
    fn run(self, deps: ExecDeps) -> BoxFuture<'static, AppResult<Self::Output>>;
}

/// An operation on its way to the executor, carrying the caller's span so its trace stays
/// under the request that asked for it.
pub struct Query<O: DbOp> {
    op: O,
    span: tracing::Span,
}

impl<O: DbOp> Query<O> {
    pub fn new(op: O) -> Self {
        Query {
            op,
            span: tracing::Span::current(),
        }
    }
}

impl<O: DbOp> Message for Query<O> {
    type Result = AppResult<O::Output>;
}

/// Sends an operation to the executor and waits for its typed reply.
pub async fn ask<O: DbOp>(db: &Addr<DbExecutor>, op: O) -> AppResult<O::Output> {
    db.send(Query::new(op)).await?
}

/// One room's batch of sends. The answer holds one outcome per send, in order.
pub struct StoreSends {
    pub sends: Vec<BatchedSend>,
    pub span: tracing::Span,
}

pub type SendOutcomes = Vec<AppResult<Idempotent<ChatMessage>>>;

impl Message for StoreSends {
    type Result = AppResult<SendOutcomes>;
}

struct WaitingBatch {
    sends: Vec<BatchedSend>,
    reply: oneshot::Sender<AppResult<SendOutcomes>>,
    queued_at: Instant,
}

pub struct DbExecutor {
    deps: ExecDeps,
    waiting: VecDeque<WaitingBatch>,
    rounds_in_flight: usize,
    /// Rounds stored at the same time. Each room has at most one batch in flight, so two rounds
    /// never touch the same chat and never wait for each other's locks.
    max_rounds: usize,
    /// Most sends merged into one round.
    max_round_sends: usize,
}

impl DbExecutor {
    pub fn new(db: Database, metrics: Arc<Metrics>, send_batch: usize, tokens: TokenCache) -> Self {
        let max_rounds = db.send_rounds();
        DbExecutor {
            deps: ExecDeps {
                db,
                metrics,
                tokens,
            },
            waiting: VecDeque::new(),
            rounds_in_flight: 0,
            max_rounds,
            max_round_sends: send_batch.max(1),
        }
    }

    /// Starts rounds while there are batches waiting and room for another round.
    fn start_rounds(&mut self, ctx: &mut Context<Self>) {
        while self.rounds_in_flight < self.max_rounds && !self.waiting.is_empty() {
            let mut batches = Vec::new();
            let mut size = 0;
            while let Some(next) = self.waiting.front() {
                if !batches.is_empty() && size + next.sends.len() > self.max_round_sends {
                    break;
                }
                size += next.sends.len();
                batches.extend(self.waiting.pop_front());
            }
            self.rounds_in_flight += 1;
            let metrics = self.deps.metrics.clone();
            let mut sends = Vec::with_capacity(size);
            let mut replies = Vec::with_capacity(batches.len());
            for batch in batches {
                metrics
                    .send_phase
                    .with_label_values(&["queued"])
                    .observe(batch.queued_at.elapsed().as_secs_f64());
                replies.push((batch.sends.len(), batch.reply));
                sends.extend(batch.sends);
            }
            let db = self.deps.db.clone();
            let span = tracing::info_span!(
                "db",
                op = "store_sends",
                round.sends = size,
                round.batches = replies.len()
            );
            let round = async move { store_round(&db, &metrics, sends).await }.instrument(span);
            ctx.spawn(round.into_actor(self).map(move |result, this, ctx| {
                this.rounds_in_flight -= 1;
                answer_batches(result, replies);
                this.start_rounds(ctx);
            }));
        }
    }
}

/// Hands each room its batch's outcomes, in the order its sends were merged.
fn answer_batches(
    result: AppResult<SendOutcomes>,
    replies: Vec<(usize, oneshot::Sender<AppResult<SendOutcomes>>)>,
) {
    match result {
        Ok(outcomes) => {
            let mut outcomes = outcomes.into_iter();
            for (count, reply) in replies {
                let _ = reply.send(Ok(outcomes.by_ref().take(count).collect()));
            }
        }
        Err(error) => {
            for (_, reply) in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

impl Actor for DbExecutor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(DB_MAILBOX);
        self.schedule_maintenance(ctx);
    }
}

/// The executor hands each request to a spawned future at once, so its mailbox only absorbs
/// bursts; `send` waits when it is full.
const DB_MAILBOX: usize = 1024;

impl<O: DbOp> Handler<Query<O>> for DbExecutor {
    type Result = ResponseFuture<AppResult<O::Output>>;

    fn handle(&mut self, query: Query<O>, _: &mut Context<Self>) -> Self::Result {
        let span = tracing::info_span!(parent: &query.span, "db", op = O::NAME);
        let work = query.op.run(self.deps.clone());
        let in_flight = self.deps.metrics.db_mailbox_backlog.clone();
        in_flight.inc();
        Box::pin(
            async move {
                // Errors are logged by whoever answers for them (the HTTP edge, a room), once.
                let result = work.await;
                in_flight.dec();
                result
            }
            .instrument(span),
        )
    }
}

impl Handler<StoreSends> for DbExecutor {
    type Result = ResponseFuture<AppResult<SendOutcomes>>;

    fn handle(&mut self, batch: StoreSends, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        self.waiting.push_back(WaitingBatch {
            sends: batch.sends,
            reply,
            queued_at: Instant::now(),
        });
        self.start_rounds(ctx);
        Box::pin(
            async move {
                answer
                    .await
                    .map_err(|_| AppError::internal("a send round was dropped"))?
            }
            .instrument(batch.span),
        )
    }
}

/// How often expired idempotency keys are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(15 * 60);

impl DbExecutor {
    fn schedule_maintenance(&self, ctx: &mut Context<Self>) {
        ctx.run_interval(PURGE_INTERVAL, |this, ctx| {
            let db = this.deps.db.clone();
            ctx.spawn(actix::fut::wrap_future(async move {
                match purge_expired_keys(&db).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired idempotency keys removed"),
                    Err(e) => tracing::warn!(error = %e.chain(), "idempotency key purge failed"),
                }
            }));
        });
    }
}

pub async fn purge_expired_keys(db: &Database) -> AppResult<usize> {
    let mut conn = db.conn().await?;
    let now = crate::domain::Timestamp::now();
    with_backend!(&mut conn, q, c => q::idempotency::purge_expired(c, now).await)
}
