//! Latency statistics and the final report.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

#[derive(Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn extend_from(&mut self, other: &Latencies) {
        self.0.extend_from_slice(&other.0);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn summary(mut self) -> LatencySummary {
        self.0.sort_unstable();
        let at = |q: f64| -> f64 {
            if self.0.is_empty() {
                return 0.0;
            }
            let i = ((self.0.len() as f64 - 1.0) * q).round() as usize;
            // `q` is at most 1, so `i` is at most the last index.
            self.0.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        LatencySummary {
            samples: self.0.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// What one lane of requests saw: the latency of each success, and every answer's status.
#[derive(Default)]
pub struct Tally {
    pub latencies: Latencies,
    pub statuses: BTreeMap<u16, u64>,
}

impl Tally {
    /// Counts an answer (status 0: none came); `ok` answers also record their latency.
    pub fn record(&mut self, status: u16, ok: bool, elapsed: Duration) {
        *self.statuses.entry(status).or_default() += 1;
        if ok {
            self.latencies.record(elapsed);
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct LatencySummary {
    pub samples: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Serialize, Debug)]
pub struct Report {
    pub scenario: String,
    pub parameters: BTreeMap<String, String>,
    pub figures: BTreeMap<String, f64>,
    pub latency: Option<LatencySummary>,
    /// Answers by HTTP status (0: no answer).
    pub statuses: BTreeMap<u16, u64>,
    pub problems: Vec<String>,
    pub failed: bool,
    /// Throughput and latency per stretch of the run, when asked for (`--interval`).
    pub intervals: Vec<IntervalFigure>,
}

/// The successes that completed within one stretch of a run.
#[derive(Serialize, Debug)]
pub struct IntervalFigure {
    pub from_s: u64,
    pub to_s: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl IntervalFigure {
    /// One figure per `every` of the run from the completion times (offsets from the start)
    /// and latencies of its successes; a last, shorter stretch is left out.
    pub fn series(samples: &[(Duration, Duration)], every: Duration, run: Duration) -> Vec<Self> {
        let every_s = every.as_secs().max(1);
        let stretches = run.as_secs() / every_s;
        let mut by_stretch: Vec<Latencies> = (0..stretches).map(|_| Latencies::default()).collect();
        for (at, latency) in samples {
            let i = (at.as_secs() / every_s) as usize;
            if let Some(bucket) = by_stretch.get_mut(i) {
                bucket.record(*latency);
            }
        }
        by_stretch
            .into_iter()
            .enumerate()
            .map(|(i, latencies)| {
                let count = latencies.len();
                let summary = latencies.summary();
                IntervalFigure {
                    from_s: i as u64 * every_s,
                    to_s: (i as u64 + 1) * every_s,
                    per_second: count as f64 / every_s as f64,
                    p50_ms: summary.p50_ms,
                    p99_ms: summary.p99_ms,
                }
            })
            .collect()
    }
}

impl Report {
    pub fn new(scenario: &str) -> Report {
        Report {
            scenario: scenario.to_owned(),
            parameters: BTreeMap::new(),
            figures: BTreeMap::new(),
            latency: None,
            statuses: BTreeMap::new(),
            problems: Vec::new(),
            failed: false,
            intervals: Vec::new(),
        }
    }

    pub fn param(&mut self, name: &str, value: impl ToString) {
        self.parameters.insert(name.to_owned(), value.to_string());
    }

    /// The load tool's CPU and, if known, the server's, each as a percentage of one core.
    pub fn cpu(&mut self, (tool, server): (f64, Option<f64>)) {
        self.figure("load tool CPU (% of a core)", tool);
        if let Some(server) = server {
            self.figure("server CPU (% of a core)", server);
        }
    }

    pub fn figure(&mut self, name: &str, value: f64) {
        self.figures.insert(name.to_owned(), value);
    }

    /// Takes the lanes' statuses and latency summary; returns how many succeeded.
    pub fn absorb(&mut self, tally: Tally) -> usize {
        let succeeded = tally.latencies.len();
        for (status, n) in tally.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.latency = Some(tally.latencies.summary());
        succeeded
    }

    pub fn problem(&mut self, text: String) {
        self.failed = true;
        self.problems.push(text);
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn to_table(&self) -> String {
        let mut out = format!("scenario  {}\n", self.scenario);
        for (k, v) in &self.parameters {
            out += &format!("  {k:<24} {v}\n");
        }
        out += "results\n";
        for (k, v) in &self.figures {
            out += &format!("  {k:<24} {v:.1}\n");
        }
        if let Some(l) = &self.latency {
            out += &format!(
                "latency (ms, {} samples)\n  p50 {:>9.2}   p90 {:>9.2}   p99 {:>9.2}   max {:>9.2}\n",
                l.samples, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            );
        }
        if !self.statuses.is_empty() {
            out += "answers by status\n";
            for (status, n) in &self.statuses {
                let label = if *status == 0 {
                    "no answer".to_owned()
                } else {
                    status.to_string()
                };
                out += &format!("  {label:<24} {n}\n");
            }
        }
        if !self.intervals.is_empty() {
            out += "by interval (s: per second, p50 ms, p99 ms)\n";
            for i in &self.intervals {
                out += &format!(
                    "  {:>5}-{:<5} {:>9.1} {:>9.2} {:>9.2}\n",
                    i.from_s, i.to_s, i.per_second, i.p50_ms, i.p99_ms
                );
            }
        }
        for p in &self.problems {
            out += &format!("PROBLEM: {p}\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_count_completions_per_stretch_and_leave_out_a_short_last_one() {
        let ms = Duration::from_millis;
        let samples = [
            (ms(100), ms(5)),
            (ms(900), ms(7)),
            (ms(1_500), ms(9)),
            (ms(2_100), ms(1)), // in the stretch cut short by the run's end
        ];
        let series = IntervalFigure::series(&samples, Duration::from_secs(1), ms(2_500));
        assert_eq!(series.len(), 2);
        assert_eq!(
            (series[0].from_s, series[0].to_s, series[0].per_second),
            (0, 1, 2.0)
        );
        assert_eq!(series[0].p99_ms, 7.0);
        assert_eq!(
            (series[1].from_s, series[1].per_second, series[1].p50_ms),
            (1, 1.0, 9.0)
        );
    }
}
