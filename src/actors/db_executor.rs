//! `DbExecutor`: the one owner of the database. Each request is a typed operation (`DbOp`)
//! whose reply is a typed result built completely (messages with their reactions) before it
//! leaves the actor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message, ResponseFuture};
use futures_util::future::BoxFuture;
use tracing::Instrument;

use super::chat_registry::{ChatRegistry, RoomFor};
use super::chat_room::{Deliver, Ephemeral, EphemeralEvent};
use super::send_batcher::SendBatcher;
use super::session_directory::SessionDirectory;
use super::token_cache::TokenCache;
use crate::db::Database;
use crate::domain::ChatEvent;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::with_backend;

pub struct DbExecutor {
    deps: ExecDeps,
}

/// What an operation may use: the database, the way to its chats' rooms, the open sessions
/// (to close a revoked token's), and the metrics.
#[derive(Clone)]
pub struct ExecDeps {
    pub db: Database,
    pub registry: Addr<ChatRegistry>,
    pub directory: SessionDirectory,
    pub metrics: Arc<Metrics>,
    /// Group commit for sends; `None` stores each send in a transaction of its own.
    pub send_batcher: Option<SendBatcher>,
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

impl<O: DbOp> Handler<Query<O>> for DbExecutor {
    type Result = ResponseFuture<AppResult<O::Output>>;

    fn handle(&mut self, query: Query<O>, _: &mut Context<Self>) -> Self::Result {
        let span = tracing::info_span!(parent: &query.span, "db", op = O::NAME);
        let work = query.op.run(self.deps.clone());
        let in_flight = self.deps.metrics.db_mailbox_backlog.clone();
        in_flight.inc();
        Box::pin(
            async move {
                let result = work.await;
                in_flight.dec();
                if let Err(AppError::Internal(detail)) = &result {
                    tracing::error!(error = %detail, "database operation failed");
                }
                result
            }
            .instrument(span),
        )
    }
}

/// Sends an operation to the executor and waits for its typed reply.
pub async fn ask<O: DbOp>(db: &Addr<DbExecutor>, op: O) -> AppResult<O::Output> {
    db.send(Query::new(op)).await?
}

impl Actor for DbExecutor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.schedule_maintenance(ctx);
    }
}

/// How often expired idempotency keys are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(15 * 60);

impl DbExecutor {
    pub fn new(
        db: Database,
        registry: Addr<ChatRegistry>,
        directory: SessionDirectory,
        metrics: Arc<Metrics>,
        send_batch: usize,
    ) -> Self {
        DbExecutor {
            deps: ExecDeps {
                db: db.clone(),
                registry,
                directory,
                metrics,
                // SQLite has one connection: a second stream would only wait for it.
                send_batcher: (send_batch > 1)
                    .then(|| SendBatcher::new(send_batch, if db.is_sqlite() { 1 } else { 2 })),
                tokens: TokenCache::default(),
            },
        }
    }

    fn schedule_maintenance(&self, ctx: &mut Context<Self>) {
        ctx.run_interval(PURGE_INTERVAL, |this, ctx| {
            let db = this.deps.db.clone();
            ctx.spawn(actix::fut::wrap_future(async move {
                match purge_expired_keys(&db).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired idempotency keys removed"),
                    Err(e) => tracing::warn!(error = %e, "idempotency key purge failed"),
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

impl ExecDeps {
    /// Hands committed events to their chats' rooms. The events are durable already, so a
    /// failure here is logged, not returned: rooms fill gaps from the event log, and clients
    /// resume from it.
    pub async fn publish(&self, events: Vec<ChatEvent>) {
        let mut by_chat: BTreeMap<i64, Vec<ChatEvent>> = BTreeMap::new();
        for event in events {
            by_chat.entry(event.chat_id).or_default().push(event);
        }
        for (chat_id, events) in by_chat {
            if let Err(e) = self.deliver(chat_id, Deliver { events }).await {
                tracing::warn!(chat.id = chat_id, error = %e, "could not hand events to the room");
            }
        }
    }

    pub async fn publish_ephemeral(&self, chat_id: i64, event: EphemeralEvent) {
        match self.deliver(chat_id, Ephemeral { event }).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => tracing::debug!(chat.id = chat_id, "ephemeral event from a non-member"),
            Err(e) => {
                tracing::debug!(chat.id = chat_id, error = %e, "ephemeral event not delivered")
            }
        }
    }

    /// Sends `message` to the chat's room, starting the room if need be.
    pub async fn deliver<M>(&self, chat_id: i64, message: M) -> AppResult<M::Result>
    where
        M: Message + Clone + Send + 'static,
        M::Result: Send,
        super::ChatRoom: Handler<M>,
    {
        // A room may stop between being looked up and being sent to; a second lookup then
        // starts a fresh one.
        let mut last_error = None;
        for _ in 0..3 {
            let room = self.registry.send(RoomFor { chat_id }).await?;
            match room.send(message.clone()).await {
                Ok(result) => return Ok(result),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.map_or_else(
            || AppError::Unavailable("room unavailable".into()),
            Into::into,
        ))
    }
}
