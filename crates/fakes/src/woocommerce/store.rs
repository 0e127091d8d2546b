//! The store's records and the rules WooCommerce applies when they are written.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Timelike, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::Delivery;
use crate::Call;

/// The site's time zone: dates without `_gmt` are in it.
pub(crate) fn site_offset() -> FixedOffset {
    FixedOffset::east_opt(3600).unwrap_or_else(|| unreachable!("one hour is a valid offset"))
}

/// Now at WordPress' precision (whole seconds).
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.with_nanosecond(0).unwrap_or(now)
}

pub(crate) fn gmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

pub(crate) fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&site_offset())
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// A date parameter: ISO 8601, in the site's zone unless `is_gmt` or it names a zone.
pub(crate) fn parse_date(value: &str, is_gmt: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S").ok()?;
    if is_gmt {
        Some(naive.and_utc())
    } else {
        naive
            .and_local_timezone(site_offset())
            .single()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Money as WooCommerce prints it: two decimals.
pub(crate) fn amount(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

pub(crate) fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|s| Decimal::from_str(s).ok())
        .unwrap_or_default()
}

/// A refusal as WooCommerce words it.
#[derive(Debug, Clone)]
pub(crate) struct WcError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl WcError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        WcError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn json(&self) -> Value {
        json!({"code": self.code, "message": self.message, "data": {"status": self.status}})
    }

    fn invalid_param(name: &str, why: &str) -> Self {
        WcError::new(
            400,
            "rest_invalid_param",
            format!("Invalid parameter(s): {name} ({name} {why})"),
        )
    }
}

pub(crate) struct Webhook {
    pub id: u64,
    pub topic: String,
    pub url: String,
    pub secret: String,
}

pub(crate) struct Store {
    pub site_url: String,
    next_id: u64,
    pub currency: String,
    pub prices_include_tax: bool,
    /// Tax rates: (id, class slug, percent).
    pub taxes: Vec<(u64, String, Decimal)>,
    /// Products and variations by id (WordPress posts share one id sequence).
    pub products: BTreeMap<u64, Value>,
    /// SKU → product or variation id (WooCommerce's `wc_product_meta_lookup`).
    skus: HashMap<String, u64>,
    pub categories: BTreeMap<u64, Value>,
    pub customers: BTreeMap<u64, Value>,
    pub orders: BTreeMap<u64, Value>,
    /// Refunds by id, each with its order's id in `parent_id`.
    pub refunds: BTreeMap<u64, Value>,
    pub notes: BTreeMap<u64, Vec<Value>>,
    pub webhooks: Vec<Webhook>,
    pub deliveries: Vec<Delivery>,
    pub calls: Vec<Call>,
    pub throttle: Option<(u32, u64)>,
    /// Writes still to be made and then answered `503`, as a gateway that gave up
    /// waiting for the site would.
    pub lost_answers: u32,
    pub sideloads: usize,
    /// How far the site's clock runs behind the wall clock (see
    /// `FakeWooCommerce::set_clock_behind`).
    pub clock_behind: chrono::Duration,
}

/// Product fields a client may write, and their JSON types.
const PRODUCT_STRINGS: [&str; 11] = [
    "name",
    "type",
    "status",
    "description",
    "short_description",
    "sku",
    "regular_price",
    "sale_price",
    "tax_class",
    "weight",
    "tax_status",
];

impl Store {
    /// Now on the site's clock, to the second, as WordPress stamps.
    pub fn now(&self) -> DateTime<Utc> {
        now() - self.clock_behind
    }

    pub fn new() -> Store {
        Store {
            site_url: String::new(),
            next_id: 100,
            currency: "PLN".into(),
            prices_include_tax: false,
            taxes: vec![
                (1, "standard".into(), Decimal::from(23)),
                (2, "reduced-rate".into(), Decimal::from(8)),
                (3, "zero-rate".into(), Decimal::ZERO),
                (4, "vat-5".into(), Decimal::from(5)),
            ],
            products: BTreeMap::new(),
            skus: HashMap::new(),
            categories: BTreeMap::new(),
            customers: BTreeMap::new(),
            orders: BTreeMap::new(),
            refunds: BTreeMap::new(),
            notes: BTreeMap::new(),
            webhooks: Vec::new(),
            deliveries: Vec::new(),
            calls: Vec::new(),
            throttle: None,
            lost_answers: 0,
            clock_behind: chrono::Duration::zero(),
            sideloads: 0,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn find_sku(&self, sku: &str) -> Option<u64> {
        self.skus.get(sku).copied()
    }

    /// Keeps the SKU index in step with a product written as `product`.
    fn index_sku(&mut self, id: u64, product: &Value) {
        self.skus.retain(|_, owner| *owner != id);
        if let Some(sku) = product["sku"].as_str().filter(|s| !s.is_empty()) {
            self.skus.insert(sku.to_owned(), id);
        }
    }

    /// The tax rate (id, percent) a product's tax class carries.
    pub fn rate_of(&self, product: &Value) -> Option<(u64, Decimal)> {
        let mut class = product["tax_class"].as_str().unwrap_or_default();
        if class == "parent" {
            let parent = product["parent_id"].as_u64().unwrap_or_default();
            class = self
                .products
                .get(&parent)
                .map_or("", |p| p["tax_class"].as_str().unwrap_or_default());
        }
        let slug = if class.is_empty() { "standard" } else { class };
        self.taxes
            .iter()
            .find(|(_, c, _)| c == slug)
            .map(|(id, _, rate)| (*id, *rate))
    }

    // ---- products ----

    /// Creates a product (`parent` set: a variation of it).
    pub fn create_product(&mut self, input: &Value, parent: Option<u64>) -> Result<Value, WcError> {
        if let Some(parent_id) = parent {
            match self.products.get(&parent_id) {
                Some(p) if p["type"] == "variable" => {}
                _ => {
                    return Err(WcError::new(
                        404,
                        "woocommerce_rest_product_invalid_id",
                        "Invalid ID.",
                    ));
                }
            }
        }
        let id = self.next_id();
        let at = self.now();
        let mut product = json!({
            "id": id, "name": "", "slug": "", "type": "simple", "status": "publish",
            "description": "", "short_description": "", "sku": "", "price": "",
            "regular_price": "", "sale_price": "", "date_on_sale_from_gmt": null,
            "date_on_sale_to_gmt": null, "on_sale": false, "purchasable": false,
            "tax_status": "taxable", "tax_class": "", "manage_stock": false,
            "stock_quantity": null, "stock_status": "instock", "weight": "",
            "categories": [], "tags": [], "images": [], "attributes": [], "variations": [],
            "parent_id": 0, "meta_data": [],
            "date_created_gmt": gmt(at),
        });
        if let Some(parent_id) = parent {
            product["type"] = json!("variation");
            product["parent_id"] = json!(parent_id);
            product["tax_class"] = json!("parent");
            product["image"] = Value::Null;
        }
        // On a refusal WordPress has used the id; the post is discarded.
        self.apply(&mut product, input, id)?;
        if parent.is_none() && product["slug"] == "" {
            product["slug"] = json!(slug(product["name"].as_str().unwrap_or_default()));
        }
        self.index_sku(id, &product);
        self.products.insert(id, product);
        if let Some(parent_id) = parent
            && let Some(parent) = self.products.get_mut(&parent_id)
            && let Some(variations) = parent["variations"].as_array_mut()
        {
            variations.push(json!(id));
        }
        Ok(self.product_json(id))
    }

    pub fn update_product(
        &mut self,
        id: u64,
        input: &Value,
        parent: Option<u64>,
    ) -> Result<Value, WcError> {
        let invalid = || WcError::new(404, "woocommerce_rest_product_invalid_id", "Invalid ID.");
        let mut product = self.products.get(&id).cloned().ok_or_else(invalid)?;
        let is_variation = product["type"] == "variation";
        match parent {
            Some(parent) if !is_variation || product["parent_id"].as_u64() != Some(parent) => {
                return Err(invalid());
            }
            None if is_variation => return Err(invalid()),
            _ => {}
        }
        self.apply(&mut product, input, id)?;
        if self.products.get(&id).map(|p| &p["sku"]) != Some(&product["sku"]) {
            self.index_sku(id, &product);
        }
        self.products.insert(id, product);
        Ok(self.product_json(id))
    }

    /// Writes the fields of `input` into `product`, as `WC_REST_Products_Controller`
    /// would, or refuses the whole write.
    fn apply(&mut self, product: &mut Value, input: &Value, id: u64) -> Result<(), WcError> {
        let Some(input) = input.as_object() else {
            return Err(WcError::new(
                400,
                "rest_invalid_json",
                "Invalid JSON body passed.",
            ));
        };
        for key in PRODUCT_STRINGS {
            if let Some(value) = input.get(key)
                && !value.is_string()
            {
                return Err(WcError::invalid_param(key, "is not of type string."));
            }
        }
        if let Some(kind) = input.get("type").and_then(Value::as_str)
            && !["simple", "variable", "grouped", "external"].contains(&kind)
        {
            return Err(WcError::invalid_param(
                "type",
                "is not one of simple, grouped, external and variable.",
            ));
        }
        for key in ["regular_price", "sale_price"] {
            if let Some(price) = input.get(key).and_then(Value::as_str)
                && !price.is_empty()
                && Decimal::from_str(price).is_err()
            {
                return Err(WcError::invalid_param(key, "is not a valid price."));
            }
        }
        if let Some(quantity) = input.get("stock_quantity")
            && !(quantity.is_null() || quantity.is_i64())
        {
            return Err(WcError::invalid_param(
                "stock_quantity",
                "is not of type integer.",
            ));
        }
        if let Some(sku) = input.get("sku").and_then(Value::as_str)
            && !sku.is_empty()
            && self.find_sku(sku).is_some_and(|other| other != id)
        {
            return Err(WcError::new(
                400,
                "product_invalid_sku",
                "Invalid or duplicated SKU.",
            ));
        }
        for (key, value) in input {
            match key.as_str() {
                "id" => {}
                "meta_data" => merge_meta(product, value),
                "images" => {
                    let images = self.sideload(value);
                    product["images"] = images;
                }
                "image" => {
                    let images = self.sideload(&json!([value]));
                    product["image"] = images.get(0).cloned().unwrap_or(Value::Null);
                }
                "categories" => {
                    let known: Vec<Value> = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["id"].as_u64())
                        .filter_map(|id| self.categories.get(&id))
                        .map(|c| json!({"id": c["id"], "name": c["name"], "slug": c["slug"]}))
                        .collect();
                    product["categories"] = json!(known);
                }
                "attributes"
                | "manage_stock"
                | "stock_quantity"
                | "tags"
                | "date_on_sale_from_gmt"
                | "date_on_sale_to_gmt"
                | "dimensions" => {
                    product[key.as_str()] = value.clone();
                }
                key if PRODUCT_STRINGS.contains(&key) => product[key] = value.clone(),
                _ => {}
            }
        }
        product["date_modified_gmt"] = json!(gmt(self.now()));
        refresh_price_and_stock(product);
        Ok(())
    }

    /// Images by `src` are fetched and become new media ids; `{id}` keeps one.
    fn sideload(&mut self, images: &Value) -> Value {
        let mut out = Vec::new();
        for image in images.as_array().into_iter().flatten() {
            if let Some(id) = image["id"].as_u64().filter(|id| *id > 0) {
                out.push(json!({"id": id, "src": image["src"], "alt": image["alt"]}));
                continue;
            }
            let Some(src) = image["src"].as_str() else {
                continue;
            };
            self.sideloads += 1;
            let id = self.next_id();
            let name = src.rsplit('/').next().unwrap_or("image");
            out.push(json!({
                "id": id,
                "src": format!("{}/wp-content/uploads/{name}", self.site_url),
                "name": name,
                "alt": image["alt"].as_str().unwrap_or_default(),
            }));
        }
        json!(out)
    }

    pub fn delete_product(&mut self, id: u64) -> Result<Value, WcError> {
        let product = self.product_json(id);
        self.products.remove(&id).ok_or_else(|| {
            WcError::new(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        })?;
        self.skus.retain(|_, owner| *owner != id);
        Ok(product)
    }

    /// A product as the API shows it (dates in both zones).
    pub fn product_json(&self, id: u64) -> Value {
        let Some(product) = self.products.get(&id) else {
            return Value::Null;
        };
        let mut product = product.clone();
        for field in ["date_created", "date_modified"] {
            if let Some(at) = product[format!("{field}_gmt")]
                .as_str()
                .and_then(|s| parse_date(s, true))
            {
                product[field] = json!(local(at));
            }
        }
        product["permalink"] = json!(format!("{}/?p={id}", self.site_url));
        product
    }

    // ---- webhooks ----

    pub fn add_webhook(&mut self, topic: &str, url: &str, secret: &str) -> u64 {
        let id = self.webhooks.len() as u64 + 1;
        self.webhooks.push(Webhook {
            id,
            topic: topic.to_owned(),
            url: url.to_owned(),
            secret: secret.to_owned(),
        });
        id
    }

    /// The deliveries `topic` causes for `resource` (not sent yet).
    pub fn webhooks_for(&mut self, topic: &str, resource: &Value) -> Vec<Delivery> {
        let body = resource.to_string().into_bytes();
        let (kind, event) = topic.split_once('.').unwrap_or((topic, ""));
        let mut out = Vec::new();
        let hooks: Vec<(u64, String, String)> = self
            .webhooks
            .iter()
            .filter(|w| w.topic == topic)
            .map(|w| (w.id, w.url.clone(), w.secret.clone()))
            .collect();
        for (id, url, secret) in hooks {
            let delivery_id = self.next_id();
            out.push(Delivery {
                url,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("X-WC-Webhook-Source".into(), format!("{}/", self.site_url)),
                    ("X-WC-Webhook-Topic".into(), topic.into()),
                    ("X-WC-Webhook-Resource".into(), kind.into()),
                    ("X-WC-Webhook-Event".into(), event.into()),
                    ("X-WC-Webhook-Signature".into(), signature(&secret, &body)),
                    ("X-WC-Webhook-ID".into(), id.to_string()),
                    ("X-WC-Webhook-Delivery-ID".into(), delivery_id.to_string()),
                ],
                body: body.clone(),
                status: None,
            });
        }
        out
    }
}

/// `X-WC-Webhook-Signature`: base64 of the HMAC-SHA256 of the body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    crate::hmac_base64(secret, body)
}

fn merge_meta(product: &mut Value, input: &Value) {
    let mut meta: Vec<Value> = product["meta_data"].as_array().cloned().unwrap_or_default();
    for item in input.as_array().into_iter().flatten() {
        let Some(key) = item["key"].as_str() else {
            continue;
        };
        match meta.iter_mut().find(|m| m["key"] == key) {
            Some(existing) => existing["value"] = item["value"].clone(),
            None => {
                let id = meta.len() + 1;
                meta.push(json!({"id": id, "key": key, "value": item["value"]}));
            }
        }
    }
    product["meta_data"] = json!(meta);
}

/// `price`, `on_sale`, `purchasable` and `stock_status` follow from the other fields.
pub(crate) fn refresh_price_and_stock(product: &mut Value) {
    let at = now();
    let within = |field: &str, after: bool| {
        product[field]
            .as_str()
            .and_then(|s| parse_date(s, true))
            .is_none_or(|t| if after { at >= t } else { at < t })
    };
    let sale = product["sale_price"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let on_sale = !sale.is_empty()
        && within("date_on_sale_from_gmt", true)
        && within("date_on_sale_to_gmt", false);
    let price = if on_sale {
        sale
    } else {
        product["regular_price"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    product["on_sale"] = json!(on_sale);
    product["purchasable"] = json!(!price.is_empty() && product["status"] == "publish");
    product["price"] = json!(price);
    if product["manage_stock"] == true {
        let quantity = product["stock_quantity"].as_i64().unwrap_or_default();
        product["stock_status"] = json!(if quantity > 0 {
            "instock"
        } else {
            "outofstock"
        });
    }
}

pub(crate) fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}
