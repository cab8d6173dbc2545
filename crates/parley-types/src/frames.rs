//! The WebSocket protocol: the frames a client sends (`ClientFrame`) and the frames the server
//! sends (`ServerFrame`), each one tagged by its `"type"`. Chat events are server frames too,
//! with their own shape (`ChatEvent`).

use serde::{Deserialize, Serialize};

use crate::{ChatEvent, ChatId, ErrorCode, Seq, UserId};

/// A frame from the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Ping,
    /// The user is typing in the chat (sent to its other members' sessions).
    Typing {
        chat_id: ChatId,
    },
    /// Send every event of the chat after `after_seq`, then `resumed`, then live events.
    Resume {
        chat_id: ChatId,
        after_seq: Seq,
    },
}

/// A frame from the server.
// Events are most of the frames a client reads: boxing them would allocate once more per frame
// to save stack space in the few that are not.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The first frame of a session: who it is.
    Ready {
        data: ReadyData,
    },
    Pong {
        data: Empty,
    },
    /// A frame the server could not take; the session goes on (unless a close follows).
    Error {
        data: ErrorData,
    },
    /// A replay asked for by `resume` reached the live stream.
    Resumed {
        chat_id: ChatId,
        data: ResumedData,
    },
    Typing {
        chat_id: ChatId,
        data: TypingData,
    },
    /// A member's read marker moved.
    Read {
        chat_id: ChatId,
        data: ReadData,
    },
    /// A user who shares a chat with the session's user came online or went offline.
    Presence {
        data: PresenceData,
    },
    /// A chat event: `message.created`, `member.joined`, …
    #[serde(untagged)]
    Event(ChatEvent),
}

/// `{}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyData {
    pub user_id: UserId,
    pub session_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    pub code: ErrorCode,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumedData {
    pub chat_id: ChatId,
    pub from_seq: Seq,
    pub to_seq: Seq,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingData {
    pub chat_id: ChatId,
    pub user_id: UserId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadData {
    pub chat_id: ChatId,
    pub user_id: UserId,
    pub seq: Seq,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresenceStatus {
    Online,
    Offline,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceData {
    pub user_id: UserId,
    pub status: PresenceStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventPayload, MemberChange, Role};

    fn round_trip(frame: ServerFrame, text: &str) {
        assert_eq!(serde_json::to_string(&frame).unwrap(), text);
        assert_eq!(serde_json::from_str::<ServerFrame>(text).unwrap(), frame);
    }

    #[test]
    fn server_frames_are_written_as_the_protocol_says() {
        round_trip(
            ServerFrame::Ready {
                data: ReadyData {
                    user_id: UserId(3),
                    session_id: "n1-7".into(),
                },
            },
            r#"{"type":"ready","data":{"user_id":3,"session_id":"n1-7"}}"#,
        );
        round_trip(
            ServerFrame::Pong { data: Empty {} },
            r#"{"type":"pong","data":{}}"#,
        );
        round_trip(
            ServerFrame::Error {
                data: ErrorData {
                    code: ErrorCode::UnknownType,
                    detail: "no".into(),
                },
            },
            r#"{"type":"error","data":{"code":"unknown_type","detail":"no"}}"#,
        );
        round_trip(
            ServerFrame::Resumed {
                chat_id: ChatId(2),
                data: ResumedData {
                    chat_id: ChatId(2),
                    from_seq: Seq(5),
                    to_seq: Seq(9),
                },
            },
            r#"{"type":"resumed","chat_id":2,"data":{"chat_id":2,"from_seq":5,"to_seq":9}}"#,
        );
        round_trip(
            ServerFrame::Typing {
                chat_id: ChatId(2),
                data: TypingData {
                    chat_id: ChatId(2),
                    user_id: UserId(4),
                },
            },
            r#"{"type":"typing","chat_id":2,"data":{"chat_id":2,"user_id":4}}"#,
        );
        round_trip(
            ServerFrame::Read {
                chat_id: ChatId(2),
                data: ReadData {
                    chat_id: ChatId(2),
                    user_id: UserId(4),
                    seq: Seq(8),
                },
            },
            r#"{"type":"read","chat_id":2,"data":{"chat_id":2,"user_id":4,"seq":8}}"#,
        );
        round_trip(
            ServerFrame::Presence {
                data: PresenceData {
                    user_id: UserId(4),
                    status: PresenceStatus::Offline,
                },
            },
            r#"{"type":"presence","data":{"user_id":4,"status":"offline"}}"#,
        );
        round_trip(
            ServerFrame::Event(ChatEvent {
                payload: EventPayload::MemberLeft(MemberChange {
                    chat_id: ChatId(2),
                    user_id: UserId(4),
                    role: Role::Admin,
                }),
                chat_id: ChatId(2),
                seq: Seq(10),
            }),
            r#"{"type":"member.left","data":{"chat_id":2,"user_id":4,"role":"admin"},"chat_id":2,"seq":10}"#,
        );
    }

    #[test]
    fn client_frames_read_as_the_protocol_says() {
        assert_eq!(
            serde_json::from_str::<ClientFrame>(r#"{"type":"resume","chat_id":2,"after_seq":50}"#)
                .unwrap(),
            ClientFrame::Resume {
                chat_id: ChatId(2),
                after_seq: Seq(50)
            }
        );
        assert_eq!(
            serde_json::to_string(&ClientFrame::Typing { chat_id: ChatId(1) }).unwrap(),
            r#"{"type":"typing","chat_id":1}"#
        );
        assert_eq!(
            serde_json::to_string(&ClientFrame::Ping).unwrap(),
            r#"{"type":"ping"}"#
        );
    }
}
