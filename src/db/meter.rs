use std::time::Instant;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use prometheus::Histogram;

/// Installed on every pooled connection: times each statement into the
/// `db_query_duration_seconds` histogram, whose sample count is also the number of queries
/// run (tests hold the "fixed number of queries per page" promise with it).
pub struct QueryMeter {
    latency: Histogram,
    started: Option<Instant>,
}

impl QueryMeter {
    pub fn new(latency: Histogram) -> Self {
        QueryMeter {
            latency,
            started: None,
        }
    }
}

impl Instrumentation for QueryMeter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => self.started = Some(Instant::now()),
            InstrumentationEvent::FinishQuery { .. } => {
                let seconds = self
                    .started
                    .take()
                    .map_or(0.0, |s| s.elapsed().as_secs_f64());
                self.latency.observe(seconds);
            }
            _ => {}
        }
    }
}
