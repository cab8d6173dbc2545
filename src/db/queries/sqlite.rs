//! The queries compiled for SQLite: each module is a file of `db/queries`, shared with the
//! other backend (see `queries`).

pub type Conn = crate::db::SqliteConn;

#[path = "aggregates.rs"]
pub mod aggregates;
#[path = "attachments.rs"]
pub mod attachments;
#[path = "bots.rs"]
pub mod bots;
#[path = "chats.rs"]
pub mod chats;
#[path = "events.rs"]
pub mod events;
#[path = "guards.rs"]
pub mod guards;
#[path = "idempotency.rs"]
pub mod idempotency;
#[path = "mentions.rs"]
pub mod mentions;
#[path = "messages.rs"]
pub mod messages;
#[path = "moderation.rs"]
pub mod moderation;
#[path = "push.rs"]
pub mod push;
#[path = "threads.rs"]
pub mod threads;
#[path = "unread.rs"]
pub mod unread;
#[path = "users.rs"]
pub mod users;
#[path = "webhooks.rs"]
pub mod webhooks;
