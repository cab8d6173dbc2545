//! A bot in a few lines: it signs in, listens on its WebSocket, and answers every message of
//! someone else in its chats with the same text. Idempotency keys make a retried answer land
//! once.
//!
//! ```sh
//! PARLEY_URL=http://127.0.0.1:8000 BOT_USER=echo-bot BOT_PASSWORD='a long bot password' \
//!     cargo run -p parley-client --example echo_bot
//! ```

use parley_client::{Client, Error};
use parley_types::{EventPayload, ServerFrame};

#[actix_rt::main]
async fn main() -> Result<(), Error> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let parley = Client::new(&env("PARLEY_URL", "http://127.0.0.1:8000"));
    let session = parley
        .login(&env("BOT_USER", "echo-bot"), &env("BOT_PASSWORD", ""))
        .await?;
    let bot = parley.with_token(&session.access_token);
    let mut socket = bot.connect().await?;
    while let Some(frame) = socket.next_frame().await? {
        let ServerFrame::Event(event) = frame else {
            continue;
        };
        let EventPayload::MessageCreated(message) = event.payload else {
            continue;
        };
        if message.author_id == session.user.id {
            continue;
        }
        let key = format!("echo-{}", message.id);
        bot.send_message(message.chat_id, &message.content, Some(&key))
            .await?;
    }
    Ok(())
}
