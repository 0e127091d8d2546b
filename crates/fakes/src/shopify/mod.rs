//! A Shopify shop's Admin GraphQL API (version 2026-10), as shopify.dev documents it:
//!
//! - `POST /admin/api/2026-10/graphql.json` with `X-Shopify-Access-Token`;
//! - every request checked against Shopify's own published schema (bundled SDL): an
//!   unknown field, argument or input field, or a missing required one, is refused with
//!   the real error shape before anything runs;
//! - the calculated query cost and leaky bucket (2,000 points, 100 restored per second;
//!   a query above 1,000 points is refused, one the bucket can't pay is `THROTTLED`),
//!   reported in `extensions.cost.throttleStatus`;
//! - connections paged by `first`/`after` (at most 250), `query:` search syntax,
//!   `sortKey`/`reverse`;
//! - products with options and variants through `productSet` (upsert by id, handle or
//!   custom id), prices through `productVariantsBulkUpdate`, stock per location through
//!   `inventorySetQuantities` (with its mandatory `changeFromQuantity`), customers through
//!   `customerSet`, orders with line items, taxes, transactions, refunds, fulfilment
//!   orders and fulfilments with tracking, `orderCancel`, `orderClose`, `tagsAdd`,
//!   `metafieldsSet`;
//! - bulk mutations: staged upload of a JSONL file, `bulkOperationRunMutation`, the
//!   operation polled through `bulkOperation(id:)`, results as JSONL;
//! - webhooks signed `X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(body, client secret))`,
//!   each delivery with its own `X-Shopify-Webhook-Id`.

mod bulk;
mod exec;
mod orders;
mod routes;
mod schema;
mod search;
mod store;

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::{Call, FakeError, TlsServer};

pub use orders::{OrderRequest, RefundRequest};
use store::Store;
pub use store::{gid, id_of};

/// The access token the fake accepts, the app's client secret webhooks are signed
/// with, and the API version it serves.
pub const ACCESS_TOKEN: &str = "shpat_kontor_test";
pub const CLIENT_SECRET: &str = "shpss_kontor_test";
pub const API_VERSION: &str = "2026-10";

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

/// A running fake shop; stops when dropped.
pub struct FakeShopify {
    server: TlsServer,
    shared: Shared,
}

impl FakeShopify {
    /// A shop selling in PLN with prices including tax and two locations, Warszawa
    /// (primary) and Kraków.
    pub async fn start() -> Result<FakeShopify, FakeError> {
        let shared = Shared(Arc::new(Mutex::new(Store::new())));
        let server = TlsServer::serve(routes::router(shared.clone())).await?;
        shared.lock().base_url = server.url();
        Ok(FakeShopify { server, shared })
    }

    /// The shop's address (served as `https://localhost:<port>`, a custom domain).
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn ca_pem(&self) -> &str {
        self.server.ca_pem()
    }

    /// Every HTTP call answered so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Each GraphQL request run so far, as `query <root fields>` / `mutation <root fields>`.
    pub fn operations(&self) -> Vec<String> {
        self.shared.lock().operations.clone()
    }

    pub fn clear_calls(&self) {
        let mut store = self.shared.lock();
        store.calls.clear();
        store.operations.clear();
    }

    /// Empties the cost bucket, as another app hammering the shop would.
    pub fn drain_bucket(&self) {
        let mut store = self.shared.lock();
        store.bucket.available = 0.0;
        store.bucket.at = std::time::Instant::now();
    }

    /// How many requests were refused as `THROTTLED`.
    pub fn throttled(&self) -> u64 {
        self.shared.lock().throttled
    }

    /// The next `count` mutations are run, and then answered `502 Bad Gateway`: the
    /// caller cannot tell that they happened.
    pub fn lose_answers_to_next_mutations(&self, count: u32) {
        self.shared.lock().lost_answers = Some((count, "mutation"));
    }

    /// As [`Self::lose_answers_to_next_mutations`], for queries.
    pub fn lose_answers_to_next_queries(&self, count: u32) {
        self.shared.lock().lost_answers = Some((count, "query"));
    }

    pub fn set_taxes_included(&self, included: bool) {
        self.shared.lock().taxes_included = included;
    }

    /// A product by one of its variants' SKUs, as the API shows it.
    pub fn product_by_sku(&self, sku: &str) -> Option<Value> {
        let store = self.shared.lock();
        let variant = store.find_sku(sku)?;
        let product = store.variants.get(&variant)?["_product"].as_u64()?;
        Some(store.product_json(product))
    }

    /// A variant by SKU, with its inventory item and levels.
    pub fn variant_by_sku(&self, sku: &str) -> Option<Value> {
        let store = self.shared.lock();
        store.find_sku(sku).map(|v| store.variant_json(v))
    }

    /// The `available` quantity of a SKU at a location (by name).
    pub fn available(&self, sku: &str, location: &str) -> Option<i64> {
        let store = self.shared.lock();
        let variant = store.find_sku(sku)?;
        let item = store.variants.get(&variant)?["_item"].as_u64()?;
        let location = store.location_by_name(location)?;
        store.levels.get(&(item, location)).map(|l| l.available)
    }

    /// (products, variants) in the shop.
    pub fn counts(&self) -> (usize, usize) {
        let store = self.shared.lock();
        (store.products.len(), store.variants.len())
    }

    /// How many media files the shop has fetched from their source URLs.
    pub fn media_fetches(&self) -> usize {
        self.shared.lock().media_fetches
    }

    pub fn customer_by_email(&self, email: &str) -> Option<Value> {
        self.shared
            .lock()
            .customers
            .values()
            .find(|c| c["email"].as_str() == Some(email))
            .cloned()
    }

    /// A shopper checks out. `orders/create` fires.
    pub fn place_order(&self, request: &OrderRequest) -> Result<Value, String> {
        let order = self.shared.lock().place_order(request)?;
        self.shared
            .lock()
            .order_event("orders/create", &order["id"]);
        deliver_pending(&self.shared);
        Ok(order)
    }

    /// The merchant refunds in the admin. `refunds/create` and `orders/updated` fire.
    pub fn refund(&self, order_id: u64, request: &RefundRequest) -> Result<Value, String> {
        let refund = {
            let mut store = self.shared.lock();
            let refund = store.refund(order_id, request)?;
            store.event(
                "refunds/create",
                json!({ "id": id_of(&refund["id"]), "order_id": order_id, "admin_graphql_api_id": refund["id"] }),
            );
            store.order_event("orders/updated", &json!(gid("Order", order_id)));
            refund
        };
        deliver_pending(&self.shared);
        Ok(refund)
    }

    pub fn order(&self, order_id: u64) -> Option<Value> {
        self.shared.lock().orders.get(&order_id).cloned()
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

    /// Sets an order's `updatedAt` (to the second, as Shopify shows it): what a change
    /// saved then, and committed only now, leaves.
    pub fn restamp_order(
        &self,
        order_id: u64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), String> {
        let mut store = self.shared.lock();
        let order = store.orders.get_mut(&order_id).ok_or("no such order")?;
        order["updatedAt"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        Ok(())
    }

    /// Subscribes `url` to `topic` (e.g. `orders/create`), as `webhookSubscriptionCreate`
    /// would.
    pub fn add_webhook(&self, topic: &str, url: &str) {
        self.shared
            .lock()
            .webhooks
            .push((topic.to_owned(), url.to_owned()));
    }

    /// Deliveries made so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }
}

impl Store {
    /// Queues a webhook for every subscription to `topic`.
    pub(crate) fn event(&mut self, topic: &str, body: Value) {
        self.events.push((topic.to_owned(), body));
    }

    pub(crate) fn order_event(&mut self, topic: &str, order_id: &Value) {
        if let Some(order) = id_of(order_id).and_then(|id| self.orders.get(&id)) {
            let body = orders::webhook_order(order);
            self.event(topic, body);
        }
    }

    pub(crate) fn order_event_for_fulfillment(&mut self, answer: &Value) {
        let Some(id) = answer["fulfillment"]["id"].as_str() else {
            return;
        };
        let order = self.orders.iter().find_map(|(_, o)| {
            o["fulfillments"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|f| f["id"] == id)
                .then(|| o["id"].clone())
        });
        if let Some(order) = order {
            self.order_event("orders/updated", &order);
        }
    }
}

/// Sends queued webhooks in the background, after the request that caused them, as
/// Shopify does.
pub(crate) fn deliver_pending(shared: &Shared) {
    let deliveries: Vec<Delivery> = {
        let mut store = shared.lock();
        let events = std::mem::take(&mut store.events);
        let mut out = Vec::new();
        for (topic, body) in events {
            let body = body.to_string().into_bytes();
            let hooks: Vec<String> = store
                .webhooks
                .iter()
                .filter(|(t, _)| *t == topic)
                .map(|(_, url)| url.clone())
                .collect();
            for url in hooks {
                let webhook_id = format!("kontor-fake-{}", store.next_id());
                let event_id = format!("event-{}", store.next_id());
                out.push(Delivery {
                    url,
                    headers: vec![
                        ("Content-Type".into(), "application/json".into()),
                        ("X-Shopify-Topic".into(), topic.clone()),
                        (
                            "X-Shopify-Hmac-Sha256".into(),
                            crate::hmac_base64(CLIENT_SECRET, &body),
                        ),
                        (
                            "X-Shopify-Shop-Domain".into(),
                            "kontor-test.myshopify.com".into(),
                        ),
                        ("X-Shopify-API-Version".into(), API_VERSION.into()),
                        ("X-Shopify-Webhook-Id".into(), webhook_id),
                        ("X-Shopify-Event-Id".into(), event_id),
                        ("X-Shopify-Triggered-At".into(), store.now()),
                    ],
                    body: body.clone(),
                    status: None,
                });
            }
        }
        out
    };
    bulk::start_pending(shared);
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
