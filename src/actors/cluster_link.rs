//! The node's NATS link, on a thread of its own: it publishes what the rooms queue on the bus,
//! hands what other nodes publish to this node's rooms and sessions, and sweeps.
//!
//! The sweep is what makes the broker optional for correctness. Every few seconds, when the
//! link reconnects, and when the server says this node is a slow consumer, it reads the
//! `last_seq` of every chat whose room runs here (one query) and tells each room that is behind
//! to read the event log; and it closes the sessions whose tokens were revoked (one query). A
//! node that died between its commit and its publish, or a NATS outage, costs latency, never
//! an event.

use parley_types::{ChatId, Seq};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, Notify};

use super::chat_registry::ChatRegistry;
use super::cluster_bus::{self, ClusterBus, Incoming, Outgoing};
use super::db_executor::{ask, DbExecutor};
use super::db_ops::{LastSeqsOf, RevokedAmong};
use super::messages::{EphemeralRemote, Kick, Sweep};
use super::presence::{Presence, RemotePresence};
use super::session_directory::SessionDirectory;
use crate::metrics::Metrics;

/// What the link works with.
#[derive(Clone)]
pub struct LinkDeps {
    pub bus: ClusterBus,
    pub registry: ChatRegistry,
    pub directory: SessionDirectory,
    pub db: Addr<DbExecutor>,
    pub metrics: Arc<Metrics>,
    pub sweep_every: Duration,
    pub presence: Addr<Presence>,
}

/// Starts the link on its own thread. The answer comes once the subscriptions are registered
/// (they reach the server as soon as it is reachable), so the node serves nothing it could
/// miss events for. An unusable URL is an error; an unreachable server is not (the node
/// serves its own sessions and catches up through the sweep).
pub fn start(
    url: String,
    deps: LinkDeps,
    outgoing: mpsc::Receiver<Outgoing>,
) -> (Arbiter, oneshot::Receiver<Result<(), String>>) {
    let thread = Arbiter::new();
    let (ready, subscribed) = oneshot::channel();
    thread.spawn(async move {
        let sweep_now = Arc::new(Notify::new());
        let client = match connect(&url, &deps, sweep_now.clone()).await {
            Ok(client) => client,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let subscriptions = futures_util::future::try_join4(
            client.subscribe(format!("{}.*", cluster_bus::EVENTS)),
            client.subscribe(format!("{}.*", cluster_bus::EPHEMERAL)),
            client.subscribe(cluster_bus::REVOKED),
            client.subscribe(cluster_bus::PRESENCE),
        )
        .await;
        let (events, ephemeral, revoked, presence) = match subscriptions {
            Ok(subscribed) => subscribed,
            Err(e) => {
                let _ = ready.send(Err(format!("cannot subscribe on NATS: {e}")));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        actix::spawn(publish(client, outgoing, deps.metrics.clone()));
        actix::spawn(sweep(deps.clone(), sweep_now));
        let mut incoming = futures_util::stream::select_all([events, ephemeral, revoked, presence]);
        while let Some(message) = incoming.next().await {
            deps.metrics.nats_received.inc();
            match deps.bus.parse(&message.subject, &message.payload) {
                Some(parsed) => dispatch(&deps, parsed),
                None => tracing::debug!(subject = %message.subject, "bus message ignored"),
            }
        }
    });
    (thread, subscribed)
}

async fn connect(
    url: &str,
    deps: &LinkDeps,
    sweep_now: Arc<Notify>,
) -> Result<async_nats::Client, String> {
    let metrics = deps.metrics.clone();
    let node = deps.bus.node_id().to_owned();
    let connected_before = Arc::new(AtomicBool::new(false));
    async_nats::ConnectOptions::new()
        .name(format!("parley {node}"))
        .no_echo()
        .retry_on_initial_connect()
        .event_callback(move |event| {
            let metrics = metrics.clone();
            let sweep_now = sweep_now.clone();
            let reconnect = matches!(event, async_nats::Event::Connected)
                && connected_before.swap(true, Ordering::Relaxed);
            async move {
                match event {
                    async_nats::Event::Connected => {
                        metrics.nats_connected.set(1);
                        if reconnect {
                            metrics.nats_reconnects.inc();
                        }
                        tracing::info!("NATS connected");
                        sweep_now.notify_one();
                    }
                    async_nats::Event::Disconnected => {
                        metrics.nats_connected.set(0);
                        tracing::warn!("NATS disconnected; the event log covers what is missed");
                    }
                    async_nats::Event::SlowConsumer(_) => {
                        tracing::warn!("NATS says this node is a slow consumer; sweeping");
                        sweep_now.notify_one();
                    }
                    other => tracing::info!(event = %other, "NATS event"),
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| format!("PARLEY_NATS_URL {url:?} is not usable: {e}"))
}

/// Publishes what the rooms queue, in order. While the server is away the client buffers,
/// then this waits, then the rooms' queue fills and drops (see `cluster_bus`).
async fn publish(
    client: async_nats::Client,
    mut outgoing: mpsc::Receiver<Outgoing>,
    metrics: Arc<Metrics>,
) {
    while let Some(message) = outgoing.recv().await {
        match client.publish(message.subject, message.payload).await {
            Ok(()) => metrics.nats_published.inc(),
            Err(e) => {
                metrics.nats_publish_dropped.inc();
                tracing::debug!(error = %e, "publish failed");
            }
        }
    }
}

fn dispatch(deps: &LinkDeps, incoming: Incoming) {
    match incoming {
        Incoming::Events { chat_id, events } => {
            deps.registry
                .deliver_remote(&deps.directory, chat_id, events);
        }
        Incoming::Ephemeral {
            chat_id,
            from_user,
            to_sender,
            frame,
        } => {
            deps.registry.tell_if_running(
                chat_id,
                EphemeralRemote {
                    frame,
                    from_user,
                    to_sender,
                },
            );
        }
        Incoming::Revoked { user_id, token_id } => {
            deps.directory.kick_token(user_id, token_id, revoked());
        }
        Incoming::Presence { node, users, here } => {
            deps.presence.do_send(RemotePresence { node, users, here });
        }
    }
}

fn revoked() -> Kick {
    Kick {
        code: parley_types::CloseCode::PolicyViolation,
        reason: "token revoked",
    }
}

async fn sweep(deps: LinkDeps, sweep_now: Arc<Notify>) {
    // What each room was last told, so that a quiet chat costs its room nothing.
    let mut told: HashMap<ChatId, Seq> = HashMap::new();
    let mut every = tokio::time::interval(deps.sweep_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = sweep_now.notified() => {
                // Reconnected or slow: whatever each room was told before may be stale.
                told.clear();
            }
        }
        sweep_rooms(&deps, &mut told).await;
        sweep_tokens(&deps).await;
    }
}

async fn sweep_rooms(deps: &LinkDeps, told: &mut HashMap<ChatId, Seq>) {
    let chat_ids = deps.registry.running_chats();
    let running: HashSet<ChatId> = chat_ids.iter().copied().collect();
    told.retain(|chat_id, _| running.contains(chat_id));
    if chat_ids.is_empty() {
        return;
    }
    match ask(&deps.db, LastSeqsOf { chat_ids }).await {
        Ok(seqs) => {
            for (chat_id, last_seq) in seqs {
                if told.insert(chat_id, last_seq) != Some(last_seq) {
                    deps.registry.tell_if_running(chat_id, Sweep { last_seq });
                }
            }
        }
        Err(e) => tracing::warn!(error = %e.chain(), "sweep could not read the chats' seqs"),
    }
}

async fn sweep_tokens(deps: &LinkDeps) {
    let token_ids = deps.directory.token_ids();
    if token_ids.is_empty() {
        return;
    }
    match ask(&deps.db, RevokedAmong { token_ids }).await {
        Ok(revoked_ids) if !revoked_ids.is_empty() => {
            deps.directory.kick_tokens(&revoked_ids, revoked());
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e.chain(), "sweep could not read revoked tokens"),
    }
}
