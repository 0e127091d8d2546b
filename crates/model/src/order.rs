//! Shop orders in canonical form, with exact totals.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Currency, Money, MoneyError};
use crate::party::{Address, Email, VatId};
use crate::validate::{Validate, Validator};

/// A tax rate in percent (`23` means 23 %).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaxRate(#[serde(with = "crate::decimal::plain")] pub Decimal);

impl TaxRate {
    pub const ZERO: TaxRate = TaxRate(Decimal::ZERO);

    pub fn percent(&self) -> Decimal {
        self.0
    }
}

impl fmt::Debug for TaxRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl fmt::Display for TaxRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// Where an order is in its life, in Kontor's words; each system's statuses map to these.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    #[default]
    Pending,
    Processing,
    OnHold,
    PartiallyShipped,
    Shipped,
    Delivered,
    /// Waiting in a store or showroom for the customer.
    ReadyForPickup,
    Completed,
    Cancelled,
    Refunded,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    #[default]
    Pending,
    Authorized,
    PartiallyPaid,
    Paid,
    PartiallyRefunded,
    Refunded,
    Voided,
    Failed,
}

impl PaymentState {
    /// Money has been captured (at least in part).
    pub fn is_paid(&self) -> bool {
        matches!(
            self,
            PaymentState::Paid | PaymentState::PartiallyRefunded | PaymentState::Refunded
        )
    }
}

/// Which sales document the customer asked for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestedDocument {
    /// A receipt (B2C, e.g. Polish "paragon").
    #[default]
    Receipt,
    /// A VAT invoice, usually with the buyer's VAT id.
    Invoice,
}

/// How the goods reach the customer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeliveryMethod {
    /// Delivery to the shipping address.
    Shipping {
        method: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        carrier: Option<String>,
    },
    /// A parcel locker or pickup point run by a carrier.
    PickupPoint {
        method: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        carrier: Option<String>,
        point_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        point_name: Option<String>,
    },
    /// Collected by the customer in one of the merchant's own stores or showrooms.
    StorePickup { location: String },
}

impl DeliveryMethod {
    /// The shop's shipping method code, mapped to an ERP service product by configuration.
    pub fn method_code(&self) -> &str {
        match self {
            DeliveryMethod::Shipping { method, .. }
            | DeliveryMethod::PickupPoint { method, .. } => method,
            DeliveryMethod::StorePickup { .. } => "store_pickup",
        }
    }

    /// Whether goods travel to the shipping address (so one is needed).
    pub fn needs_shipping_address(&self) -> bool {
        matches!(self, DeliveryMethod::Shipping { .. })
    }
}

/// The buyer as the shop recorded them on the order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCustomer {
    /// The shop's customer id; `None` for a guest checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_id: Option<VatId>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The shop's id for the line.
    pub id: String,
    pub sku: String,
    pub name: String,
    #[serde(with = "crate::decimal::plain")]
    pub quantity: Decimal,
    /// Price of one unit before the line's discount; gross or net as the order says.
    pub unit_price: Money,
    /// Total discount on this line (not per unit), in the same gross/net basis.
    pub discount: Money,
    pub tax_rate: TaxRate,
}

impl OrderLine {
    /// Quantity × unit price − discount, unrounded.
    pub fn amount(&self) -> Result<Money, MoneyError> {
        self.unit_price
            .checked_mul(self.quantity)?
            .checked_sub(&self.discount)
    }
}

/// Shipping charged to the customer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippingCharge {
    pub method: String,
    pub amount: Money,
    pub tax_rate: TaxRate,
}

/// A discount on the whole order (a voucher or cart rule), in the order's gross/net basis.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub description: String,
    /// Positive: how much it takes off.
    pub amount: Money,
    pub tax_rate: TaxRate,
}

/// Totals as the shop computed them: what the customer pays.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderTotals {
    /// Gross total, including tax and shipping, after discounts.
    pub total: Money,
    pub tax: Money,
}

/// An order placed in a shop.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The shop's id for the order.
    pub id: String,
    /// The number the customer sees. Kontor writes it into the ERP document as its
    /// reference, and looks it up there before creating anything.
    pub number: String,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub currency: Currency,
    /// Whether unit prices, shipping and discounts include tax.
    pub prices_include_tax: bool,
    pub customer: OrderCustomer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    pub lines: Vec<OrderLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<ShippingCharge>,
    #[serde(default)]
    pub discounts: Vec<Discount>,
    pub totals: OrderTotals,
    #[serde(default)]
    pub payment_state: PaymentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// Money taken (or given back) for the order, as the shop recorded it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payments: Vec<crate::documents::Payment>,
    pub delivery: DeliveryMethod,
    #[serde(default)]
    pub status: OrderStatus,
    /// The shop's own status name, for status maps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_status: Option<String>,
    #[serde(default)]
    pub requested_document: RequestedDocument,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Net, tax and gross for one tax rate.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxBreakdown {
    pub rate: TaxRate,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

/// Tax breakdown of a document from its taxable amounts (each already net of its own
/// discount): amounts are summed per rate and tax is rounded once per rate over the whole
/// document, the way ERPs round a VAT invoice. `prices_include_tax` says whether the
/// amounts are gross (tax is extracted) or net (tax is added).
pub fn tax_breakdown(
    currency: Currency,
    prices_include_tax: bool,
    amounts: impl IntoIterator<Item = (TaxRate, Money)>,
) -> Result<Vec<TaxBreakdown>, MoneyError> {
    let mut by_rate: BTreeMap<TaxRate, Money> = BTreeMap::new();
    for (rate, amount) in amounts {
        let entry = by_rate.entry(rate).or_insert(Money::zero(currency));
        *entry = entry.checked_add(&amount)?;
    }
    let hundred = Decimal::ONE_HUNDRED;
    by_rate
        .into_iter()
        .map(|(rate, amount)| {
            let amount = amount.rounded();
            let (net, tax) = if prices_include_tax {
                // tax = gross × r / (100 + r)
                let tax = amount
                    .checked_mul(rate.percent())?
                    .checked_div(hundred + rate.percent())?
                    .rounded();
                (amount.checked_sub(&tax)?, tax)
            } else {
                let tax = amount.checked_mul(rate.percent() / hundred)?.rounded();
                (amount, tax)
            };
            let gross = net.checked_add(&tax)?;
            Ok(TaxBreakdown {
                rate,
                net,
                tax,
                gross,
            })
        })
        .collect()
}

impl Order {
    /// Taxable amounts of the order: lines, shipping, and order discounts (negative).
    pub fn taxable_amounts(&self) -> Result<Vec<(TaxRate, Money)>, MoneyError> {
        let zero = Money::zero(self.currency);
        let mut amounts = Vec::with_capacity(self.lines.len() + 1 + self.discounts.len());
        for line in &self.lines {
            amounts.push((line.tax_rate, line.amount()?));
        }
        if let Some(shipping) = &self.shipping {
            amounts.push((shipping.tax_rate, shipping.amount));
        }
        for discount in &self.discounts {
            amounts.push((discount.tax_rate, zero.checked_sub(&discount.amount)?));
        }
        Ok(amounts)
    }

    /// The tax breakdown Kontor computes from the order's lines.
    pub fn tax_breakdown(&self) -> Result<Vec<TaxBreakdown>, MoneyError> {
        tax_breakdown(
            self.currency,
            self.prices_include_tax,
            self.taxable_amounts()?,
        )
    }

    /// Totals computed from the lines; compare with `totals` (what the shop says).
    pub fn computed_totals(&self) -> Result<OrderTotals, MoneyError> {
        let breakdown = self.tax_breakdown()?;
        Ok(OrderTotals {
            total: Money::sum(self.currency, breakdown.iter().map(|b| &b.gross))?,
            tax: Money::sum(self.currency, breakdown.iter().map(|b| &b.tax))?,
        })
    }

    /// The address to invoice: billing, or shipping when the shop gave only one.
    pub fn invoice_address(&self) -> Option<&Address> {
        self.billing_address
            .as_ref()
            .or(self.shipping_address.as_ref())
    }
}

fn check_tax_rate(v: &mut Validator, field: &str, rate: TaxRate) {
    v.check(
        (Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(&rate.percent()),
        field,
        format!("must be between 0 and 100 (percent), is {}", rate.percent()),
    );
}

fn check_currency(v: &mut Validator, field: &str, money: &Money, currency: Currency) {
    v.check(
        money.currency == currency,
        &format!("{field}.currency"),
        format!("is {}, but the order is in {currency}", money.currency),
    );
}

impl Validate for Order {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.id, "id");
        v.required(&self.number, "number");
        v.required(&self.customer.name, "customer.name");
        v.check(
            !self.lines.is_empty(),
            "lines",
            "an order needs at least one line",
        );
        for (i, line) in self.lines.iter().enumerate() {
            let field = |name: &str| format!("lines[{i}].{name}");
            v.required(&line.sku, &field("sku"));
            v.check(
                line.quantity > Decimal::ZERO,
                &field("quantity"),
                format!("must be positive, is {}", line.quantity),
            );
            v.check(
                !line.unit_price.is_negative(),
                &field("unit_price"),
                "must not be negative",
            );
            v.check(
                !line.discount.is_negative(),
                &field("discount"),
                "must not be negative",
            );
            check_tax_rate(v, &field("tax_rate"), line.tax_rate);
            check_currency(v, &field("unit_price"), &line.unit_price, self.currency);
            check_currency(v, &field("discount"), &line.discount, self.currency);
            if let Ok(amount) = line.amount() {
                v.check(
                    !amount.is_negative(),
                    &field("discount"),
                    "is larger than the line's amount",
                );
            }
        }
        if let Some(shipping) = &self.shipping {
            check_tax_rate(v, "shipping.tax_rate", shipping.tax_rate);
            check_currency(v, "shipping.amount", &shipping.amount, self.currency);
            v.check(
                !shipping.amount.is_negative(),
                "shipping.amount",
                "must not be negative",
            );
        }
        for (i, discount) in self.discounts.iter().enumerate() {
            check_tax_rate(v, &format!("discounts[{i}].tax_rate"), discount.tax_rate);
            check_currency(
                v,
                &format!("discounts[{i}].amount"),
                &discount.amount,
                self.currency,
            );
        }
        for (i, payment) in self.payments.iter().enumerate() {
            check_currency(
                v,
                &format!("payments[{i}].amount"),
                &payment.amount,
                self.currency,
            );
        }
        check_currency(v, "totals.total", &self.totals.total, self.currency);
        check_currency(v, "totals.tax", &self.totals.tax, self.currency);
        match &self.shipping_address {
            Some(address) => v.nested("shipping_address", address),
            None => v.check(
                !self.delivery.needs_shipping_address(),
                "shipping_address",
                "is required for delivery by shipping",
            ),
        }
        if let Some(address) = &self.billing_address {
            v.nested("billing_address", address);
        }
        if self.requested_document == RequestedDocument::Invoice {
            v.check(
                self.invoice_address().is_some(),
                "billing_address",
                "is required when the customer asks for an invoice",
            );
        }
        if let DeliveryMethod::PickupPoint { point_id, .. } = &self.delivery {
            v.required(point_id, "delivery.point_id");
        }
        if let DeliveryMethod::StorePickup { location } = &self.delivery {
            v.required(location, "delivery.location");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::party::CountryCode;
    use rust_decimal::dec;

    fn pln(amount: Decimal) -> Money {
        Money::new(amount, Currency::PLN)
    }

    pub(crate) fn address() -> Address {
        Address {
            name: "Jan Kowalski".into(),
            company: None,
            street: "ul. Długa 1".into(),
            street2: None,
            postal_code: "00-001".into(),
            city: "Warszawa".into(),
            region: None,
            country: CountryCode::new("PL").unwrap(),
            phone: None,
        }
    }

    pub(crate) fn order(prices_include_tax: bool) -> Order {
        Order {
            id: "1001".into(),
            number: "#1001".into(),
            placed_at: Utc::now(),
            updated_at: Utc::now(),
            currency: Currency::PLN,
            prices_include_tax,
            customer: OrderCustomer {
                reference: None,
                email: Some(Email::new("jan@example.com").unwrap()),
                name: "Jan Kowalski".into(),
                phone: None,
                company: None,
                vat_id: None,
            },
            billing_address: None,
            shipping_address: Some(address()),
            lines: vec![
                OrderLine {
                    id: "1".into(),
                    sku: "A".into(),
                    name: "A".into(),
                    quantity: dec!(3),
                    unit_price: pln(dec!(12.30)),
                    discount: pln(dec!(0)),
                    tax_rate: TaxRate(dec!(23)),
                },
                OrderLine {
                    id: "2".into(),
                    sku: "B".into(),
                    name: "B".into(),
                    quantity: dec!(1),
                    unit_price: pln(dec!(9.99)),
                    discount: pln(dec!(1.00)),
                    tax_rate: TaxRate(dec!(8)),
                },
            ],
            shipping: Some(ShippingCharge {
                method: "courier".into(),
                amount: pln(dec!(15)),
                tax_rate: TaxRate(dec!(23)),
            }),
            discounts: vec![],
            totals: OrderTotals {
                total: pln(dec!(0)),
                tax: pln(dec!(0)),
            },
            payment_state: PaymentState::Paid,
            payment_method: Some("card".into()),
            payments: vec![],
            delivery: DeliveryMethod::Shipping {
                method: "courier".into(),
                carrier: None,
            },
            status: OrderStatus::Processing,
            source_status: None,
            requested_document: RequestedDocument::Receipt,
            note: None,
        }
    }

    #[test]
    fn gross_prices_extract_tax_per_rate() {
        let o = order(true);
        // 23 %: 36.90 + 15.00 = 51.90 gross → tax 51.90 × 23/123 = 9.7049 → 9.70
        //  8 %: 8.99 gross → tax 8.99 × 8/108 = 0.6657 → 0.67
        let totals = o.computed_totals().unwrap();
        assert_eq!(totals.total, pln(dec!(60.89)));
        assert_eq!(totals.tax, pln(dec!(10.37)));
    }

    #[test]
    fn net_prices_add_tax_per_rate() {
        let o = order(false);
        // 23 %: 51.90 net → 11.937 → 11.94;  8 %: 8.99 net → 0.7192 → 0.72
        let totals = o.computed_totals().unwrap();
        assert_eq!(totals.tax, pln(dec!(12.66)));
        assert_eq!(totals.total, pln(dec!(73.55)));
    }

    #[test]
    fn order_discounts_reduce_their_rate() {
        let mut o = order(true);
        o.discounts.push(Discount {
            code: Some("WELCOME".into()),
            description: "Welcome".into(),
            amount: pln(dec!(10)),
            tax_rate: TaxRate(dec!(23)),
        });
        assert_eq!(o.computed_totals().unwrap().total, pln(dec!(50.89)));
    }

    #[test]
    fn validation_names_bad_lines_and_currency_mismatches() {
        let mut o = order(true);
        o.lines[1].quantity = dec!(-1);
        o.lines[0].unit_price = Money::new(dec!(1), Currency::EUR);
        o.shipping_address = None;
        let err = o.validate().unwrap_err();
        let fields: Vec<_> = err.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"lines[1].quantity"), "{err}");
        assert!(fields.contains(&"lines[0].unit_price.currency"), "{err}");
        assert!(fields.contains(&"shipping_address"), "{err}");
    }

    #[test]
    fn store_pickup_needs_no_shipping_address() {
        let mut o = order(true);
        o.shipping_address = None;
        o.billing_address = Some(address());
        o.delivery = DeliveryMethod::StorePickup {
            location: "SHOWROOM-KRK".into(),
        };
        assert!(o.validate().is_ok(), "{:?}", o.validate());
    }
}
