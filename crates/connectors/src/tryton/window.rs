//! Incremental reads by `write_date`. Each poll reads a closed window of time
//! (from, to], page by page in id order, so that nothing written while a window is being
//! paged through is skipped: it falls in the next window. The window ends a little in
//! the past (`lag`), because a transaction stamps `write_date` when it writes and becomes
//! visible only when it commits, and because clocks differ.
//!
//! Cursor: `<from>|<to>|<last id>`, timestamps in RFC 3339; `from` is empty at the start.

use chrono::{DateTime, SecondsFormat, Utc};
use kontor_connector::ConnectorError;
use serde_json::{Value, json};

use super::values::datetime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub from: Option<DateTime<Utc>>,
    pub to: DateTime<Utc>,
    /// Last id read in this window.
    pub after: i64,
}

fn parse_time(text: &str) -> Result<Option<DateTime<Utc>>, ConnectorError> {
    if text.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| ConnectorError::invalid_cursor(text, "a Tryton cursor time"))
}

fn format(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl Window {
    /// The window to read next, given the cursor the last read left.
    pub(crate) fn next(
        cursor: Option<&str>,
        now: DateTime<Utc>,
        lag: chrono::Duration,
    ) -> Result<Window, ConnectorError> {
        let horizon = now - lag;
        let Some(cursor) = cursor else {
            return Ok(Window {
                from: None,
                to: horizon,
                after: 0,
            });
        };
        let mut parts = cursor.splitn(3, '|');
        let from = parse_time(parts.next().unwrap_or_default())?;
        let to = parse_time(parts.next().unwrap_or_default())?;
        let after: i64 = parts.next().unwrap_or("0").parse().unwrap_or(0);
        Ok(match to {
            // Half-way through a window: go on where it stopped.
            Some(to) if after > 0 => Window { from, to, after },
            // A window finished at `to`: the next one starts there.
            Some(to) => Window {
                from: Some(to),
                to: horizon.max(to),
                after: 0,
            },
            None => Window {
                from,
                to: horizon.max(from.unwrap_or(horizon)),
                after: 0,
            },
        })
    }

    /// The cursor of a backfill from `at`: as if a window had just finished there.
    pub(crate) fn since(at: DateTime<Utc>) -> String {
        format!("{}||0", format(at))
    }

    /// The clause "changed in this window", on the fields of `prefix` (`""` for the
    /// record itself, `products.` for related records). A record never written since its
    /// creation has no `write_date`: its `create_date` counts.
    pub(crate) fn changed(&self, prefix: &str) -> Value {
        let (write, create) = (
            format!("{prefix}write_date"),
            format!("{prefix}create_date"),
        );
        let within = |field: &str| {
            let mut clauses = vec![json!([field, "<=", datetime(self.to)])];
            if let Some(from) = self.from {
                clauses.push(json!([field, ">", datetime(from)]));
            }
            clauses
        };
        let mut created = vec![json!([write, "=", null])];
        created.extend(within(&create));
        json!(["OR", within(&write), created])
    }

    /// The cursor after reading `page_len` records of `limit`, the last with id `last`.
    pub(crate) fn cursor_after(
        &self,
        page_len: usize,
        limit: usize,
        last: Option<i64>,
    ) -> (String, bool) {
        let from = self.from.map(format).unwrap_or_default();
        match last {
            Some(last) if page_len >= limit => (format!("{from}|{}|{last}", format(self.to)), true),
            _ => (format!("{}||0", format(self.to)), false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn windows_close_in_the_past_and_page_by_id() {
        let lag = chrono::Duration::seconds(5);
        let first = Window::next(None, at("2026-11-23T12:00:00Z"), lag).unwrap();
        assert_eq!(
            (first.from, first.to, first.after),
            (None, at("2026-11-23T11:59:55Z"), 0)
        );
        // A full page: the same window continues after the last id.
        let (cursor, more) = first.cursor_after(100, 100, Some(731));
        assert!(more);
        let again = Window::next(Some(&cursor), at("2026-11-23T12:00:30Z"), lag).unwrap();
        assert_eq!((again.from, again.to, again.after), (None, first.to, 731));
        // A short page ends the window; the next starts where it ended.
        let (cursor, more) = again.cursor_after(3, 100, Some(800));
        assert!(!more);
        let next = Window::next(Some(&cursor), at("2026-11-23T12:01:00Z"), lag).unwrap();
        assert_eq!(
            (next.from, next.to, next.after),
            (Some(first.to), at("2026-11-23T12:00:55Z"), 0)
        );
        // Polled again before the lag passed: an empty window, never a backwards one.
        let (cursor, _) = next.cursor_after(0, 100, None);
        let soon = Window::next(Some(&cursor), at("2026-11-23T12:01:01Z"), lag).unwrap();
        assert!(soon.from == Some(next.to) && soon.to >= next.to);
        assert_eq!(
            Window::next(
                Some(&Window::since(at("2026-11-01T00:00:00Z"))),
                at("2026-11-23T12:00:00Z"),
                lag
            )
            .unwrap()
            .from,
            Some(at("2026-11-01T00:00:00Z"))
        );
    }
}
