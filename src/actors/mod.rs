//! The actors. Requests flow one way: HTTP handlers and sessions ask the `ChatRegistry` for a
//! chat's `ChatRoom` (every write to a chat goes through its room), rooms ask the `DbExecutor`,
//! and the executor, a leaf, stores and loads complete aggregates. The messages between the
//! realtime actors live in `messages`.

pub mod chat_registry;
pub mod cluster_bus;
pub mod cluster_link;
pub mod db_executor;
pub mod db_ops;
pub mod file_sweeper;
pub mod group_commit;
pub mod messages;
pub mod presence;
pub mod push_delivery;
pub mod room;
pub mod room_slots;
pub mod service_lanes;
pub mod session_directory;
pub mod session_permits;
pub mod token_cache;
pub mod webhook_delivery;
pub mod ws_protocol;
pub mod ws_session;

use parley_types::{ChatId, ReportAction, ReportId, TokenId, UserId};
use std::sync::Arc;

use actix::{Actor, Addr, Arbiter};

use crate::config::{ClusterSettings, PresenceSettings, RoomSettings};
use crate::db::queries::BatchedSend;
use crate::db::Database;
use crate::domain::{AccountStatus, AdminReport, Chat, Message};
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
pub use chat_registry::ChatRegistry;
use cluster_bus::ClusterBus;
pub use db_executor::DbExecutor;
use db_executor::{ask, DbOp};
use db_ops::{
    ChangeMessage, ChangePassword, ChatOfMessage, CreateChat, DeactivateUser, Logout,
    RevokeAllTokens,
};
use messages::{ChatWrite, Kick, PostMessage, Reply, Write};
pub use presence::{Presence, PresenceBoard};
pub use room::ChatRoom;
pub use session_directory::SessionDirectory;
use token_cache::TokenCache;

/// The long-lived actors of one server. The executor and the rooms have threads of their own,
/// so that neither slow queries nor a busy broadcast holds up the HTTP workers.
#[derive(Clone)]
pub struct Actors {
    pub db: Addr<DbExecutor>,
    pub rooms: ChatRegistry,
    pub directory: SessionDirectory,
    pub metrics: Arc<Metrics>,
    /// The way to the other nodes, when there are any.
    pub bus: Option<ClusterBus>,
    /// Counts sessions per user and announces who comes online and goes offline.
    pub presence: Addr<Presence>,
    /// Who is online, for answers that show it.
    pub board: PresenceBoard,
}

pub struct ActorThreads {
    db: Arbiter,
    rooms: Vec<Arbiter>,
    link: Option<Arbiter>,
    /// The push delivery actor's mailbox, until `start_push_delivery` gives it its actor.
    push: Option<actix::Context<push_delivery::PushDelivery>>,
}

impl ActorThreads {
    /// Starts push delivery (on the current thread) in the mailbox the rooms already know, or,
    /// on a node that does not deliver, closes that mailbox (the rooms' nudges then go
    /// nowhere instead of piling up).
    pub fn start_push_delivery(&mut self, delivery: Option<push_delivery::PushDelivery>) {
        if let (Some(context), Some(delivery)) = (self.push.take(), delivery) {
            context.run(delivery);
        }
    }

    pub fn stop(&self) {
        if let Some(link) = &self.link {
            link.stop();
        }
        self.db.stop();
        for thread in &self.rooms {
            thread.stop();
        }
    }
}

/// Starts the `DbExecutor`, the room threads (one per core) and, with other nodes, the NATS
/// link (subscribed before this returns).
pub async fn start(
    database: Database,
    metrics: Arc<Metrics>,
    settings: RoomSettings,
    send_batch: usize,
    presence_settings: PresenceSettings,
    cluster: Option<&ClusterSettings>,
) -> Result<(Actors, ActorThreads), String> {
    let directory = SessionDirectory::default();
    let db_thread = Arbiter::new();
    let tokens = if cluster.is_some() {
        TokenCache::disabled()
    } else {
        TokenCache::default()
    };
    let db = {
        let metrics = metrics.clone();
        DbExecutor::start_in_arbiter(&db_thread.handle(), move |_| {
            DbExecutor::new(database, metrics, send_batch, tokens)
        })
    };
    let room_threads: Vec<Arbiter> = (0..std::thread::available_parallelism()
        .map_or(1, |n| n.get()))
        .map(|_| Arbiter::new())
        .collect();
    // The delivery actor's address exists before the actor (which needs the VAPID key, read
    // through the executor once it runs): the rooms are told where to nudge it.
    let push_context: actix::Context<push_delivery::PushDelivery> = actix::Context::new();
    let push = Some(actix::AsyncContext::address(&push_context).recipient());
    let node_id = uuid::Uuid::new_v4().to_string();
    let (bus, outgoing) = match cluster {
        Some(_) => {
            let (bus, outgoing) = ClusterBus::new(&node_id, metrics.clone());
            (Some(bus), Some(outgoing))
        }
        None => (None, None),
    };
    let board = PresenceBoard::default();
    let rooms = ChatRegistry::new(
        room::RoomDeps {
            db: db.clone(),
            directory: directory.clone(),
            metrics: metrics.clone(),
            settings,
            send_batch: send_batch.max(1),
            slots: room_slots::RoomSlots::default(),
            bus: bus.clone(),
            presence: board.clone(),
            push: push.clone(),
        },
        room_threads.iter().map(|t| t.handle()).collect(),
    );
    let presence = {
        let (board, db, directory, metrics, bus) = (
            board.clone(),
            db.clone(),
            directory.clone(),
            metrics.clone(),
            bus.clone(),
        );
        let thread = room_threads
            .first()
            .map_or_else(|| db_thread.handle(), Arbiter::handle);
        Presence::start_in_arbiter(&thread, move |_| {
            Presence::new(board, db, directory, metrics, bus, presence_settings)
        })
    };
    let mut link_thread = None;
    if let (Some(cluster), Some(bus), Some(outgoing)) = (cluster, &bus, outgoing) {
        let deps = cluster_link::LinkDeps {
            bus: bus.clone(),
            registry: rooms.clone(),
            directory: directory.clone(),
            db: db.clone(),
            metrics: metrics.clone(),
            sweep_every: cluster.sweep_every,
            presence: presence.clone(),
        };
        let (thread, subscribed) = cluster_link::start(cluster.nats_url.clone(), deps, outgoing);
        subscribed
            .await
            .map_err(|_| "the NATS link stopped while starting".to_owned())??;
        tracing::info!(node.id = %node_id, "joined the other nodes through NATS");
        link_thread = Some(thread);
    }
    Ok((
        Actors {
            db,
            rooms,
            directory,
            metrics,
            bus,
            presence,
            board,
        },
        ActorThreads {
            db: db_thread,
            rooms: room_threads,
            link: link_thread,
            push: Some(push_context),
        },
    ))
}

/// Test-only: makes rooms fail on purpose, to prove that they are supervised.
#[cfg(feature = "fault-injection")]
#[derive(Clone)]
pub struct Faults {
    rooms: ChatRegistry,
}

#[cfg(feature = "fault-injection")]
impl Faults {
    /// The chat's room panics right after its next batch of sends commits.
    pub async fn panic_after_next_commit(&self, chat_id: ChatId) -> AppResult<()> {
        self.rooms
            .send(chat_id, messages::PanicAfterNextCommit)
            .await
    }
}

impl Actors {
    #[cfg(feature = "fault-injection")]
    pub fn faults(&self) -> Faults {
        Faults {
            rooms: self.rooms.clone(),
        }
    }

    /// A database operation that changes no chat.
    pub async fn ask<O: DbOp>(&self, op: O) -> AppResult<O::Output> {
        ask(&self.db, op).await
    }

    /// A write that belongs to no chat (an upload no message holds yet, a push subscription),
    /// so no room is involved, answered like every write: fresh, or replayed by its key.
    pub async fn write_outside_chats<T, O>(&self, op: O) -> AppResult<Reply<T>>
    where
        O: DbOp<Output = crate::db::queries::Idempotent<T>>,
    {
        let outcome = self.ask(op).await?;
        Ok(Reply::settle(outcome, &self.metrics).0)
    }

    /// Stores a message through its chat's room.
    pub async fn post_message(&self, send: BatchedSend) -> AppResult<Reply<Message>> {
        let chat_id = send.message.chat_id;
        let post = PostMessage {
            send,
            span: tracing::Span::current(),
        };
        self.rooms.send(chat_id, post).await?
    }

    /// Any other write to a chat, through its room.
    pub async fn write<O: ChatWrite>(&self, chat_id: ChatId, op: O) -> AppResult<Reply<O::Value>> {
        self.rooms.send(chat_id, Write::new(op)).await?
    }

    /// A change to a message, through the room of the message's chat.
    pub async fn change_message(&self, change: ChangeMessage) -> AppResult<Reply<Message>> {
        let chat_id = self
            .ask(ChatOfMessage {
                message_id: change.message_id,
            })
            .await?
            .ok_or(AppError::NotFound("message"))?;
        self.write(chat_id, change).await
    }

    pub async fn create_chat(&self, create: CreateChat) -> AppResult<Reply<Chat>> {
        self.rooms.create_chat(&self.db, create).await
    }

    /// Deactivates an account: its tokens are revoked and its sessions closed with 1008, on
    /// every node. `None` if there is no such account.
    pub async fn deactivate_user(&self, user_id: UserId) -> AppResult<Option<AccountStatus>> {
        let Some((account, revoked)) = self.ask(DeactivateUser { user_id }).await? else {
            return Ok(None);
        };
        self.close_deactivated(user_id, &revoked);
        Ok(Some(account))
    }

    /// Resolves a report as the operator decided. Deleting the message goes through its
    /// chat's room, which broadcasts the tombstone; deactivating the author closes the
    /// author's sessions (and their bots') on every node.
    pub async fn resolve_report(
        &self,
        report_id: ReportId,
        action: ReportAction,
    ) -> AppResult<AdminReport> {
        let resolve = db_ops::ResolveReport { report_id, action };
        let reply = match action {
            ReportAction::DeleteMessage => {
                let chat_id = self
                    .ask(db_ops::ChatOfReport { report_id })
                    .await?
                    .ok_or(AppError::NotFound("report"))?;
                self.write(chat_id, resolve).await?
            }
            ReportAction::Dismiss | ReportAction::DeactivateAuthor => {
                self.write_outside_chats(resolve).await?
            }
        };
        let Reply::Fresh { value, .. } = reply else {
            return Err(AppError::internal("a report's resolution was replayed"));
        };
        if action == ReportAction::DeactivateAuthor {
            self.close_deactivated(value.report.author.id, &value.revoked);
        }
        Ok(value.report)
    }

    /// Closes the sessions of a deactivated account and of its bots (every token in
    /// `revoked`, each with its user), here and on the other nodes.
    fn close_deactivated(&self, user_id: UserId, revoked: &[(UserId, TokenId)]) {
        if let Some(bus) = &self.bus {
            for &(owner, token_id) in revoked {
                bus.publish_revocation(owner, token_id);
            }
        }
        // The account and its bots (a bot's sessions are its tokens', all revoked).
        let mut users: Vec<UserId> = revoked.iter().map(|&(user, _)| user).collect();
        users.push(user_id);
        users.sort_unstable();
        users.dedup();
        for user in users {
            self.directory.kick_user(
                user,
                Kick {
                    code: parley_types::CloseCode::PolicyViolation,
                    reason: "account deactivated",
                },
            );
        }
    }

    /// Revokes the token and closes the sessions opened with it.
    pub async fn logout(&self, user_id: UserId, token_id: TokenId) -> AppResult<()> {
        self.ask(Logout { token_id }).await?;
        self.close_sessions_of(user_id, &[token_id]);
        Ok(())
    }

    /// Revokes every token of the user and closes all their sessions, on every node.
    pub async fn logout_everywhere(&self, user_id: UserId) -> AppResult<()> {
        let revoked = self.ask(RevokeAllTokens { user_id }).await?;
        self.close_sessions_of(user_id, &revoked);
        Ok(())
    }

    /// Changes the password; every other token of the user is revoked and its sessions closed.
    pub async fn change_password(&self, change: ChangePassword) -> AppResult<()> {
        let user_id = change.user_id;
        let revoked = self.ask(change).await?;
        self.close_sessions_of(user_id, &revoked);
        Ok(())
    }

    /// Gives a bot of the caller's a new token; the sessions of its old ones are closed.
    pub async fn rotate_bot_token(
        &self,
        rotate: db_ops::RotateBotToken,
    ) -> AppResult<Option<crate::domain::BotToken>> {
        let bot_id = rotate.bot_id;
        let Some((token, revoked)) = self.ask(rotate).await? else {
            return Ok(None);
        };
        self.close_sessions_of(bot_id, &revoked);
        Ok(Some(token))
    }

    /// Closes the sessions opened with these (just revoked) tokens, here and on other nodes.
    fn close_sessions_of(&self, user_id: UserId, token_ids: &[TokenId]) {
        for &token_id in token_ids {
            if let Some(bus) = &self.bus {
                bus.publish_revocation(user_id, token_id);
            }
            self.directory.kick_token(
                user_id,
                token_id,
                Kick {
                    code: parley_types::CloseCode::PolicyViolation,
                    reason: "token revoked",
                },
            );
        }
    }
}
