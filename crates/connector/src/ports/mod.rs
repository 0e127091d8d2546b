//! Ports: what flows ask of connected systems, one trait per capability, in canonical
//! terms. Batch operations answer per item, in input order, so one bad record never
//! fails its neighbours.

mod catalogue;
mod customers;
mod orders;
mod sales;
mod stock;

pub use catalogue::{CatalogueSink, CatalogueSource, ProductUpsert, ProductWritten, VariantRef};
pub use customers::{CustomerQuery, CustomerRef, CustomerSink};
pub use orders::{OrderSource, OrderSummary};
pub use sales::{DraftLine, SalesDocument, SalesDocumentKind, SalesDraft, SalesLine, SalesSink};
pub use stock::{StockSink, StockSource, StockUpdate};

/// Per-item results of a batch call, in input order.
pub type ItemResults<T> = Vec<Result<T, crate::ConnectorError>>;
