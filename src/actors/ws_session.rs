//! `WsSession`: one per WebSocket connection. This is the only module that knows the
//! WebSocket library (actix-web-actors, deprecated upstream); moving to actix-ws means
//! rewriting this file alone.
//!
//! The session's mailbox is its outbox: rooms `try_send` frames into it, and it is bounded.
//! When the client stops reading, the socket backs up, actix stops polling this actor, the
//! mailbox fills, and the rooms drop the session and tell it to close with 1013.
//!
//! What a client's frames can cost is bounded: frames are rate limited per session (past the
//! limit an `error` frame, and a close with 1008 if the flood goes on), and a frame about a chat
//! the session is not bound to is refused without asking a room (rooms tell the session when
//! they bind or drop it).

use parley_types::{ChatId, TokenId};
use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;

use super::db_ops::SessionChats;
use super::messages::{
    Backlog, Kick, Membership, Outbound, Overflowed, Refusal, Resume, SessionId, Subscribe,
    Subscriber, Typing,
};
use super::presence::{SessionClosed, SessionOpened};
use super::session_permits::SessionPermit;
use super::ws_protocol::{
    parse_client_frame, to_json, ClientFrame, Empty, ErrorData, ReadyData, ServerFrame,
};
use super::{Actors, ChatRoom};
use crate::config::WsSettings;
use crate::error::{AppError, ErrorCode};
use parley_types::{CloseCode, UserId};

/// Largest frame a client may send.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Frames a session may have waiting in its outbox (one message may carry a room's run of
/// several); past this it is a slow consumer.
pub const OUTBOX_CAPACITY: usize = 1024;

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

pub struct WsSession {
    key: SessionId,
    public_id: String,
    user_id: UserId,
    token_id: TokenId,
    actors: Actors,
    settings: WsSettings,
    last_heard: Instant,
    /// The chats whose rooms have this session bound.
    chats: HashSet<ChatId>,
    /// Frames offered to the outbox and not yet written, shared with the rooms.
    backlog: Arc<Backlog>,
    /// `None` when frames are not limited.
    frame_limit: Option<DefaultDirectRateLimiter>,
    /// Frames refused in a row by the limit.
    refused_frames: u32,
    /// Its place under the session caps, given back when the session ends.
    _permit: SessionPermit,
}

/// Upgrades an authenticated request to a WebSocket session.
pub fn upgrade(
    req: &HttpRequest,
    stream: web::Payload,
    actors: Actors,
    settings: WsSettings,
    user_id: UserId,
    token_id: TokenId,
    permit: SessionPermit,
) -> Result<HttpResponse, actix_web::Error> {
    let session = WsSession {
        key: SessionId(NEXT_SESSION.fetch_add(1, Ordering::Relaxed)),
        public_id: uuid::Uuid::new_v4().to_string(),
        user_id,
        token_id,
        actors,
        settings,
        last_heard: Instant::now(),
        chats: HashSet::new(),
        backlog: Arc::new(Backlog::new(OUTBOX_CAPACITY)),
        frame_limit: frame_limiter(&settings),
        refused_frames: 0,
        _permit: permit,
    };
    ws::WsResponseBuilder::new(session, req, stream)
        .frame_size(MAX_FRAME_BYTES)
        .start()
}

fn frame_limiter(settings: &WsSettings) -> Option<DefaultDirectRateLimiter> {
    let rate = NonZeroU32::new(settings.frame_rate)?;
    let burst = NonZeroU32::new(settings.frame_burst).unwrap_or(rate);
    Some(RateLimiter::direct(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

type Ctx = ws::WebsocketContext<WsSession>;

impl WsSession {
    fn subscriber(&self, ctx: &mut Ctx) -> Subscriber {
        let addr = ctx.address();
        Subscriber {
            session_id: self.key,
            user_id: self.user_id,
            token_id: self.token_id,
            outbox: addr.clone().recipient(),
            backlog: self.backlog.clone(),
            overflow: addr.clone().recipient(),
            kick: addr.clone().recipient(),
            membership: addr.recipient(),
        }
    }

    /// Whether a frame from the client is within the session's rate. The first refused frame
    /// of a run gets an `error` frame; a client that keeps on is closed with 1008.
    fn admit_frame(&mut self, ctx: &mut Ctx) -> bool {
        let Some(limit) = &self.frame_limit else {
            return true;
        };
        if limit.check().is_ok() {
            self.refused_frames = 0;
            return true;
        }
        self.refused_frames += 1;
        if self.refused_frames == 1 {
            self.send_error(ctx, ErrorCode::RateLimited, "Too many frames; slow down.");
        } else if self.refused_frames > self.settings.frame_flood {
            tracing::info!(session.id = %self.public_id, "frame flood; session closed");
            self.close(ctx, CloseCode::PolicyViolation, "too many frames");
        }
        false
    }

    fn send_frame<T: serde::Serialize>(&self, ctx: &mut Ctx, frame: &T) {
        if let Some(json) = to_json(frame) {
            ctx.text(json);
        }
    }

    fn send_error(&self, ctx: &mut Ctx, code: ErrorCode, detail: &str) {
        self.send_frame(
            ctx,
            &ServerFrame::Error {
                data: ErrorData {
                    code,
                    detail: detail.to_owned(),
                },
            },
        );
    }

    fn close(&self, ctx: &mut Ctx, code: CloseCode, reason: &str) {
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::from(code.code()),
            description: Some(reason.to_owned()),
        }));
        ctx.stop();
    }

    /// Binds the session to every chat of its user, then says `ready`. It is in the directory
    /// first, so a chat the user joins meanwhile binds it too (binding twice is harmless).
    /// Nothing else is handled until then, so `ready` is the first frame and every event
    /// committed after it reaches the session.
    ///
    /// The token was checked before the upgrade, but a logout or a deactivation may have
    /// committed since, and its kick found no session to close. So the token is read again
    /// from the database once the session is in the directory: a revocation that commits
    /// after that read finds the session there (its kick, or another node's over the bus);
    /// one that committed before it is seen by it, and the session closes without `ready`.
    fn bind_to_chats(&mut self, ctx: &mut Ctx) {
        let subscriber = self.subscriber(ctx);
        self.actors.directory.add(subscriber.clone());
        let actors = self.actors.clone();
        let user_id = self.user_id;
        let token_id = self.token_id;
        let bind = async move {
            let Some(chat_ids) = actors.ask(SessionChats { user_id, token_id }).await? else {
                return Ok(None);
            };
            for &chat_id in &chat_ids {
                let subscribe = Subscribe {
                    subscriber: subscriber.clone(),
                };
                actors.rooms.send(chat_id, subscribe).await?;
            }
            Ok::<Option<Vec<ChatId>>, AppError>(Some(chat_ids))
        };
        ctx.wait(bind.into_actor(self).map(|result, session, ctx| match result {
            Ok(None) => session.close(ctx, CloseCode::PolicyViolation, "token revoked"),
            Ok(Some(chat_ids)) => {
                session.chats.extend(chat_ids);
                session.send_frame(
                    ctx,
                    &ServerFrame::Ready {
                        data: ReadyData {
                            user_id: session.user_id,
                            session_id: session.public_id.clone(),
                        },
                    },
                );
            }
            Err(e) => {
                tracing::warn!(session.id = %session.public_id, error = %e.chain(), "could not bind the session to its chats");
                session.close(ctx, CloseCode::InternalError, "could not load chats");
            }
        }));
    }

    fn on_client_frame(&mut self, text: &str, ctx: &mut Ctx) {
        match parse_client_frame(text) {
            Err(e) => self.send_error(ctx, e.code, &e.detail),
            Ok(ClientFrame::Ping) => self.send_frame(ctx, &ServerFrame::Pong { data: Empty {} }),
            Ok(ClientFrame::Typing { chat_id }) => {
                let typing = Typing {
                    user_id: self.user_id,
                };
                self.ask_room(chat_id, typing, ctx);
            }
            Ok(ClientFrame::Resume { chat_id, after_seq }) => {
                let resume = Resume {
                    subscriber: self.subscriber(ctx),
                    after_seq,
                };
                self.ask_room(chat_id, resume, ctx);
            }
        }
    }

    /// Sends a request to a chat's room; a refusal becomes an `error` frame.
    fn ask_room<M>(&mut self, chat_id: ChatId, message: M, ctx: &mut Ctx)
    where
        M: Message<Result = Result<(), Refusal>> + Send + 'static,
        ChatRoom: Handler<M>,
    {
        // No room is asked about a chat this session is not bound to: such a frame costs
        // nothing, whatever the chat id.
        if !self.chats.contains(&chat_id) {
            self.send_error(
                ctx,
                ErrorCode::NotAMember,
                "You are not a member of this chat.",
            );
            return;
        }
        let rooms = self.actors.rooms.clone();
        let asked = async move { rooms.send(chat_id, message).await };
        ctx.spawn(
            asked
                .into_actor(self)
                .map(|result, session, ctx| match result {
                    Ok(Ok(())) => {}
                    Ok(Err(Refusal::NotMember)) => session.send_error(
                        ctx,
                        ErrorCode::NotAMember,
                        "You are not a member of this chat.",
                    ),
                    Ok(Err(Refusal::Unavailable)) | Err(_) => {
                        session.send_error(ctx, ErrorCode::Unavailable, "Try again.")
                    }
                }),
        );
    }
}

impl Actor for WsSession {
    type Context = Ctx;

    fn started(&mut self, ctx: &mut Ctx) {
        ctx.set_mailbox_capacity(OUTBOX_CAPACITY);
        self.actors.metrics.ws_sessions.inc();
        self.actors.presence.do_send(SessionOpened {
            user_id: self.user_id,
        });
        ctx.run_interval(self.settings.ping_every, |session, ctx| {
            if session.last_heard.elapsed() >= session.settings.silence_limit {
                session.close(ctx, CloseCode::Normal, "heartbeat timeout");
            } else {
                ctx.ping(b"");
            }
        });
        self.bind_to_chats(ctx);
        tracing::debug!(session.id = %self.public_id, user.id = %self.user_id, "websocket session started");
    }

    fn stopped(&mut self, _: &mut Ctx) {
        self.actors.directory.remove(self.user_id, self.key);
        self.actors.presence.do_send(SessionClosed {
            user_id: self.user_id,
        });
        self.actors.metrics.ws_sessions.dec();
        tracing::debug!(session.id = %self.public_id, "websocket session ended");
    }
}

impl Handler<Outbound> for WsSession {
    type Result = ();

    fn handle(&mut self, outbound: Outbound, ctx: &mut Ctx) {
        let frames = outbound.frames();
        self.backlog.release(frames.len());
        self.actors
            .metrics
            .ws_frames_sent
            .inc_by(frames.len() as u64);
        // Frames queued in one turn of the session are encoded into one buffer and reach the
        // socket in one write.
        for frame in frames {
            ctx.text(frame.clone());
        }
    }
}

impl Handler<Overflowed> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Overflowed, ctx: &mut Ctx) {
        tracing::info!(session.id = %self.public_id, chat.id = ?msg.chat_id, "slow consumer closed");
        self.close(ctx, CloseCode::TryAgainLater, "try again later");
    }
}

impl Handler<Membership> for WsSession {
    type Result = ();

    fn handle(&mut self, change: Membership, _: &mut Ctx) {
        if change.bound {
            self.chats.insert(change.chat_id);
        } else {
            self.chats.remove(&change.chat_id);
        }
    }
}

impl Handler<Kick> for WsSession {
    type Result = ();

    fn handle(&mut self, kick: Kick, ctx: &mut Ctx) {
        self.close(ctx, kick.code, kick.reason);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsSession {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Ctx) {
        self.last_heard = Instant::now();
        let data_frame = matches!(
            item,
            Ok(ws::Message::Text(_) | ws::Message::Binary(_) | ws::Message::Continuation(_))
        );
        if data_frame && !self.admit_frame(ctx) {
            return;
        }
        match item {
            Ok(ws::Message::Text(text)) => self.on_client_frame(&text, ctx),
            Ok(ws::Message::Binary(_)) | Ok(ws::Message::Continuation(_)) => {
                self.send_error(ctx, ErrorCode::MalformedJson, "Frames must be JSON text.")
            }
            Ok(ws::Message::Ping(payload)) => ctx.pong(&payload),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Err(ws::ProtocolError::Overflow) => {
                self.close(ctx, CloseCode::MessageTooBig, "frame too large")
            }
            Err(e) => {
                tracing::debug!(session.id = %self.public_id, error = %e, "websocket protocol error");
                self.close(ctx, CloseCode::ProtocolError, "protocol error");
            }
        }
    }
}
