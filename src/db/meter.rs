use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// Process-wide query counters. Tests read `queries` to hold the "fixed number of queries per
/// page" promise; the metrics endpoint reads the totals.
#[derive(Default, Debug)]
pub struct QueryStats {
    queries: AtomicU64,
    failed: AtomicU64,
    total_micros: AtomicU64,
}

impl QueryStats {
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    pub fn total_seconds(&self) -> f64 {
        self.total_micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// Installed on every pooled connection: times each statement.
pub struct QueryMeter {
    stats: Arc<QueryStats>,
    started: Option<Instant>,
}

impl QueryMeter {
    pub fn new(stats: Arc<QueryStats>) -> Self {
        QueryMeter {
            stats,
            started: None,
        }
    }
}

impl Instrumentation for QueryMeter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => self.started = Some(Instant::now()),
            InstrumentationEvent::FinishQuery { error, .. } => {
                self.stats.queries.fetch_add(1, Ordering::Relaxed);
                if error.is_some() {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(start) = self.started.take() {
                    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                    self.stats.total_micros.fetch_add(micros, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}
