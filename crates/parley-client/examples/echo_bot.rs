//! A bot in a few lines: it listens on its WebSocket and answers every message of someone else
//! in its chats with the same text. Idempotency keys make a retried answer land once.
//!
//! A bot signs in with its token, never a password: its owner makes it
//! (`POST /api/v1/bots {"username": "echo-bot"}` answers the token) and adds it to chats.
//!
//! ```sh
//! PARLEY_URL=http://127.0.0.1:8000 PARLEY_BOT_TOKEN=... cargo run -p parley-client --example echo_bot
//! ```

use parley_client::{Client, Error};
use parley_types::{EventPayload, ServerFrame};

#[actix_rt::main]
async fn main() -> Result<(), Error> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let bot = Client::new(&env("PARLEY_URL", "http://127.0.0.1:8000"))
        .with_token(&env("PARLEY_BOT_TOKEN", ""));
    let me = bot.me().await?;
    let mut socket = bot.connect().await?;
    while let Some(frame) = socket.next_frame().await? {
        let ServerFrame::Event(event) = frame else {
            continue;
        };
        let EventPayload::MessageCreated(message) = event.payload else {
            continue;
        };
        if message.author_id == me.id {
            continue;
        }
        let key = format!("echo-{}", message.id);
        bot.send_message(message.chat_id, &message.content, Some(&key))
            .await?;
    }
    Ok(())
}
