//! Persisted chat events: every change to a chat gets the chat's next `seq` in the transaction
//! that stores it, and is what the chat's room broadcasts and what `resume` replays. The events
//! themselves are wire values (`parley_types`); this is how they are stored.

pub use parley_types::{ChatEvent, EventPayload, MemberChange, ReactionChange};

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
