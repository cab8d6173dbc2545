//! The sessions bound to a room, as the sequencer reaches them: their outboxes, whether they are
//! bound, the directory of a user's open sessions. A session whose outbox is full is dropped
//! (and told so) rather than allowed to slow the room or grow its memory.

use std::collections::HashMap;
use std::sync::Arc;

use bytestring::ByteString;
use parley_types::{ChatId, Seq, UserId};

use super::sequencer::Outlet;
use crate::actors::messages::{Membership, Outbound, ReadyEvent, SessionId, Subscriber};
use crate::actors::session_directory::SessionDirectory;
use crate::actors::ws_protocol::{to_json, ResumedData, ServerFrame};
use crate::metrics::Metrics;

pub struct Sessions {
    chat_id: ChatId,
    directory: SessionDirectory,
    metrics: Arc<Metrics>,
    /// Every session the sequencer has bound (and only those).
    bound: HashMap<SessionId, Subscriber>,
}

impl Sessions {
    pub fn new(chat_id: ChatId, directory: SessionDirectory, metrics: Arc<Metrics>) -> Self {
        Sessions {
            chat_id,
            directory,
            metrics,
            bound: HashMap::new(),
        }
    }

    /// Keeps a session the sequencer is about to bind (or has bound).
    pub fn keep(&mut self, subscriber: Subscriber) {
        self.bound
            .entry(subscriber.session_id)
            .or_insert(subscriber);
    }

    pub fn remove(&mut self, session_id: SessionId) -> Option<Subscriber> {
        self.bound.remove(&session_id)
    }

    /// The sessions whose socket has gone.
    pub fn disconnected(&self) -> Vec<SessionId> {
        self.bound
            .iter()
            .filter(|(_, s)| !s.outbox.connected())
            .map(|(&id, _)| id)
            .collect()
    }

    /// Offers a frame to every bound session `wanted` selects, without waiting; returns the
    /// sessions that could not take it (to be forgotten).
    pub fn send_where(
        &mut self,
        frame: &ByteString,
        wanted: impl Fn(&Subscriber) -> bool,
    ) -> Vec<SessionId> {
        let outbound = Outbound::one(frame.clone());
        let chat_id = self.chat_id;
        let metrics = &self.metrics;
        let mut dropped = Vec::new();
        self.bound.retain(|&id, subscriber| {
            if !wanted(subscriber) || subscriber.offer(&outbound, Some(chat_id), metrics) {
                return true;
            }
            dropped.push(id);
            false
        });
        dropped
    }
}

impl Outlet<SessionId, ReadyEvent> for Sessions {
    type Batch = Outbound;

    fn batch(&mut self, events: &[ReadyEvent]) -> Outbound {
        Outbound::many(events.iter().map(|e| e.frame.clone()).collect())
    }

    fn offer(&mut self, session: SessionId, batch: &Outbound) -> bool {
        let offered = self
            .bound
            .get(&session)
            .is_some_and(|s| s.offer(batch, Some(self.chat_id), &self.metrics));
        if !offered {
            self.bound.remove(&session);
        }
        offered
    }

    fn bound(&mut self, session: SessionId, bound: bool) {
        let message = Membership {
            chat_id: self.chat_id,
            bound,
        };
        if bound {
            if let Some(subscriber) = self.bound.get(&session) {
                subscriber.membership.do_send(message);
            }
        } else if let Some(subscriber) = self.bound.remove(&session) {
            subscriber.membership.do_send(message);
        }
    }

    fn sessions_of(&mut self, user: UserId) -> Vec<SessionId> {
        self.directory
            .sessions_of(user)
            .into_iter()
            .map(|subscriber| {
                let id = subscriber.session_id;
                self.keep(subscriber);
                id
            })
            .collect()
    }

    fn resumed(&mut self, session: SessionId, from: Seq, to: Seq) -> bool {
        let chat_id = self.chat_id;
        let frame = to_json(&ServerFrame::Resumed {
            chat_id,
            data: ResumedData {
                chat_id,
                from_seq: from,
                to_seq: to,
            },
        });
        match frame {
            Some(frame) => self.offer(session, &Outbound::one(ByteString::from(frame))),
            // Logged by `to_json`; the session goes on without it.
            None => true,
        }
    }
}
