//! The HTTP edge: routes, extractors, and the mapping of errors to the contract. Handlers only
//! validate, ask an actor with one typed message, and turn its typed reply into a response.

pub mod accounts;
pub mod admin;
pub mod admin_reports;
pub mod attachments;
pub mod bots;
pub mod chats;
pub mod client_address;
pub mod cross_origin;
pub mod error;
pub mod error_docs;
pub mod extractors;
pub mod health;
pub mod in_flight;
pub mod messages;
pub mod moderation;
pub mod openapi;
pub mod push;
pub mod rate_limit;
pub mod request_context;
pub mod search;
pub mod upgraded;
pub mod web_client;
pub mod webhooks;
pub mod ws;

use std::cell::RefCell;

use actix_web::http::header::ContentType;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse, ResponseError};
use serde::Serialize;

use crate::actors::messages::{Outcome, Reply};
use crate::actors::Actors;
use crate::error::AppError;
use error::{ApiError, ApiResult};

/// What every handler can reach.
pub struct AppState {
    pub actors: Actors,
    pub ws: crate::config::WsSettings,
    pub admin_token: Option<String>,
    pub limits: rate_limit::RateLimits,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub cors: Option<crate::config::CorsOrigins>,
    pub session_permits: crate::actors::session_permits::SessionPermits,
    /// Requests in flight per client address, under `PARLEY_MAX_REQUESTS_PER_IP`.
    pub in_flight: in_flight::InFlight,
    /// How long a request body may take to arrive (`PARLEY_BODY_TIMEOUT_SECS`).
    pub body_timeout: std::time::Duration,
    /// Where uploaded files live.
    pub files: crate::files::Files,
    /// `PARLEY_MAX_UPLOAD_BYTES`.
    pub max_upload_bytes: u64,
    /// The VAPID key and the push settings.
    pub push: push::PushState,
    /// The incoming webhooks' key and the hosts outgoing ones may reach.
    pub webhooks: webhooks::WebhookState,
    /// `PARLEY_REPORTS_PER_HOUR`.
    pub reports_per_hour: u32,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .configure(accounts::routes)
            .configure(chats::routes)
            .configure(messages::routes)
            .configure(attachments::routes)
            .configure(search::routes)
            .configure(push::routes)
            .configure(bots::routes)
            .configure(moderation::routes)
            .configure(webhooks::routes)
            .configure(ws::routes)
            .configure(openapi::routes),
    )
    .configure(webhooks::hook_routes)
    .configure(health::routes)
    .configure(admin::routes)
    .configure(admin_reports::routes)
    .configure(web_client::routes);
}

/// Answer for any path no route matches.
pub async fn not_found() -> ApiResult<HttpResponse> {
    Err(AppError::NotFound("route").into())
}

/// A path and the methods it answers. Any other method gets the contract's 405 with an
/// `Allow` header that lists these (RFC 9110 asks for it), from the same calls that register
/// the handlers, so the two cannot disagree.
pub(crate) struct Endpoint {
    resource: actix_web::Resource,
    allow: Vec<&'static str>,
}

fn endpoint(path: &str) -> Endpoint {
    Endpoint {
        resource: web::resource(path),
        allow: Vec::new(),
    }
}

macro_rules! endpoint_methods {
    ($($name:ident => $method:literal),+) => {
        impl Endpoint {
            $(
                fn $name<F, Args>(mut self, handler: F) -> Self
                where
                    F: actix_web::Handler<Args>,
                    Args: actix_web::FromRequest + 'static,
                    F::Output: actix_web::Responder + 'static,
                {
                    self.resource = self.resource.route(web::$name().to(handler));
                    self.allow.push($method);
                    self
                }
            )+
        }
    };
}

endpoint_methods!(post => "POST", put => "PUT", patch => "PATCH", delete => "DELETE");

impl Endpoint {
    /// `GET`, and `HEAD` by the same handler: RFC 9110 asks every general-purpose server to
    /// answer `HEAD` wherever it answers `GET` (uptime checks and load balancers probe with
    /// it); the HTTP layer sends the head of the answer without its body.
    fn get<F, Args>(mut self, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.resource = self
            .resource
            .route(web::get().to(handler.clone()))
            .route(web::head().to(handler));
        self.allow.extend(["GET", "HEAD"]);
        self
    }
}

impl actix_web::dev::HttpServiceFactory for Endpoint {
    fn register(self, config: &mut actix_web::dev::AppService) {
        let allow = self.allow.join(", ");
        self.resource
            .default_service(web::to(move || {
                let allow = allow.clone();
                async move {
                    Err::<HttpResponse, _>(ApiError::from(AppError::MethodNotAllowed { allow }))
                }
            }))
            .register(config);
    }
}

thread_local! {
    /// Each worker thread serialises its answers into one buffer that keeps its capacity, so
    /// that a large answer (a history page) is not built by doubling and copying a fresh
    /// vector; the body is one exact copy of it.
    static ANSWER_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A buffer grown past this by an unusually large answer is let go rather than kept.
const ANSWER_BUFFER_KEEPS: usize = 1 << 20;

/// Points the answer to the next page of a list (`Link: <target>; rel="next"`, RFC 8288).
fn link_next(response: &mut HttpResponse, target: &str) {
    let link = format!("<{target}>; rel=\"next\"");
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&link) {
        response
            .headers_mut()
            .insert(actix_web::http::header::LINK, value);
    }
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    let body = ANSWER_BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        let body =
            serde_json::to_writer(&mut *buffer, value).map(|()| Bytes::copy_from_slice(buffer));
        if buffer.capacity() > ANSWER_BUFFER_KEEPS {
            *buffer = Vec::new();
        }
        body
    });
    match body {
        Ok(body) => HttpResponse::build(status)
            .content_type(ContentType::json())
            .body(body),
        Err(e) => ApiError::from(AppError::internal(format!("answer not serialisable: {e}")))
            .error_response(),
    }
}

/// Turns an (idempotent) write's reply into the response, replaying a stored one verbatim.
pub fn reply<T: Serialize>(reply: Reply<T>) -> ApiResult<HttpResponse> {
    match reply {
        Reply::Fresh { outcome, value } => Ok(if outcome.has_body() {
            json(status_of(outcome), &value)
        } else {
            HttpResponse::build(status_of(outcome)).finish()
        }),
        Reply::Replayed(stored) => {
            let mut response = HttpResponse::build(status_of(stored.outcome));
            response.insert_header(("Idempotent-Replayed", "true"));
            Ok(if stored.outcome.has_body() {
                response.content_type(ContentType::json()).body(stored.body)
            } else {
                response.finish()
            })
        }
    }
}

/// The status each outcome of a write is answered with: the one place that decides it.
pub fn status_of(outcome: Outcome) -> StatusCode {
    match outcome {
        Outcome::Created => StatusCode::CREATED,
        Outcome::Done => StatusCode::OK,
        Outcome::NoContent => StatusCode::NO_CONTENT,
    }
}
