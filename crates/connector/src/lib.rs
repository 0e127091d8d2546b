//! The contract between flows and connectors.
//!
//! A connector is a backend adapter plus mappers: it speaks one system's protocol and
//! translates its records to Kontor's canonical model. It offers *ports* — small traits
//! such as [`OrderSource`] or [`StockSink`] — and declares them as [`Capability`]s, so a
//! flow can check at configuration time that its connections can do what it needs.
//! Connectors hold no business logic; flows hold no vendor knowledge.

pub mod capability;
pub mod changes;
pub mod error;
pub mod ports;
pub mod secret;

pub use capability::{Capabilities, Capability};
pub use changes::Changes;
pub use error::ConnectorError;
pub use ports::*;
pub use secret::{Secret, SecretError};

use std::sync::Arc;

use async_trait::async_trait;

/// One configured connection to one system. Each port accessor returns a handle if the
/// system (as configured) can do that; [`Connector::capabilities`] is derived from them.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The connector type, e.g. `memory`, `tryton`, `shopify`.
    fn kind(&self) -> &'static str;

    fn catalogue_source(&self) -> Option<Arc<dyn CatalogueSource>> {
        None
    }
    fn catalogue_sink(&self) -> Option<Arc<dyn CatalogueSink>> {
        None
    }
    fn stock_source(&self) -> Option<Arc<dyn StockSource>> {
        None
    }
    fn stock_sink(&self) -> Option<Arc<dyn StockSink>> {
        None
    }
    fn order_source(&self) -> Option<Arc<dyn OrderSource>> {
        None
    }
    fn sales_sink(&self) -> Option<Arc<dyn SalesSink>> {
        None
    }
    fn customer_sink(&self) -> Option<Arc<dyn CustomerSink>> {
        None
    }
    fn customer_source(&self) -> Option<Arc<dyn CustomerSource>> {
        None
    }
    fn account_sink(&self) -> Option<Arc<dyn AccountSink>> {
        None
    }
    fn price_source(&self) -> Option<Arc<dyn PriceSource>> {
        None
    }
    fn price_sink(&self) -> Option<Arc<dyn PriceSink>> {
        None
    }
    fn payment_sink(&self) -> Option<Arc<dyn PaymentSink>> {
        None
    }
    fn invoice_source(&self) -> Option<Arc<dyn InvoiceSource>> {
        None
    }
    fn invoice_sink(&self) -> Option<Arc<dyn InvoiceSink>> {
        None
    }
    fn shipment_source(&self) -> Option<Arc<dyn ShipmentSource>> {
        None
    }
    fn fulfilment_sink(&self) -> Option<Arc<dyn FulfilmentSink>> {
        None
    }
    fn sales_source(&self) -> Option<Arc<dyn SalesSource>> {
        None
    }
    fn order_status_sink(&self) -> Option<Arc<dyn OrderStatusSink>> {
        None
    }
    fn return_source(&self) -> Option<Arc<dyn ReturnSource>> {
        None
    }
    fn return_sink(&self) -> Option<Arc<dyn ReturnSink>> {
        None
    }
    fn transfer_sink(&self) -> Option<Arc<dyn StockTransferSink>> {
        None
    }
    /// Verifies the system's webhooks, if it sends any (and they are configured).
    fn webhooks(&self) -> Option<Arc<dyn WebhookReceiver>> {
        None
    }

    /// What this connection can do.
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        let ports = [
            (self.catalogue_source().is_some(), Capability::CatalogueRead),
            (self.catalogue_sink().is_some(), Capability::CatalogueWrite),
            (self.stock_source().is_some(), Capability::StockRead),
            (self.stock_sink().is_some(), Capability::StockWrite),
            (self.order_source().is_some(), Capability::OrderRead),
            (self.sales_sink().is_some(), Capability::SalesWrite),
            (self.customer_sink().is_some(), Capability::CustomerWrite),
            (self.customer_source().is_some(), Capability::CustomerRead),
            (self.account_sink().is_some(), Capability::AccountWrite),
            (self.price_source().is_some(), Capability::PriceRead),
            (self.price_sink().is_some(), Capability::PriceWrite),
            (self.payment_sink().is_some(), Capability::PaymentWrite),
            (self.invoice_source().is_some(), Capability::InvoiceRead),
            (self.invoice_sink().is_some(), Capability::InvoiceWrite),
            (self.shipment_source().is_some(), Capability::ShipmentRead),
            (
                self.fulfilment_sink().is_some(),
                Capability::FulfilmentWrite,
            ),
            (self.sales_source().is_some(), Capability::SalesRead),
            (
                self.order_status_sink().is_some(),
                Capability::OrderStatusWrite,
            ),
            (self.return_source().is_some(), Capability::ReturnRead),
            (self.return_sink().is_some(), Capability::ReturnWrite),
            (self.transfer_sink().is_some(), Capability::TransferWrite),
        ];
        for (present, capability) in ports {
            if present {
                caps.insert(capability);
            }
        }
        caps
    }

    /// Tries the connection: reachable, credentials accepted. Used by "test connection".
    async fn check(&self) -> Result<(), ConnectorError>;
}
