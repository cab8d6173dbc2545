//! Browser apps on other origins (`PARLEY_CORS_ORIGINS`): CORS for the API through actix-cors,
//! and the same list for WebSocket upgrades, which browsers do not subject to CORS. Pages
//! served by Parley itself are same-origin and always allowed.

use actix_cors::Cors;
use actix_web::dev::RequestHead;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Condition;
use actix_web::HttpRequest;

use crate::config::CorsOrigins;

/// Whether `origin` names the server the request was sent to (scheme aside: behind a TLS
/// proxy the server sees plain HTTP).
fn same_origin(origin: &HeaderValue, head: &RequestHead) -> bool {
    let Some(host) = head
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

fn listed(origin: &HeaderValue, origins: &CorsOrigins) -> bool {
    match origins {
        CorsOrigins::Any => true,
        CorsOrigins::Listed(list) => origin
            .to_str()
            .is_ok_and(|o| list.iter().any(|allowed| allowed.eq_ignore_ascii_case(o))),
    }
}

/// The CORS layer, active only when origins are configured. Preflights from an allowed origin
/// are answered for every method and header the API uses; a request from any other origin is
/// served without CORS headers, so the browser withholds the answer from the page.
pub fn layer(origins: Option<&CorsOrigins>) -> Condition<Cors> {
    let Some(origins) = origins.cloned() else {
        return Condition::new(false, Cors::default());
    };
    let cors = Cors::default()
        .allowed_origin_fn(move |origin, head| {
            listed(origin, &origins) || same_origin(origin, head)
        })
        .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotent-replayed"),
            header::RETRY_AFTER,
        ])
        .max_age(600);
    Condition::new(true, cors)
}

/// Whether a WebSocket upgrade may go ahead: when the request carries no `Origin` (not a
/// browser), comes from Parley's own pages, or from a listed origin. Browsers do not apply
/// CORS to WebSockets, so without this any page a user visits could open one with their
/// cookies' or stored token's authority.
pub fn upgrade_allowed(req: &HttpRequest, origins: Option<&CorsOrigins>) -> bool {
    match req.headers().get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            same_origin(origin, req.head()) || origins.is_some_and(|list| listed(origin, list))
        }
    }
}
