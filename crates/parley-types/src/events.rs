//! Chat events: every change to a chat gets the chat's next `seq` in the transaction that
//! stores it; events are what a chat's sessions are sent, in `seq` order, and what `resume`
//! replays.

use serde::{Deserialize, Serialize};

use crate::{ChatId, Message, Reaction, Role, Seq, UserId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberChange {
    pub chat_id: ChatId,
    pub user_id: UserId,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionChange {
    pub message: Message,
    pub reaction: Reaction,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// One committed event of one chat: `{"type", "data", "chat_id", "seq"}` on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatEvent {
    #[serde(flatten)]
    pub payload: EventPayload,
    pub chat_id: ChatId,
    pub seq: Seq,
}

impl ChatEvent {
    /// The member this event changes, and whether it joins, if it is a membership event.
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
            chat_id: ChatId(2),
            seq: Seq(7),
            payload: EventPayload::MemberJoined(MemberChange {
                chat_id: ChatId(2),
                user_id: UserId(9),
                role: Role::Member,
            }),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "member.joined", "chat_id": 2, "seq": 7,
                "data": {"chat_id": 2, "user_id": 9, "role": "member"}})
        );
        // The field order too: `parley-load` reads the type from the start of a frame and the
        // event's seq from its end without parsing it (and parses in full if that changes).
        let text = serde_json::to_string(&event).unwrap();
        assert!(
            text.starts_with(r#"{"type":"member.joined","data":{"#),
            "{text}"
        );
        assert!(text.ends_with(r#","chat_id":2,"seq":7}"#), "{text}");
        assert_eq!(serde_json::from_str::<ChatEvent>(&text).unwrap(), event);
    }
}
