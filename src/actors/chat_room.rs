//! `ChatRoom`: one per live chat. It owns the chat's member list and its sessions, and turns
//! committed events, which may arrive out of order when writers race, into one stream in
//! strict `seq` order. Each event is serialised once and the bytes are shared by every session.
//!
//! Each bound session has a high-water mark, `sent_up_to`: it is sent exactly the events above
//! it, in order. A session that resumes is fed from the event log (in batches) until it reaches
//! the live stream, then joins it; both happen on this actor's one thread, so nothing falls
//! between the replay and the live events, and nothing is sent twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use bytestring::ByteString;
use serde::Serialize;

use super::chat_registry::{ChatRegistry, RoomStopped};
use super::db_executor::{ask, DbExecutor};
use super::db_ops::{LoadEvents, LoadRoomState};
use super::session_directory::{SessionDirectory, Subscriber};
use super::ws_protocol::{to_json, ResumedData, ResumedFrame};
use super::RoomSettings;
use crate::domain::ChatEvent;
use crate::metrics::Metrics;

/// Most events read from the log in one gap fill or one replay batch. Small enough that a batch
/// fits a session's outbox with room to spare.
const LOG_BATCH: i64 = 128;

/// Committed events of this room's chat, in any order.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Deliver {
    pub events: Vec<ChatEvent>,
}

/// Events that are not persisted and carry no seq.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EphemeralEvent {
    Read { user_id: i64, seq: i64 },
    Typing { user_id: i64 },
}

/// An ephemeral event; refused (`NotMember`) when its user is not a member of the chat.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Result<(), NotMember>")]
pub struct Ephemeral {
    pub event: EphemeralEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotMember;

/// One serialised frame for a session's outbox. Cloning shares the bytes.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Outbound(pub ByteString);

/// Told to a session whose outbox overflowed; the room has already dropped it.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Overflowed {
    pub chat_id: i64,
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
#[rtype(result = "Result<(), NotMember>")]
pub struct Resume {
    pub subscriber: Subscriber,
    pub after_seq: i64,
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

pub struct ChatRoom {
    chat_id: i64,
    db: Addr<DbExecutor>,
    registry: Addr<ChatRegistry>,
    directory: SessionDirectory,
    metrics: Arc<Metrics>,
    settings: RoomSettings,
    members: HashSet<i64>,
    /// Every event up to here has been broadcast, in order.
    delivered_seq: i64,
    /// Events that arrived ahead of an earlier one.
    pending: BTreeMap<i64, ChatEvent>,
    bound: HashMap<u64, Bound>,
    last_activity: Instant,
    gap_fill: Option<SpawnHandle>,
    replay_generation: u64,
}

impl ChatRoom {
    pub fn new(
        chat_id: i64,
        db: Addr<DbExecutor>,
        registry: Addr<ChatRegistry>,
        directory: SessionDirectory,
        metrics: Arc<Metrics>,
        settings: RoomSettings,
    ) -> Self {
        ChatRoom {
            chat_id,
            db,
            registry,
            directory,
            metrics,
            settings,
            members: HashSet::new(),
            delivered_seq: 0,
            pending: BTreeMap::new(),
            bound: HashMap::new(),
            last_activity: Instant::now(),
            gap_fill: None,
            replay_generation: 0,
        }
    }

    fn accept(&mut self, event: ChatEvent) {
        if event.seq > self.delivered_seq {
            self.pending.insert(event.seq, event);
        }
    }

    /// Broadcasts every pending event that is next in line, then watches for a gap.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.delivered_seq + 1 {
                break;
            }
            let event = entry.remove();
            self.delivered_seq = event.seq;
            self.broadcast_event(&event);
        }
        if self.pending.is_empty() {
            if let Some(handle) = self.gap_fill.take() {
                ctx.cancel_future(handle);
            }
        } else if self.gap_fill.is_none() {
            self.gap_fill = Some(ctx.run_later(self.settings.gap_timeout, |room, ctx| {
                room.gap_fill = None;
                room.fill_gap(ctx);
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
        let db = self.db.clone();
        ctx.wait(
            async move { ask(&db, load).await }
                .into_actor(self)
                .map(|result, room, ctx| {
                    match result {
                        Ok(events) => {
                            tracing::debug!(
                                chat.id = room.chat_id,
                                count = events.len(),
                                "gap filled from the event log"
                            );
                            for event in events {
                                room.accept(event);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(chat.id = room.chat_id, error = %e, "gap fill failed")
                        }
                    }
                    room.flush(ctx);
                }),
        );
    }

    fn bind(&mut self, subscriber: Subscriber, sent_up_to: i64) {
        self.bound.insert(
            subscriber.session_id,
            Bound {
                subscriber,
                sent_up_to,
                replay: None,
            },
        );
    }

    fn broadcast_event(&mut self, event: &ChatEvent) {
        self.metrics.events_broadcast.inc();
        let membership = event
            .membership_change()
            .map(|(m, joined)| (m.user_id, joined));
        if let Some((user_id, true)) = membership {
            // The new member's open sessions see the event that adds them, and all after it.
            self.members.insert(user_id);
            for subscriber in self.directory.sessions_of(user_id) {
                if !self.bound.contains_key(&subscriber.session_id) {
                    self.bind(subscriber, event.seq - 1);
                }
            }
        }
        match serde_json::to_string(event) {
            Ok(json) => {
                let frame = ByteString::from(json);
                let seq = event.seq;
                self.send_where(
                    &frame,
                    |b| b.replay.is_none() && b.sent_up_to < seq,
                    Some(seq),
                );
            }
            Err(e) => {
                tracing::error!(chat.id = self.chat_id, seq = event.seq, error = %e, "event did not serialise")
            }
        }
        if let Some((user_id, false)) = membership {
            self.members.remove(&user_id);
            self.bound.retain(|_, b| b.subscriber.user_id != user_id);
        }
    }

    /// Puts a frame in the outbox of every session `wanted` selects, without waiting. A full
    /// outbox means a session that cannot keep up: it is dropped (and told so) rather than
    /// allowed to slow the room or grow its memory.
    fn send_where(
        &mut self,
        frame: &ByteString,
        wanted: impl Fn(&Bound) -> bool,
        seq: Option<i64>,
    ) {
        self.last_activity = Instant::now();
        let chat_id = self.chat_id;
        let metrics = &self.metrics;
        self.bound.retain(|_, bound| {
            if !wanted(bound) {
                return true;
            }
            let keep = offer(&bound.subscriber, frame, chat_id, metrics);
            if let Some(seq) = seq {
                bound.sent_up_to = seq;
            }
            keep
        });
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
        let db = self.db.clone();
        ctx.spawn(
            async move { ask(&db, load).await }
                .into_actor(self)
                .map(move |result, room, ctx| match result {
                    Ok(events) => room.continue_replay(session_id, generation, events, ctx),
                    Err(e) => {
                        tracing::warn!(chat.id = room.chat_id, error = %e, "replay failed; closing the session");
                        if let Some(bound) = room.bound.remove(&session_id) {
                            bound.subscriber.kick.do_send(super::session_directory::Kick {
                                code: 1011,
                                reason: "replay failed",
                            });
                        }
                    }
                }),
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
        for event in &events {
            if event.seq <= bound.sent_up_to {
                continue;
            }
            let json = match serde_json::to_string(event) {
                Ok(json) => json,
                Err(e) => {
                    tracing::error!(chat.id = chat_id, seq = event.seq, error = %e, "event did not serialise");
                    continue;
                }
            };
            if !offer(
                &bound.subscriber,
                &ByteString::from(json),
                chat_id,
                &self.metrics,
            ) {
                return;
            }
            bound.sent_up_to = event.seq;
        }
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
        if offer(
            &bound.subscriber,
            &ByteString::from(frame),
            chat_id,
            &self.metrics,
        ) {
            self.bound.insert(session_id, bound);
        }
    }
}

/// Offers one frame to one session; false if the session is gone or overflowed.
fn offer(subscriber: &Subscriber, frame: &ByteString, chat_id: i64, metrics: &Metrics) -> bool {
    match subscriber.outbox.try_send(Outbound(frame.clone())) {
        Ok(()) => true,
        Err(SendError::Full(_)) => {
            metrics.ws_slow_consumer_closes.inc();
            subscriber.overflow.do_send(Overflowed { chat_id });
            false
        }
        Err(SendError::Closed(_)) => false,
    }
}

impl Actor for ChatRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        self.metrics.chat_rooms.inc();
        let db = self.db.clone();
        let chat_id = self.chat_id;
        // Nothing else is handled until the room knows its members and where its seq stands.
        ctx.wait(
            async move { ask(&db, LoadRoomState { chat_id }).await }
                .into_actor(self)
                .map(|result, room, ctx| match result {
                    Ok(Some(state)) => {
                        room.members = state.member_ids.into_iter().collect();
                        room.delivered_seq = state.last_seq;
                    }
                    Ok(None) => ctx.stop(),
                    Err(e) => {
                        tracing::warn!(chat.id = room.chat_id, error = %e, "room could not load its state");
                        ctx.stop();
                    }
                }),
        );
        let check_every = self.settings.idle_after / 2;
        ctx.run_interval(check_every, |room, ctx| {
            room.bound.retain(|_, b| b.subscriber.outbox.connected());
            if room.bound.is_empty()
                && room.pending.is_empty()
                && room.last_activity.elapsed() >= room.settings.idle_after
            {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.metrics.chat_rooms.dec();
        self.registry.do_send(RoomStopped {
            chat_id: self.chat_id,
        });
    }
}

impl Handler<Deliver> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        for event in msg.events {
            self.accept(event);
        }
        self.flush(ctx);
    }
}

impl Handler<Subscribe> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        let subscriber = msg.subscriber;
        if self.members.contains(&subscriber.user_id)
            && !self.bound.contains_key(&subscriber.session_id)
        {
            self.bind(subscriber, self.delivered_seq);
        }
    }
}

impl Handler<Resume> for ChatRoom {
    type Result = Result<(), NotMember>;

    fn handle(&mut self, msg: Resume, ctx: &mut Context<Self>) -> Self::Result {
        if !self.members.contains(&msg.subscriber.user_id) {
            return Err(NotMember);
        }
        let session_id = msg.subscriber.session_id;
        if !self.bound.contains_key(&session_id) {
            self.bind(msg.subscriber, msg.after_seq);
        }
        self.start_replay(session_id, msg.after_seq, ctx);
        Ok(())
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

impl Handler<Ephemeral> for ChatRoom {
    type Result = Result<(), NotMember>;

    fn handle(&mut self, msg: Ephemeral, _: &mut Context<Self>) -> Self::Result {
        let chat_id = self.chat_id;
        let (json, from_user, to_typist) = match msg.event {
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
            return Err(NotMember);
        }
        let frame = ByteString::from(json);
        self.send_where(
            &frame,
            |b| to_typist || b.subscriber.user_id != from_user,
            None,
        );
        Ok(())
    }
}
