//! The bodies of the API's requests, as clients send them and the server reads them (with the
//! constraints the OpenAPI document states, under the `openapi` feature; the server checks
//! each one again, with the contract's errors).

use serde::{Deserialize, Serialize};

use crate::{AttachmentId, ChatId, ChatKind, MessageId, Role, Seq, UserId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z0-9_.-]{3,32}$", example = "alice")
    )]
    pub username: String,
    /// Not only spaces or invisible characters, and not easily guessed (a common password, a
    /// simple pattern, the username): such a password is refused with 422.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128))]
    pub password: String,
    /// One line that shows something: no control characters, no bidirectional overrides.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 64,
            pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
        )
    )]
    pub display_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// The same rules as at registration.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128))]
    pub new_password: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateChatRequest {
    pub kind: ChatKind,
    /// Groups only; one line that shows something: no control characters, no bidirectional overrides.
    pub title: Option<String>,
    /// A direct chat names exactly one other user.
    #[serde(default)]
    pub member_ids: Vec<UserId>,
}

/// The body of `POST /api/v1/chats` as the document shows it: a group (any number of other
/// members, a title) or a direct chat (exactly one other member). The handler reads
/// `CreateChatRequest`, whose checks say the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CreateChatBody {
    Group {
        #[cfg_attr(
            feature = "openapi",
            schema(
                min_length = 1,
                max_length = 128,
                pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
            )
        )]
        title: Option<String>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_items = 999))]
        member_ids: Vec<UserId>,
    },
    Direct {
        /// The other user.
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1))]
        member_ids: Vec<UserId>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddMemberRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
    pub user_id: UserId,
    /// An extension of the contract: the owner may add someone as `admin`.
    #[serde(default)]
    pub role: Option<Role>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarkReadRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0))]
    pub seq: Seq,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendMessageRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
    pub chat_id: ChatId,
    #[serde(rename = "type", default = "text_type")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^text$", example = "text"))]
    pub kind: String,
    /// Shows something (not only spaces or invisible characters); no control characters but
    /// newline and tab; no bidirectional overrides or isolates. Empty only with attachments.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 0,
            max_length = 4000,
            pattern = "^(?:[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*)?$",
            example = "Test message"
        )
    )]
    pub content: String,
    /// A message of the same chat.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 1))]
    pub reply_to_id: Option<MessageId>,
    /// Echoed back in the answer and in the event; no NUL.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 64, pattern = "^[^\\u0000]*$")
    )]
    pub client_id: Option<String>,
    /// Uploads of the caller's that no message holds yet, at most 10, shown in this order.
    /// With attachments, `content` may be empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<i64>, max_items = 10))]
    pub attachment_ids: Vec<AttachmentId>,
    /// Puts the message in this message's thread: a message of the same chat that is not
    /// itself in a thread.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 1))]
    pub thread_root_id: Option<MessageId>,
}

/// `PUT /api/v1/chats/{chat_id}/notifications`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationRequest {
    pub level: crate::NotificationLevel,
    /// Until when the chat is muted; `null` (or absent) for not muted.
    #[serde(default)]
    pub muted_until: Option<crate::Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditMessageRequest {
    /// Shows something (not only spaces or invisible characters); no control characters but
    /// newline and tab; no bidirectional overrides or isolates.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 4000,
            pattern = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
        )
    )]
    pub content: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionRequest {
    /// One emoji: a single grapheme (a family or a skin tone counts as one) that shows
    /// something, without whitespace, control or bidirectional-override characters; the
    /// server takes up to 32 bytes, the document promises 8 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 8,
            pattern = "^[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028-\\u202F\\u205F\\u2066-\\u2069\\u3000]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028-\\u202F\\u205F\\u2066-\\u2069\\u3000]*$",
            example = "👍"
        )
    )]
    pub emoji: String,
}

pub fn text_type() -> String {
    "text".to_owned()
}

/// `POST /api/v1/push/subscriptions`: the browser's `PushSubscription` as its `toJSON()` gives
/// it (other fields, such as `expirationTime`, are ignored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushSubscriptionRequest {
    /// `https://` (or `http://` to a host the operator allows), without user information.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 2048,
            pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\\s]+([/?#]\\S*)?$"
        )
    )]
    pub endpoint: String,
    pub keys: PushSubscriptionKeys,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushSubscriptionKeys {
    /// The device's P-256 public key (an uncompressed point, 65 bytes), base64url.
    #[cfg_attr(feature = "openapi", schema(pattern = "^B[A-Za-z0-9_-]{86}=?$"))]
    pub p256dh: String,
    /// The device's 16-byte authentication secret, base64url.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9_-]{21}[AQgw](==)?$")
    )]
    pub auth: String,
}

/// `POST /api/v1/bots`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateBotRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z0-9_.-]{3,32}$", example = "ci-bot")
    )]
    pub username: String,
    /// As a person's display name.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 64,
            pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
        )
    )]
    pub display_name: Option<String>,
}

/// `POST /api/v1/chats/{chat_id}/webhooks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateWebhookRequest {
    /// Shown as the display name of the webhook's bot user (the rule of display names).
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 64,
            pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
        )
    )]
    pub name: String,
}

/// `POST /hooks/<secret>`: Slack's and Mattermost's incoming webhook body. Other fields
/// (`username`, `icon_url`, `channel`, ...) are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HookPostRequest {
    /// The rule of a message's content.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 4000,
            pattern = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180E\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u2064\\u2066-\\u2069\\u2800\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0][^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
        )
    )]
    pub text: String,
}

/// `POST /api/v1/chats/{chat_id}/subscriptions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateSubscriptionRequest {
    /// `https://` or `http://`; refused if it resolves to a loopback, private, link-local,
    /// multicast or unspecified address, unless the operator allows its host.
    #[cfg_attr(feature = "openapi", schema(max_length = 2048))]
    pub url: String,
    /// Event types as on the WebSocket (`message.created`, `reaction.added`, ...).
    #[cfg_attr(
        feature = "openapi",
        schema(min_items = 1, max_items = 7, value_type = Vec<EventType>)
    )]
    pub events: Vec<String>,
}

/// The event types of a chat's log, which outgoing webhooks subscribe to (the document's
/// name for the strings of `CreateSubscriptionRequest::events`).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
pub enum EventType {
    #[schema(rename = "message.created")]
    MessageCreated,
    #[schema(rename = "message.updated")]
    MessageUpdated,
    #[schema(rename = "message.deleted")]
    MessageDeleted,
    #[schema(rename = "reaction.added")]
    ReactionAdded,
    #[schema(rename = "reaction.removed")]
    ReactionRemoved,
    #[schema(rename = "member.joined")]
    MemberJoined,
    #[schema(rename = "member.left")]
    MemberLeft,
}
