//! The REST API: one typed method per call the client needs, over one raw request that the
//! typed ones share (and that tests use to send what a typed method never would).

use std::time::Duration;

use awc::http::header::HeaderMap;
use awc::http::Method;
use bytes::Bytes;
use parley_types::requests::{
    AddMemberRequest, CreateBotRequest, CreateChatRequest, EditMessageRequest, LoginRequest,
    MarkReadRequest, NotificationRequest, ReactionRequest, RegisterRequest, SendMessageRequest,
};
use parley_types::{
    AccountList, AccountStatus, Attachment, AttachmentId, BotToken, Chat, ChatId, ChatKind,
    ChatSummary, ErrorCode, HistoryPage, Message, MessageId, MessageKind, Notification,
    NotificationLevel, Seq, Session, ThreadPage, Timestamp, User, UserId,
};
use parley_types::{
    AdminReport, Report, ReportAction, ReportId, ReportList, ReportReason, ReportRequest,
    ReportStatus, ResolveReportRequest,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::socket::Socket;
use crate::Error;

/// Largest answer read (a page of history with long messages and many reactions is well
/// under it).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A text message to `chat`, with nothing else set.
fn text_message(chat: ChatId, content: &str) -> SendMessageRequest {
    SendMessageRequest {
        chat_id: chat,
        kind: MessageKind::Text.as_str().to_owned(),
        content: content.to_owned(),
        reply_to_id: None,
        client_id: None,
        attachment_ids: Vec::new(),
        thread_root_id: None,
    }
}

/// A client of one server, with or without a bearer token. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    base: String,
    http: awc::Client,
    token: Option<String>,
}

/// An answer as it came: status, headers and body bytes.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Raw {
    /// The body as `T`, if the status is `expected`; otherwise the error it stands for.
    pub fn into_json<T: DeserializeOwned>(self, expected: &[u16]) -> Result<T, Error> {
        if !expected.contains(&self.status) {
            return Err(self.into_error());
        }
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode(e.to_string()))
    }

    /// The error an answer stands for: its `code` and `detail` when it has the contract's
    /// error body.
    pub fn into_error(self) -> Error {
        #[derive(Deserialize)]
        struct ErrorBody {
            detail: String,
            code: Option<ErrorCode>,
        }
        match serde_json::from_slice::<ErrorBody>(&self.body) {
            Ok(body) => Error::Api {
                status: self.status,
                code: body.code,
                detail: body.detail,
            },
            Err(_) => Error::Api {
                status: self.status,
                code: None,
                detail: String::from_utf8_lossy(&self.body).into_owned(),
            },
        }
    }
}

/// Which part of a chat's history to read.
#[derive(Clone, Copy, Debug, Default)]
pub struct HistoryRange {
    pub limit: Option<u32>,
    pub before_seq: Option<Seq>,
    pub after_seq: Option<Seq>,
    /// Leave thread replies out (`thread=main`).
    pub main_only: bool,
}

impl Client {
    /// A client of the server at `base` (`http://host:port`), with a 10 s timeout per request.
    pub fn new(base: &str) -> Client {
        let http = awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .finish();
        Client::with_http(base, http)
    }

    /// A client that sends through `http` (its connector, timeouts and source address).
    pub fn with_http(base: &str, http: awc::Client) -> Client {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            http,
            token: None,
        }
    }

    /// The same client, authenticated with `token`.
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn http(&self) -> &awc::Client {
        &self.http
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sends a request as given (`body` as is, with `Content-Type: application/json` unless
    /// `headers` name another) and reads the whole answer, whatever its status.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<Raw, Error> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for &(name, value) in headers {
            request = request.insert_header((name, value));
        }
        let typed = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        let sent = match body {
            Some(body) if typed => request.send_body(body).await,
            Some(body) => {
                request
                    .insert_header(("Content-Type", "application/json"))
                    .send_body(body)
                    .await
            }
            None => request.send().await,
        };
        let mut response = sent.map_err(|e| Error::Transport(e.to_string()))?;
        let body = response
            .body()
            .limit(MAX_BODY)
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Raw {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body,
        })
    }

    /// A JSON request whose answer is `T` when its status is one of `expected`.
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&B>,
        expected: &[u16],
    ) -> Result<T, Error> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Decode(e.to_string()))?
            .map(Bytes::from);
        self.raw(method, path, headers, body)
            .await?
            .into_json(expected)
    }

    /// A request whose answer has no body (`204`).
    async fn call_empty<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), Error> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Decode(e.to_string()))?
            .map(Bytes::from);
        let answer = self.raw(method, path, &[], body).await?;
        if answer.status == 204 {
            Ok(())
        } else {
            Err(answer.into_error())
        }
    }

    // ---- accounts ---------------------------------------------------------------------

    /// Creates an account and signs in to it.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<Session, Error> {
        let body = RegisterRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            display_name: display_name.map(str::to_owned),
        };
        self.call(
            Method::POST,
            "/api/v1/auth/register",
            &[],
            Some(&body),
            &[201],
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Result<Session, Error> {
        let body = LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        self.call(Method::POST, "/api/v1/auth/login", &[], Some(&body), &[200])
            .await
    }

    pub async fn logout(&self) -> Result<(), Error> {
        self.call_empty::<()>(Method::POST, "/api/v1/auth/logout", None)
            .await
    }

    pub async fn me(&self) -> Result<User, Error> {
        self.call::<(), _>(Method::GET, "/api/v1/users/me", &[], None, &[200])
            .await
    }

    // ---- bots -------------------------------------------------------------------------

    /// A bot owned by the caller, and its token (shown only here).
    pub async fn create_bot(
        &self,
        username: &str,
        display_name: Option<&str>,
    ) -> Result<BotToken, Error> {
        let body = CreateBotRequest {
            username: username.to_owned(),
            display_name: display_name.map(str::to_owned),
        };
        self.call(Method::POST, "/api/v1/bots", &[], Some(&body), &[201])
            .await
    }

    /// The caller's bots.
    pub async fn bots(&self) -> Result<Vec<User>, Error> {
        self.call::<(), _>(Method::GET, "/api/v1/bots", &[], None, &[200])
            .await
    }

    /// A new token for a bot of the caller's; every earlier one is revoked.
    pub async fn rotate_bot_token(&self, bot: UserId) -> Result<BotToken, Error> {
        let path = format!("/api/v1/bots/{}/token", bot.get());
        self.call::<(), _>(Method::POST, &path, &[], None, &[200])
            .await
    }

    /// Deletes (deactivates) a bot of the caller's.
    pub async fn delete_bot(&self, bot: UserId) -> Result<(), Error> {
        self.call_empty::<()>(Method::DELETE, &format!("/api/v1/bots/{}", bot.get()), None)
            .await
    }

    // ---- chats ------------------------------------------------------------------------

    /// A group with the caller as owner and `members` as members.
    pub async fn create_group(&self, title: &str, members: &[UserId]) -> Result<Chat, Error> {
        let body = CreateChatRequest {
            kind: ChatKind::Group,
            title: Some(title.to_owned()),
            member_ids: members.to_vec(),
        };
        self.call(Method::POST, "/api/v1/chats", &[], Some(&body), &[201])
            .await
    }

    /// The direct chat with `other` (the existing one, if there is one).
    pub async fn direct_chat(&self, other: UserId) -> Result<Chat, Error> {
        let body = CreateChatRequest {
            kind: ChatKind::Direct,
            title: None,
            member_ids: vec![other],
        };
        self.call(Method::POST, "/api/v1/chats", &[], Some(&body), &[200, 201])
            .await
    }

    /// The caller's chats, most recent activity first (the first page).
    pub async fn chats(&self) -> Result<Vec<ChatSummary>, Error> {
        self.call::<(), _>(Method::GET, "/api/v1/chats", &[], None, &[200])
            .await
    }

    pub async fn chat(&self, chat: ChatId) -> Result<Chat, Error> {
        self.call::<(), _>(
            Method::GET,
            &format!("/api/v1/chats/{chat}"),
            &[],
            None,
            &[200],
        )
        .await
    }

    pub async fn add_member(&self, chat: ChatId, user: UserId) -> Result<Chat, Error> {
        let body = AddMemberRequest {
            user_id: user,
            role: None,
        };
        let path = format!("/api/v1/chats/{chat}/members");
        self.call(Method::POST, &path, &[], Some(&body), &[200])
            .await
    }

    pub async fn remove_member(&self, chat: ChatId, user: UserId) -> Result<(), Error> {
        let path = format!("/api/v1/chats/{chat}/members/{user}");
        self.call_empty::<()>(Method::DELETE, &path, None).await
    }

    pub async fn mark_read(&self, chat: ChatId, seq: Seq) -> Result<(), Error> {
        let path = format!("/api/v1/chats/{chat}/read");
        self.call_empty(Method::POST, &path, Some(&MarkReadRequest { seq }))
            .await
    }

    pub async fn history(&self, chat: ChatId, range: HistoryRange) -> Result<HistoryPage, Error> {
        let mut query = Vec::new();
        if let Some(limit) = range.limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(seq) = range.before_seq {
            query.push(format!("before_seq={seq}"));
        }
        if let Some(seq) = range.after_seq {
            query.push(format!("after_seq={seq}"));
        }
        if range.main_only {
            query.push("thread=main".to_owned());
        }
        let path = format!("/api/v1/chats/{chat}/messages?{}", query.join("&"));
        self.call::<(), _>(Method::GET, &path, &[], None, &[200])
            .await
    }

    // ---- messages ---------------------------------------------------------------------

    /// Sends a text message. With an `idempotency_key`, a retry after a lost answer is
    /// answered with the first one's message and stores nothing twice.
    pub async fn send_message(
        &self,
        chat: ChatId,
        content: &str,
        idempotency_key: Option<&str>,
    ) -> Result<Message, Error> {
        self.send_reply(chat, content, None, None, idempotency_key)
            .await
    }

    /// Sends a message with every field the contract allows.
    pub async fn send_reply(
        &self,
        chat: ChatId,
        content: &str,
        reply_to: Option<MessageId>,
        client_id: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<Message, Error> {
        let body = SendMessageRequest {
            reply_to_id: reply_to,
            client_id: client_id.map(str::to_owned),
            ..text_message(chat, content)
        };
        self.post_message(&body, idempotency_key).await
    }

    /// Sends a reply in the thread of `root` (a message of the same chat, not itself a reply).
    pub async fn send_in_thread(
        &self,
        chat: ChatId,
        content: &str,
        root: MessageId,
        idempotency_key: Option<&str>,
    ) -> Result<Message, Error> {
        let body = SendMessageRequest {
            thread_root_id: Some(root),
            ..text_message(chat, content)
        };
        self.post_message(&body, idempotency_key).await
    }

    /// `POST /api/v1/messages`, with the `Idempotency-Key` when there is one.
    async fn post_message(
        &self,
        body: &SendMessageRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Message, Error> {
        let headers: Vec<(&str, &str)> = idempotency_key
            .map(|key| ("Idempotency-Key", key))
            .into_iter()
            .collect();
        self.call(
            Method::POST,
            "/api/v1/messages",
            &headers,
            Some(body),
            &[200],
        )
        .await
    }

    /// A page of a thread's replies after `after_seq`, ascending, with its root.
    pub async fn thread(
        &self,
        message: MessageId,
        after_seq: Option<Seq>,
        limit: Option<i64>,
    ) -> Result<ThreadPage, Error> {
        let mut query = Vec::new();
        if let Some(seq) = after_seq {
            query.push(format!("after_seq={seq}"));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        let path = format!("/api/v1/messages/{message}/thread?{}", query.join("&"));
        self.call::<(), _>(Method::GET, &path, &[], None, &[200])
            .await
    }

    /// Sets the caller's notification level for a chat, and until when it is muted.
    pub async fn set_notifications(
        &self,
        chat: ChatId,
        level: NotificationLevel,
        muted_until: Option<Timestamp>,
    ) -> Result<Notification, Error> {
        let body = NotificationRequest { level, muted_until };
        self.call(
            Method::PUT,
            &format!("/api/v1/chats/{chat}/notifications"),
            &[],
            Some(&body),
            &[200],
        )
        .await
    }

    /// Sends a message holding uploaded files (`content` may then be empty).
    pub async fn send_attachments(
        &self,
        chat: ChatId,
        content: &str,
        attachments: &[AttachmentId],
    ) -> Result<Message, Error> {
        let body = SendMessageRequest {
            attachment_ids: attachments.to_vec(),
            ..text_message(chat, content)
        };
        self.post_message(&body, None).await
    }

    // ---- attachments ------------------------------------------------------------------

    /// Uploads a file; send it in a message with `send_attachments`.
    pub async fn upload(
        &self,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<Attachment, Error> {
        let query = serde_urlencoded::to_string([("filename", filename)])
            .map_err(|e| Error::Decode(e.to_string()))?;
        self.raw(
            Method::POST,
            &format!("/api/v1/attachments?{query}"),
            &[("Content-Type", content_type)],
            Some(bytes),
        )
        .await?
        .into_json(&[201])
    }

    pub async fn attachment(&self, attachment: AttachmentId) -> Result<Attachment, Error> {
        let path = format!("/api/v1/attachments/{attachment}");
        self.call::<(), _>(Method::GET, &path, &[], None, &[200])
            .await
    }

    /// A file's bytes (up to the client's answer limit).
    pub async fn attachment_content(&self, attachment: AttachmentId) -> Result<Bytes, Error> {
        let path = format!("/api/v1/attachments/{attachment}/content");
        let answer = self.raw(Method::GET, &path, &[], None).await?;
        if answer.status == 200 {
            Ok(answer.body)
        } else {
            Err(answer.into_error())
        }
    }

    pub async fn edit_message(&self, message: MessageId, content: &str) -> Result<Message, Error> {
        let path = format!("/api/v1/messages/{message}");
        let body = EditMessageRequest {
            content: content.to_owned(),
        };
        self.call(Method::PATCH, &path, &[], Some(&body), &[200])
            .await
    }

    pub async fn delete_message(&self, message: MessageId) -> Result<Message, Error> {
        let path = format!("/api/v1/messages/{message}");
        self.call::<(), _>(Method::DELETE, &path, &[], None, &[200])
            .await
    }

    pub async fn react(&self, message: MessageId, emoji: &str) -> Result<Message, Error> {
        let path = format!("/api/v1/messages/{message}/reactions");
        let body = ReactionRequest {
            emoji: emoji.to_owned(),
        };
        self.call(Method::POST, &path, &[], Some(&body), &[200])
            .await
    }

    // ---- blocks and reports -----------------------------------------------------------

    /// Blocks `user`: they can no longer open, write into, or add the caller to a chat.
    pub async fn block(&self, user: UserId) -> Result<(), Error> {
        let path = format!("/api/v1/users/{user}/block");
        self.call_empty::<()>(Method::POST, &path, None).await
    }

    pub async fn unblock(&self, user: UserId) -> Result<(), Error> {
        let path = format!("/api/v1/users/{user}/block");
        self.call_empty::<()>(Method::DELETE, &path, None).await
    }

    /// The people the caller blocks.
    pub async fn blocks(&self) -> Result<Vec<User>, Error> {
        self.call::<(), _>(Method::GET, "/api/v1/users/me/blocks", &[], None, &[200])
            .await
    }

    /// Reports someone else's message to the operators.
    pub async fn report(
        &self,
        message: MessageId,
        reason: ReportReason,
        comment: Option<&str>,
    ) -> Result<Report, Error> {
        let path = format!("/api/v1/messages/{message}/report");
        let body = ReportRequest {
            reason,
            comment: comment.map(str::to_owned),
        };
        self.call(Method::POST, &path, &[], Some(&body), &[201])
            .await
    }

    // ---- operators (with the admin token) ---------------------------------------------

    /// Reports in `status` (all when `None`), newest first, at most `limit`.
    pub async fn admin_reports(
        &self,
        status: Option<ReportStatus>,
        limit: u32,
    ) -> Result<ReportList, Error> {
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(status) = status {
            query.push(("status", status.as_str()));
        }
        let path = format!("/admin/reports?{}", query_string(&query)?);
        self.call::<(), _>(Method::GET, &path, &[], None, &[200])
            .await
    }

    /// One report, with the messages around the reported one.
    pub async fn admin_report(&self, report: ReportId) -> Result<AdminReport, Error> {
        let path = format!("/admin/reports/{report}");
        self.call::<(), _>(Method::GET, &path, &[], None, &[200])
            .await
    }

    pub async fn admin_resolve_report(
        &self,
        report: ReportId,
        action: ReportAction,
    ) -> Result<AdminReport, Error> {
        let path = format!("/admin/reports/{report}/resolve");
        let body = ResolveReportRequest { action };
        self.call(Method::POST, &path, &[], Some(&body), &[200])
            .await
    }

    /// Accounts whose username or display name contains `query` (at most `limit`).
    pub async fn admin_users(&self, query: &str, limit: u32) -> Result<AccountList, Error> {
        let path = format!(
            "/admin/users?{}",
            query_string(&[("query", query), ("limit", &limit.to_string())])?
        );
        self.call::<(), _>(Method::GET, &path, &[], None, &[200])
            .await
    }

    /// The account with exactly this username, if there is one.
    pub async fn admin_user_named(&self, username: &str) -> Result<Option<AccountStatus>, Error> {
        let path = format!("/admin/users?{}", query_string(&[("username", username)])?);
        let found: AccountList = self
            .call::<(), _>(Method::GET, &path, &[], None, &[200])
            .await?;
        Ok(found.users.into_iter().find(|u| u.username == username))
    }

    pub async fn admin_deactivate(&self, user: UserId) -> Result<AccountStatus, Error> {
        let path = format!("/admin/users/{user}/deactivate");
        self.call::<(), _>(Method::POST, &path, &[], None, &[200])
            .await
    }

    pub async fn admin_reactivate(&self, user: UserId) -> Result<AccountStatus, Error> {
        let path = format!("/admin/users/{user}/reactivate");
        self.call::<(), _>(Method::POST, &path, &[], None, &[200])
            .await
    }

    // ---- realtime ---------------------------------------------------------------------

    /// Opens a WebSocket session with the client's token; it begins with `ready`.
    pub async fn connect(&self) -> Result<Socket, Error> {
        Socket::open(self).await
    }
}

/// A query string of these pairs, encoded.
fn query_string(pairs: &[(&str, &str)]) -> Result<String, Error> {
    serde_urlencoded::to_string(pairs).map_err(|e| Error::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_survives_the_query_string() {
        let text = "ann é&x=1 a-b_c.d~";
        let encoded = query_string(&[("query", text)]).unwrap();
        // One pair: the text's own `&`, `=`, spaces and non-ASCII are all escaped.
        assert!(!encoded.contains(['&', ' ', 'é']), "{encoded}");
        let decoded: Vec<(String, String)> = serde_urlencoded::from_str(&encoded).unwrap();
        assert_eq!(decoded, vec![("query".to_owned(), text.to_owned())]);
    }
}
