//! Reading what a session needs from a server frame — its type, its top-level `seq` and the
//! send time the load tool put in the content — without parsing the whole JSON: at hundreds
//! of thousands of frames a second the tool's own parsing would otherwise be what is measured.
//! Anything the fast path does not recognise is parsed in full, as the typed `ServerFrame`
//! (`parley-types`), so a change in the server's field order costs speed, never a wrong figure.

use parley_types::{EventPayload, ServerFrame};

/// A `message.created` frame, as far as the tool cares.
#[derive(Debug, PartialEq, Eq)]
pub struct Created {
    pub seq: i64,
    /// Microseconds since the epoch, from content `t=<micros>`.
    pub sent_micros: Option<u128>,
    /// Microseconds since the epoch, from the message's `created_at` (the server's commit
    /// time, to the millisecond): splits send-to-receipt into the send and the fan-out.
    pub committed_micros: Option<u128>,
}

const CREATED: &str = r#"{"type":"message.created","#;

/// `Some` for a `message.created` frame, `None` for any other frame. The commit time costs a
/// second scan and a timestamp parse, so it is read only when `with_commit_time`.
pub fn created(frame: &str, with_commit_time: bool) -> Option<Created> {
    if !frame.starts_with(CREATED) {
        // Other frames (ready, pong, typing, ...) are few; a full parse settles them.
        return created_slowly(frame);
    }
    fast(frame, with_commit_time).or_else(|| created_slowly(frame))
}

fn fast(frame: &str, with_commit_time: bool) -> Option<Created> {
    // The event's own seq follows its data (which holds the message's seq too): the last one.
    let at = frame.rfind(r#""seq":"#)? + r#""seq":"#.len();
    let seq = leading_number(frame.get(at..)?)?;
    let sent_micros = frame
        .find(r#""content":"t="#)
        .and_then(|i| frame.get(i + r#""content":"t="#.len()..))
        .and_then(leading_number);
    let committed_micros = with_commit_time
        .then(|| frame.find(r#""created_at":""#))
        .flatten()
        .and_then(|i| frame.get(i + r#""created_at":""#.len()..))
        .and_then(|rest| rest.split('"').next())
        .and_then(epoch_micros);
    Some(Created {
        seq: i64::try_from(seq).ok()?,
        sent_micros,
        committed_micros,
    })
}

fn leading_number(text: &str) -> Option<u128> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    text.get(..digits)?.parse().ok()
}

fn epoch_micros(timestamp: &str) -> Option<u128> {
    let at = chrono::DateTime::parse_from_rfc3339(timestamp).ok()?;
    u128::try_from(at.timestamp_micros()).ok()
}

fn created_slowly(frame: &str) -> Option<Created> {
    let ServerFrame::Event(event) = serde_json::from_str::<ServerFrame>(frame).ok()? else {
        return None;
    };
    let EventPayload::MessageCreated(message) = event.payload else {
        return None;
    };
    Some(Created {
        seq: event.seq.get(),
        sent_micros: message
            .content
            .strip_prefix("t=")
            .and_then(|t| t.parse().ok()),
        committed_micros: u128::try_from(message.created_at.millis())
            .ok()
            .map(|ms| ms * 1000),
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    /// As the server writes it (`ChatEvent`: the payload's type and data, then chat_id, seq).
    const FRAME: &str = r#"{"type":"message.created","data":{"id":9,"chat_id":2,"seq":7,"author_id":1,"type":"text","content":"t=1764633600123456","reply_to_id":null,"client_id":null,"created_at":"2026-12-02T00:00:00.123Z","edited_at":null,"deleted":false,"reactions":[]},"chat_id":2,"seq":7}"#;

    #[test]
    fn the_fast_path_reads_what_a_full_parse_reads() {
        let expected = Created {
            seq: 7,
            sent_micros: Some(1_764_633_600_123_456),
            committed_micros: Some(1_796_169_600_123_000),
        };
        assert_eq!(fast(FRAME, true), Some(expected));
        assert_eq!(created(FRAME, true), created_slowly(FRAME));
        let without = fast(FRAME, false).unwrap();
        assert_eq!((without.seq, without.committed_micros), (7, None));
    }

    #[test]
    fn other_frames_and_other_orders_fall_back() {
        assert_eq!(
            created(
                r#"{"type":"ready","data":{"user_id":1,"session_id":"x"}}"#,
                true
            ),
            None
        );
        let reordered = r#"{"seq":5,"chat_id":2,"type":"message.created","data":{"content":"t=42","seq":5,"id":9,"chat_id":2,"author_id":1,"type":"text","reply_to_id":null,"client_id":null,"created_at":"2026-12-02T00:00:00.123Z","edited_at":null,"deleted":false,"reactions":[]}}"#;
        assert_eq!(
            created(reordered, true),
            Some(Created {
                seq: 5,
                sent_micros: Some(42),
                committed_micros: Some(1_796_169_600_123_000),
            })
        );
    }
}
