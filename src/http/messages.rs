//! Sending, reading, editing and deleting messages, and reactions.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::error::ApiResult;
use super::extractors::{path_id, AuthUser, IdempotencyHeader, JsonBody};
use super::{json, reply, AppState};
use crate::actors::db_executor::ask;
use crate::actors::db_ops::{ChangeMessage, GetMessage, MessageChange, NewMessage, SendMessage};
use crate::domain::validate::{self, Violations};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/messages").route(web::post().to(send_message)))
        .service(
            super::resource("/messages/{message_id}")
                .route(web::get().to(get_message))
                .route(web::patch().to(edit_message))
                .route(web::delete().to(delete_message)),
        )
        .service(
            super::resource("/messages/{message_id}/reactions").route(web::post().to(add_reaction)),
        )
        .service(
            super::resource("/messages/{message_id}/reactions/{emoji}")
                .route(web::delete().to(remove_reaction)),
        );
}

#[derive(Deserialize)]
struct SendMessageRequest {
    chat_id: i64,
    #[serde(rename = "type", default = "text_type")]
    kind: String,
    content: String,
    reply_to_id: Option<i64>,
    client_id: Option<String>,
}

fn text_type() -> String {
    "text".to_owned()
}

async fn send_message(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyHeader,
    body: JsonBody<SendMessageRequest>,
) -> ApiResult<HttpResponse> {
    let key = key.bind(&body.fingerprint);
    let request = body.value;
    let mut v = Violations::new();
    validate::positive_id(&mut v, "chat_id", request.chat_id);
    v.check(request.kind == "text", "type", "must be \"text\"");
    validate::content(&mut v, &request.content);
    if let Some(reply_to) = request.reply_to_id {
        validate::positive_id(&mut v, "reply_to_id", reply_to);
    }
    validate::client_id(&mut v, request.client_id.as_deref());
    v.into_result().map_err(AppError::validation)?;
    let answer = ask(
        &state.actors.db,
        SendMessage {
            message: NewMessage {
                chat_id: request.chat_id,
                author_id: user.user_id,
                content: request.content,
                reply_to_id: request.reply_to_id,
                client_id: request.client_id,
            },
            key,
        },
    )
    .await?;
    reply(answer)
}

async fn get_message(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path)?;
    let message = ask(
        &state.actors.db,
        GetMessage {
            user_id: user.user_id,
            message_id,
        },
    )
    .await?;
    Ok(json(StatusCode::OK, &message))
}

async fn change(
    state: &AppState,
    user: AuthUser,
    message_id: i64,
    change: MessageChange,
    key: Option<crate::db::queries::IdempotencyKey>,
) -> ApiResult<HttpResponse> {
    let answer = ask(
        &state.actors.db,
        ChangeMessage {
            user_id: user.user_id,
            message_id,
            change,
            key,
        },
    )
    .await?;
    reply(answer)
}

#[derive(Deserialize)]
struct EditMessageRequest {
    content: String,
}

async fn edit_message(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<EditMessageRequest>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path)?;
    let content = body.value.content;
    let mut v = Violations::new();
    validate::content(&mut v, &content);
    v.into_result().map_err(AppError::validation)?;
    change(
        &state,
        user,
        message_id,
        MessageChange::Edit { content },
        None,
    )
    .await
}

async fn delete_message(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path)?;
    change(&state, user, message_id, MessageChange::Delete, None).await
}

#[derive(Deserialize)]
struct ReactionRequest {
    emoji: String,
}

async fn add_reaction(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyHeader,
    path: web::Path<String>,
    body: JsonBody<ReactionRequest>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path)?;
    let key = key.bind(&body.fingerprint);
    let emoji = body.value.emoji;
    let mut v = Violations::new();
    validate::emoji(&mut v, &emoji);
    v.into_result().map_err(AppError::validation)?;
    change(
        &state,
        user,
        message_id,
        MessageChange::React { emoji },
        key,
    )
    .await
}

async fn remove_reaction(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path.0)?;
    let emoji = path.1.clone();
    let mut v = Violations::new();
    validate::emoji(&mut v, &emoji);
    v.into_result().map_err(AppError::validation)?;
    change(
        &state,
        user,
        message_id,
        MessageChange::Unreact { emoji },
        None,
    )
    .await
}
