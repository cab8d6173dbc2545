//! `GET /api/v1/ws`: authenticates (header or `?token=`), then hands the connection to a
//! `WsSession` actor.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::error::ApiError;
use super::error_docs::{Always, Authenticated, BadRequest};
use super::extractors::{bearer_token, AuthUser};
use super::AppState;
use crate::actors::ws_session;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/ws").route(web::get().to(connect)));
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
        (status = 101, description = "Switching to the WebSocket protocol (frames: see API.md)"),
        Always,
        Authenticated,
        BadRequest
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
    ws_session::upgrade(
        &req,
        stream,
        state.actors.clone(),
        state.ws,
        user.user_id,
        user.token_id,
    )
    .map_err(|e| {
        ApiError(crate::error::AppError::BadRequest {
            code: crate::error::ErrorCode::BadRequest,
            detail: format!("WebSocket handshake failed: {}", e.as_response_error()),
        })
    })
}
