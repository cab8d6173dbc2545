//! Full-text search over the messages a user may read.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use parley_types::{ChatId, MessageId, UserId};
use serde::Deserialize;

use super::error::ApiResult;
use super::error_docs::{Always, Authenticated, BadRequest, Forbidden, Invalid, NotFound};
use super::extractors::{parse_query, query_number, AuthUser};
use super::{json, AppState};
use crate::actors::db_ops::SearchMessages;
use crate::domain::commands::SearchScope;
use crate::domain::search::{SearchPage, SearchQuery};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/search").get(search));
}

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

/// Search parameters, kept as text so that every malformed number gets the same 400.
#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    chat_id: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

fn parse_search(user_id: UserId, raw: &str) -> Result<SearchMessages, AppError> {
    let params: SearchParams = parse_query(raw)?;
    let limit = query_number("limit", params.limit.as_deref(), 1, MAX_LIMIT)?;
    let chat_id = query_number("chat_id", params.chat_id.as_deref(), 1, i64::MAX)?.map(ChatId);
    let before = query_number("before", params.before.as_deref(), 1, i64::MAX)?.map(MessageId);
    let query = SearchQuery::parse(params.q.as_deref().unwrap_or_default())
        .map_err(|e| AppError::validation(vec![e]))?;
    Ok(SearchMessages {
        query,
        scope: SearchScope {
            user_id,
            chat_id,
            before,
        },
        limit: limit.unwrap_or(DEFAULT_LIMIT),
    })
}

/// Messages of the caller's chats (those it is a member of now) that hold every word of `q`,
/// newest first, never a deleted one.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "messages",
    params(
        ("q" = String, Query, min_length = 1, max_length = 256, pattern = "[^\\u0000-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u00A9\\u00AB-\\u00B1\\u00B4\\u00B6-\\u00B8\\u00BB\\u00BF\\u00D7\\u00F7\\u2000-\\u206F\\u2190-\\u23FF\\u2500-\\u2775\\u2794-\\u2BFF\\u3000-\\u3004\\u3008-\\u3020\\uFE10-\\uFE1F\\uFE30-\\uFE6F\\uFF01-\\uFF0F\\uFF1A-\\uFF20\\uFF3B-\\uFF40\\uFF5B-\\uFF65]", description = "words to find (letters and digits; case is ignored; a message must hold every word); 1-256 characters, at most 16 different words; punctuation alone is 422"),
        ("chat_id" = Option<i64>, Query, minimum = 1, description = "only this chat"),
        ("before" = Option<i64>, Query, minimum = 1, description = "only messages with a smaller id: the previous page's next_before"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "page size, 20 by default"),
    ),
    responses(
        (status = 200, description = "A page of matches, newest first, each with its snippet", body = SearchPage),
        Always,
        Authenticated,
        BadRequest,
        Invalid,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn search(
    state: web::Data<AppState>,
    user: AuthUser,
    req: actix_web::HttpRequest,
) -> ApiResult<HttpResponse> {
    let op = parse_search(user.user_id, req.query_string())?;
    let page = state.actors.ask(op).await?;
    Ok(json(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_follow_the_contract() {
        let op =
            parse_search(UserId(7), "q=Hello%20world&chat_id=3&before=99&limit=5").expect("valid");
        assert_eq!(op.query.terms(), ["hello", "world"]);
        assert_eq!(
            (
                op.scope.user_id,
                op.scope.chat_id,
                op.scope.before,
                op.limit
            ),
            (UserId(7), Some(ChatId(3)), Some(MessageId(99)), 5)
        );
        let op = parse_search(UserId(7), "q=x").expect("valid");
        assert_eq!(
            (op.scope.chat_id, op.scope.before, op.limit),
            (None, None, 20)
        );
        for bad_number in [
            "q=x&limit=0",
            "q=x&limit=101",
            "q=x&chat_id=0",
            "q=x&before=a",
        ] {
            assert!(
                matches!(
                    parse_search(UserId(1), bad_number),
                    Err(AppError::BadRequest { .. })
                ),
                "{bad_number}"
            );
        }
        for bad_query in ["", "q=", "q=%20%20", "q=%3F%21"] {
            assert!(
                matches!(
                    parse_search(UserId(1), bad_query),
                    Err(AppError::Validation { .. })
                ),
                "{bad_query}"
            );
        }
    }
}
