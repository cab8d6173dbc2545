//! `typing` and `read`: frames about a chat that are not events (no seq, not stored, not
//! replayed). They go to the room's sessions as they come, and to the other nodes' rooms.

use bytestring::ByteString;
use parley_types::UserId;

use super::ChatRoom;
use crate::actors::messages::{EphemeralEvent, Refusal};
use crate::actors::ws_protocol::{to_json, ReadData, ServerFrame, TypingData};

impl ChatRoom {
    pub(super) fn broadcast_ephemeral(&mut self, event: EphemeralEvent) -> Result<(), Refusal> {
        let chat_id = self.chat_id;
        let (frame, from_user, to_sender) = match event {
            EphemeralEvent::Read { user_id, seq } => (
                ServerFrame::Read {
                    chat_id,
                    data: ReadData {
                        chat_id,
                        user_id,
                        seq,
                    },
                },
                user_id,
                true,
            ),
            EphemeralEvent::Typing { user_id } => (
                ServerFrame::Typing {
                    chat_id,
                    data: TypingData { chat_id, user_id },
                },
                user_id,
                false,
            ),
        };
        let json = to_json(&frame);
        if !self.sequencer.is_member(from_user) {
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

    /// Offers the frame to the room's sessions (not to the sender's own unless `to_sender`),
    /// without waiting: a session that cannot take it is dropped.
    pub(super) fn send_ephemeral(
        &mut self,
        frame: &ByteString,
        from_user: UserId,
        to_sender: bool,
    ) {
        let dropped = self
            .sessions
            .send_where(frame, |s| to_sender || s.user_id != from_user);
        for session_id in dropped {
            self.sequencer.forget(session_id);
        }
    }
}
