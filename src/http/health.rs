//! Liveness and readiness.

use actix_web::{web, HttpResponse};

use super::error::ApiResult;
use super::AppState;
use crate::actors::db_executor::ask;
use crate::actors::db_ops::Ping;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/healthz").route(web::get().to(healthz)))
        .service(super::resource("/readyz").route(web::get().to(readyz)));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers; a 503 otherwise (from the error mapping).
async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    ask(&state.actors.db, Ping).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}
