//! Parley's wire format, shared by the server and its clients: typed ids, the domain values
//! the API hands out, error codes and WebSocket close codes. Plain data: no runtime, no
//! database, no web framework (the `diesel` and `openapi` features add the server's traits).

mod error_code;
mod events;
pub mod frames;
mod ids;
mod kinds;
mod moderation;
pub mod requests;
mod time;
pub mod username;
mod values;

pub use error_code::ErrorCode;
pub use events::{ChatEvent, EventPayload, MemberChange, ReactionChange};
pub use frames::{ClientFrame, ServerFrame};
pub use ids::{
    AttachmentId, ChatId, EventSubscriptionId, MessageId, ReportId, Seq, SubscriptionId, TokenId,
    UserId, WebhookId,
};
pub use kinds::{ChatKind, CloseCode, NotificationLevel, Role};
pub use moderation::{
    AdminReport, Report, ReportAction, ReportList, ReportReason, ReportRequest, ReportStatus,
    ResolveReportRequest,
};
pub use time::Timestamp;
pub use values::{
    AccountList, AccountStatus, Attachment, BotToken, Chat, ChatSummary, EventSubscription,
    HistoryPage, IncomingWebhook, Member, Message, MessageKind, Notification, PushSubscription,
    Reaction, Session, ThreadPage, ThreadSummary, TokenType, User, VapidPublicKey, WebhookDelivery,
};
