use async_trait::async_trait;
use kontor_model::Invoice;

use crate::{Changes, ConnectorError};

/// Reads issued invoices, receipts and credit notes from the ERP, and their PDFs.
#[async_trait]
pub trait InvoiceSource: Send + Sync {
    async fn invoices_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Invoice>, ConnectorError>;

    /// The document's PDF.
    async fn invoice_pdf(&self, invoice: &Invoice) -> Result<Vec<u8>, ConnectorError>;
}

/// Shows invoices on the shop's orders.
#[async_trait]
pub trait InvoiceSink: Send + Sync {
    /// Numbers of the invoices already on the order.
    async fn invoices_of(&self, order_id: &str) -> Result<Vec<String>, ConnectorError>;

    /// Puts the invoice (number, and the PDF where the shop takes files) on the order.
    async fn attach_invoice(
        &self,
        order_id: &str,
        invoice: &Invoice,
        pdf: Option<&[u8]>,
    ) -> Result<(), ConnectorError>;

    /// Whether the shop can store the PDF itself.
    fn accepts_pdf(&self) -> bool {
        true
    }
}
