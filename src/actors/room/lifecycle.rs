//! A room's life: it loads its chat before it handles anything, retires when it has had
//! nothing to do for a while, and — if a handler panics — hands its chat and its sessions to a
//! fresh room so that the chat goes on and its sessions miss nothing.

use actix::prelude::*;
use parley_types::{CloseCode, Seq};

use super::sequencer::{ReplayRead, Sequencer};
use super::{ChatRoom, Start};
use crate::actors::db_executor::ask;
use crate::actors::db_ops::LoadRoomState;
use crate::actors::messages::{Kick, SessionId, Subscriber};
use crate::actors::room_slots::Retire;
use crate::error::AppError;

impl ChatRoom {
    pub(super) fn idle(&self) -> bool {
        self.sequencer.at_rest()
            && self.sends.is_empty()
            && !self.storing
            && self.in_flight == 0
            && self.last_activity.elapsed() >= self.deps.settings.idle_after
    }

    /// Stops the room if no message is on its way to it (see `room_slots`).
    pub(super) fn retire(&mut self, ctx: &mut Context<Self>) {
        if self
            .deps
            .slots
            .retire(self.chat_id, &ctx.address(), self.handled)
            == Retire::Done
        {
            ctx.stop();
        }
    }

    pub(super) fn begin(&mut self, ctx: &mut Context<Self>) {
        match self.start.take() {
            Some(Start::Created {
                member_ids,
                delivered_seq,
                direct,
            }) => {
                self.direct = direct;
                self.sequencer = Sequencer::new(member_ids, delivered_seq);
                self.sequencer.bind_members(&mut self.sessions);
            }
            // Started once; a second call has nothing to do.
            None => {}
            Some(Start::Load { carried, seed }) => {
                let db = self.deps.db.clone();
                let chat_id = self.chat_id;
                // Nothing else is handled until the room knows its members and its seq.
                ctx.wait(
                    async move { ask(&db, LoadRoomState { chat_id }).await }
                        .into_actor(self)
                        .map(move |result, room, ctx| match result {
                            Ok(Some(state)) => {
                                let members = state.member_ids;
                                let last_seq = state.last_seq;
                                room.direct = state.direct;
                                room.sequencer = Sequencer::starting_below(
                                    members,
                                    last_seq,
                                    seed.unwrap_or(last_seq),
                                );
                                room.take_over(carried, ctx);
                                room.sequencer.bind_members(&mut room.sessions);
                            }
                            Ok(None) => {
                                room.refusal = Some(AppError::NotFound("chat"));
                                kick_all(carried.into_iter().map(|(s, _)| s));
                                room.retire(ctx);
                            }
                            Err(e) => {
                                kick_all(carried.into_iter().map(|(s, _)| s));
                                // What is queued gets the error; once the room has retired,
                                // the next message starts a fresh one.
                                tracing::warn!(chat.id = %room.chat_id, error = %e.chain(), "room could not load its state");
                                room.refusal = Some(e);
                                room.retire(ctx);
                            }
                        }),
                );
            }
        }
    }

    /// Binds the sessions of the room this one replaces, each from where the failed room had
    /// got to, and feeds each from the event log up to the live stream (ending in `resumed`),
    /// exactly as if the session had sent `resume` itself.
    fn take_over(&mut self, carried: Vec<(Subscriber, Seq)>, ctx: &mut Context<Self>) {
        let cursors: Vec<_> = carried
            .into_iter()
            .map(|(subscriber, sent_up_to)| {
                let cursor = (subscriber.session_id, subscriber.user_id, sent_up_to);
                self.sessions.keep(subscriber);
                cursor
            })
            .collect();
        let reads: Vec<ReplayRead<SessionId>> =
            self.sequencer.take_over(cursors, &mut self.sessions);
        for read in reads {
            self.load_replay_batch(read, ctx);
        }
    }

    /// Called while the room unwinds from a panic: a fresh room takes the chat's slot and this
    /// room's sessions, so the chat goes on and its sessions miss nothing. Sends not yet stored
    /// are refused with 503; the batch being stored may have committed, which a retry with the
    /// same `Idempotency-Key` finds out.
    pub(super) fn restart_after_failure(&mut self, ctx: &mut Context<Self>) {
        let chat_id = self.chat_id;
        self.deps.metrics.room_restarts.inc();
        for queued in self.sends.drain(..) {
            let _ = queued.reply.send(Err(AppError::Unavailable(
                "the chat's room restarted".into(),
            )));
        }
        // Each bound session, with how far this room sent it.
        let cursors: Vec<(SessionId, Seq)> = self
            .sequencer
            .cursors()
            .map(|(session_id, _, sent_up_to)| (session_id, sent_up_to))
            .collect();
        let carried: Vec<(Subscriber, Seq)> = cursors
            .into_iter()
            .filter_map(|(session_id, seq)| Some((self.sessions.remove(session_id)?, seq)))
            .collect();
        tracing::error!(
            chat.id = %chat_id,
            sessions = carried.len(),
            "room failed; a fresh one takes over"
        );
        let kicks: Vec<Subscriber> = carried.iter().map(|(s, _)| s.clone()).collect();
        let replacement = ChatRoom::with_start(
            chat_id,
            self.deps.clone(),
            Start::Load {
                carried,
                seed: None,
            },
        );
        let thread = Arbiter::current();
        let replaced = self.deps.slots.replace(chat_id, &ctx.address(), || {
            ChatRoom::start_in_arbiter(&thread, move |_| replacement)
        });
        if !replaced {
            // Another room already serves the chat and has bound these sessions live; only a
            // resume from the client can fill what they missed without reordering.
            kick_all(kicks);
        }
    }
}

/// Closes sessions with 1012 (service restart) so that their clients reconnect and resume.
pub(super) fn kick_all(sessions: impl IntoIterator<Item = Subscriber>) {
    for subscriber in sessions {
        subscriber.kick.do_send(Kick {
            code: CloseCode::ServiceRestart,
            reason: "chat restarted; resume",
        });
    }
}
