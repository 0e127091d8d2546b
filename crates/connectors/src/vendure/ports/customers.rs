//! Customer accounts. Vendure knows a customer by e-mail and has customer groups; it has
//! no VAT id, payment terms, credit limit or balance without custom fields, so those
//! stay in the ERP.

use async_trait::async_trait;
use kontor_connector::{
    AccountSink, AccountUpsert, AccountWritten, ConnectorError, CustomerQuery, CustomerRef,
    ItemResults,
};
use kontor_model::Email;
use serde_json::{Value, json};

use crate::vendure::VendureSystem;

const BY_EMAIL: &str = "query($email: String!) {
  customers(options: {filter: {emailAddress: {eq: $email}}}) {
    items { id firstName lastName emailAddress groups { id name } addresses { id } }
  }
}";

fn customer_ref(item: &Value) -> Option<CustomerRef> {
    let name = format!(
        "{} {}",
        item["firstName"].as_str().unwrap_or_default(),
        item["lastName"].as_str().unwrap_or_default()
    );
    Some(CustomerRef {
        id: item["id"].as_str()?.to_owned(),
        name: name.trim().to_owned(),
        email: item["emailAddress"]
            .as_str()
            .and_then(|e| Email::new(e).ok()),
        vat_id: None,
    })
}

impl VendureSystem {
    async fn customer_by_email(&self, email: &Email) -> Result<Option<Value>, ConnectorError> {
        let data = self
            .run(BY_EMAIL, json!({"email": email.to_string()}))
            .await?;
        Ok(data["customers"]["items"]
            .as_array()
            .and_then(|items| items.first())
            .cloned())
    }

    /// The id of the customer group named `name`, made if Vendure lacks it.
    async fn customer_group(&self, name: &str) -> Result<String, ConnectorError> {
        let data = self
            .run(
                "query($name: String!) { customerGroups(options: {filter: {name: {eq: $name}}}) { items { id } } }",
                json!({"name": name}),
            )
            .await?;
        if let Some(id) = data["customerGroups"]["items"][0]["id"].as_str() {
            return Ok(id.to_owned());
        }
        let created = self
            .run(
                "mutation($name: String!) { createCustomerGroup(input: {name: $name}) { id } }",
                json!({"name": name}),
            )
            .await?;
        created["createCustomerGroup"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ConnectorError::protocol("createCustomerGroup returned no id"))
    }

    async fn upsert_account(
        &self,
        upsert: &AccountUpsert,
    ) -> Result<AccountWritten, ConnectorError> {
        let customer = &upsert.customer;
        let email = upsert.email()?;
        let (first, last) = customer.first_and_last_name();
        let mut input = json!({
            "firstName": first,
            "lastName": last,
            "emailAddress": email.to_string(),
            "phoneNumber": customer.phone,
        });
        let known = match &upsert.account_id {
            Some(id) => {
                let data = self
                    .run(
                        "query($id: ID!) { customer(id: $id) { id groups { id name } addresses { id } } }",
                        json!({"id": id}),
                    )
                    .await?;
                Some(data["customer"].clone()).filter(|c| !c.is_null())
            }
            None => None,
        };
        // Linked, else found by e-mail (a retry, or an account made in the shop), else new.
        let existing = match known {
            Some(found) => Some(found),
            None => self.customer_by_email(email).await?,
        };
        let (id, created, groups, has_addresses) = match existing {
            Some(found) => {
                let id = found["id"].as_str().unwrap_or_default().to_owned();
                input["id"] = json!(id);
                self.run(
                    "mutation($input: UpdateCustomerInput!) {
                       updateCustomer(input: $input) { ... on Customer { id } ... on ErrorResult { errorCode message } }
                     }",
                    json!({"input": input}),
                )
                .await?;
                let groups: Vec<String> = found["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|g| g["name"].as_str().map(str::to_owned))
                    .collect();
                let has_addresses = found["addresses"].as_array().is_some_and(|a| !a.is_empty());
                (id, false, groups, has_addresses)
            }
            None => {
                let data = self
                    .run(
                        "mutation($input: CreateCustomerInput!) {
                           createCustomer(input: $input) { ... on Customer { id } ... on ErrorResult { errorCode message } }
                         }",
                        json!({"input": input}),
                    )
                    .await?;
                let id = data["createCustomer"]["id"]
                    .as_str()
                    .ok_or_else(|| ConnectorError::protocol("createCustomer returned no id"))?
                    .to_owned();
                (id, true, Vec::new(), false)
            }
        };
        // Addresses go with a new account only: afterwards they are the customer's to edit.
        if !has_addresses {
            for (i, address) in customer.addresses.iter().enumerate() {
                self.run(
                    "mutation($id: ID!, $input: CreateAddressInput!) { createCustomerAddress(customerId: $id, input: $input) { id } }",
                    // Vendure's address columns are NOT NULL: absent parts are sent empty.
                    json!({"id": id, "input": {
                        "fullName": address.name,
                        "company": address.company.clone().unwrap_or_default(),
                        "streetLine1": address.street,
                        "streetLine2": address.street2.clone().unwrap_or_default(),
                        "city": address.city,
                        "province": address.region.clone().unwrap_or_default(),
                        "postalCode": address.postal_code,
                        "countryCode": address.country.to_string(),
                        "phoneNumber": address.phone.clone().unwrap_or_default(),
                        "defaultShippingAddress": i == 0, "defaultBillingAddress": i == 0,
                    }}),
                )
                .await?;
            }
        }
        if let Some(group) = &customer.group
            && !groups.contains(group)
        {
            let group_id = self.customer_group(group).await?;
            self.run(
                "mutation($group: ID!, $ids: [ID!]!) { addCustomersToGroup(customerGroupId: $group, customerIds: $ids) { id } }",
                json!({"group": group_id, "ids": [id]}),
            )
            .await?;
        }
        Ok(AccountWritten {
            account_id: id,
            reference: customer.reference.clone(),
            created,
        })
    }
}

#[async_trait]
impl AccountSink for VendureSystem {
    fn requires_email(&self) -> bool {
        true
    }

    /// By e-mail; Vendure has no VAT ids or customer codes to search by.
    async fn find_accounts(
        &self,
        query: &CustomerQuery,
    ) -> Result<Vec<CustomerRef>, ConnectorError> {
        match query {
            CustomerQuery::Email(email) => Ok(self
                .customer_by_email(email)
                .await?
                .as_ref()
                .and_then(customer_ref)
                .into_iter()
                .collect()),
            CustomerQuery::VatId(_) | CustomerQuery::Reference(_) => Ok(Vec::new()),
        }
    }

    async fn upsert_accounts(
        &self,
        accounts: &[AccountUpsert],
    ) -> Result<ItemResults<AccountWritten>, ConnectorError> {
        let mut results = Vec::with_capacity(accounts.len());
        for upsert in accounts {
            match self.upsert_account(upsert).await {
                Err(e) if e.is_transient() => return Err(e),
                result => results.push(result),
            }
        }
        Ok(results)
    }
}
