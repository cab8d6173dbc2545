//! The values Parley hands to clients. Every type here is plain owned data: once built it
//! cannot touch the database, so serialising a response can never trigger a query.

pub mod chat_list;
pub mod events;
pub mod search;
pub mod time;
pub mod validate;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use events::{ChatEvent, EventPayload, MemberChange, ReactionChange};
pub use time::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub created_at: Timestamp,
    /// Whether the user has a session open. Only where the caller shares a chat with this user
    /// (or is this user); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
    /// When the user was last online (about now while online). Only where `online` is, and
    /// not before the user was first seen online.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<Timestamp>,
}

/// An account as operators see it: a `User`, and whether (since when) it is deactivated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccountStatus {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub created_at: Timestamp,
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
            online: None,
            last_seen_at: None,
        }
    }
}

/// `GET /admin/users`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccountList {
    pub users: Vec<AccountStatus>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Direct,
    Group,
}

impl ChatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatKind::Direct => "direct",
            ChatKind::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(ChatKind::Direct),
            "group" => Some(ChatKind::Group),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    // Declared from least to most privileged so that `Ord` compares authority.
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    pub fn can_manage_members(self) -> bool {
        self >= Role::Admin
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Member {
    pub user_id: i64,
    pub role: Role,
    pub joined_at: Timestamp,
    pub last_read_seq: i64,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Chat {
    pub id: i64,
    pub kind: ChatKind,
    pub title: Option<String>,
    pub created_at: Timestamp,
    pub last_seq: i64,
    pub members: Vec<Member>,
}

impl Chat {
    pub fn member(&self, user_id: i64) -> Option<&Member> {
        self.members.iter().find(|m| m.user_id == user_id)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChatSummary {
    #[serde(flatten)]
    pub chat: Chat,
    pub last_message: Option<Message>,
    pub unread_count: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reaction {
    pub emoji: String,
    pub user_id: i64,
    pub created_at: Timestamp,
}

/// A message together with everything a client shows with it. Always built complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Message {
    pub id: i64,
    pub chat_id: i64,
    pub seq: i64,
    pub author_id: i64,
    #[serde(rename = "type")]
    #[schema(example = "text")]
    pub kind: String,
    pub content: String,
    pub reply_to_id: Option<i64>,
    pub client_id: Option<String>,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub deleted: bool,
    pub reactions: Vec<Reaction>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

/// Which slice of a chat's history a page covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryCursor {
    Newest,
    BeforeSeq(i64),
    AfterSeq(i64),
    /// The seqs strictly between the two, read forward from `after`: the way to fill a gap
    /// between two events a client holds.
    Between {
        after: i64,
        before: i64,
    },
}

impl HistoryCursor {
    /// Whether the page is read oldest first (from a lower bound) rather than newest first.
    pub fn reads_forward(self) -> bool {
        matches!(
            self,
            HistoryCursor::AfterSeq(_) | HistoryCursor::Between { .. }
        )
    }
}

/// A freshly issued bearer token and the account it belongs to.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Session {
    pub user: User,
    pub access_token: String,
    #[schema(value_type = String, example = "bearer")]
    pub token_type: &'static str,
}
