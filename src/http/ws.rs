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
    params(
        ("token" = Option<String>, Query, description = "bearer token, for browsers that cannot set headers"),
        ("Upgrade" = String, Header, description = "must name websocket (RFC 6455 §4.1)", pattern = "[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]"),
        ("Connection" = String, Header, description = "a token list holding upgrade and not close", pattern = "^([^,]*,)*[ \\t]*[Uu][Pp][Gg][Rr][Aa][Dd][Ee][ \\t]*(,[^,]*)*$"),
        ("Sec-WebSocket-Version" = String, Header, description = "13, the only version there is", pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, description = "16 random bytes in base64", pattern = "^[A-Za-z0-9+/]{21}[AQgw]==$"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol (frames: see docs/api.md); a request without a valid handshake gets 400"),
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
    check_handshake(&req)?;
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

/// The parts of the handshake RFC 6455 (§4.1, §4.2.1) requires that actix-web-actors lets
/// through: version 13 only, and a key that is 16 bytes in canonical base64. The rest (`Upgrade`,
/// `Connection`) the upgrade itself checks. Each is a 400, as the document says.
fn check_handshake(req: &HttpRequest) -> Result<(), AppError> {
    use base64::Engine;
    let header = |name: &str| req.headers().get(name).map(|v| v.as_bytes());
    if header("sec-websocket-version") != Some(b"13") {
        return Err(AppError::bad_request(
            "WebSocket handshake failed: Sec-WebSocket-Version must be 13.",
        ));
    }
    let mut nonce = [0u8; 16];
    let key_is_nonce = header("sec-websocket-key").is_some_and(|key| {
        key.len() == 24
            && base64::engine::general_purpose::STANDARD.decode_slice(key, &mut nonce) == Ok(16)
    });
    if !key_is_nonce {
        return Err(AppError::bad_request(
            "WebSocket handshake failed: Sec-WebSocket-Key must be 16 bytes in base64.",
        ));
    }
    Ok(())
}
