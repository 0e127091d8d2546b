//! Customers as WooCommerce accounts, known by e-mail. WooCommerce has no customer
//! groups; the group is kept in the account's `kontor_customer_group` meta, where B2B
//! pricing plugins can read it.

use async_trait::async_trait;
use kontor_connector::{
    AccountSink, AccountUpsert, AccountWritten, ConnectorError, CustomerQuery, CustomerRef,
    ItemResults,
};
use kontor_model::{Address, CustomerKind, Email};
use serde_json::{Value, json};

use crate::woocommerce::WooCommerceSystem;

fn customer_ref(item: &Value) -> Option<CustomerRef> {
    let name = format!(
        "{} {}",
        item["first_name"].as_str().unwrap_or_default(),
        item["last_name"].as_str().unwrap_or_default()
    );
    Some(CustomerRef {
        id: item["id"].as_u64()?.to_string(),
        name: name.trim().to_owned(),
        email: item["email"].as_str().and_then(|e| Email::new(e).ok()),
        vat_id: None,
    })
}

fn address(address: Option<&Address>, email: Option<&Email>) -> Value {
    let Some(a) = address else {
        return json!({});
    };
    let (first, last) = match a.name.rsplit_once(' ') {
        Some((first, last)) => (first, last),
        None => ("", a.name.as_str()),
    };
    let mut out = json!({
        "first_name": first, "last_name": last,
        "company": a.company.clone().unwrap_or_default(),
        "address_1": a.street, "address_2": a.street2.clone().unwrap_or_default(),
        "city": a.city, "state": a.region.clone().unwrap_or_default(),
        "postcode": a.postal_code, "country": a.country.to_string(),
        "phone": a.phone.clone().unwrap_or_default(),
    });
    if let Some(email) = email {
        out["email"] = json!(email.to_string());
    }
    out
}

impl WooCommerceSystem {
    async fn customers_by_email(&self, email: &Email) -> Result<Vec<Value>, ConnectorError> {
        Ok(self
            .client()
            .page(
                "/customers",
                &[("email", email.to_string()), ("role", "all".into())],
            )
            .await?
            .items)
    }

    async fn upsert_account(
        &self,
        upsert: &AccountUpsert,
    ) -> Result<AccountWritten, ConnectorError> {
        let customer = &upsert.customer;
        let email = upsert.email()?;
        let (first, last) = customer.first_and_last_name();
        let mut billing = address(customer.addresses.first(), Some(email));
        if let CustomerKind::Company { company_name, .. } = &customer.kind {
            billing["company"] = json!(company_name);
        }
        let mut meta = vec![json!({"key": "kontor_reference", "value": customer.reference})];
        meta.push(json!({"key": "kontor_customer_group", "value": customer.group.clone().unwrap_or_default()}));
        if let Some(vat_id) = customer.vat_id() {
            meta.push(json!({"key": "billing_vat", "value": vat_id.to_string()}));
        }
        let body = json!({
            "email": email.to_string(),
            "first_name": first,
            "last_name": last,
            "billing": billing,
            "shipping": address(customer.addresses.get(1).or(customer.addresses.first()), None),
            "meta_data": meta,
        });
        // Linked, else found by e-mail (a retry, or an account made in the shop), else new.
        let existing = match &upsert.account_id {
            Some(id) => Some(id.clone()),
            None => self
                .customers_by_email(email)
                .await?
                .first()
                .and_then(|c| c["id"].as_u64())
                .map(|id| id.to_string()),
        };
        let (written, created) = match existing {
            Some(id) => (
                self.client()
                    .put(&format!("/customers/{id}"), &body)
                    .await?,
                false,
            ),
            None => (self.client().post("/customers", &body).await?, true),
        };
        let account_id = written["id"]
            .as_u64()
            .ok_or_else(|| ConnectorError::protocol("a customer without an id"))?;
        Ok(AccountWritten {
            account_id: account_id.to_string(),
            reference: customer.reference.clone(),
            created,
        })
    }
}

#[async_trait]
impl AccountSink for WooCommerceSystem {
    fn requires_email(&self) -> bool {
        true
    }

    async fn find_accounts(
        &self,
        query: &CustomerQuery,
    ) -> Result<Vec<CustomerRef>, ConnectorError> {
        match query {
            CustomerQuery::Email(email) => Ok(self
                .customers_by_email(email)
                .await?
                .iter()
                .filter_map(customer_ref)
                .collect()),
            CustomerQuery::Reference(id) => {
                match self.client().get(&format!("/customers/{id}"), &[]).await {
                    Ok(found) => Ok(customer_ref(&found).into_iter().collect()),
                    Err(ConnectorError::NotFound { .. }) => Ok(Vec::new()),
                    Err(e) => Err(e),
                }
            }
            // WooCommerce has no VAT id of its own to search by.
            CustomerQuery::VatId(_) => Ok(Vec::new()),
        }
    }

    async fn upsert_accounts(
        &self,
        accounts: &[AccountUpsert],
    ) -> Result<ItemResults<AccountWritten>, ConnectorError> {
        let mut results = Vec::with_capacity(accounts.len());
        for account in accounts {
            results.push(match self.upsert_account(account).await {
                Err(e) if !e.is_transient() => Err(e),
                Err(e) => return Err(e),
                ok => ok,
            });
        }
        Ok(results)
    }
}
