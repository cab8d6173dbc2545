//! Per-request context: the request id (echoed or generated), a tracing span, one log line,
//! and the last line of defence that turns a panic into the contract's 500.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use futures_util::FutureExt;
use tracing::Instrument;

use super::error::internal_error_body;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn client_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&REQUEST_ID)?.to_str().ok()?.trim();
    (!value.is_empty() && value.len() <= 128).then(|| value.to_owned())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = client_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let metrics = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|state| state.actors.metrics.clone());
    let method = method_label(req.method());
    let span = tracing::info_span!(
        "http",
        request.id = %request_id,
        http.method = %req.method(),
        http.path = %logged_path(req.path()),
        http.route = tracing::field::Empty,
        http.status = tracing::field::Empty,
        user.id = tracing::field::Empty,
    );
    let started = Instant::now();
    let outcome = AssertUnwindSafe(next.call(req))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let mut response = match outcome {
        Ok(Ok(response)) => response.map_into_boxed_body(),
        Ok(Err(error)) => {
            span.in_scope(|| tracing::warn!(error = %error, "request failed before a response"));
            return Err(EdgeFailure {
                error: Some(error),
                request_id,
            }
            .into());
        }
        Err(_) => {
            span.in_scope(|| tracing::error!("handler panicked"));
            return Err(EdgeFailure {
                error: None,
                request_id,
            }
            .into());
        }
    };
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        // Whatever produced the 500, the client sees exactly the contract's body.
        let request = response.request().clone();
        response = ServiceResponse::new(
            request,
            HttpResponse::InternalServerError().json(internal_error_body(&request_id)),
        );
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    let status = response.status().as_u16();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    span.record("http.status", status);
    span.record("http.route", route.as_str());
    if let Some(metrics) = metrics {
        metrics
            .http_requests
            .with_label_values(&[method, route.as_str(), &status.to_string()])
            .inc();
        metrics
            .http_duration
            .with_label_values(&[method, route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    Ok(response)
}

/// A request that ended without a response (a panic, or an error from below the handlers):
/// still answered with the request id, and a 500 still gets the contract's body.
#[derive(Debug)]
struct EdgeFailure {
    error: Option<Error>,
    request_id: String,
}

impl std::fmt::Display for EdgeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            Some(e) => write!(f, "{e}"),
            None => f.write_str("handler panicked"),
        }
    }
}

impl actix_web::ResponseError for EdgeFailure {
    fn status_code(&self) -> StatusCode {
        self.error
            .as_ref()
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, |e| {
                e.as_response_error().status_code()
            })
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = match &self.error {
            Some(e) if e.as_response_error().status_code() != StatusCode::INTERNAL_SERVER_ERROR => {
                e.error_response()
            }
            _ => HttpResponse::InternalServerError().json(internal_error_body(&self.request_id)),
        };
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            response.headers_mut().insert(REQUEST_ID.clone(), value);
        }
        response
    }
}

/// Methods as metric labels: the standard ones by name, anything else as one value, so that
/// clients cannot grow the label set.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The path as logs show it: an incoming webhook's path is its credential, and is left out.
fn logged_path(path: &str) -> &str {
    if path.starts_with(crate::domain::webhooks::HOOK_PATH) {
        "/hooks/{secret}"
    } else {
        path
    }
}

#[cfg(test)]
mod logged_path_tests {
    use super::logged_path;

    #[test]
    fn an_incoming_webhook_secret_is_never_logged() {
        assert_eq!(logged_path("/hooks/abcdefSECRET"), "/hooks/{secret}");
        assert_eq!(logged_path("/api/v1/chats/3"), "/api/v1/chats/3");
    }
}
