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

use super::numeric;

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

fn amount_of(bag: &Value, what: &str) -> Result<Decimal, ConnectorError> {
    match &bag["shopMoney"]["amount"] {
        Value::Null => Ok(Decimal::ZERO),
        Value::String(s) => Decimal::from_str(s.trim())
            .map_err(|_| ConnectorError::protocol(format!("{what}: `{s}` is not an amount"))),
        other => Err(ConnectorError::protocol(format!(
            "{what}: `{other}` is not an amount"
        ))),
    }
}

/// An amount as Shopify's `Money` input takes it: a decimal string.
pub(crate) fn money_text(money: &Money) -> String {
    money.amount.normalize().to_string()
}

fn rate_of(tax_lines: &Value) -> TaxRate {
    tax_lines
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|t| t["ratePercentage"].as_f64())
        .and_then(|r| Decimal::from_str(&r.to_string()).ok())
        .map_or(TaxRate::ZERO, |r| TaxRate(r.normalize()))
}

pub(crate) fn address_of(value: &Value) -> Result<Option<Address>, ConnectorError> {
    let Some(street) = text(&value["address1"]) else {
        return Ok(None);
    };
    let country = text(&value["countryCodeV2"]).unwrap_or_default();
    let name = text(&value["name"]).unwrap_or_else(|| {
        [text(&value["firstName"]), text(&value["lastName"])]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    Ok(Some(Address {
        name,
        company: text(&value["company"]),
        street,
        street2: text(&value["address2"]),
        postal_code: text(&value["zip"]).unwrap_or_default(),
        city: text(&value["city"]).unwrap_or_default(),
        region: text(&value["province"]),
        country: CountryCode::new(&country)
            .map_err(|e| ConnectorError::protocol(format!("country `{country}`: {e}")))?,
        phone: text(&value["phone"]),
    }))
}

fn vat_id_of(order: &Value) -> Option<VatId> {
    order["customAttributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| {
            a["key"]
                .as_str()
                .is_some_and(|k| VAT_ID_KEYS.contains(&k.to_lowercase().as_str()))
        })
        .and_then(|a| text(&a["value"]))
        .and_then(|v| VatId::new(&v).ok())
}

/// The number customers see, without Shopify's `#`.
pub(crate) fn number_of(order: &Value) -> String {
    text(&order["name"])
        .map(|n| n.trim_start_matches('#').to_owned())
        .unwrap_or_else(|| numeric(&order["id"]).unwrap_or_default().to_string())
}

fn payments_of(
    order: &Value,
    number: &str,
    currency: Currency,
) -> Result<Vec<Payment>, ConnectorError> {
    let mut payments = Vec::new();
    for transaction in order["transactions"].as_array().into_iter().flatten() {
        if transaction["status"] != "SUCCESS" {
            continue;
        }
        let kind = match transaction["kind"].as_str().unwrap_or_default() {
            "SALE" | "CAPTURE" => PaymentKind::Capture,
            "REFUND" => PaymentKind::Refund,
            _ => continue,
        };
        payments.push(Payment {
            order_number: number.to_owned(),
            kind,
            amount: Money::new(
                amount_of(&transaction["amountSet"], "transaction")?,
                currency,
            ),
            method: text(&transaction["gateway"]).unwrap_or_default(),
            transaction_id: format!(
                "shopify-transaction-{}",
                numeric(&transaction["id"]).unwrap_or_default()
            ),
            at: time_of(&transaction["processedAt"])
                .or_else(|| time_of(&transaction["createdAt"]))
                .unwrap_or_else(Utc::now),
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

pub(crate) fn status_of(order: &Value) -> OrderStatus {
    if order["cancelledAt"].is_string() {
        return OrderStatus::Cancelled;
    }
    match (
        order["displayFinancialStatus"].as_str().unwrap_or_default(),
        order["displayFulfillmentStatus"]
            .as_str()
            .unwrap_or_default(),
    ) {
        ("REFUNDED", _) => OrderStatus::Refunded,
        (_, "FULFILLED") => OrderStatus::Completed,
        ("PAID" | "PARTIALLY_REFUNDED", _) => OrderStatus::Processing,
        _ => OrderStatus::Pending,
    }
}

/// A Shopify order in canonical terms, read gross or net as the order was priced.
pub(crate) fn order_of(order: &Value) -> Result<Order, ConnectorError> {
    let code = order["currencyCode"].as_str().unwrap_or_default();
    let currency = Currency::new(code)
        .map_err(|e| ConnectorError::protocol(format!("order currency `{code}`: {e}")))?;
    let id =
        numeric(&order["id"]).ok_or_else(|| ConnectorError::protocol("an order without an id"))?;
    let number = number_of(order);
    let gross = order["taxesIncluded"].as_bool().unwrap_or(false);

    let mut lines = Vec::new();
    for line in order["lineItems"]["nodes"].as_array().into_iter().flatten() {
        let quantity = Decimal::from(line["quantity"].as_i64().unwrap_or_default());
        if quantity.is_zero() {
            continue;
        }
        let sku = text(&line["sku"]).ok_or_else(|| ConnectorError::Rejected {
            code: Some("line_without_sku".into()),
            message: format!(
                "line `{}` of order {number} has no SKU; give the variant a SKU in Shopify",
                line["name"].as_str().unwrap_or_default()
            ),
            field: Some("sku".into()),
        })?;
        lines.push(OrderLine {
            id: numeric(&line["id"]).unwrap_or_default().to_string(),
            sku,
            name: line["name"].as_str().unwrap_or_default().to_owned(),
            quantity,
            unit_price: Money::new(
                amount_of(&line["originalUnitPriceSet"], "unit price")?,
                currency,
            ),
            discount: Money::new(
                amount_of(&line["totalDiscountSet"], "line discount")?,
                currency,
            ),
            tax_rate: rate_of(&line["taxLines"]),
        });
    }

    let first_shipping = order["shippingLines"]["nodes"]
        .as_array()
        .and_then(|l| l.first());
    let shipping = match first_shipping {
        Some(line) => Some(ShippingCharge {
            method: text(&line["code"])
                .or_else(|| text(&line["title"]))
                .unwrap_or_else(|| "shipping".into()),
            amount: Money::new(
                amount_of(&line["discountedPriceSet"], "shipping")?,
                currency,
            ),
            tax_rate: rate_of(&line["taxLines"]),
        }),
        None => None,
    };
    let delivery = match first_shipping {
        Some(line) if line["deliveryCategory"] == "local" || line["source"] == "shopify_pickup" => {
            DeliveryMethod::StorePickup {
                location: text(&line["title"]).unwrap_or_default(),
            }
        }
        _ => DeliveryMethod::Shipping {
            method: shipping
                .as_ref()
                .map_or_else(|| "none".to_owned(), |s| s.method.clone()),
            carrier: None,
        },
    };

    let total = Money::new(amount_of(&order["totalPriceSet"], "total")?, currency);
    let payments = payments_of(order, &number, currency)?;
    let billing_address = address_of(&order["billingAddress"])?;
    let shipping_address = address_of(&order["shippingAddress"])?;
    let vat_id = vat_id_of(order);
    let customer = &order["customer"];
    let billing = &order["billingAddress"];
    let created = time_of(&order["createdAt"])
        .ok_or_else(|| ConnectorError::protocol("an order without createdAt"))?;
    let status = status_of(order);
    let name = billing_address
        .as_ref()
        .map(|a| a.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            [text(&customer["firstName"]), text(&customer["lastName"])]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        });

    Ok(Order {
        id: id.to_string(),
        number: number.clone(),
        placed_at: created,
        updated_at: time_of(&order["updatedAt"]).unwrap_or(created),
        currency,
        prices_include_tax: gross,
        customer: OrderCustomer {
            reference: numeric(&customer["id"]).map(|id| id.to_string()),
            email: text(&order["email"])
                .or_else(|| text(&customer["email"]))
                .and_then(|e| Email::new(&e).ok()),
            name,
            phone: text(&order["phone"]).or_else(|| text(&billing["phone"])),
            company: text(&billing["company"]),
            vat_id: vat_id.clone(),
        },
        billing_address,
        shipping_address,
        lines,
        shipping,
        discounts: Vec::new(),
        totals: OrderTotals {
            tax: Money::new(amount_of(&order["totalTaxSet"], "total tax")?, currency),
            total,
        },
        payment_state: payment_state_of(
            order["displayFinancialStatus"].as_str().unwrap_or_default(),
        ),
        payment_method: order["paymentGatewayNames"]
            .as_array()
            .and_then(|g| g.first())
            .and_then(text),
        payments,
        delivery,
        status,
        source_status: Some(if status == OrderStatus::Cancelled {
            "cancelled".to_owned()
        } else {
            order["displayFulfillmentStatus"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
        }),
        requested_document: if vat_id.is_some() {
            RequestedDocument::Invoice
        } else {
            RequestedDocument::Receipt
        },
        note: text(&order["note"]),
    })
}

/// A refund as a return for the ERP.
pub(crate) fn return_of(order: &Value, refund: &Value) -> Result<Return, ConnectorError> {
    let code = order["currencyCode"].as_str().unwrap_or_default();
    let currency = Currency::new(code)
        .map_err(|e| ConnectorError::protocol(format!("order currency `{code}`: {e}")))?;
    let reason = text(&refund["note"]);
    let lines = refund["refundLineItems"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|line| {
            Some(ReturnLine {
                sku: text(&line["lineItem"]["sku"])?,
                quantity: Decimal::from(line["quantity"].as_i64()?.abs()),
                reason: reason.clone(),
            })
        })
        .collect();
    Ok(Return {
        reference: format!(
            "shopify-refund-{}",
            numeric(&refund["id"]).unwrap_or_default()
        ),
        order_number: number_of(order),
        lines,
        refund: Some(Money::new(
            amount_of(&refund["totalRefundedSet"], "refund")?,
            currency,
        )),
        created_at: time_of(&refund["createdAt"]).unwrap_or_else(Utc::now),
    })
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
                  "amountSet": bag("40.99"), "processedAt": "2026-11-24T09:00:01Z" },
                { "id": "gid://shopify/OrderTransaction/4", "kind": "REFUND", "status": "SUCCESS", "gateway": "przelewy24",
                  "amountSet": bag("10.00"), "processedAt": "2026-11-24T10:00:00Z" },
                { "id": "gid://shopify/OrderTransaction/5", "kind": "SALE", "status": "FAILURE", "gateway": "x",
                  "amountSet": bag("1.00") }
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
        assert_eq!(status_of(&cancelled), OrderStatus::Cancelled);
        let mut unsku = self::order();
        unsku["lineItems"]["nodes"][0]["sku"] = json!(null);
        assert!(matches!(
            order_of(&unsku),
            Err(ConnectorError::Rejected { .. })
        ));
    }
}
