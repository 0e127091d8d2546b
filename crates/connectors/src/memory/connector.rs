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
