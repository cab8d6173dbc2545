//! Blocks and reports: a person shuts someone out; operators learn of abuse and act on it.

use parley_types::{
    AdminReport, ChatId, MessageId, Report, ReportAction, ReportId, ReportReason, ReportStatus,
    UserId,
};
use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::Conn;
use crate::db::queries::{Outcome, Resolved, Written};
use crate::db::rows::{MessageRow, ReportRow, UserRow};
use crate::db::schema::{message_reports, messages, user_blocks, users};
use crate::domain::{Message, Timestamp, User};
use crate::error::{AppError, AppResult, ErrorCode};

/// Most people one person may block: enough for anyone being harassed, and a bound on the
/// list `GET /users/me/blocks` returns whole.
pub const MAX_BLOCKS: i64 = 1000;

/// How far around a reported message the operators' view reaches, each way.
const CONTEXT_EACH_WAY: i64 = 3;

const HOUR_MILLIS: i64 = 60 * 60 * 1000;

// ---- blocks --------------------------------------------------------------------------------

/// `blocker_id` blocks `blocked_id` (again: nothing changes). `None` if there is no such user.
pub async fn block(
    conn: &mut Conn,
    blocker_id: UserId,
    blocked_id: UserId,
) -> AppResult<Option<()>> {
    conn.transaction::<_, AppError, _>(async |c| {
        if super::users::find_row(c, blocked_id).await?.is_none() {
            return Ok(None);
        }
        // Their direct chat's lock, when they have one: a send into it that checked before
        // this commits has committed first, and every later one sees the block.
        let key = super::chats::direct_key(blocker_id, blocked_id);
        if let Some(chat_id) = super::chats::find_direct(c, &key).await? {
            super::guards::lock_chat(c, chat_id).await?;
        }
        let already: bool = diesel::select(diesel::dsl::exists(
            user_blocks::table.find((blocker_id, blocked_id)),
        ))
        .get_result(c)
        .await?;
        if already {
            return Ok(Some(()));
        }
        let count: i64 = user_blocks::table
            .filter(user_blocks::blocker_id.eq(blocker_id))
            .count()
            .get_result(c)
            .await?;
        if count >= MAX_BLOCKS {
            return Err(AppError::Conflict {
                code: ErrorCode::TooManyBlocks,
                detail: format!("One person may block at most {MAX_BLOCKS} others."),
            });
        }
        diesel::insert_into(user_blocks::table)
            .values((
                user_blocks::blocker_id.eq(blocker_id),
                user_blocks::blocked_id.eq(blocked_id),
                user_blocks::created_at.eq(Timestamp::now().millis()),
            ))
            .on_conflict_do_nothing()
            .execute(c)
            .await?;
        Ok(Some(()))
    })
    .await
}

/// Lifts the block (if there was one). `None` if there is no such user.
pub async fn unblock(
    conn: &mut Conn,
    blocker_id: UserId,
    blocked_id: UserId,
) -> AppResult<Option<()>> {
    if super::users::find_row(conn, blocked_id).await?.is_none() {
        return Ok(None);
    }
    diesel::delete(user_blocks::table.find((blocker_id, blocked_id)))
        .execute(conn)
        .await?;
    Ok(Some(()))
}

/// The people `blocker_id` blocks, in the order they were blocked. Two statements: joined in
/// one, PostgreSQL scans every account past some 700 blocks (measured on 200,000 accounts).
pub async fn blocks_of(conn: &mut Conn, blocker_id: UserId) -> AppResult<Vec<User>> {
    let ids: Vec<UserId> = user_blocks::table
        .filter(user_blocks::blocker_id.eq(blocker_id))
        .order((user_blocks::created_at.asc(), user_blocks::blocked_id.asc()))
        .select(user_blocks::blocked_id)
        .load(conn)
        .await?;
    let mut people: HashMap<UserId, UserRow> = users::table
        .filter(users::id.eq_any(&ids))
        .select(UserRow::as_select())
        .load::<UserRow>(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(ids
        .iter()
        .filter_map(|id| people.remove(id))
        .map(User::from)
        .collect())
}

// ---- reports -------------------------------------------------------------------------------

/// What a reporter asks.
pub struct NewReport<'a> {
    pub reporter_id: UserId,
    pub message_id: MessageId,
    pub reason: ReportReason,
    pub comment: Option<&'a str>,
    /// Reports one reporter may make in an hour (0: any number).
    pub per_hour: u32,
}

/// Records a report of a message of someone else's, by a member of its chat, with the
/// message as it is now.
pub async fn report(conn: &mut Conn, new: NewReport<'_>) -> AppResult<Report> {
    conn.transaction::<_, AppError, _>(async |c| {
        let row = super::aggregates::find_row(c, new.message_id).await?;
        super::guards::require_member(c, row.chat_id, new.reporter_id).await?;
        if row.author_id == new.reporter_id {
            return Err(AppError::forbidden("You cannot report your own message."));
        }
        if row.deleted {
            return Err(AppError::Conflict {
                code: ErrorCode::MessageDeleted,
                detail: "The message was deleted.".into(),
            });
        }
        let open: bool = diesel::select(diesel::dsl::exists(
            message_reports::table
                .filter(message_reports::message_id.eq(new.message_id))
                .filter(message_reports::reporter_id.eq(new.reporter_id))
                .filter(message_reports::status.eq(ReportStatus::Open.as_str())),
        ))
        .get_result(c)
        .await?;
        if open {
            return Err(already_reported());
        }
        let now = Timestamp::now().millis();
        if new.per_hour > 0 {
            refuse_past_rate(c, new.reporter_id, new.per_hour, now).await?;
        }
        let (chat_id, author_id) = (row.chat_id, row.author_id);
        let snapshot = serde_json::to_string(&super::aggregates::aggregate(c, row).await?)?;
        let inserted = diesel::insert_into(message_reports::table)
            .values((
                message_reports::message_id.eq(new.message_id),
                message_reports::chat_id.eq(chat_id),
                message_reports::reporter_id.eq(new.reporter_id),
                message_reports::author_id.eq(author_id),
                message_reports::reason.eq(new.reason.as_str()),
                message_reports::comment.eq(new.comment),
                message_reports::snapshot.eq(&snapshot),
                message_reports::status.eq(ReportStatus::Open.as_str()),
                message_reports::created_at.eq(now),
            ))
            .returning(ReportRow::as_returning())
            .get_result(c)
            .await;
        match inserted {
            Ok(row) => row.for_reporter(),
            // A concurrent report of theirs of the same message committed first.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Err(already_reported()),
            Err(e) => Err(e.into()),
        }
    })
    .await
}

fn already_reported() -> AppError {
    AppError::Conflict {
        code: ErrorCode::AlreadyReported,
        detail: "You have an open report of this message.".into(),
    }
}

/// `429` when the reporter has made `per_hour` reports in the last hour; the wait is until the
/// oldest of them is an hour old.
async fn refuse_past_rate(
    conn: &mut Conn,
    reporter_id: UserId,
    per_hour: u32,
    now: i64,
) -> AppResult<()> {
    let recent: Vec<i64> = message_reports::table
        .filter(message_reports::reporter_id.eq(reporter_id))
        .filter(message_reports::created_at.gt(now - HOUR_MILLIS))
        .order(message_reports::created_at.desc())
        .select(message_reports::created_at)
        .limit(i64::from(per_hour))
        .load(conn)
        .await?;
    match recent.last() {
        Some(&oldest) if recent.len() >= per_hour as usize => {
            let wait_millis = u64::try_from(oldest + HOUR_MILLIS - now).unwrap_or(0);
            Err(AppError::RateLimited {
                retry_after_secs: wait_millis.div_ceil(1000).max(1),
            })
        }
        _ => Ok(()),
    }
}

/// Reports as the operators see them, newest first: those with `status` (all when `None`),
/// below `before` when given.
pub async fn list_reports(
    conn: &mut Conn,
    status: Option<ReportStatus>,
    before: Option<ReportId>,
    limit: i64,
) -> AppResult<Vec<AdminReport>> {
    let mut query = message_reports::table
        .select(ReportRow::as_select())
        .order(message_reports::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(message_reports::status.eq(status.as_str()));
    }
    if let Some(before) = before {
        query = query.filter(message_reports::id.lt(before));
    }
    let rows: Vec<ReportRow> = query.load(conn).await?;
    for_operators(conn, rows).await
}

/// One report as the operators see it, with the messages around the reported one as they are
/// now. `None` if there is no such report.
pub async fn find_report(conn: &mut Conn, report_id: ReportId) -> AppResult<Option<AdminReport>> {
    let Some(row) = report_row(conn, report_id).await? else {
        return Ok(None);
    };
    let context = context_of(conn, row.chat_id, row.message_id).await?;
    let mut report = for_operators(conn, vec![row]).await?;
    Ok(report.pop().map(|r| AdminReport {
        context: Some(context),
        ..r
    }))
}

async fn report_row(conn: &mut Conn, report_id: ReportId) -> AppResult<Option<ReportRow>> {
    Ok(message_reports::table
        .find(report_id)
        .select(ReportRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The chat a report's message is in, if there is such a report.
pub async fn chat_of_report(conn: &mut Conn, report_id: ReportId) -> AppResult<Option<ChatId>> {
    Ok(message_reports::table
        .find(report_id)
        .select(message_reports::chat_id)
        .first(conn)
        .await
        .optional()?)
}

/// The messages of the chat around `message_id` (it among them), in seq order.
async fn context_of(
    conn: &mut Conn,
    chat_id: ChatId,
    message_id: MessageId,
) -> AppResult<Vec<Message>> {
    let seq = super::aggregates::find_row(conn, message_id).await?.seq;
    let mut rows: Vec<MessageRow> = messages::table
        .filter(messages::chat_id.eq(chat_id))
        .filter(messages::seq.lt(seq))
        .order(messages::seq.desc())
        .limit(CONTEXT_EACH_WAY)
        .select(MessageRow::as_select())
        .load(conn)
        .await?;
    rows.reverse();
    rows.extend(
        messages::table
            .filter(messages::chat_id.eq(chat_id))
            .filter(messages::seq.ge(seq))
            .order(messages::seq.asc())
            .limit(CONTEXT_EACH_WAY + 1)
            .select(MessageRow::as_select())
            .load::<MessageRow>(conn)
            .await?,
    );
    super::aggregates::complete(conn, rows).await
}

/// Completes report rows with their reporters and authors (one query for all of them).
async fn for_operators(conn: &mut Conn, rows: Vec<ReportRow>) -> AppResult<Vec<AdminReport>> {
    let mut ids: Vec<UserId> = rows
        .iter()
        .flat_map(|r| [r.reporter_id, r.author_id])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let people: HashMap<UserId, User> = users::table
        .filter(users::id.eq_any(&ids))
        .select(UserRow::as_select())
        .load::<UserRow>(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, User::from(u)))
        .collect();
    rows.into_iter()
        .map(|row| {
            let person = |id: UserId| {
                people
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| AppError::internal("a report names a missing user"))
            };
            let (reporter, author) = (person(row.reporter_id)?, person(row.author_id)?);
            row.for_operators(reporter, author)
        })
        .collect()
}

/// Resolves an open report with `action`, and with it every other open report of the same
/// message (the operator has decided about the message), in one transaction with the action.
/// `404` if there is no such report; `409 report_resolved` if it is resolved already.
pub async fn resolve(
    conn: &mut Conn,
    report_id: ReportId,
    action: ReportAction,
) -> AppResult<Written<Resolved>> {
    conn.transaction::<_, AppError, _>(async |c| {
        // The chat's lock first: resolutions of one message's reports (which update each
        // other's rows) are serialised by it, in the order a deletion takes its locks anyway.
        let chat_id = chat_of_report(c, report_id)
            .await?
            .ok_or(AppError::NotFound("report"))?;
        super::guards::lock_chat(c, chat_id).await?;
        let now = Timestamp::now().millis();
        // Settles a race between two operators: one of them changes the row.
        let settled: Option<ReportRow> = diesel::update(
            message_reports::table
                .find(report_id)
                .filter(message_reports::status.eq(ReportStatus::Open.as_str())),
        )
        .set((
            message_reports::status.eq(ReportStatus::Resolved.as_str()),
            message_reports::resolution.eq(action.as_str()),
            message_reports::resolved_at.eq(now),
        ))
        .returning(ReportRow::as_returning())
        .get_result(c)
        .await
        .optional()?;
        let Some(row) = settled else {
            return match report_row(c, report_id).await? {
                None => Err(AppError::NotFound("report")),
                Some(_) => Err(AppError::Conflict {
                    code: ErrorCode::ReportResolved,
                    detail: "The report is resolved already.".into(),
                }),
            };
        };
        diesel::update(
            message_reports::table
                .filter(message_reports::message_id.eq(row.message_id))
                .filter(message_reports::status.eq(ReportStatus::Open.as_str())),
        )
        .set((
            message_reports::status.eq(ReportStatus::Resolved.as_str()),
            message_reports::resolution.eq(action.as_str()),
            message_reports::resolved_at.eq(now),
        ))
        .execute(c)
        .await?;
        let mut events = Vec::new();
        let mut revoked = Vec::new();
        match action {
            ReportAction::Dismiss => {}
            ReportAction::DeleteMessage => {
                events = super::messages::delete_as_operator(c, row.message_id)
                    .await?
                    .events;
            }
            ReportAction::DeactivateAuthor => {
                if let Some((_, tokens)) = super::users::deactivate(c, row.author_id).await? {
                    revoked = tokens;
                }
            }
        }
        let report = for_operators(c, vec![row])
            .await?
            .pop()
            .ok_or_else(|| AppError::internal("a resolved report vanished"))?;
        Ok(Written::new(
            Outcome::Done,
            Resolved { report, revoked },
            events,
        ))
    })
    .await
}
