//! The contract's error answers as OpenAPI response sets, declared once. A route lists the
//! sets that apply to it (`responses((status = 200, body = Chat), Always, Authenticated, …)`),
//! so every route documents the same statuses with the same bodies and headers.

use std::collections::BTreeMap;

use utoipa::openapi::header::Header;
use utoipa::openapi::schema::{Ref, Type};
use utoipa::openapi::{Content, ObjectBuilder, RefOr, Response, ResponseBuilder};
use utoipa::IntoResponses;

fn error(description: &str, body: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name(body))),
    )
}

fn retry_after(response: ResponseBuilder) -> ResponseBuilder {
    response.header(
        "Retry-After",
        Header::new(ObjectBuilder::new().schema_type(Type::Integer)),
    )
}

fn set(entries: Vec<(u16, ResponseBuilder)>) -> BTreeMap<String, RefOr<Response>> {
    entries
        .into_iter()
        .map(|(status, response)| (status.to_string(), RefOr::T(response.build())))
        .collect()
}

macro_rules! response_set {
    ($(#[$doc:meta])* $name:ident => [$($status:expr => $response:expr),+ $(,)?]) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                set(vec![$(($status, $response)),+])
            }
        }
    };
}

response_set!(
    /// What any route may answer: a method it lacks, a bug, or a database outage.
    Always => [
        405 => error("Method not supported on this path", "ErrorBody").header(
            "Allow",
            Header::new(ObjectBuilder::new().schema_type(Type::String)),
        ),
        429 => retry_after(error("Rate limited, or too many requests in flight from this address", "ErrorBody")),
        500 => error("A bug; quote the request id", "InternalErrorBody"),
        503 => retry_after(error("Database unavailable or shutting down", "ErrorBody")),
    ]
);

response_set!(
    /// Routes behind a bearer token.
    Authenticated => [
        401 => error("Missing, unknown, expired or revoked token", "ErrorBody").header(
            "WWW-Authenticate",
            Header::new(ObjectBuilder::new().schema_type(Type::String)),
        ),
    ]
);

response_set!(
    /// Routes that read a JSON body.
    JsonInput => [
        400 => error("Body is not valid JSON, or a bad Idempotency-Key", "ErrorBody"),
        408 => error("The body did not arrive in time (PARLEY_BODY_TIMEOUT_SECS); the connection is closed", "ErrorBody"),
        413 => error("Body over 64 KiB", "ErrorBody"),
        415 => error("Body is not application/json", "ErrorBody"),
        422 => error("Validation failed, or Idempotency-Key reused with another request", "ErrorBody"),
    ]
);

response_set!(
    /// Routes with a query string or parameters that can be malformed.
    BadRequest => [400 => error("Bad query string or request", "ErrorBody")]
);

response_set!(
    /// Routes whose path parameters can fail validation.
    Invalid => [422 => error("Validation failed", "ErrorBody")]
);

response_set!(
    /// Routes about a resource that may not exist (and malformed ids).
    NotFound => [404 => error("No such resource", "ErrorBody")]
);

response_set!(
    /// Routes only members (or the author, owner, admin) may use.
    Forbidden => [403 => error("Not a member, or not allowed", "ErrorBody")]
);

response_set!(
    /// Writes, limited per user (and registration/login per IP).
    RateLimited => [429 => retry_after(error("Rate limited", "ErrorBody"))]
);

response_set!(
    /// Writes that can conflict (a taken username, a deleted message).
    Conflict => [409 => error("Conflict", "ErrorBody")]
);

response_set!(
    /// The WebSocket upgrade past a session cap.
    TooManySessions => [429 => error("Too many open sessions for this user or address", "ErrorBody")]
);
