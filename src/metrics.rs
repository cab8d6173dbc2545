//! Process metrics, kept in a Prometheus registry of their own (not the global one) so that
//! every server, including the many a test run starts, counts separately.

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
    pub events_broadcast: IntCounter,
    pub ws_frames_sent: IntCounter,
    pub ws_slow_consumer_closes: IntCounter,
    pub messages_created: IntCounter,
    pub idempotent_replays: IntCounter,
    pub rate_limited: IntCounter,
    pub db_pool_connections: IntGaugeVec,
    pub db_query_duration: Histogram,
    pub db_mailbox_backlog: IntGauge,
}

/// Latency buckets from 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
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
        let events_broadcast =
            IntCounter::new("events_broadcast_total", "Chat events broadcast by rooms")?;
        let ws_frames_sent = IntCounter::new(
            "ws_frames_sent_total",
            "Frames written to WebSocket sessions",
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
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let db_query_duration = Histogram::with_opts(
            HistogramOpts::new("db_query_duration_seconds", "Database statement latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        let db_mailbox_backlog = IntGauge::new(
            "db_executor_requests_in_flight",
            "Operations the DbExecutor has accepted and not yet answered",
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(ws_sessions.clone()))?;
        registry.register(Box::new(chat_rooms.clone()))?;
        registry.register(Box::new(events_broadcast.clone()))?;
        registry.register(Box::new(ws_frames_sent.clone()))?;
        registry.register(Box::new(ws_slow_consumer_closes.clone()))?;
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
            events_broadcast,
            ws_frames_sent,
            ws_slow_consumer_closes,
            messages_created,
            idempotent_replays,
            rate_limited,
            db_pool_connections,
            db_query_duration,
            db_mailbox_backlog,
        })
    }
}
