//! Messages stored before search existed get their search terms at start-up, right after the
//! migrations: the terms are split and folded in Rust (`domain::search`), which SQL cannot do.
//! Each chunk is one transaction, so an interrupted backfill resumes where it stopped.

use diesel::prelude::*;

use super::schema::messages;
use crate::domain::search::index_terms;

/// Messages filled per transaction.
const CHUNK: i64 = 500;

/// Fills `search_terms` of every message that has none yet; returns how many it filled.
/// Written as a macro because it runs on both backends' synchronous connections, whose diesel
/// trait bounds would otherwise have to be spelled out per statement.
macro_rules! backfill_search_terms {
    ($conn:expr) => {{
        let conn = $conn;
        let mut filled = 0usize;
        loop {
            let done: QueryResult<usize> = conn.transaction(|conn| {
                let rows: Vec<(i64, String, bool)> = messages::table
                    .filter(messages::search_terms.is_null())
                    .order(messages::id)
                    .select((messages::id, messages::content, messages::deleted))
                    .limit(CHUNK)
                    .load(conn)?;
                for (id, content, deleted) in &rows {
                    let terms = if *deleted {
                        String::new()
                    } else {
                        index_terms(content)
                    };
                    diesel::update(messages::table.find(id))
                        .set(messages::search_terms.eq(terms))
                        .execute(conn)?;
                }
                Ok(rows.len())
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

pub fn sqlite(conn: &mut SqliteConnection) -> Result<usize, String> {
    backfill_search_terms!(conn)
}

pub fn postgres(
    conn: &mut diesel_async::async_connection_wrapper::AsyncConnectionWrapper<super::PgConn>,
) -> Result<usize, String> {
    backfill_search_terms!(conn)
}
