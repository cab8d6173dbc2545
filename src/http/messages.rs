//! Sending, reading, editing and deleting messages, and reactions.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use parley_types::requests::{EditMessageRequest, ReactionRequest, SendMessageRequest};
use parley_types::MessageId;

use super::chats::{DEFAULT_PAGE, MAX_PAGE};
use super::error::ApiResult;
use super::error_docs::{
    Always, Authenticated, BadRequest, Conflict, Forbidden, Invalid, JsonInput, NotFound,
    RateLimited,
};
use super::extractors::{
    parse_query, path_id, query_number, AuthUser, IdempotencyHeader, JsonBody,
};
use super::{json, reply, AppState};
use crate::actors::db_ops::{
    ChangeMessage, GetMessage, LoadMentions, LoadThread, MessageChange, NewMessage,
};
use crate::domain::commands::BatchedSend;
use crate::domain::validate::{self, Violations};
use crate::domain::{HistoryPage, Message, Seq, ThreadPage};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/messages").post(send_message))
        .service(
            super::endpoint("/messages/{message_id}")
                .get(get_message)
                .patch(edit_message)
                .delete(delete_message),
        )
        .service(super::endpoint("/mentions").get(list_mentions))
        .service(super::endpoint("/messages/{message_id}/thread").get(get_thread))
        .service(super::endpoint("/messages/{message_id}/reactions").post(add_reaction))
        .service(
            super::endpoint("/messages/{message_id}/reactions/{emoji}").delete(remove_reaction),
        );
}

#[utoipa::path(
    post,
    path = "/api/v1/messages",
    tag = "messages",
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII characters; retries with the same key are answered once", pattern = "^[ -~]{1,255}$")),
    request_body = SendMessageRequest,
    responses(
        (status = 200, description = "Stored; message.created went to every session of every member", body = Message, headers(("Idempotent-Replayed" = bool, description = "present (true) when the stored answer of an earlier request with the same key is returned"))),
        Always,
        Authenticated,
        JsonInput,
        NotFound,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn send_message(
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
    if request.attachment_ids.is_empty() {
        validate::content(&mut v, &request.content);
    } else {
        validate::caption(&mut v, &request.content);
        validate::attachment_ids(&mut v, &request.attachment_ids);
    }
    if let Some(reply_to) = request.reply_to_id {
        validate::positive_id(&mut v, "reply_to_id", reply_to);
    }
    if let Some(root) = request.thread_root_id {
        validate::positive_id(&mut v, "thread_root_id", root);
    }
    validate::client_id(&mut v, request.client_id.as_deref());
    v.into_result().map_err(AppError::validation)?;
    let answer = state
        .actors
        .post_message(BatchedSend {
            message: NewMessage {
                chat_id: request.chat_id,
                author_id: user.user_id,
                content: request.content,
                reply_to_id: request.reply_to_id,
                client_id: request.client_id,
                attachment_ids: request.attachment_ids,
                thread_root_id: request.thread_root_id,
            },
            // The room fills it in when the send joins a batch.
            offline_members: Default::default(),
            direct_peer: None,
            key,
        })
        .await?;
    reply(answer)
}

#[derive(serde::Deserialize)]
struct MentionsQuery {
    before: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/mentions",
    tag = "messages",
    params(
        ("before" = Option<i64>, Query, minimum = 1, description = "only messages with a smaller id (the last id of the previous page)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200),
    ),
    responses(
        (status = 200, description = "Messages that mention the caller, in chats they are a member of now, newest first", body = HistoryPage),
        Always,
        Authenticated,
        BadRequest
    ),
    security(("bearer" = []))
)]
pub async fn list_mentions(
    state: web::Data<AppState>,
    user: AuthUser,
    req: actix_web::HttpRequest,
) -> ApiResult<HttpResponse> {
    let query: MentionsQuery = parse_query(req.query_string())?;
    let before = query_number("before", query.before.as_deref(), 1, i64::MAX)?.map(MessageId);
    let limit = query_number("limit", query.limit.as_deref(), 1, MAX_PAGE)?.unwrap_or(DEFAULT_PAGE);
    let page = state
        .actors
        .ask(LoadMentions {
            user_id: user.user_id,
            before,
            limit,
        })
        .await?;
    Ok(json(StatusCode::OK, &page))
}

#[derive(serde::Deserialize)]
struct ThreadQuery {
    after_seq: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/messages/{message_id}/thread",
    tag = "messages",
    params(
        ("message_id" = i64, Path, minimum = 1, description = "the thread's root, or any reply in it (the answer is then that reply's thread)"),
        ("after_seq" = Option<i64>, Query, minimum = 0, description = "only replies with a greater seq (the last seq of the previous page)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200),
    ),
    responses(
        (status = 200, description = "The thread's root and a page of its replies, ascending by seq", body = ThreadPage),
        Always,
        Authenticated,
        BadRequest,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn get_thread(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    req: actix_web::HttpRequest,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path, MessageId)?;
    let query: ThreadQuery = parse_query(req.query_string())?;
    let after_seq = query_number("after_seq", query.after_seq.as_deref(), 0, i64::MAX)?
        .map(Seq)
        .unwrap_or(Seq::ZERO);
    let limit = query_number("limit", query.limit.as_deref(), 1, MAX_PAGE)?.unwrap_or(DEFAULT_PAGE);
    let page = state
        .actors
        .ask(LoadThread {
            user_id: user.user_id,
            message_id,
            after_seq,
            limit,
        })
        .await?;
    Ok(json(StatusCode::OK, &page))
}

#[utoipa::path(
    get,
    path = "/api/v1/messages/{message_id}",
    tag = "messages",
    params(("message_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, body = Message),
        Always,
        Authenticated,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn get_message(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path, MessageId)?;
    let message = state
        .actors
        .ask(GetMessage {
            user_id: user.user_id,
            message_id,
        })
        .await?;
    Ok(json(StatusCode::OK, &message))
}

async fn change(
    state: &AppState,
    user: AuthUser,
    message_id: MessageId,
    change: MessageChange,
    key: Option<crate::domain::commands::IdempotencyKey>,
) -> ApiResult<HttpResponse> {
    let answer = state
        .actors
        .change_message(ChangeMessage {
            user_id: user.user_id,
            message_id,
            change,
            key,
        })
        .await?;
    reply(answer)
}

#[utoipa::path(
    patch,
    path = "/api/v1/messages/{message_id}",
    tag = "messages",
    params(("message_id" = i64, Path, minimum = 1)),
    request_body = EditMessageRequest,
    responses(
        (status = 200, body = Message),
        Always,
        Authenticated,
        JsonInput,
        NotFound,
        Forbidden,
        RateLimited,
        Conflict
    ),
    security(("bearer" = []))
)]
pub async fn edit_message(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<EditMessageRequest>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path, MessageId)?;
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

#[utoipa::path(
    delete,
    path = "/api/v1/messages/{message_id}",
    tag = "messages",
    params(("message_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, description = "The tombstone", body = Message),
        Always,
        Authenticated,
        NotFound,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn delete_message(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path, MessageId)?;
    change(&state, user, message_id, MessageChange::Delete, None).await
}

#[utoipa::path(
    post,
    path = "/api/v1/messages/{message_id}/reactions",
    tag = "messages",
    params(("message_id" = i64, Path, minimum = 1), ("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII characters; retries with the same key are answered once", pattern = "^[ -~]{1,255}$")),
    request_body = ReactionRequest,
    responses(
        (status = 200, body = Message, headers(("Idempotent-Replayed" = bool, description = "present (true) when the stored answer of an earlier request with the same key is returned"))),
        Always,
        Authenticated,
        JsonInput,
        NotFound,
        Forbidden,
        RateLimited,
        Conflict
    ),
    security(("bearer" = []))
)]
pub async fn add_reaction(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyHeader,
    path: web::Path<String>,
    body: JsonBody<ReactionRequest>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path, MessageId)?;
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

#[utoipa::path(
    delete,
    path = "/api/v1/messages/{message_id}/reactions/{emoji}",
    tag = "messages",
    params(("message_id" = i64, Path, minimum = 1), ("emoji" = String, Path, description = "percent-encoded; as in the reaction body", pattern = "^[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028-\\u202F\\u205F\\u2066-\\u2069\\u3000]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028-\\u202F\\u205F\\u2066-\\u2069\\u3000]*$", max_length = 8)),
    responses(
        (status = 200, body = Message),
        Always,
        Authenticated,
        Invalid,
        NotFound,
        Forbidden,
        RateLimited,
        Conflict
    ),
    security(("bearer" = []))
)]
pub async fn remove_reaction(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let message_id = path_id(&path.0, MessageId)?;
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
