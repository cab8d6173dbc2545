//! `GET /api/v1/ws`: authenticates (header or `?token=`), then hands the connection to a
//! `WsSession` actor.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::error::ApiError;
use super::error_docs::{Always, Authenticated, BadRequest, Forbidden, TooManySessions};
use super::extractors::{bearer_token, AuthUser};
use super::AppState;
use crate::actors::session_permits::Refused;
use crate::actors::ws_session;
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/ws").get(connect));
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/ws",
    tag = "realtime",
    params(("token" = Option<String>, Query, description = "bearer token, for browsers that cannot set headers")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol (frames: see docs/api.md)"),
        Always,
        Authenticated,
        BadRequest,
        Forbidden,
        TooManySessions
    ),
    security(("bearer" = []))
)]
pub async fn connect(
    state: web::Data<AppState>,
    req: HttpRequest,
    stream: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Browsers cannot set headers on a WebSocket, hence the query parameter.
    let token = bearer_token(&req).or_else(|| {
        serde_urlencoded::from_str::<TokenQuery>(req.query_string())
            .ok()
            .and_then(|q| q.token)
    });
    let user = AuthUser::from_token(&state, token).await?;
    let metrics = &state.actors.metrics;
    if !super::cross_origin::upgrade_allowed(&req, state.cors.as_ref()) {
        metrics.ws_refused.with_label_values(&["origin"]).inc();
        return Err(AppError::forbidden("This origin may not open WebSockets here.").into());
    }
    let address = super::client_address::client_ip(&req, &state.trusted_proxies);
    let permit = match state.session_permits.try_acquire(user.user_id, address) {
        Ok(permit) => permit,
        Err(Refused::User) => {
            metrics.ws_refused.with_label_values(&["user"]).inc();
            return Err(AppError::TooManySessions(
                "This account has as many WebSocket sessions open as it may; close one first.",
            )
            .into());
        }
        Err(Refused::Address) => {
            metrics.ws_refused.with_label_values(&["address"]).inc();
            return Err(AppError::TooManySessions(
                "This address has as many WebSocket sessions open as it may.",
            )
            .into());
        }
    };
    ws_session::upgrade(
        &req,
        stream,
        state.actors.clone(),
        state.ws,
        user.user_id,
        user.token_id,
        permit,
    )
    .map_err(|e| {
        ApiError(AppError::BadRequest {
            code: crate::error::ErrorCode::BadRequest,
            detail: format!("WebSocket handshake failed: {}", e.as_response_error()),
        })
    })
}
