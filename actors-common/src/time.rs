//! Timestamps: RFC 3339, UTC, with milliseconds (`2026-11-27T10:00:00.123Z`).
//!
//! Use as `#[serde(with = "actors_common::time::rfc3339_millis")]` on a
//! `DateTime<Utc>` field. Parsing accepts any RFC 3339 offset.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats a timestamp the way the protocol writes it.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Now, truncated to whole milliseconds, so what is stored equals what is sent.
pub fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// Serde adapter for `DateTime<Utc>`.
pub mod rfc3339_millis {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_milliseconds() {
        let t = DateTime::parse_from_rfc3339("2026-11-27T10:00:00.123456+02:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format(&t), "2026-11-27T08:00:00.123Z");
    }
}
