//! Liveness and readiness.

use actix_web::{web, HttpResponse};

use super::error::ApiResult;
use super::error_docs::Always;
use super::AppState;
use crate::actors::db_ops::Ping;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/healthz").get(healthz))
        .service(super::endpoint("/readyz").get(readyz));
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "The process runs", body = Object),
        Always
    )
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers; a 503 otherwise (from the error mapping). The link to the
/// other nodes does not decide readiness (a node without it still serves its own sessions,
/// and catches up from the event log), but the body says how it is: `"nats"` is `off` (no
/// other nodes), `connected` or `disconnected`.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Object),
        Always
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state.actors.ask(Ping).await?;
    let nats = match (&state.actors.bus, state.actors.metrics.nats_connected.get()) {
        (None, _) => "off",
        (Some(_), 1) => "connected",
        (Some(_), _) => "disconnected",
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready", "nats": nats})))
}
