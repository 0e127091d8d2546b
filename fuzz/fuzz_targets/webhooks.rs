//! Any delivery to a shop's or ERP's webhook endpoint: never a panic; one not signed
//! with the connection's secret never yields a notice (only WooCommerce's unsigned
//! ping is answered, with nothing); a signed one is parsed without a panic.
#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use base64::Engine;
use hmac::{KeyInit, Mac};
use kontor_connector::WebhookHeaders;
use kontor_connectors::{BuildContext, ConnectionConfig, MemoryRegistry};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "the webhook secret";

#[derive(Arbitrary, Debug)]
struct Delivery {
    system: u8,
    /// Signed with the connection's secret, as the system would.
    signed: bool,
    topic: String,
    /// Seconds between the signature's time and now (Vendure's notices are dated).
    age: i16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Receivers(Vec<(&'static str, Arc<dyn kontor_connector::Connector>)>);

fn receivers() -> &'static Receivers {
    static RECEIVERS: OnceLock<Receivers> = OnceLock::new();
    RECEIVERS.get_or_init(|| {
        let settings = [
            ("vendure", serde_json::json!({"type": "vendure", "url": "http://127.0.0.1:9/admin-api", "username": "kontor", "password": {"value": "x"}, "webhook_secret": {"value": SECRET}})),
            ("shopify", serde_json::json!({"type": "shopify", "shop": "kontor-fuzz", "access_token": {"value": "x"}, "client_secret": {"value": SECRET}})),
            ("woocommerce", serde_json::json!({"type": "woocommerce", "url": "https://shop.example", "consumer_key": {"value": "x"}, "consumer_secret": {"value": "x"}, "webhook_secret": {"value": SECRET}})),
        ];
        let memory = MemoryRegistry::default();
        Receivers(
            settings
                .into_iter()
                .map(|(kind, settings)| {
                    let config: ConnectionConfig =
                        serde_json::from_value(settings).expect("settings");
                    let built = config
                        .build(&BuildContext {
                            tenant: "fuzz",
                            connection: kind,
                            tenant_dir: Path::new("/nonexistent"),
                            memory: &memory,
                            inbox: None,
                        })
                        .expect("builds");
                    (kind, built)
                })
                .collect(),
        )
    })
}

fn hmac(parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("a key");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fuzz_target!(|delivery: Delivery| {
    let receivers = &receivers().0;
    let (kind, connection) = &receivers[usize::from(delivery.system) % receivers.len()];
    let receiver = connection.webhooks().expect("takes webhooks");
    let now = chrono::Utc::now();
    let mut headers: Vec<(String, String)> = delivery.headers.clone();
    if delivery.signed {
        let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
        let (signature, topic) = match *kind {
            "vendure" => {
                let t = (now.timestamp() - i64::from(delivery.age)).to_string();
                let digest = hex::encode(hmac(&[t.as_bytes(), b".", &delivery.body]));
                (("x-kontor-signature", format!("t={t},v1={digest}")), None)
            }
            "shopify" => (
                ("x-shopify-hmac-sha256", b64(hmac(&[&delivery.body]))),
                Some("x-shopify-topic"),
            ),
            _ => (
                ("x-wc-webhook-signature", b64(hmac(&[&delivery.body]))),
                Some("x-wc-webhook-topic"),
            ),
        };
        headers.retain(|(name, _)| !name.eq_ignore_ascii_case(signature.0));
        headers.push((signature.0.to_owned(), signature.1));
        if let Some(topic) = topic {
            headers.push((topic.to_owned(), delivery.topic.clone()));
        }
    }
    let headers = WebhookHeaders::new(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let received = receiver.receive(&headers, &delivery.body, now);
    let _ = receiver.delivery_id(&headers);
    if !delivery.signed {
        match received {
            Err(_) => {}
            Ok(notices) => assert!(
                *kind == "woocommerce" && notices.is_empty(),
                "{kind}: an unsigned delivery was taken: {notices:?}"
            ),
        }
    }
});
