//! Vendure ↔ canonical, pure functions over the Admin API's JSON.
//!
//! Vendure keeps money as integers in minor units with a precision of 2 (its default
//! money strategy, whatever the currency), and tax rates as percentages.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use kontor_connector::ConnectorError;
use kontor_model::{
    Address, CountryCode, Currency, DeliveryMethod, Email, Money, Order, OrderCustomer, OrderLine,
    OrderStatus, OrderTotals, Payment, PaymentKind, PaymentState, RequestedDocument,
    ShippingCharge, TaxRate,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;

/// Vendure's money precision (its `DefaultMoneyStrategy`).
const PRECISION: u32 = 2;

/// The fields of an order Kontor reads; `ORDER_FIELDS` in a query selects them.
pub(crate) const ORDER_FIELDS: &str = "
  id code state orderPlacedAt updatedAt currencyCode
  customer { id emailAddress firstName lastName phoneNumber }
  shippingAddress { fullName company streetLine1 streetLine2 city province postalCode countryCode phoneNumber }
  billingAddress { fullName company streetLine1 streetLine2 city province postalCode countryCode phoneNumber }
  lines {
    id quantity unitPrice unitPriceWithTax linePrice linePriceWithTax
    proratedLinePrice proratedLinePriceWithTax taxRate
    productVariant { sku name }
  }
  shippingLines { shippingMethod { code name } discountedPrice discountedPriceWithTax }
  taxSummary { taxRate }
  total totalWithTax
  payments {
    id method amount state transactionId createdAt updatedAt
    refunds { id total state transactionId createdAt }
  }
";

pub(crate) fn decimal_of(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .ok()
            .or_else(|| n.as_f64().and_then(|f| Decimal::try_from(f).ok()))
            .map(|d| d.normalize()),
        Value::String(s) => Decimal::from_str(s).ok().map(|d| d.normalize()),
        _ => None,
    }
}

pub(crate) fn money_of(value: &Value, currency: Currency) -> Result<Money, ConnectorError> {
    let minor = value.as_i64().ok_or_else(|| {
        ConnectorError::protocol(format!("`{value}` is not an amount in minor units"))
    })?;
    Ok(Money::new(Decimal::new(minor, PRECISION), currency))
}

/// An amount as Vendure's integer minor units; amounts finer than that are refused.
pub(crate) fn minor_units(money: &Money) -> Result<i64, ConnectorError> {
    let scaled = money.amount * Decimal::from(10_i64.pow(PRECISION));
    if scaled.fract() != Decimal::ZERO {
        return Err(ConnectorError::Rejected {
            code: Some("amount_too_precise".into()),
            message: format!(
                "{} {} has more than {PRECISION} decimal places, which Vendure cannot hold",
                money.amount,
                money.currency.code()
            ),
            field: Some("amount".into()),
        });
    }
    scaled
        .to_i64()
        .ok_or_else(|| ConnectorError::rejected(format!("{} is too large", money.amount)))
}

/// A URL-safe slug: lower case ASCII letters and digits joined by single hyphens.
pub(crate) fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            other => other,
        };
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

/// Kontor's words for Vendure's order states.
pub(crate) fn status_of(state: &str) -> OrderStatus {
    match state {
        "PaymentAuthorized" | "PaymentSettled" => OrderStatus::Processing,
        "PartiallyShipped" => OrderStatus::PartiallyShipped,
        "Shipped" => OrderStatus::Shipped,
        "PartiallyDelivered" | "Delivered" => OrderStatus::Delivered,
        "Modifying" | "ArrangingAdditionalPayment" => OrderStatus::OnHold,
        "Cancelled" => OrderStatus::Cancelled,
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

fn time_of(value: &Value, field: &str) -> Result<DateTime<Utc>, ConnectorError> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ConnectorError::protocol(format!("`{field}` is not a time: {value}")))
}

/// An order address, or `None` when Vendure has none (it answers with empty fields).
fn address_of(value: &Value) -> Result<Option<Address>, ConnectorError> {
    let Some(street) = text(&value["streetLine1"]) else {
        return Ok(None);
    };
    let country = text(&value["countryCode"]).unwrap_or_default();
    Ok(Some(Address {
        name: text(&value["fullName"]).unwrap_or_default(),
        company: text(&value["company"]),
        street,
        street2: text(&value["streetLine2"]),
        postal_code: text(&value["postalCode"]).unwrap_or_default(),
        city: text(&value["city"]).unwrap_or_default(),
        region: text(&value["province"]),
        country: CountryCode::new(&country)
            .map_err(|e| ConnectorError::protocol(format!("country `{country}`: {e}")))?,
        phone: text(&value["phoneNumber"]),
    }))
}

/// The tax rate of a charge known only with and without tax: the order's rate (from its
/// tax summary) that reproduces the charge's tax, else the ratio rounded to 0.01 %.
fn rate_between(net: &Money, gross: &Money, known: &[Decimal]) -> TaxRate {
    if net.amount.is_zero() {
        return TaxRate::ZERO;
    }
    let reproduces = |rate: &&Decimal| {
        (net.amount * (Decimal::ONE + **rate / Decimal::ONE_HUNDRED)).round_dp(PRECISION)
            == gross.amount
    };
    if let Some(rate) = known.iter().find(reproduces) {
        return TaxRate(*rate);
    }
    TaxRate(((gross.amount / net.amount - Decimal::ONE) * Decimal::ONE_HUNDRED).round_dp(2))
}

/// Settled payments as captures, settled refunds as refunds.
fn payments_of(
    order: &Value,
    number: &str,
    currency: Currency,
) -> Result<Vec<Payment>, ConnectorError> {
    let mut payments = Vec::new();
    for payment in order["payments"].as_array().into_iter().flatten() {
        let method = payment["method"].as_str().unwrap_or_default().to_owned();
        if payment["state"] == "Settled" {
            payments.push(Payment {
                order_number: number.to_owned(),
                kind: PaymentKind::Capture,
                amount: money_of(&payment["amount"], currency)?,
                method: method.clone(),
                transaction_id: text(&payment["transactionId"]).unwrap_or_else(|| {
                    format!(
                        "vendure-payment-{}",
                        payment["id"].as_str().unwrap_or_default()
                    )
                }),
                at: time_of(&payment["updatedAt"], "payment.updatedAt")?,
            });
        }
        for refund in payment["refunds"].as_array().into_iter().flatten() {
            if refund["state"] == "Settled" {
                payments.push(Payment {
                    order_number: number.to_owned(),
                    kind: PaymentKind::Refund,
                    amount: money_of(&refund["total"], currency)?,
                    method: method.clone(),
                    transaction_id: text(&refund["transactionId"]).unwrap_or_else(|| {
                        format!(
                            "vendure-refund-{}",
                            refund["id"].as_str().unwrap_or_default()
                        )
                    }),
                    at: time_of(&refund["createdAt"], "refund.createdAt")?,
                });
            }
        }
    }
    Ok(payments)
}

fn payment_state_of(
    state: &str,
    payments: &[Payment],
    authorized: bool,
    total: &Money,
) -> PaymentState {
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
        _ if paid > Decimal::ZERO => PaymentState::PartiallyPaid,
        _ if authorized => PaymentState::Authorized,
        _ if state == "Cancelled" => PaymentState::Voided,
        _ => PaymentState::Pending,
    }
}

/// A Vendure order in canonical terms. `prices_include_tax` is the channel's setting:
/// lines and shipping are read gross or net to match it.
pub(crate) fn order_of(order: &Value, prices_include_tax: bool) -> Result<Order, ConnectorError> {
    let code = order["currencyCode"].as_str().unwrap_or_default();
    let currency = Currency::new(code)
        .map_err(|e| ConnectorError::protocol(format!("order currency `{code}`: {e}")))?;
    let money = |field: &Value| money_of(field, currency);
    let number =
        text(&order["code"]).ok_or_else(|| ConnectorError::protocol("an order without a code"))?;
    let suffix = if prices_include_tax { "WithTax" } else { "" };
    let known_rates: Vec<Decimal> = order["taxSummary"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| decimal_of(&t["taxRate"]))
        .collect();

    let mut lines = Vec::new();
    for line in order["lines"].as_array().into_iter().flatten() {
        let quantity = line["quantity"].as_i64().unwrap_or_default();
        // Cancelled lines stay on a Vendure order with quantity 0.
        if quantity == 0 {
            continue;
        }
        let line_price = money(&line[format!("linePrice{suffix}")])?;
        let prorated = money(&line[format!("proratedLinePrice{suffix}")])?;
        lines.push(OrderLine {
            id: line["id"].as_str().unwrap_or_default().to_owned(),
            sku: line["productVariant"]["sku"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            name: line["productVariant"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            quantity: Decimal::from(quantity),
            unit_price: money(&line[format!("unitPrice{suffix}")])?,
            // Line promotions and the line's share of order promotions alike.
            discount: line_price
                .checked_sub(&prorated)
                .map_err(|e| ConnectorError::protocol(e.to_string()))?,
            tax_rate: TaxRate(decimal_of(&line["taxRate"]).unwrap_or_default()),
        });
    }

    let shipping_line = order["shippingLines"].as_array().and_then(|l| l.first());
    let shipping = match shipping_line {
        Some(line) => {
            let net = money(&line["discountedPrice"])?;
            let gross = money(&line["discountedPriceWithTax"])?;
            Some(ShippingCharge {
                method: line["shippingMethod"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                amount: if prices_include_tax { gross } else { net },
                tax_rate: rate_between(&net, &gross, &known_rates),
            })
        }
        None => None,
    };
    let delivery = DeliveryMethod::Shipping {
        method: shipping
            .as_ref()
            .map_or_else(|| "none".to_owned(), |s| s.method.clone()),
        carrier: None,
    };

    let total = money(&order["totalWithTax"])?;
    let net = money(&order["total"])?;
    let state = order["state"].as_str().unwrap_or_default();
    let payments = payments_of(order, &number, currency)?;
    let authorized = order["payments"]
        .as_array()
        .is_some_and(|all| all.iter().any(|p| p["state"] == "Authorized"));
    let billing_address = address_of(&order["billingAddress"])?;
    let shipping_address = address_of(&order["shippingAddress"])?;
    let customer = &order["customer"];
    let name = [text(&customer["firstName"]), text(&customer["lastName"])]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let company = billing_address
        .as_ref()
        .or(shipping_address.as_ref())
        .and_then(|a| a.company.clone());
    let placed_at = match order["orderPlacedAt"] {
        Value::Null => time_of(&order["updatedAt"], "updatedAt")?,
        ref at => time_of(at, "orderPlacedAt")?,
    };

    Ok(Order {
        id: order["id"].as_str().unwrap_or_default().to_owned(),
        number: number.clone(),
        placed_at,
        updated_at: time_of(&order["updatedAt"], "updatedAt")?,
        currency,
        prices_include_tax,
        customer: OrderCustomer {
            reference: text(&customer["id"]),
            email: text(&customer["emailAddress"]).and_then(|e| Email::new(&e).ok()),
            name,
            phone: text(&customer["phoneNumber"]),
            company,
            vat_id: None,
        },
        billing_address,
        shipping_address,
        lines,
        shipping,
        discounts: Vec::new(),
        totals: OrderTotals {
            tax: total
                .checked_sub(&net)
                .map_err(|e| ConnectorError::protocol(e.to_string()))?,
            total,
        },
        payment_state: payment_state_of(state, &payments, authorized, &total),
        payment_method: order["payments"]
            .as_array()
            .and_then(|all| all.first())
            .and_then(|p| text(&p["method"])),
        payments,
        delivery,
        status: status_of(state),
        source_status: Some(state.to_owned()),
        requested_document: RequestedDocument::Receipt,
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pln(amount: &str) -> Money {
        Money::parse(amount, "PLN").expect("money")
    }

    #[test]
    fn amounts_convert_to_and_from_minor_units_exactly() {
        assert_eq!(
            money_of(&json!(1845), Currency::new("PLN").expect("PLN")).expect("ok"),
            pln("18.45")
        );
        assert_eq!(minor_units(&pln("18.45")).expect("ok"), 1845);
        assert_eq!(minor_units(&pln("18.4")).expect("ok"), 1840);
        assert_eq!(minor_units(&pln("-0.01")).expect("ok"), -1);
        assert!(matches!(
            minor_units(&pln("18.455")),
            Err(ConnectorError::Rejected { .. })
        ));
        assert!(money_of(&json!(18.45), Currency::new("PLN").expect("PLN")).is_err());
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slug("Kubek żółty — 0,5 l"), "kubek-zolty-0-5-l");
        assert_eq!(slug("  T-Shirt!  "), "t-shirt");
    }

    #[test]
    fn shipping_tax_rate_is_the_one_that_reproduces_it() {
        let known = [Decimal::from(23), Decimal::from(8)];
        assert_eq!(
            rate_between(&pln("15.00"), &pln("18.45"), &known),
            TaxRate(Decimal::from(23))
        );
        // 0.05 × 1.08 = 0.054 → 0.05: both 0 % and 8 % reproduce it; the order's rate wins.
        assert_eq!(
            rate_between(&pln("0.05"), &pln("0.05"), &known),
            TaxRate(Decimal::from(8))
        );
        assert_eq!(rate_between(&pln("0"), &pln("0"), &known), TaxRate::ZERO);
    }

    fn vendure_order(state: &str) -> Value {
        json!({
            "id": "12", "code": "K7QH2ZL1", "state": state,
            "orderPlacedAt": "2026-11-23T10:00:00.000Z", "updatedAt": "2026-11-23T10:00:01.000Z",
            "currencyCode": "PLN",
            "customer": {"id": "3", "emailAddress": "Anna.Nowak@Example.com", "firstName": "Anna", "lastName": "Nowak", "phoneNumber": null},
            "shippingAddress": {"fullName": "Anna Nowak", "company": "Nowak sp. z o.o.", "streetLine1": "ul. Długa 5", "streetLine2": "",
                "city": "Gdańsk", "province": null, "postalCode": "80-827", "countryCode": "PL", "phoneNumber": null},
            "billingAddress": {"fullName": null, "company": null, "streetLine1": null, "streetLine2": null,
                "city": null, "province": null, "postalCode": null, "countryCode": null, "phoneNumber": null},
            "lines": [
                {"id": "20", "quantity": 2, "unitPrice": 2000, "unitPriceWithTax": 2460, "linePrice": 4000,
                 "linePriceWithTax": 4920, "proratedLinePrice": 3600, "proratedLinePriceWithTax": 4428, "taxRate": 23,
                 "productVariant": {"sku": "MUG-W", "name": "Mug white"}},
                {"id": "21", "quantity": 0, "unitPrice": 500, "unitPriceWithTax": 615, "linePrice": 0,
                 "linePriceWithTax": 0, "proratedLinePrice": 0, "proratedLinePriceWithTax": 0, "taxRate": 23,
                 "productVariant": {"sku": "BAG", "name": "Bag"}}
            ],
            "shippingLines": [{"shippingMethod": {"code": "courier", "name": "Courier"}, "discountedPrice": 1500, "discountedPriceWithTax": 1845}],
            "taxSummary": [{"taxRate": 23}],
            "total": 5100, "totalWithTax": 6273,
            "payments": [{"id": "5", "method": "card", "amount": 6273, "state": "Settled", "transactionId": null,
                "createdAt": "2026-11-23T10:00:00.000Z", "updatedAt": "2026-11-23T10:00:00.500Z", "refunds": []}]
        })
    }

    #[test]
    fn an_order_reads_net_with_discounts_on_lines_and_cancelled_lines_left_out() {
        let order = order_of(&vendure_order("PaymentSettled"), false).expect("maps");
        assert_eq!(order.number, "K7QH2ZL1");
        assert_eq!(order.lines.len(), 1);
        let line = &order.lines[0];
        assert_eq!(
            (line.unit_price, line.discount),
            (pln("20.00"), pln("4.00"))
        );
        assert_eq!(
            order.shipping.as_ref().map(|s| s.tax_rate),
            Some(TaxRate(Decimal::from(23)))
        );
        assert_eq!(
            order.totals,
            OrderTotals {
                total: pln("62.73"),
                tax: pln("11.73")
            }
        );
        assert_eq!(order.computed_totals().expect("computes"), order.totals);
        assert_eq!(
            order
                .customer
                .email
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("anna.nowak@example.com")
        );
        assert_eq!(order.customer.company.as_deref(), Some("Nowak sp. z o.o."));
        assert!(order.billing_address.is_none());
        assert_eq!(
            order.shipping_address.as_ref().map(|a| a.street2.clone()),
            Some(None)
        );
        assert_eq!(
            (order.status, order.payment_state),
            (OrderStatus::Processing, PaymentState::Paid)
        );
        assert_eq!(order.payments[0].transaction_id, "vendure-payment-5");
        let gross = order_of(&vendure_order("PaymentSettled"), true).expect("maps");
        assert_eq!(gross.lines[0].unit_price, pln("24.60"));
        assert_eq!(
            gross.computed_totals().expect("computes").total,
            pln("62.73")
        );
    }

    #[test]
    fn states_and_refunds_map_to_kontors_words() {
        let mut refunded = vendure_order("Cancelled");
        refunded["payments"][0]["refunds"] = json!([{"id": "1", "total": 6273, "state": "Settled", "transactionId": "r-1", "createdAt": "2026-11-24T09:00:00.000Z"}]);
        let order = order_of(&refunded, false).expect("maps");
        assert_eq!(
            (order.status, order.payment_state),
            (OrderStatus::Cancelled, PaymentState::Refunded)
        );
        assert_eq!(order.payments[1].kind, PaymentKind::Refund);
        let mut unpaid = vendure_order("ArrangingPayment");
        unpaid["payments"] = json!([]);
        let order = order_of(&unpaid, false).expect("maps");
        assert_eq!(
            (order.status, order.payment_state),
            (OrderStatus::Pending, PaymentState::Pending)
        );
        assert_eq!(status_of("PartiallyShipped"), OrderStatus::PartiallyShipped);
        assert_eq!(status_of("Delivered"), OrderStatus::Delivered);
    }
}
