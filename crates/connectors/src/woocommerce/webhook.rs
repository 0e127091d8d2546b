//! WooCommerce webhooks: the body is the REST resource, `X-WC-Webhook-Signature` is the
//! base64 HMAC-SHA256 of the body with the webhook's secret, and each delivery has its
//! own `X-WC-Webhook-Delivery-ID`. WooCommerce signs no timestamp, so a replay carries a
//! valid signature: the server drops repeated delivery ids, and the flows' idempotent
//! writes make any other repeat harmless.

use chrono::{DateTime, Utc};
use kontor_connector::{Notice, WebhookError, WebhookHeaders, WebhookReceiver};
use serde_json::Value;

use crate::signature::verify_base64_hmac;

use super::WooCommerceSystem;

const SIGNATURE: &str = "X-WC-Webhook-Signature";

impl WebhookReceiver for WooCommerceSystem {
    fn receive(
        &self,
        headers: &WebhookHeaders,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<Vec<Notice>, WebhookError> {
        let secret = self
            .webhook_secret()
            .ok_or(WebhookError::Unsigned { header: SIGNATURE })?;
        // Saving a webhook in wp-admin sends an unsigned ping, `webhook_id=<n>`, with no
        // topic. It changes nothing; answering it lets the merchant save the webhook.
        if headers.get("x-wc-webhook-topic").is_none() && is_ping(body) {
            return Ok(Vec::new());
        }
        verify_base64_hmac(SIGNATURE, secret, headers, body)?;
        let topic = headers.get("x-wc-webhook-topic").unwrap_or_default();
        let resource: Value =
            serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let id = || {
            resource["id"]
                .as_u64()
                .map(|id| id.to_string())
                .ok_or_else(|| WebhookError::Malformed(format!("a {topic} without an id")))
        };
        Ok(match topic.split_once('.') {
            Some(("order", _)) => {
                let id = id()?;
                let mut notices = vec![Notice {
                    entity: "order".into(),
                    external_id: id.clone(),
                }];
                // A refund is made by saving the order; the returns flow reads it by order.
                if resource["refunds"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
                {
                    notices.push(Notice {
                        entity: "return".into(),
                        external_id: id,
                    });
                }
                notices
            }
            // The ERP owns products and customers: changes made in the shop are not read.
            _ => Vec::new(),
        })
    }

    fn delivery_id(&self, headers: &WebhookHeaders) -> Option<String> {
        headers.get("x-wc-webhook-delivery-id").map(str::to_owned)
    }
}

fn is_ping(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .ok()
        .and_then(|b| b.strip_prefix("webhook_id="))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_save_ping_is_recognised_and_nothing_else_is() {
        assert!(is_ping(b"webhook_id=17"));
        assert!(!is_ping(b"webhook_id="));
        assert!(!is_ping(br#"{"id":17}"#));
    }
}
