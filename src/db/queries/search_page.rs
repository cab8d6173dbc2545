//! One page of search results in one statement: the matching messages of the chats the caller
//! is a member of, newest first, with their reactions aggregated per message as a history page
//! has them. PostgreSQL matches through the GIN index on the message's terms, SQLite through
//! its FTS5 table; both hold the same terms (see `domain::search`).

use parley_types::{ChatId, MessageId};
use std::future::Future;

use diesel::backend::Backend;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text};
use diesel_async::RunQueryDsl;

use super::history_page::PageRow;
use crate::db::{PgConn, SqliteConn};
use crate::domain::commands::SearchScope;
use crate::domain::search::SearchQuery;

/// `(chat, before)` as the statements bind them: chat 0 stands for every chat, and
/// `i64::MAX` for no upper bound (ids are positive).
fn bounds(scope: SearchScope) -> (ChatId, MessageId) {
    (
        scope.chat_id.unwrap_or(ChatId(0)),
        scope.before.unwrap_or(MessageId(i64::MAX)),
    )
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
    " WHERE m.search_vector @@ $1::tsquery",
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

/// The statement `text` with its parameters bound: the query in its backend's syntax, then the
/// scope and the page size, in the order both texts use them.
fn search_query<DB>(
    text: &'static str,
    query: String,
    scope: SearchScope,
    limit: i64,
) -> BoxedSqlQuery<'static, DB, SqlQuery>
where
    DB: Backend + HasSqlType<BigInt> + HasSqlType<Text>,
    i64: ToSql<BigInt, DB>,
    String: ToSql<Text, DB>,
{
    let (chat, before) = bounds(scope);
    diesel::sql_query(text)
        .into_boxed::<DB>()
        .bind::<Text, _>(query)
        .bind::<BigInt, _>(scope.user_id)
        .bind::<BigInt, _>(chat)
        .bind::<BigInt, _>(before)
        .bind::<BigInt, _>(limit)
}

impl SearchPageStatement for PgConn {
    async fn search_rows<'a>(
        &'a mut self,
        query: &'a SearchQuery,
        scope: SearchScope,
        limit: i64,
    ) -> diesel::QueryResult<Vec<PageRow>> {
        // Planned afresh for each query, never from a cached generic plan: the best plan
        // depends on how common the words are (a common word is found fastest by walking the
        // newest messages, a rare one through the index), which PostgreSQL's statistics tell
        // it only when it sees the words.
        search_query::<diesel::pg::Pg>(PG_SEARCH, query.to_tsquery(), scope, limit)
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
        search_query::<diesel::sqlite::Sqlite>(SQLITE_SEARCH, query.to_fts5(), scope, limit)
            .load(self)
            .await
    }
}
