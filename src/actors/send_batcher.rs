//! Group commit for sends. Sends that arrive while a batch is being stored wait and go
//! together in the next one: one transaction, one commit (one fsync) for all of them, and a
//! chat's seqs taken with one statement. Each send still gets its own answer and its own
//! idempotency record.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::db_executor::ExecDeps;
use crate::db::queries::{BatchOutcome, BatchedSend, Idempotent, BATCH_RACE};
use crate::domain::Message;
use crate::error::{AppError, AppResult};
use crate::with_backend;

/// How often a batch that lost a key race is tried again before its sends are told 409.
const RACE_RETRIES: usize = 3;

struct Waiting {
    send: BatchedSend,
    reply: oneshot::Sender<AppResult<Idempotent<Message>>>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    storing: bool,
}

/// Sends are split into `streams` queues by chat, each storing one batch at a time: batches of
/// different streams touch different chats, so they commit in parallel without contending
/// for a chat's lock.
#[derive(Clone)]
pub struct SendBatcher {
    queues: Arc<Vec<Mutex<Queue>>>,
    max_batch: usize,
}

impl SendBatcher {
    pub fn new(max_batch: usize, streams: usize) -> Self {
        SendBatcher {
            queues: Arc::new((0..streams.max(1)).map(|_| Mutex::default()).collect()),
            max_batch: max_batch.max(1),
        }
    }

    fn lock(&self, stream: usize) -> MutexGuard<'_, Queue> {
        // Every critical section is a push or a drain, so a poisoned lock is still consistent.
        self.queues[stream]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn stream_of(&self, chat_id: i64) -> usize {
        usize::try_from(chat_id.rem_euclid(self.queues.len() as i64)).unwrap_or(0)
    }

    /// Queues a send and waits for its answer. The first send into an idle queue starts the
    /// loop that stores that queue's batches until it is empty.
    pub async fn send(&self, deps: &ExecDeps, send: BatchedSend) -> AppResult<Idempotent<Message>> {
        let stream = self.stream_of(send.message.chat_id);
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.lock(stream);
            queue.waiting.push_back(Waiting { send, reply });
            !std::mem::replace(&mut queue.storing, true)
        };
        if start {
            let (batcher, deps) = (self.clone(), deps.clone());
            actix_rt::spawn(async move { batcher.store_until_empty(stream, &deps).await });
        }
        answer
            .await
            .map_err(|_| AppError::Internal("a send batch was dropped".into()))?
    }

    async fn store_until_empty(&self, stream: usize, deps: &ExecDeps) {
        loop {
            let batch: Vec<Waiting> = {
                let mut queue = self.lock(stream);
                if queue.waiting.is_empty() {
                    queue.storing = false;
                    return;
                }
                let take = queue.waiting.len().min(self.max_batch);
                queue.waiting.drain(..take).collect()
            };
            let sends: Vec<BatchedSend> = batch.iter().map(|w| w.send.clone()).collect();
            let span = tracing::info_span!("db", op = "send_batch", batch.size = sends.len());
            let outcomes = tracing::Instrument::instrument(store(deps, &sends), span).await;
            match outcomes {
                Ok(outcomes) => {
                    let mut events = Vec::new();
                    let mut deferred = Vec::new();
                    let mut answers = Vec::new();
                    for (waiting, outcome) in batch.into_iter().zip(outcomes) {
                        match outcome {
                            BatchOutcome::Deferred => deferred.push(waiting),
                            BatchOutcome::Done(Ok(Idempotent::Fresh(mut written))) => {
                                events.append(&mut written.events);
                                answers.push((waiting.reply, Ok(Idempotent::Fresh(written))));
                            }
                            BatchOutcome::Done(result) => answers.push((waiting.reply, result)),
                        }
                    }
                    // Events first, so a client that reads its answer and then listens has
                    // nothing to wait for; both come after the commit.
                    deps.publish(events).await;
                    for (reply, result) in answers {
                        let _ = reply.send(result);
                    }
                    self.lock(stream).waiting.extend(deferred);
                }
                Err(error) => {
                    for waiting in batch {
                        let _ = waiting.reply.send(Err(error.clone()));
                    }
                }
            }
        }
    }
}

async fn store(deps: &ExecDeps, sends: &[BatchedSend]) -> AppResult<Vec<BatchOutcome>> {
    let mut attempt = 0;
    loop {
        let mut conn = deps.db.conn().await?;
        let result = with_backend!(&mut conn, q, c => q::messages::send_batch(c, sends).await);
        match result {
            Err(AppError::Conflict { code, .. })
                if code == BATCH_RACE && attempt < RACE_RETRIES =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}
