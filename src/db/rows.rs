//! Row types: what the tables hold, and how a row becomes a domain value. Ids and seqs are typed
//! here too (they are `BIGINT` columns read and written through `parley_types`' diesel impls).

use diesel::prelude::*;

use super::schema::*;
use crate::domain::events::EventKind;
use crate::domain::{
    self, AttachmentId, ChatId, EventSubscriptionId, MessageId, Role, Seq, Timestamp, UserId,
    WebhookId,
};
use crate::error::AppError;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: i64,
    pub deactivated_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub is_bot: bool,
    pub bot_owner_id: Option<UserId>,
}

impl From<UserRow> for domain::AccountStatus {
    fn from(r: UserRow) -> Self {
        domain::AccountStatus {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            created_at: domain::Timestamp(r.created_at),
            is_bot: r.is_bot,
            deactivated_at: r.deactivated_at.map(domain::Timestamp),
        }
    }
}

impl From<UserRow> for domain::User {
    fn from(r: UserRow) -> Self {
        domain::User {
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            created_at: Timestamp(r.created_at),
            is_bot: r.is_bot,
            online: None,
            last_seen_at: None,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub created_at: i64,
    pub is_bot: bool,
    pub bot_owner_id: Option<UserId>,
}

/// What a bot's password hash is: not a PHC string, so no password ever matches it.
pub const NO_PASSWORD: &str = "!";

#[derive(Insertable)]
#[diesel(table_name = auth_tokens)]
pub struct NewTokenRow<'a> {
    pub user_id: UserId,
    pub token_hash: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = chats, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ChatRow {
    pub id: ChatId,
    pub kind: String,
    pub title: Option<String>,
    pub created_at: i64,
    pub last_seq: Seq,
    pub last_activity_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = chats)]
pub struct NewChatRow<'a> {
    pub kind: &'a str,
    pub title: Option<&'a str>,
    pub direct_key: Option<&'a str>,
    pub created_at: i64,
    pub last_seq: Seq,
    pub last_activity_at: i64,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = chat_members, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct MemberRow {
    pub chat_id: ChatId,
    pub user_id: UserId,
    pub role: String,
    pub joined_at: i64,
    pub last_read_seq: Seq,
    /// Whether the other members may see this member's presence: set for the chat's creator,
    /// and by the member's first message in it.
    pub shows_presence: bool,
    /// `NotificationLevel`, as its word.
    pub notify_level: String,
    pub muted_until: Option<i64>,
    /// Whether the member may have a push device (`queries::device_flags`).
    pub has_devices: bool,
}

impl MemberRow {
    pub fn role(&self) -> Result<Role, AppError> {
        Role::parse(&self.role)
            .ok_or_else(|| AppError::internal(format!("unknown role {:?} in database", self.role)))
    }

    /// The member as the database knows it: `last_seen_at` as last written, and no `online`,
    /// which only the presence tracker in memory knows (it fills that in).
    pub fn into_domain(self, last_seen_at: Option<i64>) -> Result<domain::Member, AppError> {
        Ok(domain::Member {
            role: self.role()?,
            user_id: self.user_id,
            joined_at: Timestamp(self.joined_at),
            last_read_seq: self.last_read_seq,
            // Where the member shows presence, `false` until the board says otherwise (so a
            // stored answer reads as the fresh one did); elsewhere nothing.
            online: self.shows_presence.then_some(false),
            last_seen_at: last_seen_at.filter(|_| self.shows_presence).map(Timestamp),
            shows_presence: self.shows_presence,
        })
    }

    /// The member's own notification setting (an unknown word reads as the default).
    pub fn notification(&self) -> domain::Notification {
        domain::Notification {
            level: domain::NotificationLevel::parse(&self.notify_level).unwrap_or_default(),
            muted_until: self.muted_until.map(Timestamp),
        }
    }
}

/// A member row with its user's `last_seen_at`.
pub type MemberSeen = (MemberRow, Option<i64>);

/// The chat as `viewer` sees it: with the viewer's own notification setting.
pub fn chat_from_rows(
    chat: ChatRow,
    members: Vec<MemberSeen>,
    viewer: UserId,
) -> Result<domain::Chat, AppError> {
    let notification = members
        .iter()
        .find(|(member, _)| member.user_id == viewer)
        .map(|(member, _)| member.notification())
        .unwrap_or_default();
    let kind = domain::ChatKind::parse(&chat.kind)
        .ok_or_else(|| AppError::internal(format!("unknown chat kind {:?}", chat.kind)))?;
    Ok(domain::Chat {
        id: chat.id,
        kind,
        title: chat.title,
        created_at: Timestamp(chat.created_at),
        last_seq: chat.last_seq,
        members: members
            .into_iter()
            .map(|(member, seen)| member.into_domain(seen))
            .collect::<Result<_, _>>()?,
        notification,
    })
}

#[derive(Queryable, QueryableByName, Selectable, Clone, Debug)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct MessageRow {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub seq: Seq,
    pub author_id: UserId,
    pub kind: String,
    pub content: String,
    pub reply_to_id: Option<MessageId>,
    pub client_id: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// How many attachments it was sent with: whether to look for them.
    pub attachment_count: i16,
    /// The members it mentions, a JSON array of ids, ascending.
    pub mention_ids: String,
    pub thread_root_id: Option<MessageId>,
    /// On a thread's root: its `StoredThread` as JSON; `None` while it has no replies.
    pub thread_summary: Option<String>,
}

/// A thread's summary as its root's row keeps it.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct StoredThread {
    /// Replies that are not deleted.
    pub reply_count: i64,
    /// When the latest of them was sent (milliseconds).
    pub last_reply_at: i64,
    /// Who wrote them, ascending.
    pub participant_ids: Vec<UserId>,
}

impl StoredThread {
    /// The column's value: `None` while there is no reply.
    pub fn to_column(&self) -> Result<Option<String>, serde_json::Error> {
        if self.reply_count > 0 {
            serde_json::to_string(self).map(Some)
        } else {
            Ok(None)
        }
    }
}

impl MessageRow {
    pub fn into_aggregate(
        self,
        reactions: Vec<domain::Reaction>,
        attachments: Vec<domain::Attachment>,
    ) -> domain::Message {
        let thread = self.thread_summary();
        domain::Message {
            id: self.id,
            chat_id: self.chat_id,
            seq: self.seq,
            author_id: self.author_id,
            // Text is the only kind written so far.
            kind: domain::MessageKind::parse(&self.kind).unwrap_or_default(),
            content: self.content,
            reply_to_id: self.reply_to_id,
            client_id: self.client_id,
            created_at: Timestamp(self.created_at),
            edited_at: self.edited_at.map(Timestamp),
            deleted: self.deleted,
            reactions,
            attachments,
            // Written by this server from a list of ids; anything else reads as no mentions.
            mentions: serde_json::from_str(&self.mention_ids).unwrap_or_default(),
            thread_root_id: self.thread_root_id,
            thread,
        }
    }

    /// The thread as the row keeps it (empty when the message is no thread's root).
    pub fn stored_thread(&self) -> StoredThread {
        // Written by this server; anything else reads as no replies.
        self.thread_summary
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    /// The summary a thread's root shows; `None` while it has no replies.
    pub fn thread_summary(&self) -> Option<domain::ThreadSummary> {
        let thread = self.stored_thread();
        let replied = thread.reply_count > 0;
        replied.then_some(domain::ThreadSummary {
            reply_count: thread.reply_count,
            last_reply_at: Timestamp(thread.last_reply_at),
            participant_ids: thread.participant_ids,
        })
    }
}

#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = messages)]
pub struct NewMessageRow<'a> {
    pub chat_id: ChatId,
    pub seq: Seq,
    pub author_id: UserId,
    pub kind: &'a str,
    pub content: &'a str,
    pub reply_to_id: Option<MessageId>,
    pub client_id: Option<&'a str>,
    pub created_at: i64,
    pub deleted: bool,
    /// The message's words as search indexes them (`domain::search::index_terms`).
    pub search_terms: &'a str,
    pub mention_ids: &'a str,
    pub thread_root_id: Option<MessageId>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = reactions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ReactionRow {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub emoji: String,
    pub created_at: i64,
}

impl ReactionRow {
    pub fn into_domain(self) -> domain::Reaction {
        domain::Reaction {
            emoji: self.emoji,
            user_id: self.user_id,
            created_at: Timestamp(self.created_at),
        }
    }
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = chat_events, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct EventRow {
    pub chat_id: ChatId,
    pub seq: Seq,
    pub kind: String,
    pub message_id: Option<MessageId>,
    pub user_id: Option<UserId>,
    pub emoji: Option<String>,
    pub role: Option<String>,
    pub reaction_created_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Queryable, QueryableByName, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = idempotency_keys, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct IdempotencyRow {
    pub user_id: UserId,
    pub key: String,
    pub fingerprint: String,
    pub status: i32,
    pub body: String,
    pub created_at: i64,
    /// The message the stored answer shows, if it shows one.
    pub message_id: Option<MessageId>,
}

impl EventRow {
    pub fn message(
        kind: EventKind,
        chat_id: ChatId,
        seq: Seq,
        message_id: MessageId,
        at: i64,
    ) -> Self {
        EventRow {
            chat_id,
            seq,
            kind: kind.as_str().to_owned(),
            message_id: Some(message_id),
            user_id: None,
            emoji: None,
            role: None,
            reaction_created_at: None,
            created_at: at,
        }
    }

    pub fn reaction(
        kind: EventKind,
        chat_id: ChatId,
        seq: Seq,
        message_id: MessageId,
        reaction: &domain::Reaction,
        at: i64,
    ) -> Self {
        EventRow {
            user_id: Some(reaction.user_id),
            emoji: Some(reaction.emoji.clone()),
            reaction_created_at: Some(reaction.created_at.millis()),
            ..EventRow::message(kind, chat_id, seq, message_id, at)
        }
    }

    pub fn member(kind: EventKind, change: &domain::MemberChange, seq: Seq, at: i64) -> Self {
        EventRow {
            chat_id: change.chat_id,
            seq,
            kind: kind.as_str().to_owned(),
            message_id: None,
            user_id: Some(change.user_id),
            emoji: None,
            role: Some(change.role.as_str().to_owned()),
            reaction_created_at: None,
            created_at: at,
        }
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = attachments, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AttachmentRow {
    pub id: AttachmentId,
    pub uploader_id: UserId,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub created_at: i64,
    pub storage_key: String,
    pub message_id: Option<MessageId>,
    pub position: Option<i32>,
    pub thumbnail_key: Option<String>,
    pub thumbnail_refusal: Option<String>,
    pub removed_at: Option<i64>,
}

impl AttachmentRow {
    pub fn to_domain(&self) -> domain::Attachment {
        domain::Attachment {
            id: self.id,
            filename: self.filename.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            width: self.width,
            height: self.height,
            created_at: Timestamp(self.created_at),
            uploader_id: self.uploader_id,
        }
    }
}

impl From<AttachmentRow> for domain::attachments::StoredFile {
    fn from(row: AttachmentRow) -> Self {
        domain::attachments::StoredFile {
            attachment: row.to_domain(),
            storage_key: row.storage_key,
            thumbnail_key: row.thumbnail_key,
            thumbnail_refusal: row.thumbnail_refusal,
        }
    }
}

/// An upload whose bytes are in the store, about to be recorded.
#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = attachments)]
pub struct NewAttachmentRow {
    pub uploader_id: UserId,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub created_at: i64,
    pub storage_key: String,
}

impl NewAttachmentRow {
    pub fn new(upload: domain::commands::NewUpload, created_at: i64) -> Self {
        let domain::commands::NewUpload {
            uploader_id,
            filename,
            content_type,
            size,
            sha256,
            width,
            height,
            storage_key,
        } = upload;
        NewAttachmentRow {
            uploader_id,
            filename,
            content_type,
            size,
            sha256,
            width,
            height,
            created_at,
            storage_key,
        }
    }
}

/// `(chat_id, chat kind, user_id, username, role)` of a member, as mentions are resolved from.
pub type MemberNameRow = (ChatId, String, UserId, String, String);

/// The columns of a `MemberNameRow`, from `chat_members` joined with `users` and `chats`.
pub const MEMBER_NAME: (
    chat_members::chat_id,
    chats::kind,
    chat_members::user_id,
    users::username,
    chat_members::role,
) = (
    chat_members::chat_id,
    chats::kind,
    chat_members::user_id,
    users::username,
    chat_members::role,
);

/// Reactions grouped by message, each group in the order the rows came (the contract's, when
/// read ordered by `created_at`, `user_id`, `emoji`).
pub fn group_reactions(
    rows: Vec<ReactionRow>,
) -> std::collections::HashMap<MessageId, Vec<domain::Reaction>> {
    let mut grouped: std::collections::HashMap<MessageId, Vec<domain::Reaction>> =
        std::collections::HashMap::new();
    for row in rows {
        grouped
            .entry(row.message_id)
            .or_default()
            .push(row.into_domain());
    }
    grouped
}

/// Attachments grouped by the message that holds them, each group in the order the rows came
/// (position order, when read so).
pub fn group_attachments(
    rows: Vec<AttachmentRow>,
) -> std::collections::HashMap<MessageId, Vec<domain::Attachment>> {
    let mut grouped: std::collections::HashMap<MessageId, Vec<domain::Attachment>> =
        std::collections::HashMap::new();
    for row in rows {
        if let Some(message_id) = row.message_id {
            grouped.entry(message_id).or_default().push(row.to_domain());
        }
    }
    grouped
}

/// Members grouped by chat, with each chat's kind, for `domain::mentions::resolve`. (A row whose
/// kind or role this server does not know mentions no one.)
pub fn mentionable(
    rows: Vec<MemberNameRow>,
) -> std::collections::HashMap<ChatId, (domain::ChatKind, Vec<domain::mentions::MentionableMember>)>
{
    let mut by_chat = std::collections::HashMap::new();
    for (chat_id, kind, user_id, username, role) in rows {
        let (Some(kind), Some(role)) = (domain::ChatKind::parse(&kind), Role::parse(&role)) else {
            continue;
        };
        by_chat
            .entry(chat_id)
            .or_insert_with(|| (kind, Vec::new()))
            .1
            .push(domain::mentions::MentionableMember {
                user_id,
                username,
                role,
            });
    }
    by_chat
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = incoming_webhooks, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct IncomingWebhookRow {
    pub id: WebhookId,
    pub chat_id: ChatId,
    pub bot_user_id: UserId,
    pub name: String,
    pub secret_salt: String,
    pub created_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = incoming_webhooks)]
pub struct NewIncomingWebhookRow<'a> {
    pub chat_id: ChatId,
    pub bot_user_id: UserId,
    pub name: &'a str,
    pub secret_hash: &'a str,
    pub secret_salt: &'a str,
    pub created_by: UserId,
    pub created_at: i64,
}

#[derive(Queryable, Selectable, QueryableByName, Clone, Debug)]
#[diesel(table_name = webhook_subscriptions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SubscriptionRow {
    pub id: EventSubscriptionId,
    pub chat_id: ChatId,
    pub url: String,
    pub events: String,
    pub secret: String,
    pub created_at: i64,
    pub delivered_seq: Seq,
    /// When it may be claimed next; in a claim's answer, the claim's lease.
    pub due_at: i64,
    pub attempts: i32,
    pub failing_since: Option<i64>,
    pub disabled_at: Option<i64>,
}

impl SubscriptionRow {
    /// The event types it asked for (stored comma-separated).
    pub fn event_types(&self) -> Vec<String> {
        self.events.split(',').map(str::to_owned).collect()
    }

    /// As its owners see it (without the secret, which only its creation shows).
    pub fn shown(self) -> domain::EventSubscription {
        domain::EventSubscription {
            id: self.id,
            chat_id: self.chat_id,
            events: self.event_types(),
            url: self.url,
            secret: None,
            created_at: Timestamp(self.created_at),
            delivered_seq: self.delivered_seq,
            failing_since: self.failing_since.map(Timestamp),
            disabled_at: self.disabled_at.map(Timestamp),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = webhook_subscriptions)]
pub struct NewSubscriptionRow<'a> {
    pub chat_id: ChatId,
    pub url: &'a str,
    pub events: &'a str,
    pub secret: &'a str,
    pub created_by: UserId,
    pub created_at: i64,
    pub delivered_seq: Seq,
    pub due_at: i64,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct DeliveryRow {
    pub subscription_id: EventSubscriptionId,
    pub webhook_id: String,
    pub seq: Seq,
    pub status: Option<i32>,
    pub attempt: i32,
    pub at: i64,
    pub error: Option<String>,
}

impl From<DeliveryRow> for domain::WebhookDelivery {
    fn from(r: DeliveryRow) -> Self {
        domain::WebhookDelivery {
            webhook_id: r.webhook_id,
            seq: r.seq,
            status: r.status.and_then(|s| u16::try_from(s).ok()),
            attempt: u32::try_from(r.attempt).unwrap_or(0),
            at: Timestamp(r.at),
            error: r.error,
        }
    }
}

/// What a new incoming webhook is made of (the secret itself is never stored).
pub struct NewIncoming<'a> {
    pub name: &'a str,
    pub bot_username: &'a str,
    pub secret_hash: &'a str,
    pub secret_salt: &'a str,
}

/// A report of a message, as `message_reports` keeps it.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = message_reports, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ReportRow {
    pub id: domain::ReportId,
    pub message_id: MessageId,
    pub chat_id: ChatId,
    pub reporter_id: UserId,
    pub author_id: UserId,
    pub reason: String,
    pub comment: Option<String>,
    /// The `Message` as JSON, as it was when reported.
    pub snapshot: String,
    pub status: String,
    pub created_at: i64,
    pub resolution: Option<String>,
    pub resolved_at: Option<i64>,
}

impl ReportRow {
    fn reason(&self) -> Result<domain::ReportReason, AppError> {
        domain::ReportReason::parse(&self.reason)
            .ok_or_else(|| AppError::internal(format!("unknown report reason {:?}", self.reason)))
    }

    fn status(&self) -> Result<domain::ReportStatus, AppError> {
        domain::ReportStatus::parse(&self.status)
            .ok_or_else(|| AppError::internal(format!("unknown report status {:?}", self.status)))
    }

    pub fn for_reporter(self) -> Result<domain::Report, AppError> {
        Ok(domain::Report {
            reason: self.reason()?,
            status: self.status()?,
            id: self.id,
            message_id: self.message_id,
            comment: self.comment,
            created_at: Timestamp(self.created_at),
        })
    }

    pub fn for_operators(
        self,
        reporter: domain::User,
        author: domain::User,
    ) -> Result<domain::AdminReport, AppError> {
        let resolution = match self.resolution.as_deref() {
            None => None,
            Some(action) => Some(domain::ReportAction::parse(action).ok_or_else(|| {
                AppError::internal(format!("unknown report resolution {action:?}"))
            })?),
        };
        let message: domain::Message = serde_json::from_str(&self.snapshot)
            .map_err(|e| AppError::internal_from("a report's snapshot does not read", e))?;
        Ok(domain::AdminReport {
            reason: self.reason()?,
            status: self.status()?,
            id: self.id,
            comment: self.comment,
            created_at: Timestamp(self.created_at),
            reporter,
            author,
            chat_id: self.chat_id,
            message,
            resolution,
            resolved_at: self.resolved_at.map(Timestamp),
            context: None,
        })
    }
}
