//! Webhook bodies signed `base64(HMAC-SHA256(body, secret))` in one header, as Shopify
//! (`X-Shopify-Hmac-Sha256`) and WooCommerce (`X-WC-Webhook-Signature`) sign them.

use base64::Engine;
use hmac::{KeyInit, Mac};
use kontor_connector::{WebhookError, WebhookHeaders};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Checks `header` against the body, in constant time.
pub(crate) fn verify_base64_hmac(
    header: &'static str,
    secret: &str,
    headers: &WebhookHeaders,
    body: &[u8],
) -> Result<(), WebhookError> {
    let signature = headers
        .get(header)
        .ok_or(WebhookError::Unsigned { header })?;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
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

    const HEADER: &str = "X-Shopify-Hmac-Sha256";

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key");
        mac.update(body);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn only_the_body_signed_with_the_secret_is_accepted() {
        let body = br##"{"id":450789469,"name":"#1001"}"##;
        let signed = |value: &str| WebhookHeaders::new([(HEADER, value)]);
        let verify =
            |headers: &WebhookHeaders, body: &[u8]| verify_base64_hmac(HEADER, "s", headers, body);
        assert_eq!(verify(&signed(&sign("s", body)), body), Ok(()));
        assert_eq!(
            verify(&signed(&sign("guess", body)), body),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&signed(&sign("s", body)), br#"{"id":1}"#),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&signed("not base64!"), body),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&WebhookHeaders::default(), body),
            Err(WebhookError::Unsigned { header: HEADER })
        );
    }
}
