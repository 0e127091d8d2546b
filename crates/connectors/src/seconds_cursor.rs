//! A cursor over records stamped in whole seconds (WordPress, Shopify): the last record
//! taken, as its stamp and id. Such APIs do not order records of the same second, so a
//! read never ends inside a second — all of the last second are taken, sorted by id —
//! and the next read starts at that second again, passing over what the cursor covers.

use chrono::{DateTime, Utc};
use kontor_connector::ConnectorError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SecondsCursor {
    /// The last record taken: when it changed, and its id.
    pub at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub id: u64,
}

impl SecondsCursor {
    /// The cursor as a flow keeps it (`None`: from the beginning).
    pub fn parse(text: Option<&str>) -> Result<SecondsCursor, ConnectorError> {
        match text {
            None => Ok(SecondsCursor::default()),
            Some(text) => serde_json::from_str(text)
                .map_err(|_| ConnectorError::invalid_cursor(text, "an order cursor")),
        }
    }

    pub fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether the record changed at `at` with `id` was taken already.
    pub fn covers(&self, at: DateTime<Utc>, id: u64) -> bool {
        self.at
            .is_some_and(|seen| at < seen || (at == seen && id <= self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_covers_what_came_before_it_and_its_own_second_up_to_its_id() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:00:05Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let cursor = SecondsCursor {
            at: Some(at),
            id: 7,
        };
        assert!(cursor.covers(at - chrono::Duration::seconds(1), 99));
        assert!(cursor.covers(at, 7));
        assert!(!cursor.covers(at, 8));
        assert!(!cursor.covers(at + chrono::Duration::seconds(1), 1));
        assert!(!SecondsCursor::default().covers(at, 1));
        let again = SecondsCursor::parse(Some(&cursor.text())).expect("parses");
        assert_eq!(again, cursor);
        assert!(SecondsCursor::parse(Some("page 3")).is_err());
    }
}
