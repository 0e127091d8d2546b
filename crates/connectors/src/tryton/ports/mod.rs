//! The ports Tryton offers, one file per area; the windowed read they share.

mod catalogue;
mod customers;
mod documents;
mod prices;
mod sales;
mod stock;

use kontor_connector::ConnectorError;
use serde_json::{Value, json};

use super::TrytonSystem;
use super::values::{Record, get_i64};
use super::window::Window;

/// One page of a windowed read.
pub(crate) struct Page {
    pub records: Vec<Record>,
    pub cursor: String,
    pub more: bool,
}

impl TrytonSystem {
    /// Reads the records of `model` matching `filter` that changed in the cursor's window
    /// (themselves, or through the related records named in `related`, e.g. `products.`),
    /// in id order. Archived records are read too: that they were archived is a change.
    pub(crate) async fn read_window(
        &self,
        model: &str,
        filter: Vec<Value>,
        related: &[&str],
        window: &Window,
        limit: usize,
        fields: &[&str],
    ) -> Result<Page, ConnectorError> {
        let mut changed = vec![json!("OR"), window.changed("")];
        changed.extend(related.iter().map(|prefix| window.changed(prefix)));
        let mut domain = filter;
        domain.push(Value::Array(changed));
        domain.push(json!(["id", ">", window.after]));
        let limit = limit.max(1);
        let records = self
            .client()
            .search_read(
                model,
                Value::Array(domain),
                Some(limit),
                json!([["id", "ASC"]]),
                fields,
                Some(&Self::with_inactive()),
            )
            .await?;
        let last = records.last().map(|r| get_i64(r, "id")).transpose()?;
        let (cursor, more) = window.cursor_after(records.len(), limit, last);
        Ok(Page {
            records,
            cursor,
            more,
        })
    }

    /// The window to read after `cursor`.
    pub(crate) fn window(&self, cursor: Option<&str>) -> Result<Window, ConnectorError> {
        let lag = chrono::Duration::from_std(self.config().poll_lag)
            .unwrap_or_else(|_| chrono::Duration::seconds(5));
        Window::next(cursor, self.now(), lag)
    }
}

/// Ids as Kontor carries them.
pub(crate) fn id_of(text: &str, what: &str) -> Result<i64, ConnectorError> {
    text.parse().map_err(|_| ConnectorError::NotFound {
        what: format!("Tryton {what} `{text}`"),
    })
}

/// A refusal naming what to fix.
pub(crate) fn refused(code: &str, message: String, field: Option<&str>) -> ConnectorError {
    ConnectorError::Rejected {
        code: Some(code.to_owned()),
        message,
        field: field.map(str::to_owned),
    }
}
