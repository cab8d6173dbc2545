//! Web Push: the server's VAPID public key, and the caller's push subscriptions.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use parley_types::requests::PushSubscriptionRequest;
use parley_types::SubscriptionId;

use super::error::ApiResult;
use super::error_docs::{Always, Authenticated, JsonInput, NotFound, RateLimited};
use super::extractors::{path_id, AuthUser, IdempotencyHeader, JsonBody};
use super::{json, reply, AppState};
use crate::actors::db_ops::{ListSubscriptions, Subscribe, Unsubscribe};
use crate::domain::push::{check_subscription, VapidKey};
use crate::domain::validate::FieldError;
use crate::domain::{PushSubscription, VapidPublicKey};
use crate::error::AppError;

/// What the push routes need from start-up: the key, and where plain http is allowed.
#[derive(Clone, Debug)]
pub struct PushState {
    pub vapid: VapidKey,
    /// `vapid`'s public key as served, derived once (a point multiplication).
    pub vapid_public: String,
    pub allow_http_hosts: Vec<String>,
}

impl PushState {
    pub fn new(vapid: VapidKey, allow_http_hosts: Vec<String>) -> Self {
        PushState {
            vapid_public: vapid.public_base64url(),
            vapid,
            allow_http_hosts,
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/push/vapid-public-key").get(vapid_public_key))
        .service(
            super::endpoint("/push/subscriptions")
                .post(subscribe)
                .get(list_subscriptions),
        )
        .service(super::endpoint("/push/subscriptions/{subscription_id}").delete(unsubscribe));
}

#[utoipa::path(
    get,
    path = "/api/v1/push/vapid-public-key",
    tag = "push",
    responses(
        (status = 200, description = "The key a browser subscribes with (applicationServerKey)", body = VapidPublicKey),
        Always,
        Authenticated
    ),
    security(("bearer" = []))
)]
pub async fn vapid_public_key(
    state: web::Data<AppState>,
    _user: AuthUser,
) -> ApiResult<HttpResponse> {
    let key = VapidPublicKey {
        key: state.push.vapid_public.clone(),
    };
    Ok(json(StatusCode::OK, &key))
}

#[utoipa::path(
    post,
    path = "/api/v1/push/subscriptions",
    tag = "push",
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII characters; retries with the same key are answered once", pattern = "^[ -~]{1,255}$")),
    request_body = PushSubscriptionRequest,
    responses(
        (status = 201, description = "Kept: this device now receives the caller's notifications", body = PushSubscription),
        (status = 200, description = "The caller had subscribed this endpoint already: that subscription (its keys brought up to date)", body = PushSubscription),
        Always,
        Authenticated,
        JsonInput,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn subscribe(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyHeader,
    body: JsonBody<PushSubscriptionRequest>,
) -> ApiResult<HttpResponse> {
    let key = key.bind(&body.fingerprint);
    let request = body.value;
    let subscription = check_subscription(
        &request.endpoint,
        &request.keys.p256dh,
        &request.keys.auth,
        &state.push.allow_http_hosts,
    )
    .map_err(|refusals| {
        AppError::validation(
            refusals
                .into_iter()
                .map(|(field, detail)| FieldError {
                    field: field.into(),
                    detail: detail.into(),
                })
                .collect(),
        )
    })?;
    let answer = state
        .actors
        .write_outside_chats(Subscribe {
            user_id: user.user_id,
            subscription,
            key,
        })
        .await?;
    reply(answer)
}

#[utoipa::path(
    get,
    path = "/api/v1/push/subscriptions",
    tag = "push",
    responses(
        (status = 200, description = "The caller's subscriptions, oldest first", body = [PushSubscription]),
        Always,
        Authenticated
    ),
    security(("bearer" = []))
)]
pub async fn list_subscriptions(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<HttpResponse> {
    let list = state
        .actors
        .ask(ListSubscriptions {
            user_id: user.user_id,
        })
        .await?;
    Ok(json(StatusCode::OK, &list))
}

#[utoipa::path(
    delete,
    path = "/api/v1/push/subscriptions/{subscription_id}",
    tag = "push",
    params(("subscription_id" = i64, Path, minimum = 1)),
    responses(
        (status = 204, description = "Removed: the device receives nothing more"),
        Always,
        Authenticated,
        NotFound
    ),
    security(("bearer" = []))
)]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, SubscriptionId)?;
    state
        .actors
        .ask(Unsubscribe {
            user_id: user.user_id,
            id,
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
