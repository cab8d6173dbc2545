//! Token-bucket rate limits: writes per user, registration/login per client IP, and failed
//! logins per account (against password guessing from many addresses). Limits come from the
//! configuration; a rate of 0 turns a limit off. None is a lock-out: a refused client is told
//! when to try again (`Retry-After`), and the bucket refills by itself.

use parley_types::{UserId, WebhookId};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::config::RateSettings;
use crate::error::AppError;

/// How many checks pass between sweeps of idle keys, which keeps the maps from growing with
/// every user and address ever seen.
const SWEEP_EVERY: u64 = 4096;

struct Limiter<K: Hash + Eq + Clone> {
    buckets: RateLimiter<K, HashMapStateStore<K>, DefaultClock>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(quota: Quota) -> Self {
        let clock = DefaultClock::default();
        Limiter {
            buckets: RateLimiter::hashmap_with_clock(quota, clock.clone()),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// `Err(seconds to wait)` when the key's bucket is empty.
    fn check(&self, key: &K) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.buckets.retain_recent();
        }
        self.buckets
            .check_key(key)
            .map_err(|not_until| whole_seconds(not_until.wait_time_from(self.clock.now())))
    }
}

/// Failed logins per account. A failure takes a token; the failure that finds the bucket
/// empty closes the account to logins until the bucket has a token again, and only then are
/// passwords checked again. Successful logins cost nothing, so an owner who signs in often
/// never meets the limit; a guesser gets the quota's rate and no more.
struct FailedLogins {
    failures: Limiter<String>,
    closed_until: Mutex<HashMap<String, Instant>>,
}

impl FailedLogins {
    fn closed(&self, account: &str) -> Result<(), u64> {
        let mut closed = self.closed_until.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match closed.get(account) {
            Some(&until) if until > now => Err(whole_seconds(until - now)),
            Some(_) => {
                closed.remove(account);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn failed(&self, account: &str) {
        let Err(wait) = self.failures.check(&account.to_owned()) else {
            return;
        };
        let mut closed = self.closed_until.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if closed.len() >= SWEEP_EVERY as usize {
            closed.retain(|_, until| *until > now);
        }
        closed.insert(account.to_owned(), now + Duration::from_secs(wait));
    }
}

fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The limits of one server.
pub struct RateLimits {
    writes: Option<Limiter<UserId>>,
    auth: Option<Limiter<IpAddr>>,
    logins: Option<FailedLogins>,
    hooks: Option<Limiter<WebhookId>>,
}

impl RateLimits {
    pub fn new(settings: RateSettings) -> Self {
        let writes = NonZeroU32::new(settings.send_rate).map(|rate| {
            let burst = NonZeroU32::new(settings.send_burst).unwrap_or(rate);
            Limiter::new(Quota::per_second(rate).allow_burst(burst))
        });
        let auth = NonZeroU32::new(settings.auth_per_minute)
            .map(|rate| Limiter::new(Quota::per_minute(rate)));
        let logins =
            NonZeroU32::new(settings.logins_per_account_per_minute).map(|rate| FailedLogins {
                failures: Limiter::new(Quota::per_minute(rate)),
                closed_until: Mutex::default(),
            });
        let hooks = NonZeroU32::new(settings.hook_posts_per_minute)
            .map(|rate| Limiter::new(Quota::per_minute(rate)));
        RateLimits {
            writes,
            auth,
            logins,
            hooks,
        }
    }

    /// Whether the account named `username` takes logins now. Accounts that do not exist are
    /// limited the same way, so that the answers tell nothing about which accounts exist.
    pub fn check_login(&self, username: &str) -> Result<(), AppError> {
        let Some(logins) = &self.logins else {
            return Ok(());
        };
        logins
            .closed(&username.to_ascii_lowercase())
            .map_err(|wait| AppError::RateLimited {
                retry_after_secs: wait.max(1),
            })
    }

    /// Counts a failed login against the account named `username`.
    pub fn login_failed(&self, username: &str) {
        if let Some(logins) = &self.logins {
            logins.failed(&username.to_ascii_lowercase());
        }
    }

    pub fn check_write(&self, user_id: UserId) -> Result<(), AppError> {
        check(self.writes.as_ref(), &user_id)
    }

    pub fn check_auth(&self, ip: IpAddr) -> Result<(), AppError> {
        check(self.auth.as_ref(), &ip)
    }

    /// A post through an incoming webhook (each webhook has its own bucket).
    pub fn check_hook(&self, webhook_id: WebhookId) -> Result<(), AppError> {
        check(self.hooks.as_ref(), &webhook_id)
    }
}

fn check<K: Hash + Eq + Clone>(limiter: Option<&Limiter<K>>, key: &K) -> Result<(), AppError> {
    match limiter.map(|l| l.check(key)) {
        None | Some(Ok(())) => Ok(()),
        Some(Err(wait)) => Err(AppError::RateLimited {
            retry_after_secs: wait.max(1),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refuses_with_a_wait() {
        let limits = RateLimits::new(RateSettings {
            send_rate: 1,
            send_burst: 3,
            auth_per_minute: 2,
            logins_per_account_per_minute: 2,
            hook_posts_per_minute: 0,
            reports_per_hour: 0,
        });
        for _ in 0..3 {
            assert!(limits.check_write(UserId(7)).is_ok());
        }
        match limits.check_write(UserId(7)) {
            Err(AppError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
            other => panic!("{other:?}"),
        }
        // Other users have their own bucket.
        assert!(limits.check_write(UserId(8)).is_ok());
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(limits.check_auth(ip).is_ok());
        assert!(limits.check_auth(ip).is_ok());
        match limits.check_auth(ip) {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert!((1..=30).contains(&retry_after_secs))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn zero_turns_limits_off() {
        let limits = RateLimits::new(RateSettings::UNLIMITED);
        for _ in 0..1000 {
            assert!(limits.check_write(UserId(1)).is_ok());
            assert!(limits.check_auth([10, 0, 0, 1].into()).is_ok());
        }
    }
}
