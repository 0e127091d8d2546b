//! Documents that follow an order: payments, invoices and receipts, shipments, returns,
//! and stock transfers between warehouses.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::validate::{Validate, Validator};

/// A file held by a system (an invoice PDF): where to fetch it, never the bytes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    /// A URL, or a key the owning connector understands.
    pub location: String,
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    Capture,
    Refund,
}

/// Money received for (or returned from) an order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub order_number: String,
    pub kind: PaymentKind,
    /// Always positive; `kind` says which way it went.
    pub amount: Money,
    /// The shop's payment method code, mapped to the ERP's by configuration.
    pub method: String,
    /// The payment provider's transaction id: the idempotency reference for receipts.
    pub transaction_id: String,
    pub at: DateTime<Utc>,
}

impl Validate for Payment {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.order_number, "order_number");
        v.required(&self.transaction_id, "transaction_id");
        v.check(
            self.amount.amount > Decimal::ZERO,
            "amount",
            "must be positive",
        );
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    Invoice,
    Receipt,
    CreditNote,
}

/// An invoice, receipt or credit note issued by the ERP.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub number: String,
    pub kind: InvoiceKind,
    pub order_number: String,
    pub issued_at: DateTime<Utc>,
    pub total: Money,
    pub tax: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf: Option<DocumentRef>,
}

impl Validate for Invoice {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.number, "number");
        v.required(&self.order_number, "order_number");
        v.check(
            self.total.currency == self.tax.currency,
            "tax.currency",
            "must be the total's currency",
        );
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipmentLine {
    pub sku: String,
    #[serde(with = "crate::decimal::plain")]
    pub quantity: Decimal,
}

/// Goods sent for an order, possibly only some of them (a partial shipment).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    /// The ERP's reference for the shipment.
    pub reference: String,
    pub order_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
    pub lines: Vec<ShipmentLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    pub shipped_at: DateTime<Utc>,
}

fn validate_lines(v: &mut Validator, lines: &[(&str, Decimal)]) {
    v.check(!lines.is_empty(), "lines", "needs at least one line");
    for (i, (sku, quantity)) in lines.iter().enumerate() {
        v.required(sku, &format!("lines[{i}].sku"));
        v.check(
            *quantity > Decimal::ZERO,
            &format!("lines[{i}].quantity"),
            "must be positive",
        );
    }
}

impl Validate for Shipment {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.reference, "reference");
        v.required(&self.order_number, "order_number");
        let lines: Vec<_> = self
            .lines
            .iter()
            .map(|l| (l.sku.as_str(), l.quantity))
            .collect();
        validate_lines(v, &lines);
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub sku: String,
    #[serde(with = "crate::decimal::plain")]
    pub quantity: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Goods coming back, and the money refunded for them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Return {
    /// The shop's reference for the return or refund.
    pub reference: String,
    pub order_number: String,
    pub lines: Vec<ReturnLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<Money>,
    pub created_at: DateTime<Utc>,
}

impl Validate for Return {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.reference, "reference");
        v.required(&self.order_number, "order_number");
        let lines: Vec<_> = self
            .lines
            .iter()
            .map(|l| (l.sku.as_str(), l.quantity))
            .collect();
        validate_lines(v, &lines);
        if let Some(refund) = &self.refund {
            v.check(!refund.is_negative(), "refund", "must not be negative");
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferLine {
    pub sku: String,
    #[serde(with = "crate::decimal::plain")]
    pub quantity: Decimal,
}

/// Goods moved between two warehouses (e.g. web store → showroom for a pickup order).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockTransfer {
    /// Kontor's reference; the ERP document carries it so a retry finds the first one.
    pub reference: String,
    pub from_warehouse: String,
    pub to_warehouse: String,
    pub lines: Vec<TransferLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Validate for StockTransfer {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.reference, "reference");
        v.required(&self.from_warehouse, "from_warehouse");
        v.required(&self.to_warehouse, "to_warehouse");
        v.check(
            self.from_warehouse != self.to_warehouse,
            "to_warehouse",
            "must differ from from_warehouse",
        );
        let lines: Vec<_> = self
            .lines
            .iter()
            .map(|l| (l.sku.as_str(), l.quantity))
            .collect();
        validate_lines(v, &lines);
    }
}
