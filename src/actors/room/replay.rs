//! Feeding a session that resumes (or that a failed room carried over) from the event log,
//! one batch at a time, until it reaches the live stream; the sequencer decides what of each
//! batch it is sent and when it is live.

use actix::prelude::*;
use parley_types::CloseCode;

use super::sequencer::{ReplayRead, ReplayStep};
use super::{ChatRoom, LOG_BATCH};
use crate::actors::db_executor::ask;
use crate::actors::db_ops::LoadEvents;
use crate::actors::messages::{Kick, ReadyEvent, SessionId};

impl ChatRoom {
    /// Reads the next batch of a replay from the log, and feeds it to the session.
    pub(super) fn load_replay_batch(
        &mut self,
        read: ReplayRead<SessionId>,
        ctx: &mut Context<Self>,
    ) {
        let load = LoadEvents {
            chat_id: self.chat_id,
            after_seq: read.after,
            limit: LOG_BATCH,
        };
        let db = self.deps.db.clone();
        self.in_flight += 1;
        ctx.spawn(
            async move { ask(&db, load).await }
                .into_actor(self)
                .map(move |result, room, ctx| {
                    room.in_flight -= 1;
                    match result {
                        Ok(events) => {
                            let full_batch = events.len() as i64 >= LOG_BATCH;
                            let ready = events.iter().filter_map(ReadyEvent::from_event).collect();
                            let step = room.sequencer.replay_read(
                                read,
                                ready,
                                full_batch,
                                &mut room.sessions,
                            );
                            if let ReplayStep::More(next) = step {
                                room.load_replay_batch(next, ctx);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(chat.id = %room.chat_id, error = %e.chain(), "replay failed; closing the session");
                            if let Some(subscriber) = room.forget(read.session) {
                                subscriber.kick.do_send(Kick {
                                    code: CloseCode::InternalError,
                                    reason: "replay failed",
                                });
                            }
                        }
                    }
                }),
        );
    }
}
