//! The notices Kontor's Vendure plugin (`integrations/vendure/kontor-webhook-plugin.js`)
//! posts: `X-Kontor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.
//! The timestamp is signed too, so an old notice cannot be replayed with a new time.

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use kontor_connector::{Notice, WebhookError, WebhookHeaders, WebhookReceiver};
use serde::Deserialize;

use super::VendureSystem;

pub(crate) const SIGNATURE_HEADER: &str = "x-kontor-signature";
/// How far a notice's timestamp may be from now (either way, for clock differences).
const MAX_AGE_SECS: i64 = 300;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

#[derive(Deserialize)]
struct PluginNotice {
    event: String,
    order_id: String,
}

impl WebhookReceiver for VendureSystem {
    fn receive(
        &self,
        headers: &WebhookHeaders,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Vec<Notice>, WebhookError> {
        let secret = self.webhook_secret().ok_or(WebhookError::Unsigned {
            header: "X-Kontor-Signature",
        })?;
        verify(secret, headers, body, now)?;
        let notice: PluginNotice =
            serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let entity = match notice.event.split('.').next() {
            Some("order" | "payment") => "order",
            // The returns flow reads refunds by order; the order names where to look.
            Some("refund") => "return",
            _ => return Ok(Vec::new()),
        };
        Ok(vec![Notice {
            entity: entity.into(),
            external_id: notice.order_id,
        }])
    }
}

fn verify(
    secret: &str,
    headers: &WebhookHeaders,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    let header = headers
        .get(SIGNATURE_HEADER)
        .ok_or(WebhookError::Unsigned {
            header: "X-Kontor-Signature",
        })?;
    let mut timestamp = None;
    let mut digest = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => digest = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(digest)) = (timestamp, digest) else {
        return Err(WebhookError::BadSignature);
    };
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).map_err(|_| WebhookError::BadSignature)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&digest)
        .map_err(|_| WebhookError::BadSignature)?;
    let age = now.timestamp() - timestamp;
    if age.abs() > MAX_AGE_SECS {
        return Err(WebhookError::Stale {
            age_secs: age,
            max_secs: MAX_AGE_SECS,
        });
    }
    Ok(())
}

/// The header the plugin would send for `body` at `timestamp` (for tests and tools).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cret";

    fn headers(value: &str) -> WebhookHeaders {
        WebhookHeaders::new([("X-Kontor-Signature", value)])
    }

    #[test]
    fn only_a_fresh_notice_signed_with_the_secret_is_accepted() {
        let now = Utc::now();
        let body = br#"{"id":"n1","event":"order.placed","order_id":"7","order_code":"ABC"}"#;
        let good = sign(SECRET, now.timestamp(), body);
        assert_eq!(verify(SECRET, &headers(&good), body, now), Ok(()));
        // Another secret, another body, no header, an old timestamp re-signed by nobody.
        let forged = sign("guess", now.timestamp(), body);
        assert_eq!(
            verify(SECRET, &headers(&forged), body, now),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(SECRET, &headers(&good), br#"{"order_id":"8"}"#, now),
            Err(WebhookError::BadSignature)
        );
        assert!(matches!(
            verify(SECRET, &WebhookHeaders::default(), body, now),
            Err(WebhookError::Unsigned { .. })
        ));
        let old = sign(SECRET, now.timestamp() - 3600, body);
        assert!(matches!(
            verify(SECRET, &headers(&old), body, now),
            Err(WebhookError::Stale { age_secs: 3600, .. })
        ));
        // Moving the old timestamp forward breaks the signature.
        let moved = old.replacen(
            &format!("t={}", now.timestamp() - 3600),
            &format!("t={}", now.timestamp()),
            1,
        );
        assert_eq!(
            verify(SECRET, &headers(&moved), body, now),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn the_rust_signature_matches_the_plugins_format() {
        // The plugin computes createHmac("sha256", "s3cret").update(`1700000000.{"a":1}`) in Node.
        assert_eq!(
            sign(SECRET, 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }
}
