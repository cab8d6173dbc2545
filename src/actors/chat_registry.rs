//! `ChatRegistry`: the way to a chat's room. It starts a room on first use (on one of the room
//! threads, chosen by chat id) and starts the room of a chat a request has just created from
//! that creation's own result.

use std::sync::Arc;

use actix::dev::ToEnvelope;
use actix::prelude::*;

use parley_types::ChatId;

use super::db_executor::{ask, DbExecutor};
use super::db_ops::CreateChat;
use super::messages::{Deliver, DeliverRemote, ReadyEvent, Reply};
use super::room::{ChatRoom, RoomDeps};
use super::session_directory::SessionDirectory;
use crate::domain::Chat;
use crate::error::AppResult;

#[derive(Clone)]
pub struct ChatRegistry {
    deps: RoomDeps,
    threads: Arc<Vec<ArbiterHandle>>,
}

impl ChatRegistry {
    /// Rooms run on `threads` (at least one), each chat always on the same one.
    pub fn new(deps: RoomDeps, threads: Vec<ArbiterHandle>) -> Self {
        ChatRegistry {
            deps,
            threads: Arc::new(threads),
        }
    }

    fn thread_of(&self, chat_id: ChatId) -> Option<&ArbiterHandle> {
        let count = i64::try_from(self.threads.len()).ok()?;
        let index = usize::try_from(chat_id.get().rem_euclid(count.max(1))).ok()?;
        self.threads.get(index)
    }

    fn start(&self, room: ChatRoom) -> Addr<ChatRoom> {
        match self.thread_of(room.chat_id()) {
            Some(thread) => ChatRoom::start_in_arbiter(thread, move |_| room),
            None => room.start(),
        }
    }

    /// Sends `message` to the chat's room, starting the room if none is running, and waits
    /// for its reply.
    pub async fn send<M>(&self, chat_id: ChatId, message: M) -> AppResult<M::Result>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        ChatRoom: Handler<M>,
        <ChatRoom as Actor>::Context: ToEnvelope<ChatRoom, M>,
    {
        let reply = self.deps.slots.send(chat_id, message, || {
            self.start(ChatRoom::new(chat_id, self.deps.clone()))
        });
        Ok(reply.await?)
    }

    /// Queues `message` for the chat's room if one is running (see `RoomSlots::tell_if_running`).
    pub fn tell_if_running<M>(&self, chat_id: ChatId, message: M) -> bool
    where
        M: Message + Send + 'static,
        M::Result: Send,
        ChatRoom: Handler<M>,
        <ChatRoom as Actor>::Context: ToEnvelope<ChatRoom, M>,
    {
        self.deps.slots.tell_if_running(chat_id, message)
    }

    /// The chats whose rooms run on this node.
    pub fn running_chats(&self) -> Vec<ChatId> {
        self.deps.slots.running()
    }

    /// Hands events another node committed to this node's room for the chat. A node runs the
    /// room of every chat with a session here (sessions bind to all their chats), so with no
    /// room running only a member joining can concern this node: if one of the joined users
    /// has a session here, a room starts just below the batch and binds it.
    pub fn deliver_remote(
        &self,
        directory: &SessionDirectory,
        chat_id: ChatId,
        events: Vec<ReadyEvent>,
    ) {
        let Some(first_seq) = events.first().map(|e| e.seq) else {
            return;
        };
        let joins_someone_here = events.iter().any(
            |e| matches!(e.membership, Some((user_id, true)) if directory.has_sessions(user_id)),
        );
        let deliver = DeliverRemote { events };
        if joins_someone_here {
            self.deps.slots.tell(chat_id, deliver, || {
                self.start(ChatRoom::seeded(
                    chat_id,
                    self.deps.clone(),
                    first_seq.prev(),
                ))
            });
        } else {
            self.deps.slots.tell_if_running(chat_id, deliver);
        }
    }

    /// Creates a chat. A new chat's room starts from the creation's result, so the members'
    /// open sessions are bound before its first event goes out.
    pub async fn create_chat(
        &self,
        db: &Addr<DbExecutor>,
        op: CreateChat,
    ) -> AppResult<Reply<Chat>> {
        let outcome = ask(db, op).await?;
        let (reply, events) = Reply::settle(outcome, &self.deps.metrics);
        let Reply::Fresh { value: chat, .. } = &reply else {
            return Ok(reply);
        };
        let Some(first_seq) = events.first().map(|e| e.seq) else {
            // An existing direct chat: nothing new to announce.
            return Ok(reply);
        };
        let member_ids = chat.members.iter().map(|m| m.user_id).collect();
        let direct = chat.kind == crate::domain::ChatKind::Direct;
        let room = ChatRoom::created(
            chat.id,
            self.deps.clone(),
            member_ids,
            first_seq.prev(),
            direct,
        );
        let addr = self.start(room);
        self.deps.slots.install(chat.id, addr);
        // Answered once the room has bound the members' sessions and sent them the creation,
        // so that whatever the client does next comes after it.
        if let Err(e) = self.send(chat.id, Deliver { events }).await {
            tracing::warn!(chat.id = %chat.id, error = %e.chain(), "the new chat's room did not take its events");
        }
        Ok(reply)
    }
}
