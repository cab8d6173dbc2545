//! Storing a round of sends (from one or several rooms) in one transaction: one commit (one
//! fsync) for all of them, each send with its own answer, seq and idempotency record.

use crate::db::queries::{BatchOutcome, BatchedSend, Idempotent, BATCH_RACE};
use std::time::Instant;

use crate::db::Database;
use crate::domain::Message;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::with_backend;

/// How often a round that lost a key race to a concurrent request is tried again before its
/// sends are told 409.
const RACE_RETRIES: usize = 3;

/// The outcome of each send of `sends`, in order. A send whose key another send of the round
/// also carries waits for a second transaction, where it replays the first one's answer. An
/// error answers every send only when the database is unavailable; any other failure is
/// narrowed down to the sends it concerns.
pub async fn store_round(
    db: &Database,
    metrics: &Metrics,
    sends: Vec<BatchedSend>,
) -> AppResult<Vec<AppResult<Idempotent<Message>>>> {
    let mut outcomes: Vec<Option<AppResult<Idempotent<Message>>>> =
        sends.iter().map(|_| None).collect();
    let mut open: Vec<usize> = (0..sends.len()).collect();
    while !open.is_empty() {
        let round: Vec<BatchedSend> = open.iter().filter_map(|&i| sends.get(i).cloned()).collect();
        metrics.send_round_size.observe(round.len() as f64);
        let results = match store_with_retries(db, metrics, &round).await {
            Ok(results) => results,
            // The database is out of reach: every send of the round gets the 503.
            Err(e @ AppError::Unavailable(_)) => return Err(e),
            // Anything else may concern one send only (a constraint it breaks, a key race that
            // outlasted its retries): each send is tried on its own, so only the ones the error
            // concerns fail.
            Err(e) if round.len() > 1 => {
                tracing::warn!(error = %e.chain(), sends = round.len(), "send round failed; storing its sends one by one");
                let mut one_by_one = Vec::with_capacity(round.len());
                for send in &round {
                    let single = std::slice::from_ref(send);
                    one_by_one.push(match store_with_retries(db, metrics, single).await {
                        Ok(mut result) => result.pop().unwrap_or_else(|| {
                            BatchOutcome::Done(Err(AppError::internal("a send got no outcome")))
                        }),
                        Err(e @ AppError::Unavailable(_)) => return Err(e),
                        Err(e) => BatchOutcome::Done(Err(e)),
                    });
                }
                one_by_one
            }
            Err(e) => return Err(e),
        };
        let mut deferred = Vec::new();
        for (&i, result) in open.iter().zip(results) {
            match result {
                BatchOutcome::Deferred => deferred.push(i),
                BatchOutcome::Done(done) => {
                    if let Some(slot) = outcomes.get_mut(i) {
                        *slot = Some(done);
                    }
                }
            }
        }
        if deferred.len() == open.len() {
            return Err(AppError::internal("a send round made no progress"));
        }
        open = deferred;
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(AppError::internal("a send got no outcome"))))
        .collect())
}

async fn store_with_retries(
    db: &Database,
    metrics: &Metrics,
    sends: &[BatchedSend],
) -> AppResult<Vec<BatchOutcome>> {
    let mut attempt = 0;
    loop {
        let checkout = Instant::now();
        let mut conn = db.send_conn().await?;
        let phase = |name: &str, since: Instant| {
            metrics
                .send_phase
                .with_label_values(&[name])
                .observe(since.elapsed().as_secs_f64());
        };
        phase("pool_wait", checkout);
        let storing = Instant::now();
        let result = with_backend!(&mut conn, q, c => q::messages::send_batch(c, sends, db.usernames()).await);
        phase("transaction", storing);
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
