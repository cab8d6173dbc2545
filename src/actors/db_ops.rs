//! The typed operations the `DbExecutor` answers. Each one opens its own connection (or
//! transaction), does all its work, and returns owned values.

use futures_util::future::BoxFuture;

use super::chat_room::EphemeralEvent;
use super::db_executor::{DbOp, ExecDeps};
use super::session_directory::Kick;
use crate::auth;
use crate::db::queries::{BatchedSend, IdempotencyKey, Idempotent, StoredReply, Written};
use crate::domain::{
    Chat, ChatEvent, ChatSummary, HistoryCursor, HistoryPage, Message, Role, Session, User,
};
use crate::error::{AppError, AppResult};
use crate::with_backend;

pub use crate::db::queries::{NewMessage, TokenOwner};

/// The answer to a write that may carry an `Idempotency-Key`.
#[derive(Debug)]
pub enum Reply<T> {
    Fresh { status: u16, value: T },
    Replayed(StoredReply),
}

impl<T> Reply<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        match self {
            Reply::Fresh { status, value } => Reply::Fresh {
                status,
                value: f(value),
            },
            Reply::Replayed(stored) => Reply::Replayed(stored),
        }
    }
}

/// Broadcasts a fresh write's events, then turns it into the client's answer.
async fn settle<T>(deps: &ExecDeps, outcome: Idempotent<T>) -> Reply<T> {
    match outcome {
        Idempotent::Fresh(written) => {
            deps.publish(written.events).await;
            Reply::Fresh {
                status: written.status,
                value: written.value,
            }
        }
        Idempotent::Replayed(stored) => {
            deps.metrics.idempotent_replays.inc();
            Reply::Replayed(stored)
        }
    }
}

/// Runs password hashing off the actor threads, two at a time: each argon2 hash takes ~19 MiB
/// and a core for tens of milliseconds, so a flood of logins queues instead of taking the
/// machine's memory and CPU.
async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| AppError::Internal(format!("hashing semaphore closed: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))
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
/// transaction guarded by the idempotency key, and evaluates to its `Idempotent` outcome. The
/// connection goes back to the pool before the caller publishes events, because a room that is
/// starting needs one to load its state.
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
    Ok(Session { user, access_token: token.token, token_type: "bearer" })
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
    let stored_hash = found.as_ref().map(|u| u.password_hash.clone());
    let password = this.password;
    let verified =
        off_thread(move || auth::verify_password(&password, stored_hash.as_deref())).await?;
    let user = match found {
        Some(user) if verified => user,
        _ => return Err(AppError::Unauthorized),
    };
    let token = auth::issue_token();
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::users::insert_token(
        c, user.id, &token.digest, auth::TOKEN_TTL_MILLIS,
    ).await)?;
    Ok(Session { user: User::from(user), access_token: token.token, token_type: "bearer" })
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

pub struct Logout {
    pub user_id: i64,
    pub token_id: i64,
}

db_op!(Logout -> (), "logout", |this, deps| {
    {
        let mut conn = deps.db.conn().await?;
        with_backend!(&mut conn, q, c => q::users::revoke_token(c, this.token_id).await)?;
    }
    deps.tokens.forget_token(this.token_id);
    deps.directory.kick_token(this.user_id, this.token_id, Kick { code: 1008, reason: "token revoked" });
    Ok(())
});

pub struct GetUser {
    pub user_id: i64,
}

db_op!(GetUser -> User, "get_user", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::users::find(c, this.user_id).await)?
        .ok_or(AppError::NotFound("user"))
});

// ---- chats -------------------------------------------------------------------------------

pub enum ChatSpec {
    /// `member_ids` de-duplicated, without the creator.
    Group {
        title: Option<String>,
        member_ids: Vec<i64>,
    },
    Direct {
        other_id: i64,
    },
}

pub struct CreateChat {
    pub user_id: i64,
    pub key: Option<IdempotencyKey>,
    pub spec: ChatSpec,
}

db_op!(CreateChat -> Reply<Chat>, "create_chat", |this, deps| {
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
    Ok(settle(&deps, outcome).await)
});

pub struct ListChats {
    pub user_id: i64,
}

db_op!(ListChats -> Vec<ChatSummary>, "list_chats", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::chats::list_for_user(c, this.user_id).await)
});

pub struct GetChat {
    pub user_id: i64,
    pub chat_id: i64,
}

db_op!(GetChat -> Chat, "get_chat", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::chats::get(c, this.user_id, this.chat_id).await)
});

pub struct AddMember {
    pub actor_id: i64,
    pub chat_id: i64,
    pub user_id: i64,
    pub role: Role,
    pub key: Option<IdempotencyKey>,
}

db_op!(AddMember -> Reply<Chat>, "add_member", |this, deps| {
    let AddMember { actor_id, chat_id, user_id, role, key } = this;
    let outcome = write_tx!(deps, actor_id, key, |q, c| {
        q::chats::add_member(c, actor_id, chat_id, user_id, role).await
    });
    Ok(settle(&deps, outcome).await)
});

pub struct RemoveMember {
    pub actor_id: i64,
    pub chat_id: i64,
    pub user_id: i64,
}

db_op!(RemoveMember -> (), "remove_member", |this, deps| {
    let RemoveMember { actor_id, chat_id, user_id } = this;
    let outcome = write_tx!(deps, actor_id, None, |q, c| {
        q::chats::remove_member(c, actor_id, chat_id, user_id).await
    });
    settle(&deps, outcome).await;
    Ok(())
});

pub struct MarkRead {
    pub user_id: i64,
    pub chat_id: i64,
    pub seq: i64,
    pub key: Option<IdempotencyKey>,
}

db_op!(MarkRead -> Reply<()>, "mark_read", |this, deps| {
    let MarkRead { user_id, chat_id, seq, key } = this;
    let outcome = write_tx!(deps, user_id, key, |q, c| {
        q::chats::mark_read(c, user_id, chat_id, seq).await
    });
    if let Idempotent::Fresh(Written { value: Some(marker), .. }) = &outcome {
        deps.publish_ephemeral(chat_id, EphemeralEvent::Read {
            user_id: marker.user_id,
            seq: marker.seq,
        }).await;
    }
    // The answer is a 204: the marker itself is not part of it.
    Ok(settle(&deps, outcome).await.map(|_| ()))
});

// ---- messages ----------------------------------------------------------------------------

pub struct SendMessage {
    pub message: NewMessage,
    pub key: Option<IdempotencyKey>,
}

db_op!(SendMessage -> Reply<Message>, "send_message", |this, deps| {
    let new = this.message;
    let user_id = new.author_id;
    let outcome = match deps.send_batcher.clone() {
        // The batcher has published the batch's events already, in seq order across the
        // batch; `settle` then finds none left to publish.
        Some(batcher) => batcher.send(&deps, BatchedSend { message: new, key: this.key }).await?,
        None => write_tx!(deps, user_id, this.key, |q, c| {
            q::messages::send(c, &new).await
        }),
    };
    if matches!(outcome, Idempotent::Fresh(_)) {
        deps.metrics.messages_created.inc();
    }
    Ok(settle(&deps, outcome).await)
});

pub struct GetMessage {
    pub user_id: i64,
    pub message_id: i64,
}

db_op!(GetMessage -> Message, "get_message", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::messages::get(c, this.user_id, this.message_id).await)
});

pub struct LoadHistory {
    pub user_id: i64,
    pub chat_id: i64,
    pub cursor: HistoryCursor,
    pub limit: i64,
}

db_op!(LoadHistory -> HistoryPage, "load_history", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::messages::history(
        c, this.user_id, this.chat_id, this.cursor, this.limit,
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
    pub user_id: i64,
    pub message_id: i64,
    pub change: MessageChange,
    pub key: Option<IdempotencyKey>,
}

db_op!(ChangeMessage -> Reply<Message>, "change_message", |this, deps| {
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
    Ok(settle(&deps, outcome).await)
});

// ---- rooms and sessions ------------------------------------------------------------------

/// What a room needs to start: who the members are and where the chat's seq stands.
pub struct LoadRoomState {
    pub chat_id: i64,
}

#[derive(Clone, Debug)]
pub struct RoomState {
    pub member_ids: Vec<i64>,
    pub last_seq: i64,
}

db_op!(LoadRoomState -> Option<RoomState>, "load_room_state", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => {
        match q::events::last_seq(c, this.chat_id).await? {
            None => Ok(None),
            Some(last_seq) => {
                let member_ids = q::chats::member_ids(c, this.chat_id).await?;
                Ok(Some(RoomState { member_ids, last_seq }))
            }
        }
    })
});

pub struct LoadEvents {
    pub chat_id: i64,
    pub after_seq: i64,
    pub limit: i64,
}

db_op!(LoadEvents -> Vec<ChatEvent>, "load_events", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::events::load_after(
        c, this.chat_id, this.after_seq, this.limit,
    ).await)
});

pub struct ChatIdsOf {
    pub user_id: i64,
}

db_op!(ChatIdsOf -> Vec<i64>, "chat_ids_of", |this, deps| {
    let mut conn = deps.db.conn().await?;
    with_backend!(&mut conn, q, c => q::chats::chat_ids_of(c, this.user_id).await)
});

pub struct ReadPoolStatus;

db_op!(ReadPoolStatus -> crate::db::PoolStatus, "read_pool_status", |_this, deps| {
    Ok(deps.db.pool_status())
});

pub struct Ping;

db_op!(Ping -> (), "ping", |_this, deps| { deps.db.ping().await });
