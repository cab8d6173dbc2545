//! Unread counts as counters, so that the chat list costs the same whatever the chats hold.
//!
//! For member `u` of chat `c` (the contract: messages by others, not deleted, with `seq`
//! greater than `u`'s `last_read_seq`):
//!
//! ```text
//! unread = chats.message_count          messages of c not deleted
//!        - chat_authors.message_count   ... of which u wrote
//!        - chat_members.read_count      ... of which others wrote, up to last_read_seq
//! ```
//!
//! A send adds to the first two (in its own statement, `BatchStatements::store_messages`), a
//! delete takes from all three, and a marker move adds what it passes over to the third.
//! Joining starts at `read_count` 0 with the marker at 0; `chat_authors` outlives a
//! membership, so a member who comes back finds their own messages still counted as theirs.
//! Every change happens under the chat's lock (`UnreadLocks` says which).

use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use parley_types::{ChatId, Seq, UserId};

use super::Conn;
use crate::db::schema::{chat_authors, chat_members, chats, messages};
use crate::error::AppResult;

/// Messages by others than `user_id`, not deleted, with `after < seq <= upto`.
async fn others_between(
    conn: &mut Conn,
    chat_id: ChatId,
    user_id: UserId,
    after: Seq,
    upto: Seq,
) -> AppResult<i64> {
    Ok(messages::table
        .filter(messages::chat_id.eq(chat_id))
        .filter(messages::seq.gt(after))
        .filter(messages::seq.le(upto))
        .filter(messages::deleted.eq(false))
        .filter(messages::author_id.ne(user_id))
        .select(count_star())
        .get_result(conn)
        .await?)
}

/// Where a member's marker is, and what it has counted: `read_count` at `last_read_seq`.
#[derive(Clone, Copy, Debug)]
pub struct Marker {
    pub last_read_seq: Seq,
    pub read_count: i64,
}

/// Moves the member's marker from `from` to `to` (`from.last_read_seq < to <= seen_last_seq`,
/// the chat's last seq as the caller read it), with their `read_count`. The caller holds
/// `UnreadLocks::lock_read_marker`, which read `from`. Counts the messages on the shorter side
/// of `to`: those passed over, or those still unread after it, so that marking a whole chat
/// read costs nothing however far behind the member was.
pub async fn move_marker(
    conn: &mut Conn,
    chat_id: ChatId,
    user_id: UserId,
    from: Marker,
    to: Seq,
    seen_last_seq: Seq,
) -> AppResult<()> {
    let read_count = if to - from.last_read_seq <= seen_last_seq - to {
        from.read_count + others_between(conn, chat_id, user_id, from.last_read_seq, to).await?
    } else {
        // One statement, so that the three figures describe the same moment: sends may commit
        // meanwhile (they do not wait for marker moves), but only above that moment's last seq.
        let (last_seq, live, own): (Seq, i64, Option<i64>) = chats::table
            .left_join(
                chat_authors::table.on(chat_authors::chat_id
                    .eq(chats::id)
                    .and(chat_authors::user_id.eq(user_id))),
            )
            .filter(chats::id.eq(chat_id))
            .select((
                chats::last_seq,
                chats::message_count,
                chat_authors::message_count.nullable(),
            ))
            .first(conn)
            .await?;
        live - own.unwrap_or(0) - others_between(conn, chat_id, user_id, to, last_seq).await?
    };
    diesel::update(chat_members::table.find((chat_id, user_id)))
        .set((
            chat_members::last_read_seq.eq(to),
            chat_members::read_count.eq(read_count),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes a message that was just deleted out of the counts. The caller holds the chat's
/// lock and `UnreadLocks::lock_against_read_markers`.
pub async fn forget_message(
    conn: &mut Conn,
    chat_id: ChatId,
    seq: Seq,
    author_id: UserId,
) -> AppResult<()> {
    diesel::update(chats::table.find(chat_id))
        .set(chats::message_count.eq(chats::message_count - 1))
        .execute(conn)
        .await?;
    diesel::update(chat_authors::table.find((chat_id, author_id)))
        .set(chat_authors::message_count.eq(chat_authors::message_count - 1))
        .execute(conn)
        .await?;
    diesel::update(
        chat_members::table
            .filter(chat_members::chat_id.eq(chat_id))
            .filter(chat_members::user_id.ne(author_id))
            .filter(chat_members::last_read_seq.ge(seq)),
    )
    .set(chat_members::read_count.eq(chat_members::read_count - 1))
    .execute(conn)
    .await?;
    Ok(())
}
