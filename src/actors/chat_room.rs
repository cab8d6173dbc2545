//! `ChatRoom`: one per live chat. Every write to the chat passes through it: the room loads the
//! chat's members and `last_seq` before it handles anything, so each event it commits lies
//! above what it knows and is broadcast by construction. It stores sends in batches (the sends
//! that arrive while a batch is being stored go in the next one), puts committed events into
//! strict `seq` order (reading any gap from the event log), and serialises each event once for
//! every session.
//!
//! Each bound session has a high-water mark, `sent_up_to`: it is sent exactly the events above
//! it, in order. A session that resumes is fed from the event log (in batches) until it reaches
//! the live stream, then joins it; both happen on this actor's one thread, so nothing falls
//! between the replay and the live events, and nothing is sent twice.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytestring::ByteString;
use serde::Serialize;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::cluster_bus::ClusterBus;
use super::db_executor::{ask, DbExecutor, StoreSends};
use super::db_ops::{LoadEvents, LoadRoomState};
use super::messages::{
    ChatWrite, Deliver, DeliverRemote, EphemeralEvent, EphemeralRemote, Kick, Membership, Outbound,
    PostMessage, ReadyEvent, Refusal, Reply, Resume, Subscribe, Subscriber, Sweep, Typing, Write,
};
use super::room_slots::{Retire, RoomSlots};
use super::session_directory::SessionDirectory;
use super::ws_protocol::{to_json, ResumedData, ResumedFrame};
use crate::config::RoomSettings;
use crate::db::queries::BatchedSend;
use crate::domain::{ChatEvent, Message as ChatMessage};
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;

/// Most events read from the log in one gap fill or one replay batch. Small enough that a batch
/// fits a session's outbox with room to spare.
const LOG_BATCH: i64 = 128;

/// Most events a room puts in one outbox message.
const MAX_RUN: usize = 32;

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
}

/// A session bound to the room.
struct Bound {
    subscriber: Subscriber,
    /// Every event up to this seq has been sent to the session (or predates its interest).
    sent_up_to: i64,
    /// Set while the session is being fed from the event log.
    replay: Option<Replay>,
}

struct Replay {
    from_seq: i64,
    /// Distinguishes this replay from a newer one the session asked for meanwhile.
    generation: u64,
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
        carried: Vec<(Subscriber, i64)>,
        seed: Option<i64>,
    },
    /// A chat created a moment ago: its members, and the seq before its creation's events
    /// (which the registry delivers next).
    Created {
        member_ids: Vec<i64>,
        delivered_seq: i64,
    },
}

pub struct ChatRoom {
    chat_id: i64,
    deps: RoomDeps,
    start: Option<Start>,
    /// Set when the room could not load its chat (it does not exist, or the database failed):
    /// every request is refused with it until the room retires.
    refusal: Option<AppError>,
    members: HashSet<i64>,
    /// Every event up to here has been broadcast, in order.
    delivered_seq: i64,
    /// Events that arrived ahead of an earlier one.
    pending: BTreeMap<i64, ReadyEvent>,
    /// The highest seq known to be committed (from a sweep); above `delivered_seq` it is a
    /// gap to read from the log.
    known_seq: i64,
    bound: HashMap<u64, Bound>,
    last_activity: Instant,
    gap_fill: Option<SpawnHandle>,
    /// When the last broadcast of committed events went out, and the broadcast waiting for
    /// the fan-out interval to pass since then, if one is.
    last_broadcast: Option<Instant>,
    paced_flush: Option<SpawnHandle>,
    replay_generation: u64,
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
    pub fn new(chat_id: i64, deps: RoomDeps) -> Self {
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
    pub fn seeded(chat_id: i64, deps: RoomDeps, delivered_seq: i64) -> Self {
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
    pub fn created(chat_id: i64, deps: RoomDeps, member_ids: Vec<i64>, delivered_seq: i64) -> Self {
        Self::with_start(
            chat_id,
            deps,
            Start::Created {
                member_ids,
                delivered_seq,
            },
        )
    }

    fn with_start(chat_id: i64, deps: RoomDeps, start: Start) -> Self {
        ChatRoom {
            chat_id,
            deps,
            start: Some(start),
            refusal: None,
            members: HashSet::new(),
            delivered_seq: 0,
            pending: BTreeMap::new(),
            known_seq: 0,
            bound: HashMap::new(),
            last_activity: Instant::now(),
            gap_fill: None,
            last_broadcast: None,
            paced_flush: None,
            replay_generation: 0,
            sends: VecDeque::new(),
            storing: false,
            in_flight: 0,
            handled: 0,
            #[cfg(feature = "fault-injection")]
            panic_after_commit: false,
        }
    }

    pub fn chat_id(&self) -> i64 {
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

    /// Binds the open sessions of every member that are not bound yet, live from
    /// `delivered_seq` on.
    fn bind_members(&mut self) {
        let sessions: Vec<Subscriber> = self
            .members
            .iter()
            .flat_map(|&user_id| self.deps.directory.sessions_of(user_id))
            .collect();
        for subscriber in sessions {
            if !self.bound.contains_key(&subscriber.session_id) {
                self.bind(subscriber, self.delivered_seq);
            }
        }
    }

    /// Takes events this node committed: queues them for broadcast and publishes them to the
    /// other nodes (one message for the lot).
    fn accept_committed(&mut self, events: Vec<ChatEvent>) {
        let ready: Vec<ReadyEvent> = events.iter().filter_map(ReadyEvent::from_event).collect();
        if let Some(bus) = &self.deps.bus {
            bus.publish_events(self.chat_id, &ready);
        }
        for event in ready {
            self.accept(event);
        }
    }

    fn accept(&mut self, event: ReadyEvent) {
        if event.seq > self.delivered_seq {
            self.pending.insert(event.seq, event);
        }
    }

    /// The highest seq this room knows to be committed, broadcast or not.
    fn committed_seq(&self) -> i64 {
        let waiting = self.pending.last_key_value().map_or(0, |(&seq, _)| seq);
        self.delivered_seq.max(waiting).max(self.known_seq)
    }

    /// Whether committed events are missing below the ones waiting, or below what a sweep saw.
    fn behind(&self) -> bool {
        !self.pending.is_empty() || self.known_seq > self.delivered_seq
    }

    /// Broadcasts every pending event that is next in line, then watches for a gap.
    /// Events that change the membership go out on their own, because who receives what
    /// changes with them; the others go out in runs of up to `MAX_RUN`, one outbox message
    /// per session for the lot.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.paced_flush.take() {
            ctx.cancel_future(handle);
        }
        let broadcast_before = self.delivered_seq;
        let mut run: Vec<ReadyEvent> = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.delivered_seq + 1 {
                break;
            }
            let event = entry.remove();
            self.delivered_seq = event.seq;
            if event.membership.is_some() {
                self.send_run(&std::mem::take(&mut run));
                self.broadcast_event(&event);
            } else {
                run.push(event);
                if run.len() == MAX_RUN {
                    self.send_run(&std::mem::take(&mut run));
                }
            }
        }
        self.send_run(&run);
        if self.delivered_seq > broadcast_before {
            self.last_broadcast = Some(Instant::now());
        }
        if !self.behind() {
            if let Some(handle) = self.gap_fill.take() {
                ctx.cancel_future(handle);
            }
        } else if self.gap_fill.is_none() {
            self.gap_fill = Some(ctx.run_later(self.deps.settings.gap_timeout, |room, ctx| {
                room.gap_fill = None;
                room.fill_gap(ctx);
            }));
        }
    }

    /// Flushes now if the room's last broadcast went out at least the fan-out interval ago,
    /// and otherwise when it has: events committed meanwhile join the same broadcast. Under a
    /// stream of sends this bounds the outbox messages, and socket writes, per session to one
    /// per interval, however many events a second the chat has; a lone event waits for nothing.
    fn flush_paced(&mut self, ctx: &mut Context<Self>) {
        if self.paced_flush.is_some() {
            return;
        }
        let interval = self.deps.settings.fanout_interval;
        let wait = self
            .last_broadcast
            .map_or(Duration::ZERO, |at| interval.saturating_sub(at.elapsed()));
        if wait.is_zero() {
            self.flush(ctx);
        } else {
            self.paced_flush = Some(ctx.run_later(wait, |room, ctx| {
                room.paced_flush = None;
                room.flush(ctx);
            }));
        }
    }

    /// Reads the seqs that did not arrive from the event log. An event with a later seq was
    /// committed, and seqs are handed out under the chat's row lock, so the missing ones are
    /// committed too.
    fn fill_gap(&mut self, ctx: &mut Context<Self>) {
        let load = LoadEvents {
            chat_id: self.chat_id,
            after_seq: self.delivered_seq,
            limit: LOG_BATCH,
        };
        let db = self.deps.db.clone();
        self.in_flight += 1;
        ctx.wait(
            async move { ask(&db, load).await }
                .into_actor(self)
                .map(|result, room, ctx| {
                    room.in_flight -= 1;
                    match result {
                        Ok(events) => {
                            tracing::debug!(
                                chat.id = room.chat_id,
                                count = events.len(),
                                "gap filled from the event log"
                            );
                            let whole_log = events.len() < LOG_BATCH as usize;
                            for event in events.iter().filter_map(ReadyEvent::from_event) {
                                room.accept(event);
                            }
                            room.skip_hole(whole_log);
                            if !whole_log {
                                // More to read: go on at once rather than after the timeout.
                                room.flush(ctx);
                                if room.behind() && room.gap_fill.is_none() {
                                    room.fill_gap(ctx);
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!(chat.id = room.chat_id, error = %e.chain(), "gap fill failed")
                        }
                    }
                    room.flush(ctx);
                }),
        );
    }

    /// A seq the log does not hold although later ones are committed was never written (only
    /// a hand-made change to the database can do that): the room goes on after it.
    fn skip_hole(&mut self, read_whole_log: bool) {
        let Some(&next) = self.pending.keys().next() else {
            return;
        };
        if read_whole_log && next > self.delivered_seq + 1 {
            tracing::warn!(
                chat.id = self.chat_id,
                from = self.delivered_seq + 1,
                to = next - 1,
                "seqs missing from the event log are skipped"
            );
            self.delivered_seq = next - 1;
        }
    }

    fn bind(&mut self, subscriber: Subscriber, sent_up_to: i64) {
        subscriber.membership.do_send(Membership {
            chat_id: self.chat_id,
            bound: true,
        });
        self.bound.insert(
            subscriber.session_id,
            Bound {
                subscriber,
                sent_up_to,
                replay: None,
            },
        );
    }

    /// Offers consecutive events to every live session as one outbox message. A session that
    /// has already been sent the start of them (it finished a replay meanwhile) gets the rest.
    fn send_run(&mut self, run: &[ReadyEvent]) {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return;
        };
        let (first_seq, last_seq) = (first.seq, last.seq);
        self.deps.metrics.events_broadcast.inc_by(run.len() as u64);
        let whole = Outbound::many(run.iter().map(|e| e.frame.clone()).collect());
        let chat_id = self.chat_id;
        let metrics = &self.deps.metrics;
        self.bound.retain(|_, bound| {
            if bound.replay.is_some() || bound.sent_up_to >= last_seq {
                return true;
            }
            let keep = if bound.sent_up_to < first_seq {
                offer(&bound.subscriber, &whole, chat_id, metrics)
            } else {
                let rest = run
                    .iter()
                    .filter(|e| e.seq > bound.sent_up_to)
                    .map(|e| e.frame.clone())
                    .collect();
                offer(&bound.subscriber, &Outbound::many(rest), chat_id, metrics)
            };
            bound.sent_up_to = last_seq;
            keep
        });
    }

    fn broadcast_event(&mut self, event: &ReadyEvent) {
        let membership = event.membership;
        if let Some((user_id, true)) = membership {
            // The new member's open sessions see the event that adds them, and all after it.
            self.members.insert(user_id);
            for subscriber in self.deps.directory.sessions_of(user_id) {
                if !self.bound.contains_key(&subscriber.session_id) {
                    self.bind(subscriber, event.seq - 1);
                }
            }
        }
        self.send_run(std::slice::from_ref(event));
        if let Some((user_id, false)) = membership {
            self.members.remove(&user_id);
            let chat_id = self.chat_id;
            self.bound.retain(|_, b| {
                let stays = b.subscriber.user_id != user_id;
                if !stays {
                    b.subscriber.membership.do_send(Membership {
                        chat_id,
                        bound: false,
                    });
                }
                stays
            });
        }
    }

    /// Puts a frame in the outbox of every session `wanted` selects, without waiting. A full
    /// outbox means a session that cannot keep up: it is dropped (and told so) rather than
    /// allowed to slow the room or grow its memory.
    fn send_where(&mut self, frame: &ByteString, wanted: impl Fn(&Bound) -> bool) {
        let chat_id = self.chat_id;
        let metrics = &self.deps.metrics;
        let outbound = Outbound::one(frame.clone());
        self.bound.retain(|_, bound| {
            if !wanted(bound) {
                return true;
            }
            offer(&bound.subscriber, &outbound, chat_id, metrics)
        });
    }

    fn broadcast_ephemeral(&mut self, event: EphemeralEvent) -> Result<(), Refusal> {
        let chat_id = self.chat_id;
        let (json, from_user, to_sender) = match event {
            EphemeralEvent::Read { user_id, seq } => (
                to_json(&EphemeralFrame {
                    kind: "read",
                    chat_id,
                    data: ReadData {
                        chat_id,
                        user_id,
                        seq,
                    },
                }),
                user_id,
                true,
            ),
            EphemeralEvent::Typing { user_id } => (
                to_json(&EphemeralFrame {
                    kind: "typing",
                    chat_id,
                    data: TypingData { chat_id, user_id },
                }),
                user_id,
                false,
            ),
        };
        if !self.members.contains(&from_user) {
            return Err(Refusal::NotMember);
        }
        let Some(json) = json else {
            return Ok(());
        };
        let frame = ByteString::from(json);
        if let Some(bus) = &self.deps.bus {
            bus.publish_ephemeral(chat_id, from_user, to_sender, &frame);
        }
        self.send_ephemeral(&frame, from_user, to_sender);
        Ok(())
    }

    fn send_ephemeral(&mut self, frame: &ByteString, from_user: i64, to_sender: bool) {
        self.send_where(frame, |b| to_sender || b.subscriber.user_id != from_user);
    }

    /// Stores the waiting sends (up to a batch) through the executor. The next batch starts
    /// when this one is answered, so this room's seqs are taken in the order its sends came.
    fn store_sends(&mut self, ctx: &mut Context<Self>) {
        let take = self.sends.len().min(self.deps.send_batch);
        if take == 0 {
            return;
        }
        self.storing = true;
        let span = tracing::info_span!(
            "room",
            op = "store_sends",
            chat.id = self.chat_id,
            batch.size = take
        );
        let mut sends = Vec::with_capacity(take);
        let mut replies = Vec::with_capacity(take);
        for queued in self.sends.drain(..take) {
            span.follows_from(&queued.span);
            sends.push(queued.send);
            replies.push(queued.reply);
        }
        let stored = self.deps.db.send(StoreSends {
            sends,
            span: span.clone(),
        });
        let started = Instant::now();
        ctx.spawn(
            stored
                .instrument(span)
                .into_actor(self)
                .map(move |result, room, ctx| {
                    #[cfg(feature = "fault-injection")]
                    if room.panic_after_commit && matches!(result, Ok(Ok(_))) {
                        fault_injection::panic_now(room.chat_id);
                    }
                    room.storing = false;
                    room.deps
                        .metrics
                        .send_phase
                        .with_label_values(&["batch"])
                        .observe(started.elapsed().as_secs_f64());
                    room.answer_sends(result.map_err(AppError::from).and_then(|r| r), replies, ctx);
                    if !room.sends.is_empty() {
                        room.store_sends(ctx);
                    }
                }),
        );
    }

    /// Broadcasts a stored batch's events, then answers its sends (events first, so that a
    /// client that reads its answer and then listens has nothing to wait for).
    fn answer_sends(
        &mut self,
        result: AppResult<super::db_executor::SendOutcomes>,
        replies: Vec<oneshot::Sender<AppResult<Reply<ChatMessage>>>>,
        ctx: &mut Context<Self>,
    ) {
        let mut answers = Vec::with_capacity(replies.len());
        let mut committed = Vec::new();
        match result {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for reply in replies {
                    let answer = match outcomes.next() {
                        Some(Ok(outcome)) => {
                            if matches!(outcome, crate::db::queries::Idempotent::Fresh(_)) {
                                self.deps.metrics.messages_created.inc();
                            }
                            let (answer, events) = Reply::settle(outcome, &self.deps.metrics);
                            committed.extend(events);
                            Ok(answer)
                        }
                        Some(Err(e)) => Err(e),
                        None => Err(AppError::internal("a send of the batch got no outcome")),
                    };
                    answers.push((reply, answer));
                }
            }
            Err(error) => {
                for reply in replies {
                    answers.push((reply, Err(error.clone())));
                }
            }
        }
        let broadcasting = Instant::now();
        self.accept_committed(committed);
        self.flush_paced(ctx);
        self.deps
            .metrics
            .send_phase
            .with_label_values(&["broadcast"])
            .observe(broadcasting.elapsed().as_secs_f64());
        for (reply, answer) in answers {
            let _ = reply.send(answer);
        }
    }

    fn idle(&self) -> bool {
        self.bound.is_empty()
            && self.pending.is_empty()
            && self.sends.is_empty()
            && !self.storing
            && self.in_flight == 0
            && self.last_activity.elapsed() >= self.deps.settings.idle_after
    }

    /// Stops the room if no message is on its way to it (see `room_slots`).
    fn retire(&mut self, ctx: &mut Context<Self>) {
        if self
            .deps
            .slots
            .retire(self.chat_id, &ctx.address(), self.handled)
            == Retire::Done
        {
            ctx.stop();
        }
    }

    fn begin(&mut self, ctx: &mut Context<Self>) {
        match self.start.take() {
            Some(Start::Created {
                member_ids,
                delivered_seq,
            }) => {
                self.members = member_ids.into_iter().collect();
                self.delivered_seq = delivered_seq;
                self.bind_members();
            }
            // Started once; a second call has nothing to do.
            None => {}
            Some(Start::Load { carried, seed }) => {
                let db = self.deps.db.clone();
                let chat_id = self.chat_id;
                // Nothing else is handled until the room knows its members and its seq.
                ctx.wait(
                    async move { ask(&db, LoadRoomState { chat_id }).await }
                        .into_actor(self)
                        .map(move |result, room, ctx| match result {
                            Ok(Some(state)) => {
                                room.members = state.member_ids.into_iter().collect();
                                room.delivered_seq = state.last_seq;
                                room.known_seq = state.last_seq;
                                if let Some(seed) = seed {
                                    room.delivered_seq = seed.min(state.last_seq);
                                }
                                room.take_over(carried, ctx);
                                room.bind_members();
                            }
                            Ok(None) => {
                                room.refusal = Some(AppError::NotFound("chat"));
                                kick_all(carried.into_iter().map(|(s, _)| s));
                                room.retire(ctx);
                            }
                            Err(e) => {
                                kick_all(carried.into_iter().map(|(s, _)| s));
                                // What is queued gets the error; once the room has retired,
                                // the next message starts a fresh one.
                                tracing::warn!(chat.id = room.chat_id, error = %e.chain(), "room could not load its state");
                                room.refusal = Some(e);
                                room.retire(ctx);
                            }
                        }),
                );
            }
        }
    }

    /// Binds the sessions of the room this one replaces, each from where the failed room had
    /// got to, and feeds each from the event log up to the live stream (ending in `resumed`),
    /// exactly as if the session had sent `resume` itself.
    fn take_over(&mut self, carried: Vec<(Subscriber, i64)>, ctx: &mut Context<Self>) {
        for (subscriber, sent_up_to) in carried {
            if !self.members.contains(&subscriber.user_id) {
                subscriber.membership.do_send(Membership {
                    chat_id: self.chat_id,
                    bound: false,
                });
                continue;
            }
            let session_id = subscriber.session_id;
            self.bind(subscriber, sent_up_to);
            self.start_replay(session_id, sent_up_to, ctx);
        }
    }

    /// Called while the room unwinds from a panic: a fresh room takes the chat's slot and this
    /// room's sessions, so the chat goes on and its sessions miss nothing. Sends not yet stored
    /// are refused with 503; the batch being stored may have committed, which a retry with the
    /// same `Idempotency-Key` finds out.
    fn restart_after_failure(&mut self, ctx: &mut Context<Self>) {
        let chat_id = self.chat_id;
        self.deps.metrics.room_restarts.inc();
        for queued in self.sends.drain(..) {
            let _ = queued.reply.send(Err(AppError::Unavailable(
                "the chat's room restarted".into(),
            )));
        }
        let carried: Vec<(Subscriber, i64)> = self
            .bound
            .drain()
            .map(|(_, b)| (b.subscriber, b.sent_up_to))
            .collect();
        tracing::error!(
            chat.id = chat_id,
            sessions = carried.len(),
            "room failed; a fresh one takes over"
        );
        let kicks: Vec<Subscriber> = carried.iter().map(|(s, _)| s.clone()).collect();
        let replacement = ChatRoom::with_start(
            chat_id,
            self.deps.clone(),
            Start::Load {
                carried,
                seed: None,
            },
        );
        let thread = Arbiter::current();
        let replaced = self.deps.slots.replace(chat_id, &ctx.address(), || {
            ChatRoom::start_in_arbiter(&thread, move |_| replacement)
        });
        if !replaced {
            // Another room already serves the chat and has bound these sessions live; only a
            // resume from the client can fill what they missed without reordering.
            kick_all(kicks);
        }
    }

    fn start_replay(&mut self, session_id: u64, after_seq: i64, ctx: &mut Context<Self>) {
        self.replay_generation += 1;
        let generation = self.replay_generation;
        if let Some(bound) = self.bound.get_mut(&session_id) {
            bound.sent_up_to = after_seq;
            bound.replay = Some(Replay {
                from_seq: after_seq + 1,
                generation,
            });
        }
        self.load_replay_batch(session_id, generation, after_seq, ctx);
    }

    fn load_replay_batch(
        &mut self,
        session_id: u64,
        generation: u64,
        after_seq: i64,
        ctx: &mut Context<Self>,
    ) {
        let load = LoadEvents {
            chat_id: self.chat_id,
            after_seq,
            limit: LOG_BATCH,
        };
        let db = self.deps.db.clone();
        self.in_flight += 1;
        ctx.spawn(
            async move { ask(&db, load).await }
                .into_actor(self)
                .map(move |result, room, ctx| {
                    room.in_flight -= 1;
                    match result {
                    Ok(events) => room.continue_replay(session_id, generation, events, ctx),
                    Err(e) => {
                        tracing::warn!(chat.id = room.chat_id, error = %e.chain(), "replay failed; closing the session");
                        if let Some(bound) = room.bound.remove(&session_id) {
                            bound.subscriber.kick.do_send(Kick {
                                code: 1011,
                                reason: "replay failed",
                            });
                        }
                    }
                }}),
        );
    }

    fn continue_replay(
        &mut self,
        session_id: u64,
        generation: u64,
        events: Vec<ChatEvent>,
        ctx: &mut Context<Self>,
    ) {
        let chat_id = self.chat_id;
        // Taken out of the map while it is fed, and put back unless it overflowed.
        let Some(mut bound) = self.bound.remove(&session_id) else {
            return;
        };
        let Some(from_seq) = bound
            .replay
            .as_ref()
            .filter(|r| r.generation == generation)
            .map(|r| r.from_seq)
        else {
            self.bound.insert(session_id, bound);
            return;
        };
        let full_batch = events.len() as i64 >= LOG_BATCH;
        let mut frames = Vec::with_capacity(events.len());
        let mut sent_up_to = bound.sent_up_to;
        for event in events.iter().filter(|e| e.seq > bound.sent_up_to) {
            match serde_json::to_string(event) {
                Ok(json) => frames.push(ByteString::from(json)),
                Err(e) => {
                    tracing::error!(chat.id = chat_id, seq = event.seq, error = %e, "event did not serialise")
                }
            }
            sent_up_to = event.seq;
        }
        // The batch read from the log goes to the session as one outbox message.
        if !frames.is_empty()
            && !offer(
                &bound.subscriber,
                &Outbound::many(frames),
                chat_id,
                &self.deps.metrics,
            )
        {
            return;
        }
        bound.sent_up_to = sent_up_to;
        let next_after = bound.sent_up_to;
        if full_batch || next_after < self.delivered_seq {
            self.bound.insert(session_id, bound);
            self.load_replay_batch(session_id, generation, next_after, ctx);
            return;
        }
        // Caught up: everything the room has broadcast has now been sent to this session, so
        // it joins the live stream, which goes on from `sent_up_to`.
        bound.replay = None;
        let frame = to_json(&ResumedFrame {
            kind: "resumed",
            chat_id,
            data: ResumedData {
                chat_id,
                from_seq,
                to_seq: next_after,
            },
        });
        let delivered = match frame {
            Some(frame) => offer(
                &bound.subscriber,
                &Outbound::one(ByteString::from(frame)),
                chat_id,
                &self.deps.metrics,
            ),
            None => true,
        };
        if delivered {
            self.bound.insert(session_id, bound);
        }
    }
}

/// Offers the room's frames to one session; false if the session is gone or overflowed.
fn offer(subscriber: &Subscriber, outbound: &Outbound, chat_id: i64, metrics: &Metrics) -> bool {
    subscriber.offer(outbound, Some(chat_id), metrics)
}

/// Closes sessions with 1012 (service restart) so that their clients reconnect and resume.
fn kick_all(sessions: impl IntoIterator<Item = Subscriber>) {
    for subscriber in sessions {
        subscriber.kick.do_send(Kick {
            code: 1012,
            reason: "chat restarted; resume",
        });
    }
}

#[derive(Serialize)]
struct EphemeralFrame<T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    chat_id: i64,
    data: T,
}

#[derive(Serialize)]
struct ReadData {
    chat_id: i64,
    user_id: i64,
    seq: i64,
}

#[derive(Serialize)]
struct TypingData {
    chat_id: i64,
    user_id: i64,
}

impl Actor for ChatRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        self.deps.metrics.chat_rooms.inc();
        self.begin(ctx);
        let check_every = self.deps.settings.idle_after / 2;
        ctx.run_interval(check_every, |room, ctx| {
            room.bound.retain(|_, b| b.subscriber.outbox.connected());
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

impl Handler<PostMessage> for ChatRoom {
    type Result = ResponseFuture<AppResult<Reply<ChatMessage>>>;

    fn handle(&mut self, msg: PostMessage, ctx: &mut Context<Self>) -> Self::Result {
        self.received();
        if let Some(refusal) = self.refusal.clone() {
            return Box::pin(async move { Err(refusal) });
        }
        let (reply, answer) = oneshot::channel();
        self.sends.push_back(QueuedSend {
            send: msg.send,
            reply,
            span: msg.span,
        });
        if !self.storing {
            self.store_sends(ctx);
        }
        Box::pin(async move {
            answer.await.map_err(|_| {
                AppError::Unavailable("the chat's room stopped before answering".into())
            })?
        })
    }
}

impl<O: ChatWrite> Handler<Write<O>> for ChatRoom {
    type Result = ResponseActFuture<Self, AppResult<Reply<O::Value>>>;

    fn handle(&mut self, msg: Write<O>, _: &mut Context<Self>) -> Self::Result {
        self.received();
        if let Some(refusal) = self.refusal.clone() {
            return Box::pin(fut::ready(Err(refusal)));
        }
        self.in_flight += 1;
        let db = self.deps.db.clone();
        let span =
            tracing::info_span!(parent: &msg.span, "room", op = O::NAME, chat.id = self.chat_id);
        Box::pin(
            async move { ask(&db, msg.op).await }
                .instrument(span)
                .into_actor(self)
                .map(|result, room, ctx| {
                    room.in_flight -= 1;
                    let (reply, events) = Reply::settle(result?, &room.deps.metrics);
                    room.accept_committed(events);
                    room.flush_paced(ctx);
                    if let Reply::Fresh { value, .. } = &reply {
                        if let Some(event) = O::ephemeral(value) {
                            // The writer was a member when it committed; a refusal here only
                            // means the room has seen it leave since.
                            let _ = room.broadcast_ephemeral(event);
                        }
                    }
                    Ok(reply)
                }),
        )
    }
}

impl Handler<Deliver> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        self.received();
        if self.refusal.is_some() {
            return;
        }
        self.accept_committed(msg.events);
        self.flush_paced(ctx);
    }
}

impl Handler<DeliverRemote> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: DeliverRemote, ctx: &mut Context<Self>) {
        self.received_from_afar();
        if self.refusal.is_some() {
            return;
        }
        for event in msg.events {
            self.known_seq = self.known_seq.max(event.seq);
            self.accept(event);
        }
        self.flush_paced(ctx);
    }
}

impl Handler<EphemeralRemote> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: EphemeralRemote, _: &mut Context<Self>) {
        self.received_from_afar();
        if self.refusal.is_none() {
            self.send_ephemeral(&msg.frame, msg.from_user, msg.to_sender);
        }
    }
}

impl Handler<Sweep> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Sweep, ctx: &mut Context<Self>) {
        self.received_from_afar();
        if self.refusal.is_some() || msg.last_seq <= self.delivered_seq {
            return;
        }
        self.known_seq = self.known_seq.max(msg.last_seq);
        if self.gap_fill.is_none() {
            self.deps.metrics.sweep_fills.inc();
            self.fill_gap(ctx);
        }
    }
}

impl Handler<Subscribe> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        self.received();
        let subscriber = msg.subscriber;
        if self.refusal.is_none()
            && self.members.contains(&subscriber.user_id)
            && !self.bound.contains_key(&subscriber.session_id)
        {
            // A session arriving now is owed what is committed after it, not the events
            // committed before and still waiting for their broadcast (the fan-out interval, or a
            // gap): it says `ready` after this, and those came before.
            self.bind(subscriber, self.committed_seq());
        }
    }
}

impl Handler<Resume> for ChatRoom {
    type Result = Result<(), Refusal>;

    fn handle(&mut self, msg: Resume, ctx: &mut Context<Self>) -> Self::Result {
        self.received();
        if let Some(refusal) = self.session_refusal() {
            return Err(refusal);
        }
        if !self.members.contains(&msg.subscriber.user_id) {
            return Err(Refusal::NotMember);
        }
        let session_id = msg.subscriber.session_id;
        if !self.bound.contains_key(&session_id) {
            self.bind(msg.subscriber, msg.after_seq);
        }
        self.start_replay(session_id, msg.after_seq, ctx);
        Ok(())
    }
}

impl Handler<Typing> for ChatRoom {
    type Result = Result<(), Refusal>;

    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) -> Self::Result {
        self.received();
        if let Some(refusal) = self.session_refusal() {
            return Err(refusal);
        }
        self.broadcast_ephemeral(EphemeralEvent::Typing {
            user_id: msg.user_id,
        })
    }
}

#[cfg(feature = "fault-injection")]
mod fault_injection {
    use super::*;
    use crate::actors::messages::PanicAfterNextCommit;

    #[allow(clippy::panic, reason = "the fault this hook exists to inject")]
    pub fn panic_now(chat_id: i64) -> ! {
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
