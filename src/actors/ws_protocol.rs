//! The WebSocket wire protocol: frames a client may send, and the server's own frames that
//! are not chat events. Independent of the WebSocket library.

use parley_types::{ChatId, Seq};
use serde::{Deserialize, Serialize};

pub use parley_types::frames::{
    ClientFrame, Empty, ErrorData, PresenceData, PresenceStatus, ReadData, ReadyData, ResumedData,
    ServerFrame, TypingData,
};

use crate::error::ErrorCode;

#[derive(Debug, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub detail: String,
}

impl FrameError {
    fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        FrameError {
            code,
            detail: detail.into(),
        }
    }
}

#[derive(Deserialize)]
struct TypingFields {
    chat_id: ChatId,
}

#[derive(Deserialize)]
struct ResumeFields {
    chat_id: ChatId,
    after_seq: i64,
}

pub fn parse_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| FrameError::new(ErrorCode::MalformedJson, "The frame is not valid JSON."))?;
    let kind = value.get("type").and_then(|t| t.as_str()).ok_or_else(|| {
        FrameError::new(
            ErrorCode::MalformedJson,
            "The frame has no \"type\" string.",
        )
    })?;
    let fields = |e: serde_json::Error| {
        FrameError::new(ErrorCode::MalformedJson, format!("Bad fields: {e}"))
    };
    match kind {
        "ping" => Ok(ClientFrame::Ping),
        "typing" => {
            let f: TypingFields = serde_json::from_value(value).map_err(fields)?;
            Ok(ClientFrame::Typing { chat_id: f.chat_id })
        }
        "resume" => {
            let f: ResumeFields = serde_json::from_value(value).map_err(fields)?;
            // The upper bound keeps `after_seq + 1` (the replay's first seq) representable.
            if !(0..i64::MAX).contains(&f.after_seq) {
                return Err(FrameError::new(
                    ErrorCode::MalformedJson,
                    "after_seq must be from 0 to 2^63 - 2.",
                ));
            }
            Ok(ClientFrame::Resume {
                chat_id: f.chat_id,
                after_seq: Seq(f.after_seq),
            })
        }
        other => Err(FrameError::new(
            ErrorCode::UnknownType,
            format!("Unknown frame type {other:?}."),
        )),
    }
}

/// The frame as JSON text, or `None` (logged) if it does not serialise: a frame is dropped
/// rather than sent as something the client cannot read.
pub fn to_json<T: Serialize>(frame: &T) -> Option<String> {
    match serde_json::to_string(frame) {
        Ok(json) => Some(json),
        Err(e) => {
            tracing::error!(error = %e, "a server frame did not serialise; dropped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_that_does_not_serialise_is_dropped() {
        // JSON object keys must be strings; a map keyed by pairs cannot be written.
        let unwritable: std::collections::HashMap<(i32, i32), i32> = [((1, 2), 3)].into();
        assert_eq!(to_json(&unwritable), None);
        assert_eq!(
            to_json(&ServerFrame::Pong { data: Empty {} }).as_deref(),
            Some(r#"{"type":"pong","data":{}}"#)
        );
    }

    #[test]
    fn parses_client_frames() {
        assert_eq!(
            parse_client_frame(r#"{"type":"ping"}"#),
            Ok(ClientFrame::Ping)
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"typing","chat_id":2}"#),
            Ok(ClientFrame::Typing { chat_id: ChatId(2) })
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"resume","chat_id":2,"after_seq":50,"x":1}"#),
            Ok(ClientFrame::Resume {
                chat_id: ChatId(2),
                after_seq: Seq(50)
            })
        );
        for (text, code) in [
            ("nope", "malformed_json"),
            ("{}", "malformed_json"),
            (r#"{"type":5}"#, "malformed_json"),
            (r#"{"type":"typing"}"#, "malformed_json"),
            (
                r#"{"type":"resume","chat_id":2,"after_seq":-1}"#,
                "malformed_json",
            ),
            (
                r#"{"type":"resume","chat_id":2,"after_seq":9223372036854775807}"#,
                "malformed_json",
            ),
            (r#"{"type":"dance"}"#, "unknown_type"),
        ] {
            assert_eq!(
                parse_client_frame(text).map_err(|e| e.code.as_str()),
                Err(code),
                "{text}"
            );
        }
    }
}
