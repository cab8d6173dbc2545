//! Delivering to outside services (push services, webhook receivers): when to try again.

/// How long to wait before attempt `attempts + 1`: 5 s doubling to an hour, with ±20 %
/// jitter (so that many notifications failing together do not come back together), and
/// never sooner than the service's `Retry-After`.
pub fn retry_delay_ms(attempts: i32, retry_after_ms: Option<i64>, jitter: f64) -> i64 {
    backoff_ms(FIRST_RETRY_MS, attempts, retry_after_ms, jitter)
}

/// The first wait after a failure, by default.
pub const FIRST_RETRY_MS: i64 = 5_000;

/// `retry_delay_ms` from another first wait (an operator's, or a test's).
pub fn backoff_ms(first_ms: i64, attempts: i32, retry_after_ms: Option<i64>, jitter: f64) -> i64 {
    const LONGEST_MS: i64 = 60 * 60 * 1000;
    let doubled = first_ms
        .max(1)
        .saturating_mul(1_i64 << attempts.clamp(0, 20));
    let base = doubled.min(LONGEST_MS) as f64;
    let jittered = (base * (0.8 + 0.4 * jitter.clamp(0.0, 1.0))) as i64;
    // A service's `Retry-After` is honoured up to a day (past that the delivery gives up anyway):
    // a larger one must not overflow the time it is added to.
    jittered.max(retry_after_ms.unwrap_or(0).clamp(0, MOST_RETRY_AFTER_MS))
}

/// The longest `Retry-After` honoured.
pub const MOST_RETRY_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// `Retry-After` as milliseconds from now: delay-seconds, or an HTTP date.
pub fn retry_after_ms(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<i64>() {
        return Some(seconds.max(0).saturating_mul(1000));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let wait = at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    i64::try_from(wait.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retries_back_off_and_honour_retry_after() {
        assert_eq!(retry_delay_ms(0, None, 0.5), 5_000);
        assert_eq!(retry_delay_ms(1, None, 0.5), 10_000);
        assert_eq!(retry_delay_ms(30, None, 0.5), 3_600_000);
        assert_eq!(retry_delay_ms(0, None, 0.0), 4_000);
        assert_eq!(retry_delay_ms(0, None, 1.0), 6_000);
        assert_eq!(retry_delay_ms(0, Some(120_000), 0.5), 120_000);
        assert_eq!(backoff_ms(200, 2, None, 0.5), 800);
        // A receiver's absurd Retry-After cannot overflow the retry time.
        let huge = retry_after_ms("99999999999999999");
        assert_eq!(retry_delay_ms(0, huge, 0.5), MOST_RETRY_AFTER_MS);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after_ms("120"), Some(120_000));
        assert_eq!(retry_after_ms("-3"), Some(0));
        let later = std::time::SystemTime::now() + Duration::from_secs(3600);
        let date = httpdate::fmt_http_date(later);
        let ms = retry_after_ms(&date).unwrap();
        assert!((3_590_000..=3_600_000).contains(&ms), "{ms}");
        assert_eq!(retry_after_ms("soon"), None);
    }
}
