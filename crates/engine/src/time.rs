//! Timestamps are stored as microseconds since the Unix epoch: exact, compact, and
//! compared the same way by SQLite and PostgreSQL.

use chrono::{DateTime, Utc};

pub(crate) fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub(crate) fn opt_from_micros(us: Option<i64>) -> Option<DateTime<Utc>> {
    us.map(from_micros)
}
