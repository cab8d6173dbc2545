//! Attachments: which uploaded files exist, who may read them, and which message holds them.
//! The table is the truth about the store: an object no row knows is an orphan, and a row
//! marked removed is unreadable at once, whatever is still in the store.

use parley_types::{AttachmentId, MessageId, UserId};
use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::db::queries::{Outcome, Written};
use crate::db::rows::{AttachmentRow, NewAttachmentRow};
use crate::db::schema::{attachments, chat_members, messages};
use crate::domain::attachments::StoredFile;
use crate::domain::commands::NewUpload;
use crate::domain::{Attachment, Timestamp};
use crate::error::{AppError, AppResult};

/// Records an upload whose bytes are already in the store.
pub async fn record(conn: &mut Conn, upload: NewUpload) -> AppResult<Written<Attachment>> {
    let row: AttachmentRow = diesel::insert_into(attachments::table)
        .values(NewAttachmentRow::new(upload, Timestamp::now().millis()))
        .returning(AttachmentRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(Written::new(Outcome::Created, row.to_domain(), Vec::new()))
}

/// The attachment, if `user_id` may read it: its uploader may, and so may the current members
/// of the chat whose message holds it. `404` when there is no such attachment or it was
/// removed (its message deleted); `403` for anyone else.
pub async fn readable(
    conn: &mut Conn,
    attachment_id: AttachmentId,
    user_id: UserId,
) -> AppResult<StoredFile> {
    let row: AttachmentRow = attachments::table
        .find(attachment_id)
        .filter(attachments::removed_at.is_null())
        .select(AttachmentRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("attachment"))?;
    if row.uploader_id == user_id {
        return Ok(row.into());
    }
    let Some(message_id) = row.message_id else {
        return Err(AppError::forbidden(
            "Until it is sent, an attachment is visible only to its uploader.",
        ));
    };
    let member: i64 = messages::table
        .inner_join(chat_members::table.on(chat_members::chat_id.eq(messages::chat_id)))
        .filter(messages::id.eq(message_id))
        .filter(messages::deleted.eq(false))
        .filter(chat_members::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await?;
    if member == 0 {
        return Err(AppError::forbidden(
            "Only the members of the chat it was sent to can read this attachment.",
        ));
    }
    Ok(row.into())
}

/// The attachments of every message in `message_ids`, in one query, each message's in the
/// order its sender gave.
pub async fn of_messages(
    conn: &mut Conn,
    message_ids: &[MessageId],
) -> AppResult<HashMap<MessageId, Vec<Attachment>>> {
    if message_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<AttachmentRow> = attachments::table
        .filter(attachments::message_id.eq_any(message_ids))
        .filter(attachments::removed_at.is_null())
        .order((attachments::message_id.asc(), attachments::position.asc()))
        .select(AttachmentRow::as_select())
        .load(conn)
        .await?;
    Ok(crate::db::rows::group_attachments(rows))
}

/// Makes the message's attachments unreadable at once (in the transaction that deletes it);
/// the sweeper removes their bytes.
pub async fn remove_of_message(conn: &mut Conn, message_id: MessageId, now: i64) -> AppResult<()> {
    diesel::update(
        attachments::table
            .filter(attachments::message_id.eq(message_id))
            .filter(attachments::removed_at.is_null()),
    )
    .set(attachments::removed_at.eq(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the thumbnail made of an attachment.
pub async fn set_thumbnail(
    conn: &mut Conn,
    attachment_id: AttachmentId,
    thumbnail_key: &str,
) -> AppResult<()> {
    diesel::update(attachments::table.find(attachment_id))
        .set(attachments::thumbnail_key.eq(thumbnail_key))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records why an image gets no thumbnail.
pub async fn refuse_thumbnail(
    conn: &mut Conn,
    attachment_id: AttachmentId,
    refusal: &str,
) -> AppResult<()> {
    diesel::update(attachments::table.find(attachment_id))
        .set(attachments::thumbnail_refusal.eq(refusal))
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks removed the uploads no message took before `cutoff` (up to `limit` of them); returns
/// how many. One statement per upload: a send locks the attachments it takes in id order, and
/// a statement that locked several rows in another order could deadlock with it.
pub async fn expire_unsent(conn: &mut Conn, cutoff: i64, now: i64, limit: i64) -> AppResult<usize> {
    let unsent = attachments::message_id
        .is_null()
        .and(attachments::removed_at.is_null())
        .and(attachments::created_at.lt(cutoff));
    let expired: Vec<AttachmentId> = attachments::table
        .filter(unsent)
        .order(attachments::created_at.asc())
        .limit(limit)
        .select(attachments::id)
        .load(conn)
        .await?;
    let mut removed = 0;
    for id in expired {
        // Checked again: a send may have taken it since it was read.
        removed += diesel::update(attachments::table.find(id).filter(unsent))
            .set(attachments::removed_at.eq(now))
            .execute(conn)
            .await?;
    }
    Ok(removed)
}

/// Up to `limit` removed attachments, whose bytes are to go.
pub async fn removed(conn: &mut Conn, limit: i64) -> AppResult<Vec<StoredFile>> {
    let rows: Vec<AttachmentRow> = attachments::table
        .filter(attachments::removed_at.is_not_null())
        .order(attachments::removed_at.asc())
        .limit(limit)
        .select(AttachmentRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(StoredFile::from).collect())
}

/// Forgets removed attachments whose bytes are gone.
pub async fn forget(conn: &mut Conn, ids: &[AttachmentId]) -> AppResult<usize> {
    Ok(diesel::delete(
        attachments::table
            .filter(attachments::id.eq_any(ids))
            .filter(attachments::removed_at.is_not_null()),
    )
    .execute(conn)
    .await?)
}

/// Which of `keys` (originals' names) some row knows.
pub async fn known_keys(conn: &mut Conn, keys: &[String]) -> AppResult<HashSet<String>> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let known: Vec<String> = attachments::table
        .filter(attachments::storage_key.eq_any(keys))
        .select(attachments::storage_key)
        .load(conn)
        .await?;
    Ok(known.into_iter().collect())
}

/// Bytes of every attachment in the store (removed ones until their bytes are gone).
pub async fn stored_bytes(conn: &mut Conn) -> AppResult<i64> {
    #[derive(QueryableByName)]
    struct Total {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
    }
    // One text for both backends: diesel's `sum` is NUMERIC on one and BIGINT on the other.
    let total: Total = diesel::sql_query(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS total FROM attachments",
    )
    .get_result(conn)
    .await?;
    Ok(total.total)
}
