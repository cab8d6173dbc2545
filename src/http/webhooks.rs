//! Webhooks: managing a group's incoming webhooks and outgoing ones (event subscriptions),
//! and `POST /hooks/<secret>`, which posts into the chat as the webhook's bot.

use actix_web::http::header::ContentType;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use parley_types::requests::{CreateSubscriptionRequest, CreateWebhookRequest, HookPostRequest};

use super::error::ApiResult;
use super::error_docs::{Always, Authenticated, Forbidden, JsonInput, NotFound, RateLimited};
use super::extractors::{limited, path_id, AuthUser, IdempotencyHeader, JsonBody};
use super::{json, AppState};
use crate::actors::db_ops::{
    CreateEventSubscription, CreateIncomingWebhook, DeleteEventSubscription, DeleteIncomingWebhook,
    EventSubscriptionDeliveries, FindHook, ListEventSubscriptions, ListIncomingWebhooks,
    ManagesWebhooks, NewMessage,
};
use crate::actors::messages::Reply;
use crate::db::queries::BatchedSend;
use crate::domain::validate::{self, FieldError, Violations};
use crate::domain::webhooks::{subscribable, HookKey};
use crate::domain::{
    ChatId, EventSubscription, EventSubscriptionId, IncomingWebhook, Message, WebhookDelivery,
    WebhookId,
};
use crate::error::AppError;
use crate::outbound::{self, AllowedHosts};

/// What the webhook routes need from start-up.
#[derive(Clone, Debug)]
pub struct WebhookState {
    /// What incoming webhooks' secrets are derived from.
    pub key: HookKey,
    /// Hosts outgoing webhooks may reach whatever they resolve to.
    pub allowed: AllowedHosts,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::endpoint("/chats/{chat_id}/webhooks")
            .post(create_webhook)
            .get(list_webhooks),
    )
    .service(super::endpoint("/chats/{chat_id}/webhooks/{webhook_id}").delete(delete_webhook))
    .service(
        super::endpoint("/chats/{chat_id}/subscriptions")
            .post(create_event_subscription)
            .get(list_event_subscriptions),
    )
    .service(
        super::endpoint("/chats/{chat_id}/subscriptions/{subscription_id}")
            .delete(delete_event_subscription),
    )
    .service(
        super::endpoint("/chats/{chat_id}/subscriptions/{subscription_id}/deliveries")
            .get(list_event_deliveries),
    );
}

/// `POST /hooks/<secret>`, outside `/api/v1` (the URL is the credential).
pub fn hook_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/hooks/{secret}").post(post_through_hook));
}

fn two_ids<A, B>(
    path: &(String, String),
    first: fn(i64) -> A,
    second: fn(i64) -> B,
) -> Result<(A, B), super::error::ApiError> {
    Ok((path_id(&path.0, first)?, path_id(&path.1, second)?))
}

#[utoipa::path(
    post,
    path = "/api/v1/chats/{chat_id}/webhooks",
    tag = "webhooks",
    params(("chat_id" = i64, Path, minimum = 1)),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "The webhook; its bot user (named after it) joined the group", body = IncomingWebhook),
        Always,
        Authenticated,
        JsonInput,
        NotFound,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn create_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<CreateWebhookRequest>,
) -> ApiResult<HttpResponse> {
    let chat_id = path_id(&path, ChatId)?;
    let mut v = Violations::new();
    validate::field_display_name(&mut v, "name", &body.value.name);
    v.into_result().map_err(AppError::validation)?;
    let answer = state
        .actors
        .write(
            chat_id,
            CreateIncomingWebhook {
                actor_id: user.user_id,
                chat_id,
                name: body.value.name,
                key: state.webhooks.key.clone(),
            },
        )
        .await?;
    super::reply(answer)
}

#[utoipa::path(
    get,
    path = "/api/v1/chats/{chat_id}/webhooks",
    tag = "webhooks",
    params(("chat_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "The group's incoming webhooks, with their URLs (owners and admins only)", body = [IncomingWebhook]),
        Always,
        Authenticated,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let chat_id = path_id(&path, ChatId)?;
    let hooks = state
        .actors
        .ask(ListIncomingWebhooks {
            actor_id: user.user_id,
            chat_id,
            key: state.webhooks.key.clone(),
        })
        .await?;
    Ok(json(StatusCode::OK, &hooks))
}

#[utoipa::path(
    delete,
    path = "/api/v1/chats/{chat_id}/webhooks/{webhook_id}",
    tag = "webhooks",
    params(("chat_id" = i64, Path, minimum = 1), ("webhook_id" = i64, Path, minimum = 1)),
    responses(
        (status = 204, description = "Deleted: its URL answers 404 from now on; its bot is deactivated, its messages stay"),
        Always,
        Authenticated,
        NotFound,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (chat_id, webhook_id) = two_ids(&path, ChatId, WebhookId)?;
    state
        .actors
        .ask(DeleteIncomingWebhook {
            actor_id: user.user_id,
            chat_id,
            webhook_id,
        })
        .await?
        .ok_or(AppError::NotFound("webhook"))?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/hooks/{secret}",
    tag = "webhooks",
    params(
        ("secret" = String, Path, description = "The secret part of the webhook's URL"),
        ("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII characters; a retry with the same key is answered with the first post's message", pattern = "^[ -~]{1,255}$"),
    ),
    request_body = HookPostRequest,
    responses(
        (status = 200, description = "Posted by the webhook's bot user", body = Message),
        Always,
        JsonInput,
        NotFound,
        RateLimited
    )
)]
pub async fn post_through_hook(
    state: web::Data<AppState>,
    path: web::Path<String>,
    key: IdempotencyHeader,
    body: JsonBody<HookPostRequest>,
) -> ApiResult<HttpResponse> {
    let secret = path.into_inner();
    // Longer than any secret this server makes: not looked up.
    if secret.len() > 64 {
        return Err(AppError::NotFound("webhook").into());
    }
    let (webhook_id, chat_id, bot_id) = state
        .actors
        .ask(FindHook { secret })
        .await?
        .ok_or(AppError::NotFound("webhook"))?;
    let counted = |outcome: &str| {
        state
            .actors
            .metrics
            .hook_posts
            .with_label_values(&[outcome])
            .inc();
    };
    if let Err(refused) = limited(&state, state.limits.check_hook(webhook_id)) {
        counted("refused");
        return Err(refused);
    }
    let mut v = Violations::new();
    validate::message_text(&mut v, "text", &body.value.text);
    v.into_result().map_err(AppError::validation)?;
    let key = key.bind(&body.fingerprint);
    let answer = state
        .actors
        .post_message(BatchedSend {
            message: NewMessage {
                chat_id,
                author_id: bot_id,
                content: body.value.text,
                reply_to_id: None,
                client_id: None,
                attachment_ids: Vec::new(),
                thread_root_id: None,
            },
            offline_members: Default::default(),
            direct_peer: None,
            key,
        })
        .await?;
    counted("posted");
    // `200` as Slack and Mattermost answer, fresh or replayed.
    Ok(match answer {
        Reply::Fresh { value, .. } => json(StatusCode::OK, &value),
        Reply::Replayed(stored) => HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .content_type(ContentType::json())
            .body(stored.body),
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/chats/{chat_id}/subscriptions",
    tag = "webhooks",
    params(("chat_id" = i64, Path, minimum = 1)),
    request_body = CreateSubscriptionRequest,
    responses(
        (status = 201, description = "Subscribed from the chat's next event on; the signing secret is shown only here", body = EventSubscription),
        Always,
        Authenticated,
        JsonInput,
        NotFound,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn create_event_subscription(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<CreateSubscriptionRequest>,
) -> ApiResult<HttpResponse> {
    let chat_id = path_id(&path, ChatId)?;
    let CreateSubscriptionRequest { url, events } = body.value;
    let mut refusals = Vec::new();
    let mut refuse = |field: &str, detail: String| {
        refusals.push(FieldError {
            field: field.to_owned(),
            detail,
        })
    };
    let mut types: Vec<String> = Vec::new();
    if events.is_empty() {
        refuse("events", "must list at least one event type".into());
    }
    for event in events {
        if !subscribable(&event) {
            refuse(
                "events",
                format!("{event:?} is not an event type of a chat's log"),
            );
        } else if !types.contains(&event) {
            types.push(event);
        }
    }
    // Who asks is checked before the URL's host is resolved on their behalf.
    state
        .actors
        .ask(ManagesWebhooks {
            actor_id: user.user_id,
            chat_id,
        })
        .await?;
    match outbound::parse_url(&url) {
        Err(why) => refuse("url", format!("the URL {why}")),
        Ok(parsed) => {
            if let Err(why) = outbound::check_destination(&parsed, &state.webhooks.allowed).await {
                refuse("url", format!("the URL {why}"));
            }
        }
    }
    if !refusals.is_empty() {
        return Err(AppError::validation(refusals).into());
    }
    let created = state
        .actors
        .ask(CreateEventSubscription {
            actor_id: user.user_id,
            chat_id,
            url,
            events: types,
        })
        .await?;
    Ok(json(StatusCode::CREATED, &created))
}

#[utoipa::path(
    get,
    path = "/api/v1/chats/{chat_id}/subscriptions",
    tag = "webhooks",
    params(("chat_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "The group's outgoing webhooks, without their secrets (owners and admins only)", body = [EventSubscription]),
        Always,
        Authenticated,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn list_event_subscriptions(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let chat_id = path_id(&path, ChatId)?;
    let subscriptions = state
        .actors
        .ask(ListEventSubscriptions {
            actor_id: user.user_id,
            chat_id,
        })
        .await?;
    Ok(json(StatusCode::OK, &subscriptions))
}

#[utoipa::path(
    delete,
    path = "/api/v1/chats/{chat_id}/subscriptions/{subscription_id}",
    tag = "webhooks",
    params(("chat_id" = i64, Path, minimum = 1), ("subscription_id" = i64, Path, minimum = 1)),
    responses(
        (status = 204, description = "Deleted, with its delivery log: nothing more is sent"),
        Always,
        Authenticated,
        NotFound,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn delete_event_subscription(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (chat_id, id) = two_ids(&path, ChatId, EventSubscriptionId)?;
    let deleted = state
        .actors
        .ask(DeleteEventSubscription {
            actor_id: user.user_id,
            chat_id,
            id,
        })
        .await?;
    if !deleted {
        return Err(AppError::NotFound("subscription").into());
    }
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/v1/chats/{chat_id}/subscriptions/{subscription_id}/deliveries",
    tag = "webhooks",
    params(("chat_id" = i64, Path, minimum = 1), ("subscription_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "The last 100 attempts, newest first", body = [WebhookDelivery]),
        Always,
        Authenticated,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn list_event_deliveries(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (chat_id, id) = two_ids(&path, ChatId, EventSubscriptionId)?;
    let deliveries = state
        .actors
        .ask(EventSubscriptionDeliveries {
            actor_id: user.user_id,
            chat_id,
            id,
        })
        .await?
        .ok_or(AppError::NotFound("subscription"))?;
    Ok(json(StatusCode::OK, &deliveries))
}
