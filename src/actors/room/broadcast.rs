//! When the room broadcasts: committed events go out at once, or — under a stream of sends —
//! at most once per fan-out interval; a gap in the seqs is waited for, then read from the
//! event log.

use std::time::{Duration, Instant};

use actix::prelude::*;
use parley_types::Seq;

use super::{ChatRoom, LOG_BATCH};
use crate::actors::db_executor::ask;
use crate::actors::db_ops::LoadEvents;
use crate::actors::messages::ReadyEvent;
use crate::domain::ChatEvent;

impl ChatRoom {
    /// Takes events this node committed: queues them for broadcast and publishes them to the
    /// other nodes (one message for the lot).
    pub(super) fn accept_committed(&mut self, events: Vec<ChatEvent>) {
        let ready: Vec<ReadyEvent> = events.iter().filter_map(ReadyEvent::from_event).collect();
        if let Some(bus) = &self.deps.bus {
            bus.publish_events(self.chat_id, &ready);
        }
        for event in ready {
            self.sequencer.accept(event);
        }
    }

    /// Broadcasts every event that is next in line, then watches for a gap.
    pub(super) fn flush(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.paced_flush.take() {
            ctx.cancel_future(handle);
        }
        let before = self.sequencer.delivered();
        if self.sequencer.flush(&mut self.sessions) {
            // `flush` only moves `delivered` forward.
            let sent = u64::try_from(self.sequencer.delivered() - before).unwrap_or(0);
            self.deps.metrics.events_broadcast.inc_by(sent);
            self.last_broadcast = Some(Instant::now());
        }
        if !self.sequencer.behind() {
            if let Some(handle) = self.gap_fill.take() {
                ctx.cancel_future(handle);
            }
        } else if self.gap_fill.is_none() {
            self.gap_fill = Some(ctx.run_later(self.deps.settings.gap_timeout, |room, ctx| {
                room.gap_fill = None;
                room.fill_gap(ctx);
            }));
        }
    }

    /// Flushes now if the room's last broadcast went out at least the fan-out interval ago,
    /// and otherwise when it has: events committed meanwhile join the same broadcast. Under a
    /// stream of sends this bounds the outbox messages, and socket writes, per session to one
    /// per interval, however many events a second the chat has; a lone event waits for nothing.
    pub(super) fn flush_paced(&mut self, ctx: &mut Context<Self>) {
        if self.paced_flush.is_some() {
            return;
        }
        let interval = self.deps.settings.fanout_interval;
        let wait = self
            .last_broadcast
            .map_or(Duration::ZERO, |at| interval.saturating_sub(at.elapsed()));
        if wait.is_zero() {
            self.flush(ctx);
        } else {
            self.paced_flush = Some(ctx.run_later(wait, |room, ctx| {
                room.paced_flush = None;
                room.flush(ctx);
            }));
        }
    }

    /// Reads the seqs that did not arrive from the event log. An event with a later seq was
    /// committed, and seqs are handed out under the chat's row lock, so the missing ones are
    /// committed too.
    pub(super) fn fill_gap(&mut self, ctx: &mut Context<Self>) {
        let load = LoadEvents {
            chat_id: self.chat_id,
            after_seq: self.sequencer.delivered(),
            limit: LOG_BATCH,
        };
        let db = self.deps.db.clone();
        self.in_flight += 1;
        ctx.wait(
            async move { ask(&db, load).await }
                .into_actor(self)
                .map(|result, room, ctx| {
                    room.in_flight -= 1;
                    match result {
                        Ok(events) => {
                            tracing::debug!(
                                chat.id = %room.chat_id,
                                count = events.len(),
                                "gap filled from the event log"
                            );
                            let whole_log = events.len() < LOG_BATCH as usize;
                            let ready = events.iter().filter_map(ReadyEvent::from_event).collect();
                            if let Some((from, to)) = room.sequencer.log_read(ready, whole_log) {
                                warn_skipped(room, from, to);
                            }
                            if !whole_log {
                                // More to read: go on at once rather than after the timeout.
                                room.flush(ctx);
                                if room.sequencer.behind() && room.gap_fill.is_none() {
                                    room.fill_gap(ctx);
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!(chat.id = %room.chat_id, error = %e.chain(), "gap fill failed")
                        }
                    }
                    room.flush(ctx);
                }),
        );
    }
}

fn warn_skipped(room: &ChatRoom, from: Seq, to: Seq) {
    tracing::warn!(
        chat.id = %room.chat_id,
        %from,
        %to,
        "seqs missing from the event log are skipped"
    );
}
