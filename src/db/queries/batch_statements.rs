//! The statements of a send batch that each backend runs its own way.
//!
//! On PostgreSQL every statement is a round trip, and diesel neither caches the plan of an
//! `UPDATE` nor of a multi-row `INSERT` (each costs a parse, a bind and a close), so the batch
//! uses one set-based statement per step, whatever the number of chats or sends. SQLite runs
//! in-process: there a statement per row costs little, and diesel-async cannot send it a
//! multi-row `INSERT` anyway.

use std::collections::HashMap;
use std::future::Future;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::RunQueryDsl;

use crate::db::rows::{EventRow, IdempotencyRow, MessageRow, NewMessageRow};
use crate::db::schema::{chat_events, chats, idempotency_keys, messages};
use crate::db::{PgConn, SqliteConn};

pub trait BatchStatements {
    /// Locks the rows of the chats that exist among `chat_ids` until the transaction ends,
    /// in id order (so that concurrent batches cannot deadlock); returns their ids.
    fn lock_chats<'a>(
        &'a mut self,
        chat_ids: &'a [i64],
    ) -> impl Future<Output = QueryResult<Vec<i64>>> + Send + 'a;

    /// Takes `count` seqs in each `(chat_id, count)` and sets the chat's activity time;
    /// returns each chat's first new seq.
    fn reserve_seqs<'a>(
        &'a mut self,
        counts: &'a [(i64, i64)],
        now: i64,
    ) -> impl Future<Output = QueryResult<HashMap<i64, i64>>> + Send + 'a;

    /// The idempotency records stored under any of the `(user_id, key)` pairs.
    fn find_keys<'a>(
        &'a mut self,
        pairs: &'a [(i64, String)],
    ) -> impl Future<Output = QueryResult<Vec<IdempotencyRow>>> + Send + 'a;

    fn insert_messages<'a>(
        &'a mut self,
        rows: &'a [NewMessageRow<'a>],
    ) -> impl Future<Output = QueryResult<Vec<MessageRow>>> + Send + 'a;

    fn insert_events<'a>(
        &'a mut self,
        rows: &'a [EventRow],
    ) -> impl Future<Output = QueryResult<()>> + Send + 'a;

    /// Inserts idempotency records, skipping keys that exist; returns the keys inserted.
    fn insert_keys<'a>(
        &'a mut self,
        rows: &'a [IdempotencyRow],
    ) -> impl Future<Output = QueryResult<Vec<(i64, String)>>> + Send + 'a;
}

#[derive(QueryableByName)]
struct ChatSeq {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    last_seq: i64,
}

impl BatchStatements for PgConn {
    async fn lock_chats<'a>(&'a mut self, chat_ids: &'a [i64]) -> QueryResult<Vec<i64>> {
        chats::table
            .filter(chats::id.eq_any(chat_ids))
            .order(chats::id)
            .select(chats::id)
            .for_update()
            .load(self)
            .await
    }

    async fn reserve_seqs<'a>(
        &'a mut self,
        counts: &'a [(i64, i64)],
        now: i64,
    ) -> QueryResult<HashMap<i64, i64>> {
        let (ids, amounts): (Vec<i64>, Vec<i64>) = counts.iter().copied().unzip();
        let taken: Vec<ChatSeq> = diesel::sql_query(
            "UPDATE chats SET last_seq = chats.last_seq + want.n, last_activity_at = $3 \
             FROM unnest($1::int8[], $2::int8[]) AS want(id, n) \
             WHERE chats.id = want.id RETURNING chats.id, chats.last_seq",
        )
        .bind::<Array<BigInt>, _>(&ids)
        .bind::<Array<BigInt>, _>(&amounts)
        .bind::<BigInt, _>(now)
        .load(self)
        .await?;
        let amount: HashMap<i64, i64> = counts.iter().copied().collect();
        Ok(taken
            .into_iter()
            .filter_map(|c| Some((c.id, c.last_seq - amount.get(&c.id)? + 1)))
            .collect())
    }

    async fn find_keys<'a>(
        &'a mut self,
        pairs: &'a [(i64, String)],
    ) -> QueryResult<Vec<IdempotencyRow>> {
        // Joined with the pairs, not `user_id = ANY(…) AND key = ANY(…)`: PostgreSQL probes
        // the index with every combination of the two arrays (4,096 for 64 sends, ~10 ms).
        let (users, keys): (Vec<i64>, Vec<&str>) =
            pairs.iter().map(|(u, k)| (*u, k.as_str())).unzip();
        diesel::sql_query(
            "SELECT k.user_id, k.key, k.fingerprint, k.status, k.body, k.created_at \
             FROM idempotency_keys k \
             JOIN unnest($1::int8[], $2::text[]) AS want(user_id, key) \
               ON k.user_id = want.user_id AND k.key = want.key",
        )
        .bind::<Array<BigInt>, _>(&users)
        .bind::<Array<Text>, _>(&keys)
        .load(self)
        .await
    }

    async fn insert_messages<'a>(
        &'a mut self,
        rows: &'a [NewMessageRow<'a>],
    ) -> QueryResult<Vec<MessageRow>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        diesel::insert_into(messages::table)
            .values(rows)
            .returning(MessageRow::as_returning())
            .get_results(self)
            .await
    }

    async fn insert_events<'a>(&'a mut self, rows: &'a [EventRow]) -> QueryResult<()> {
        if !rows.is_empty() {
            diesel::insert_into(chat_events::table)
                .values(rows)
                .execute(self)
                .await?;
        }
        Ok(())
    }

    async fn insert_keys<'a>(
        &'a mut self,
        rows: &'a [IdempotencyRow],
    ) -> QueryResult<Vec<(i64, String)>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        diesel::insert_into(idempotency_keys::table)
            .values(rows)
            .on_conflict((idempotency_keys::user_id, idempotency_keys::key))
            .do_nothing()
            .returning((idempotency_keys::user_id, idempotency_keys::key))
            .get_results(self)
            .await
    }
}

impl BatchStatements for SqliteConn {
    async fn lock_chats<'a>(&'a mut self, chat_ids: &'a [i64]) -> QueryResult<Vec<i64>> {
        // The pool's one connection already makes this transaction the only writer.
        chats::table
            .filter(chats::id.eq_any(chat_ids))
            .order(chats::id)
            .select(chats::id)
            .load(self)
            .await
    }

    async fn reserve_seqs<'a>(
        &'a mut self,
        counts: &'a [(i64, i64)],
        now: i64,
    ) -> QueryResult<HashMap<i64, i64>> {
        let mut first = HashMap::with_capacity(counts.len());
        for &(chat_id, count) in counts {
            let last: Option<i64> = diesel::update(chats::table.find(chat_id))
                .set((
                    chats::last_seq.eq(chats::last_seq + count),
                    chats::last_activity_at.eq(now),
                ))
                .returning(chats::last_seq)
                .get_result(self)
                .await
                .optional()?;
            if let Some(last) = last {
                first.insert(chat_id, last - count + 1);
            }
        }
        Ok(first)
    }

    async fn find_keys<'a>(
        &'a mut self,
        pairs: &'a [(i64, String)],
    ) -> QueryResult<Vec<IdempotencyRow>> {
        let users: Vec<i64> = pairs.iter().map(|(u, _)| *u).collect();
        let keys: Vec<&str> = pairs.iter().map(|(_, k)| k.as_str()).collect();
        let wanted: std::collections::HashSet<(i64, &str)> =
            pairs.iter().map(|(u, k)| (*u, k.as_str())).collect();
        let rows: Vec<IdempotencyRow> = idempotency_keys::table
            .filter(idempotency_keys::user_id.eq_any(&users))
            .filter(idempotency_keys::key.eq_any(&keys))
            .select(IdempotencyRow::as_select())
            .load(self)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|r| wanted.contains(&(r.user_id, r.key.as_str())))
            .collect())
    }

    async fn insert_messages<'a>(
        &'a mut self,
        rows: &'a [NewMessageRow<'a>],
    ) -> QueryResult<Vec<MessageRow>> {
        let mut inserted = Vec::with_capacity(rows.len());
        for row in rows {
            inserted.push(
                diesel::insert_into(messages::table)
                    .values(row)
                    .returning(MessageRow::as_returning())
                    .get_result(self)
                    .await?,
            );
        }
        Ok(inserted)
    }

    async fn insert_events<'a>(&'a mut self, rows: &'a [EventRow]) -> QueryResult<()> {
        for row in rows {
            diesel::insert_into(chat_events::table)
                .values(row)
                .execute(self)
                .await?;
        }
        Ok(())
    }

    async fn insert_keys<'a>(
        &'a mut self,
        rows: &'a [IdempotencyRow],
    ) -> QueryResult<Vec<(i64, String)>> {
        let mut inserted = Vec::with_capacity(rows.len());
        for row in rows {
            let done = diesel::insert_into(idempotency_keys::table)
                .values(row)
                .on_conflict((idempotency_keys::user_id, idempotency_keys::key))
                .do_nothing()
                .execute(self)
                .await?;
            if done == 1 {
                inserted.push((row.user_id, row.key.clone()));
            }
        }
        Ok(inserted)
    }
}
