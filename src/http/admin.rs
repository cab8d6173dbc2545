//! Operator routes under `/admin`, behind the configured admin token. Without one they do not
//! exist (404), so an unconfigured server reveals nothing.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use prometheus::{Encoder, TextEncoder};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};
use super::error_docs::{Always, Authenticated, BadRequest, NotFound};
use super::extractors::{bearer_token, parse_query, path_id, query_number};
use super::AppState;
use crate::actors::db_ops::{FindAccount, ReactivateUser, ReadPoolStatus, SearchUsers};
use crate::domain::{AccountList, AccountStatus, UserId};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/admin/metrics").get(metrics))
        .service(super::endpoint("/admin/users").get(list_users))
        .service(super::endpoint("/admin/users/{user_id}/deactivate").post(deactivate_user))
        .service(super::endpoint("/admin/users/{user_id}/reactivate").post(reactivate_user));
}

/// Most accounts one `GET /admin/users` lists.
const MAX_LISTED: i64 = 200;

#[derive(Deserialize)]
struct ListQuery {
    query: Option<String>,
    username: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "operations",
    params(
        ("query" = Option<String>, Query, description = "Part of the username, as written (usernames are lowercase); a query with a character no username holds matches no account; all accounts when absent", max_length = 32),
        ("username" = Option<String>, Query, description = "An exact username: the list holds that account, or nothing (`query` is then ignored)", max_length = 32),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)")
    ),
    responses(
        (status = 200, body = AccountList),
        Always,
        Authenticated,
        BadRequest,
        NotFound
    ),
    security(("bearer" = []))
)]
pub async fn list_users(
    state: web::Data<AppState>,
    _admin: Admin,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let q: ListQuery = parse_query(req.query_string())?;
    // Every parameter is checked, whichever of them decides the answer.
    let query = q.query.unwrap_or_default();
    if query.chars().count() > parley_types::username::MAX_CHARS {
        let detail = format!(
            "query is at most {} characters.",
            parley_types::username::MAX_CHARS
        );
        return Err(AppError::bad_request(detail).into());
    }
    let limit = query_number("limit", q.limit.as_deref(), 1, MAX_LISTED)?.unwrap_or(50);
    if let Some(username) = q.username {
        if username.chars().count() > parley_types::username::MAX_CHARS {
            let detail = format!(
                "username is at most {} characters.",
                parley_types::username::MAX_CHARS
            );
            return Err(AppError::bad_request(detail).into());
        }
        // An account is named exactly, however many others hold its name inside theirs.
        let users = state
            .actors
            .ask(FindAccount { username })
            .await?
            .into_iter()
            .collect();
        return Ok(super::json(StatusCode::OK, &AccountList { users }));
    }
    let users = state.actors.ask(SearchUsers { query, limit }).await?;
    Ok(super::json(StatusCode::OK, &AccountList { users }))
}

#[utoipa::path(
    post,
    path = "/admin/users/{user_id}/deactivate",
    tag = "operations",
    params(("user_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "Deactivated: every token revoked, its WebSockets closed with 1008, logins refused; its messages stay", body = AccountStatus),
        Always,
        Authenticated,
        NotFound
    ),
    security(("bearer" = []))
)]
pub async fn deactivate_user(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user_id = path_id(&path, UserId)?;
    let account = state
        .actors
        .deactivate_user(user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    tracing::info!(user.id = %user_id, "account deactivated by an operator");
    Ok(super::json(StatusCode::OK, &account))
}

#[utoipa::path(
    post,
    path = "/admin/users/{user_id}/reactivate",
    tag = "operations",
    params(("user_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "The account may log in again (its old tokens stay revoked)", body = AccountStatus),
        Always,
        Authenticated,
        NotFound
    ),
    security(("bearer" = []))
)]
pub async fn reactivate_user(
    state: web::Data<AppState>,
    _admin: Admin,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user_id = path_id(&path, UserId)?;
    let account = state
        .actors
        .ask(ReactivateUser { user_id })
        .await?
        .ok_or(AppError::NotFound("user"))?;
    tracing::info!(user.id = %user_id, "account reactivated by an operator");
    Ok(super::json(StatusCode::OK, &account))
}

/// The caller presented the admin token.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let expected = req
            .app_data::<web::Data<AppState>>()
            .and_then(|state| state.admin_token.clone());
        let outcome = match expected {
            None => Err(AppError::NotFound("route").into()),
            Some(expected) => {
                // Digests have one length, so comparing them does not leak the token's.
                let presented = bearer_token(req).unwrap_or_default();
                if Sha256::digest(presented.as_bytes()) == Sha256::digest(expected.as_bytes()) {
                    Ok(Admin)
                } else {
                    Err(AppError::Unauthorized.into())
                }
            }
        };
        std::future::ready(outcome)
    }
}

#[utoipa::path(
    get,
    path = "/admin/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        Always,
        Authenticated,
        NotFound
    )
)]
pub async fn metrics(state: web::Data<AppState>, _admin: Admin) -> ApiResult<HttpResponse> {
    let metrics = &state.actors.metrics;
    for (name, pool) in state.actors.ask(ReadPoolStatus).await? {
        let gauge = |state: &str, value: usize| {
            metrics
                .db_pool_connections
                .with_label_values(&[name, state])
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        gauge("idle", pool.available);
        gauge("in_use", pool.size.saturating_sub(pool.available));
        gauge("max", pool.max_size);
        gauge("waiting", pool.waiting);
    }
    let mut body = Vec::new();
    TextEncoder::new()
        .encode(&metrics.registry.gather(), &mut body)
        .map_err(|e| AppError::internal_from("metrics encoding failed", e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
