use async_trait::async_trait;
use kontor_model::{Customer, Email, VatId};
use serde::{Deserialize, Serialize};

use super::ItemResults;
use crate::{Changes, ConnectorError};

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

/// A customer with its id in the system it was read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalCustomer {
    pub id: String,
    pub customer: Customer,
}

/// Reads customers (B2B accounts with their terms, limits and balances) from the ERP.
#[async_trait]
pub trait CustomerSource: Send + Sync {
    async fn customers_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<ExternalCustomer>, ConnectorError>;
}

/// A customer to create or update in a shop, with its account id there if known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountUpsert {
    pub customer: Customer,
    pub account_id: Option<String>,
}

impl AccountUpsert {
    /// The account's e-mail, for a sink that [`AccountSink::requires_email`]. The flow
    /// sends none without one; a caller that does gets `email_required` back.
    pub fn email(&self) -> Result<&Email, ConnectorError> {
        self.customer
            .email
            .as_ref()
            .ok_or_else(|| ConnectorError::Rejected {
                code: Some("email_required".into()),
                message: format!(
                    "this shop knows accounts by e-mail, and {} ({}) has none",
                    self.customer.name, self.customer.reference
                ),
                field: Some("email".into()),
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountWritten {
    pub account_id: String,
    /// The customer's reference in the ERP.
    pub reference: String,
    pub created: bool,
}

/// Customer accounts in a shop (B2B: company, price group, credit limit, balance).
#[async_trait]
pub trait AccountSink: Send + Sync {
    async fn find_accounts(
        &self,
        query: &CustomerQuery,
    ) -> Result<Vec<CustomerRef>, ConnectorError>;

    /// Creates or updates accounts (one without an id is looked up by e-mail first, so
    /// a retry never makes a duplicate).
    async fn upsert_accounts(
        &self,
        accounts: &[AccountUpsert],
    ) -> Result<ItemResults<AccountWritten>, ConnectorError>;

    fn batch_size(&self) -> usize {
        50
    }

    /// The shop knows accounts by e-mail: one without an e-mail cannot be made, and the
    /// customers flow parks such a customer instead of sending it.
    fn requires_email(&self) -> bool {
        false
    }
}
