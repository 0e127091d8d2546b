use async_trait::async_trait;
use kontor_connector::{
    AccountSink, CatalogueSink, CatalogueSource, Connector, ConnectorError, CustomerSink,
    CustomerSource, FulfilmentSink, InvoiceSink, InvoiceSource, OrderSource, OrderStatusSink,
    PaymentSink, PriceSink, PriceSource, ReturnSink, ReturnSource, SalesSink, SalesSource,
    ShipmentSource, StockSink, StockSource, StockTransferSink,
};

use super::system::MemorySystem;

/// The memory system as a configured connection: it offers every port, as a shop and
/// as an ERP.
#[derive(Clone, Debug)]
pub struct MemoryConnector {
    pub system: MemorySystem,
}

/// What a memory connection can do: everything, as a shop or as an ERP.
pub(crate) const CAPABILITIES: &[kontor_connector::Capability] = &[
    kontor_connector::Capability::CatalogueRead,
    kontor_connector::Capability::CatalogueWrite,
    kontor_connector::Capability::StockRead,
    kontor_connector::Capability::StockWrite,
    kontor_connector::Capability::OrderRead,
    kontor_connector::Capability::SalesWrite,
    kontor_connector::Capability::CustomerWrite,
    kontor_connector::Capability::CustomerRead,
    kontor_connector::Capability::AccountWrite,
    kontor_connector::Capability::PriceRead,
    kontor_connector::Capability::PriceWrite,
    kontor_connector::Capability::PaymentWrite,
    kontor_connector::Capability::InvoiceRead,
    kontor_connector::Capability::InvoiceWrite,
    kontor_connector::Capability::ShipmentRead,
    kontor_connector::Capability::FulfilmentWrite,
    kontor_connector::Capability::SalesRead,
    kontor_connector::Capability::OrderStatusWrite,
    kontor_connector::Capability::ReturnRead,
    kontor_connector::Capability::ReturnWrite,
    kontor_connector::Capability::TransferWrite,
];

#[async_trait]
impl Connector for MemoryConnector {
    fn kind(&self) -> &'static str {
        "memory"
    }

    ports! {
        catalogue_source: CatalogueSource,
        catalogue_sink: CatalogueSink,
        stock_source: StockSource,
        stock_sink: StockSink,
        order_source: OrderSource,
        sales_sink: SalesSink,
        customer_sink: CustomerSink,
        customer_source: CustomerSource,
        account_sink: AccountSink,
        price_source: PriceSource,
        price_sink: PriceSink,
        payment_sink: PaymentSink,
        invoice_source: InvoiceSource,
        invoice_sink: InvoiceSink,
        shipment_source: ShipmentSource,
        fulfilment_sink: FulfilmentSink,
        sales_source: SalesSource,
        order_status_sink: OrderStatusSink,
        return_source: ReturnSource,
        return_sink: ReturnSink,
        transfer_sink: StockTransferSink,
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.system.call("check").await
    }
}
