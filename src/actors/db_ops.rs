//! The typed operations the `DbExecutor` answers. Each one opens its own connection (or
//! transaction), does all its work, and returns owned values.

use futures_util::future::BoxFuture;
use parley_types::{AttachmentId, ChatId, MessageId, Seq, TokenId, TokenType, UserId};

use super::db_executor::{DbOp, ExecDeps};
use crate::auth;
use crate::db::queries::{IdempotencyKey, Idempotent, ReadMarker, SearchScope};
use crate::domain::attachments::StoredFile;
use crate::domain::chat_list::{ChatListPage, ChatListRange};
use crate::domain::search::{SearchPage, SearchQuery};
use crate::domain::{
    AccountStatus, Attachment, Chat, ChatEvent, HistoryCursor, HistoryPage, Message, Notification,
    Role, Session, ThreadPage, User,
};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::with_backend;

pub use crate::db::queries::{NewMessage, TokenOwner};

/// Runs password hashing off the actor threads, two at a time: each argon2 hash takes ~19 MiB
/// and a core for tens of milliseconds, so a flood of logins queues instead of taking the
/// machine's memory and CPU.
async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| AppError::internal_from("hashing semaphore closed", e))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::internal_from("blocking task failed", e))
}

/// Declares a `DbOp` whose body runs with `deps` in scope and returns `AppResult<Output>`.
macro_rules! db_op {
    ($op:ident -> $out:ty, $name:literal, |$this:ident, $deps:ident| $body:block) => {
        impl DbOp for $op {
            type Output = $out;
            const NAME: &'static str = $name;
            fn run(self, $deps: ExecDeps) -> BoxFuture<'static, AppResult<$out>> {
                let $this = self;
                Box::pin(async move { $body })
            }
        }
    };
}

/// Runs `$body` (with `$q` the backend's query module and `$c` its connection) in one
/// transaction guarded by the idempotency key, and evaluates to its `Idempotent` outcome.
macro_rules! write_tx {
    ($deps:ident, $user_id:expr, $key:expr, |$q:ident, $c:ident| $body:block) => {{
        let mut conn = $deps.db.conn().await?;
        with_backend!(&mut conn, $q, tx => $q::idempotency::run(tx, $user_id, $key,
            move |$c| Box::pin(async move $body)).await)?
    }};
}

// ---- accounts ----------------------------------------------------------------------------

pub struct Register {
    pub username: String,
    pub password: String,
    pub display_name: String,
}

db_op!(Register -> Session, "register", |this, deps| {
    let password = this.password;
    let password_hash = off_thread(move || auth::hash_password(&password)).await??;
    let token = auth::issue_token();
    let mut conn = deps.db.conn().await?;
    let user = with_backend!(&mut conn, q, c => q::users::register(
        c, &this.username, &this.display_name, &password_hash, &token.digest,
        auth::TOKEN_TTL_MILLIS,
    ).await)?;
    Ok(Session { user, access_token: token.token, token_type: TokenType::Bearer })
});

pub struct Login {
    pub username: String,
    pub password: String,
}

db_op!(Login -> Session, "login", |this, deps| {
    let found = {
        let mut conn = deps.db.conn().await?;
        with_backend!(&mut conn, q, c => q::users::find_by_username(c, &this.username).await)?
    };
    // The connection goes back to the pool before the deliberately slow hash check.
    // A bot has no password: it signs in only by token (checked against the decoy, like an
    // unknown name, so that trying reveals nothing).
    let stored_hash = found.as_ref().filter(|u| !u.is_bot).map(|u| u.password_hash.clone());
    let password = this.password;
    let verified =
        off_thread(move || auth::verify_password(&password, stored_hash.as_deref())).await?;
    let user = match found {
        Some(user) if verified => user,
        _ => return Err(AppError::Unauthorized),
    };
    // The token is created only if the account is active when it commits (the row read
    // above may be stale by now: an operator can deactivate it during the hash check).
    let token = auth::issue_token();
    let issued = {
        let mut conn = deps.db.conn().await?;
        with_backend!(&mut conn, q, c => q::users::issue_token_if_active(
            c, user.id, &token.digest, auth::TOKEN_TTL_MILLIS,
        ).await)?
    };
    if !issued {
        return Err(AppError::account_deactivated());
    }
    Ok(Session { user: User::from(user), access_token: token.token, token_type: TokenType::Bearer })
});

pub struct Authenticate {
    pub token: String,
}

db_op!(Authenticate -> Option<TokenOwner>, "authenticate", |this, deps| {
    let digest = auth::token_digest(&this.token);
    if let Some(owner) = deps.tokens.get(&digest) {
        return Ok(Some(owner));
    }
    let mut conn = deps.db.conn().await?;
    let owner = with_backend!(&mut conn, q, c => q::users::authenticate(c, &digest).await)?;
    if let Some(owner) = owner {
        deps.tokens.put(digest, owner);
    }
    Ok(owner)
});

/// Revokes a token; the caller closes the token's sessions.
pub struct Logout {
    pub token_id: TokenId,
}

db_op!(Logout -> (), "logout", |this, deps| {
    {
        let mut conn = deps.db.conn().await?;
        with_backend!(&mut conn, q, c => q::users::revoke_token(c, this.token_id).await)?;
    }
    deps.tokens.forget_token(this.token_id);
    Ok(())
});

/// Revokes every token of a user ("sign out everywhere"); returns their ids.
pub struct RevokeAllTokens {
    pub user_id: UserId,
}

db_op!(RevokeAllTokens -> Vec<TokenId>, "revoke_all_tokens", |this, deps| {
    let mut conn = deps.db.conn().await?;
    let revoked = with_backend!(&mut conn, q, c => q::users::revoke_tokens_of(
        c, this.user_id, None,
    ).await)?;
    for &token_id in &revoked {
        deps.tokens.forget_token(token_id);
    }
    Ok(revoked)
});

/// Changes a user's password, given the current one; every other token of the user is
/// revoked. Returns the revoked tokens' ids, or `WrongPassword` (403) for a wrong current one.
pub struct ChangePassword {
    pub user_id: UserId,
    pub token_id: TokenId,
    pub current_password: String,
    pub new_password: String,
}

db_op!(ChangePassword -> Vec<TokenId>, "change_password", |this, deps| {
    let found = {
        let mut conn = deps.db.conn().await?;
        with_backend!(&mut conn, q, c => q::users::find_row(c, this.user_id).await)?
    };
    let stored_hash = found.map(|u| u.password_hash);
    let current = this.current_password;
    let verified =
        off_thread(move || auth::verify_password(&current, stored_hash.as_deref())).await?;
    if !verified {
        return Err(AppError::wrong_password());
    }
    let new_password = this.new_password;
    let password_hash = off_thread(move || auth::hash_password(&new_password)).await??;
    let mut conn = deps.db.conn().await?;
    let revoked = with_backend!(&mut conn, q, c => q::users::change_password(
        c, this.user_id, &password_hash, this.token_id,
    ).await)?
    .ok_or(AppError::Unauthorized)?;
    for &token_id in &revoked {
        deps.tokens.forget_token(token_id);
    }
    Ok(revoked)
});

/// Deactivates an account and its bots: revokes their tokens (forgotten by the cache at once)
/// and blocks logins. Returns the account and the revoked tokens, each with its user.
pub struct DeactivateUser {
    pub user_id: UserId,
}

db_op!(DeactivateUser -> Option<(AccountStatus, Vec<(UserId, TokenId)>)>, "deactivate_user", |this, deps| {
    let mut conn = deps.db.conn().await?;
    let done = with_backend!(&mut conn, q, c => q::users::deactivate(c, this.user_id).await)?;
    Ok(done.map(|(user, revoked)| {
        for &(_, token_id) in &revoked {
            deps.tokens.forget_token(token_id);
        }
        (AccountStatus::from(user), revoked)
    }))
});

pub struct ReactivateUser {
    pub user_id: UserId,
}

db_op!(ReactivateUser -> Option<AccountStatus>, "reactivate_user", |this, deps| {
    let mut conn = deps.db.conn().await?;
    let user = with_backend!(&mut conn, q, c => q::users::reactivate(c, this.user_id).await)?;
    Ok(user.map(AccountStatus::from))
});

/// Accounts whose username contains `query`, for operators.
pub struct SearchUsers {
    pub query: String,
    pub limit: i64,
}

db_op!(SearchUsers -> Vec<AccountStatus>, "search_users", |this, deps| {
    let mut conn = deps.db.conn().await?;
    let users =
        with_backend!(&mut conn, q, c => q::users::search(c, &this.query, this.limit).await)?;
    Ok(users.into_iter().map(AccountStatus::from).collect())
});

/// The account with this exact username (operators see its state; users see it as a `User`).
pub struct FindAccount {
    pub username: String,
}

db_op!(FindAccount -> Option<AccountStatus>, "find_account", |this, deps| {
    if !crate::domain::validate::could_be_in_username(&this.username) {
        return Ok(None);
    }
    let mut conn = deps.db.conn().await?;
    let user = with_backend!(&mut conn, q, c => q::users::find_by_username(c, &this.username).await)?;
    Ok(user.map(AccountStatus::from))
});

/// A user as another user (or itself) sees it: with presence where they share a chat.
pub struct GetUser {
    pub user_id: UserId,
    pub viewer_id: UserId,
}

db_op!(GetUser -> User, "get_user", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::users::find_seen_by(c, this.user_id, this.viewer_id).await)?
        .ok_or(AppError::NotFound("user"))
});

/// Users who share a chat with this one: whom its presence concerns.
pub struct ContactsOf {
    pub user_id: UserId,
    pub limit: i64,
}

db_op!(ContactsOf -> Vec<UserId>, "contacts_of", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::users::contacts(c, this.user_id, this.limit).await)
});

/// `(user_id, millis)`: when each user was last seen online.
pub struct RecordLastSeen {
    pub seen: Vec<(UserId, i64)>,
}

db_op!(RecordLastSeen -> (), "record_last_seen", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::users::record_last_seen(c, &this.seen).await)
});

// ---- chats -------------------------------------------------------------------------------

pub enum ChatSpec {
    /// `member_ids` de-duplicated, without the creator.
    Group {
        title: Option<String>,
        member_ids: Vec<UserId>,
    },
    Direct {
        other_id: UserId,
    },
}

pub struct CreateChat {
    pub user_id: UserId,
    pub key: Option<IdempotencyKey>,
    pub spec: ChatSpec,
}

db_op!(CreateChat -> Idempotent<Chat>, "create_chat", |this, deps| {
    let user_id = this.user_id;
    let spec = this.spec;
    let outcome = write_tx!(deps, user_id, this.key, |q, c| {
        match spec {
            ChatSpec::Group { title, member_ids } =>
                q::chats::create_group(c, user_id, title.as_deref(), &member_ids).await,
            ChatSpec::Direct { other_id } =>
                q::chats::create_direct(c, user_id, other_id).await,
        }
    });
    Ok(outcome)
});

pub struct ListChats {
    pub user_id: UserId,
    pub range: ChatListRange,
}

db_op!(ListChats -> ChatListPage, "list_chats", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::aggregates::list_for_user(c, this.user_id, this.range).await)
});

pub struct GetChat {
    pub user_id: UserId,
    pub chat_id: ChatId,
}

db_op!(GetChat -> Chat, "get_chat", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::aggregates::chat(c, this.chat_id, this.user_id).await)
});

pub struct AddMember {
    pub actor_id: UserId,
    pub chat_id: ChatId,
    pub user_id: UserId,
    pub role: Role,
    pub key: Option<IdempotencyKey>,
}

db_op!(AddMember -> Idempotent<Chat>, "add_member", |this, deps| {
    let AddMember { actor_id, chat_id, user_id, role, key } = this;
    Ok(write_tx!(deps, actor_id, key, |q, c| {
        q::chats::add_member(c, chat_id, actor_id, user_id, role).await
    }))
});

pub struct RemoveMember {
    pub actor_id: UserId,
    pub chat_id: ChatId,
    pub user_id: UserId,
}

db_op!(RemoveMember -> Idempotent<()>, "remove_member", |this, deps| {
    let RemoveMember { actor_id, chat_id, user_id } = this;
    Ok(write_tx!(deps, actor_id, None, |q, c| {
        q::chats::remove_member(c, chat_id, actor_id, user_id).await
    }))
});

pub struct MarkRead {
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub seq: Seq,
    pub key: Option<IdempotencyKey>,
}

db_op!(MarkRead -> Idempotent<Option<ReadMarker>>, "mark_read", |this, deps| {
    let MarkRead { user_id, chat_id, seq, key } = this;
    Ok(write_tx!(deps, user_id, key, |q, c| {
        q::chats::mark_read(c, chat_id, user_id, seq).await
    }))
});

// ---- messages ----------------------------------------------------------------------------

pub struct GetMessage {
    pub user_id: UserId,
    pub message_id: MessageId,
}

db_op!(GetMessage -> Message, "get_message", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::aggregates::message(c, this.user_id, this.message_id).await)
});

pub struct LoadHistory {
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub cursor: HistoryCursor,
    pub limit: i64,
    /// Leave thread replies out (`thread=main`).
    pub main_only: bool,
}

db_op!(LoadHistory -> HistoryPage, "load_history", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::aggregates::history(
        c, this.chat_id, this.user_id, this.cursor, this.limit, this.main_only,
    ).await)
});

/// A page of the thread a message belongs to.
pub struct LoadThread {
    pub user_id: UserId,
    pub message_id: MessageId,
    pub after_seq: Seq,
    pub limit: i64,
}

db_op!(LoadThread -> ThreadPage, "load_thread", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::threads::page(
        c, this.user_id, this.message_id, this.after_seq, this.limit,
    ).await)
});

/// Sets a member's notification level and mute for a chat.
pub struct SetNotification {
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub setting: Notification,
}

db_op!(SetNotification -> Idempotent<Notification>, "set_notification", |this, deps| {
    let SetNotification { user_id, chat_id, setting } = this;
    // A PUT: repeating it is harmless, so it takes no Idempotency-Key.
    Ok(write_tx!(deps, user_id, None, |q, c| {
        q::chats::set_notification(c, chat_id, user_id, &setting).await
    }))
});

/// The caller's mentions across their chats, newest first.
pub struct LoadMentions {
    pub user_id: UserId,
    pub before: Option<MessageId>,
    pub limit: i64,
}

db_op!(LoadMentions -> HistoryPage, "load_mentions", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::aggregates::mentions_page(
        c, this.user_id, this.before, this.limit,
    ).await)
});

pub struct SearchMessages {
    pub query: SearchQuery,
    pub scope: SearchScope,
    pub limit: i64,
}

db_op!(SearchMessages -> SearchPage, "search_messages", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::aggregates::search(
        c, &this.query, this.scope, this.limit,
    ).await)
});

/// A change to one existing message by one user.
pub enum MessageChange {
    Edit { content: String },
    Delete,
    React { emoji: String },
    Unreact { emoji: String },
}

pub struct ChangeMessage {
    pub user_id: UserId,
    pub message_id: MessageId,
    pub change: MessageChange,
    pub key: Option<IdempotencyKey>,
}

db_op!(ChangeMessage -> Idempotent<Message>, "change_message", |this, deps| {
    let ChangeMessage { user_id, message_id, change, key } = this;
    let outcome = write_tx!(deps, user_id, key, |q, c| {
        match &change {
            MessageChange::Edit { content } =>
                q::messages::edit(c, user_id, message_id, content).await,
            MessageChange::Delete => q::messages::delete(c, user_id, message_id).await,
            MessageChange::React { emoji } =>
                q::messages::add_reaction(c, user_id, message_id, emoji).await,
            MessageChange::Unreact { emoji } =>
                q::messages::remove_reaction(c, user_id, message_id, emoji).await,
        }
    });
    Ok(outcome)
});

// ---- rooms and sessions ------------------------------------------------------------------

/// What a room needs to start: who the members are and where the chat's seq stands.
pub struct LoadRoomState {
    pub chat_id: ChatId,
}

#[derive(Clone, Debug)]
pub struct RoomState {
    pub member_ids: Vec<UserId>,
    pub last_seq: Seq,
    /// A direct chat (a chat's kind never changes).
    pub direct: bool,
}

db_op!(LoadRoomState -> Option<RoomState>, "load_room_state", |this, deps| {
    let mut conn = deps.db.conn().await?;
    let state = with_backend!(&mut conn, q, c => q::aggregates::room_state(c, this.chat_id).await)?;
    Ok(state.map(|(last_seq, kind, member_ids)| RoomState {
        member_ids,
        last_seq,
        direct: kind == crate::domain::ChatKind::Direct.as_str(),
    }))
});

/// `(chat_id, last_seq)` of the chats whose rooms run on a node, for its sweep.
pub struct LastSeqsOf {
    pub chat_ids: Vec<ChatId>,
}

db_op!(LastSeqsOf -> Vec<(ChatId, Seq)>, "last_seqs_of", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::aggregates::last_seqs(c, &this.chat_ids).await)
});

/// Which of the tokens of a node's open sessions have been revoked, for its sweep.
pub struct RevokedAmong {
    pub token_ids: Vec<TokenId>,
}

db_op!(RevokedAmong -> Vec<TokenId>, "revoked_among", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::users::revoked_among(c, &this.token_ids).await)
});

/// The chat a message belongs to.
pub struct ChatOfMessage {
    pub message_id: MessageId,
}

db_op!(ChatOfMessage -> Option<ChatId>, "chat_of_message", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::aggregates::chat_of_message(c, this.message_id).await)
});

pub struct LoadEvents {
    pub chat_id: ChatId,
    pub after_seq: Seq,
    pub limit: i64,
}

db_op!(LoadEvents -> Vec<ChatEvent>, "load_events", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::events::load_after(
        c, this.chat_id, this.after_seq, this.limit,
    ).await)
});

/// What a WebSocket session binds to once it is in the directory: its user's chats, or `None`
/// when its token is no longer live (read from the database, never the cache: a revocation
/// may have committed since the upgrade checked it).
pub struct SessionChats {
    pub user_id: UserId,
    pub token_id: TokenId,
}

db_op!(SessionChats -> Option<Vec<ChatId>>, "session_chats", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => {
        if !q::users::token_is_live(c, this.token_id).await? {
            return Ok(None);
        }
        q::aggregates::chat_ids_of(c, this.user_id).await.map(Some)
    })
});

pub struct ReadPoolStatus;

db_op!(ReadPoolStatus -> Vec<(&'static str, crate::db::PoolStatus)>, "read_pool_status", |_this, deps| {
    Ok(deps.db.pool_status())
});

pub struct Ping;

db_op!(Ping -> (), "ping", |_this, deps| { deps.db.ping().await });

// ---- attachments -------------------------------------------------------------------------

/// Records an upload whose bytes are in the store, guarded by its idempotency key.
pub struct RecordUpload {
    pub key: Option<IdempotencyKey>,
    pub upload: crate::domain::commands::NewUpload,
}

db_op!(RecordUpload -> Idempotent<Attachment>, "record_upload", |this, deps| {
    let RecordUpload { key, upload } = this;
    let uploader_id = upload.uploader_id;
    Ok(write_tx!(deps, uploader_id, key, |q, c| { q::attachments::record(c, upload).await }))
});

/// An attachment as `user_id` may read it (`403`/`404` otherwise).
pub struct ReadableAttachment {
    pub user_id: UserId,
    pub attachment_id: AttachmentId,
}

db_op!(ReadableAttachment -> StoredFile, "readable_attachment", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::attachments::readable(
        c, this.attachment_id, this.user_id,
    ).await)
});

pub struct SetThumbnail {
    pub attachment_id: AttachmentId,
    pub thumbnail_key: String,
}

db_op!(SetThumbnail -> (), "set_thumbnail", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::attachments::set_thumbnail(
        c, this.attachment_id, &this.thumbnail_key,
    ).await)
});

/// Marks removed up to `limit` uploads no message took before `cutoff` (millis); returns how
/// many.
pub struct ExpireUnsent {
    pub cutoff: i64,
    pub limit: i64,
}

db_op!(ExpireUnsent -> usize, "expire_unsent", |this, deps| {
    let mut conn = deps.db.conn().await?;
    let now = crate::domain::Timestamp::now().millis();
    with_backend!(&mut conn, q, c => q::attachments::expire_unsent(
        c, this.cutoff, now, this.limit,
    ).await)
});

/// Records why an image gets no thumbnail (an error code).
pub struct RefuseThumbnail {
    pub attachment_id: AttachmentId,
    pub refusal: ErrorCode,
}

db_op!(RefuseThumbnail -> (), "refuse_thumbnail", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::attachments::refuse_thumbnail(
        c, this.attachment_id, this.refusal.as_str(),
    ).await)
});

/// Removed attachments whose bytes are to go, oldest first.
pub struct RemovedAttachments {
    pub limit: i64,
}

db_op!(RemovedAttachments -> Vec<StoredFile>, "removed_attachments", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::attachments::removed(c, this.limit).await)
});

/// Forgets removed attachments whose bytes are gone.
pub struct ForgetAttachments {
    pub ids: Vec<AttachmentId>,
}

db_op!(ForgetAttachments -> usize, "forget_attachments", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::attachments::forget(c, &this.ids).await)
});

/// Which of the store's keys a row knows.
pub struct KnownKeys {
    pub keys: Vec<String>,
}

db_op!(KnownKeys -> std::collections::HashSet<String>, "known_keys", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::attachments::known_keys(c, &this.keys).await)
});

pub struct StoredBytes;

db_op!(StoredBytes -> i64, "stored_bytes", |_this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::attachments::stored_bytes(c).await)
});

// ---- push ----------------------------------------------------------------------------------

/// The VAPID key every node shares (made by the first to start, or the operator's).
pub struct LoadVapidKey {
    pub configured: Option<crate::domain::push::VapidKey>,
}

db_op!(LoadVapidKey -> crate::domain::push::VapidKey, "load_vapid_key", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::push::vapid_key(c, this.configured.as_ref()).await)
});

pub struct Subscribe {
    pub user_id: UserId,
    pub subscription: crate::domain::push::CheckedSubscription,
    pub key: Option<IdempotencyKey>,
}

db_op!(Subscribe -> Idempotent<crate::domain::PushSubscription>, "subscribe", |this, deps| {
    let Subscribe { user_id, subscription, key } = this;
    Ok(write_tx!(deps, user_id, key, |q, c| {
        q::push::subscribe(c, user_id, &subscription).await
    }))
});

pub struct ListSubscriptions {
    pub user_id: UserId,
}

db_op!(ListSubscriptions -> Vec<crate::domain::PushSubscription>, "list_subscriptions", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::push::list(c, this.user_id).await)
});

pub struct Unsubscribe {
    pub user_id: UserId,
    pub id: parley_types::SubscriptionId,
}

db_op!(Unsubscribe -> (), "unsubscribe", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::push::unsubscribe(c, this.user_id, this.id).await)
});

/// Claims due push notifications for this node's delivery actor.
pub struct ClaimPushes {
    pub now: i64,
    pub lease_ms: i64,
    pub limit: i64,
}

db_op!(ClaimPushes -> Vec<crate::domain::push::DuePush>, "claim_pushes", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::push::claim_due(c, this.now, this.lease_ms, this.limit).await)
});

/// Records how one claimed notification ended.
pub struct SettlePush {
    pub settled: crate::domain::push::Settled,
    pub now: i64,
}

db_op!(SettlePush -> (), "settle_push", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::push::settle(c, this.settled, this.now).await)
});

mod integrations;
mod moderation;
pub use integrations::*;
pub use moderation::*;
