//! The values the API hands out. Plain owned data: once built it cannot touch a database, so
//! writing a response can never trigger a query.

use serde::{Deserialize, Serialize};

use crate::{
    AttachmentId, ChatId, ChatKind, EventSubscriptionId, MessageId, NotificationLevel, Role, Seq,
    SubscriptionId, Timestamp, UserId, WebhookId,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub created_at: Timestamp,
    /// A bot (a person's, or an incoming webhook's): it signs in only by token.
    #[serde(default)]
    pub is_bot: bool,
    /// Whether the user has a session open. Only where the caller shares a chat with this user
    /// (or is this user); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
    /// When the user was last online (about now while online). Only where `online` is, and
    /// not before the user was first seen online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<Timestamp>,
}

/// An account as operators see it: a `User`, and whether (since when) it is deactivated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountStatus {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub created_at: Timestamp,
    #[serde(default)]
    pub is_bot: bool,
    pub deactivated_at: Option<Timestamp>,
}

impl From<AccountStatus> for User {
    /// The account as other users see it: without its state.
    fn from(account: AccountStatus) -> Self {
        User {
            id: account.id,
            username: account.username,
            display_name: account.display_name,
            created_at: account.created_at,
            is_bot: account.is_bot,
            online: None,
            last_seen_at: None,
        }
    }
}

/// `GET /admin/users`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountList {
    pub users: Vec<AccountStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: UserId,
    pub role: Role,
    pub joined_at: Timestamp,
    pub last_read_seq: Seq,
    /// Whether the member has a session open; null where the member has not shown their
    /// presence in this chat (created it, or written in it).
    pub online: Option<bool>,
    /// When the member was last online (about now while online); null if never, or where
    /// `online` is null.
    pub last_seen_at: Option<Timestamp>,
    /// Whether the member has shown their presence in this chat; never sent.
    #[serde(skip)]
    pub shows_presence: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Chat {
    pub id: ChatId,
    pub kind: ChatKind,
    pub title: Option<String>,
    pub created_at: Timestamp,
    pub last_seq: Seq,
    pub members: Vec<Member>,
    /// The caller's own notification setting for this chat (no one else's is ever shown).
    #[serde(default)]
    pub notification: Notification,
}

/// A member's notification setting for one chat.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    pub level: NotificationLevel,
    /// Until when nothing notifies (whatever the level); `null` when not muted.
    pub muted_until: Option<Timestamp>,
}

impl Chat {
    pub fn member(&self, user_id: UserId) -> Option<&Member> {
        self.members.iter().find(|m| m.user_id == user_id)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatSummary {
    #[serde(flatten)]
    pub chat: Chat,
    pub last_message: Option<Message>,
    pub unread_count: i64,
    /// Unread messages (as `unread_count` counts them) that mention the caller.
    #[serde(default)]
    pub unread_mention_count: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reaction {
    pub emoji: String,
    pub user_id: UserId,
    pub created_at: Timestamp,
}

/// What a message is. Text is the one kind so far; the field exists so that clients can tell
/// the kinds that come later apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    #[default]
    Text,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(MessageKind::Text),
            _ => None,
        }
    }
}

/// A message together with everything a client shows with it. Always built complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub seq: Seq,
    pub author_id: UserId,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    pub content: String,
    pub reply_to_id: Option<MessageId>,
    pub client_id: Option<String>,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub deleted: bool,
    pub reactions: Vec<Reaction>,
    /// In the order the sender gave them; `[]` when none (and on a deleted message).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The members the text mentions, ascending (`[]` when none, and on a deleted message).
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// The root of the thread this message is a reply in; `null` outside a thread.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub thread_root_id: Option<MessageId>,
    /// On a thread's root: its replies so far; `null` when it has none.
    #[serde(default)]
    pub thread: Option<ThreadSummary>,
}

/// What a thread's root shows of its replies (deleted replies not counted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThreadSummary {
    pub reply_count: i64,
    pub last_reply_at: Timestamp,
    /// Who wrote the replies, ascending.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<i64>))]
    pub participant_ids: Vec<UserId>,
}

/// `GET /api/v1/messages/{id}/thread`: a thread's root and a page of its replies, ascending.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThreadPage {
    pub root: Message,
    pub messages: Vec<Message>,
    pub has_more: bool,
}

/// An uploaded file. Its `content_type` is what its bytes are, whatever the uploader said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    pub id: AttachmentId,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    /// sha256 of the bytes, lowercase hex.
    pub sha256: String,
    /// For raster images; else `null`.
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub created_at: Timestamp,
    pub uploader_id: UserId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

/// How a token is presented: `Authorization: Bearer <token>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    #[default]
    Bearer,
}

/// A freshly issued bearer token and the account it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub user: User,
    pub access_token: String,
    pub token_type: TokenType,
}

/// `GET /api/v1/push/vapid-public-key`: the server's VAPID public key, as a browser's
/// `pushManager.subscribe({applicationServerKey})` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VapidPublicKey {
    /// The uncompressed P-256 point (65 bytes), base64url without padding.
    pub key: String,
}

/// A device that receives the caller's push notifications (its keys are never shown again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushSubscription {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: SubscriptionId,
    pub endpoint: String,
    pub created_at: Timestamp,
}

/// `POST /api/v1/bots` and `POST /api/v1/bots/{id}/token`: the bot and its one live token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotToken {
    pub user: User,
    /// The bot's bearer token, shown only here: every earlier one is revoked.
    pub access_token: String,
}

/// An incoming webhook: `POST {url}` with `{"text"}` posts into its chat as its bot user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncomingWebhook {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: WebhookId,
    pub name: String,
    /// `/hooks/<secret>`, relative to the server: whoever has it can post into the chat.
    pub url: String,
    /// The user its messages are sent by (a bot, member of the chat).
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub bot_user_id: UserId,
    pub created_at: Timestamp,
}

/// An outgoing webhook: the chat's events of the listed types are POSTed to `url`, signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventSubscription {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: EventSubscriptionId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub chat_id: ChatId,
    pub url: String,
    pub events: Vec<String>,
    /// The signing secret (`whsec_` and base64), only in the answer that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: Timestamp,
    /// Every event up to this seq has been delivered (or was not of a listed type).
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub delivered_seq: Seq,
    /// Since when the next event has failed, while it does.
    pub failing_since: Option<Timestamp>,
    /// When it was disabled after a day of failure; nothing is sent after that.
    pub disabled_at: Option<Timestamp>,
}

/// One attempt to deliver one event to an outgoing webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    /// The `webhook-id` sent: the same on every attempt at the event.
    pub webhook_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub seq: Seq,
    /// The receiver's status, or none when it did not answer.
    pub status: Option<u16>,
    /// 1 for the first attempt at the event.
    pub attempt: u32,
    pub at: Timestamp,
    /// Why the attempt failed (no answer in time, a refused address, the status's reason).
    pub error: Option<String>,
}
