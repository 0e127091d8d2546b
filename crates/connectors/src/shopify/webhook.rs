//! Shopify's webhooks: the body signed `X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(body,
//! client secret))`, the topic in `X-Shopify-Topic`, and each delivery's own
//! `X-Shopify-Webhook-Id` — the same id on a retry, so a repeat is recognised. Bodies are
//! the REST API's JSON; only the record's id is taken, flows read the record afresh.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use kontor_connector::{Notice, WebhookError, WebhookHeaders, WebhookReceiver};
use serde_json::Value;

use super::ShopifySystem;

const SIGNATURE: &str = "X-Shopify-Hmac-Sha256";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

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
        verify(secret, headers, body)?;
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

fn verify(secret: &str, headers: &WebhookHeaders, body: &[u8]) -> Result<(), WebhookError> {
    let header = headers
        .get(SIGNATURE)
        .ok_or(WebhookError::Unsigned { header: SIGNATURE })?;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|_| WebhookError::BadSignature)?;
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).map_err(|_| WebhookError::BadSignature)?;
    mac.update(body);
    mac.verify_slice(&digest)
        .map_err(|_| WebhookError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key");
        mac.update(body);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn only_the_body_signed_with_the_client_secret_is_accepted() {
        let body = br##"{"id":450789469,"name":"#1001"}"##;
        let signed = |value: &str| WebhookHeaders::new([(SIGNATURE, value)]);
        assert_eq!(verify("s", &signed(&sign("s", body)), body), Ok(()));
        assert_eq!(
            verify("s", &signed(&sign("other", body)), body),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify("s", &signed(&sign("s", body)), br#"{"id":1}"#),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify("s", &WebhookHeaders::default(), body),
            Err(WebhookError::Unsigned { header: SIGNATURE })
        );
    }
}
