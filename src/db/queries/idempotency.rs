//! Idempotency records. The record is claimed in the same transaction as the operation it
//! guards, so a key is consumed exactly when the operation commits; a concurrent request with
//! the same key waits on the uncommitted row (PostgreSQL) or on the single writer (SQLite),
//! then replays the committed answer.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use parley_types::{MessageId, UserId};
use serde::Serialize;

use super::Conn;
use crate::db::queries::{IdempotencyKey, Idempotent, Outcome, StoredReply, Written};
use crate::db::rows::IdempotencyRow;
use crate::db::schema::idempotency_keys as ik;
use crate::domain::Timestamp;
use crate::error::{AppError, AppResult, ErrorCode};

/// Status stored while the guarded operation has not committed yet; never visible to another
/// transaction, because it is only ever written inside that operation's transaction.
const CLAIMED: i32 = 0;

/// How long a key is remembered: the contract promises at least 24 hours.
pub const RETENTION_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// Runs `op` in one transaction, guarded by `key` when there is one.
pub async fn run<T, F>(
    conn: &mut Conn,
    user_id: UserId,
    key: Option<IdempotencyKey>,
    op: F,
) -> AppResult<Idempotent<T>>
where
    T: Serialize + Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, AppResult<Written<T>>> + Send + 'static,
{
    conn.transaction::<_, AppError, _>(async move |conn| {
        if let Some(key) = &key {
            if let Some(stored) = claim(conn, user_id, key).await? {
                return Ok(Idempotent::Replayed(stored));
            }
        }
        let written = op(conn).await?;
        if let Some(key) = &key {
            let body = if written.outcome.has_body() {
                serde_json::to_string(&written.value)?
            } else {
                String::new()
            };
            complete(
                conn,
                user_id,
                key,
                written.outcome,
                body,
                written.message_id,
            )
            .await?;
        }
        Ok(Idempotent::Fresh(written))
    })
    .await
}

/// Claims `key` for this transaction, or returns the answer stored under it.
async fn claim(
    conn: &mut Conn,
    user_id: UserId,
    key: &IdempotencyKey,
) -> AppResult<Option<StoredReply>> {
    let inserted = diesel::insert_into(ik::table)
        .values(IdempotencyRow {
            user_id,
            key: key.key.clone(),
            fingerprint: key.fingerprint.clone(),
            status: CLAIMED,
            body: String::new(),
            created_at: Timestamp::now().millis(),
            message_id: None,
        })
        .on_conflict((ik::user_id, ik::key))
        .do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(None);
    }
    let existing: IdempotencyRow = ik::table
        .find((user_id, &key.key))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .await?;
    replay_or_refuse::<()>(&existing, key).map(|replayed| match replayed {
        Idempotent::Replayed(stored) => Some(stored),
        Idempotent::Fresh(_) => None,
    })
}

/// The answer to a request whose key is already recorded: the stored answer when it is the
/// same request, else 422.
pub fn replay_or_refuse<T>(
    existing: &IdempotencyRow,
    key: &IdempotencyKey,
) -> AppResult<Idempotent<T>> {
    if existing.fingerprint != key.fingerprint {
        return Err(AppError::Validation {
            code: ErrorCode::IdempotencyKeyMismatch,
            detail: "This Idempotency-Key was already used with a different request.".into(),
            errors: Vec::new(),
        });
    }
    if existing.status == CLAIMED {
        // Unreachable with a committed row; kept so a future change cannot replay a blank.
        return Err(AppError::Conflict {
            code: ErrorCode::IdempotencyKeyInFlight,
            detail: "A request with this Idempotency-Key is still being processed.".into(),
        });
    }
    let outcome = Outcome::from_stored(existing.status)
        .ok_or_else(|| AppError::internal(format!("stored outcome {} unknown", existing.status)))?;
    Ok(Idempotent::Replayed(StoredReply {
        outcome,
        body: existing.body.clone(),
    }))
}

async fn complete(
    conn: &mut Conn,
    user_id: UserId,
    key: &IdempotencyKey,
    outcome: Outcome,
    body: String,
    message_id: Option<MessageId>,
) -> AppResult<()> {
    diesel::update(ik::table.find((user_id, &key.key)))
        .set((
            ik::status.eq(outcome.stored()),
            ik::body.eq(body),
            ik::message_id.eq(message_id),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes every record whose answer shows the message replay `tombstone` instead: once a
/// message is deleted, no retry of the request that sent, edited or reacted to it shows its
/// text again.
pub async fn replay_tombstone(
    conn: &mut Conn,
    message_id: MessageId,
    tombstone: &str,
) -> AppResult<()> {
    diesel::update(ik::table.filter(ik::message_id.eq(message_id)))
        .set(ik::body.eq(tombstone))
        .execute(conn)
        .await?;
    Ok(())
}

/// Keys removed per transaction by the purge: a day of keys at a thousand sends a second is
/// 86 million rows, and one statement deleting them all would hold its locks (and, on SQLite,
/// the one writer) for minutes.
pub const PURGE_BATCH: i64 = 5_000;

/// Forgets the keys older than the retention period, a bounded batch per transaction, unless
/// another node is doing it right now; returns how many were removed.
pub async fn purge_expired(conn: &mut Conn, now: Timestamp) -> AppResult<usize> {
    let cutoff = now.millis() - RETENTION_MILLIS;
    let mut purged = 0;
    loop {
        let (removed, more) = purge_batch(conn, cutoff).await?;
        purged += removed;
        if !more {
            return Ok(purged);
        }
    }
}

/// Deletes about `PURGE_BATCH` of the oldest expired keys (with every key sharing the last
/// one's time) and says whether more may be left; nothing if another node is purging.
async fn purge_batch(conn: &mut Conn, cutoff: i64) -> AppResult<(usize, bool)> {
    use crate::db::queries::maintenance_lock::MaintenanceLock;
    conn.transaction::<_, AppError, _>(async |c| {
        if !c.try_maintenance_lock().await? {
            return Ok((0, false));
        }
        let expired = ik::created_at.lt(cutoff);
        // The batch's newest time, read from the `created_at` index.
        let boundary: Option<i64> = ik::table
            .filter(expired)
            .order(ik::created_at.asc())
            .select(ik::created_at)
            .offset(PURGE_BATCH - 1)
            .first(c)
            .await
            .optional()?;
        Ok(match boundary {
            Some(last) => {
                let batch = expired.and(ik::created_at.le(last));
                (
                    diesel::delete(ik::table.filter(batch)).execute(c).await?,
                    true,
                )
            }
            None => (
                diesel::delete(ik::table.filter(expired)).execute(c).await?,
                false,
            ),
        })
    })
    .await
}
