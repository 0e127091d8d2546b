use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A request's headers, names lower-cased (HTTP header names are case-insensitive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookHeaders(BTreeMap<String, String>);

impl WebhookHeaders {
    pub fn new<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        WebhookHeaders(
            headers
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// What a verified webhook says changed. It only names the record: flows read the
/// record itself, since webhooks can be late, repeated or out of order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// `order`, `product`, `stock`, …
    pub entity: String,
    /// The record's id in the system that sent the webhook.
    pub external_id: String,
}

/// Why a webhook was refused. Anything but `Malformed` means it was not (provably) sent
/// by the system: answer 401 and record it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("the request is not signed (no {header} header)")]
    Unsigned { header: &'static str },
    #[error("the signature does not match the body")]
    BadSignature,
    #[error(
        "the signature is {age_secs}s old; notices older than {max_secs}s are refused as replays"
    )]
    Stale { age_secs: i64, max_secs: i64 },
    #[error("the notice is not understood: {0}")]
    Malformed(String),
}

/// Verifies and reads a system's webhooks.
pub trait WebhookReceiver: Send + Sync {
    /// Checks the request's signature against the body and says what changed.
    fn receive(
        &self,
        headers: &WebhookHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Vec<Notice>, WebhookError>;

    /// The id the system gives each delivery (Shopify's `X-Shopify-Webhook-Id`,
    /// WooCommerce's `X-WC-Webhook-Delivery-ID`), by which a repeat is recognised.
    fn delivery_id(&self, headers: &WebhookHeaders) -> Option<String> {
        let _ = headers;
        None
    }
}
