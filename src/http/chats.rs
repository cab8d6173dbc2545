//! Chats, membership, read markers and history.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use parley_types::requests::{
    AddMemberRequest, CreateChatBody, CreateChatRequest, MarkReadRequest, NotificationRequest,
};
use parley_types::{ChatId, Seq, UserId};
use serde::Deserialize;

use super::error::ApiResult;
use super::error_docs::{
    Always, Authenticated, BadRequest, Conflict, Forbidden, JsonInput, NotFound, RateLimited,
};
use super::extractors::{path_id, query_number, AuthUser, IdempotencyHeader, JsonBody};
use super::{json, reply, AppState};
use crate::actors::db_ops::{
    AddMember, ChatSpec, CreateChat, GetChat, ListChats, LoadHistory, MarkRead, RemoveMember,
    SetNotification,
};
use crate::domain::chat_list::{ChatListCursor, ChatListRange};
use crate::domain::validate::{self, Violations, MAX_GROUP_MEMBERS};
use crate::domain::{Chat, ChatKind, ChatSummary, HistoryCursor, HistoryPage, Notification, Role};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::endpoint("/chats").post(create_chat).get(list_chats))
        .service(super::endpoint("/chats/{chat_id}").get(get_chat))
        .service(super::endpoint("/chats/{chat_id}/members").post(add_member))
        .service(super::endpoint("/chats/{chat_id}/members/{user_id}").delete(remove_member))
        .service(super::endpoint("/chats/{chat_id}/read").post(mark_read))
        .service(super::endpoint("/chats/{chat_id}/notifications").put(set_notifications))
        .service(super::endpoint("/chats/{chat_id}/messages").get(history));
}

#[utoipa::path(
    post,
    path = "/api/v1/chats",
    tag = "chats",
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII characters; retries with the same key are answered once", pattern = "^[ -~]{1,255}$")),
    request_body = CreateChatBody,
    responses(
        (status = 201, description = "Chat created", body = Chat, headers(("Idempotent-Replayed" = bool, description = "present (true) when the stored answer of an earlier request with the same key is returned"))),
        (status = 200, description = "The existing direct chat", body = Chat, headers(("Idempotent-Replayed" = bool, description = "present (true) when the stored answer of an earlier request with the same key is returned"))),
        Always,
        Authenticated,
        JsonInput,
        NotFound,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn create_chat(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyHeader,
    body: JsonBody<CreateChatRequest>,
) -> ApiResult<HttpResponse> {
    let key = key.bind(&body.fingerprint);
    let CreateChatRequest {
        kind,
        title,
        member_ids,
    } = body.value;
    let mut v = Violations::new();
    for id in &member_ids {
        validate::positive_id(&mut v, "member_ids", *id);
    }
    let mut others: Vec<UserId> = member_ids
        .into_iter()
        .filter(|id| *id != user.user_id)
        .collect();
    others.sort_unstable();
    others.dedup();
    let spec = match kind {
        ChatKind::Group => {
            validate::title(&mut v, title.as_deref());
            v.check(
                others.len() < MAX_GROUP_MEMBERS,
                "member_ids",
                "a group has at most 1000 members",
            );
            ChatSpec::Group {
                title,
                member_ids: others,
            }
        }
        ChatKind::Direct => {
            v.check(
                others.len() == 1,
                "member_ids",
                "a direct chat has exactly one other user",
            );
            ChatSpec::Direct {
                other_id: others.first().copied().unwrap_or_default(),
            }
        }
    };
    v.into_result().map_err(AppError::validation)?;
    let answer = state
        .actors
        .create_chat(CreateChat {
            user_id: user.user_id,
            key,
            spec,
        })
        .await?;
    reply(answer.map(|chat| state.actors.board.showing(chat)))
}

#[derive(Deserialize)]
struct ChatListQuery {
    limit: Option<String>,
    before: Option<String>,
}

/// The chat list's range: every chat without `limit` or `before`; else a page (of
/// `DEFAULT_PAGE` when only `before` is given), continued from `before`, a cursor that the
/// `Link` of a previous page gives.
fn parse_chat_list_query(query: &str) -> Result<ChatListRange, AppError> {
    let q: ChatListQuery = super::extractors::parse_query(query)?;
    let limit = query_number("limit", q.limit.as_deref(), 1, MAX_PAGE)?;
    let before = q
        .before
        .as_deref()
        .map(|raw| {
            ChatListCursor::parse(raw).ok_or_else(|| {
                AppError::bad_request("before must be a cursor from the Link of a previous page.")
            })
        })
        .transpose()?;
    Ok(match (limit, before) {
        (None, None) => ChatListRange::All,
        (limit, before) => ChatListRange::Page {
            limit: limit.unwrap_or(DEFAULT_PAGE),
            before,
        },
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/chats",
    tag = "chats",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "at most this many chats; a `Link` header (rel=\"next\") leads to the next page when there are more"),
        ("before" = Option<String>, Query, pattern = r"^[0-9]{1,18}\.[1-9][0-9]{0,17}$", description = "opaque: the cursor of the `Link` of the previous page; alone, a page of 50"),
    ),
    responses(
        (status = 200, description = "The caller's chats, most recent activity first", body = Vec<ChatSummary>,
         headers(("Link" = String, description = "`</api/v1/chats?limit=N&before=CURSOR>; rel=\"next\"` when there are more chats"))),
        Always,
        Authenticated,
        BadRequest,
        NotFound
    ),
    security(("bearer" = []))
)]
pub async fn list_chats(
    state: web::Data<AppState>,
    user: AuthUser,
    req: actix_web::HttpRequest,
) -> ApiResult<HttpResponse> {
    let range = parse_chat_list_query(req.query_string())?;
    let page = state
        .actors
        .ask(ListChats {
            user_id: user.user_id,
            range,
        })
        .await?;
    let mut response = json(
        StatusCode::OK,
        &state.actors.board.showing_chats(page.chats),
    );
    if let (Some(next), ChatListRange::Page { limit, .. }) = (page.next, range) {
        super::link_next(
            &mut response,
            &format!("/api/v1/chats?limit={limit}&before={}", next.encode()),
        );
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/chats/{chat_id}",
    tag = "chats",
    params(("chat_id" = i64, Path, minimum = 1)),
    responses(
        (status = 200, body = Chat),
        Always,
        Authenticated,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn get_chat(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let chat_id = path_id(&path, ChatId)?;
    let chat = state
        .actors
        .ask(GetChat {
            user_id: user.user_id,
            chat_id,
        })
        .await?;
    Ok(json(StatusCode::OK, &state.actors.board.showing(chat)))
}

#[utoipa::path(
    post,
    path = "/api/v1/chats/{chat_id}/members",
    tag = "chats",
    params(("chat_id" = i64, Path, minimum = 1), ("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII characters; retries with the same key are answered once", pattern = "^[ -~]{1,255}$")),
    request_body = AddMemberRequest,
    responses(
        (status = 200, body = Chat, headers(("Idempotent-Replayed" = bool, description = "present (true) when the stored answer of an earlier request with the same key is returned"))),
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
pub async fn add_member(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyHeader,
    path: web::Path<String>,
    body: JsonBody<AddMemberRequest>,
) -> ApiResult<HttpResponse> {
    let chat_id = path_id(&path, ChatId)?;
    let key = key.bind(&body.fingerprint);
    let mut v = Violations::new();
    validate::positive_id(&mut v, "user_id", body.value.user_id);
    v.into_result().map_err(AppError::validation)?;
    let answer = state
        .actors
        .write(
            chat_id,
            AddMember {
                actor_id: user.user_id,
                chat_id,
                user_id: body.value.user_id,
                role: body.value.role.unwrap_or(Role::Member),
                key,
            },
        )
        .await?;
    reply(answer.map(|chat| state.actors.board.showing(chat)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/chats/{chat_id}/members/{user_id}",
    tag = "chats",
    params(("chat_id" = i64, Path, minimum = 1), ("user_id" = i64, Path, minimum = 1)),
    responses(
        (status = 204, description = "Member removed"),
        Always,
        Authenticated,
        NotFound,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn remove_member(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let chat_id = path_id(&path.0, ChatId)?;
    let member_id = path_id(&path.1, UserId)?;
    state
        .actors
        .write(
            chat_id,
            RemoveMember {
                actor_id: user.user_id,
                chat_id,
                user_id: member_id,
            },
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/api/v1/chats/{chat_id}/read",
    tag = "chats",
    params(("chat_id" = i64, Path, minimum = 1), ("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII characters; retries with the same key are answered once", pattern = "^[ -~]{1,255}$")),
    request_body = MarkReadRequest,
    responses(
        (status = 204, description = "Read marker moved forward (never back)", headers(("Idempotent-Replayed" = bool, description = "present (true) when the stored answer of an earlier request with the same key is returned"))),
        Always,
        Authenticated,
        JsonInput,
        NotFound,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyHeader,
    path: web::Path<String>,
    body: JsonBody<MarkReadRequest>,
) -> ApiResult<HttpResponse> {
    let chat_id = path_id(&path, ChatId)?;
    let key = key.bind(&body.fingerprint);
    let mut v = Violations::new();
    v.check(body.value.seq >= Seq::ZERO, "seq", "must be zero or more");
    v.into_result().map_err(AppError::validation)?;
    let answer = state
        .actors
        .write(
            chat_id,
            MarkRead {
                user_id: user.user_id,
                chat_id,
                seq: body.value.seq,
                key,
            },
        )
        .await?;
    // The answer is a 204: the marker itself is not part of it.
    reply(answer.map(|_| ()))
}

#[utoipa::path(
    put,
    path = "/api/v1/chats/{chat_id}/notifications",
    tag = "chats",
    params(("chat_id" = i64, Path, minimum = 1)),
    request_body = NotificationRequest,
    responses(
        (status = 200, description = "The caller's setting for this chat, as stored; shown to no one else (`Chat.notification`)", body = Notification),
        Always,
        Authenticated,
        JsonInput,
        NotFound,
        Forbidden,
        RateLimited
    ),
    security(("bearer" = []))
)]
pub async fn set_notifications(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: JsonBody<NotificationRequest>,
) -> ApiResult<HttpResponse> {
    let chat_id = path_id(&path, ChatId)?;
    let request = body.value;
    let answer = state
        .actors
        .write(
            chat_id,
            SetNotification {
                user_id: user.user_id,
                chat_id,
                setting: Notification {
                    level: request.level,
                    muted_until: request.muted_until,
                },
            },
        )
        .await?;
    reply(answer)
}

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

/// History query parameters, kept as text so that every malformed value gets the same 400.
#[derive(Deserialize)]
struct HistoryQuery {
    limit: Option<String>,
    before_seq: Option<String>,
    after_seq: Option<String>,
    thread: Option<String>,
}

/// What a history request asks for.
#[derive(Debug, PartialEq, Eq)]
struct HistoryRequest {
    cursor: HistoryCursor,
    limit: i64,
    /// `thread=main`: thread replies left out.
    main_only: bool,
}

fn parse_history_query(query: &str) -> Result<HistoryRequest, AppError> {
    let q: HistoryQuery = super::extractors::parse_query(query)?;
    let main_only = match q.thread.as_deref() {
        None => false,
        Some("main") => true,
        Some(_) => {
            return Err(AppError::bad_request(
                "thread must be \"main\" (or absent).",
            ))
        }
    };
    let limit = query_number("limit", q.limit.as_deref(), 1, MAX_PAGE)?.unwrap_or(DEFAULT_PAGE);
    let before = query_number("before_seq", q.before_seq.as_deref(), 0, i64::MAX)?.map(Seq);
    let after = query_number("after_seq", q.after_seq.as_deref(), 0, i64::MAX)?.map(Seq);
    let cursor = match (before, after) {
        (Some(before), Some(after)) => HistoryCursor::Between { after, before },
        (Some(seq), None) => HistoryCursor::BeforeSeq(seq),
        (None, Some(seq)) => HistoryCursor::AfterSeq(seq),
        (None, None) => HistoryCursor::Newest,
    };
    Ok(HistoryRequest {
        cursor,
        limit,
        main_only,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/chats/{chat_id}/messages",
    tag = "messages",
    params(("chat_id" = i64, Path, minimum = 1), ("limit" = Option<i64>, Query, minimum = 1, maximum = 200), ("before_seq" = Option<i64>, Query, minimum = 0, description = "only seqs below this one, newest first"), ("after_seq" = Option<i64>, Query, minimum = 0, description = "only seqs above this one, oldest first; with before_seq, the seqs strictly between the two"), ("thread" = Option<String>, Query, pattern = "^main$", description = "`main` leaves thread replies out (their roots stay, with their `thread` summary)")),
    responses(
        (status = 200, description = "A page, ascending by seq", body = HistoryPage),
        Always,
        Authenticated,
        BadRequest,
        NotFound,
        Forbidden
    ),
    security(("bearer" = []))
)]
pub async fn history(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    req: actix_web::HttpRequest,
) -> ApiResult<HttpResponse> {
    let chat_id = path_id(&path, ChatId)?;
    let asked = parse_history_query(req.query_string())?;
    let page = state
        .actors
        .ask(LoadHistory {
            user_id: user.user_id,
            chat_id,
            cursor: asked.cursor,
            limit: asked.limit,
            main_only: asked.main_only,
        })
        .await?;
    Ok(json(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_query() {
        let asked = |cursor, limit, main_only| {
            Some(HistoryRequest {
                cursor,
                limit,
                main_only,
            })
        };
        assert_eq!(
            parse_history_query("").ok(),
            asked(HistoryCursor::Newest, 50, false)
        );
        assert_eq!(
            parse_history_query("limit=10&before_seq=5").ok(),
            asked(HistoryCursor::BeforeSeq(Seq(5)), 10, false)
        );
        assert_eq!(
            parse_history_query("after_seq=7&thread=main").ok(),
            asked(HistoryCursor::AfterSeq(Seq(7)), 50, true)
        );
        assert_eq!(
            parse_history_query("after_seq=1&before_seq=9&limit=3").ok(),
            asked(
                HistoryCursor::Between {
                    after: Seq(1),
                    before: Seq(9)
                },
                3,
                false
            )
        );
        for bad in [
            "limit=0",
            "limit=201",
            "limit=x",
            "before_seq=-1",
            "after_seq=-2",
            "limit=1e3",
            "thread=all",
            "thread=",
        ] {
            assert!(parse_history_query(bad).is_err(), "{bad}");
        }
    }
}
