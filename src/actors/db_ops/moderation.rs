//! The typed operations of blocks and reports.

use parley_types::{ChatId, MessageId, ReportAction, ReportId, ReportReason, ReportStatus, UserId};

use super::{DbOp, ExecDeps};
use crate::db::queries::Idempotent;
use crate::domain::{AdminReport, Report, User};
use crate::error::AppResult;
use crate::with_backend;
use futures_util::future::BoxFuture;

pub use crate::db::queries::Resolved;

// ---- blocks --------------------------------------------------------------------------------

/// `None` if there is no such user to block.
pub struct BlockUser {
    pub blocker_id: UserId,
    pub blocked_id: UserId,
}

db_op!(BlockUser -> Option<()>, "block_user", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::moderation::block(c, this.blocker_id, this.blocked_id).await)
});

/// `None` if there is no such user to unblock.
pub struct UnblockUser {
    pub blocker_id: UserId,
    pub blocked_id: UserId,
}

db_op!(UnblockUser -> Option<()>, "unblock_user", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::moderation::unblock(c, this.blocker_id, this.blocked_id).await)
});

pub struct ListBlocks {
    pub blocker_id: UserId,
}

db_op!(ListBlocks -> Vec<User>, "list_blocks", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::moderation::blocks_of(c, this.blocker_id).await)
});

// ---- reports -------------------------------------------------------------------------------

pub struct ReportMessage {
    pub reporter_id: UserId,
    pub message_id: MessageId,
    pub reason: ReportReason,
    pub comment: Option<String>,
    /// Reports one reporter may make in an hour (0: any number).
    pub per_hour: u32,
}

db_op!(ReportMessage -> Report, "report_message", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::moderation::report(c, q::moderation::NewReport {
        reporter_id: this.reporter_id,
        message_id: this.message_id,
        reason: this.reason,
        comment: this.comment.as_deref(),
        per_hour: this.per_hour,
    }).await)
});

pub struct ListReports {
    pub status: Option<ReportStatus>,
    pub before: Option<ReportId>,
    pub limit: i64,
}

db_op!(ListReports -> Vec<AdminReport>, "list_reports", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::moderation::list_reports(
        c, this.status, this.before, this.limit,
    ).await)
});

/// One report with the messages around the reported one; `None` if there is no such report.
pub struct FindReport {
    pub report_id: ReportId,
}

db_op!(FindReport -> Option<AdminReport>, "find_report", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::moderation::find_report(c, this.report_id).await)
});

/// The chat of a report's message, whose room a resolution that deletes it goes through.
pub struct ChatOfReport {
    pub report_id: ReportId,
}

db_op!(ChatOfReport -> Option<ChatId>, "chat_of_report", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::moderation::chat_of_report(c, this.report_id).await)
});

/// Resolves a report (and every other open report of its message) with the action, in one
/// transaction with what the action does.
pub struct ResolveReport {
    pub report_id: ReportId,
    pub action: ReportAction,
}

db_op!(ResolveReport -> Idempotent<Resolved>, "resolve_report", |this, deps| {
    let mut conn = deps.db.conn().await?;
    let written = with_backend!(&mut conn, q, c => q::moderation::resolve(
        c, this.report_id, this.action,
    ).await)?;
    // A deactivated author's tokens stop working at once on this node (other nodes hear of
    // each revocation on the bus).
    for &(_, token_id) in &written.value.revoked {
        deps.tokens.forget_token(token_id);
    }
    Ok(Idempotent::Fresh(written))
});
