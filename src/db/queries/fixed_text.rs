//! Raw PostgreSQL statements whose plans are cached like typed diesel queries.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// A raw query whose text never changes (its rows travel as array parameters), so that its
/// plan can be cached per connection like any typed diesel query. diesel refuses to cache raw
/// queries because it cannot know that their text is fixed.
pub struct FixedText<Q>(pub Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for FixedText<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for FixedText<Q> {
    // Keyed by the text, not by the type: every such query has its own text.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for FixedText<Q> {
    type SqlType = Q::SqlType;
}
