use async_trait::async_trait;
use kontor_model::{Money, Return};
use serde::{Deserialize, Serialize};

use crate::{Changes, ConnectorError};

/// Reads returns and refunds from a shop.
#[async_trait]
pub trait ReturnSource: Send + Sync {
    async fn returns_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Return>, ConnectorError>;
}

/// What a return becomes in the ERP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnDocumentKind {
    /// A credit note correcting the invoice (money back).
    #[default]
    CreditNote,
    /// A return of goods into the warehouse.
    GoodsReturn,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnDocument {
    pub id: String,
    pub number: String,
    /// The shop's reference for the return.
    pub reference: String,
    pub kind: ReturnDocumentKind,
    pub total: Money,
}

/// Records returns in the ERP.
#[async_trait]
pub trait ReturnSink: Send + Sync {
    /// The document created earlier for this shop return, if any.
    async fn find_return(&self, reference: &str) -> Result<Option<ReturnDocument>, ConnectorError>;

    async fn create_return(
        &self,
        sale_id: &str,
        goods_return: &Return,
        kind: ReturnDocumentKind,
    ) -> Result<ReturnDocument, ConnectorError>;
}
