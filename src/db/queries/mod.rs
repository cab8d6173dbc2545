//! Query code, written once and compiled for each backend's connection type.
//!
//! Each file in this folder is included into `pg` and `sqlite` below, where `Conn` is that
//! backend's concrete connection. diesel checks every query against both backends at compile
//! time, and `with_backend!` chooses the module at run time. (The files are not modules of
//! their own, so run `rustfmt` on them directly: `cargo fmt` does not reach them.)

macro_rules! backend_queries {
    ($backend:ident, $conn:ty) => {
        pub mod $backend {
            pub type Conn = $conn;

            pub mod chats {
                include!("chats.rs");
            }
            pub mod events {
                include!("events.rs");
            }
            pub mod idempotency {
                include!("idempotency.rs");
            }
            pub mod messages {
                include!("messages.rs");
            }
            pub mod users {
                include!("users.rs");
            }

            pub async fn ping(conn: &mut Conn) -> $crate::error::AppResult<()> {
                use diesel_async::RunQueryDsl;
                diesel::sql_query("SELECT 1").execute(conn).await?;
                Ok(())
            }
        }
    };
}

backend_queries!(pg, crate::db::PgConn);
backend_queries!(sqlite, crate::db::SqliteConn);

/// What a write hands back to the executor: the answer for the client, and the events it
/// committed (to be broadcast once the transaction is durable).
#[derive(Debug)]
pub struct Written<T> {
    pub status: u16,
    pub value: T,
    pub events: Vec<crate::domain::ChatEvent>,
}

impl<T> Written<T> {
    pub fn new(status: u16, value: T, events: Vec<crate::domain::ChatEvent>) -> Self {
        Written {
            status,
            value,
            events,
        }
    }
}

/// The answer to a request that carried an `Idempotency-Key`.
#[derive(Debug)]
pub enum Idempotent<T> {
    /// First time this key was used: the operation ran and committed.
    Fresh(Written<T>),
    /// The key was used before with the same request: the stored answer, byte for byte.
    Replayed(StoredReply),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReply {
    pub status: u16,
    pub body: String,
}

/// A validated `Idempotency-Key` with the fingerprint of the request that carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

/// A message to store, already validated.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub chat_id: i64,
    pub author_id: i64,
    pub content: String,
    pub reply_to_id: Option<i64>,
    pub client_id: Option<String>,
}

/// The account a valid token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenOwner {
    pub token_id: i64,
    pub user_id: i64,
}

/// Where a read marker ended up, when it moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReadMarker {
    pub chat_id: i64,
    pub user_id: i64,
    pub seq: i64,
}
