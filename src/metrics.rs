//! Process metrics (every name prefixed `parley_`), kept in a Prometheus registry of their own
//! (not the global one) so that every server, including the many a test run starts, counts
//! separately.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

pub struct Metrics {
    pub registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub ws_sessions: IntGauge,
    pub chat_rooms: IntGauge,
    pub room_restarts: IntCounter,
    /// 1 while the NATS link is connected (stays 0 on a node without one).
    pub nats_connected: IntGauge,
    pub nats_reconnects: IntCounter,
    pub nats_published: IntCounter,
    /// Messages not published because the link's queue was full (the event log fills in).
    pub nats_publish_dropped: IntCounter,
    pub nats_received: IntCounter,
    /// Rooms the periodic sweep found behind the database, which then read the event log.
    pub sweep_fills: IntCounter,
    pub events_broadcast: IntCounter,
    pub ws_frames_sent: IntCounter,
    pub ws_slow_consumer_closes: IntCounter,
    /// WebSocket upgrades refused before the upgrade, by `reason`: `user` or `address` (a
    /// session cap), `origin` (not an allowed origin).
    pub ws_refused: IntCounterVec,
    pub messages_created: IntCounter,
    pub idempotent_replays: IntCounter,
    pub rate_limited: IntCounter,
    pub db_pool_connections: IntGaugeVec,
    pub db_query_duration: Histogram,
    pub db_mailbox_backlog: IntGauge,
    /// Where a send batch's time goes: `queued` (waiting for a round), `pool_wait`,
    /// `transaction` (every statement and the commit), `broadcast` (frames handed to sessions).
    pub send_phase: HistogramVec,
    /// Sends per stored round.
    pub send_round_size: Histogram,
    /// Calls to the file store by `operation` (put, get, delete, list) and `outcome`.
    pub storage_operations: IntCounterVec,
    pub storage_duration: HistogramVec,
    /// Bytes of the attachments the database knows (set by each sweep).
    pub attachment_bytes: IntGauge,
    /// Attachments whose bytes the sweeper removed, by `reason`: `removed` (their message was
    /// deleted, or no message took them within a day), `orphan` (an object no row knows).
    pub attachments_swept: IntCounterVec,
    /// Thumbnails by `outcome`: `made`, `refused` (too large or undecodable).
    pub thumbnails: IntCounterVec,
    /// Push notifications taken from the outbox for delivery (claims, retries included).
    pub push_queued: IntCounter,
    /// Push notifications a push service accepted.
    pub push_sent: IntCounter,
    /// Attempts that will be retried, by `reason`: `throttled` (429), `unavailable` (5xx),
    /// `unreachable` (no answer within 10 s, or no connection), `lease_ended` (waited too long
    /// for its push service's turn: claimed again later).
    pub push_failed: IntCounterVec,
    /// Notifications not sent, by `reason`: `gone` (404/410: the subscription is deleted),
    /// `rejected` (another 4xx), `expired` (failing for a day), `not_owed` (the recipient came
    /// online, left, or muted the chat or set it to `none` before it went out).
    pub push_dropped: IntCounterVec,
    /// From the commit of the message to the push service's acceptance.
    pub push_delivery: Histogram,
    /// Deliveries started and not finished (all push services).
    pub push_in_flight: IntGauge,
    /// Outgoing webhook attempts by `outcome`: `delivered` (2xx), `failed` (another status),
    /// `unreachable` (no answer within 10 s, no connection, or a refused address).
    pub webhook_attempts: IntCounterVec,
    /// Outgoing webhooks disabled after a day of failure.
    pub webhook_disabled: IntCounter,
    /// From an event's commit to its receiver's 2xx.
    pub webhook_delivery: Histogram,
    /// Subscriptions being delivered to (claimed and not finished).
    pub webhook_in_flight: IntGauge,
    /// Posts through incoming webhooks, by `outcome`: `posted`, `refused`.
    pub hook_posts: IntCounterVec,
}

/// Buckets for the phases of a send batch, from 50 µs to 1 s.
const PHASE_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Latency buckets from 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        // The contract puts every name under the `parley_` prefix.
        let registry = Registry::new_custom(Some("parley".to_owned()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let ws_sessions = IntGauge::new("ws_sessions", "Open WebSocket sessions")?;
        let chat_rooms = IntGauge::new("chat_rooms", "Running ChatRoom actors")?;
        let nats_connected = IntGauge::new("nats_connected", "1 while connected to NATS")?;
        let nats_reconnects = IntCounter::new(
            "nats_reconnects_total",
            "Times the NATS link connected again after losing the server",
        )?;
        let nats_published =
            IntCounter::new("nats_published_total", "Messages published to other nodes")?;
        let nats_publish_dropped = IntCounter::new(
            "nats_publish_dropped_total",
            "Messages dropped because the NATS link's queue was full",
        )?;
        let nats_received =
            IntCounter::new("nats_received_total", "Messages received from other nodes")?;
        let sweep_fills = IntCounter::new(
            "sweep_fills_total",
            "Rooms the periodic sweep found behind the database (they read the event log)",
        )?;
        let room_restarts = IntCounter::new(
            "room_restarts_total",
            "Rooms restarted after they failed (each is a bug worth a report)",
        )?;
        let events_broadcast =
            IntCounter::new("events_broadcast_total", "Chat events broadcast by rooms")?;
        let ws_frames_sent = IntCounter::new(
            "ws_frames_sent_total",
            "Frames written to WebSocket sessions",
        )?;
        let ws_refused = IntCounterVec::new(
            Opts::new(
                "ws_refused_total",
                "WebSocket upgrades refused: a session cap (user, address) or the origin",
            ),
            &["reason"],
        )?;
        let ws_slow_consumer_closes = IntCounter::new(
            "ws_slow_consumer_closes_total",
            "Sessions closed because their outbox overflowed",
        )?;
        let messages_created = IntCounter::new("messages_created_total", "Messages stored")?;
        let idempotent_replays = IntCounter::new(
            "idempotent_replays_total",
            "Requests answered from an idempotency record",
        )?;
        let rate_limited = IntCounter::new("rate_limited_total", "Requests refused with 429")?;
        let db_pool_connections = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool connections by pool (general, sends) and state",
            ),
            &["pool", "state"],
        )?;
        let db_query_duration = Histogram::with_opts(
            HistogramOpts::new("db_query_duration_seconds", "Database statement latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        let db_mailbox_backlog = IntGauge::new(
            "db_executor_requests_in_flight",
            "Operations the DbExecutor has accepted and not yet answered",
        )?;
        let send_phase = HistogramVec::new(
            HistogramOpts::new(
                "send_batch_phase_seconds",
                "Time a batch of sends spends in each phase",
            )
            .buckets(PHASE_BUCKETS.to_vec()),
            &["phase"],
        )?;
        let send_round_size = Histogram::with_opts(
            HistogramOpts::new("send_round_size", "Sends stored per transaction").buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1000.0,
            ]),
        )?;
        let storage_operations = IntCounterVec::new(
            Opts::new("storage_operations_total", "Calls to the file store"),
            &["operation", "outcome"],
        )?;
        let storage_duration = HistogramVec::new(
            HistogramOpts::new(
                "storage_operation_duration_seconds",
                "File store call latency",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )?;
        let attachment_bytes = IntGauge::new(
            "attachment_bytes_stored",
            "Bytes of the attachments the database knows",
        )?;
        let attachments_swept = IntCounterVec::new(
            Opts::new(
                "attachments_swept_total",
                "Attachments (or orphan objects) whose bytes the sweeper removed",
            ),
            &["reason"],
        )?;
        let thumbnails = IntCounterVec::new(
            Opts::new("thumbnails_total", "Thumbnails made or refused"),
            &["outcome"],
        )?;
        let push_queued = IntCounter::new(
            "push_queued_total",
            "Push notifications taken from the outbox for delivery",
        )?;
        let push_sent = IntCounter::new(
            "push_sent_total",
            "Push notifications a push service accepted",
        )?;
        let push_failed = IntCounterVec::new(
            Opts::new(
                "push_failed_total",
                "Push delivery attempts that will be retried",
            ),
            &["reason"],
        )?;
        let push_dropped = IntCounterVec::new(
            Opts::new("push_dropped_total", "Push notifications not sent"),
            &["reason"],
        )?;
        let push_delivery = Histogram::with_opts(
            HistogramOpts::new(
                "push_delivery_seconds",
                "From a message's commit to a push service's acceptance of its notification",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        let push_in_flight =
            IntGauge::new("push_in_flight", "Push deliveries started and not finished")?;
        let webhook_attempts = IntCounterVec::new(
            Opts::new(
                "webhook_attempts_total",
                "Outgoing webhook delivery attempts",
            ),
            &["outcome"],
        )?;
        let webhook_disabled = IntCounter::new(
            "webhook_disabled_total",
            "Outgoing webhooks disabled after a day of failure",
        )?;
        let webhook_delivery = Histogram::with_opts(
            HistogramOpts::new(
                "webhook_delivery_seconds",
                "From an event's commit to its receiver's 2xx",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        let webhook_in_flight =
            IntGauge::new("webhook_in_flight", "Outgoing webhooks being delivered to")?;
        let hook_posts = IntCounterVec::new(
            Opts::new("hook_posts_total", "Posts through incoming webhooks"),
            &["outcome"],
        )?;
        registry.register(Box::new(webhook_attempts.clone()))?;
        registry.register(Box::new(webhook_disabled.clone()))?;
        registry.register(Box::new(webhook_delivery.clone()))?;
        registry.register(Box::new(webhook_in_flight.clone()))?;
        registry.register(Box::new(hook_posts.clone()))?;
        registry.register(Box::new(push_queued.clone()))?;
        registry.register(Box::new(push_sent.clone()))?;
        registry.register(Box::new(push_delivery.clone()))?;
        registry.register(Box::new(push_in_flight.clone()))?;
        for metric in [
            &storage_operations,
            &attachments_swept,
            &thumbnails,
            &push_failed,
            &push_dropped,
        ] {
            registry.register(Box::new(metric.clone()))?;
        }
        registry.register(Box::new(storage_duration.clone()))?;
        registry.register(Box::new(attachment_bytes.clone()))?;
        registry.register(Box::new(send_phase.clone()))?;
        registry.register(Box::new(send_round_size.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(ws_sessions.clone()))?;
        registry.register(Box::new(chat_rooms.clone()))?;
        registry.register(Box::new(room_restarts.clone()))?;
        registry.register(Box::new(nats_connected.clone()))?;
        registry.register(Box::new(nats_reconnects.clone()))?;
        registry.register(Box::new(nats_published.clone()))?;
        registry.register(Box::new(nats_publish_dropped.clone()))?;
        registry.register(Box::new(nats_received.clone()))?;
        registry.register(Box::new(sweep_fills.clone()))?;
        registry.register(Box::new(events_broadcast.clone()))?;
        registry.register(Box::new(ws_frames_sent.clone()))?;
        registry.register(Box::new(ws_slow_consumer_closes.clone()))?;
        registry.register(Box::new(ws_refused.clone()))?;
        registry.register(Box::new(messages_created.clone()))?;
        registry.register(Box::new(idempotent_replays.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(db_pool_connections.clone()))?;
        registry.register(Box::new(db_query_duration.clone()))?;
        registry.register(Box::new(db_mailbox_backlog.clone()))?;
        Ok(Metrics {
            registry,
            http_requests,
            http_duration,
            ws_sessions,
            chat_rooms,
            room_restarts,
            nats_connected,
            nats_reconnects,
            nats_published,
            nats_publish_dropped,
            nats_received,
            sweep_fills,
            events_broadcast,
            ws_frames_sent,
            ws_slow_consumer_closes,
            ws_refused,
            messages_created,
            idempotent_replays,
            rate_limited,
            db_pool_connections,
            db_query_duration,
            db_mailbox_backlog,
            send_phase,
            send_round_size,
            storage_operations,
            storage_duration,
            attachment_bytes,
            attachments_swept,
            thumbnails,
            push_queued,
            push_sent,
            push_failed,
            push_dropped,
            push_delivery,
            push_in_flight,
            webhook_attempts,
            webhook_disabled,
            webhook_delivery,
            webhook_in_flight,
            hook_posts,
        })
    }
}
