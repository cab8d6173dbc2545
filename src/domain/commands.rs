//! What a request asks the actors to do, once validated: plain values that the handlers build
//! and the database layer reads, so that neither builds the other's types.

use parley_types::{AttachmentId, ChatId, MessageId, UserId};

/// A validated `Idempotency-Key` with the fingerprint of the request that carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

/// A message to store, already validated.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub chat_id: ChatId,
    pub author_id: UserId,
    pub content: String,
    pub reply_to_id: Option<MessageId>,
    pub client_id: Option<String>,
    /// Distinct, in the order the message shows them.
    pub attachment_ids: Vec<AttachmentId>,
    /// The root of the thread it replies in.
    pub thread_root_id: Option<MessageId>,
}

/// A send waiting for its batch.
#[derive(Clone, Debug)]
pub struct BatchedSend {
    pub message: NewMessage,
    pub key: Option<IdempotencyKey>,
    /// The chat's members who had no open session anywhere when the room handed the batch
    /// over: who may be owed a push notification (the store applies the rest of the rule).
    /// Filled in by the room, shared by the sends of its batch.
    pub offline_members: OfflineMembers,
    /// In a direct chat, the other member, as the room knows it: the store refuses the send
    /// if they block the author (one probe of the block's key, with the batch's checks).
    /// Filled in by the room.
    pub direct_peer: Option<UserId>,
}

/// Members of a chat with no open session, as a room saw them (sorted, distinct).
#[derive(Clone, Debug, Default)]
pub struct OfflineMembers(pub std::sync::Arc<[UserId]>);

impl OfflineMembers {
    pub fn ids(&self) -> &[UserId] {
        &self.0
    }
}

/// Which matches a page takes.
#[derive(Clone, Copy, Debug)]
pub struct SearchScope {
    pub user_id: UserId,
    /// Only this chat's messages.
    pub chat_id: Option<ChatId>,
    /// Only messages with a smaller id.
    pub before: Option<MessageId>,
}

/// An upload whose bytes are in the store, to be recorded.
#[derive(Clone, Debug)]
pub struct NewUpload {
    pub uploader_id: UserId,
    pub filename: String,
    /// What the bytes are (`domain::attachments::served_type`).
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub storage_key: String,
}
