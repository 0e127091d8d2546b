use serde::{Deserialize, Serialize};

/// One page of an incremental read: the records changed since a cursor, and the cursor
/// to continue from. Cursors are opaque to flows; each connector chooses its own (a
/// change sequence, an `updated_at` watermark with an overlap window, a page token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changes<T> {
    pub items: Vec<T>,
    /// Where to continue; `None` when nothing was read (keep the old cursor).
    pub cursor: Option<String>,
    /// More changes are waiting beyond this page.
    pub more: bool,
}

impl<T> Changes<T> {
    pub fn empty() -> Self {
        Changes {
            items: Vec::new(),
            cursor: None,
            more: false,
        }
    }
}
