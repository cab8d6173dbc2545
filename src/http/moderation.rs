//! Blocks and reports, as people use them: block and unblock someone, list whom one blocks,
//! report a message to the operators. The operators' side is `admin_reports`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use parley_types::ReportRequest;

use super::error::{ApiError, ApiResult};
use super::error_docs::{
    Always, Authenticated, Conflict, Forbidden, Invalid, JsonInput, NotFound, RateLimited,
};
use super::extractors::{path_id, AuthUser, JsonBody};
use super::{json, AppState};
use crate::actors::db_ops::{BlockUser, ListBlocks, ReportMessage, UnblockUser};
use crate::domain::validate::{self, Violations};
use crate::domain::{MessageId, Report, User, UserId};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/users/me/blocks").get(list_blocks))
        .service(
            super::endpoint("/users/{user_id}/block")
                .post(block_user)
                .delete(unblock_user),
        )
        .service(super::endpoint("/messages/{message_id}/report").post(report_message));
}

/// The user a block names: a real id, and not the caller's own.
fn block_target(path: &str, user: AuthUser) -> Result<UserId, ApiError> {
    let target = path_id(path, UserId)?;
    if target == user.user_id {
        return Err(AppError::invalid("user_id", "You cannot block yourself.").into());
    }
    Ok(target)
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{user_id}/block",
    tag = "moderation",
    params(("user_id" = i64, Path, minimum = 1)),
    responses(
        (status = 204, description = "Blocked (blocking again changes nothing): they can no longer open a direct chat with the caller, write into it, or add the caller to a group; nobody else learns of it"),
        Always,
        Authenticated,
        NotFound,
        Invalid,
        RateLimited,
        Conflict
    ),
    security(("bearer" = []))
)]
pub async fn block_user(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let blocked_id = block_target(&path, user)?;
    state
        .actors
        .ask(BlockUser {
            blocker_id: user.user_id,
            blocked_id,
        })
        .await?
        .ok_or(AppError::NotFound("user"))?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{user_id}/block",
    tag = "moderation",
    params(("user_id" = i64, Path, minimum = 1)),
    responses(
        (status = 204, description = "Not blocked (any more)"),
        Always,
        Authenticated,
        NotFound,
        Invalid,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn unblock_user(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let blocked_id = block_target(&path, user)?;
    state
        .actors
        .ask(UnblockUser {
            blocker_id: user.user_id,
            blocked_id,
        })
        .await?
        .ok_or(AppError::NotFound("user"))?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/v1/users/me/blocks",
    tag = "moderation",
    responses(
        (status = 200, description = "The people the caller blocks, in the order they were blocked (only the caller's own)", body = [User]),
        Always,
        Authenticated
    ),
    security(("bearer" = []))
)]
pub async fn list_blocks(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let blocked = state
        .actors
        .ask(ListBlocks {
            blocker_id: user.user_id,
        })
        .await?;
    let blocked: Vec<User> = blocked
        .into_iter()
        .map(|person| state.actors.board.showing_user(person))
        .collect();
    Ok(json(StatusCode::OK, &blocked))
}

#[utoipa::path(
    post,
    path = "/api/v1/messages/{message_id}/report",
    tag = "moderation",
    params(("message_id" = i64, Path, minimum = 1)),
    request_body = ReportRequest,
    responses(
        (status = 201, description = "Reported to the operators, with the message as it is now", body = Report),
        Always,
        Authenticated,
        JsonInput,
        NotFound,
        Forbidden,
        Conflict,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn report_message(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<ReportRequest>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path, MessageId)?;
    let ReportRequest { reason, comment } = body.value;
    let mut v = Violations::new();
    if let Some(comment) = &comment {
        validate::report_comment(&mut v, comment);
    }
    v.into_result().map_err(AppError::validation)?;
    let comment = comment.filter(|c| !c.trim().is_empty());
    let report = state
        .actors
        .ask(ReportMessage {
            reporter_id: user.user_id,
            message_id,
            reason,
            comment,
            per_hour: state.reports_per_hour,
        })
        .await?;
    tracing::info!(report.id = %report.id, message.id = %message_id, "message reported");
    Ok(json(StatusCode::CREATED, &report))
}
