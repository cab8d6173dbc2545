//! Liveness and readiness.

use actix_web::{web, HttpResponse};

use super::error::ApiResult;
use super::error_docs::Always;
use super::AppState;
use crate::actors::db_ops::Ping;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/healthz").route(web::get().to(healthz)))
        .service(super::resource("/readyz").route(web::get().to(readyz)));
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

/// Ready when the database answers; a 503 otherwise (from the error mapping).
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
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}
