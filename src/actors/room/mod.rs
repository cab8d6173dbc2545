//! `ChatRoom`: one per live chat. Every write to the chat passes through it: the room loads the
//! chat's members and `last_seq` before it handles anything, so each event it commits lies
//! above what it knows and is broadcast by construction.
//!
//! The room's jobs, each in its own file:
//! - `sequencer`: the ordering rules — what each session is sent, in `seq` order, once (pure,
//!   property-tested);
//! - `outlet`: the sessions the room serves, as the sequencer reaches them;
//! - `broadcast`: pacing the broadcast and filling gaps from the event log;
//! - `send_batch`: storing sends in batches (the sends that arrive while a batch is stored go
//!   in the next one);
//! - `replay`: feeding a resuming session from the event log;
//! - `ephemeral`: `typing` and `read` frames, which are not events;
//! - `lifecycle`: loading the chat, retiring when idle, restarting after a failure;
//! - `handlers`: the messages the room takes.

mod broadcast;
mod ephemeral;
mod handlers;
mod lifecycle;
mod outlet;
mod replay;
mod send_batch;
pub mod sequencer;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use parley_types::{ChatId, Seq, UserId};
use tokio::sync::oneshot;

use super::cluster_bus::ClusterBus;
use super::db_executor::DbExecutor;
use super::messages::{ReadyEvent, Refusal, Reply, SessionId, Subscriber};
use super::presence::PresenceBoard;
use super::push_delivery::PushQueued;
use super::room_slots::RoomSlots;
use super::session_directory::SessionDirectory;
use crate::config::RoomSettings;
use crate::db::queries::BatchedSend;
use crate::domain::Message as ChatMessage;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use outlet::Sessions;
use sequencer::{MembershipChange, Sequenced, Sequencer};

/// Most events read from the log in one gap fill or one replay batch. Small enough that a batch
/// fits a session's outbox with room to spare.
const LOG_BATCH: i64 = 128;

/// What every room of a server shares.
#[derive(Clone)]
pub struct RoomDeps {
    pub db: Addr<DbExecutor>,
    pub directory: SessionDirectory,
    pub metrics: Arc<Metrics>,
    pub settings: RoomSettings,
    /// Most sends stored in one batch.
    pub send_batch: usize,
    pub slots: RoomSlots<ChatRoom>,
    /// The way to the other nodes' rooms, when there are other nodes.
    pub bus: Option<ClusterBus>,
    /// Who is online on any node: a batch carries the members who are not (push).
    pub presence: PresenceBoard,
    /// Told when a batch may have owed push notifications, so they go out at once.
    pub push: Option<Recipient<PushQueued>>,
}

impl Sequenced for ReadyEvent {
    fn seq(&self) -> Seq {
        self.seq
    }

    fn membership(&self) -> Option<MembershipChange> {
        self.membership.map(|(user, joined)| {
            if joined {
                MembershipChange::Joined(user)
            } else {
                MembershipChange::Left(user)
            }
        })
    }
}

struct QueuedSend {
    send: BatchedSend,
    reply: oneshot::Sender<AppResult<Reply<ChatMessage>>>,
    span: tracing::Span,
}

/// Where the room's knowledge of its chat comes from.
enum Start {
    /// Read members and `last_seq` from the database before handling anything. `carried` are
    /// the sessions of a room that failed, with what it had sent them: each is fed from the
    /// event log from there, so nothing the failed room committed and never sent is lost.
    /// `seed` starts the broadcast below `last_seq`, for a room started by another node's
    /// events (which the registry delivers next) so that the sessions it binds get them.
    Load {
        carried: Vec<(Subscriber, Seq)>,
        seed: Option<Seq>,
    },
    /// A chat created a moment ago: its members, and the seq before its creation's events
    /// (which the registry delivers next).
    Created {
        member_ids: Vec<UserId>,
        delivered_seq: Seq,
        direct: bool,
    },
}

pub struct ChatRoom {
    chat_id: ChatId,
    deps: RoomDeps,
    start: Option<Start>,
    /// Set when the room could not load its chat (it does not exist, or the database failed):
    /// every request is refused with it until the room retires.
    refusal: Option<AppError>,
    /// What each session is sent, and in which order.
    sequencer: Sequencer<SessionId, ReadyEvent>,
    /// The sessions bound to the room.
    sessions: Sessions,
    /// A direct chat: each send names the other member, whose block refuses it.
    direct: bool,
    last_activity: Instant,
    gap_fill: Option<SpawnHandle>,
    /// When the last broadcast of committed events went out, and the broadcast waiting for
    /// the fan-out interval to pass since then, if one is.
    last_broadcast: Option<Instant>,
    paced_flush: Option<SpawnHandle>,
    /// Sends waiting for the next batch.
    sends: VecDeque<QueuedSend>,
    /// A batch of sends is being stored.
    storing: bool,
    /// Writes and log reads started and not finished.
    in_flight: usize,
    /// Messages handled that came through the slots (see `room_slots`).
    handled: u64,
    #[cfg(feature = "fault-injection")]
    panic_after_commit: bool,
}

impl ChatRoom {
    /// A room that loads its chat's state when it starts.
    pub fn new(chat_id: ChatId, deps: RoomDeps) -> Self {
        Self::with_start(
            chat_id,
            deps,
            Start::Load {
                carried: Vec::new(),
                seed: None,
            },
        )
    }

    /// A room started for events another node committed, the first of which is
    /// `delivered_seq + 1`.
    pub fn seeded(chat_id: ChatId, deps: RoomDeps, delivered_seq: Seq) -> Self {
        Self::with_start(
            chat_id,
            deps,
            Start::Load {
                carried: Vec::new(),
                seed: Some(delivered_seq),
            },
        )
    }

    /// The room of a chat that was just created, started from the creation's own result: it
    /// binds the members' open sessions, and broadcasts the events after `delivered_seq` (the
    /// creation's) to them when they are delivered.
    pub fn created(
        chat_id: ChatId,
        deps: RoomDeps,
        member_ids: Vec<UserId>,
        delivered_seq: Seq,
        direct: bool,
    ) -> Self {
        Self::with_start(
            chat_id,
            deps,
            Start::Created {
                member_ids,
                delivered_seq,
                direct,
            },
        )
    }

    fn with_start(chat_id: ChatId, deps: RoomDeps, start: Start) -> Self {
        let sessions = Sessions::new(chat_id, deps.directory.clone(), deps.metrics.clone());
        ChatRoom {
            chat_id,
            deps,
            start: Some(start),
            refusal: None,
            sequencer: Sequencer::new([], Seq::ZERO),
            sessions,
            direct: false,
            last_activity: Instant::now(),
            gap_fill: None,
            last_broadcast: None,
            paced_flush: None,
            sends: VecDeque::new(),
            storing: false,
            in_flight: 0,
            handled: 0,
            #[cfg(feature = "fault-injection")]
            panic_after_commit: false,
        }
    }

    pub fn chat_id(&self) -> ChatId {
        self.chat_id
    }

    /// What a session's request is refused with while the room has no chat to serve.
    fn session_refusal(&self) -> Option<Refusal> {
        self.refusal.as_ref().map(Refusal::from)
    }

    /// Counts a message that came through the slots, as activity.
    fn received(&mut self) {
        self.handled += 1;
        self.last_activity = Instant::now();
    }

    /// Counts a message that came through the slots without keeping the room alive: what
    /// other nodes and the sweep send concerns this node only while it has sessions here.
    fn received_from_afar(&mut self) {
        self.handled += 1;
    }

    /// Forgets a session the room will send nothing more.
    fn forget(&mut self, session_id: SessionId) -> Option<Subscriber> {
        self.sequencer.forget(session_id);
        self.sessions.remove(session_id)
    }
}

impl Actor for ChatRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        self.deps.metrics.chat_rooms.inc();
        self.begin(ctx);
        let check_every = self.deps.settings.idle_after / 2;
        ctx.run_interval(check_every, |room, ctx| {
            for session_id in room.sessions.disconnected() {
                room.forget(session_id);
            }
            if room.refusal.is_some() || room.idle() {
                room.retire(ctx);
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.deps.metrics.chat_rooms.dec();
        // actix stops an actor whose handler panicked while the panic unwinds (the runtime
        // then drops only that task; the thread and its other rooms go on).
        if std::thread::panicking() {
            self.restart_after_failure(ctx);
        }
    }
}

#[cfg(feature = "fault-injection")]
mod fault_injection {
    use super::*;
    use crate::actors::messages::PanicAfterNextCommit;

    #[allow(clippy::panic, reason = "the fault this hook exists to inject")]
    pub fn panic_now(chat_id: ChatId) -> ! {
        panic!("fault injected into the room of chat {chat_id}")
    }

    impl Handler<PanicAfterNextCommit> for ChatRoom {
        type Result = ();

        fn handle(&mut self, _: PanicAfterNextCommit, _: &mut Context<Self>) {
            self.received();
            self.panic_after_commit = true;
        }
    }
}

#[cfg(feature = "fault-injection")]
use fault_injection::panic_now;
