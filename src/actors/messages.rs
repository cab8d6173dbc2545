//! The messages the realtime actors exchange: HTTP handlers and sessions to rooms, rooms to
//! sessions. They live in this one module, which imports no actor, so that rooms, sessions and
//! the registry depend on it and never on each other.

use parley_types::{ChatId, Seq, TokenId, UserId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::prelude::SendError;
use actix::{Message, Recipient};
use bytestring::ByteString;

use super::db_executor::DbOp;
use super::db_ops::{AddMember, ChangeMessage, MarkRead, RemoveMember, SetNotification};
pub use crate::db::queries::Outcome;
use crate::db::queries::{BatchedSend, Idempotent, ReadMarker, StoredReply};
use crate::domain::{Chat, ChatEvent};
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;

// ---- answers -----------------------------------------------------------------------------

/// The answer to a write that may carry an `Idempotency-Key`.
#[derive(Debug)]
pub enum Reply<T> {
    Fresh { outcome: Outcome, value: T },
    Replayed(StoredReply),
}

impl<T> Reply<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        match self {
            Reply::Fresh { outcome, value } => Reply::Fresh {
                outcome,
                value: f(value),
            },
            Reply::Replayed(stored) => Reply::Replayed(stored),
        }
    }

    /// Splits a committed write into the client's answer and the events to broadcast (none
    /// for a replay: its events went out when it first ran).
    pub fn settle(outcome: Idempotent<T>, metrics: &Metrics) -> (Reply<T>, Vec<ChatEvent>) {
        match outcome {
            Idempotent::Fresh(written) => (
                Reply::Fresh {
                    outcome: written.outcome,
                    value: written.value,
                },
                written.events,
            ),
            Idempotent::Replayed(stored) => {
                metrics.idempotent_replays.inc();
                (Reply::Replayed(stored), Vec::new())
            }
        }
    }
}

// ---- to a room: writes -------------------------------------------------------------------

/// A message to store in the room's chat. Sends that arrive while the room's previous batch
/// is being stored go together in its next batch.
pub struct PostMessage {
    pub send: BatchedSend,
    pub span: tracing::Span,
}

impl Message for PostMessage {
    type Result = AppResult<Reply<crate::domain::Message>>;
}

/// A write to the room's chat other than a send, run by the `DbExecutor` as `O`.
pub struct Write<O: ChatWrite> {
    pub op: O,
    pub span: tracing::Span,
}

impl<O: ChatWrite> Write<O> {
    pub fn new(op: O) -> Self {
        Write {
            op,
            span: tracing::Span::current(),
        }
    }
}

impl<O: ChatWrite> Message for Write<O> {
    type Result = AppResult<Reply<O::Value>>;
}

/// A database operation that changes one chat, so that it goes through that chat's room.
pub trait ChatWrite: DbOp<Output = Idempotent<Self::Value>> {
    type Value: Send + 'static;

    /// A frame that is not persisted, sent to the chat once the write has committed.
    fn ephemeral(_value: &Self::Value) -> Option<EphemeralEvent> {
        None
    }
}

impl ChatWrite for ChangeMessage {
    type Value = crate::domain::Message;
}

impl ChatWrite for AddMember {
    type Value = Chat;
}

/// Through the room: its bot joins the chat.
impl ChatWrite for super::db_ops::CreateIncomingWebhook {
    type Value = crate::domain::IncomingWebhook;
}

/// Through the room when the resolution deletes the message: its tombstone is broadcast.
impl ChatWrite for super::db_ops::ResolveReport {
    type Value = super::db_ops::Resolved;
}

impl ChatWrite for RemoveMember {
    type Value = ();
}

/// Through the room, like every write to a member's row: push notifications (which read the
/// level) are decided there.
impl ChatWrite for SetNotification {
    type Value = crate::domain::Notification;
}

impl ChatWrite for MarkRead {
    type Value = Option<ReadMarker>;

    fn ephemeral(marker: &Option<ReadMarker>) -> Option<EphemeralEvent> {
        marker.map(|m| EphemeralEvent::Read {
            user_id: m.user_id,
            seq: m.seq,
        })
    }
}

// ---- to a room: sessions and committed events --------------------------------------------

/// Events committed without passing through this room (its chat's creation).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Deliver {
    pub events: Vec<ChatEvent>,
}

/// Events that are not persisted and carry no seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EphemeralEvent {
    Read { user_id: UserId, seq: Seq },
    Typing { user_id: UserId },
}

/// A `typing` frame from a session; refused when its user is not a member of the chat.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), Refusal>")]
pub struct Typing {
    pub user_id: UserId,
}

/// Why a room refused a session's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user is not a member of the chat, or there is no such chat (the same answer, so
    /// that chat ids cannot be probed).
    NotMember,
    /// The room could not load its chat; try again.
    Unavailable,
}

impl From<&AppError> for Refusal {
    fn from(error: &AppError) -> Self {
        match error {
            AppError::NotFound(_) => Refusal::NotMember,
            _ => Refusal::Unavailable,
        }
    }
}

/// Binds a session to the room, live from now on (if its user is a member).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub subscriber: Subscriber,
}

/// Binds a session to the room and sends it every event after `after_seq`, then `resumed`,
/// then live events.
#[derive(Message)]
#[rtype(result = "Result<(), Refusal>")]
pub struct Resume {
    pub subscriber: Subscriber,
    pub after_seq: Seq,
}

// ---- to a session ------------------------------------------------------------------------

/// A WebSocket session's key on this node (never on the wire: clients see `Ready.session_id`,
/// which names the node too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// How a room reaches one session.
#[derive(Clone)]
pub struct Subscriber {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub token_id: TokenId,
    pub outbox: Recipient<Outbound>,
    /// Frames in the outbox, counted across every room that offers to it.
    pub backlog: Arc<Backlog>,
    pub overflow: Recipient<Overflowed>,
    pub kick: Recipient<Kick>,
    pub membership: Recipient<Membership>,
}

impl Subscriber {
    /// Offers frames to the session's outbox; false if the session is gone, or if its outbox
    /// is full: then it is told to close as a slow consumer (its client reconnects and
    /// resumes), and counted. `chat_id` names the chat whose frames overflowed it, if any.
    pub fn offer(&self, outbound: &Outbound, chat_id: Option<ChatId>, metrics: &Metrics) -> bool {
        let frames = outbound.frames().len();
        if !self.backlog.reserve(frames) {
            return self.overflowed(chat_id, metrics);
        }
        match self.outbox.try_send(outbound.clone()) {
            Ok(()) => true,
            Err(refused) => {
                self.backlog.release(frames);
                match refused {
                    SendError::Full(_) => self.overflowed(chat_id, metrics),
                    SendError::Closed(_) => false,
                }
            }
        }
    }

    fn overflowed(&self, chat_id: Option<ChatId>, metrics: &Metrics) -> bool {
        metrics.ws_slow_consumer_closes.inc();
        self.overflow.do_send(Overflowed { chat_id });
        false
    }
}

/// How many frames a session has been offered and not yet written, against its limit. The
/// outbox is bounded in frames rather than in messages because one message may carry a run of
/// frames: a session that stops reading is dropped after the same backlog either way.
#[derive(Debug)]
pub struct Backlog {
    frames: AtomicUsize,
    limit: usize,
}

impl Backlog {
    pub fn new(limit: usize) -> Backlog {
        Backlog {
            frames: AtomicUsize::new(0),
            limit,
        }
    }

    /// Takes room for `n` frames; false, and nothing taken, past the limit.
    pub fn reserve(&self, n: usize) -> bool {
        let before = self.frames.fetch_add(n, Ordering::Relaxed);
        if before + n > self.limit {
            self.frames.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Gives back room for `n` frames, written or never queued.
    pub fn release(&self, n: usize) {
        self.frames.fetch_sub(n, Ordering::Relaxed);
    }
}

/// Tells a session that a chat's room has bound it (`bound`) or dropped it (its user left), so
/// that it refuses frames for chats it is not in without asking a room.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Membership {
    pub chat_id: ChatId,
    pub bound: bool,
}

/// Serialised frames for a session's outbox, in order: one event, or every event a room had
/// ready at once, so that the session writes them to its socket together instead of waking and
/// writing once per frame. A room builds one and offers clones of it to all its sessions:
/// cloning shares the frames.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Outbound(Arc<[ByteString]>);

impl Outbound {
    pub fn one(frame: ByteString) -> Outbound {
        Outbound(Arc::new([frame]))
    }

    pub fn many(frames: Vec<ByteString>) -> Outbound {
        Outbound(frames.into())
    }

    pub fn frames(&self) -> &[ByteString] {
        &self.0
    }
}

/// Told to a session whose outbox overflowed; a room has already dropped it.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Overflowed {
    /// The chat whose frames found the outbox full (none for presence frames).
    pub chat_id: Option<ChatId>,
}

/// Tells a session to close with this WebSocket close code.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Kick {
    pub code: parley_types::CloseCode,
    pub reason: &'static str,
}

/// Test-only fault: the room panics right after its next batch of sends commits, before it
/// broadcasts or answers it — the worst moment for a room to fail.
#[cfg(feature = "fault-injection")]
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct PanicAfterNextCommit;

// ---- committed events, serialised once -----------------------------------------------------

/// A committed event as a room orders and sends it: its seq, its frame (serialised once, on
/// the node that has it first), and the membership change it makes, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyEvent {
    pub seq: Seq,
    pub frame: ByteString,
    /// `(user_id, joined)` for `member.joined` / `member.left`.
    pub membership: Option<(UserId, bool)>,
}

impl ReadyEvent {
    /// `None` (logged) if the event does not serialise, which only a bug can cause.
    pub fn from_event(event: &ChatEvent) -> Option<Self> {
        match serde_json::to_string(event) {
            Ok(json) => Some(ReadyEvent {
                seq: event.seq,
                frame: ByteString::from(json),
                membership: event
                    .membership_change()
                    .map(|(m, joined)| (m.user_id, joined)),
            }),
            Err(e) => {
                tracing::error!(chat.id = %event.chat_id, seq = %event.seq, error = %e, "event did not serialise");
                None
            }
        }
    }
}

// ---- to a room: from other nodes ---------------------------------------------------------

/// Events another node's room committed, in its batch's order. The room slots them in by seq
/// like its own; what never arrives is read from the event log.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverRemote {
    pub events: Vec<ReadyEvent>,
}

/// A `typing` or `read` frame from another node: sent to the room's sessions as it is.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EphemeralRemote {
    pub frame: ByteString,
    pub from_user: UserId,
    /// Whether the sender's own sessions get it too (`read` yes, `typing` no).
    pub to_sender: bool,
}

/// The chat's `last_seq` in the database, from a node's periodic sweep: a room behind it reads
/// what it missed from the event log.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Sweep {
    pub last_seq: Seq,
}
