//! Query code, written once and compiled for each backend's connection type.
//!
//! Each file in this folder is a module compiled twice, as `pg::<name>` and `sqlite::<name>`,
//! where `super::Conn` is that backend's concrete connection: diesel checks every query
//! against both backends at compile time, and `with_backend!` chooses the module at run time.
//! Functions that take a chat and users take the chat first, then the acting user, then the
//! user acted on (the typed ids make any other order a compile error).
//! The modules depend on each other in one direction: `guards` (checks and locks), then
//! `aggregates` (complete reads), then `events` (the log) and `unread` (the unread counters),
//! then the commands (`chats`, `messages`); `users` and `idempotency` stand apart.
use parley_types::{ChatId, MessageId, Seq, TokenId, UserId};

// `history_page` first: its statement macros serve `batch_statements` too.
#[macro_use]
mod history_page;
mod batch_statements;
mod device_flags;
mod fixed_text;
mod maintenance_lock;
mod mention_page;
mod push_claims;
mod search_page;
mod unread_locks;
mod webhook_claims;

pub use maintenance_lock::PURGE_LOCK;

// Each query file is compiled once per backend, on purpose.
#[allow(clippy::duplicate_mod)]
pub mod pg;
#[allow(clippy::duplicate_mod)]
pub mod sqlite;

/// How a write went, as its answer says it; `http/` alone turns it into a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Something new exists (a chat, an account): the answer shows it.
    Created,
    /// Done, or found done already (an existing direct chat): the answer shows the result.
    Done,
    /// Done; the answer has no body.
    NoContent,
}

impl Outcome {
    /// How an idempotency record keeps the outcome (the numbers its `status` column has always
    /// held, so older records read the same).
    pub(crate) fn stored(self) -> i32 {
        match self {
            Outcome::Created => 201,
            Outcome::Done => 200,
            Outcome::NoContent => 204,
        }
    }

    pub(crate) fn from_stored(stored: i32) -> Option<Self> {
        [Outcome::Created, Outcome::Done, Outcome::NoContent]
            .into_iter()
            .find(|o| o.stored() == stored)
    }

    /// Whether the answer carries a body.
    pub fn has_body(self) -> bool {
        self != Outcome::NoContent
    }
}

/// What a write hands back to the executor: the answer for the client, and the events it
/// committed (to be broadcast once the transaction is durable).
#[derive(Debug)]
pub struct Written<T> {
    pub outcome: Outcome,
    pub value: T,
    pub events: Vec<crate::domain::ChatEvent>,
    /// The message the answer shows, recorded with its idempotency record so that deleting
    /// the message can rewrite what the record replays.
    pub message_id: Option<MessageId>,
}

impl<T> Written<T> {
    pub fn new(outcome: Outcome, value: T, events: Vec<crate::domain::ChatEvent>) -> Self {
        Written {
            outcome,
            value,
            events,
            message_id: None,
        }
    }
}

impl Written<crate::domain::Message> {
    /// An answer that shows a message.
    pub fn message(
        outcome: Outcome,
        value: crate::domain::Message,
        events: Vec<crate::domain::ChatEvent>,
    ) -> Self {
        let message_id = Some(value.id);
        Written {
            message_id,
            ..Written::new(outcome, value, events)
        }
    }
}

/// The answer to a request that carried an `Idempotency-Key`.
#[derive(Debug)]
pub enum Idempotent<T> {
    /// First time this key was used: the operation ran and committed.
    Fresh(Written<T>),
    /// The key was used before with the same request: the stored answer, byte for byte.
    Replayed(StoredReply),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReply {
    pub outcome: Outcome,
    /// The answer's body, byte for byte (empty when the outcome has none).
    pub body: String,
}

/// The account a valid token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenOwner {
    pub token_id: TokenId,
    pub user_id: UserId,
    pub expires_at: crate::domain::Timestamp,
}

/// Where a read marker ended up, when it moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReadMarker {
    pub chat_id: ChatId,
    pub user_id: UserId,
    pub seq: Seq,
}

pub use crate::domain::commands::{BatchedSend, IdempotencyKey, NewMessage, SearchScope};
pub use batch_statements::BatchStatements;
pub use device_flags::DeviceFlagLocks;
pub use history_page::HistoryPageStatement;
pub use mention_page::MentionPageStatement;
pub use push_claims::{ClaimedRow, PushClaims};
pub use search_page::SearchPageStatement;
pub use unread_locks::UnreadLocks;
pub use webhook_claims::WebhookClaims;

/// What resolving a report did: the report, the events of a deleted message, and the tokens a
/// deactivation revoked, each with its user (their sessions are to be closed).
#[derive(Debug)]
pub struct Resolved {
    pub report: crate::domain::AdminReport,
    pub revoked: Vec<(UserId, TokenId)>,
}

/// What became of one send in a batch.
// One per send of a batch, moved once; boxing the answer would allocate for every send.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum BatchOutcome {
    Done(crate::error::AppResult<Idempotent<crate::domain::Message>>),
    /// Another send in the same batch carries the same `Idempotency-Key`; it goes in a later
    /// batch, where it replays the first one's answer.
    Deferred,
}

/// Returned when a key claimed by a concurrent request appeared after the batch checked it;
/// the whole batch is rolled back and tried again.
pub const BATCH_RACE: crate::error::ErrorCode = crate::error::ErrorCode::IdempotencyKeyInFlight;
