use async_trait::async_trait;
use kontor_model::{Customer, Email, VatId};
use serde::{Deserialize, Serialize};

use crate::ConnectorError;

/// How to look a customer up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerQuery {
    Email(Email),
    VatId(VatId),
    /// The system's own customer code.
    Reference(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRef {
    pub id: String,
    pub name: String,
    pub email: Option<Email>,
    pub vat_id: Option<VatId>,
}

/// Finds and creates customers in the ERP.
#[async_trait]
pub trait CustomerSink: Send + Sync {
    async fn find_customers(
        &self,
        query: &CustomerQuery,
    ) -> Result<Vec<CustomerRef>, ConnectorError>;

    async fn create_customer(&self, customer: &Customer) -> Result<CustomerRef, ConnectorError>;
}
