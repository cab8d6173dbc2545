//! `ChatRegistry`: finds the room of a chat, starting it on first use.

use std::collections::HashMap;

use actix::prelude::*;

use std::sync::Arc;

use super::chat_room::ChatRoom;
use super::db_executor::DbExecutor;
use super::session_directory::SessionDirectory;
use super::RoomSettings;
use crate::metrics::Metrics;

pub struct ChatRegistry {
    db: Addr<DbExecutor>,
    directory: SessionDirectory,
    metrics: Arc<Metrics>,
    settings: RoomSettings,
    rooms: HashMap<i64, Addr<ChatRoom>>,
}

impl ChatRegistry {
    pub fn new(
        db: Addr<DbExecutor>,
        directory: SessionDirectory,
        metrics: Arc<Metrics>,
        settings: RoomSettings,
    ) -> Self {
        ChatRegistry {
            db,
            directory,
            metrics,
            settings,
            rooms: HashMap::new(),
        }
    }
}

impl Actor for ChatRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
    }
}

/// The room of a chat, running.
#[derive(Message)]
#[rtype(result = "Addr<ChatRoom>")]
pub struct RoomFor {
    pub chat_id: i64,
}

impl Handler<RoomFor> for ChatRegistry {
    type Result = MessageResult<RoomFor>;

    fn handle(&mut self, msg: RoomFor, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(room) = self.rooms.get(&msg.chat_id).filter(|r| r.connected()) {
            return MessageResult(room.clone());
        }
        let room = ChatRoom::new(
            msg.chat_id,
            self.db.clone(),
            ctx.address(),
            self.directory.clone(),
            self.metrics.clone(),
            self.settings,
        )
        .start();
        self.rooms.insert(msg.chat_id, room.clone());
        MessageResult(room)
    }
}

/// Sent by a room as it stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomStopped {
    pub chat_id: i64,
}

impl Handler<RoomStopped> for ChatRegistry {
    type Result = ();

    fn handle(&mut self, msg: RoomStopped, _: &mut Context<Self>) {
        // A replacement may already be running under the same id; keep it.
        if self
            .rooms
            .get(&msg.chat_id)
            .is_some_and(|room| !room.connected())
        {
            self.rooms.remove(&msg.chat_id);
        }
    }
}
