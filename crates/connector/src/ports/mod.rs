//! Ports: what flows ask of connected systems, one trait per capability, in canonical
//! terms. Batch operations answer per item, in input order, so one bad record never
//! fails its neighbours.

mod catalogue;
mod customers;
mod fulfilment;
mod invoices;
mod orders;
mod payments;
mod prices;
mod returns;
mod sales;
mod stock;
mod transfers;
mod webhooks;

pub use catalogue::{CatalogueSink, CatalogueSource, ProductUpsert, ProductWritten, VariantRef};
pub use customers::{
    AccountSink, AccountUpsert, AccountWritten, CustomerQuery, CustomerRef, CustomerSink,
    CustomerSource, ExternalCustomer,
};
pub use fulfilment::{FulfilmentRef, FulfilmentSink, OrderStatusSink, SalesSource, ShipmentSource};
pub use invoices::{InvoiceSink, InvoiceSource};
pub use orders::{OrderSource, OrderSummary};
pub use payments::{PaymentRecord, PaymentSink};
pub use prices::{PriceSink, PriceSource, PriceUpdate};
pub use returns::{ReturnDocument, ReturnDocumentKind, ReturnSink, ReturnSource};
pub use sales::{DraftLine, SalesDocument, SalesDocumentKind, SalesDraft, SalesLine, SalesSink};
pub use stock::{StockSink, StockSource, StockUpdate};
pub use transfers::{StockTransferSink, TransferRef};
pub use webhooks::{Notice, WebhookError, WebhookHeaders, WebhookReceiver};

/// Per-item results of a batch call, in input order.
pub type ItemResults<T> = Vec<Result<T, crate::ConnectorError>>;
