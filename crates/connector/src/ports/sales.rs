use async_trait::async_trait;
use kontor_model::{Money, Order, TaxRate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ConnectorError;

/// Which document a shop order becomes in the ERP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SalesDocumentKind {
    /// A customer order (Polish "ZK"; Tryton `sale.sale`).
    #[default]
    CustomerOrder,
    /// A draft invoice against the customer (what some merchants prefer).
    DraftInvoice,
}

/// One line of a sales document, in the ERP's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftLine {
    /// The ERP's product id; `None` for a free-text line.
    pub product_id: Option<String>,
    pub sku: String,
    pub description: String,
    #[serde(with = "kontor_model::decimal::plain")]
    pub quantity: Decimal,
    /// Per unit, before the line discount; net or gross as the draft says.
    pub unit_price: Money,
    /// Total discount on the line.
    pub discount: Money,
    pub tax_rate: TaxRate,
    /// The ERP's tax code for the rate, where one is mapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_code: Option<String>,
    /// The ERP warehouse this line ships from, when the flow split the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
}

/// A shop order, resolved to the ERP's customer and products, ready to become a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesDraft {
    /// The shop's order number, written into the document so it can be found again.
    pub reference: String,
    pub kind: SalesDocumentKind,
    pub customer_id: String,
    /// The order as the shop has it (addresses, delivery, notes).
    pub order: Order,
    /// Goods, then shipping and any adjustment as service lines.
    pub lines: Vec<DraftLine>,
    pub prices_include_tax: bool,
    /// The ERP warehouse to sell from, if the flow chose one.
    pub warehouse: Option<String>,
    /// The ERP's payment method, mapped from the shop's.
    pub payment_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesLine {
    pub sku: String,
    #[serde(with = "kontor_model::decimal::plain")]
    pub quantity: Decimal,
    /// The line's gross total as the ERP computed it.
    pub total: Money,
}

/// A sales document as the ERP holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesDocument {
    pub id: String,
    /// The ERP's own number for it.
    pub number: String,
    /// The shop order number it was created for.
    pub reference: String,
    /// The ERP's own name for its state.
    pub state: String,
    /// The state in Kontor's words.
    pub status: kontor_model::OrderStatus,
    /// Gross total as the ERP computed it.
    pub total: Money,
    pub tax: Money,
    pub lines: Vec<SalesLine>,
}

/// Creates sales documents in the ERP.
#[async_trait]
pub trait SalesSink: Send + Sync {
    /// Every document made for this shop order, oldest first: usually none or one; a
    /// sale cancelled and entered again by hand leaves two. Called before every create:
    /// this is what makes a retried import create nothing twice. Which one counts is
    /// the flow's choice, not the connector's.
    async fn find_sales(&self, reference: &str) -> Result<Vec<SalesDocument>, ConnectorError>;

    /// The oldest document made for this shop order: for callers that know there is at
    /// most one (tools, tests). Flows choose among [`SalesSink::find_sales`] themselves.
    async fn find_sale(&self, reference: &str) -> Result<Option<SalesDocument>, ConnectorError> {
        Ok(self.find_sales(reference).await?.into_iter().next())
    }

    async fn create_sale(&self, draft: &SalesDraft) -> Result<SalesDocument, ConnectorError>;

    /// Confirms a document whose totals the flow has checked against the order. ERPs that
    /// create documents final (the default) have nothing to do; one that creates them as
    /// quotations confirms here, so a document that would not reconcile is never confirmed.
    async fn confirm_sale(
        &self,
        document: &SalesDocument,
    ) -> Result<SalesDocument, ConnectorError> {
        Ok(document.clone())
    }

    /// Cancels a sales document (the shop order was cancelled).
    async fn cancel_sale(
        &self,
        sale_id: &str,
        reason: &str,
    ) -> Result<SalesDocument, ConnectorError>;
}
