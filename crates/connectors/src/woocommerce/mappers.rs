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

use super::types;

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

fn nonempty(text: &str) -> Option<String> {
    Some(text.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn address_of(address: &types::Address) -> Result<Option<Address>, ConnectorError> {
    let Some(street) = nonempty(&address.address_1) else {
        return Ok(None);
    };
    let country = address.country.trim().to_owned();
    let name = [nonempty(&address.first_name), nonempty(&address.last_name)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Some(Address {
        name,
        company: nonempty(&address.company),
        street,
        street2: nonempty(&address.address_2),
        postal_code: nonempty(&address.postcode).unwrap_or_default(),
        city: nonempty(&address.city).unwrap_or_default(),
        region: nonempty(&address.state),
        country: CountryCode::new(&country)
            .map_err(|e| ConnectorError::protocol(format!("country `{country}`: {e}")))?,
        phone: nonempty(&address.phone),
    }))
}

/// The tax rate of a line or shipping line: the rates of the taxes it carries, from the
/// order's tax lines. A tax the order does not list is refused, not read as none.
fn rate_of(
    taxes: &[types::ItemTax],
    order: &types::Order,
    what: &str,
) -> Result<TaxRate, ConnectorError> {
    let mut rate = Decimal::ZERO;
    for tax in taxes
        .iter()
        .filter(|t| t.total.is_some_and(|a| !a.is_zero()))
    {
        let line = order
            .tax_lines
            .iter()
            .find(|t| t.rate_id == tax.id)
            .ok_or_else(|| {
                ConnectorError::protocol(format!(
                    "{what}: tax {} is not among the order's tax_lines",
                    tax.id
                ))
            })?;
        rate += line.rate_percent;
    }
    Ok(TaxRate(rate.normalize()))
}

fn vat_id_of(order: &types::Order) -> Option<VatId> {
    order
        .meta_data
        .iter()
        .find(|m| VAT_ID_KEYS.contains(&m.key.as_str()))
        .and_then(|m| text(&m.value))
        .and_then(|v| VatId::new(&v).ok())
}

fn time_of(text: &str, what: &str) -> Result<DateTime<Utc>, ConnectorError> {
    gmt_of(&Value::String(text.to_owned()))
        .ok_or_else(|| ConnectorError::protocol(format!("{what}: `{text}` is not a GMT date")))
}

fn payments_of(
    order: &types::Order,
    number: &str,
    currency: Currency,
    total: Money,
) -> Result<Vec<Payment>, ConnectorError> {
    let mut payments = Vec::new();
    let method = order.payment_method.trim().to_owned();
    if let Some(paid) = order.date_paid_gmt.as_deref().filter(|d| !d.is_empty()) {
        payments.push(Payment {
            order_number: number.to_owned(),
            kind: PaymentKind::Capture,
            amount: total,
            method: method.clone(),
            transaction_id: nonempty(&order.transaction_id)
                .unwrap_or_else(|| format!("woocommerce-order-{}", order.id)),
            at: time_of(paid, &format!("order {number}: date_paid_gmt"))?,
        });
    }
    let modified = time_of(
        &order.date_modified_gmt,
        &format!("order {number}: date_modified_gmt"),
    )?;
    for refund in &order.refunds {
        payments.push(Payment {
            order_number: number.to_owned(),
            kind: PaymentKind::Refund,
            // Refund summaries carry negative totals.
            amount: Money::new(refund.total.abs(), currency),
            method: method.clone(),
            transaction_id: format!("woocommerce-refund-{}", refund.id),
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

/// An order's shipping lines as its one charge (see [`crate::shipping`]).
fn shipping_of(
    order: &types::Order,
    number: &str,
    currency: Currency,
) -> Result<Option<ShippingCharge>, ConnectorError> {
    let mut lines = Vec::new();
    for (i, line) in order.shipping_lines.iter().enumerate() {
        let amount = if order.prices_include_tax {
            line.total + line.total_tax
        } else {
            line.total
        };
        lines.push((
            Money::new(amount, currency),
            rate_of(
                &line.taxes,
                order,
                &format!("order {number}: shipping_lines[{i}]"),
            )?,
        ));
    }
    let method = order
        .shipping_lines
        .first()
        .and_then(|first| nonempty(&first.method_id))
        .unwrap_or_else(|| "shipping".into());
    crate::shipping::one_charge(method, &lines, number, "shipping_lines")
}

/// A WooCommerce order in canonical terms, read gross or net as the order was priced.
pub(crate) fn order_of(value: &Value) -> Result<Order, ConnectorError> {
    let order: types::Order = crate::typed::read("order", value)?;
    let number = nonempty(&order.number).unwrap_or_else(|| order.id.to_string());
    let currency = Currency::new(&order.currency).map_err(|e| {
        ConnectorError::protocol(format!(
            "order {number}: currency `{}`: {e}",
            order.currency
        ))
    })?;
    let gross = order.prices_include_tax;

    let mut lines = Vec::new();
    for (i, line) in order.line_items.iter().enumerate() {
        if line.quantity == 0 {
            continue;
        }
        let quantity = Decimal::from(line.quantity);
        let (before, after) = if gross {
            (
                line.subtotal + line.subtotal_tax,
                line.total + line.total_tax,
            )
        } else {
            (line.subtotal, line.total)
        };
        let sku = line.sku.as_deref().and_then(nonempty).ok_or_else(|| {
            crate::typed::line_without_sku(format!(
                "line `{}` of order {number} has no SKU; give the product a SKU in WooCommerce",
                line.name
            ))
        })?;
        lines.push(OrderLine {
            id: line.id.to_string(),
            sku,
            name: line.name.clone(),
            quantity,
            unit_price: Money::new(before / quantity, currency),
            discount: Money::new(before - after, currency),
            tax_rate: rate_of(
                &line.taxes,
                &order,
                &format!("order {number}: line_items[{i}]"),
            )?,
        });
    }

    let shipping = shipping_of(&order, &number, currency)?;
    let delivery = match order.shipping_lines.first() {
        Some(line) if line.method_id == "local_pickup" => DeliveryMethod::StorePickup {
            location: line.method_title.trim().to_owned(),
        },
        _ => DeliveryMethod::Shipping {
            method: shipping
                .as_ref()
                .map_or_else(|| "none".to_owned(), |s| s.method.clone()),
            carrier: None,
        },
    };

    let total = Money::new(order.total, currency);
    let payments = payments_of(&order, &number, currency, total)?;
    let billing = &order.billing;
    let billing_address = address_of(billing)?;
    let shipping_address = address_of(&order.shipping)?;
    let vat_id = vat_id_of(&order);
    let customer_id = Some(order.customer_id).filter(|id| *id > 0);
    let created = time_of(
        &order.date_created_gmt,
        &format!("order {number}: date_created_gmt"),
    )?;
    let updated = time_of(
        &order.date_modified_gmt,
        &format!("order {number}: date_modified_gmt"),
    )?;

    Ok(Order {
        id: order.id.to_string(),
        number: number.clone(),
        placed_at: created,
        updated_at: updated,
        currency,
        prices_include_tax: gross,
        customer: OrderCustomer {
            reference: customer_id.map(|id| id.to_string()),
            email: nonempty(&billing.email).and_then(|e| Email::new(&e).ok()),
            name: [nonempty(&billing.first_name), nonempty(&billing.last_name)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            phone: nonempty(&billing.phone),
            company: nonempty(&billing.company),
            vat_id: vat_id.clone(),
        },
        billing_address,
        shipping_address,
        lines,
        shipping,
        discounts: Vec::new(),
        totals: OrderTotals {
            tax: Money::new(order.total_tax, currency),
            total,
        },
        payment_state: payment_state_of(&order.status, &payments, &total),
        payment_method: nonempty(&order.payment_method),
        payments,
        delivery,
        status: status_of(&order.status),
        source_status: Some(order.status.clone()),
        requested_document: if vat_id.is_some() {
            RequestedDocument::Invoice
        } else {
            RequestedDocument::Receipt
        },
        note: nonempty(&order.customer_note),
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

    #[test]
    fn an_answer_missing_what_money_quantity_or_identity_depends_on_is_refused_by_name() {
        for (path, field) in [
            ("/prices_include_tax", "prices_include_tax"),
            ("/line_items/0/quantity", "line_items[0].quantity"),
            ("/line_items/0/total", "line_items[0].total"),
            ("/line_items/0/id", "line_items[0].id"),
            ("/shipping_lines/0/total_tax", "shipping_lines[0].total_tax"),
            ("/total", "total"),
            ("/id", "id"),
            ("/currency", "currency"),
        ] {
            let mut answer = order(true);
            let (parent, key) = path.rsplit_once('/').expect("a path");
            answer
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .expect("the parent")
                .remove(key);
            match order_of(&answer) {
                Err(ConnectorError::Protocol { message, .. }) => {
                    assert!(message.contains(field), "{field}: {message}")
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut empty = order(false);
        empty["line_items"][0]["subtotal"] = json!("");
        assert!(matches!(
            order_of(&empty),
            Err(ConnectorError::Protocol { .. })
        ));
        let mut unlisted = order(false);
        unlisted["line_items"][0]["taxes"][0]["id"] = json!(99);
        assert!(matches!(
            order_of(&unlisted),
            Err(ConnectorError::Protocol { .. })
        ));
    }

    #[test]
    fn every_shipping_line_counts_and_lines_at_two_rates_are_refused() {
        let mut two = order(false);
        two["shipping_lines"] = json!([
            {"id": 9, "method_id": "flat_rate", "method_title": "Kurier", "total": "15.00", "total_tax": "3.45", "taxes": [{"id": 1, "total": "3.45"}]},
            {"id": 10, "method_id": "flat_rate", "method_title": "Wniesienie", "total": "5.00", "total_tax": "1.15", "taxes": [{"id": 1, "total": "1.15"}]},
        ]);
        let shipping = order_of(&two).expect("maps").shipping.expect("shipping");
        assert_eq!(shipping.amount.amount, Decimal::new(2000, 2));
        two["tax_lines"] = json!([{"id": 5, "rate_id": 1, "rate_percent": 23}, {"id": 6, "rate_id": 2, "rate_percent": 8}]);
        two["shipping_lines"][1]["taxes"][0]["id"] = json!(2);
        assert!(matches!(
            order_of(&two),
            Err(ConnectorError::Rejected { code: Some(code), .. }) if code == "mixed_shipping_tax_rates"
        ));
    }
}
