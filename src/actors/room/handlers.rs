//! The messages a room takes: sends and other writes, events committed elsewhere, sweeps,
//! and the sessions that subscribe, resume and type.

use actix::prelude::*;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::{ChatRoom, QueuedSend};
use crate::actors::db_executor::ask;
use crate::actors::messages::{
    ChatWrite, Deliver, DeliverRemote, EphemeralEvent, EphemeralRemote, PostMessage, Refusal,
    Reply, Resume, Subscribe, Sweep, Typing, Write,
};
use crate::domain::Message as ChatMessage;
use crate::error::{AppError, AppResult};

impl Handler<PostMessage> for ChatRoom {
    type Result = ResponseFuture<AppResult<Reply<ChatMessage>>>;

    fn handle(&mut self, msg: PostMessage, ctx: &mut Context<Self>) -> Self::Result {
        self.received();
        if let Some(refusal) = self.refusal.clone() {
            return Box::pin(async move { Err(refusal) });
        }
        let (reply, answer) = oneshot::channel();
        self.sends.push_back(QueuedSend {
            send: msg.send,
            reply,
            span: msg.span,
        });
        if !self.storing {
            self.store_sends(ctx);
        }
        Box::pin(async move {
            answer.await.map_err(|_| {
                AppError::Unavailable("the chat's room stopped before answering".into())
            })?
        })
    }
}

impl<O: ChatWrite> Handler<Write<O>> for ChatRoom {
    type Result = ResponseActFuture<Self, AppResult<Reply<O::Value>>>;

    fn handle(&mut self, msg: Write<O>, _: &mut Context<Self>) -> Self::Result {
        self.received();
        if let Some(refusal) = self.refusal.clone() {
            return Box::pin(fut::ready(Err(refusal)));
        }
        self.in_flight += 1;
        let db = self.deps.db.clone();
        let span =
            tracing::info_span!(parent: &msg.span, "room", op = O::NAME, chat.id = %self.chat_id);
        Box::pin(
            async move { ask(&db, msg.op).await }
                .instrument(span)
                .into_actor(self)
                .map(|result, room, ctx| {
                    room.in_flight -= 1;
                    let (reply, events) = Reply::settle(result?, &room.deps.metrics);
                    room.accept_committed(events);
                    room.flush_paced(ctx);
                    if let Reply::Fresh { value, .. } = &reply {
                        if let Some(event) = O::ephemeral(value) {
                            // The writer was a member when it committed; a refusal here only
                            // means the room has seen it leave since.
                            let _ = room.broadcast_ephemeral(event);
                        }
                    }
                    Ok(reply)
                }),
        )
    }
}

impl Handler<Deliver> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        self.received();
        if self.refusal.is_some() {
            return;
        }
        self.accept_committed(msg.events);
        self.flush_paced(ctx);
    }
}

impl Handler<DeliverRemote> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: DeliverRemote, ctx: &mut Context<Self>) {
        self.received_from_afar();
        if self.refusal.is_some() {
            return;
        }
        for event in msg.events {
            self.sequencer.note_committed(event.seq);
            self.sequencer.accept(event);
        }
        self.flush_paced(ctx);
    }
}

impl Handler<EphemeralRemote> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: EphemeralRemote, _: &mut Context<Self>) {
        self.received_from_afar();
        if self.refusal.is_none() {
            self.send_ephemeral(&msg.frame, msg.from_user, msg.to_sender);
        }
    }
}

impl Handler<Sweep> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Sweep, ctx: &mut Context<Self>) {
        self.received_from_afar();
        let last_seq = msg.last_seq;
        if self.refusal.is_some() || last_seq <= self.sequencer.delivered() {
            return;
        }
        self.sequencer.note_committed(last_seq);
        if self.gap_fill.is_none() {
            self.deps.metrics.sweep_fills.inc();
            self.fill_gap(ctx);
        }
    }
}

impl Handler<Subscribe> for ChatRoom {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        self.received();
        let subscriber = msg.subscriber;
        let (session_id, user) = (subscriber.session_id, subscriber.user_id);
        if self.refusal.is_some() || self.sequencer.is_bound(session_id) {
            return;
        }
        self.sessions.keep(subscriber);
        if !self
            .sequencer
            .subscribe(session_id, user, &mut self.sessions)
        {
            self.sessions.remove(session_id);
        }
    }
}

impl Handler<Resume> for ChatRoom {
    type Result = Result<(), Refusal>;

    fn handle(&mut self, msg: Resume, ctx: &mut Context<Self>) -> Self::Result {
        self.received();
        if let Some(refusal) = self.session_refusal() {
            return Err(refusal);
        }
        let subscriber = msg.subscriber;
        let (session_id, user) = (subscriber.session_id, subscriber.user_id);
        if !self.sequencer.is_member(user) {
            return Err(Refusal::NotMember);
        }
        self.sessions.keep(subscriber);
        let read = self
            .sequencer
            .resume(session_id, user, msg.after_seq, &mut self.sessions)
            .map_err(|_| Refusal::NotMember)?;
        self.load_replay_batch(read, ctx);
        Ok(())
    }
}

impl Handler<Typing> for ChatRoom {
    type Result = Result<(), Refusal>;

    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) -> Self::Result {
        self.received();
        if let Some(refusal) = self.session_refusal() {
            return Err(refusal);
        }
        self.broadcast_ephemeral(EphemeralEvent::Typing {
            user_id: msg.user_id,
        })
    }
}
