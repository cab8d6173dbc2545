//! `Timestamp`: the one way instants are held and written on the wire.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with millisecond precision, stored as milliseconds since the Unix epoch and
/// rendered as RFC 3339 (`2026-11-26T13:05:01.123Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn to_rfc3339(self) -> String {
        self.with_rfc3339(str::to_owned)
    }

    /// Hands `use_text` the RFC 3339 rendering: from a stack buffer for years 0–9999, from
    /// chrono for any other instant.
    fn with_rfc3339<R>(self, use_text: impl FnOnce(&str) -> R) -> R {
        let mut text = [0u8; RFC3339_LEN];
        match self.write_rfc3339(&mut text) {
            Some(fixed) => use_text(fixed),
            None => use_text(&self.to_rfc3339_slow()),
        }
    }

    /// Writes `YYYY-MM-DDTHH:MM:SS.mmmZ` into `out` without allocating, for years 0–9999 (all
    /// a message can carry); `None` for any other instant. Every message, reaction and event
    /// carries timestamps, so this is on the path of every answer and every broadcast.
    fn write_rfc3339(self, out: &mut [u8; RFC3339_LEN]) -> Option<&str> {
        let (year, month, day) = civil_from_days(self.0.div_euclid(MILLIS_PER_DAY));
        let year = u32::try_from(year).ok().filter(|y| *y <= 9999)?;
        // In 0..86_400_000, so it fits a u32.
        let of_day = u32::try_from(self.0.rem_euclid(MILLIS_PER_DAY)).ok()?;
        let seconds = of_day / 1000;
        let fields = [
            (0, year, 4),
            (5, month, 2),
            (8, day, 2),
            (11, seconds / 3600, 2),
            (14, seconds / 60 % 60, 2),
            (17, seconds % 60, 2),
            (20, of_day % 1000, 3),
        ];
        *out = *b"0000-00-00T00:00:00.000Z";
        for (start, value, width) in fields {
            let mut value = value;
            for slot in out.get_mut(start..start + width)?.iter_mut().rev() {
                // value % 10 < 10, so the digit always fits.
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        std::str::from_utf8(out).ok()
    }

    fn to_rfc3339_slow(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            // Only reachable with a corrupted row; render the epoch rather than fail a response.
            None => DateTime::<Utc>::UNIX_EPOCH.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}

const RFC3339_LEN: usize = 24;
const MILLIS_PER_DAY: i64 = 86_400_000;

/// `(year, month, day)` of the proleptic Gregorian calendar for a count of days since
/// 1970-01-01: Howard Hinnant's `civil_from_days`, in integer arithmetic (chrono's own date
/// conversion costs several times as much, and this runs for every timestamp of every answer).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are within their small ranges above.
    (year, month as u32, day as u32)
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_rfc3339(|text| serializer.serialize_str(text))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// Reads any RFC 3339 instant (the server writes UTC with milliseconds; finer digits are
    /// truncated to the millisecond).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| Timestamp(t.timestamp_millis()))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339 UTC with milliseconds"))
            .examples([serde_json::json!("2026-11-26T13:05:01.123Z")])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc3339_with_millis_in_utc() {
        assert_eq!(
            Timestamp(1_795_698_301_123).to_rfc3339(),
            "2026-11-26T13:05:01.123Z"
        );
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_fast_rendering_agrees_with_chrono() {
        // Across leap days, year ends, millisecond edges, before the epoch and at the limits.
        let mut samples = vec![
            0,
            -1,
            1,
            999,
            951_782_400_000,
            951_868_799_999,
            4_107_542_399_999,
            -62_167_219_200_000,
            253_402_300_799_999,
            253_402_300_800_000,
            -62_167_219_200_001,
            i64::MAX,
            i64::MIN,
        ];
        let mut x: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.push(x.rem_euclid(300_000_000_000_000) - 62_167_219_200_000);
        }
        for ms in samples {
            let t = Timestamp(ms);
            assert_eq!(t.to_rfc3339(), t.to_rfc3339_slow(), "{ms}");
            assert_eq!(
                serde_json::to_string(&t).ok(),
                serde_json::to_string(&t.to_rfc3339_slow()).ok(),
                "{ms}"
            );
        }
    }
}
