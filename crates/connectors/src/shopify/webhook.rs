//! Shopify's webhooks: the body signed `X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(body,
//! client secret))`, the topic in `X-Shopify-Topic`, and each delivery's own
//! `X-Shopify-Webhook-Id` — the same id on a retry, so a repeat is recognised. Bodies are
//! the REST API's JSON; only the record's id is taken, flows read the record afresh.

use chrono::{DateTime, Utc};
use kontor_connector::{Notice, WebhookError, WebhookHeaders, WebhookReceiver};
use serde_json::Value;

use crate::signature::verify_base64_hmac;

use super::ShopifySystem;

const SIGNATURE: &str = "X-Shopify-Hmac-Sha256";

impl WebhookReceiver for ShopifySystem {
    fn receive(
        &self,
        headers: &WebhookHeaders,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<Vec<Notice>, WebhookError> {
        let secret = self
            .client_secret()
            .ok_or(WebhookError::Unsigned { header: SIGNATURE })?;
        verify_base64_hmac(SIGNATURE, secret, headers, body)?;
        let topic = headers.get("x-shopify-topic").unwrap_or_default();
        let resource: Value =
            serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let id_in = |key: &str| {
            resource[key]
                .as_u64()
                .map(|id| id.to_string())
                .ok_or_else(|| WebhookError::Malformed(format!("a {topic} body without `{key}`")))
        };
        let notice = |entity: &str, external_id: String| Notice {
            entity: entity.into(),
            external_id,
        };
        Ok(match topic.split_once('/') {
            Some(("orders", _)) => {
                let id = id_in("id")?;
                let mut notices = vec![notice("order", id.clone())];
                if resource["refunds"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
                {
                    notices.push(notice("return", id));
                }
                notices
            }
            Some(("refunds", _)) => {
                let order = id_in("order_id")?;
                vec![notice("return", order.clone()), notice("order", order)]
            }
            _ => Vec::new(),
        })
    }

    fn delivery_id(&self, headers: &WebhookHeaders) -> Option<String> {
        headers.get("x-shopify-webhook-id").map(str::to_owned)
    }
}
