//! Kontor's canonical commerce model.
//!
//! Every connector maps its system's records to these types and back; every flow is
//! written against them. Money is always an exact decimal with an ISO 4217 currency,
//! timestamps are UTC, and every type can check itself with [`Validate`], naming the
//! offending field.

pub mod catalogue;
pub mod decimal;
pub mod documents;
pub mod money;
#[cfg(feature = "openapi")]
mod openapi;
pub mod order;
pub mod party;
pub mod pricing;
pub mod stock;
pub mod submission;
pub mod text;
pub mod validate;

pub use catalogue::{MediaRef, Product, ProductStatus, Variant};
pub use documents::{
    DocumentRef, Invoice, InvoiceKind, Payment, PaymentKind, Return, ReturnLine, Shipment,
    ShipmentLine, StockTransfer, TransferLine,
};
pub use money::{Currency, Money, MoneyError};
pub use order::{
    DeliveryMethod, Discount, Order, OrderCustomer, OrderLine, OrderStatus, OrderTotals,
    PaymentState, RequestedDocument, ShippingCharge, TaxBreakdown, TaxRate, tax_breakdown,
};
pub use party::{Address, CountryCode, Customer, CustomerKind, Email, PaymentTerms, VatId};
pub use pricing::{Price, PriceKind, PriceScope};
pub use stock::{IncomingStock, StockLevel};
pub use text::LocalizedText;
pub use validate::{Validate, ValidationError, ValidationErrors, Validator};

/// Quantities are exact decimals: goods are sold by the piece, the metre and the kilogram.
pub type Quantity = rust_decimal::Decimal;
