//! Blocks and reports: what a person does about someone who harasses them, and what the
//! operators see of it.

use serde::{Deserialize, Serialize};

use crate::{ChatId, Message, MessageId, ReportId, Timestamp, User};

/// Why a message was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    Spam,
    Abuse,
    Other,
}

/// Where a report stands: open until an operator resolves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Open,
    Resolved,
}

/// What an operator did about a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportAction {
    /// Nothing to act on.
    Dismiss,
    /// The message is deleted (a tombstone, as when its author deletes it).
    DeleteMessage,
    /// The author's account is deactivated: its tokens revoked, its sessions closed.
    DeactivateAuthor,
}

macro_rules! wire_names {
    ($ty:ty { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $text,)+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some(<$ty>::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

wire_names!(ReportReason { Spam = "spam", Abuse = "abuse", Other = "other" });
wire_names!(ReportStatus { Open = "open", Resolved = "resolved" });
wire_names!(ReportAction {
    Dismiss = "dismiss",
    DeleteMessage = "delete_message",
    DeactivateAuthor = "deactivate_author",
});

/// A report as its reporter sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: ReportId,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub message_id: MessageId,
    pub reason: ReportReason,
    pub comment: Option<String>,
    pub status: ReportStatus,
    pub created_at: Timestamp,
}

/// A report as the operators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminReport {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: ReportId,
    pub status: ReportStatus,
    pub reason: ReportReason,
    pub comment: Option<String>,
    pub created_at: Timestamp,
    pub reporter: User,
    /// The message's author as the account is now.
    pub author: User,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub chat_id: ChatId,
    /// The message as it was when it was reported (whatever became of it since).
    pub message: Message,
    /// What the operator did, once the report is resolved.
    pub resolution: Option<ReportAction>,
    pub resolved_at: Option<Timestamp>,
    /// Only from `GET /admin/reports/{id}`: the messages around the reported one, in `seq`
    /// order, as they are now (the reported one among them, a tombstone if deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<Message>>,
}

/// `GET /admin/reports`: newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportList {
    pub reports: Vec<AdminReport>,
}

/// `POST /api/v1/messages/{id}/report`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportRequest {
    pub reason: ReportReason,
    /// What the operators should know: at most 1000 characters, newlines and tabs allowed,
    /// no other control or bidirectional-override characters.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 1000,
            pattern = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
        )
    )]
    pub comment: Option<String>,
}

/// `POST /admin/reports/{id}/resolve`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolveReportRequest {
    pub action: ReportAction,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for reason in [ReportReason::Spam, ReportReason::Abuse, ReportReason::Other] {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
            assert_eq!(ReportReason::parse(reason.as_str()), Some(reason));
        }
        for action in [
            ReportAction::Dismiss,
            ReportAction::DeleteMessage,
            ReportAction::DeactivateAuthor,
        ] {
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
            assert_eq!(ReportAction::parse(action.as_str()), Some(action));
        }
        for status in [ReportStatus::Open, ReportStatus::Resolved] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(ReportStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ReportReason::parse("Spam"), None);
    }
}
