//! `ChatRoom`: one per live chat. It owns the chat's member list and its sessions, and turns
//! committed events, which may arrive out of order when writers race, into one stream in
//! strict `seq` order, each event serialised once and shared by every session.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use actix::prelude::*;
use bytestring::ByteString;
use serde::Serialize;

use super::chat_registry::{ChatRegistry, RoomStopped};
use super::db_executor::{ask, DbExecutor};
use super::db_ops::{LoadEvents, LoadRoomState};
use super::RoomSettings;
use crate::domain::ChatEvent;

/// Most events read from the log in one gap fill.
const GAP_FILL_BATCH: i64 = 500;

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

#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Ephemeral {
    pub event: EphemeralEvent,
}

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

/// A live session bound to the room.
#[derive(Clone)]
pub struct Subscriber {
    pub session_id: u64,
    pub user_id: i64,
    pub outbox: Recipient<Outbound>,
    pub overflow: Recipient<Overflowed>,
}

pub struct ChatRoom {
    chat_id: i64,
    db: Addr<DbExecutor>,
    registry: Addr<ChatRegistry>,
    settings: RoomSettings,
    members: HashSet<i64>,
    /// Every event up to here has been broadcast, in order.
    delivered_seq: i64,
    /// Events that arrived ahead of an earlier one.
    pending: BTreeMap<i64, ChatEvent>,
    subscribers: HashMap<u64, Subscriber>,
    last_activity: Instant,
    gap_fill: Option<SpawnHandle>,
}

impl ChatRoom {
    pub fn new(
        chat_id: i64,
        db: Addr<DbExecutor>,
        registry: Addr<ChatRegistry>,
        settings: RoomSettings,
    ) -> Self {
        ChatRoom {
            chat_id,
            db,
            registry,
            settings,
            members: HashSet::new(),
            delivered_seq: 0,
            pending: BTreeMap::new(),
            subscribers: HashMap::new(),
            last_activity: Instant::now(),
            gap_fill: None,
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
            limit: GAP_FILL_BATCH,
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

    fn broadcast_event(&mut self, event: &ChatEvent) {
        match serde_json::to_string(event) {
            Ok(json) => self.broadcast(ByteString::from(json), None),
            Err(e) => {
                tracing::error!(chat.id = self.chat_id, seq = event.seq, error = %e, "event did not serialise")
            }
        }
        if let Some((change, joined)) = event.membership_change() {
            if joined {
                self.members.insert(change.user_id);
            } else {
                self.members.remove(&change.user_id);
                self.subscribers.retain(|_, s| s.user_id != change.user_id);
            }
        }
    }

    /// Puts a frame in every session's outbox without waiting; a full outbox means a session
    /// that cannot keep up, and it is dropped rather than allowed to slow the room.
    fn broadcast(&mut self, frame: ByteString, except_user: Option<i64>) {
        self.last_activity = Instant::now();
        let chat_id = self.chat_id;
        self.subscribers.retain(|_, sub| {
            if Some(sub.user_id) == except_user {
                return true;
            }
            match sub.outbox.try_send(Outbound(frame.clone())) {
                Ok(()) => true,
                Err(SendError::Full(_)) => {
                    sub.overflow.do_send(Overflowed { chat_id });
                    false
                }
                Err(SendError::Closed(_)) => false,
            }
        });
    }
}

impl Actor for ChatRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
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
            if room.subscribers.is_empty()
                && room.pending.is_empty()
                && room.last_activity.elapsed() >= room.settings.idle_after
            {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
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
    type Result = ();

    fn handle(&mut self, msg: Ephemeral, _: &mut Context<Self>) {
        let chat_id = self.chat_id;
        let (json, except_user) = match msg.event {
            EphemeralEvent::Read { user_id, seq } => (
                serde_json::to_string(&EphemeralFrame {
                    kind: "read",
                    chat_id,
                    data: ReadData {
                        chat_id,
                        user_id,
                        seq,
                    },
                }),
                None,
            ),
            EphemeralEvent::Typing { user_id } => {
                if !self.members.contains(&user_id) {
                    return;
                }
                (
                    serde_json::to_string(&EphemeralFrame {
                        kind: "typing",
                        chat_id,
                        data: TypingData { chat_id, user_id },
                    }),
                    Some(user_id),
                )
            }
        };
        match json {
            Ok(json) => self.broadcast(ByteString::from(json), except_user),
            Err(e) => {
                tracing::error!(chat.id = chat_id, error = %e, "ephemeral event did not serialise")
            }
        }
    }
}
