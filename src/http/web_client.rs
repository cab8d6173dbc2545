//! The browser client, served by Parley itself: plain HTML, CSS and JavaScript modules from
//! `web/`, compiled into the binary (nothing is fetched at run time, there is no build step).
//! Every page carries a strict Content-Security-Policy: scripts, styles and connections only to
//! this origin, no inline code, no framing.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use super::error::ApiResult;
use crate::error::AppError;

/// `(name under /app/, content type, bytes)`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/api.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/live.js"),
    ),
    (
        "mentions.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/mentions.js"),
    ),
    (
        "notifications.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/notifications.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/dom.js"),
    ),
    (
        "integrations.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/integrations.js"),
    ),
    (
        "admin-reports.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/admin-reports.js"),
    ),
    (
        "moderation.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/moderation.js"),
    ),
    (
        "sw.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/sw.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/admin.js"),
    ),
];

const INDEX: &str = include_str!("../../web/index.html");
const FAVICON_ICO: &[u8] = include_bytes!("../../web/favicon.ico");
const FAVICON_SVG: &str = include_str!("../../web/favicon.svg");
const ADMIN: &str = include_str!("../../web/admin.html");

const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/").get(index))
        .service(super::endpoint("/admin").get(admin))
        .service(super::endpoint("/app/{asset}").get(asset))
        .service(super::endpoint("/favicon.ico").get(favicon_ico))
        .service(super::endpoint("/favicon.svg").get(favicon_svg));
}

/// Browsers ask every site for `/favicon.ico`; the pages name the SVG, which scales.
async fn favicon_ico() -> HttpResponse {
    icon("image/x-icon", FAVICON_ICO)
}

async fn favicon_svg() -> HttpResponse {
    icon("image/svg+xml", FAVICON_SVG.as_bytes())
}

fn icon(content_type: &'static str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=86400"),
        ))
        .body(body)
}

fn page(content_type: &'static str, body: &'static str) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .content_type(content_type)
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .insert_header((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // A new binary may bring new files under the same names.
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")));
    response.body(body)
}

async fn index() -> HttpResponse {
    page("text/html; charset=utf-8", INDEX)
}

async fn admin() -> HttpResponse {
    page("text/html; charset=utf-8", ADMIN)
}

async fn asset(name: web::Path<String>) -> ApiResult<HttpResponse> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name.as_str())
        .ok_or(AppError::NotFound("asset"))?;
    Ok(page(content_type, body))
}
