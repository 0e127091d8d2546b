//! Vendure ↔ canonical, pure functions over the Admin API's JSON.
//!
//! Vendure keeps money as integers in minor units with a precision of 2 (its default
//! money strategy, whatever the currency), and tax rates as percentages.

use std::str::FromStr;

use kontor_connector::ConnectorError;
use kontor_model::{
    Address, CountryCode, Currency, DeliveryMethod, Email, Money, Order, OrderCustomer, OrderLine,
    OrderStatus, OrderTotals, Payment, PaymentKind, PaymentState, RequestedDocument,
    ShippingCharge, TaxRate,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;

use super::types;

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

fn nonempty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A rate as Vendure's `Float` percentage, exactly as printed.
fn rate_from(rate: f64, what: &str) -> Result<Decimal, ConnectorError> {
    Decimal::from_str(&rate.to_string())
        .map(|d| d.normalize())
        .map_err(|_| ConnectorError::protocol(format!("{what}: `{rate}` is not a tax rate")))
}

fn minor(amount: i64, currency: Currency) -> Money {
    Money::new(Decimal::new(amount, PRECISION), currency)
}

/// An order address, or `None` when Vendure has none (it answers with empty fields).
fn address_of(address: Option<&types::OrderAddress>) -> Result<Option<Address>, ConnectorError> {
    let Some(address) = address else {
        return Ok(None);
    };
    let Some(street) = nonempty(address.street_line1.as_deref()) else {
        return Ok(None);
    };
    let country = nonempty(address.country_code.as_deref()).unwrap_or_default();
    Ok(Some(Address {
        name: nonempty(address.full_name.as_deref()).unwrap_or_default(),
        company: nonempty(address.company.as_deref()),
        street,
        street2: nonempty(address.street_line2.as_deref()),
        postal_code: nonempty(address.postal_code.as_deref()).unwrap_or_default(),
        city: nonempty(address.city.as_deref()).unwrap_or_default(),
        region: nonempty(address.province.as_deref()),
        country: CountryCode::new(&country)
            .map_err(|e| ConnectorError::protocol(format!("country `{country}`: {e}")))?,
        phone: nonempty(address.phone_number.as_deref()),
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
fn payments_of(payments: &[types::Payment], number: &str, currency: Currency) -> Vec<Payment> {
    let mut out = Vec::new();
    for payment in payments {
        if payment.state == "Settled" {
            out.push(Payment {
                order_number: number.to_owned(),
                kind: PaymentKind::Capture,
                amount: minor(payment.amount, currency),
                method: payment.method.clone(),
                transaction_id: nonempty(payment.transaction_id.as_deref())
                    .unwrap_or_else(|| format!("vendure-payment-{}", payment.id)),
                at: payment.updated_at,
            });
        }
        for refund in payment.refunds.iter().filter(|r| r.state == "Settled") {
            out.push(Payment {
                order_number: number.to_owned(),
                kind: PaymentKind::Refund,
                amount: minor(refund.total, currency),
                method: payment.method.clone(),
                transaction_id: nonempty(refund.transaction_id.as_deref())
                    .unwrap_or_else(|| format!("vendure-refund-{}", refund.id)),
                at: refund.created_at,
            });
        }
    }
    out
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

/// An order's shipping lines as its one charge (see [`crate::shipping`]); each line's
/// rate is the one that reproduces its tax.
fn shipping_of(
    order: &types::Order,
    prices_include_tax: bool,
    known: &[Decimal],
    currency: Currency,
) -> Result<Option<ShippingCharge>, ConnectorError> {
    let lines: Vec<(Money, TaxRate)> = order
        .shipping_lines
        .iter()
        .map(|line| {
            let (net, gross) = (
                minor(line.discounted_price, currency),
                minor(line.discounted_price_with_tax, currency),
            );
            let rate = rate_between(&net, &gross, known);
            (if prices_include_tax { gross } else { net }, rate)
        })
        .collect();
    let method = order
        .shipping_lines
        .first()
        .map(|first| first.shipping_method.code.clone())
        .unwrap_or_default();
    crate::shipping::one_charge(method, &lines, &order.code, "shippingLines")
}

/// A Vendure order in canonical terms. `prices_include_tax` is the channel's setting:
/// lines and shipping are read gross or net to match it.
pub(crate) fn order_of(value: &Value, prices_include_tax: bool) -> Result<Order, ConnectorError> {
    let order: types::Order = crate::typed::read("order", value)?;
    let number = order.code.trim().to_owned();
    if number.is_empty() {
        return Err(ConnectorError::protocol("order: code: is empty"));
    }
    let currency = Currency::new(&order.currency_code).map_err(|e| {
        ConnectorError::protocol(format!(
            "order {number}: currencyCode `{}`: {e}",
            order.currency_code
        ))
    })?;
    let known_rates = order
        .tax_summary
        .iter()
        .enumerate()
        .map(|(i, t)| rate_from(t.tax_rate, &format!("order {number}: taxSummary[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;

    let mut lines = Vec::new();
    for (i, line) in order.lines.iter().enumerate() {
        // Cancelled lines stay on a Vendure order with quantity 0.
        if line.quantity == 0 {
            continue;
        }
        let what = format!("order {number}: lines[{i}]");
        let sku = nonempty(Some(&line.product_variant.sku)).ok_or_else(|| {
            crate::typed::line_without_sku(format!(
                "line `{}` of order {number} has no SKU; give the variant a SKU in Vendure",
                line.product_variant.name
            ))
        })?;
        let (unit, line_price, prorated) = if prices_include_tax {
            (
                line.unit_price_with_tax,
                line.line_price_with_tax,
                line.prorated_line_price_with_tax,
            )
        } else {
            (line.unit_price, line.line_price, line.prorated_line_price)
        };
        lines.push(OrderLine {
            id: line.id.clone(),
            sku,
            name: line.product_variant.name.clone(),
            quantity: Decimal::from(line.quantity),
            unit_price: minor(unit, currency),
            // Line promotions and the line's share of order promotions alike.
            discount: minor(line_price - prorated, currency),
            tax_rate: TaxRate(rate_from(line.tax_rate, &format!("{what}.taxRate"))?),
        });
    }

    let shipping = shipping_of(&order, prices_include_tax, &known_rates, currency)?;
    let delivery = DeliveryMethod::Shipping {
        method: shipping
            .as_ref()
            .map_or_else(|| "none".to_owned(), |s| s.method.clone()),
        carrier: None,
    };

    let total = minor(order.total_with_tax, currency);
    let net = minor(order.total, currency);
    let all_payments = order.payments.as_deref().unwrap_or_default();
    let payments = payments_of(all_payments, &number, currency);
    let authorized = all_payments.iter().any(|p| p.state == "Authorized");
    let billing_address = address_of(order.billing_address.as_ref())?;
    let shipping_address = address_of(order.shipping_address.as_ref())?;
    let customer = order.customer.as_ref();
    let name = customer
        .map(|c| {
            [nonempty(Some(&c.first_name)), nonempty(Some(&c.last_name))]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let company = billing_address
        .as_ref()
        .or(shipping_address.as_ref())
        .and_then(|a| a.company.clone());

    Ok(Order {
        id: order.id.clone(),
        number: number.clone(),
        placed_at: order.order_placed_at.unwrap_or(order.updated_at),
        updated_at: order.updated_at,
        currency,
        prices_include_tax,
        customer: OrderCustomer {
            reference: customer.map(|c| c.id.clone()),
            email: customer
                .and_then(|c| nonempty(Some(&c.email_address)))
                .and_then(|e| Email::new(&e).ok()),
            name,
            phone: customer.and_then(|c| nonempty(c.phone_number.as_deref())),
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
        payment_state: payment_state_of(&order.state, &payments, authorized, &total),
        payment_method: all_payments.first().map(|p| p.method.clone()),
        payments,
        delivery,
        status: status_of(&order.state),
        source_status: Some(order.state.clone()),
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

    #[test]
    fn an_answer_missing_what_money_quantity_or_identity_depends_on_is_refused_by_name() {
        for (path, field) in [
            ("/lines/0/quantity", "lines[0].quantity"),
            ("/lines/0/taxRate", "lines[0].taxRate"),
            (
                "/lines/0/proratedLinePriceWithTax",
                "lines[0].proratedLinePriceWithTax",
            ),
            ("/lines/0/productVariant/sku", "lines[0].productVariant.sku"),
            ("/lines/0/id", "lines[0].id"),
            (
                "/shippingLines/0/discountedPriceWithTax",
                "shippingLines[0].discountedPriceWithTax",
            ),
            ("/totalWithTax", "totalWithTax"),
            ("/code", "code"),
            ("/payments/0/amount", "payments[0].amount"),
        ] {
            let mut answer = vendure_order("PaymentSettled");
            let (parent, key) = path.rsplit_once('/').expect("a path");
            answer
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .expect("the parent")
                .remove(key);
            match order_of(&answer, true) {
                Err(ConnectorError::Protocol { message, .. }) => {
                    assert!(message.contains(field), "{field}: {message}")
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut unsku = vendure_order("PaymentSettled");
        unsku["lines"][0]["productVariant"]["sku"] = json!("");
        assert!(matches!(
            order_of(&unsku, true),
            Err(ConnectorError::Rejected { .. })
        ));
    }

    #[test]
    fn every_shipping_line_counts_and_lines_at_two_rates_are_refused() {
        let mut two = vendure_order("PaymentSettled");
        two["shippingLines"] = json!([
            {"shippingMethod": {"code": "free", "name": "Free"}, "discountedPrice": 0, "discountedPriceWithTax": 0},
            {"shippingMethod": {"code": "courier", "name": "Courier"}, "discountedPrice": 1500, "discountedPriceWithTax": 1845},
            {"shippingMethod": {"code": "insurance", "name": "Insurance"}, "discountedPrice": 500, "discountedPriceWithTax": 615},
        ]);
        let shipping = order_of(&two, true)
            .expect("maps")
            .shipping
            .expect("shipping");
        assert_eq!(shipping.amount, pln("24.60"));
        assert_eq!(shipping.tax_rate, TaxRate(Decimal::from(23)));
        two["shippingLines"][2]["discountedPriceWithTax"] = json!(540);
        two["taxSummary"] = json!([{"taxRate": 23}, {"taxRate": 8}]);
        assert!(matches!(
            order_of(&two, true),
            Err(ConnectorError::Rejected { code: Some(code), .. }) if code == "mixed_shipping_tax_rates"
        ));
    }
}
