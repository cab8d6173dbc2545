//! Sends are stored in batches: the sends that arrive while a batch is being stored wait for
//! the next one, so under load one transaction carries many messages, and this room's seqs are
//! taken in the order its sends came.

use std::time::Instant;

use actix::prelude::*;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::ChatRoom;
use crate::actors::db_executor::{SendOutcomes, StoreSends};
use crate::actors::messages::Reply;
use crate::actors::push_delivery::PushQueued;
use crate::db::queries::Idempotent;
use crate::domain::commands::OfflineMembers;
use crate::domain::Message as ChatMessage;
use crate::error::{AppError, AppResult};

impl ChatRoom {
    /// Stores the waiting sends (up to a batch) through the executor. The next batch starts
    /// when this one is answered.
    pub(super) fn store_sends(&mut self, ctx: &mut Context<Self>) {
        let take = self.sends.len().min(self.deps.send_batch);
        if take == 0 {
            return;
        }
        self.storing = true;
        let span = tracing::info_span!(
            "room",
            op = "store_sends",
            chat.id = %self.chat_id,
            batch.size = take
        );
        // Who has no session open anywhere now: the batch's statement queues the push
        // notifications they are owed, in the same transaction.
        let offline = OfflineMembers(
            self.deps
                .presence
                .offline_among(self.sequencer.members())
                .into(),
        );
        let owes_pushes = !offline.ids().is_empty();
        // A direct chat's two members never change.
        let direct_members: Option<Vec<_>> =
            self.direct.then(|| self.sequencer.members().collect());
        let mut sends = Vec::with_capacity(take);
        let mut replies = Vec::with_capacity(take);
        for queued in self.sends.drain(..take) {
            span.follows_from(&queued.span);
            let mut send = queued.send;
            send.offline_members = offline.clone();
            if let Some(members) = &direct_members {
                send.direct_peer = members
                    .iter()
                    .copied()
                    .find(|&m| m != send.message.author_id);
            }
            sends.push(send);
            replies.push(queued.reply);
        }
        let stored = self.deps.db.send(StoreSends {
            sends,
            span: span.clone(),
        });
        let started = Instant::now();
        ctx.spawn(
            stored
                .instrument(span)
                .into_actor(self)
                .map(move |result, room, ctx| {
                    #[cfg(feature = "fault-injection")]
                    if room.panic_after_commit && matches!(result, Ok(Ok(_))) {
                        super::panic_now(room.chat_id);
                    }
                    room.storing = false;
                    room.deps
                        .metrics
                        .send_phase
                        .with_label_values(&["batch"])
                        .observe(started.elapsed().as_secs_f64());
                    if owes_pushes && matches!(result, Ok(Ok(_))) {
                        if let Some(push) = &room.deps.push {
                            push.do_send(PushQueued);
                        }
                    }
                    room.answer_sends(result.map_err(AppError::from).and_then(|r| r), replies, ctx);
                    if !room.sends.is_empty() {
                        room.store_sends(ctx);
                    }
                }),
        );
    }

    /// Broadcasts a stored batch's events, then answers its sends (events first, so that a
    /// client that reads its answer and then listens has nothing to wait for).
    fn answer_sends(
        &mut self,
        result: AppResult<SendOutcomes>,
        replies: Vec<oneshot::Sender<AppResult<Reply<ChatMessage>>>>,
        ctx: &mut Context<Self>,
    ) {
        let mut answers = Vec::with_capacity(replies.len());
        let mut committed = Vec::new();
        match result {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for reply in replies {
                    let answer = match outcomes.next() {
                        Some(Ok(outcome)) => {
                            if matches!(outcome, Idempotent::Fresh(_)) {
                                self.deps.metrics.messages_created.inc();
                            }
                            let (answer, events) = Reply::settle(outcome, &self.deps.metrics);
                            committed.extend(events);
                            Ok(answer)
                        }
                        Some(Err(e)) => Err(e),
                        None => Err(AppError::internal("a send of the batch got no outcome")),
                    };
                    answers.push((reply, answer));
                }
            }
            Err(error) => {
                for reply in replies {
                    answers.push((reply, Err(error.clone())));
                }
            }
        }
        let broadcasting = Instant::now();
        self.accept_committed(committed);
        self.flush_paced(ctx);
        self.deps
            .metrics
            .send_phase
            .with_label_values(&["broadcast"])
            .observe(broadcasting.elapsed().as_secs_f64());
        for (reply, answer) in answers {
            let _ = reply.send(answer);
        }
    }
}
