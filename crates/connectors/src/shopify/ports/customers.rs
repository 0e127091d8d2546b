//! Customers through `customerSet`, which upserts by e-mail: a retry, or an account the
//! shopper already made, is updated rather than doubled. Shopify has no customer groups
//! outside Plus; the group goes in a `kontor-group:<group>` tag, which discount and
//! B2B apps can select on, and the VAT id in a `kontor-vat:<id>` tag.

use async_trait::async_trait;
use kontor_connector::{
    AccountSink, AccountUpsert, AccountWritten, ConnectorError, CustomerQuery, CustomerRef,
    ItemResults,
};
use kontor_model::{Address, CustomerKind, Email};
use serde_json::{Value, json};

use crate::shopify::client::user_errors;
use crate::shopify::{ShopifySystem, gid, numeric};

const CUSTOMER_SET: &str =
    "mutation CustomerSet($identifier: CustomerSetIdentifiers, $input: CustomerSetInput!) {
  customerSet(identifier: $identifier, input: $input) {
    customer { id createdAt updatedAt }
    userErrors { field message code }
  }
}";

const FIND: &str = "query FindCustomers($query: String!) {
  customers(first: 10, query: $query) { nodes { id email firstName lastName } }
}";

const BY_ID: &str = "query Customer($id: ID!) {
  customer(id: $id) { id email firstName lastName }
}";

fn customer_ref(item: &Value) -> Option<CustomerRef> {
    let name = format!(
        "{} {}",
        item["firstName"].as_str().unwrap_or_default(),
        item["lastName"].as_str().unwrap_or_default()
    );
    Some(CustomerRef {
        id: numeric(&item["id"])?.to_string(),
        name: name.trim().to_owned(),
        email: item["email"].as_str().and_then(|e| Email::new(e).ok()),
        vat_id: None,
    })
}

fn address(a: &Address, company: Option<&str>) -> Value {
    let (first, last) = match a.name.rsplit_once(' ') {
        Some((first, last)) => (first, last),
        None => ("", a.name.as_str()),
    };
    json!({
        "firstName": first, "lastName": last,
        "company": a.company.as_deref().or(company),
        "address1": a.street, "address2": a.street2,
        "city": a.city, "province": a.region, "zip": a.postal_code,
        "countryCode": a.country.to_string(), "phone": a.phone,
    })
}

impl ShopifySystem {
    async fn upsert_account(
        &self,
        upsert: &AccountUpsert,
    ) -> Result<AccountWritten, ConnectorError> {
        let customer = &upsert.customer;
        let email = upsert.email()?;
        let (first, last) = customer.first_and_last_name();
        let company = match &customer.kind {
            CustomerKind::Company { company_name, .. } => Some(company_name.as_str()),
            CustomerKind::Person => None,
        };
        let mut tags = vec![format!("kontor-ref:{}", customer.reference)];
        if let Some(group) = &customer.group {
            tags.push(format!("kontor-group:{group}"));
        }
        if let Some(vat_id) = customer.vat_id() {
            tags.push(format!("kontor-vat:{vat_id}"));
        }
        let identifier = match upsert
            .account_id
            .as_deref()
            .and_then(|id| id.parse::<u64>().ok())
        {
            Some(id) => json!({ "id": gid("Customer", id) }),
            None => json!({ "email": email.to_string() }),
        };
        let data = self
            .client()
            .run(
                "customerSet",
                CUSTOMER_SET,
                json!({
                    "identifier": identifier,
                    "input": {
                        "email": email.to_string(), "firstName": first, "lastName": last,
                        "phone": customer.phone,
                        "addresses": customer.addresses.iter().map(|a| address(a, company)).collect::<Vec<_>>(),
                        "tags": tags,
                    },
                }),
            )
            .await?;
        let payload = &data["customerSet"];
        user_errors(payload)?;
        let account = &payload["customer"];
        let id = numeric(&account["id"])
            .ok_or_else(|| ConnectorError::protocol("customerSet answered no customer"))?;
        Ok(AccountWritten {
            account_id: id.to_string(),
            reference: customer.reference.clone(),
            created: account["createdAt"] == account["updatedAt"] && upsert.account_id.is_none(),
        })
    }
}

#[async_trait]
impl AccountSink for ShopifySystem {
    fn requires_email(&self) -> bool {
        true
    }

    async fn find_accounts(
        &self,
        query: &CustomerQuery,
    ) -> Result<Vec<CustomerRef>, ConnectorError> {
        match query {
            CustomerQuery::Email(email) => {
                let data = self
                    .client()
                    .run(
                        "customers by e-mail",
                        FIND,
                        json!({ "query": format!("email:\"{email}\"") }),
                    )
                    .await?;
                Ok(data["customers"]["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(customer_ref)
                    .collect())
            }
            CustomerQuery::Reference(id) => {
                let Ok(id) = id.parse::<u64>() else {
                    return Ok(Vec::new());
                };
                let data = self
                    .client()
                    .run("customer", BY_ID, json!({ "id": gid("Customer", id) }))
                    .await?;
                Ok(customer_ref(&data["customer"]).into_iter().collect())
            }
            CustomerQuery::VatId(vat_id) => {
                let data = self
                    .client()
                    .run(
                        "customers by VAT id",
                        FIND,
                        json!({ "query": format!("tag:\"kontor-vat:{vat_id}\"") }),
                    )
                    .await?;
                Ok(data["customers"]["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(customer_ref)
                    .collect())
            }
        }
    }

    async fn upsert_accounts(
        &self,
        accounts: &[AccountUpsert],
    ) -> Result<ItemResults<AccountWritten>, ConnectorError> {
        let mut results = Vec::with_capacity(accounts.len());
        for account in accounts {
            results.push(match self.upsert_account(account).await {
                Err(e) if e.is_transient() => return Err(e),
                outcome => outcome,
            });
        }
        Ok(results)
    }
}
