//! What nodes tell each other over NATS, and the handle rooms and logout publish it through.
//!
//! The bus is a fast path only: PostgreSQL's event log is the one source of truth, and NATS
//! may lose or reorder anything. So publishing never waits: a message goes into a bounded
//! queue that the NATS link drains, and when the queue is full it is dropped and counted (the
//! receiving rooms read what they miss from the log, and the periodic sweep finds it if
//! nothing newer comes). This module knows the wire format, not the NATS client.

use parley_types::{ChatId, Seq, TokenId, UserId};
use std::sync::Arc;

use bytes::Bytes;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::messages::ReadyEvent;
use crate::metrics::Metrics;

/// Committed events of chat N: `parley.events.N`.
pub const EVENTS: &str = "parley.events";
/// `typing` and `read` frames of chat N: `parley.ephemeral.N`.
pub const EPHEMERAL: &str = "parley.ephemeral";
/// Revoked tokens.
pub const REVOKED: &str = "parley.revoked";
/// Which users have sessions on a node (changes, and the periodic roster).
pub const PRESENCE: &str = "parley.presence";
/// Most users named in one presence message (a roster goes out in parts).
const PRESENCE_PART: usize = 10_000;

/// Messages waiting for the NATS link; past this, new ones are dropped.
pub const QUEUE: usize = 8192;

/// One message for the NATS link to publish.
pub struct Outgoing {
    pub subject: String,
    pub payload: Bytes,
}

#[derive(Clone)]
pub struct ClusterBus {
    node_id: Arc<str>,
    queue: mpsc::Sender<Outgoing>,
    metrics: Arc<Metrics>,
}

#[derive(Serialize, Deserialize)]
struct WireEvent<F> {
    seq: Seq,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    member: Option<(UserId, bool)>,
    frame: F,
}

#[derive(Serialize, Deserialize)]
struct EventBatch<F> {
    origin: String,
    chat_id: ChatId,
    events: Vec<WireEvent<F>>,
}

#[derive(Serialize, Deserialize)]
struct EphemeralMessage<F> {
    origin: String,
    chat_id: ChatId,
    from_user: UserId,
    to_sender: bool,
    frame: F,
}

#[derive(Serialize, Deserialize)]
struct PresenceReport {
    origin: String,
    users: Vec<UserId>,
    here: bool,
}

#[derive(Serialize, Deserialize)]
struct Revocation {
    origin: String,
    user_id: UserId,
    token_id: TokenId,
}

/// A message from another node, parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Events {
        chat_id: ChatId,
        events: Vec<ReadyEvent>,
    },
    Ephemeral {
        chat_id: ChatId,
        from_user: UserId,
        to_sender: bool,
        frame: ByteString,
    },
    Revoked {
        user_id: UserId,
        token_id: TokenId,
    },
    /// Node `node` has sessions of `users` (`here`), or no longer has.
    Presence {
        node: String,
        users: Vec<UserId>,
        here: bool,
    },
}

fn raw(frame: &ByteString) -> Option<Box<RawValue>> {
    RawValue::from_string(frame.to_string()).ok()
}

impl ClusterBus {
    /// The bus of node `node_id`, and the queue its NATS link drains.
    pub fn new(node_id: &str, metrics: Arc<Metrics>) -> (Self, mpsc::Receiver<Outgoing>) {
        let (queue, drained) = mpsc::channel(QUEUE);
        let bus = ClusterBus {
            node_id: node_id.into(),
            queue,
            metrics,
        };
        (bus, drained)
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Events this node's room for `chat_id` committed, as one message.
    pub fn publish_events(&self, chat_id: ChatId, events: &[ReadyEvent]) {
        if events.is_empty() {
            return;
        }
        let events = events
            .iter()
            .filter_map(|e| {
                Some(WireEvent {
                    seq: e.seq,
                    member: e.membership,
                    frame: raw(&e.frame)?,
                })
            })
            .collect();
        let batch = EventBatch {
            origin: self.node_id.to_string(),
            chat_id,
            events,
        };
        self.enqueue(format!("{EVENTS}.{chat_id}"), &batch);
    }

    pub fn publish_ephemeral(
        &self,
        chat_id: ChatId,
        from_user: UserId,
        to_sender: bool,
        frame: &ByteString,
    ) {
        let Some(frame) = raw(frame) else {
            return;
        };
        let message = EphemeralMessage {
            origin: self.node_id.to_string(),
            chat_id,
            from_user,
            to_sender,
            frame,
        };
        self.enqueue(format!("{EPHEMERAL}.{chat_id}"), &message);
    }

    pub fn publish_revocation(&self, user_id: UserId, token_id: TokenId) {
        let message = Revocation {
            origin: self.node_id.to_string(),
            user_id,
            token_id,
        };
        self.enqueue(REVOKED.to_owned(), &message);
    }

    /// Whether these users have sessions on this node.
    pub fn publish_presence(&self, users: &[UserId], here: bool) {
        for part in users.chunks(PRESENCE_PART) {
            let report = PresenceReport {
                origin: self.node_id.to_string(),
                users: part.to_vec(),
                here,
            };
            self.enqueue(PRESENCE.to_owned(), &report);
        }
    }

    fn enqueue(&self, subject: String, message: &impl Serialize) {
        let payload = match serde_json::to_vec(message) {
            Ok(bytes) => Bytes::from(bytes),
            Err(e) => {
                tracing::error!(error = %e, subject, "a bus message did not serialise");
                return;
            }
        };
        if self.queue.try_send(Outgoing { subject, payload }).is_err() {
            self.metrics.nats_publish_dropped.inc();
        }
    }

    /// Parses a message from the bus. `None` for this node's own messages and for anything
    /// malformed (counted by the caller).
    pub fn parse(&self, subject: &str, payload: &[u8]) -> Option<Incoming> {
        let (origin, incoming) = if subject.starts_with(EVENTS) {
            let batch: EventBatch<Box<RawValue>> = serde_json::from_slice(payload).ok()?;
            let events = batch
                .events
                .into_iter()
                .map(|e| ReadyEvent {
                    seq: e.seq,
                    frame: ByteString::from(e.frame.get().to_owned()),
                    membership: e.member,
                })
                .collect();
            let incoming = Incoming::Events {
                chat_id: batch.chat_id,
                events,
            };
            (batch.origin, incoming)
        } else if subject.starts_with(EPHEMERAL) {
            let m: EphemeralMessage<Box<RawValue>> = serde_json::from_slice(payload).ok()?;
            let incoming = Incoming::Ephemeral {
                chat_id: m.chat_id,
                from_user: m.from_user,
                to_sender: m.to_sender,
                frame: ByteString::from(m.frame.get().to_owned()),
            };
            (m.origin, incoming)
        } else if subject == PRESENCE {
            let m: PresenceReport = serde_json::from_slice(payload).ok()?;
            let incoming = Incoming::Presence {
                node: m.origin.clone(),
                users: m.users,
                here: m.here,
            };
            (m.origin, incoming)
        } else if subject == REVOKED {
            let m: Revocation = serde_json::from_slice(payload).ok()?;
            let incoming = Incoming::Revoked {
                user_id: m.user_id,
                token_id: m.token_id,
            };
            (m.origin, incoming)
        } else {
            return None;
        };
        (origin != *self.node_id).then_some(incoming)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bus(node: &str) -> (ClusterBus, mpsc::Receiver<Outgoing>) {
        ClusterBus::new(node, Arc::new(Metrics::new().unwrap()))
    }

    #[test]
    fn what_one_node_publishes_another_reads_back_and_the_sender_ignores() {
        let (a, mut a_out) = bus("a");
        let (b, _) = bus("b");
        let events = vec![
            ReadyEvent {
                seq: Seq(4),
                frame: ByteString::from(r#"{"type":"member.joined","chat_id":7,"seq":4}"#),
                membership: Some((UserId(12), true)),
            },
            ReadyEvent {
                seq: Seq(5),
                frame: ByteString::from(r#"{"type":"message.created","chat_id":7,"seq":5}"#),
                membership: None,
            },
        ];
        a.publish_events(ChatId(7), &events);
        a.publish_ephemeral(
            ChatId(7),
            UserId(12),
            false,
            &ByteString::from(r#"{"type":"typing"}"#),
        );
        a.publish_revocation(UserId(12), TokenId(99));
        a.publish_presence(&[UserId(12), UserId(13)], true);
        let mut read = Vec::new();
        while let Ok(out) = a_out.try_recv() {
            assert_eq!(a.parse(&out.subject, &out.payload), None, "own echo");
            read.push(b.parse(&out.subject, &out.payload).unwrap());
        }
        assert_eq!(
            read,
            vec![
                Incoming::Events {
                    chat_id: ChatId(7),
                    events
                },
                Incoming::Ephemeral {
                    chat_id: ChatId(7),
                    from_user: UserId(12),
                    to_sender: false,
                    frame: ByteString::from(r#"{"type":"typing"}"#),
                },
                Incoming::Revoked {
                    user_id: UserId(12),
                    token_id: TokenId(99),
                },
                Incoming::Presence {
                    node: "a".to_owned(),
                    users: vec![UserId(12), UserId(13)],
                    here: true,
                },
            ]
        );
        assert_eq!(b.parse("parley.events.7", b"not json"), None);
    }
}
