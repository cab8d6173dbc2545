//! A typed async client for Parley: the REST API (`Client`) and the WebSocket (`Socket`), on
//! `parley-types`' values and frames. It runs on an actix system (`actix_rt`), as awc does.
//!
//! ```no_run
//! # async fn bot() -> Result<(), parley_client::Error> {
//! use parley_client::Client;
//! use parley_types::{ServerFrame, EventPayload};
//!
//! let parley = Client::new("http://127.0.0.1:8000");
//! let session = parley.login("echo-bot", "a long bot password").await?;
//! let bot = parley.with_token(&session.access_token);
//! let mut socket = bot.connect().await?;
//! while let Some(frame) = socket.next_frame().await? {
//!     if let ServerFrame::Event(event) = frame {
//!         if let EventPayload::MessageCreated(m) = event.payload {
//!             if m.author_id != session.user.id {
//!                 bot.send_message(m.chat_id, &format!("echo: {}", m.content), None).await?;
//!             }
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

mod error;
mod rest;
mod socket;

pub use error::Error;
pub use rest::{Client, HistoryRange, Raw};
pub use socket::{Incoming, Socket};
