//! Chat commands: creation, membership and read markers.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use parley_types::{ChatId, Seq, UserId};

use super::Conn;
use crate::db::queries::{DeviceFlagLocks, Outcome, ReadMarker, UnreadLocks, Written};
use crate::db::rows::{EventRow, MemberRow, NewChatRow};
use crate::db::schema::{chat_members, chats, push_subscriptions};
use crate::domain::events::EventKind;
use crate::domain::validate::MAX_GROUP_MEMBERS;
use crate::domain::{
    Chat, ChatEvent, ChatKind, EventPayload, MemberChange, Notification, NotificationLevel, Role,
    Timestamp,
};
use crate::error::{AppError, AppResult, ErrorCode};

/// Rejects ids that name no account, so a chat never lists a member who does not exist.
async fn require_users(conn: &mut Conn, field: &str, ids: &[UserId]) -> AppResult<()> {
    let existing = super::users::existing_ids(conn, ids).await?;
    if existing.len() == ids.len() {
        Ok(())
    } else {
        Err(AppError::invalid(field, "names a user that does not exist"))
    }
}

/// Creates a group with the creator as owner. `member_ids` must be de-duplicated and must not
/// contain the creator.
pub async fn create_group(
    conn: &mut Conn,
    creator_id: UserId,
    title: Option<&str>,
    member_ids: &[UserId],
) -> AppResult<Written<Chat>> {
    require_users(conn, "member_ids", member_ids).await?;
    // Nobody who blocks the creator is put in their group.
    super::guards::refuse_if_blocked_by(conn, member_ids, creator_id).await?;
    let mut joined = vec![(creator_id, Role::Owner)];
    joined.extend(member_ids.iter().map(|&id| (id, Role::Member)));
    let chat_id = insert_chat(conn, ChatKind::Group, title, None)
        .await?
        .ok_or_else(|| AppError::internal("group chat insert conflicted"))?;
    let events = add_members(conn, chat_id, &joined).await?;
    Ok(Written::new(
        Outcome::Created,
        super::aggregates::load_chat(conn, chat_id, creator_id).await?,
        events,
    ))
}

/// Returns the direct chat between the two users, creating it (201) if it does not exist yet
/// (200 otherwise).
pub async fn create_direct(
    conn: &mut Conn,
    creator_id: UserId,
    other_id: UserId,
) -> AppResult<Written<Chat>> {
    require_users(conn, "member_ids", &[other_id]).await?;
    // Refused whether or not their chat exists: the caller may still read it, but not open
    // it to write.
    super::guards::refuse_if_blocked_by(conn, &[other_id], creator_id).await?;
    let key = direct_key(creator_id, other_id);
    if let Some(existing) = find_direct(conn, &key).await? {
        return Ok(Written::new(
            Outcome::Done,
            super::aggregates::load_chat(conn, existing, creator_id).await?,
            Vec::new(),
        ));
    }
    let Some(chat_id) = insert_chat(conn, ChatKind::Direct, None, Some(&key)).await? else {
        // A concurrent request created the pair's chat and committed first.
        let existing = find_direct(conn, &key)
            .await?
            .ok_or_else(|| AppError::internal("direct chat vanished"))?;
        return Ok(Written::new(
            Outcome::Done,
            super::aggregates::load_chat(conn, existing, creator_id).await?,
            Vec::new(),
        ));
    };
    let events = add_members(
        conn,
        chat_id,
        &[(creator_id, Role::Owner), (other_id, Role::Member)],
    )
    .await?;
    Ok(Written::new(
        Outcome::Created,
        super::aggregates::load_chat(conn, chat_id, creator_id).await?,
        events,
    ))
}

/// What names the direct chat of two users (whichever of them opened it).
pub(super) fn direct_key(one: UserId, other: UserId) -> String {
    format!("{}:{}", one.min(other), one.max(other))
}

pub(super) async fn find_direct(conn: &mut Conn, key: &str) -> AppResult<Option<ChatId>> {
    Ok(chats::table
        .filter(chats::direct_key.eq(key))
        .select(chats::id)
        .first(conn)
        .await
        .optional()?)
}

async fn insert_chat(
    conn: &mut Conn,
    kind: ChatKind,
    title: Option<&str>,
    direct_key: Option<&str>,
) -> AppResult<Option<ChatId>> {
    let now = Timestamp::now().millis();
    Ok(diesel::insert_into(chats::table)
        .values(NewChatRow {
            kind: kind.as_str(),
            title,
            direct_key,
            created_at: now,
            last_seq: Seq::ZERO,
            last_activity_at: now,
        })
        .on_conflict_do_nothing()
        .returning(chats::id)
        .get_result(conn)
        .await
        .optional()?)
}

/// Adds a user who is not a member to a group whose row the caller has locked, if the group
/// has room (counted under that lock: concurrent adds cannot each see room for one more).
pub(super) async fn admit(
    conn: &mut Conn,
    chat_id: ChatId,
    user_id: UserId,
    role: Role,
) -> AppResult<Vec<ChatEvent>> {
    let members: i64 = chat_members::table
        .filter(chat_members::chat_id.eq(chat_id))
        .count()
        .get_result(conn)
        .await?;
    if members >= MAX_GROUP_MEMBERS as i64 {
        return Err(AppError::Conflict {
            code: ErrorCode::GroupFull,
            detail: format!("A group has at most {MAX_GROUP_MEMBERS} members."),
        });
    }
    add_members(conn, chat_id, &[(user_id, role)]).await
}

/// Inserts the memberships and their `member.joined` events under the chat's next seqs.
async fn add_members(
    conn: &mut Conn,
    chat_id: ChatId,
    joined: &[(UserId, Role)],
) -> AppResult<Vec<ChatEvent>> {
    let count = i64::try_from(joined.len()).map_err(|_| AppError::internal("too many members"))?;
    let first_seq = super::events::reserve_seqs(conn, chat_id, count)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    // Whose memberships begin flagged as having a device: held against a subscription
    // committing meanwhile, which would flag only the memberships it can see
    // (`device_flags`).
    let user_ids: Vec<UserId> = joined.iter().map(|&(user_id, _)| user_id).collect();
    conn.hold_users_against_subscriptions(&user_ids).await?;
    let with_devices: std::collections::HashSet<UserId> = push_subscriptions::table
        .filter(push_subscriptions::user_id.eq_any(&user_ids))
        .select(push_subscriptions::user_id)
        .distinct()
        .load::<UserId>(conn)
        .await?
        .into_iter()
        .collect();
    let now = Timestamp::now().millis();
    let rows: Vec<MemberRow> = joined
        .iter()
        .map(|&(user_id, role)| MemberRow {
            chat_id,
            user_id,
            role: role.as_str().to_owned(),
            joined_at: now,
            last_read_seq: Seq::ZERO,
            // A member joins with the owner's role only as the chat's creator, who chose it.
            shows_presence: role == Role::Owner,
            notify_level: NotificationLevel::default().as_str().to_owned(),
            muted_until: None,
            has_devices: with_devices.contains(&user_id),
        })
        .collect();
    // One statement per row: diesel-async cannot send a multi-row INSERT to SQLite, and this
    // only runs when members join.
    for row in &rows {
        diesel::insert_into(chat_members::table)
            .values(row)
            .execute(conn)
            .await?;
    }
    let changes: Vec<(Seq, MemberChange)> = joined
        .iter()
        .zip((0..).map(|n| first_seq + n))
        .map(|(&(user_id, role), seq)| {
            (
                seq,
                MemberChange {
                    chat_id,
                    user_id,
                    role,
                },
            )
        })
        .collect();
    let event_rows: Vec<EventRow> = changes
        .iter()
        .map(|(seq, change)| EventRow::member(EventKind::MemberJoined, change, *seq, now))
        .collect();
    super::events::append(conn, &event_rows).await?;
    Ok(changes
        .into_iter()
        .map(|(seq, change)| ChatEvent {
            chat_id,
            seq,
            payload: EventPayload::MemberJoined(change),
        })
        .collect())
}

/// Adds `user_id` to a group as `role`; a no-op for an existing member.
pub async fn add_member(
    conn: &mut Conn,
    chat_id: ChatId,
    actor_id: UserId,
    user_id: UserId,
    role: Role,
) -> AppResult<Written<Chat>> {
    super::guards::lock_chat(conn, chat_id)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    let (chat, actor) = super::guards::require_member(conn, chat_id, actor_id).await?;
    if chat.kind != ChatKind::Group.as_str() {
        return Err(AppError::forbidden(
            "Members cannot be added to a direct chat.",
        ));
    }
    let actor_role = actor.role()?;
    if !actor_role.can_manage_members() {
        return Err(AppError::forbidden(
            "Only the owner or an admin can add members.",
        ));
    }
    if role == Role::Owner || (role == Role::Admin && actor_role != Role::Owner) {
        return Err(AppError::forbidden(
            "Only the owner can appoint admins; a chat has one owner.",
        ));
    }
    require_users(conn, "user_id", &[user_id]).await?;
    let already: bool = diesel::select(diesel::dsl::exists(
        chat_members::table
            .filter(chat_members::chat_id.eq(chat_id))
            .filter(chat_members::user_id.eq(user_id)),
    ))
    .get_result(conn)
    .await?;
    let events = if already {
        Vec::new()
    } else {
        super::guards::refuse_if_blocked_by(conn, &[user_id], actor_id).await?;
        admit(conn, chat_id, user_id, role).await?
    };
    Ok(Written::new(
        Outcome::Done,
        super::aggregates::load_chat(conn, chat_id, actor_id).await?,
        events,
    ))
}

/// Removes `user_id` from the chat: the caller leaving, or an owner/admin removing someone of
/// lower rank. When the owner leaves, the longest-standing admin (else member) becomes owner.
pub async fn remove_member(
    conn: &mut Conn,
    chat_id: ChatId,
    actor_id: UserId,
    user_id: UserId,
) -> AppResult<Written<()>> {
    super::guards::lock_chat(conn, chat_id)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    let (chat, actor) = super::guards::require_member(conn, chat_id, actor_id).await?;
    if chat.kind != ChatKind::Group.as_str() {
        return Err(AppError::forbidden(
            "Nobody can leave or be removed from a direct chat.",
        ));
    }
    let target: MemberRow = chat_members::table
        .find((chat_id, user_id))
        .select(MemberRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound("member"))?;
    let target_role = target.role()?;
    if actor_id != user_id {
        let actor_role = actor.role()?;
        if !actor_role.can_manage_members() || actor_role <= target_role {
            return Err(AppError::forbidden(
                "Only the owner or an admin can remove members, and only of lower rank.",
            ));
        }
    }
    diesel::delete(chat_members::table.find((chat_id, user_id)))
        .execute(conn)
        .await?;
    let seq = super::events::reserve_seqs(conn, chat_id, 1)
        .await?
        .ok_or(AppError::NotFound("chat"))?;
    let change = MemberChange {
        chat_id,
        user_id,
        role: target_role,
    };
    let now = Timestamp::now().millis();
    super::events::append(
        conn,
        &[EventRow::member(EventKind::MemberLeft, &change, seq, now)],
    )
    .await?;
    if target_role == Role::Owner {
        promote_successor(conn, chat_id).await?;
    }
    let event = ChatEvent {
        chat_id,
        seq,
        payload: EventPayload::MemberLeft(change),
    };
    Ok(Written::new(Outcome::NoContent, (), vec![event]))
}

async fn promote_successor(conn: &mut Conn, chat_id: ChatId) -> AppResult<()> {
    let remaining: Vec<MemberRow> = super::aggregates::members(conn, &[chat_id])
        .await?
        .into_iter()
        .map(|(member, _)| member)
        .collect();
    let successor = remaining
        .iter()
        .find(|m| m.role == Role::Admin.as_str())
        .or_else(|| remaining.as_slice().first());
    if let Some(successor) = successor {
        diesel::update(chat_members::table.find((chat_id, successor.user_id)))
            .set(chat_members::role.eq(Role::Owner.as_str()))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Moves the caller's read marker forward to `seq` (capped at the chat's last seq), never back.
pub async fn mark_read(
    conn: &mut Conn,
    chat_id: ChatId,
    user_id: UserId,
    seq: Seq,
) -> AppResult<Written<Option<ReadMarker>>> {
    let (chat, member) = super::guards::require_member(conn, chat_id, user_id).await?;
    let target = seq.min(chat.last_seq);
    if target <= member.last_read_seq {
        return Ok(Written::new(Outcome::NoContent, None, Vec::new()));
    }
    // Under the lock, the marker may have moved further meanwhile (another request of theirs):
    // it never goes back.
    let (last_read_seq, read_count) = conn
        .lock_read_marker(chat_id, user_id)
        .await?
        .ok_or_else(AppError::not_a_member)?;
    if target <= last_read_seq {
        return Ok(Written::new(Outcome::NoContent, None, Vec::new()));
    }
    let from = super::unread::Marker {
        last_read_seq,
        read_count,
    };
    super::unread::move_marker(conn, chat_id, user_id, from, target, chat.last_seq).await?;
    let marker = Some(ReadMarker {
        chat_id,
        user_id,
        seq: target,
    });
    Ok(Written::new(Outcome::NoContent, marker, Vec::new()))
}

/// Stores the caller's notification setting for the chat (members only); returns it as
/// stored. Touches no one else's row and no count, so it needs no lock of the chat.
pub async fn set_notification(
    conn: &mut Conn,
    chat_id: ChatId,
    user_id: UserId,
    setting: &Notification,
) -> AppResult<Written<Notification>> {
    let updated: Option<MemberRow> = diesel::update(chat_members::table.find((chat_id, user_id)))
        .set((
            chat_members::notify_level.eq(setting.level.as_str()),
            chat_members::muted_until.eq(setting.muted_until.map(|t| t.millis())),
        ))
        .returning(MemberRow::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match updated {
        Some(member) => Ok(Written::new(
            Outcome::Done,
            member.notification(),
            Vec::new(),
        )),
        // Tells a chat that does not exist (404) from one the caller is not in (403).
        None => {
            super::guards::require_member(conn, chat_id, user_id).await?;
            Err(AppError::not_a_member())
        }
    }
}
