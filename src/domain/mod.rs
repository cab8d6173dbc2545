//! The values Parley hands to clients. Every type here is plain owned data: once built it
//! cannot touch the database, so serialising a response can never trigger a query.

pub mod attachments;
pub mod chat_list;
pub mod commands;
pub mod delivery;
pub mod events;
pub mod mentions;
pub mod push;
pub mod search;
pub mod validate;
pub mod webhooks;

pub use events::{ChatEvent, EventPayload, MemberChange, ReactionChange};
pub use parley_types::{
    AccountList, AccountStatus, Attachment, AttachmentId, BotToken, Chat, ChatId, ChatKind,
    ChatSummary, EventSubscription, EventSubscriptionId, HistoryPage, IncomingWebhook, Member,
    Message, MessageId, MessageKind, Notification, NotificationLevel, PushSubscription, Reaction,
    Role, Seq, Session, ThreadPage, ThreadSummary, Timestamp, TokenType, User, UserId,
    VapidPublicKey, WebhookDelivery, WebhookId,
};
pub use parley_types::{
    AdminReport, Report, ReportAction, ReportId, ReportList, ReportReason, ReportStatus,
};

/// Which slice of a chat's history a page covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryCursor {
    Newest,
    BeforeSeq(Seq),
    AfterSeq(Seq),
    /// The seqs strictly between the two, read forward from `after`: the way to fill a gap
    /// between two events a client holds.
    Between {
        after: Seq,
        before: Seq,
    },
}

impl HistoryCursor {
    /// Whether the page is read oldest first (from a lower bound) rather than newest first.
    pub fn reads_forward(self) -> bool {
        matches!(
            self,
            HistoryCursor::AfterSeq(_) | HistoryCursor::Between { .. }
        )
    }
}
