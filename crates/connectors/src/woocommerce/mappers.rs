//! WooCommerce ↔ canonical, pure functions over the REST API's JSON.
//!
//! WooCommerce prints amounts as decimal strings in the store's currency (a line's
//! `price` and a tax line's `rate_percent` are numbers); a line's `subtotal`/`total` are
//! without tax, whatever the store's price entry setting, with their taxes beside them.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use kontor_connector::ConnectorError;
use kontor_model::{
    Address, CountryCode, Currency, DeliveryMethod, Email, Money, Order, OrderCustomer, OrderLine,
    OrderStatus, OrderTotals, Payment, PaymentKind, PaymentState, RequestedDocument,
    ShippingCharge, TaxRate, VatId,
};
use rust_decimal::Decimal;
use serde_json::Value;

/// Order meta keys under which the common Polish/EU invoice plugins keep the buyer's
/// VAT id.
const VAT_ID_KEYS: [&str; 5] = [
    "_billing_nip",
    "_billing_vat",
    "_billing_vat_number",
    "_vat_number",
    "vat_number",
];

pub(crate) fn decimal_of(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

fn amount_of(value: &Value, what: &str) -> Result<Decimal, ConnectorError> {
    match value {
        Value::Null => Ok(Decimal::ZERO),
        Value::String(s) if s.is_empty() => Ok(Decimal::ZERO),
        _ => decimal_of(value)
            .ok_or_else(|| ConnectorError::protocol(format!("{what}: `{value}` is not an amount"))),
    }
}

/// An amount as WooCommerce takes it: a decimal string.
pub(crate) fn price_text(money: &Money) -> String {
    money.amount.normalize().to_string()
}

/// A `*_gmt` date (`2026-11-23T10:00:00`, no zone) as UTC.
pub(crate) fn gmt_of(value: &Value) -> Option<DateTime<Utc>> {
    let text = value.as_str()?;
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// A date as the `*_after`/`*_before` parameters take it with `dates_are_gmt=true`.
pub(crate) fn gmt_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

pub(crate) fn status_of(status: &str) -> OrderStatus {
    match status {
        "processing" => OrderStatus::Processing,
        "on-hold" => OrderStatus::OnHold,
        "completed" => OrderStatus::Completed,
        "cancelled" | "failed" | "trash" => OrderStatus::Cancelled,
        "refunded" => OrderStatus::Refunded,
        _ => OrderStatus::Pending,
    }
}

fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn address_of(value: &Value) -> Result<Option<Address>, ConnectorError> {
    let Some(street) = text(&value["address_1"]) else {
        return Ok(None);
    };
    let country = text(&value["country"]).unwrap_or_default();
    let name = [text(&value["first_name"]), text(&value["last_name"])]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Some(Address {
        name,
        company: text(&value["company"]),
        street,
        street2: text(&value["address_2"]),
        postal_code: text(&value["postcode"]).unwrap_or_default(),
        city: text(&value["city"]).unwrap_or_default(),
        region: text(&value["state"]),
        country: CountryCode::new(&country)
            .map_err(|e| ConnectorError::protocol(format!("country `{country}`: {e}")))?,
        phone: text(&value["phone"]),
    }))
}

/// The rate of the first tax a line or shipping line carries, from the order's tax lines.
fn rate_of(item: &Value, order: &Value) -> TaxRate {
    let Some(rate_id) = item["taxes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| amount_of(&t["total"], "tax").is_ok_and(|a| !a.is_zero()))
        .and_then(|t| t["id"].as_u64())
    else {
        return TaxRate::ZERO;
    };
    order["tax_lines"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["rate_id"].as_u64() == Some(rate_id))
        .and_then(|t| decimal_of(&t["rate_percent"]))
        .map_or(TaxRate::ZERO, TaxRate)
}

fn vat_id_of(order: &Value) -> Option<VatId> {
    order["meta_data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| {
            m["key"]
                .as_str()
                .is_some_and(|key| VAT_ID_KEYS.contains(&key))
        })
        .and_then(|m| text(&m["value"]))
        .and_then(|v| VatId::new(&v).ok())
}

fn payments_of(
    order: &Value,
    number: &str,
    currency: Currency,
    total: Money,
) -> Result<Vec<Payment>, ConnectorError> {
    let mut payments = Vec::new();
    let method = text(&order["payment_method"]).unwrap_or_default();
    let id = order["id"].as_u64().unwrap_or_default();
    if let Some(paid_at) = gmt_of(&order["date_paid_gmt"]) {
        payments.push(Payment {
            order_number: number.to_owned(),
            kind: PaymentKind::Capture,
            amount: total,
            method: method.clone(),
            transaction_id: text(&order["transaction_id"])
                .unwrap_or_else(|| format!("woocommerce-order-{id}")),
            at: paid_at,
        });
    }
    let modified = gmt_of(&order["date_modified_gmt"]).unwrap_or_else(Utc::now);
    for refund in order["refunds"].as_array().into_iter().flatten() {
        // Refund summaries carry negative totals.
        let amount = amount_of(&refund["total"], "refund total")?.abs();
        payments.push(Payment {
            order_number: number.to_owned(),
            kind: PaymentKind::Refund,
            amount: Money::new(amount, currency),
            method: method.clone(),
            transaction_id: format!(
                "woocommerce-refund-{}",
                refund["id"].as_u64().unwrap_or_default()
            ),
            at: modified,
        });
    }
    Ok(payments)
}

fn payment_state_of(status: &str, payments: &[Payment], total: &Money) -> PaymentState {
    let sum = |kind: PaymentKind| -> Decimal {
        payments
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.amount.amount)
            .sum()
    };
    let (paid, refunded) = (sum(PaymentKind::Capture), sum(PaymentKind::Refund));
    match () {
        _ if paid > Decimal::ZERO && refunded >= paid => PaymentState::Refunded,
        _ if refunded > Decimal::ZERO => PaymentState::PartiallyRefunded,
        _ if paid >= total.amount && paid > Decimal::ZERO => PaymentState::Paid,
        _ if status == "failed" => PaymentState::Failed,
        _ if status == "cancelled" => PaymentState::Voided,
        _ => PaymentState::Pending,
    }
}

/// A WooCommerce order in canonical terms, read gross or net as the order was priced.
pub(crate) fn order_of(order: &Value) -> Result<Order, ConnectorError> {
    let code = order["currency"].as_str().unwrap_or_default();
    let currency = Currency::new(code)
        .map_err(|e| ConnectorError::protocol(format!("order currency `{code}`: {e}")))?;
    let money = |value: &Value, what: &str| amount_of(value, what).map(|a| Money::new(a, currency));
    let id = order["id"]
        .as_u64()
        .ok_or_else(|| ConnectorError::protocol("an order without an id"))?;
    let number = text(&order["number"]).unwrap_or_else(|| id.to_string());
    let gross = order["prices_include_tax"].as_bool().unwrap_or(false);

    let mut lines = Vec::new();
    for line in order["line_items"].as_array().into_iter().flatten() {
        let quantity = Decimal::from(line["quantity"].as_i64().unwrap_or_default());
        if quantity.is_zero() {
            continue;
        }
        let subtotal = amount_of(&line["subtotal"], "line subtotal")?;
        let total = amount_of(&line["total"], "line total")?;
        let (before, after) = if gross {
            (
                subtotal + amount_of(&line["subtotal_tax"], "line subtotal_tax")?,
                total + amount_of(&line["total_tax"], "line total_tax")?,
            )
        } else {
            (subtotal, total)
        };
        let sku = text(&line["sku"]).ok_or_else(|| ConnectorError::Rejected {
            code: Some("line_without_sku".into()),
            message: format!(
                "line `{}` of order {number} has no SKU; give the product a SKU in WooCommerce",
                line["name"].as_str().unwrap_or_default()
            ),
            field: Some("sku".into()),
        })?;
        lines.push(OrderLine {
            id: line["id"].to_string(),
            sku,
            name: line["name"].as_str().unwrap_or_default().to_owned(),
            quantity,
            unit_price: Money::new(before / quantity, currency),
            discount: Money::new(before - after, currency),
            tax_rate: rate_of(line, order),
        });
    }

    let shipping = match order["shipping_lines"].as_array().and_then(|l| l.first()) {
        Some(line) => {
            let net = amount_of(&line["total"], "shipping total")?;
            let tax = amount_of(&line["total_tax"], "shipping total_tax")?;
            Some(ShippingCharge {
                method: text(&line["method_id"]).unwrap_or_else(|| "shipping".into()),
                amount: Money::new(if gross { net + tax } else { net }, currency),
                tax_rate: rate_of(line, order),
            })
        }
        None => None,
    };
    let delivery = match order["shipping_lines"].as_array().and_then(|l| l.first()) {
        Some(line) if line["method_id"] == "local_pickup" => DeliveryMethod::StorePickup {
            location: text(&line["method_title"]).unwrap_or_default(),
        },
        _ => DeliveryMethod::Shipping {
            method: shipping
                .as_ref()
                .map_or_else(|| "none".to_owned(), |s| s.method.clone()),
            carrier: None,
        },
    };

    let total = money(&order["total"], "total")?;
    let status = order["status"].as_str().unwrap_or_default();
    let payments = payments_of(order, &number, currency, total)?;
    let billing = &order["billing"];
    let billing_address = address_of(billing)?;
    let shipping_address = address_of(&order["shipping"])?;
    let vat_id = vat_id_of(order);
    let customer_id = order["customer_id"].as_u64().filter(|id| *id > 0);
    let created = gmt_of(&order["date_created_gmt"])
        .ok_or_else(|| ConnectorError::protocol("an order without date_created_gmt"))?;

    Ok(Order {
        id: id.to_string(),
        number: number.clone(),
        placed_at: created,
        updated_at: gmt_of(&order["date_modified_gmt"]).unwrap_or(created),
        currency,
        prices_include_tax: gross,
        customer: OrderCustomer {
            reference: customer_id.map(|id| id.to_string()),
            email: text(&billing["email"]).and_then(|e| Email::new(&e).ok()),
            name: [text(&billing["first_name"]), text(&billing["last_name"])]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            phone: text(&billing["phone"]),
            company: text(&billing["company"]),
            vat_id: vat_id.clone(),
        },
        billing_address,
        shipping_address,
        lines,
        shipping,
        discounts: Vec::new(),
        totals: OrderTotals {
            tax: money(&order["total_tax"], "total_tax")?,
            total,
        },
        payment_state: payment_state_of(status, &payments, &total),
        payment_method: text(&order["payment_method"]),
        payments,
        delivery,
        status: status_of(status),
        source_status: Some(status.to_owned()),
        requested_document: if vat_id.is_some() {
            RequestedDocument::Invoice
        } else {
            RequestedDocument::Receipt
        },
        note: text(&order["customer_note"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(gross: bool) -> Value {
        json!({
            "id": 727, "number": "727", "status": "processing", "currency": "PLN",
            "prices_include_tax": gross,
            "date_created_gmt": "2026-11-23T09:00:00", "date_modified_gmt": "2026-11-23T09:05:00",
            "date_paid_gmt": "2026-11-23T09:01:00", "transaction_id": "p24-1",
            "payment_method": "przelewy24", "customer_id": 0, "customer_note": "",
            "billing": {"first_name": "Jan", "last_name": "Kowalski", "company": "ACME",
                        "address_1": "ul. Długa 1", "city": "Kraków", "postcode": "30-001",
                        "country": "PL", "email": "jan@example.com", "phone": ""},
            "shipping": {"address_1": "", "country": ""},
            "line_items": [{"id": 1, "name": "Kubek", "sku": "MUG", "quantity": 3,
                "subtotal": "24.39", "subtotal_tax": "5.61", "total": "20.33", "total_tax": "4.67",
                "taxes": [{"id": 1, "total": "4.67", "subtotal": "5.61"}], "price": 8.13}],
            "shipping_lines": [{"id": 9, "method_id": "flat_rate", "method_title": "Kurier",
                "total": "15.00", "total_tax": "3.45", "taxes": [{"id": 1, "total": "3.45"}]}],
            "tax_lines": [{"id": 5, "rate_id": 1, "rate_percent": 23}],
            "total": "43.45", "total_tax": "8.12",
            "refunds": [{"id": 800, "reason": "broken", "total": "-10.00"}],
            "meta_data": [{"id": 1, "key": "_billing_nip", "value": "PL5260250274"}],
        })
    }

    #[test]
    fn an_order_reads_net_or_gross_as_it_was_priced_with_discounts_on_lines() {
        let net = order_of(&order(false)).expect("maps");
        let line = &net.lines[0];
        assert_eq!(line.unit_price.amount, Decimal::new(813, 2));
        assert_eq!(line.discount.amount, Decimal::new(406, 2));
        assert_eq!(line.tax_rate, TaxRate(Decimal::from(23)));
        assert_eq!(
            net.shipping.as_ref().map(|s| s.amount.amount),
            Some(Decimal::new(1500, 2))
        );
        assert_eq!(net.totals.total.amount, Decimal::new(4345, 2));
        assert_eq!(net.requested_document, RequestedDocument::Invoice);
        assert_eq!(net.shipping_address, None);

        let gross = order_of(&order(true)).expect("maps");
        assert_eq!(gross.lines[0].unit_price.amount, Decimal::from(10));
        assert_eq!(gross.lines[0].discount.amount, Decimal::new(500, 2));
        assert_eq!(
            gross.shipping.map(|s| s.amount.amount),
            Some(Decimal::new(1845, 2))
        );
        assert_eq!(gross.payment_state, PaymentState::PartiallyRefunded);
        let refund = gross
            .payments
            .iter()
            .find(|p| p.kind == PaymentKind::Refund);
        assert_eq!(refund.map(|r| r.amount.amount), Some(Decimal::from(10)));
    }

    #[test]
    fn statuses_map_to_kontors_words() {
        assert_eq!(status_of("on-hold"), OrderStatus::OnHold);
        assert_eq!(status_of("failed"), OrderStatus::Cancelled);
        assert_eq!(status_of("checkout-draft"), OrderStatus::Pending);
        let mut unsku = order(false);
        unsku["line_items"][0]["sku"] = json!("");
        assert!(matches!(
            order_of(&unsku),
            Err(ConnectorError::Rejected { .. })
        ));
    }
}
