//! Persisted chat events: every change to a chat gets the chat's next `seq` in the transaction
//! that stores it, and is what the chat's room broadcasts and what `resume` replays.

use serde::Serialize;

use super::{Message, Reaction, Role};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberChange {
    pub chat_id: i64,
    pub user_id: i64,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReactionChange {
    pub message: Message,
    pub reaction: Reaction,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum EventPayload {
    #[serde(rename = "message.created")]
    MessageCreated(Message),
    #[serde(rename = "message.updated")]
    MessageUpdated(Message),
    #[serde(rename = "message.deleted")]
    MessageDeleted(Message),
    #[serde(rename = "reaction.added")]
    ReactionAdded(ReactionChange),
    #[serde(rename = "reaction.removed")]
    ReactionRemoved(ReactionChange),
    #[serde(rename = "member.joined")]
    MemberJoined(MemberChange),
    #[serde(rename = "member.left")]
    MemberLeft(MemberChange),
}

/// The persisted kinds, as stored in `chat_events.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    MessageCreated,
    MessageUpdated,
    MessageDeleted,
    ReactionAdded,
    ReactionRemoved,
    MemberJoined,
    MemberLeft,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::MessageCreated => "message.created",
            EventKind::MessageUpdated => "message.updated",
            EventKind::MessageDeleted => "message.deleted",
            EventKind::ReactionAdded => "reaction.added",
            EventKind::ReactionRemoved => "reaction.removed",
            EventKind::MemberJoined => "member.joined",
            EventKind::MemberLeft => "member.left",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            EventKind::MessageCreated,
            EventKind::MessageUpdated,
            EventKind::MessageDeleted,
            EventKind::ReactionAdded,
            EventKind::ReactionRemoved,
            EventKind::MemberJoined,
            EventKind::MemberLeft,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One committed event of one chat, ready to be sent to clients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChatEvent {
    #[serde(flatten)]
    pub payload: EventPayload,
    pub chat_id: i64,
    pub seq: i64,
}

impl ChatEvent {
    /// The user whose membership this event changes, if it is a membership event.
    pub fn membership_change(&self) -> Option<(&MemberChange, bool)> {
        match &self.payload {
            EventPayload::MemberJoined(m) => Some((m, true)),
            EventPayload::MemberLeft(m) => Some((m, false)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_has_type_chat_id_seq_and_data() {
        let event = ChatEvent {
            chat_id: 2,
            seq: 7,
            payload: EventPayload::MemberJoined(MemberChange {
                chat_id: 2,
                user_id: 9,
                role: Role::Member,
            }),
        };
        let json = serde_json::to_value(&event).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"type": "member.joined", "chat_id": 2, "seq": 7,
                "data": {"chat_id": 2, "user_id": 9, "role": "member"}})
        );
        // The field order too: `parley-load` reads the type from the start of a frame and the
        // event's seq from its end without parsing it (and parses in full if that changes).
        let text = serde_json::to_string(&event).unwrap_or_default();
        assert!(
            text.starts_with(r#"{"type":"member.joined","data":{"#),
            "{text}"
        );
        assert!(text.ends_with(r#","chat_id":2,"seq":7}"#), "{text}");
    }
}
