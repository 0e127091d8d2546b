//! Orders as a shop makes them at checkout, and what merchants and apps do to them:
//! refunds, fulfilments with tracking, cancellation, closing, tags. Amounts follow the
//! shop's tax setting: with `taxesIncluded` the tax is carved out of each line's gross
//! amount (rounded half away from zero, per line), without it added on top.

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

use super::store::{Store, decimal, gid, id_of, money_bag, user_error};

/// A shopper's checkout.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// (SKU, quantity).
    pub lines: Vec<(String, i64)>,
    /// (title, gross or net price as the shop enters prices).
    pub shipping: Option<(String, Decimal)>,
    /// The VAT rate applied to lines and shipping, in percent.
    pub tax_rate: Decimal,
    /// The buyer's VAT id, captured as a checkout attribute (`vat_id`).
    pub vat_id: Option<String>,
    pub street: String,
    pub city: String,
    pub zip: String,
    pub country: String,
    pub gateway: String,
    pub paid: bool,
}

impl Default for OrderRequest {
    fn default() -> Self {
        OrderRequest {
            email: "jan.kowalski@example.com".into(),
            first_name: "Jan".into(),
            last_name: "Kowalski".into(),
            lines: Vec::new(),
            shipping: Some(("Kurier InPost".into(), Decimal::new(1599, 2))),
            tax_rate: Decimal::from(23),
            vat_id: None,
            street: "ul. Długa 1".into(),
            city: "Kraków".into(),
            zip: "30-001".into(),
            country: "PL".into(),
            gateway: "przelewy24".into(),
            paid: true,
        }
    }
}

/// The merchant refunds lines (by SKU) and perhaps shipping.
#[derive(Debug, Clone, Default)]
pub struct RefundRequest {
    pub lines: Vec<(String, i64)>,
    pub shipping: bool,
    pub note: Option<String>,
}

fn round(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn tax_of(amount: Decimal, rate: Decimal, included: bool) -> Decimal {
    if included {
        round(amount * rate / (Decimal::ONE_HUNDRED + rate))
    } else {
        round(amount * rate / Decimal::ONE_HUNDRED)
    }
}

fn tax_lines(amount: Decimal, rate: Decimal, included: bool, currency: &str) -> Value {
    if rate.is_zero() {
        return json!([]);
    }
    json!([{
        "title": "VAT", "rate": (rate / Decimal::ONE_HUNDRED).to_string().parse::<f64>().unwrap_or_default(),
        "ratePercentage": rate.to_string().parse::<f64>().unwrap_or_default(),
        "priceSet": money_bag(tax_of(amount, rate, included), currency),
        "channelLiable": false,
    }])
}

fn amount(bag: &Value) -> Decimal {
    decimal(&bag["shopMoney"]["amount"]).unwrap_or_default()
}

impl Store {
    pub fn place_order(&mut self, request: &OrderRequest) -> Result<Value, String> {
        let currency = self.currency.clone();
        let included = self.taxes_included;
        let at = self.now();
        let id = self.next_id();
        self.order_number += 1;
        let number = 1000 + self.order_number;
        let location = self.primary_location();
        let mut lines = Vec::new();
        let mut fulfillment_lines = Vec::new();
        let (mut subtotal, mut tax) = (Decimal::ZERO, Decimal::ZERO);
        for (sku, quantity) in &request.lines {
            let variant = self
                .find_sku(sku)
                .ok_or_else(|| format!("no variant with SKU {sku}"))?;
            let shown = self.variant_json(variant);
            let price = decimal(&shown["price"]).unwrap_or_default();
            let total = price * Decimal::from(*quantity);
            let line_id = self.next_id();
            subtotal += total;
            tax += tax_of(total, request.tax_rate, included);
            let title = shown["product"]["title"].as_str().unwrap_or_default();
            lines.push(json!({
                "id": gid("LineItem", line_id), "sku": sku, "quantity": quantity,
                "currentQuantity": quantity, "refundableQuantity": quantity,
                "name": format!("{title} - {}", shown["title"].as_str().unwrap_or_default()),
                "title": title, "variantTitle": shown["title"],
                "originalUnitPriceSet": money_bag(price, &currency),
                "discountedUnitPriceSet": money_bag(price, &currency),
                "originalTotalSet": money_bag(total, &currency),
                "discountedTotalSet": money_bag(total, &currency),
                "totalDiscountSet": money_bag(Decimal::ZERO, &currency),
                "taxLines": tax_lines(total, request.tax_rate, included, &currency),
                "taxable": true, "requiresShipping": true,
                "variant": { "id": shown["id"], "sku": sku, "title": shown["title"] },
            }));
            let item = shown["inventoryItem"]["id"].clone();
            fulfillment_lines.push(json!({
                "id": gid("FulfillmentOrderLineItem", line_id), "sku": sku,
                "totalQuantity": quantity, "remainingQuantity": quantity,
                "inventoryItemId": item,
                "lineItem": { "id": gid("LineItem", line_id), "sku": sku, "quantity": quantity },
            }));
            if let Some(item) = id_of(&item)
                && let Some(level) = self.levels.get_mut(&(item, location))
            {
                level.available -= quantity;
                level.committed += quantity;
            }
        }
        let mut shipping_lines = Vec::new();
        let mut shipping_total = Decimal::ZERO;
        if let Some((title, price)) = &request.shipping {
            shipping_total = *price;
            tax += tax_of(*price, request.tax_rate, included);
            shipping_lines.push(json!({
                "id": gid("ShippingLine", self.next_id()), "title": title, "code": title,
                "source": "shopify", "custom": false, "isRemoved": false,
                "originalPriceSet": money_bag(*price, &currency),
                "discountedPriceSet": money_bag(*price, &currency),
                "taxLines": tax_lines(*price, request.tax_rate, included, &currency),
            }));
        }
        let total = if included {
            subtotal + shipping_total
        } else {
            subtotal + shipping_total + tax
        };
        let address = json!({
            "firstName": request.first_name, "lastName": request.last_name,
            "name": format!("{} {}", request.first_name, request.last_name),
            "company": null, "address1": request.street, "address2": null,
            "city": request.city, "zip": request.zip, "province": null,
            "countryCodeV2": request.country, "phone": null,
        });
        let customer = self.customer_set(
            Some(&json!({ "email": request.email })),
            &json!({ "email": request.email, "firstName": request.first_name, "lastName": request.last_name }),
        )["customer"]
            .clone();
        let transactions = if request.paid {
            json!([{
                "id": gid("OrderTransaction", self.next_id()), "kind": "SALE", "status": "SUCCESS",
                "gateway": request.gateway, "amountSet": money_bag(total, &currency),
                "processedAt": at, "createdAt": at, "test": false,
            }])
        } else {
            json!([])
        };
        let attributes: Vec<Value> = request
            .vat_id
            .iter()
            .map(|v| json!({ "key": "vat_id", "value": v }))
            .collect();
        let order = json!({
            "__typename": "Order", "id": gid("Order", id), "legacyResourceId": id.to_string(),
            "name": format!("#{number}"), "createdAt": at, "updatedAt": at, "processedAt": at,
            "cancelledAt": null, "cancelReason": null, "closed": false, "closedAt": null,
            "email": request.email, "phone": null, "currencyCode": currency,
            "taxesIncluded": included, "note": null, "tags": [], "test": false,
            "displayFinancialStatus": if request.paid { "PAID" } else { "PENDING" },
            "displayFulfillmentStatus": "UNFULFILLED",
            "paymentGatewayNames": [request.gateway],
            "customAttributes": attributes,
            "customer": customer,
            "billingAddress": address, "shippingAddress": address,
            "lineItems": lines, "shippingLines": shipping_lines,
            "subtotalPriceSet": money_bag(subtotal, &currency),
            "totalShippingPriceSet": money_bag(shipping_total, &currency),
            "totalTaxSet": money_bag(tax, &currency),
            "totalDiscountsSet": money_bag(Decimal::ZERO, &currency),
            "totalPriceSet": money_bag(total, &currency),
            "currentTotalPriceSet": money_bag(total, &currency),
            "totalRefundedSet": money_bag(Decimal::ZERO, &currency),
            "transactions": transactions, "refunds": [], "fulfillments": [],
            "fulfillmentOrders": [{
                "id": gid("FulfillmentOrder", self.next_id()), "status": "OPEN",
                "requestStatus": "UNSUBMITTED",
                "assignedLocation": { "location": { "id": gid("Location", location) } },
                "lineItems": fulfillment_lines,
            }],
            "metafields": [],
        });
        self.orders.insert(id, order.clone());
        Ok(order)
    }

    fn order_mut(&mut self, id: u64) -> Result<&mut Value, String> {
        self.orders
            .get_mut(&id)
            .ok_or_else(|| format!("no order {id}"))
    }

    /// The merchant refunds lines in the admin; money goes back through the gateway.
    pub fn refund(&mut self, order_id: u64, request: &RefundRequest) -> Result<Value, String> {
        let refund_id = self.next_id();
        let transaction_id = self.next_id();
        let location = self.primary_location();
        let currency = self.currency.clone();
        let included = self.taxes_included;
        let mut restock = Vec::new();
        let at = self.now();
        let order = self.order_mut(order_id)?;
        let mut items = Vec::new();
        let mut total = Decimal::ZERO;
        for (sku, quantity) in &request.lines {
            let line = order["lineItems"]
                .as_array_mut()
                .into_iter()
                .flatten()
                .find(|l| l["sku"] == sku.as_str())
                .ok_or_else(|| format!("order {order_id} has no line {sku}"))?;
            let refundable = line["refundableQuantity"].as_i64().unwrap_or_default();
            if *quantity > refundable {
                return Err(format!("only {refundable} of {sku} can be refunded"));
            }
            line["refundableQuantity"] = json!(refundable - quantity);
            line["currentQuantity"] = json!(refundable - quantity);
            let unit = amount(&line["discountedUnitPriceSet"]);
            let rate = line["taxLines"][0]["ratePercentage"]
                .as_f64()
                .and_then(|r| Decimal::try_from(r).ok())
                .unwrap_or_default();
            let gross = unit * Decimal::from(*quantity);
            let line_tax = tax_of(gross, rate, included);
            let refunded = if included { gross } else { gross + line_tax };
            total += refunded;
            items.push(json!({
                "id": gid("RefundLineItem", refund_id * 100 + items.len() as u64),
                "lineItem": { "id": line["id"], "sku": sku, "name": line["name"] },
                "quantity": quantity, "restockType": "RETURN", "restocked": true,
                "priceSet": money_bag(unit, &currency),
                "subtotalSet": money_bag(gross, &currency),
                "totalTaxSet": money_bag(line_tax, &currency),
            }));
            restock.push((line["variant"]["id"].clone(), *quantity));
        }
        if request.shipping {
            total += order["shippingLines"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    let price = amount(&s["discountedPriceSet"]);
                    if included {
                        price
                    } else {
                        let rate = s["taxLines"][0]["ratePercentage"]
                            .as_f64()
                            .and_then(|r| Decimal::try_from(r).ok())
                            .unwrap_or_default();
                        price + tax_of(price, rate, false)
                    }
                })
                .sum::<Decimal>();
        }
        let gateway = order["paymentGatewayNames"][0].clone();
        let refund = json!({
            "__typename": "Refund", "id": gid("Refund", refund_id),
            "legacyResourceId": refund_id.to_string(),
            "createdAt": at, "updatedAt": at, "processedAt": at, "note": request.note,
            "totalRefundedSet": money_bag(total, &currency),
            "refundLineItems": items,
            "transactions": [{
                "id": gid("OrderTransaction", transaction_id), "kind": "REFUND", "status": "SUCCESS",
                "gateway": gateway, "amountSet": money_bag(total, &currency), "processedAt": at,
                "createdAt": at,
            }],
        });
        let refunded = amount(&order["totalRefundedSet"]) + total;
        let paid = amount(&order["totalPriceSet"]);
        order["totalRefundedSet"] = money_bag(refunded, &currency);
        order["currentTotalPriceSet"] = money_bag(paid - refunded, &currency);
        order["displayFinancialStatus"] = json!(if refunded >= paid {
            "REFUNDED"
        } else {
            "PARTIALLY_REFUNDED"
        });
        if let Some(list) = order["refunds"].as_array_mut() {
            list.push(refund.clone());
        }
        if let Some(list) = order["transactions"].as_array_mut() {
            list.push(refund["transactions"][0].clone());
        }
        order["updatedAt"] = json!(at);
        for (variant, quantity) in restock {
            let item = id_of(&variant)
                .and_then(|v| self.variants.get(&v))
                .and_then(|v| v["_item"].as_u64());
            if let Some(level) = item.and_then(|i| self.levels.get_mut(&(i, location))) {
                level.available += quantity;
            }
        }
        Ok(refund)
    }

    /// `fulfillmentCreate`.
    pub fn fulfillment_create(&mut self, input: &Value) -> Value {
        let groups: Vec<&Value> = input["lineItemsByFulfillmentOrder"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let fail = |message: &str, code: &str| json!({ "fulfillment": null, "userErrors": [user_error(&["fulfillment"], message, code)] });
        let Some(order_id) = groups.first().and_then(|g| {
            let wanted = &g["fulfillmentOrderId"];
            self.orders.iter().find_map(|(id, o)| {
                o["fulfillmentOrders"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|f| f["id"] == *wanted)
                    .then_some(*id)
            })
        }) else {
            return fail("Fulfillment order does not exist.", "NOT_FOUND");
        };
        let fulfillment_id = self.next_id();
        let location = self.primary_location();
        let at = self.now();
        let mut released = Vec::new();
        let Ok(order) = self.order_mut(order_id) else {
            return fail("Fulfillment order does not exist.", "NOT_FOUND");
        };
        if order["cancelledAt"].is_string() {
            return fail("Fulfillment order is not in an open state.", "INVALID");
        }
        let mut fulfilled = Vec::new();
        for group in &groups {
            let Some(fo) = order["fulfillmentOrders"]
                .as_array_mut()
                .into_iter()
                .flatten()
                .find(|f| f["id"] == group["fulfillmentOrderId"])
            else {
                return fail("Fulfillment order does not exist.", "NOT_FOUND");
            };
            if fo["status"] == "CLOSED" {
                return fail("Fulfillment order is not in an open state.", "INVALID");
            }
            let wanted: Vec<(Value, i64)> = match group["fulfillmentOrderLineItems"].as_array() {
                Some(list) => list
                    .iter()
                    .map(|l| (l["id"].clone(), l["quantity"].as_i64().unwrap_or_default()))
                    .collect(),
                None => fo["lineItems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|l| {
                        (
                            l["id"].clone(),
                            l["remainingQuantity"].as_i64().unwrap_or_default(),
                        )
                    })
                    .filter(|(_, q)| *q > 0)
                    .collect(),
            };
            for (line_id, quantity) in wanted {
                let Some(line) = fo["lineItems"]
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .find(|l| l["id"] == line_id)
                else {
                    return fail("Fulfillment order line item does not exist.", "NOT_FOUND");
                };
                let remaining = line["remainingQuantity"].as_i64().unwrap_or_default();
                if quantity <= 0 || quantity > remaining {
                    return fail(
                        "Invalid fulfillment order line item quantity requested.",
                        "INVALID",
                    );
                }
                line["remainingQuantity"] = json!(remaining - quantity);
                released.push((line["inventoryItemId"].clone(), quantity));
                fulfilled.push(json!({
                    "id": gid("FulfillmentLineItem", fulfillment_id * 100 + fulfilled.len() as u64),
                    "quantity": quantity, "lineItem": line["lineItem"],
                }));
            }
            let open = fo["lineItems"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|l| l["remainingQuantity"].as_i64().unwrap_or_default() > 0);
            fo["status"] = json!(if open { "IN_PROGRESS" } else { "CLOSED" });
        }
        let tracking = &input["trackingInfo"];
        let numbers: Vec<Value> = match (&tracking["number"], tracking["numbers"].as_array()) {
            (Value::String(n), _) => vec![json!(n)],
            (_, Some(list)) => list.clone(),
            _ => Vec::new(),
        };
        let url = tracking["url"].clone();
        let fulfillment = json!({
            "__typename": "Fulfillment", "id": gid("Fulfillment", fulfillment_id),
            "legacyResourceId": fulfillment_id.to_string(),
            "name": format!("{}-F{}", order["name"].as_str().unwrap_or_default(), order["fulfillments"].as_array().map_or(0, Vec::len) + 1),
            "status": "SUCCESS", "displayStatus": "FULFILLED", "createdAt": at, "updatedAt": at,
            "trackingInfo": numbers.iter().map(|n| json!({ "company": tracking["company"], "number": n, "url": url })).collect::<Vec<_>>(),
            "fulfillmentLineItems": fulfilled,
            "totalQuantity": released.iter().map(|(_, q)| q).sum::<i64>(),
        });
        if let Some(list) = order["fulfillments"].as_array_mut() {
            list.push(fulfillment.clone());
        }
        let all_done = order["fulfillmentOrders"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|f| f["status"] == "CLOSED");
        order["displayFulfillmentStatus"] = json!(if all_done {
            "FULFILLED"
        } else {
            "PARTIALLY_FULFILLED"
        });
        order["updatedAt"] = json!(at);
        for (item, quantity) in released {
            if let Some(level) = id_of(&item).and_then(|i| self.levels.get_mut(&(i, location))) {
                level.committed -= quantity;
            }
        }
        json!({ "fulfillment": fulfillment, "userErrors": [] })
    }

    /// `orderCancel`. Shopify runs it as a job; the fake finishes it at once.
    pub fn order_cancel(&mut self, args: &serde_json::Map<String, Value>) -> Value {
        let fail = |message: &str, code: &str| json!({ "job": null, "orderCancelUserErrors": [user_error(&["orderId"], message, code)], "userErrors": [user_error(&["orderId"], message, code)] });
        let Some(id) = args.get("orderId").and_then(id_of) else {
            return fail("Order does not exist", "NOT_FOUND");
        };
        let location = self.primary_location();
        let job = gid("Job", self.next_id());
        let at = self.now();
        let Ok(order) = self.order_mut(id) else {
            return fail("Order does not exist", "NOT_FOUND");
        };
        if order["cancelledAt"].is_string() {
            return fail("Order has already been cancelled", "INVALID");
        }
        if order["displayFulfillmentStatus"] == "FULFILLED" {
            return fail("Cannot cancel a fulfilled order", "INVALID");
        }
        order["cancelledAt"] = json!(at);
        order["cancelReason"] = args.get("reason").cloned().unwrap_or(json!("OTHER"));
        order["closed"] = json!(true);
        order["closedAt"] = json!(at);
        order["updatedAt"] = json!(at);
        if let Some(note) = args.get("staffNote").and_then(Value::as_str) {
            order["note"] = json!(note);
        }
        let mut release = Vec::new();
        for fo in order["fulfillmentOrders"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            for line in fo["lineItems"].as_array().into_iter().flatten() {
                release.push((
                    line["inventoryItemId"].clone(),
                    line["remainingQuantity"].as_i64().unwrap_or_default(),
                ));
            }
            fo["status"] = json!("CLOSED");
        }
        let restock = args
            .get("restock")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        for (item, quantity) in release {
            if let Some(level) = id_of(&item).and_then(|i| self.levels.get_mut(&(i, location))) {
                level.committed -= quantity;
                if restock {
                    level.available += quantity;
                }
            }
        }
        json!({ "job": { "id": job, "done": true }, "orderCancelUserErrors": [], "userErrors": [] })
    }

    /// `orderClose` (archiving an order).
    pub fn order_close(&mut self, input: &Value) -> Value {
        let Some(id) = id_of(&input["id"]) else {
            return json!({ "order": null, "userErrors": [user_error(&["input", "id"], "Order does not exist", "NOT_FOUND")] });
        };
        let at = self.now();
        match self.order_mut(id) {
            Ok(order) => {
                order["closed"] = json!(true);
                order["closedAt"] = json!(at);
                order["updatedAt"] = json!(at);
                json!({ "order": order.clone(), "userErrors": [] })
            }
            Err(_) => {
                json!({ "order": null, "userErrors": [user_error(&["input", "id"], "Order does not exist", "NOT_FOUND")] })
            }
        }
    }

    /// `tagsAdd` on an order, product or customer.
    pub fn tags_add(&mut self, id: &Value, tags: &Value) -> Value {
        let kind = id.as_str().unwrap_or_default();
        let Some(n) = id_of(id) else {
            return json!({ "node": null, "userErrors": [user_error(&["id"], "Resource does not exist", "NOT_FOUND")] });
        };
        let at = self.now();
        let target = if kind.contains("/Order/") {
            self.orders.get_mut(&n)
        } else if kind.contains("/Product/") {
            self.products.get_mut(&n)
        } else if kind.contains("/Customer/") {
            self.customers.get_mut(&n)
        } else {
            None
        };
        let Some(object) = target else {
            return json!({ "node": null, "userErrors": [user_error(&["id"], "Resource does not exist", "NOT_FOUND")] });
        };
        let mut list: Vec<Value> = object["tags"].as_array().cloned().unwrap_or_default();
        for tag in tags.as_array().into_iter().flatten() {
            if !list.contains(tag) {
                list.push(tag.clone());
            }
        }
        object["tags"] = Value::Array(list);
        object["updatedAt"] = json!(at);
        json!({ "node": { "__typename": object["__typename"], "id": object["id"] }, "userErrors": [] })
    }
}

/// An order as webhooks carry it: the REST API's JSON (snake_case, numeric ids).
pub fn webhook_order(order: &Value) -> Value {
    let money = |bag: &Value| bag["shopMoney"]["amount"].clone();
    json!({
        "id": id_of(&order["id"]),
        "admin_graphql_api_id": order["id"],
        "name": order["name"],
        "email": order["email"],
        "created_at": order["createdAt"],
        "updated_at": order["updatedAt"],
        "cancelled_at": order["cancelledAt"],
        "currency": order["currencyCode"],
        "financial_status": order["displayFinancialStatus"].as_str().map(str::to_lowercase),
        "total_price": money(&order["totalPriceSet"]),
        "line_items": order["lineItems"].as_array().into_iter().flatten().map(|l| json!({
            "id": id_of(&l["id"]), "sku": l["sku"], "quantity": l["quantity"],
            "price": money(&l["originalUnitPriceSet"]),
        })).collect::<Vec<_>>(),
        "refunds": order["refunds"].as_array().into_iter().flatten().map(|r| json!({
            "id": id_of(&r["id"]), "admin_graphql_api_id": r["id"], "created_at": r["createdAt"],
            "order_id": id_of(&order["id"]), "note": r["note"],
        })).collect::<Vec<_>>(),
    })
}
