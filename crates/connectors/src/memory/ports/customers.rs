use std::collections::BTreeSet;

use async_trait::async_trait;
use kontor_connector::{
    AccountSink, AccountUpsert, AccountWritten, Changes, ConnectorError, CustomerQuery,
    CustomerRef, CustomerSink, CustomerSource, ExternalCustomer, ItemResults,
};
use kontor_model::Customer;

use super::page;
use crate::memory::state::{CustomerRecord, Mutation, State};
use crate::memory::system::MemorySystem;

fn matches(record: &CustomerRecord, query: &CustomerQuery) -> bool {
    match query {
        CustomerQuery::Email(email) => record.customer.email.as_ref() == Some(email),
        CustomerQuery::VatId(vat) => record.customer.vat_id() == Some(vat),
        CustomerQuery::Reference(reference) => {
            &record.customer.reference == reference || &record.id == reference
        }
    }
}

#[async_trait]
impl CustomerSink for MemorySystem {
    async fn find_customers(
        &self,
        query: &CustomerQuery,
    ) -> Result<Vec<CustomerRef>, ConnectorError> {
        self.call("customers.find").await?;
        Ok(self.read(|s| {
            let ids: BTreeSet<&String> = match query {
                CustomerQuery::Email(email) => s
                    .customers_by_email
                    .get(email.as_str())
                    .into_iter()
                    .flatten()
                    .collect(),
                // A reference may also be the ERP's own id.
                CustomerQuery::Reference(reference) => s
                    .customers_by_reference
                    .get(reference)
                    .into_iter()
                    .flatten()
                    .chain(s.customers.get_key_value(reference).map(|(id, _)| id))
                    .collect(),
                CustomerQuery::VatId(_) => s
                    .customers
                    .values()
                    .filter(|c| matches(c, query))
                    .map(|c| &c.id)
                    .collect(),
            };
            ids.into_iter()
                .filter_map(|id| s.customers.get(id))
                .map(State::customer_ref)
                .collect()
        }))
    }

    async fn create_customer(&self, customer: &Customer) -> Result<CustomerRef, ConnectorError> {
        self.call("customers.create").await?;
        self.write(|state| {
            let record = CustomerRecord {
                id: state.new_id("c"),
                customer: customer.clone(),
            };
            let found = State::customer_ref(&record);
            (vec![Mutation::Customer(record)], found)
        })
    }
}

#[async_trait]
impl CustomerSource for MemorySystem {
    async fn customers_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<ExternalCustomer>, ConnectorError> {
        self.call("customers.list").await?;
        self.read(|s| {
            page(&s.customer_feed, cursor, limit, |id| {
                s.customers.get(id).map(|c| ExternalCustomer {
                    id: c.id.clone(),
                    customer: c.customer.clone(),
                })
            })
        })
    }
}

#[async_trait]
impl AccountSink for MemorySystem {
    async fn find_accounts(
        &self,
        query: &CustomerQuery,
    ) -> Result<Vec<CustomerRef>, ConnectorError> {
        self.call("accounts.find").await?;
        Ok(self.read(|s| {
            s.accounts
                .values()
                .filter(|c| matches(c, query))
                .map(State::customer_ref)
                .collect()
        }))
    }

    async fn upsert_accounts(
        &self,
        accounts: &[AccountUpsert],
    ) -> Result<ItemResults<AccountWritten>, ConnectorError> {
        self.call("accounts.batch").await?;
        self.check_batch(accounts.len())?;
        self.write(|state| {
            let mut mutations = Vec::new();
            let mut results = Vec::new();
            for upsert in accounts {
                let customer = &upsert.customer;
                // Known id, else the same e-mail or reference: a retry updates instead.
                let existing = upsert
                    .account_id
                    .clone()
                    .filter(|id| state.accounts.contains_key(id))
                    .or_else(|| {
                        state
                            .accounts
                            .values()
                            .find(|a| {
                                a.customer.reference == customer.reference
                                    || (customer.email.is_some()
                                        && a.customer.email == customer.email)
                            })
                            .map(|a| a.id.clone())
                    });
                let created = existing.is_none();
                let id = existing.unwrap_or_else(|| state.new_id("a"));
                mutations.push(Mutation::Account(CustomerRecord {
                    id: id.clone(),
                    customer: customer.clone(),
                }));
                results.push(Ok(AccountWritten {
                    account_id: id,
                    reference: customer.reference.clone(),
                    created,
                }));
            }
            (mutations, results)
        })
    }

    fn batch_size(&self) -> usize {
        self.knobs().batch_size.max(1)
    }
}
