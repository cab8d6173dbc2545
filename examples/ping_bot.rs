//! A bot in a few lines, through `parley-client`: it listens on its WebSocket and answers
//! `!ping` with `pong` in whichever chat it was asked, as a reply to the message.
//!
//! Make the bot as its owner (`POST /api/v1/bots {"username": "pingbot"}`), add it to a group
//! like anyone, then run it with the token the creation answered:
//!
//! ```sh
//! PARLEY_URL=http://127.0.0.1:8000 PARLEY_BOT_TOKEN=... cargo run --example ping_bot
//! ```
//!
//! (`tests/api/bots.rs` runs `answer_pings` against a real server.)

use parley_client::{Client, Error};
use parley_types::{EventPayload, ServerFrame};

/// Answers `!ping` until the server closes the session (the token rotated, the bot deleted);
/// returns the close code.
pub async fn answer_pings(bot: &Client) -> Result<Option<u16>, Error> {
    let me = bot.me().await?;
    let mut socket = bot.connect().await?;
    while let Some(frame) = socket.next_frame().await? {
        let ServerFrame::Event(event) = frame else {
            continue;
        };
        let EventPayload::MessageCreated(message) = event.payload else {
            continue;
        };
        if message.author_id != me.id && message.content.trim() == "!ping" {
            // The key makes a retry of this answer (after a lost connection) post it once.
            let key = format!("pong-{}", message.id.get());
            bot.send_reply(message.chat_id, "pong", Some(message.id), None, Some(&key))
                .await?;
        }
    }
    Ok(socket.closed_with())
}

#[allow(dead_code, reason = "the tests include this file for answer_pings")]
#[actix_rt::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("PARLEY_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let token = std::env::var("PARLEY_BOT_TOKEN").map_err(|_| "set PARLEY_BOT_TOKEN")?;
    let bot = Client::new(&url).with_token(&token);
    let closed = answer_pings(&bot).await?;
    println!("the server closed the session: {closed:?}");
    Ok(())
}
