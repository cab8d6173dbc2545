//! One page of search results in one statement: the matching messages of the chats the caller
//! is a member of, newest first, with their reactions aggregated per message as a history page
//! has them. PostgreSQL matches through the GIN index on the message's terms, SQLite through
//! its FTS5 table; both hold the same terms (see `domain::search`).

use std::future::Future;

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;

use super::fixed_text::FixedText;
use super::history_page::PageRow;
use crate::db::{PgConn, SqliteConn};
use crate::domain::search::SearchQuery;

/// Which matches a page takes.
#[derive(Clone, Copy, Debug)]
pub struct SearchScope {
    pub user_id: i64,
    /// Only this chat's messages.
    pub chat_id: Option<i64>,
    /// Only messages with a smaller id.
    pub before: Option<i64>,
}

impl SearchScope {
    /// `(chat, before)` as the statements bind them: chat 0 stands for every chat, and
    /// `i64::MAX` for no upper bound (ids are positive).
    fn bounds(self) -> (i64, i64) {
        (self.chat_id.unwrap_or(0), self.before.unwrap_or(i64::MAX))
    }
}

pub trait SearchPageStatement {
    /// Up to `limit` messages within `scope` that hold every term of `query`, newest first;
    /// never a deleted message, never one of a chat the user is not a member of now.
    fn search_rows<'a>(
        &'a mut self,
        query: &'a SearchQuery,
        scope: SearchScope,
        limit: i64,
    ) -> impl Future<Output = diesel::QueryResult<Vec<PageRow>>> + Send + 'a;
}

const PG_SEARCH: &str = concat!(
    message_columns!(pg_reactions!()),
    " FROM messages m",
    " WHERE array_to_tsvector(string_to_array(m.search_terms, ' ')) @@ $1::tsquery",
    " AND NOT m.deleted",
    " AND m.chat_id IN (SELECT c.chat_id FROM chat_members c WHERE c.user_id = $2)",
    " AND ($3 = 0 OR m.chat_id = $3)",
    " AND m.id < $4",
    " ORDER BY m.id DESC LIMIT $5"
);

// FTS5 walks its matches in rowid order, so newest first costs no sort.
const SQLITE_SEARCH: &str = concat!(
    message_columns!(sqlite_reactions!()),
    " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid",
    " WHERE messages_fts MATCH ?1",
    " AND NOT m.deleted",
    " AND m.chat_id IN (SELECT c.chat_id FROM chat_members c WHERE c.user_id = ?2)",
    " AND (?3 = 0 OR m.chat_id = ?3)",
    " AND messages_fts.rowid < ?4",
    " ORDER BY messages_fts.rowid DESC LIMIT ?5"
);

impl SearchPageStatement for PgConn {
    async fn search_rows<'a>(
        &'a mut self,
        query: &'a SearchQuery,
        scope: SearchScope,
        limit: i64,
    ) -> diesel::QueryResult<Vec<PageRow>> {
        let (chat, before) = scope.bounds();
        FixedText(
            diesel::sql_query(PG_SEARCH)
                .bind::<Text, _>(query.to_tsquery())
                .bind::<BigInt, _>(scope.user_id)
                .bind::<BigInt, _>(chat)
                .bind::<BigInt, _>(before)
                .bind::<BigInt, _>(limit),
        )
        .load(self)
        .await
    }
}

impl SearchPageStatement for SqliteConn {
    async fn search_rows<'a>(
        &'a mut self,
        query: &'a SearchQuery,
        scope: SearchScope,
        limit: i64,
    ) -> diesel::QueryResult<Vec<PageRow>> {
        let (chat, before) = scope.bounds();
        diesel::sql_query(SQLITE_SEARCH)
            .bind::<Text, _>(query.to_fts5())
            .bind::<BigInt, _>(scope.user_id)
            .bind::<BigInt, _>(chat)
            .bind::<BigInt, _>(before)
            .bind::<BigInt, _>(limit)
            .load(self)
            .await
    }
}
