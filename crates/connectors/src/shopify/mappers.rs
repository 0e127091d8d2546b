//! Shopify ↔ canonical, pure functions over the Admin GraphQL API's JSON.
//!
//! Amounts come as `MoneyBag`s (`{shopMoney: {amount, currencyCode}}`) with decimal
//! strings. A line's `originalUnitPriceSet` is the price as the shop enters prices —
//! with tax when the order's `taxesIncluded` — and `totalDiscountSet` is on the same
//! basis, so canonical lines are read on the order's own basis.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use kontor_connector::ConnectorError;
use kontor_model::{
    Address, CountryCode, Currency, DeliveryMethod, Email, Money, Order, OrderCustomer, OrderLine,
    OrderStatus, OrderTotals, Payment, PaymentKind, PaymentState, RequestedDocument, Return,
    ReturnLine, ShippingCharge, TaxRate, VatId,
};
use rust_decimal::Decimal;
use serde_json::Value;

use super::{numeric, types};

/// Checkout attributes (`customAttributes`) in which Polish and EU B2B checkouts
/// commonly collect the buyer's VAT id.
const VAT_ID_KEYS: [&str; 5] = ["vat_id", "nip", "vat_number", "vat", "tax_id"];

pub(crate) fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub(crate) fn time_of(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// An amount as Shopify's `Money` input takes it: a decimal string.
pub(crate) fn money_text(money: &Money) -> String {
    money.amount.normalize().to_string()
}

/// The tax rate of a line: its tax lines' rates added up (one, for VAT). A tax line
/// without a rate is refused rather than read as no tax.
fn rate_of(tax_lines: &[types::TaxLine], what: &str) -> Result<TaxRate, ConnectorError> {
    let mut total = Decimal::ZERO;
    for line in tax_lines {
        let rate = line.rate_percentage.ok_or_else(|| {
            ConnectorError::protocol(format!("{what}: a tax line without ratePercentage"))
        })?;
        let rate = Decimal::from_str(&rate.to_string()).map_err(|_| {
            ConnectorError::protocol(format!("{what}: tax rate `{rate}` is not a number"))
        })?;
        total += rate;
    }
    Ok(TaxRate(total.round_dp(4).normalize()))
}

fn nonempty(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn address_of(address: Option<&types::MailingAddress>) -> Result<Option<Address>, ConnectorError> {
    let Some(address) = address else {
        return Ok(None);
    };
    let Some(street) = nonempty(&address.address1) else {
        return Ok(None);
    };
    let country = nonempty(&address.country_code_v2).unwrap_or_default();
    let name = nonempty(&address.name).unwrap_or_else(|| {
        [nonempty(&address.first_name), nonempty(&address.last_name)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    Ok(Some(Address {
        name,
        company: nonempty(&address.company),
        street,
        street2: nonempty(&address.address2),
        postal_code: nonempty(&address.zip).unwrap_or_default(),
        city: nonempty(&address.city).unwrap_or_default(),
        region: nonempty(&address.province),
        country: CountryCode::new(&country)
            .map_err(|e| ConnectorError::protocol(format!("country `{country}`: {e}")))?,
        phone: nonempty(&address.phone),
    }))
}

fn vat_id_of(order: &types::Order) -> Option<VatId> {
    order
        .custom_attributes
        .iter()
        .find(|a| VAT_ID_KEYS.contains(&a.key.to_lowercase().as_str()))
        .and_then(|a| nonempty(&a.value))
        .and_then(|v| VatId::new(&v).ok())
}

/// The number customers see, without Shopify's `#`.
pub(crate) fn number_of(order: &Value) -> String {
    text(&order["name"])
        .map(|n| n.trim_start_matches('#').to_owned())
        .unwrap_or_else(|| numeric(&order["id"]).unwrap_or_default().to_string())
}

fn number_from(name: &str) -> String {
    name.trim().trim_start_matches('#').to_owned()
}

/// The numeric part of a gid, required.
fn id_of(gid: &str, what: &str) -> Result<u64, ConnectorError> {
    numeric(&Value::String(gid.to_owned()))
        .ok_or_else(|| ConnectorError::protocol(format!("{what}: `{gid}` is not a Shopify id")))
}

fn payments_of(
    order: &types::Order,
    number: &str,
    currency: Currency,
) -> Result<Vec<Payment>, ConnectorError> {
    let mut payments = Vec::new();
    for (i, transaction) in order.transactions.iter().enumerate() {
        if transaction.status != "SUCCESS" {
            continue;
        }
        let kind = match transaction.kind.as_str() {
            "SALE" | "CAPTURE" => PaymentKind::Capture,
            "REFUND" => PaymentKind::Refund,
            _ => continue,
        };
        let what = format!("order {number}: transactions[{i}]");
        payments.push(Payment {
            order_number: number.to_owned(),
            kind,
            amount: transaction
                .amount_set
                .money(currency, &format!("{what}.amountSet"))?,
            method: nonempty(&transaction.gateway).unwrap_or_default(),
            transaction_id: format!(
                "shopify-transaction-{}",
                id_of(&transaction.id, &format!("{what}.id"))?
            ),
            at: transaction.processed_at.unwrap_or(transaction.created_at),
        });
    }
    Ok(payments)
}

fn payment_state_of(status: &str) -> PaymentState {
    match status {
        "PAID" => PaymentState::Paid,
        "PARTIALLY_REFUNDED" => PaymentState::PartiallyRefunded,
        "REFUNDED" => PaymentState::Refunded,
        "VOIDED" | "EXPIRED" => PaymentState::Voided,
        _ => PaymentState::Pending,
    }
}

fn status_from(order: &types::Order) -> OrderStatus {
    if order.cancelled_at.is_some() {
        return OrderStatus::Cancelled;
    }
    match (
        order
            .display_financial_status
            .as_deref()
            .unwrap_or_default(),
        order.display_fulfillment_status.as_str(),
    ) {
        ("REFUNDED", _) => OrderStatus::Refunded,
        (_, "FULFILLED") => OrderStatus::Completed,
        ("PAID" | "PARTIALLY_REFUNDED", _) => OrderStatus::Processing,
        _ => OrderStatus::Pending,
    }
}

/// An order's shipping lines as its one charge (see [`crate::shipping`]).
fn shipping_of(
    order: &types::Order,
    number: &str,
    currency: Currency,
) -> Result<Option<ShippingCharge>, ConnectorError> {
    let mut lines = Vec::new();
    for (i, line) in order.shipping_lines.nodes.iter().enumerate() {
        let what = format!("order {number}: shippingLines[{i}]");
        lines.push((
            line.discounted_price_set
                .money(currency, &format!("{what}.discountedPriceSet"))?,
            rate_of(&line.tax_lines, &what)?,
        ));
    }
    let method = order.shipping_lines.nodes.first().map(|first| {
        nonempty(&first.code)
            .or_else(|| nonempty(&Some(first.title.clone())))
            .unwrap_or_else(|| "shipping".into())
    });
    crate::shipping::one_charge(method.unwrap_or_default(), &lines, number, "shippingLines")
}

/// A Shopify order in canonical terms, read gross or net as the order was priced.
pub(crate) fn order_of(value: &Value) -> Result<Order, ConnectorError> {
    let order: types::Order = crate::typed::read("order", value)?;
    let number = number_from(&order.name);
    let currency = Currency::new(&order.currency_code).map_err(|e| {
        ConnectorError::protocol(format!(
            "order {number}: currencyCode `{}`: {e}",
            order.currency_code
        ))
    })?;
    let id = id_of(&order.id, &format!("order {number}: id"))?;
    for (what, nodes) in [
        ("lineItems", order.line_items.truncated()),
        ("shippingLines", order.shipping_lines.truncated()),
    ] {
        if nodes {
            return Err(ConnectorError::Rejected {
                code: Some("order_too_large".into()),
                message: format!("order {number} has more {what} than one answer carries"),
                field: Some(what.into()),
            });
        }
    }

    let mut lines = Vec::new();
    for (i, line) in order.line_items.nodes.iter().enumerate() {
        let what = format!("order {number}: lineItems[{i}]");
        if line.quantity == 0 {
            continue;
        }
        let sku = nonempty(&line.sku).ok_or_else(|| {
            crate::typed::line_without_sku(format!(
                "line `{}` of order {number} has no SKU; give the variant a SKU in Shopify",
                line.name
            ))
        })?;
        lines.push(OrderLine {
            id: id_of(&line.id, &format!("{what}.id"))?.to_string(),
            sku,
            name: line.name.clone(),
            quantity: Decimal::from(line.quantity),
            unit_price: line
                .original_unit_price_set
                .money(currency, &format!("{what}.originalUnitPriceSet"))?,
            discount: line
                .total_discount_set
                .money(currency, &format!("{what}.totalDiscountSet"))?,
            tax_rate: rate_of(&line.tax_lines, &what)?,
        });
    }

    let shipping = shipping_of(&order, &number, currency)?;
    let pickup = order.shipping_lines.nodes.first().filter(|line| {
        line.delivery_category.as_deref() == Some("local")
            || line.source.as_deref() == Some("shopify_pickup")
    });
    let delivery = match pickup {
        Some(line) => DeliveryMethod::StorePickup {
            location: line.title.clone(),
        },
        None => DeliveryMethod::Shipping {
            method: shipping
                .as_ref()
                .map_or_else(|| "none".to_owned(), |s| s.method.clone()),
            carrier: None,
        },
    };

    let payments = payments_of(&order, &number, currency)?;
    let billing_address = address_of(order.billing_address.as_ref())?;
    let shipping_address = address_of(order.shipping_address.as_ref())?;
    let vat_id = vat_id_of(&order);
    let customer = order.customer.as_ref();
    let billing = order.billing_address.as_ref();
    let status = status_from(&order);
    let name = billing_address
        .as_ref()
        .map(|a| a.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            customer
                .map(|c| {
                    [nonempty(&c.first_name), nonempty(&c.last_name)]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default()
        });
    let customer_reference = customer
        .map(|c| id_of(&c.id, &format!("order {number}: customer.id")))
        .transpose()?
        .map(|id| id.to_string());
    // A tax-free order has no tax total; any other answer without one is refused.
    let tax = match &order.total_tax_set {
        Some(bag) => bag.money(currency, &format!("order {number}: totalTaxSet"))?,
        None if lines.iter().all(|l| l.tax_rate == TaxRate::ZERO) => Money::zero(currency),
        None => {
            return Err(ConnectorError::protocol(format!(
                "order {number}: totalTaxSet is missing on a taxed order"
            )));
        }
    };

    Ok(Order {
        id: id.to_string(),
        number: number.clone(),
        placed_at: order.created_at,
        updated_at: order.updated_at,
        currency,
        prices_include_tax: order.taxes_included,
        customer: OrderCustomer {
            reference: customer_reference,
            email: nonempty(&order.email)
                .or_else(|| customer.and_then(|c| nonempty(&c.email)))
                .and_then(|e| Email::new(&e).ok()),
            name,
            phone: nonempty(&order.phone).or_else(|| billing.and_then(|b| nonempty(&b.phone))),
            company: billing.and_then(|b| nonempty(&b.company)),
            vat_id: vat_id.clone(),
        },
        billing_address,
        shipping_address,
        lines,
        shipping,
        discounts: Vec::new(),
        totals: OrderTotals {
            tax,
            total: order
                .total_price_set
                .money(currency, &format!("order {number}: totalPriceSet"))?,
        },
        payment_state: payment_state_of(
            order
                .display_financial_status
                .as_deref()
                .unwrap_or_default(),
        ),
        payment_method: order
            .payment_gateway_names
            .first()
            .and_then(|g| nonempty(&Some(g.clone()))),
        payments,
        delivery,
        status,
        source_status: Some(if status == OrderStatus::Cancelled {
            "cancelled".to_owned()
        } else {
            order.display_fulfillment_status.to_lowercase()
        }),
        requested_document: if vat_id.is_some() {
            RequestedDocument::Invoice
        } else {
            RequestedDocument::Receipt
        },
        note: nonempty(&order.note),
    })
}

/// The returns of an order's refunds (`REFUNDS`), each with when it was made: its own
/// time, or — Shopify may not say — `updated_at`, the order's last change.
pub(crate) fn returns_of(
    value: &Value,
    updated_at: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, u64, Return)>, ConnectorError> {
    let order: types::RefundedOrder = crate::typed::read("refunds", value)?;
    let number = number_from(&order.name);
    let currency = Currency::new(&order.currency_code).map_err(|e| {
        ConnectorError::protocol(format!(
            "order {number}: currencyCode `{}`: {e}",
            order.currency_code
        ))
    })?;
    let mut returns = Vec::new();
    for (i, refund) in order.refunds.iter().enumerate() {
        let what = format!("order {number}: refunds[{i}]");
        if refund.refund_line_items.truncated() {
            return Err(ConnectorError::Rejected {
                code: Some("refund_too_large".into()),
                message: format!("{what} has more lines than one answer carries"),
                field: Some("refundLineItems".into()),
            });
        }
        let id = id_of(&refund.id, &format!("{what}.id"))?;
        let reason = nonempty(&refund.note);
        let mut lines = Vec::new();
        for (j, line) in refund.refund_line_items.nodes.iter().enumerate() {
            let sku = nonempty(&line.line_item.sku).ok_or_else(|| crate::typed::line_without_sku(format!(
                    "{what}.refundLineItems[{j}] is for a line without a SKU; the ERP cannot take it back"
                )))?;
            lines.push(ReturnLine {
                sku,
                quantity: Decimal::from(line.quantity.abs()),
                reason: reason.clone(),
            });
        }
        let at = refund.created_at.unwrap_or(updated_at);
        returns.push((
            at,
            id,
            Return {
                reference: format!("shopify-refund-{id}"),
                order_number: number.clone(),
                lines,
                refund: Some(
                    refund
                        .total_refunded_set
                        .money(currency, &format!("{what}.totalRefundedSet"))?,
                ),
                created_at: at,
            },
        ));
    }
    Ok(returns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bag(amount: &str) -> Value {
        json!({ "shopMoney": { "amount": amount, "currencyCode": "PLN" } })
    }

    fn order() -> Value {
        json!({
            "id": "gid://shopify/Order/5", "name": "#1001", "currencyCode": "PLN",
            "taxesIncluded": true, "createdAt": "2026-11-24T09:00:00Z", "updatedAt": "2026-11-24T09:05:00Z",
            "cancelledAt": null, "displayFinancialStatus": "PARTIALLY_REFUNDED",
            "displayFulfillmentStatus": "UNFULFILLED", "email": "jan@example.com",
            "customAttributes": [{ "key": "NIP", "value": "PL5260250274" }],
            "customer": { "id": "gid://shopify/Customer/9", "firstName": "Jan", "lastName": "Kowalski" },
            "billingAddress": { "name": "Jan Kowalski", "address1": "ul. Długa 1", "city": "Kraków",
                                "zip": "30-001", "countryCodeV2": "PL", "company": "ACME" },
            "shippingAddress": null,
            "lineItems": { "nodes": [{ "id": "gid://shopify/LineItem/1", "sku": "MUG", "name": "Kubek",
                "quantity": 3, "originalUnitPriceSet": bag("10.00"), "totalDiscountSet": bag("5.00"),
                "taxLines": [{ "ratePercentage": 23.0, "priceSet": bag("4.68") }] }] },
            "shippingLines": { "nodes": [{ "title": "Kurier", "code": "Kurier", "discountedPriceSet": bag("15.99"),
                "taxLines": [{ "ratePercentage": 23.0 }] }] },
            "totalPriceSet": bag("40.99"), "totalTaxSet": bag("7.67"),
            "paymentGatewayNames": ["przelewy24"],
            "transactions": [
                { "id": "gid://shopify/OrderTransaction/3", "kind": "SALE", "status": "SUCCESS", "gateway": "przelewy24",
                  "amountSet": bag("40.99"), "processedAt": "2026-11-24T09:00:01Z", "createdAt": "2026-11-24T09:00:01Z" },
                { "id": "gid://shopify/OrderTransaction/4", "kind": "REFUND", "status": "SUCCESS", "gateway": "przelewy24",
                  "amountSet": bag("10.00"), "processedAt": "2026-11-24T10:00:00Z", "createdAt": "2026-11-24T10:00:00Z" },
                { "id": "gid://shopify/OrderTransaction/5", "kind": "SALE", "status": "FAILURE", "gateway": "x",
                  "amountSet": bag("1.00"), "createdAt": "2026-11-24T09:00:00Z" }
            ],
        })
    }

    #[test]
    fn an_order_reads_on_its_own_tax_basis_with_payments_and_vat_id() {
        let order = order_of(&order()).expect("maps");
        assert_eq!(order.number, "1001");
        assert!(order.prices_include_tax);
        assert_eq!(order.lines[0].unit_price.amount, Decimal::new(1000, 2));
        assert_eq!(order.lines[0].discount.amount, Decimal::new(500, 2));
        assert_eq!(order.lines[0].tax_rate, TaxRate(Decimal::from(23)));
        assert_eq!(
            order.shipping.as_ref().map(|s| s.amount.amount),
            Some(Decimal::new(1599, 2))
        );
        assert_eq!(order.totals.total.amount, Decimal::new(4099, 2));
        assert_eq!(order.payments.len(), 2);
        assert_eq!(order.payment_state, PaymentState::PartiallyRefunded);
        assert_eq!(order.requested_document, RequestedDocument::Invoice);
        assert_eq!(order.customer.reference.as_deref(), Some("9"));
        assert_eq!(order.status, OrderStatus::Processing);
        let mut cancelled = self::order();
        cancelled["cancelledAt"] = json!("2026-11-24T11:00:00Z");
        assert_eq!(
            order_of(&cancelled).expect("maps").status,
            OrderStatus::Cancelled
        );
        let mut unsku = self::order();
        unsku["lineItems"]["nodes"][0]["sku"] = json!(null);
        assert!(matches!(
            order_of(&unsku),
            Err(ConnectorError::Rejected { .. })
        ));
    }

    #[test]
    fn an_answer_missing_what_money_quantity_or_identity_depends_on_is_refused_by_name() {
        for (path, field) in [
            ("/taxesIncluded", "taxesIncluded"),
            ("/lineItems/nodes/0/quantity", "lineItems.nodes[0].quantity"),
            (
                "/lineItems/nodes/0/originalUnitPriceSet",
                "lineItems.nodes[0].originalUnitPriceSet",
            ),
            ("/lineItems/nodes/0/id", "lineItems.nodes[0].id"),
            (
                "/shippingLines/nodes/0/discountedPriceSet",
                "shippingLines.nodes[0].discountedPriceSet",
            ),
            ("/totalPriceSet", "totalPriceSet"),
            ("/currencyCode", "currencyCode"),
            ("/transactions/1/amountSet", "transactions[1].amountSet"),
        ] {
            let mut answer = order();
            let (parent, key) = path.rsplit_once('/').expect("a path");
            answer
                .pointer_mut(if parent.is_empty() { "" } else { parent })
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
        let mut foreign = order();
        foreign["lineItems"]["nodes"][0]["totalDiscountSet"]["shopMoney"]["currencyCode"] =
            json!("EUR");
        assert!(matches!(
            order_of(&foreign),
            Err(ConnectorError::Protocol { .. })
        ));
        let mut rateless = order();
        rateless["lineItems"]["nodes"][0]["taxLines"] = json!([{ "ratePercentage": null }]);
        assert!(matches!(
            order_of(&rateless),
            Err(ConnectorError::Protocol { .. })
        ));
    }

    #[test]
    fn every_shipping_line_counts_and_lines_at_two_rates_are_refused() {
        let mut two = order();
        two["shippingLines"]["nodes"] = json!([
            { "title": "Kurier", "code": "Kurier", "discountedPriceSet": bag("15.99"), "taxLines": [{ "ratePercentage": 23.0 }] },
            { "title": "Ubezpieczenie", "discountedPriceSet": bag("4.01"), "taxLines": [{ "ratePercentage": 23.0 }] },
        ]);
        let shipping = order_of(&two).expect("maps").shipping.expect("shipping");
        assert_eq!(shipping.amount.amount, Decimal::new(2000, 2));
        assert_eq!(shipping.method, "Kurier");
        two["shippingLines"]["nodes"][1]["taxLines"] = json!([{ "ratePercentage": 8.0 }]);
        assert!(matches!(
            order_of(&two),
            Err(ConnectorError::Rejected { code: Some(code), .. }) if code == "mixed_shipping_tax_rates"
        ));
        let mut long = order();
        long["lineItems"]["pageInfo"] = json!({ "hasNextPage": true });
        assert!(matches!(
            order_of(&long),
            Err(ConnectorError::Rejected { .. })
        ));
    }
}
