//! Messages stored before search existed get their search terms at start-up, right after the
//! migrations: the terms are split and folded in Rust (`domain::search`), which SQL cannot do.
//! Each chunk is one transaction, so an interrupted backfill resumes where it stopped.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use super::schema::messages;
use crate::domain::search::index_terms;

/// Messages filled per transaction.
const CHUNK: i64 = 5_000;

/// The next messages without search terms, with the terms they get (none for a deleted one).
macro_rules! next_chunk {
    ($conn:expr) => {{
        let rows: Vec<(i64, String, bool)> = messages::table
            .filter(messages::search_terms.is_null())
            .order(messages::id)
            .select((messages::id, messages::content, messages::deleted))
            .limit(CHUNK)
            .load($conn)?;
        rows.into_iter()
            .map(|(id, content, deleted)| {
                let terms = if deleted {
                    String::new()
                } else {
                    index_terms(&content)
                };
                (id, terms)
            })
            .collect::<Vec<(i64, String)>>()
    }};
}

/// Fills chunks with `$store` (given the connection and the chunk) until none is left;
/// returns how many messages it filled. A macro because it runs on both backends'
/// synchronous connections, whose diesel bounds would otherwise be spelled out per statement.
macro_rules! backfill {
    ($conn:expr, |$c:ident, $chunk:ident| $store:expr) => {{
        let conn = $conn;
        let mut filled = 0usize;
        loop {
            let done: QueryResult<usize> = conn.transaction(|$c| {
                let $chunk = next_chunk!($c);
                $store;
                Ok($chunk.len())
            });
            let done = done.map_err(|e| format!("search backfill failed: {e}"))?;
            filled += done;
            if done < CHUNK as usize {
                break;
            }
            tracing::info!(filled, "search backfill in progress");
        }
        if filled > 0 {
            tracing::info!(filled, "search terms filled for earlier messages");
        }
        Ok::<usize, String>(filled)
    }};
}

/// SQLite runs in-process: a statement per message costs microseconds.
pub fn sqlite(conn: &mut SqliteConnection) -> Result<usize, String> {
    backfill!(conn, |c, chunk| for (id, terms) in &chunk {
        diesel::update(messages::table.find(id))
            .set(messages::search_terms.eq(terms))
            .execute(c)?;
    })
}

/// On PostgreSQL each statement is a round trip: a chunk is one `UPDATE` from arrays.
pub fn postgres(
    conn: &mut diesel_async::async_connection_wrapper::AsyncConnectionWrapper<super::PgConn>,
) -> Result<usize, String> {
    backfill!(conn, |c, chunk| {
        let (ids, terms): (Vec<i64>, Vec<String>) = chunk.iter().cloned().unzip();
        diesel::sql_query(
            "UPDATE messages SET search_terms = t.terms \
             FROM unnest($1::int8[], $2::text[]) AS t(id, terms) WHERE messages.id = t.id",
        )
        .bind::<Array<BigInt>, _>(ids)
        .bind::<Array<Text>, _>(terms)
        .execute(c)?
    })
}
