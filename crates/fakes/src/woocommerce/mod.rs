//! A WooCommerce store's REST API (`/wp-json/wc/v3`), as the official reference
//! (woocommerce.github.io/woocommerce-rest-api-docs) describes it:
//!
//! - consumer key and secret over HTTPS, as HTTP Basic or as query parameters;
//! - products, variations (also found through `GET /products?sku=…`, which searches
//!   variations too), categories, customers, orders with notes and refunds, taxes, the
//!   two settings a connector reads, and webhook subscriptions;
//! - `page`/`per_page` (at most 100) with `X-WP-Total`, `X-WP-TotalPages` and `Link`;
//! - `modified_after`/`modified_before` in the site's time zone (UTC+1 here) unless
//!   `dates_are_gmt=true`, at WordPress' one-second precision;
//! - `/batch` endpoints taking at most 100 items, answering per item with the object or
//!   `{id, error}`; a SKU used twice is refused as `product_invalid_sku`;
//! - webhooks signed `X-WC-Webhook-Signature: base64(HMAC-SHA256(body, secret))`.
//!
//! Prices, totals and taxes are computed as WooCommerce does (tax per line, rounded half
//! away from zero), so orders read back carry real-looking numbers.

mod orders;
mod routes;
mod store;

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{Call, FakeError, TlsServer};

pub use orders::{OrderRequest, RefundRequest};
use store::Store;
pub use store::signature;

/// The consumer key and secret the fake accepts.
pub const CONSUMER_KEY: &str = "ck_kontor_test";
pub const CONSUMER_SECRET: &str = "cs_kontor_test";

/// A webhook delivery the fake made, to be looked at or replayed.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: Option<u16>,
}

#[derive(Clone)]
pub(crate) struct Shared(Arc<Mutex<Store>>);

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Store> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running fake store; stops when dropped.
pub struct FakeWooCommerce {
    server: TlsServer,
    shared: Shared,
}

impl FakeWooCommerce {
    /// A store selling in PLN with prices entered without tax, Polish VAT as tax
    /// classes: 23 % (standard), 8 % (`reduced-rate`), 5 % (`vat-5`), 0 % (`zero-rate`).
    pub async fn start() -> Result<FakeWooCommerce, FakeError> {
        let shared = Shared(Arc::new(Mutex::new(Store::new())));
        let server = TlsServer::serve(routes::router(shared.clone())).await?;
        shared.lock().site_url = server.url();
        Ok(FakeWooCommerce { server, shared })
    }

    /// The site's address (the connector's `url`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn ca_pem(&self) -> &str {
        self.server.ca_pem()
    }

    /// Every call answered so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.shared.lock().calls.clear();
    }

    /// The next `count` calls are answered `429 Too Many Requests` with
    /// `Retry-After: <retry_after_secs>`, as a host's rate limiter would.
    pub fn throttle_next(&self, count: u32, retry_after_secs: u64) {
        self.shared.lock().throttle = Some((count, retry_after_secs));
    }

    /// The next `count` writes (anything but GET) are made, and then answered
    /// `503 Service Unavailable`: the caller cannot tell that they happened.
    pub fn lose_answers_to_next_writes(&self, count: u32) {
        self.shared.lock().lost_answers = count;
    }

    pub fn set_prices_include_tax(&self, include: bool) {
        self.shared.lock().prices_include_tax = include;
    }

    /// A product or variation by SKU, as the API shows it.
    pub fn product_by_sku(&self, sku: &str) -> Option<Value> {
        let store = self.shared.lock();
        store.find_sku(sku).map(|id| store.product_json(id))
    }

    /// All products and variations (not paged).
    pub fn product_count(&self) -> (usize, usize) {
        let store = self.shared.lock();
        let variations = store
            .products
            .values()
            .filter(|p| p["type"] == "variation")
            .count();
        (store.products.len() - variations, variations)
    }

    /// How many images the store has fetched from their URLs ("sideloaded").
    pub fn sideloads(&self) -> usize {
        self.shared.lock().sideloads
    }

    pub fn customer_by_email(&self, email: &str) -> Option<Value> {
        let store = self.shared.lock();
        store
            .customers
            .values()
            .find(|c| c["email"].as_str() == Some(email))
            .cloned()
    }

    /// A shopper checks out; the order is paid unless said otherwise. Webhooks fire.
    pub fn place_order(&self, request: &OrderRequest) -> Result<Value, String> {
        let (order, deliveries) = {
            let mut store = self.shared.lock();
            let order = store.place_order(request)?;
            let deliveries = store.webhooks_for("order.created", &order);
            (order, deliveries)
        };
        self.deliver(deliveries);
        Ok(order)
    }

    /// The merchant refunds lines of an order in wp-admin. Webhooks fire.
    pub fn refund(&self, order_id: u64, request: &RefundRequest) -> Result<Value, String> {
        let (refund, deliveries) = {
            let mut store = self.shared.lock();
            let refund = store.refund(order_id, request)?;
            let order = store.order_json(order_id).ok_or("no such order")?;
            (refund, store.webhooks_for("order.updated", &order))
        };
        self.deliver(deliveries);
        Ok(refund)
    }

    /// The merchant changes an order's status in wp-admin. Webhooks fire.
    pub fn set_order_status(&self, order_id: u64, status: &str) -> Result<(), String> {
        let deliveries = {
            let mut store = self.shared.lock();
            store.set_order_status(order_id, status)?;
            let order = store.order_json(order_id).ok_or("no such order")?;
            store.webhooks_for("order.updated", &order)
        };
        self.deliver(deliveries);
        Ok(())
    }

    /// Sets the store's clock `behind` the wall clock: what it stamps from now on lies
    /// that far in the past, so a client reading "up to now" sees it at once.
    pub fn set_clock_behind(&self, behind: std::time::Duration) {
        self.shared.lock().clock_behind =
            chrono::Duration::from_std(behind).unwrap_or(chrono::Duration::zero());
    }

    /// Moves the store's clock `by` forward (and no further than the wall clock): the
    /// next stamps fall in a later second, without a test waiting for one to pass.
    pub fn advance_clock(&self, by: std::time::Duration) {
        let mut store = self.shared.lock();
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        store.clock_behind = (store.clock_behind - by).max(chrono::Duration::zero());
    }

    /// Sets an order's modification time (to the second, as WordPress keeps it): what a
    /// request that saved it then, and whose transaction committed only now, leaves.
    pub fn restamp_order(&self, order_id: u64, at: DateTime<Utc>) -> Result<(), String> {
        self.shared.lock().restamp_order(order_id, at)
    }

    pub fn order(&self, order_id: u64) -> Option<Value> {
        self.shared.lock().order_json(order_id)
    }

    /// An order's notes, oldest first.
    pub fn notes(&self, order_id: u64) -> Vec<Value> {
        self.shared
            .lock()
            .notes
            .get(&order_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Deliveries made so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }

    /// Subscribes `url` to `topic` (e.g. `order.created`), as `POST /webhooks` would.
    pub fn add_webhook(&self, topic: &str, url: &str, secret: &str) {
        self.shared.lock().add_webhook(topic, url, secret);
    }

    fn deliver(&self, deliveries: Vec<Delivery>) {
        deliver(&self.shared, deliveries);
    }
}

/// Sends webhook deliveries in the background: WooCommerce delivers from its action
/// scheduler, after the request that caused them.
pub(crate) fn deliver(shared: &Shared, deliveries: Vec<Delivery>) {
    for delivery in deliveries {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut request = reqwest::Client::new()
                .post(&delivery.url)
                .body(delivery.body.clone());
            for (name, value) in &delivery.headers {
                request = request.header(name, value);
            }
            let status = request.send().await.ok().map(|r| r.status().as_u16());
            shared
                .lock()
                .deliveries
                .push(Delivery { status, ..delivery });
        });
    }
}
