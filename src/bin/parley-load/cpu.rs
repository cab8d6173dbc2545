//! CPU time of the load tool itself and of the server it drives, so that a report shows which
//! of the two was the limit.

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

/// CPU used between `start` and `finish`, as a percentage of one core.
pub struct Meter {
    wall: Instant,
    own: Duration,
    server: Option<(u32, Duration)>,
}

impl Meter {
    pub fn start(server_pid: Option<u32>) -> Self {
        Meter {
            wall: Instant::now(),
            own: own(),
            server: server_pid.and_then(|pid| Some((pid, of_process(pid)?))),
        }
    }

    /// `(load tool %, server % if known)`.
    pub fn finish(&self) -> (f64, Option<f64>) {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let percent = |used: Duration| 100.0 * used.as_secs_f64() / wall;
        let tool = percent(own().saturating_sub(self.own));
        let server = self
            .server
            .and_then(|(pid, before)| Some(percent(of_process(pid)?.saturating_sub(before))));
        (tool, server)
    }
}
