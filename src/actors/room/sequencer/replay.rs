//! Feeding a resuming session from the event log, batch by batch, until it reaches the live
//! stream: what each batch read sends it, and when it is live.

use std::hash::Hash;

use parley_types::Seq;

use super::{Outlet, Replay, ReplayRead, ReplayStep, Sequenced, Sequencer};

impl<K: Copy + Eq + Hash, E: Sequenced> Sequencer<K, E> {
    /// Feeds a replaying session the events read from the log (after what the read asked
    /// for), then says what to read next, or that it reached the live stream.
    pub fn replay_read<O: Outlet<K, E>>(
        &mut self,
        read: ReplayRead<K>,
        events: Vec<E>,
        full_batch: bool,
        outlet: &mut O,
    ) -> ReplayStep<K> {
        let Some(cursor) = self.sessions.get_mut(&read.session) else {
            return ReplayStep::Stale;
        };
        let Some(replay) = cursor.replay.filter(|r| r.generation == read.generation) else {
            return ReplayStep::Stale;
        };
        let fresh: Vec<E> = events
            .into_iter()
            .filter(|e| e.seq() > cursor.sent_up_to)
            .collect();
        let last_sent = fresh.last().map_or(cursor.sent_up_to, Sequenced::seq);
        // A read that reached the end of the log holds every event committed before it: a seq
        // up to the live stream's end at that moment that it does not hold was never written.
        let sent_up_to = if full_batch {
            last_sent
        } else {
            last_sent.max(read.live)
        };
        cursor.sent_up_to = sent_up_to;
        let caught_up = !full_batch && sent_up_to >= self.delivered;
        if caught_up {
            // Everything the live stream has sent is now sent to this session too, so it joins
            // the live stream, which goes on from `sent_up_to`.
            cursor.replay = None;
        }
        if !fresh.is_empty() {
            let batch = outlet.batch(&fresh);
            if !outlet.offer(read.session, &batch) {
                self.sessions.remove(&read.session);
                return ReplayStep::Dropped;
            }
        }
        if !caught_up {
            return ReplayStep::More(ReplayRead {
                after: sent_up_to,
                live: self.delivered,
                ..read
            });
        }
        if outlet.resumed(read.session, replay.from, sent_up_to) {
            ReplayStep::Live
        } else {
            self.sessions.remove(&read.session);
            ReplayStep::Dropped
        }
    }

    pub(super) fn start_replay(&mut self, session: K, after: Seq) -> ReplayRead<K> {
        self.replay_generation += 1;
        let generation = self.replay_generation;
        if let Some(cursor) = self.sessions.get_mut(&session) {
            cursor.sent_up_to = after;
            cursor.replay = Some(Replay {
                from: after.next(),
                generation,
            });
        }
        ReplayRead {
            session,
            generation,
            after,
            live: self.delivered,
        }
    }
}
