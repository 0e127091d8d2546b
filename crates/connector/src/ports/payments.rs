use async_trait::async_trait;
use kontor_model::{Invoice, InvoiceKind, Money, Payment};
use serde::{Deserialize, Serialize};

use crate::ConnectorError;

/// A payment as the ERP recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub id: String,
    /// The payment provider's transaction id it was recorded with.
    pub transaction_id: String,
    pub amount: Money,
}

/// Records payments against sales documents and issues the receipt or invoice.
#[async_trait]
pub trait PaymentSink: Send + Sync {
    /// Payments already recorded against the sale (to find one recorded before).
    async fn payments_of(&self, sale_id: &str) -> Result<Vec<PaymentRecord>, ConnectorError>;

    async fn record_payment(
        &self,
        sale_id: &str,
        payment: &Payment,
    ) -> Result<PaymentRecord, ConnectorError>;

    /// Receipts and invoices already issued for the sale.
    async fn documents_of(&self, sale_id: &str) -> Result<Vec<Invoice>, ConnectorError>;

    /// Issues the receipt or VAT invoice for a paid sale.
    async fn issue_document(
        &self,
        sale_id: &str,
        kind: InvoiceKind,
    ) -> Result<Invoice, ConnectorError>;
}
