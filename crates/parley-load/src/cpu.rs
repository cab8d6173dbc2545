//! CPU time of the load tool itself and of the server it drives, so that a report shows which
//! of the two was the limit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// User plus system time this process has used.
pub fn own() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage only writes the struct it is given, which is zeroed and large enough.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return Duration::ZERO;
        }
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// User plus system time process `pid` has used, from `/proc/<pid>/stat`.
pub fn of_process(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are plain.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second).ok().filter(|t| *t > 0)?;
    Some(Duration::from_secs_f64(ticks as f64 / per_second as f64))
}

/// How often the meter reads the two CPU counters.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// The sampler stops by itself after this long, whatever the run does.
const SAMPLE_AT_MOST: Duration = Duration::from_secs(900);

#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    own: Duration,
    server: Option<Duration>,
}

impl Sample {
    fn now(server_pid: Option<u32>) -> Self {
        Sample {
            at: Instant::now(),
            own: own(),
            server: server_pid.and_then(of_process),
        }
    }
}

/// CPU used from `start` to a moment of the caller's choosing, as a percentage of one core.
/// A thread reads the counters every 50 ms, so a run can be measured up to its last delivery
/// rather than up to when its sessions gave up waiting.
pub struct Meter {
    first: Sample,
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    server_pid: Option<u32>,
}

impl Meter {
    pub fn start(server_pid: Option<u32>) -> Self {
        let first = Sample::now(server_pid);
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (into, until) = (samples.clone(), stop.clone());
        std::thread::spawn(move || {
            while !until.load(Ordering::Relaxed) && first.at.elapsed() < SAMPLE_AT_MOST {
                std::thread::sleep(SAMPLE_EVERY);
                if let Ok(mut samples) = into.lock() {
                    samples.push(Sample::now(server_pid));
                }
            }
        });
        Meter {
            first,
            samples,
            stop,
            server_pid,
        }
    }

    /// `(load tool %, server % if known)` from the start to now.
    pub fn finish(&self) -> (f64, Option<f64>) {
        self.finish_at(Instant::now())
    }

    /// `(load tool %, server % if known)` from the start to the first sample at or after `end`.
    pub fn finish_at(&self, end: Instant) -> (f64, Option<f64>) {
        self.stop.store(true, Ordering::Relaxed);
        let last = self
            .samples
            .lock()
            .ok()
            .and_then(|samples| samples.iter().find(|s| s.at >= end).copied())
            .unwrap_or_else(|| Sample::now(self.server_pid));
        let wall = last
            .at
            .duration_since(self.first.at)
            .as_secs_f64()
            .max(1e-9);
        let percent = |used: Duration| 100.0 * used.as_secs_f64() / wall;
        let tool = percent(last.own.saturating_sub(self.first.own));
        let server = match (last.server, self.first.server) {
            (Some(now), Some(before)) => Some(percent(now.saturating_sub(before))),
            _ => None,
        };
        (tool, server)
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
