//! Orders as a checkout makes them, refunds as wp-admin makes them, with WooCommerce's
//! arithmetic: tax per line at the line's rate, rounded half away from zero; with prices
//! entered with tax, the tax is taken out of the gross line.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

use super::store::{Store, amount, decimal, gmt, local, parse_date};

/// A checkout: SKUs and quantities, who buys, how it ships.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    pub lines: Vec<(String, u32)>,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    /// (method id, title, cost without tax); taxed at the standard rate.
    pub shipping: Option<(String, String, Decimal)>,
    /// `false`: left `pending`, as an unpaid checkout is.
    pub paid: bool,
}

impl OrderRequest {
    pub fn new(lines: &[(&str, u32)], email: &str) -> OrderRequest {
        OrderRequest {
            lines: lines.iter().map(|(s, q)| ((*s).to_owned(), *q)).collect(),
            email: email.to_owned(),
            first_name: "Jan".into(),
            last_name: "Kowalski".into(),
            company: String::new(),
            shipping: Some(("flat_rate".into(), "Kurier".into(), Decimal::new(1500, 2))),
            paid: true,
        }
    }
}

/// Lines to refund, by SKU and quantity, with a reason.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub lines: Vec<(String, u32)>,
    pub reason: String,
}

/// A JSON number, as WooCommerce prints `price` and `rate_percent` (PHP floats).
fn number(d: Decimal) -> Value {
    serde_json::from_str(&d.round_dp(6).normalize().to_string()).unwrap_or(Value::Null)
}

fn round(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

impl Store {
    pub fn place_order(&mut self, request: &OrderRequest) -> Result<Value, String> {
        let id = self.next_id();
        let at = self.now();
        let include = self.prices_include_tax;
        let mut line_items = Vec::new();
        // rate id → (percent, tax on lines, tax on shipping)
        let mut tax_lines: Vec<(u64, Decimal, Decimal, Decimal)> = Vec::new();
        let mut add_tax =
            |rate_id: u64, rate: Decimal, lines: Decimal, shipping: Decimal| match tax_lines
                .iter_mut()
                .find(|t| t.0 == rate_id)
            {
                Some(t) => {
                    t.2 += lines;
                    t.3 += shipping;
                }
                None => tax_lines.push((rate_id, rate, lines, shipping)),
            };
        let mut items_total = Decimal::ZERO;
        let mut items_tax = Decimal::ZERO;
        for (n, (sku, quantity)) in request.lines.iter().enumerate() {
            let product_id = self
                .find_sku(sku)
                .ok_or_else(|| format!("no product with SKU {sku}"))?;
            let product = self.products[&product_id].clone();
            if product["purchasable"] != true {
                return Err(format!(
                    "{sku} cannot be bought (no price or not published)"
                ));
            }
            let price = decimal(&product["price"]);
            let (rate_id, rate) = self.rate_of(&product).ok_or("no tax rate")?;
            let count = *quantity;
            let quantity = Decimal::from(count);
            let (net, tax) = if include {
                let gross = price * quantity;
                let tax = round(gross * rate / (Decimal::ONE_HUNDRED + rate));
                (gross - tax, tax)
            } else {
                let net = price * quantity;
                (net, round(net * rate / Decimal::ONE_HUNDRED))
            };
            add_tax(rate_id, rate, tax, Decimal::ZERO);
            items_total += net;
            items_tax += tax;
            let (product_id, variation_id) = if product["type"] == "variation" {
                (
                    product["parent_id"].as_u64().unwrap_or_default(),
                    product_id,
                )
            } else {
                (product_id, 0)
            };
            line_items.push(json!({
                "id": 1000 * id + n as u64 + 1,
                "name": product["name"], "product_id": product_id, "variation_id": variation_id,
                "quantity": count, "tax_class": "", "sku": sku,
                "subtotal": amount(net), "subtotal_tax": amount(tax),
                "total": amount(net), "total_tax": amount(tax),
                "taxes": [{"id": rate_id, "total": amount(tax), "subtotal": amount(tax)}],
                "price": number(net / quantity),
                "meta_data": [],
            }));
        }
        let (mut shipping_total, mut shipping_tax) = (Decimal::ZERO, Decimal::ZERO);
        let mut shipping_lines = Vec::new();
        if let Some((method, title, cost)) = &request.shipping {
            let (rate_id, rate) = self
                .taxes
                .first()
                .map(|(id, _, r)| (*id, *r))
                .ok_or("no tax rate")?;
            shipping_total = *cost;
            shipping_tax = round(cost * rate / Decimal::ONE_HUNDRED);
            add_tax(rate_id, rate, Decimal::ZERO, shipping_tax);
            shipping_lines.push(json!({
                "id": 1000 * id + 900, "method_title": title, "method_id": method,
                "instance_id": "1", "total": amount(shipping_total), "total_tax": amount(shipping_tax),
                "taxes": [{"id": rate_id, "total": amount(shipping_tax), "subtotal": ""}],
            }));
        }
        let total = items_total + items_tax + shipping_total + shipping_tax;
        let customer_id = self
            .customers
            .values()
            .find(|c| c["email"].as_str() == Some(request.email.as_str()))
            .and_then(|c| c["id"].as_u64())
            .unwrap_or(0);
        let address = json!({
            "first_name": request.first_name, "last_name": request.last_name,
            "company": request.company, "address_1": "ul. Długa 1", "address_2": "",
            "city": "Kraków", "state": "", "postcode": "30-001", "country": "PL",
        });
        let mut billing = address.clone();
        billing["email"] = json!(request.email);
        billing["phone"] = json!("+48 600 100 200");
        let taxes: Vec<Value> = tax_lines
            .iter()
            .map(|(rate_id, rate, lines, shipping)| {
                json!({
                    "id": 1000 * id + 800 + rate_id, "rate_code": format!("PL-VAT {rate}-1"),
                    "rate_id": rate_id, "label": format!("VAT {rate}%"), "compound": false,
                    "tax_total": amount(*lines), "shipping_tax_total": amount(*shipping),
                    "rate_percent": number(*rate),
                })
            })
            .collect();
        let order = json!({
            "id": id, "parent_id": 0, "number": id.to_string(), "order_key": format!("wc_order_{id}"),
            "created_via": "checkout", "version": "9.4.0",
            "status": if request.paid { "processing" } else { "pending" },
            "currency": self.currency, "prices_include_tax": include,
            "date_created_gmt": gmt(at), "date_modified_gmt": gmt(at),
            "date_paid_gmt": if request.paid { json!(gmt(at)) } else { Value::Null },
            "date_completed_gmt": null,
            "discount_total": "0.00", "discount_tax": "0.00",
            "shipping_total": amount(shipping_total), "shipping_tax": amount(shipping_tax),
            "cart_tax": amount(items_tax), "total": amount(total),
            "total_tax": amount(items_tax + shipping_tax),
            "customer_id": customer_id, "customer_note": "",
            "billing": billing, "shipping": address,
            "payment_method": "przelewy24", "payment_method_title": "Przelewy24",
            "transaction_id": if request.paid { format!("p24-{id}") } else { String::new() },
            "line_items": line_items, "tax_lines": taxes, "shipping_lines": shipping_lines,
            "fee_lines": [], "coupon_lines": [], "refunds": [], "meta_data": [],
        });
        self.orders.insert(id, order);
        self.order_json(id)
            .ok_or_else(|| "the order vanished".to_owned())
    }

    pub fn set_order_status(&mut self, id: u64, status: &str) -> Result<(), String> {
        const STATUSES: [&str; 8] = [
            "pending",
            "processing",
            "on-hold",
            "completed",
            "cancelled",
            "refunded",
            "failed",
            "trash",
        ];
        if !STATUSES.contains(&status) {
            return Err(format!("`{status}` is not an order status"));
        }
        let at = gmt(self.now());
        let order = self.orders.get_mut(&id).ok_or("no such order")?;
        if order["status"] != status {
            order["status"] = json!(status);
            if status == "completed" {
                order["date_completed_gmt"] = json!(at);
            }
        }
        order["date_modified_gmt"] = json!(at);
        Ok(())
    }

    pub fn restamp_order(&mut self, id: u64, at: DateTime<Utc>) -> Result<(), String> {
        let order = self.orders.get_mut(&id).ok_or("no such order")?;
        order["date_modified_gmt"] = json!(gmt(at));
        Ok(())
    }

    pub fn refund(&mut self, order_id: u64, request: &RefundRequest) -> Result<Value, String> {
        let order = self.orders.get(&order_id).cloned().ok_or("no such order")?;
        let id = self.next_id();
        let mut lines = Vec::new();
        let mut refunded = Decimal::ZERO;
        for (sku, quantity) in &request.lines {
            let line = order["line_items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["sku"].as_str() == Some(sku.as_str()))
                .ok_or_else(|| format!("order {order_id} has no line for {sku}"))?;
            let ordered = Decimal::from(line["quantity"].as_i64().unwrap_or(1));
            let count = i64::from(*quantity);
            let quantity = Decimal::from(count);
            let total = round(decimal(&line["total"]) * quantity / ordered);
            let tax = round(decimal(&line["total_tax"]) * quantity / ordered);
            refunded += total + tax;
            lines.push(json!({
                "id": 1000 * id + lines.len() as u64 + 1, "name": line["name"],
                "product_id": line["product_id"], "variation_id": line["variation_id"],
                "quantity": -count, "sku": sku,
                "subtotal": amount(-total), "subtotal_tax": amount(-tax),
                "total": amount(-total), "total_tax": amount(-tax),
                "price": number(-(total / quantity)),
                "meta_data": [{"key": "_refunded_item_id", "value": line["id"].to_string()}],
            }));
        }
        let already: Decimal = order["refunds"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| -decimal(&r["total"]))
            .sum();
        if already + refunded > decimal(&order["total"]) {
            return Err("Invalid refund amount.".into());
        }
        let at = self.now();
        let refund = json!({
            "id": id, "parent_id": order_id, "date_created_gmt": gmt(at),
            "amount": amount(refunded), "reason": request.reason, "refunded_by": 1,
            "refunded_payment": false, "meta_data": [], "line_items": lines,
            "shipping_lines": [], "tax_lines": [], "fee_lines": [],
        });
        self.refunds.insert(id, refund);
        let order = self.orders.get_mut(&order_id).ok_or("no such order")?;
        if let Some(refunds) = order["refunds"].as_array_mut() {
            refunds.insert(
                0,
                json!({"id": id, "reason": request.reason, "total": amount(-refunded)}),
            );
        }
        if already + refunded == decimal(&order["total"]) {
            order["status"] = json!("refunded");
        }
        order["date_modified_gmt"] = json!(gmt(at));
        Ok(self.refund_json(id))
    }

    pub fn order_json(&self, id: u64) -> Option<Value> {
        let mut order = self.orders.get(&id)?.clone();
        with_local_dates(
            &mut order,
            &[
                "date_created",
                "date_modified",
                "date_paid",
                "date_completed",
            ],
        );
        Some(order)
    }

    pub fn refund_json(&self, id: u64) -> Value {
        let mut refund = self.refunds.get(&id).cloned().unwrap_or(Value::Null);
        with_local_dates(&mut refund, &["date_created"]);
        refund
    }

    /// Writes `status`, `customer_note` and `meta_data` of an order.
    pub fn update_order(&mut self, id: u64, input: &Value) -> Result<Value, super::store::WcError> {
        use super::store::WcError;
        let invalid = || WcError::new(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.");
        if !self.orders.contains_key(&id) {
            return Err(invalid());
        }
        if let Some(status) = input.get("status") {
            let status = status.as_str().unwrap_or_default();
            self.set_order_status(id, status).map_err(|_| {
                WcError::new(400, "rest_invalid_param", "Invalid parameter(s): status")
            })?;
        }
        let at = self.now();
        let order = self.orders.get_mut(&id).ok_or_else(invalid)?;
        if let Some(meta) = input.get("meta_data").and_then(Value::as_array) {
            let mut existing: Vec<Value> =
                order["meta_data"].as_array().cloned().unwrap_or_default();
            for item in meta {
                match existing.iter_mut().find(|m| m["key"] == item["key"]) {
                    Some(m) => m["value"] = item["value"].clone(),
                    None => {
                        let n = existing.len() + 1;
                        existing.push(json!({"id": n, "key": item["key"], "value": item["value"]}));
                    }
                }
            }
            order["meta_data"] = json!(existing);
        }
        if let Some(note) = input.get("customer_note").and_then(Value::as_str) {
            order["customer_note"] = json!(note);
        }
        order["date_modified_gmt"] = json!(gmt(at));
        self.order_json(id).ok_or_else(invalid)
    }

    pub fn add_note(&mut self, order_id: u64, note: &str, customer_note: bool) -> Option<Value> {
        if !self.orders.contains_key(&order_id) {
            return None;
        }
        let id = self.next_id();
        let at = self.now();
        let note = json!({
            "id": id, "author": "WooCommerce", "date_created": local(at), "date_created_gmt": gmt(at),
            "note": note, "customer_note": customer_note,
        });
        self.notes.entry(order_id).or_default().push(note.clone());
        Some(note)
    }
}

fn with_local_dates(record: &mut Value, fields: &[&str]) {
    for field in fields {
        let gmt_value = record[format!("{field}_gmt")].clone();
        record[*field] = match gmt_value.as_str().and_then(|s| parse_date(s, true)) {
            Some(at) => json!(local(at)),
            None => Value::Null,
        };
    }
}
