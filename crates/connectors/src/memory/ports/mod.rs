//! The memory system's ports. It behaves like a real system where flows depend on it: a
//! shop refuses stock for a SKU it does not have; the ERP refuses a sale for an unknown
//! customer or product, reserves stock for customer orders, and — like any ERP —
//! creates a second document if asked twice.

mod catalogue;
mod customers;
mod documents;

pub(super) use documents::stock_moves;
mod prices;
mod shop_orders;
mod stock;

use kontor_connector::{Changes, ConnectorError};

use super::state::Feed;

fn parse_cursor(cursor: Option<&str>) -> Result<u64, ConnectorError> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .parse()
            .map_err(|_| ConnectorError::invalid_cursor(c, "a memory-system cursor")),
    }
}

/// A page of a change feed, read with `get`.
fn page<K: Ord + Clone, T>(
    feed: &Feed<K>,
    cursor: Option<&str>,
    limit: usize,
    get: impl Fn(&K) -> Option<T>,
) -> Result<Changes<T>, ConnectorError> {
    let (keys, last, more) = feed.since(parse_cursor(cursor)?, limit);
    Ok(Changes {
        items: keys.iter().filter_map(get).collect(),
        cursor: last.map(|seq| seq.to_string()),
        more,
    })
}

fn not_found(what: impl Into<String>) -> ConnectorError {
    ConnectorError::NotFound { what: what.into() }
}
