//! Operator routes under `/admin`, behind the configured admin token. Without one they do not
//! exist (404), so an unconfigured server reveals nothing.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use prometheus::{Encoder, TextEncoder};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};
use super::error_docs::{Always, Authenticated, NotFound};
use super::extractors::bearer_token;
use super::AppState;
use crate::actors::db_ops::ReadPoolStatus;
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/admin/metrics").route(web::get().to(metrics)));
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
    let pool = state.actors.ask(ReadPoolStatus).await?;
    let gauge = |state: &str, value: usize| {
        metrics
            .db_pool_connections
            .with_label_values(&[state])
            .set(i64::try_from(value).unwrap_or(i64::MAX));
    };
    gauge("idle", pool.available);
    gauge("in_use", pool.size.saturating_sub(pool.available));
    gauge("max", pool.max_size);
    gauge("waiting", pool.waiting);
    let mut body = Vec::new();
    TextEncoder::new()
        .encode(&metrics.registry.gather(), &mut body)
        .map_err(|e| AppError::internal_from("metrics encoding failed", e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}
