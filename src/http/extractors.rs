//! Request extractors: bearer authentication, JSON bodies held to the contract's rules, the
//! `Idempotency-Key` header, and path ids.

use parley_types::{TokenId, UserId};
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::web::{BytesMut, Data};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use crate::actors::db_ops::Authenticate;
use crate::domain::commands::IdempotencyKey;
use crate::domain::validate::{is_valid_idempotency_key, FieldError};
use crate::error::{AppError, ErrorCode};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

fn state(req: &HttpRequest) -> Result<Data<AppState>, ApiError> {
    req.app_data::<Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("application state missing").into())
}

/// The caller, authenticated by a live bearer token.
#[derive(Clone, Copy, Debug)]
pub struct AuthUser {
    pub user_id: UserId,
    pub token_id: TokenId,
}

/// The bearer token of a request: the `Authorization` header, or (for WebSocket upgrades,
/// which browsers cannot give headers) the `token` query parameter.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        return (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
            .then(|| token.to_owned());
    }
    None
}

impl AuthUser {
    pub async fn from_token(state: &AppState, token: Option<String>) -> Result<Self, ApiError> {
        let token = token.ok_or(AppError::Unauthorized)?;
        // Tokens we issue are 43 characters; anything far longer is not worth a query.
        if token.len() > 256 {
            return Err(AppError::Unauthorized.into());
        }
        let owner = state
            .actors
            .ask(Authenticate { token })
            .await?
            .ok_or(AppError::Unauthorized)?;
        tracing::Span::current().record("user.id", owner.user_id.get());
        Ok(AuthUser {
            user_id: owner.user_id,
            token_id: owner.token_id,
        })
    }
}

/// Authenticates the caller; a write (any method but GET and HEAD) also takes a token from
/// the caller's rate-limit bucket.
impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state(req);
        let token = bearer_token(req);
        let is_write = !matches!(*req.method(), Method::GET | Method::HEAD);
        Box::pin(async move {
            let state = state?;
            let user = AuthUser::from_token(&state, token).await?;
            if is_write {
                limited(&state, state.limits.check_write(user.user_id))?;
            }
            Ok(user)
        })
    }
}

/// Counts a refusal in `rate_limited_total`.
pub(super) fn limited(state: &AppState, outcome: Result<(), AppError>) -> Result<(), ApiError> {
    outcome.map_err(|e| {
        state.actors.metrics.rate_limited.inc();
        ApiError(e)
    })
}

/// A registration or login attempt, allowed by the per-IP limit.
pub struct AuthAttempt;

impl FromRequest for AuthAttempt {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The socket's peer, or what a trusted proxy says the client was (`client_address`).
        let outcome = state(req).and_then(|state| {
            match super::client_address::client_ip(req, &state.trusted_proxies) {
                Some(ip) => limited(&state, state.limits.check_auth(ip)).map(|()| AuthAttempt),
                None => Ok(AuthAttempt),
            }
        });
        std::future::ready(outcome)
    }
}

/// A JSON body: `application/json`, at most 64 KiB, well-formed (else 400), of the expected
/// shape (else 422). Carries a fingerprint of the request for idempotency checks.
pub struct JsonBody<T> {
    pub value: T,
    pub fingerprint: String,
}

fn is_json_content_type(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Identifies "the same request" for `Idempotency-Key`: method, path and the body's JSON
/// value (so key order and whitespace do not matter).
fn fingerprint(req: &HttpRequest, canonical_body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(req.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json_content_type(&req) {
                return Err(AppError::UnsupportedMediaType.into());
            }
            if declared_length(&req).is_some_and(|len| len > MAX_BODY_BYTES) {
                return Err(AppError::PayloadTooLarge.into());
            }
            // The whole body must arrive within the deadline: a client that announces a body
            // and sends it a byte at a time (or not at all) holds a connection until then.
            let deadline = state(&req)?.body_timeout;
            let read = async {
                let mut body = BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|_| {
                        AppError::bad_request("The request body could not be read.")
                    })?;
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(AppError::PayloadTooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            };
            let body = tokio::time::timeout(deadline, read)
                .await
                .map_err(|_| AppError::RequestTimeout)??;
            let mut json: serde_json::Value =
                serde_json::from_slice(&body).map_err(|_| AppError::BadRequest {
                    code: ErrorCode::MalformedJson,
                    detail: "The request body is not valid JSON.".into(),
                })?;
            integral_numbers_as_integers(&mut json);
            let canonical = serde_json::to_vec(&json).map_err(AppError::from)?;
            let value = serde_json::from_value(json).map_err(|e| AppError::Validation {
                code: ErrorCode::ValidationFailed,
                detail: "The request body does not have the expected fields and types.".into(),
                errors: vec![FieldError {
                    field: "body".into(),
                    detail: e.to_string(),
                }],
            })?;
            Ok(JsonBody {
                value,
                fingerprint: fingerprint(&req, &canonical),
            })
        })
    }
}

/// Turns every number written with a zero fraction (`16344.0`, `1e3`) into the integer it is.
/// JSON Schema, and so the OpenAPI document, counts such a number as an integer, so a body
/// the document allows must not be refused for spelling one that way; and `1` and `1.0` are then
/// the same request to an `Idempotency-Key`.
fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                // Exactly the floats that are whole and inside i64: -2^63 <= f < 2^63.
                if f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
                {
                    *n = serde_json::Number::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers_as_integers),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// The raw `Idempotency-Key` header, validated: 1-255 printable ASCII characters.
pub struct IdempotencyHeader(Option<String>);

impl IdempotencyHeader {
    /// The key bound to this request's fingerprint.
    pub fn bind(self, fingerprint: &str) -> Option<IdempotencyKey> {
        self.0.map(|key| IdempotencyKey {
            key,
            fingerprint: fingerprint.to_owned(),
        })
    }
}

impl FromRequest for IdempotencyHeader {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = match req.headers().get("idempotency-key") {
            None => Ok(IdempotencyHeader(None)),
            Some(value) if is_valid_idempotency_key(value.as_bytes()) => Ok(IdempotencyHeader(
                Some(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            )),
            Some(_) => Err(AppError::BadRequest {
                code: ErrorCode::InvalidIdempotencyKey,
                detail: "Idempotency-Key must be 1-255 printable ASCII characters.".into(),
            }
            .into()),
        };
        std::future::ready(parsed)
    }
}

/// A path id: a positive 64-bit integer, else the resource cannot exist (404).
/// A query string read into `T`; anything malformed is the same 400 on every route.
pub fn parse_query<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, AppError> {
    serde_urlencoded::from_str(raw)
        .map_err(|_| AppError::bad_request("The query string is malformed."))
}

/// An optional integer query parameter in `min..=max`; anything else is the one 400.
pub fn query_number(
    name: &str,
    raw: Option<&str>,
    min: i64,
    max: i64,
) -> Result<Option<i64>, AppError> {
    let Some(raw) = raw else { return Ok(None) };
    raw.parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .map(Some)
        .ok_or_else(|| {
            AppError::bad_request(format!("{name} must be an integer from {min} to {max}."))
        })
}

/// The id in a path segment, as the id type `typed` makes of it (`path_id(&path, ChatId)`): a
/// positive integer, or the resource is not found.
pub fn path_id<Id>(raw: &str, typed: fn(i64) -> Id) -> Result<Id, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(typed)
        .ok_or_else(|| AppError::NotFound("resource").into())
}
