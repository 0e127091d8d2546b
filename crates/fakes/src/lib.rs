#![recursion_limit = "256"]
//! Stateful fakes of shop platforms that cannot run on this machine. Each follows its
//! vendor's official API documents: what is created is listed afterwards, changes show,
//! pagination, limits and errors answer the way the real API does. Every fake serves
//! HTTPS with a certificate made for the run, records each call it answers (so tests can
//! count them), and can be told to throttle.

pub mod shopify;
mod tls;
pub mod woocommerce;

pub use shopify::FakeShopify;
pub use tls::TlsServer;
pub use woocommerce::FakeWooCommerce;

/// One request a fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    /// The path and query, as sent.
    pub target: String,
    pub status: u16,
}

/// Why a fake could not start.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error("cannot listen on a loopback port: {0}")]
    Listen(#[source] std::io::Error),
    #[error("cannot make the test certificate: {0}")]
    Certificate(String),
}

/// `base64(HMAC-SHA256(body, secret))`: how Shopify and WooCommerce sign webhooks.
pub fn hmac_base64(secret: &str, body: &[u8]) -> String {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
