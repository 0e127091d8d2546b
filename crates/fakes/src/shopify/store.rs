//! The shop's state and what the API's root fields do with it. Objects are kept as JSON
//! shaped like the schema's types (ids as `gid://shopify/<Type>/<n>`, amounts as decimal
//! strings, `MoneyBag`s with `shopMoney`), so `exec` can cut any selection from them.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::search::Search;

pub fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// The number at the end of a global id (`gid://shopify/Product/7` → 7).
pub fn id_of(gid: &Value) -> Option<u64> {
    match gid {
        Value::String(s) => s.rsplit('/').next()?.split('?').next()?.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

pub fn money_bag(amount: Decimal, currency: &str) -> Value {
    let text = amount.round_dp(2).to_string();
    json!({
        "shopMoney": { "amount": text, "currencyCode": currency },
        "presentmentMoney": { "amount": text, "currencyCode": currency },
    })
}

/// A variant price as Shopify shows its `Money` scalar: always two decimals.
fn price_text(amount: Decimal) -> Value {
    let mut amount = amount.round_dp(2);
    amount.rescale(2);
    json!(amount.to_string())
}

pub fn user_error(field: &[&str], message: &str, code: &str) -> Value {
    json!({ "field": field, "message": message, "code": code })
}

/// Stock of one inventory item at one location.
#[derive(Debug, Clone, Copy, Default)]
pub struct Level {
    pub available: i64,
    pub committed: i64,
}

#[derive(Default)]
pub struct Store {
    next: u64,
    pub base_url: String,
    pub currency: String,
    pub taxes_included: bool,
    pub locations: Vec<Value>,
    pub products: BTreeMap<u64, Value>,
    /// Variant JSON, with `_product` and `_item` (ids) beside the schema's fields.
    pub variants: BTreeMap<u64, Value>,
    /// Inventory item id → (sku, tracked, variant id).
    pub items: BTreeMap<u64, (String, bool, u64)>,
    pub levels: BTreeMap<(u64, u64), Level>,
    pub customers: BTreeMap<u64, Value>,
    pub orders: BTreeMap<u64, Value>,
    pub order_number: u64,
    /// Staged uploads by key, and bulk operations' result files by operation id.
    pub uploads: HashMap<String, Vec<u8>>,
    pub bulk: BTreeMap<u64, Value>,
    pub results: HashMap<u64, String>,
    /// Media fetched from `originalSource` URLs.
    pub media_fetches: usize,
    pub pending_bulk: Vec<u64>,
    pub calls: Vec<crate::Call>,
    pub operations: Vec<String>,
    pub bucket: super::routes::Bucket,
    pub throttled: u64,
    /// Requests of one kind (`mutation` or `query`) still to be run and then answered
    /// `502 Bad Gateway`, as a proxy that gave up waiting would.
    pub lost_answers: Option<(u32, &'static str)>,
    /// (topic, url) subscriptions, events waiting to be delivered, deliveries made.
    pub webhooks: Vec<(String, String)>,
    pub events: Vec<(String, Value)>,
    pub deliveries: Vec<super::Delivery>,
    /// How far the shop's clock runs behind the wall clock (see `FakeShopify::set_clock_behind`).
    pub clock_behind: chrono::Duration,
}

impl Store {
    /// Now on the shop's clock, as Shopify writes times.
    pub fn now(&self) -> String {
        (Utc::now() - self.clock_behind).to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// A shop selling in PLN with prices entered including tax (Shopify's default for
    /// EU shops), with two locations.
    pub fn new() -> Store {
        let mut store = Store {
            next: 1000,
            currency: "PLN".into(),
            taxes_included: true,
            ..Store::default()
        };
        for (name, primary) in [("Warszawa", true), ("Kraków", false)] {
            let id = store.next_id();
            store.locations.push(json!({
                "__typename": "Location", "id": gid("Location", id), "name": name,
                "isActive": true, "isPrimary": primary, "fulfillsOnlineOrders": true,
                "legacyResourceId": id.to_string(),
            }));
        }
        store
    }

    pub fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    pub fn shop(&self) -> Value {
        json!({
            "__typename": "Shop", "id": gid("Shop", 1), "name": "Kontor Test Shop",
            "myshopifyDomain": "kontor-test.myshopify.com", "currencyCode": self.currency,
            "taxesIncluded": self.taxes_included, "ianaTimezone": "Europe/Warsaw",
            "email": "shop@example.com", "contactEmail": "shop@example.com",
            "primaryDomain": { "host": "shop.example.com", "url": "https://shop.example.com" },
        })
    }

    fn location_ids(&self) -> Vec<u64> {
        self.locations
            .iter()
            .filter_map(|l| id_of(&l["id"]))
            .collect()
    }

    // ---- rendering -------------------------------------------------------------

    pub fn item_json(&self, item: u64) -> Value {
        let Some((sku, tracked, variant)) = self.items.get(&item) else {
            return Value::Null;
        };
        let levels: Vec<Value> = self
            .levels
            .range((item, 0)..=(item, u64::MAX))
            .map(|(&(_, location), level)| {
                let location = self
                    .locations
                    .iter()
                    .find(|l| id_of(&l["id"]) == Some(location))
                    .cloned()
                    .unwrap_or(Value::Null);
                json!({
                    "__typename": "InventoryLevel",
                    "id": format!("gid://shopify/InventoryLevel/{item}?inventory_item_id={item}"),
                    "isActive": true,
                    "location": location,
                    "quantities": [
                        { "name": "available", "quantity": level.available },
                        { "name": "committed", "quantity": level.committed },
                        { "name": "on_hand", "quantity": level.available + level.committed },
                    ],
                })
            })
            .collect();
        json!({
            "__typename": "InventoryItem", "id": gid("InventoryItem", item), "sku": sku,
            "tracked": tracked, "inventoryLevels": levels,
            "variant": { "id": gid("ProductVariant", *variant), "sku": sku },
        })
    }

    pub fn variant_json(&self, variant: u64) -> Value {
        let Some(stored) = self.variants.get(&variant) else {
            return Value::Null;
        };
        let mut out = stored.clone();
        let item = stored["_item"].as_u64().unwrap_or_default();
        let product = stored["_product"].as_u64().unwrap_or_default();
        out["inventoryItem"] = self.item_json(item);
        out["inventoryQuantity"] = json!(
            self.levels
                .range((item, 0)..=(item, u64::MAX))
                .map(|(_, l)| l.available)
                .sum::<i64>()
        );
        out["product"] = self
            .products
            .get(&product)
            .map(|p| json!({ "__typename": "Product", "id": p["id"], "title": p["title"], "handle": p["handle"], "status": p["status"] }))
            .unwrap_or(Value::Null);
        if let Some(object) = out.as_object_mut() {
            object.retain(|key, _| !key.starts_with('_'));
        }
        out
    }

    pub fn product_json(&self, product: u64) -> Value {
        let Some(stored) = self.products.get(&product) else {
            return Value::Null;
        };
        let mut out = stored.clone();
        let variants: Vec<Value> = stored["_variants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .map(|v| self.variant_json(v))
            .collect();
        out["variantsCount"] = json!({ "count": variants.len(), "precision": "EXACT" });
        out["variants"] = Value::Array(variants);
        if let Some(object) = out.as_object_mut() {
            object.retain(|key, _| !key.starts_with('_'));
        }
        out
    }

    pub fn find_sku(&self, sku: &str) -> Option<u64> {
        self.variants
            .iter()
            .find(|(_, v)| v["sku"].as_str() == Some(sku))
            .map(|(id, _)| *id)
    }

    // ---- queries ----------------------------------------------------------------

    /// A root query field's whole answer (connections as arrays, paged later).
    pub fn query(&mut self, field: &str, args: &Map<String, Value>) -> Result<Value, String> {
        let search = Search::parse(args.get("query").and_then(Value::as_str).unwrap_or(""));
        let by_key = |list: &mut Vec<Value>, key: &str| {
            list.sort_by(|a, b| {
                a[key]
                    .as_str()
                    .cmp(&b[key].as_str())
                    .then_with(|| id_of(&a["id"]).cmp(&id_of(&b["id"])))
            })
        };
        let sort = args.get("sortKey").and_then(Value::as_str).unwrap_or("ID");
        Ok(match field {
            "shop" => self.shop(),
            "locations" => Value::Array(
                self.locations
                    .iter()
                    .filter(|l| search.matches(|key| location_field(l, key)))
                    .cloned()
                    .collect(),
            ),
            "location" => self
                .locations
                .iter()
                .find(|l| Some(&l["id"]) == args.get("id"))
                .cloned()
                .unwrap_or(Value::Null),
            "products" => {
                let mut list: Vec<Value> = self
                    .products
                    .keys()
                    .map(|&id| self.product_json(id))
                    .filter(|p| search.matches(|key| product_field(p, key)))
                    .collect();
                if sort == "UPDATED_AT" {
                    by_key(&mut list, "updatedAt");
                }
                Value::Array(list)
            }
            "product" => args
                .get("id")
                .and_then(id_of)
                .map_or(Value::Null, |id| self.product_json(id)),
            "productByIdentifier" => {
                let identifier = args.get("identifier").cloned().unwrap_or_default();
                self.find_product(&identifier)
                    .map_or(Value::Null, |id| self.product_json(id))
            }
            "productVariants" => {
                let mut list: Vec<Value> = self
                    .variants
                    .keys()
                    .map(|&id| self.variant_json(id))
                    .filter(|v| search.matches(|key| variant_field(v, key)))
                    .collect();
                if sort == "UPDATED_AT" {
                    by_key(&mut list, "updatedAt");
                }
                Value::Array(list)
            }
            "productVariant" => args
                .get("id")
                .and_then(id_of)
                .map_or(Value::Null, |id| self.variant_json(id)),
            "inventoryItem" => args
                .get("id")
                .and_then(id_of)
                .map_or(Value::Null, |id| self.item_json(id)),
            "orders" => {
                let mut list: Vec<Value> = self
                    .orders
                    .values()
                    .filter(|o| search.matches(|key| order_field(o, key)))
                    .cloned()
                    .collect();
                match sort {
                    "UPDATED_AT" => by_key(&mut list, "updatedAt"),
                    "CREATED_AT" => by_key(&mut list, "createdAt"),
                    "ID" => {}
                    _ => by_key(&mut list, "processedAt"),
                }
                Value::Array(list)
            }
            "order" => args
                .get("id")
                .and_then(id_of)
                .and_then(|id| self.orders.get(&id).cloned())
                .unwrap_or(Value::Null),
            "customers" => {
                let mut list: Vec<Value> = self
                    .customers
                    .values()
                    .filter(|c| search.matches(|key| customer_field(c, key)))
                    .cloned()
                    .collect();
                if sort == "UPDATED_AT" {
                    by_key(&mut list, "updatedAt");
                }
                Value::Array(list)
            }
            "customer" => args
                .get("id")
                .and_then(id_of)
                .and_then(|id| self.customers.get(&id).cloned())
                .unwrap_or(Value::Null),
            "bulkOperation" => args
                .get("id")
                .and_then(id_of)
                .and_then(|id| self.bulk.get(&id).cloned())
                .unwrap_or(Value::Null),
            "currentBulkOperation" => {
                let kind = args.get("type").and_then(Value::as_str).unwrap_or("QUERY");
                self.bulk
                    .values()
                    .rev()
                    .find(|b| b["type"] == kind)
                    .cloned()
                    .unwrap_or(Value::Null)
            }
            "node" => self.node(args.get("id").unwrap_or(&Value::Null)),
            "nodes" => Value::Array(
                args.get("ids")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|id| self.node(id))
                    .collect(),
            ),
            other => return Err(format!("the fake does not answer `{other}`")),
        })
    }

    fn node(&self, id: &Value) -> Value {
        let Some(text) = id.as_str() else {
            return Value::Null;
        };
        let Some(n) = id_of(id) else {
            return Value::Null;
        };
        let kind = text
            .trim_start_matches("gid://shopify/")
            .split('/')
            .next()
            .unwrap_or_default();
        match kind {
            "Product" => self.product_json(n),
            "ProductVariant" => self.variant_json(n),
            "InventoryItem" => self.item_json(n),
            "Order" => self.orders.get(&n).cloned().unwrap_or(Value::Null),
            "Customer" => self.customers.get(&n).cloned().unwrap_or(Value::Null),
            "BulkOperation" => self.bulk.get(&n).cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    pub fn find_product(&self, identifier: &Value) -> Option<u64> {
        if let Some(id) = identifier.get("id").and_then(id_of) {
            return self.products.contains_key(&id).then_some(id);
        }
        if let Some(handle) = identifier.get("handle").and_then(Value::as_str) {
            return self
                .products
                .iter()
                .find(|(_, p)| p["handle"] == handle)
                .map(|(id, _)| *id);
        }
        let custom = identifier.get("customId")?;
        self.products
            .iter()
            .find(|(_, p)| {
                p["metafields"].as_array().into_iter().flatten().any(|m| {
                    m["namespace"] == custom["namespace"]
                        && m["key"] == custom["key"]
                        && m["value"] == custom["value"]
                })
            })
            .map(|(id, _)| *id)
    }

    // ---- stock ------------------------------------------------------------------

    /// Creates an inventory item for a new variant, stocked (at zero) at every active
    /// location, as a shop set to stock new products everywhere does.
    fn new_item(&mut self, sku: &str, tracked: bool, variant: u64) -> u64 {
        let item = self.next_id();
        self.items.insert(item, (sku.to_owned(), tracked, variant));
        for location in self.location_ids() {
            self.levels.insert((item, location), Level::default());
        }
        item
    }

    pub fn location_by_name(&self, name: &str) -> Option<u64> {
        self.locations
            .iter()
            .find(|l| l["name"] == name)
            .and_then(|l| id_of(&l["id"]))
    }

    pub fn primary_location(&self) -> u64 {
        self.locations
            .iter()
            .find(|l| l["isPrimary"] == true)
            .and_then(|l| id_of(&l["id"]))
            .unwrap_or_default()
    }

    pub fn touch_variant(&mut self, variant: u64) {
        let at = self.now();
        let product = self
            .variants
            .get_mut(&variant)
            .map(|v| {
                v["updatedAt"] = json!(at);
                v["_product"].as_u64().unwrap_or_default()
            })
            .unwrap_or_default();
        if let Some(p) = self.products.get_mut(&product) {
            p["updatedAt"] = json!(at);
        }
    }

    // ---- products -----------------------------------------------------------------

    /// `productSet`: creates or replaces a product with its options and variants.
    /// Variants are matched to existing ones by id, else by their option values;
    /// variants left out are deleted, as the documentation says.
    pub fn product_set(&mut self, identifier: Option<&Value>, input: &Value) -> Value {
        let mut errors = Vec::new();
        let existing = match identifier.filter(|i| !i.is_null()) {
            Some(identifier) => {
                let found = self.find_product(identifier);
                if found.is_none() && identifier.get("id").is_some() {
                    errors.push(user_error(
                        &["identifier", "id"],
                        "Product does not exist",
                        "PRODUCT_DOES_NOT_EXIST",
                    ));
                }
                found
            }
            None => match input.get("id") {
                Some(id) => {
                    let found = id_of(id).filter(|id| self.products.contains_key(id));
                    if found.is_none() {
                        errors.push(user_error(
                            &["input", "id"],
                            "Product does not exist",
                            "PRODUCT_DOES_NOT_EXIST",
                        ));
                    }
                    found
                }
                None => None,
            },
        };
        let title = input["title"].as_str().map(str::trim).unwrap_or_default();
        if existing.is_none() && title.is_empty() {
            errors.push(user_error(
                &["input", "title"],
                "Title can't be blank",
                "BLANK",
            ));
        }
        let options: Vec<(String, Vec<String>)> = input["productOptions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                (
                    o["name"].as_str().unwrap_or_default().to_owned(),
                    o["values"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v["name"].as_str().map(str::to_owned))
                        .collect(),
                )
            })
            .collect();
        let variants: Vec<&Value> = input["variants"].as_array().into_iter().flatten().collect();
        if input.get("variants").is_some() && options.is_empty() {
            errors.push(user_error(
                &["input", "productOptions"],
                "Options must be specified when variants are given",
                "INVALID_INPUT",
            ));
        }
        let mut combinations: Vec<Vec<(String, String)>> = Vec::new();
        for (n, variant) in variants.iter().enumerate() {
            let mut combination = Vec::new();
            for value in variant["optionValues"].as_array().into_iter().flatten() {
                let option = value["optionName"].as_str().unwrap_or_default();
                let name = value["name"].as_str().unwrap_or_default();
                let known = options
                    .iter()
                    .any(|(o, values)| o == option && values.iter().any(|v| v == name));
                if !known {
                    errors.push(user_error(
                        &["input", "variants", &n.to_string(), "optionValues"],
                        &format!("Option value '{name}' of option '{option}' does not exist"),
                        "OPTION_VALUE_DOES_NOT_EXIST",
                    ));
                }
                combination.push((option.to_owned(), name.to_owned()));
            }
            if combination.len() != options.len() {
                errors.push(user_error(
                    &["input", "variants", &n.to_string(), "optionValues"],
                    "Each variant must have a value for every option",
                    "INVALID_VARIANT",
                ));
            }
            if combinations.contains(&combination) {
                let title: Vec<&str> = combination.iter().map(|(_, v)| v.as_str()).collect();
                errors.push(user_error(
                    &["input", "variants", &n.to_string()],
                    &format!("The variant '{}' already exists.", title.join(" / ")),
                    "DUPLICATE_VARIANT",
                ));
            }
            combinations.push(combination);
            if let Some(price) = variant.get("price").filter(|p| !p.is_null())
                && decimal(price).is_none_or(|p| p < Decimal::ZERO)
            {
                errors.push(user_error(
                    &["input", "variants", &n.to_string(), "price"],
                    "Price must be greater than or equal to 0",
                    "INVALID_VARIANT",
                ));
            }
        }
        if variants.len() > 2048 {
            errors.push(user_error(
                &["input", "variants"],
                "A product can have at most 2048 variants",
                "VARIANTS_OVER_LIMIT",
            ));
        }
        if !errors.is_empty() {
            return json!({ "product": null, "productSetOperation": null, "userErrors": errors });
        }

        let at = self.now();
        let id = existing.unwrap_or_else(|| self.next_id());
        let mut product = self.products.get(&id).cloned().unwrap_or_else(|| {
            json!({
                "__typename": "Product", "id": gid("Product", id), "createdAt": at,
                "status": "ACTIVE", "tags": [], "vendor": "", "productType": "",
                "descriptionHtml": "", "metafields": [], "media": [], "_variants": [],
                "legacyResourceId": id.to_string(),
            })
        });
        for key in [
            "title",
            "descriptionHtml",
            "vendor",
            "productType",
            "status",
            "tags",
        ] {
            if let Some(value) = input.get(key) {
                product[key] = value.clone();
            }
        }
        if let Some(handle) = identifier.and_then(|i| i.get("handle")) {
            product["handle"] = handle.clone();
        }
        if let Some(handle) = input.get("handle") {
            product["handle"] = handle.clone();
        }
        if product["handle"].as_str().is_none_or(str::is_empty) {
            let base = handle_of(product["title"].as_str().unwrap_or_default());
            let mut handle = base.clone();
            let mut n = 1;
            while self
                .products
                .iter()
                .any(|(other, p)| *other != id && p["handle"] == handle.as_str())
            {
                n += 1;
                handle = format!("{base}-{n}");
            }
            product["handle"] = json!(handle);
        }
        if let Some(metafields) = input["metafields"].as_array() {
            merge_metafields(&mut product, metafields);
        }
        if let Some(files) = input["files"].as_array() {
            let old: Vec<Value> = product["media"].as_array().cloned().unwrap_or_default();
            let mut media = Vec::new();
            for file in files {
                let source = file["originalSource"].as_str().unwrap_or_default();
                match old.iter().find(|m| m["_source"] == source) {
                    Some(kept) => media.push(kept.clone()),
                    None => {
                        self.media_fetches += 1;
                        let media_id = self.next_id();
                        media.push(json!({
                            "__typename": "MediaImage", "id": gid("MediaImage", media_id),
                            "alt": file["alt"], "mediaContentType": "IMAGE", "status": "READY",
                            "_source": source,
                            "preview": { "image": { "url": source } },
                        }));
                    }
                }
            }
            product["media"] = Value::Array(media);
        }
        if !options.is_empty() {
            product["options"] = Value::Array(
                options
                    .iter()
                    .enumerate()
                    .map(|(n, (name, values))| {
                        json!({
                            "id": gid("ProductOption", id * 10 + n as u64),
                            "name": name, "position": n + 1, "values": values,
                            "optionValues": values.iter().map(|v| json!({ "name": v, "hasVariants": true })).collect::<Vec<_>>(),
                        })
                    })
                    .collect(),
            );
        }
        product["updatedAt"] = json!(at);

        if input.get("variants").is_some() {
            let old: Vec<u64> = product["_variants"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_u64)
                .collect();
            let mut kept = Vec::new();
            for (n, (variant, combination)) in variants.iter().zip(&combinations).enumerate() {
                let selected: Vec<Value> = combination
                    .iter()
                    .map(|(name, value)| json!({ "name": name, "value": value }))
                    .collect();
                let matched = variant
                    .get("id")
                    .and_then(id_of)
                    .filter(|v| old.contains(v))
                    .or_else(|| {
                        old.iter().copied().find(|v| {
                            !kept.contains(v)
                                && self.variants.get(v).is_some_and(|stored| {
                                    stored["selectedOptions"] == Value::Array(selected.clone())
                                })
                        })
                    });
                let variant_id = matched.unwrap_or_else(|| self.next_id());
                let sku = variant["sku"]
                    .as_str()
                    .or_else(|| variant["inventoryItem"]["sku"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                let tracked = variant["inventoryItem"]["tracked"]
                    .as_bool()
                    .unwrap_or(true);
                let mut stored = match matched.and_then(|v| self.variants.get(&v)) {
                    Some(stored) => stored.clone(),
                    None => {
                        let item = self.new_item(&sku, tracked, variant_id);
                        json!({
                            "__typename": "ProductVariant", "id": gid("ProductVariant", variant_id),
                            "createdAt": at, "price": "0.00", "compareAtPrice": null,
                            "taxable": true, "barcode": null, "inventoryPolicy": "DENY",
                            "legacyResourceId": variant_id.to_string(),
                            "_item": item, "_product": id,
                        })
                    }
                };
                let item = stored["_item"].as_u64().unwrap_or_default();
                if let Some(entry) = self.items.get_mut(&item) {
                    entry.0 = sku.clone();
                    entry.1 = tracked;
                }
                stored["sku"] = json!(sku);
                stored["position"] = json!(n + 1);
                stored["selectedOptions"] = Value::Array(selected);
                stored["title"] = json!(
                    combination
                        .iter()
                        .map(|(_, v)| v.as_str())
                        .collect::<Vec<_>>()
                        .join(" / ")
                );
                for key in [
                    "price",
                    "compareAtPrice",
                    "barcode",
                    "taxable",
                    "inventoryPolicy",
                ] {
                    if let Some(value) = variant.get(key) {
                        stored[key] = match key {
                            "price" | "compareAtPrice" => {
                                decimal(value).map_or(Value::Null, price_text)
                            }
                            _ => value.clone(),
                        };
                    }
                }
                if let Some(metafields) = variant["metafields"].as_array() {
                    merge_metafields(&mut stored, metafields);
                }
                stored["updatedAt"] = json!(at);
                self.variants.insert(variant_id, stored);
                kept.push(variant_id);
            }
            for gone in old.iter().filter(|v| !kept.contains(v)) {
                if let Some(stored) = self.variants.remove(gone) {
                    let item = stored["_item"].as_u64().unwrap_or_default();
                    self.items.remove(&item);
                    self.levels.retain(|(i, _), _| *i != item);
                }
            }
            product["_variants"] = json!(kept);
        }
        self.products.insert(id, product);
        json!({ "product": self.product_json(id), "productSetOperation": null, "userErrors": [] })
    }

    /// `productVariantsBulkUpdate`: prices and other fields of variants of one product.
    pub fn variants_bulk_update(&mut self, product_id: &Value, variants: &Value) -> Value {
        let Some(product) = id_of(product_id).filter(|p| self.products.contains_key(p)) else {
            return json!({ "product": null, "productVariants": null, "userErrors": [
                user_error(&["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
            ]});
        };
        let mut errors = Vec::new();
        let mut updated = Vec::new();
        for (n, input) in variants.as_array().into_iter().flatten().enumerate() {
            let Some(id) = input.get("id").and_then(id_of).filter(|v| {
                self.variants
                    .get(v)
                    .is_some_and(|s| s["_product"] == product)
            }) else {
                errors.push(user_error(
                    &["variants", &n.to_string(), "id"],
                    "Product variant does not exist",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                ));
                continue;
            };
            if let Some(stored) = self.variants.get_mut(&id) {
                for key in ["price", "compareAtPrice"] {
                    if let Some(value) = input.get(key) {
                        stored[key] = decimal(value).map_or(Value::Null, price_text);
                    }
                }
                for key in ["barcode", "taxable", "inventoryPolicy"] {
                    if let Some(value) = input.get(key) {
                        stored[key] = value.clone();
                    }
                }
            }
            self.touch_variant(id);
            updated.push(id);
        }
        if !errors.is_empty() {
            return json!({ "product": null, "productVariants": null, "userErrors": errors });
        }
        json!({
            "product": self.product_json(product),
            "productVariants": updated.iter().map(|&v| self.variant_json(v)).collect::<Vec<_>>(),
            "userErrors": [],
        })
    }

    /// `inventorySetQuantities` for the `available` quantity, with the mandatory
    /// compare-and-set (`changeFromQuantity`, null to skip).
    pub fn set_quantities(&mut self, input: &Value) -> Value {
        let name = input["name"].as_str().unwrap_or_default();
        if name != "available" && name != "on_hand" {
            return json!({ "inventoryAdjustmentGroup": null, "userErrors": [
                user_error(&["input", "name"], "The quantity name must be either 'available' or 'on_hand'", "INVALID_NAME")
            ]});
        }
        let quantities: Vec<&Value> = input["quantities"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        if quantities.len() > 250 {
            return json!({ "inventoryAdjustmentGroup": null, "userErrors": [
                user_error(&["input", "quantities"], "The quantities can't contain more than 250 items", "INVALID_QUANTITY_INPUT")
            ]});
        }
        let mut errors = Vec::new();
        let mut planned = Vec::new();
        for (n, q) in quantities.iter().enumerate() {
            let field = |f: &str| {
                vec![
                    "input".to_owned(),
                    "quantities".into(),
                    n.to_string(),
                    f.into(),
                ]
            };
            let Some(item) = q["inventoryItemId"]
                .as_str()
                .and_then(|s| id_of(&json!(s)))
                .filter(|i| self.items.contains_key(i))
            else {
                errors.push(json!({ "field": field("inventoryItemId"), "message": "The specified inventory item could not be found.", "code": "INVALID_INVENTORY_ITEM" }));
                continue;
            };
            let Some(location) = q["locationId"]
                .as_str()
                .and_then(|s| id_of(&json!(s)))
                .filter(|l| self.location_ids().contains(l))
            else {
                errors.push(json!({ "field": field("locationId"), "message": "The specified location could not be found.", "code": "INVALID_LOCATION" }));
                continue;
            };
            let Some(level) = self.levels.get(&(item, location)) else {
                errors.push(json!({ "field": field("locationId"), "message": "The specified inventory item is not stocked at the location.", "code": "ITEM_NOT_STOCKED_AT_LOCATION" }));
                continue;
            };
            if q.get("changeFromQuantity").is_none() {
                errors.push(json!({ "field": field("changeFromQuantity"), "message": "changeFromQuantity is required; pass null to skip the check.", "code": "INVALID_QUANTITY_INPUT" }));
                continue;
            }
            let current = if name == "available" {
                level.available
            } else {
                level.available + level.committed
            };
            if let Some(expected) = q["changeFromQuantity"].as_i64()
                && expected != current
            {
                errors.push(json!({ "field": field("changeFromQuantity"), "message": "The specified compare quantity does not match the current quantity.", "code": "CHANGE_FROM_QUANTITY_STALE" }));
                continue;
            }
            let Some(quantity) = q["quantity"].as_i64() else {
                continue;
            };
            planned.push((item, location, quantity, current));
        }
        if !errors.is_empty() {
            return json!({ "inventoryAdjustmentGroup": null, "userErrors": errors });
        }
        let mut changes = Vec::new();
        for (item, location, quantity, current) in planned {
            if let Some(level) = self.levels.get_mut(&(item, location)) {
                level.available = if name == "available" {
                    quantity
                } else {
                    quantity - level.committed
                };
            }
            changes.push(json!({ "name": name, "delta": quantity - current, "quantityAfterChange": quantity }));
            let variant = self
                .items
                .get(&item)
                .map(|(_, _, v)| *v)
                .unwrap_or_default();
            self.touch_variant(variant);
        }
        json!({
            "inventoryAdjustmentGroup": {
                "id": gid("InventoryAdjustmentGroup", self.next_id()), "createdAt": self.now(),
                "reason": input["reason"], "referenceDocumentUri": input["referenceDocumentUri"],
                "changes": changes,
            },
            "userErrors": [],
        })
    }

    // ---- customers ------------------------------------------------------------------

    /// `customerSet`: creates or updates a customer found by the identifier.
    pub fn customer_set(&mut self, identifier: Option<&Value>, input: &Value) -> Value {
        let found = identifier.and_then(|i| {
            self.customers
                .iter()
                .find(|(id, c)| {
                    i.get("id").and_then(id_of) == Some(**id)
                        || i.get("email").is_some_and(|e| {
                            e.as_str().map(str::to_lowercase)
                                == c["email"].as_str().map(str::to_lowercase)
                        })
                        || i.get("phone")
                            .is_some_and(|p| !p.is_null() && *p == c["phone"])
                })
                .map(|(id, _)| *id)
        });
        if let Some(email) = identifier.and_then(|i| i.get("email"))
            && input.get("email").is_some_and(|e| e != email)
        {
            return json!({ "customer": null, "userErrors": [
                user_error(&["input", "email"], "The email in the input must match the identifier", "INVALID_INPUT")
            ]});
        }
        let email = input["email"].as_str().unwrap_or_default();
        if !email.is_empty() && !email.contains('@') {
            return json!({ "customer": null, "userErrors": [
                user_error(&["input", "email"], "Email is invalid", "INVALID")
            ]});
        }
        let at = self.now();
        let id = found.unwrap_or_else(|| self.next_id());
        let mut customer = self.customers.get(&id).cloned().unwrap_or_else(|| {
            json!({
                "__typename": "Customer", "id": gid("Customer", id), "createdAt": at,
                "tags": [], "taxExempt": false, "note": null, "phone": null,
                "addresses": [], "defaultAddress": null, "metafields": [],
                "legacyResourceId": id.to_string(), "state": "DISABLED",
            })
        });
        for key in [
            "email",
            "firstName",
            "lastName",
            "phone",
            "note",
            "tags",
            "taxExempt",
            "locale",
        ] {
            if let Some(value) = input.get(key) {
                customer[key] = value.clone();
            }
        }
        if let Some(addresses) = input["addresses"].as_array() {
            let list: Vec<Value> = addresses
                .iter()
                .enumerate()
                .map(|(n, a)| {
                    let mut address = a.clone();
                    address["id"] = json!(gid("MailingAddress", id * 100 + n as u64));
                    address["countryCodeV2"] = a["countryCode"].clone();
                    address
                })
                .collect();
            customer["defaultAddress"] = list.first().cloned().unwrap_or(Value::Null);
            customer["addresses"] = Value::Array(list);
        }
        let name = [
            customer["firstName"].as_str(),
            customer["lastName"].as_str(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        customer["displayName"] = json!(name);
        customer["updatedAt"] = json!(at);
        self.customers.insert(id, customer.clone());
        json!({ "customer": customer, "userErrors": [] })
    }

    pub fn metafields_set(&mut self, inputs: &Value) -> Value {
        let mut set = Vec::new();
        let mut errors = Vec::new();
        for (n, input) in inputs.as_array().into_iter().flatten().enumerate() {
            let owner = &input["ownerId"];
            let Some(id) = id_of(owner) else {
                continue;
            };
            let kind = owner.as_str().unwrap_or_default();
            let target = if kind.contains("/Order/") {
                self.orders.get_mut(&id)
            } else if kind.contains("/Product/") {
                self.products.get_mut(&id)
            } else if kind.contains("/Customer/") {
                self.customers.get_mut(&id)
            } else {
                None
            };
            match target {
                Some(object) => {
                    merge_metafields(object, std::slice::from_ref(input));
                    set.push(json!({ "namespace": input["namespace"], "key": input["key"], "value": input["value"], "type": input["type"] }));
                }
                None => errors.push(user_error(
                    &["metafields", &n.to_string(), "ownerId"],
                    "Owner does not exist",
                    "INVALID",
                )),
            }
        }
        json!({ "metafields": set, "userErrors": errors })
    }
}

pub fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

/// A URL handle from a title, as Shopify makes them: lower case, words joined by `-`.
pub fn handle_of(title: &str) -> String {
    let mut out = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn merge_metafields(object: &mut Value, inputs: &[Value]) {
    let mut list: Vec<Value> = object["metafields"].as_array().cloned().unwrap_or_default();
    for input in inputs {
        let namespace = input
            .get("namespace")
            .filter(|n| !n.is_null())
            .cloned()
            .unwrap_or(json!("$app"));
        match list
            .iter_mut()
            .find(|m| m["namespace"] == namespace && m["key"] == input["key"])
        {
            Some(existing) => existing["value"] = input["value"].clone(),
            None => list.push(json!({
                "namespace": namespace, "key": input["key"], "value": input["value"],
                "type": input["type"],
            })),
        }
    }
    object["metafields"] = Value::Array(list);
}

// ---- search fields ------------------------------------------------------------------

fn location_field(location: &Value, key: &str) -> Vec<String> {
    match key {
        "name" => vec![location["name"].as_str().unwrap_or_default().to_owned()],
        "id" => vec![id_of(&location["id"]).unwrap_or_default().to_string()],
        _ => Vec::new(),
    }
}

fn variant_field(variant: &Value, key: &str) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match key {
        "sku" => vec![text(&variant["sku"])],
        "barcode" => vec![text(&variant["barcode"])],
        "id" => vec![id_of(&variant["id"]).unwrap_or_default().to_string()],
        "product_id" => vec![
            id_of(&variant["product"]["id"])
                .unwrap_or_default()
                .to_string(),
        ],
        "updated_at" => vec![text(&variant["updatedAt"])],
        "title" | "" => vec![text(&variant["title"])],
        _ => Vec::new(),
    }
}

fn product_field(product: &Value, key: &str) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match key {
        "sku" => product["variants"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| text(&v["sku"]))
            .collect(),
        "handle" => vec![text(&product["handle"])],
        "status" => vec![text(&product["status"])],
        "id" => vec![id_of(&product["id"]).unwrap_or_default().to_string()],
        "updated_at" => vec![text(&product["updatedAt"])],
        "title" | "" => vec![text(&product["title"])],
        _ => Vec::new(),
    }
}

fn order_field(order: &Value, key: &str) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match key {
        "updated_at" => vec![text(&order["updatedAt"])],
        "created_at" => vec![text(&order["createdAt"])],
        "processed_at" => vec![text(&order["processedAt"])],
        "name" | "" => vec![text(&order["name"])],
        "id" => vec![id_of(&order["id"]).unwrap_or_default().to_string()],
        "email" => vec![text(&order["email"])],
        "financial_status" => vec![text(&order["displayFinancialStatus"]).to_lowercase()],
        "status" => vec![
            if order["cancelledAt"].is_string() {
                "cancelled"
            } else if order["closed"] == true {
                "closed"
            } else {
                "open"
            }
            .to_owned(),
        ],
        _ => Vec::new(),
    }
}

fn customer_field(customer: &Value, key: &str) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match key {
        "email" | "" => vec![text(&customer["email"])],
        "phone" => vec![text(&customer["phone"])],
        "id" => vec![id_of(&customer["id"]).unwrap_or_default().to_string()],
        "updated_at" => vec![text(&customer["updatedAt"])],
        "tag" => customer["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect(),
        _ => Vec::new(),
    }
}

/// Parses a date the way search terms and stored values write it.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
