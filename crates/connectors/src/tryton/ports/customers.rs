//! Parties: found by e-mail (a contact mechanism), VAT id (an identifier, however it was
//! typed) or code; created with their addresses; read back as B2B customers.

use async_trait::async_trait;
use kontor_connector::{
    Changes, ConnectorError, CustomerQuery, CustomerRef, CustomerSink, CustomerSource,
    ExternalCustomer,
};
use kontor_model::{
    Address, CountryCode, Customer, CustomerKind, Email, Money, PaymentTerms, VatId,
};
use serde_json::{Value, json};

use super::refused;
use crate::tryton::TrytonSystem;
use crate::tryton::mappers::{compact_vat, vat_pattern};
use crate::tryton::values::{Record, get_decimal, get_i64, get_ids, get_ref, get_str, nested};

const PARTY_FIELDS: &[&str] = &[
    "code",
    "name",
    "email",
    "phone",
    "addresses",
    "identifiers.type",
    "identifiers.code",
    "categories.name",
    "sale_price_list.name",
    "customer_payment_term.name",
    "receivable",
];
const ADDRESS_FIELDS: &[&str] = &[
    "party_name",
    "attn",
    "street",
    "postal_code",
    "city",
    "country.code",
    "subdivision.name",
    "active",
];

/// Tryton's identifier type for EU VAT numbers.
const VAT_TYPE: &str = "eu_vat";

impl TrytonSystem {
    /// The company's own party, which is no customer.
    async fn own_party(&self) -> Result<Option<i64>, ConnectorError> {
        let context = self.client().context().await?;
        let Some(company) = context.get("company").and_then(Value::as_i64) else {
            return Ok(None);
        };
        let read = self
            .client()
            .read("company.company", &[company], &["party"], None)
            .await?;
        Ok(read.first().and_then(|r| get_ref(r, "party")))
    }

    async fn party_refs(&self, ids: &[i64]) -> Result<Vec<CustomerRef>, ConnectorError> {
        let parties = self
            .client()
            .read(
                "party.party",
                ids,
                &["name", "email", "identifiers.type", "identifiers.code"],
                None,
            )
            .await?;
        Ok(parties
            .iter()
            .filter_map(|p| {
                Some(CustomerRef {
                    id: get_ref(p, "id")?.to_string(),
                    name: get_str(p, "name").unwrap_or_default().to_owned(),
                    email: get_str(p, "email").and_then(|e| Email::new(e).ok()),
                    vat_id: vat_of(p),
                })
            })
            .collect())
    }

    pub(crate) async fn addresses_of(
        &self,
        ids: &[i64],
    ) -> Result<Vec<(i64, Address)>, ConnectorError> {
        let read = self
            .client()
            .read("party.address", ids, ADDRESS_FIELDS, None)
            .await?;
        Ok(read
            .iter()
            .filter_map(|a| Some((get_ref(a, "id")?, address_from(a)?)))
            .collect())
    }

    /// The values creating an address of `party` (or, without a party, inside a party).
    pub(crate) async fn address_values(&self, address: &Address) -> Result<Record, ConnectorError> {
        let mut values = Record::new();
        let mut street = address.street.clone();
        if let Some(more) = address.street2.as_deref().filter(|s| !s.trim().is_empty()) {
            street = format!("{street}\n{more}");
        }
        // A company's address names the company, for the attention of the person.
        match &address.company {
            Some(company) if !company.trim().is_empty() && company != &address.name => {
                values.insert("party_name".into(), json!(company));
                values.insert("attn".into(), json!(address.name));
            }
            _ => {
                values.insert("party_name".into(), json!(address.name));
            }
        }
        values.insert("street_unstructured".into(), json!(street));
        values.insert("postal_code".into(), json!(address.postal_code));
        values.insert("city".into(), json!(address.city));
        values.insert(
            "country".into(),
            json!(self.country(address.country.as_str()).await?),
        );
        Ok(values)
    }

    async fn customers_of(
        &self,
        parties: Vec<Record>,
    ) -> Result<Vec<ExternalCustomer>, ConnectorError> {
        let own = self.own_party().await?;
        let currency = self.company_currency().await?;
        let mut customers = Vec::with_capacity(parties.len());
        for party in parties {
            let id = get_i64(&party, "id")?;
            if Some(id) == own {
                continue;
            }
            let name = get_str(&party, "name").unwrap_or_default().to_owned();
            let addresses = self
                .addresses_of(&get_ids(&party, "addresses")?)
                .await?
                .into_iter()
                .map(|(_, a)| a)
                .collect();
            let vat_id = vat_of(&party);
            let kind = match vat_id {
                Some(vat_id) => CustomerKind::Company {
                    company_name: name.clone(),
                    vat_id: Some(vat_id),
                },
                None => CustomerKind::Person,
            };
            let payment_terms = nested(&party, "customer_payment_term")
                .first()
                .and_then(|t| get_str(t, "name"))
                .map(|name| PaymentTerms {
                    code: name.to_owned(),
                    days: days_in(name),
                });
            customers.push(ExternalCustomer {
                id: id.to_string(),
                customer: Customer {
                    reference: get_str(&party, "code")
                        .map_or_else(|| id.to_string(), str::to_owned),
                    kind,
                    name,
                    email: get_str(&party, "email").and_then(|e| Email::new(e).ok()),
                    phone: get_str(&party, "phone").map(str::to_owned),
                    addresses,
                    group: nested(&party, "categories")
                        .first()
                        .and_then(|c| get_str(c, "name"))
                        .map(str::to_owned),
                    price_list: nested(&party, "sale_price_list")
                        .first()
                        .and_then(|l| get_str(l, "name"))
                        .map(str::to_owned),
                    payment_terms,
                    credit_limit: None,
                    balance: Some(Money::new(get_decimal(&party, "receivable")?, currency)),
                },
            });
        }
        Ok(customers)
    }
}

fn vat_of(party: &Record) -> Option<VatId> {
    nested(party, "identifiers")
        .into_iter()
        .find(|i| get_str(i, "type") == Some(VAT_TYPE))
        .and_then(|i| get_str(i, "code"))
        .and_then(|code| VatId::new(&compact_vat(code)).ok())
}

/// Days in a payment term's name (`14 days` → 14); 0 (due at once) when it names none.
fn days_in(name: &str) -> u32 {
    name.split(|c: char| !c.is_ascii_digit())
        .find(|p| !p.is_empty())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

fn address_from(record: &Record) -> Option<Address> {
    let country = nested(record, "country")
        .first()
        .and_then(|c| get_str(c, "code"))
        .and_then(|c| CountryCode::new(c).ok())?;
    let street = get_str(record, "street").unwrap_or_default();
    let mut lines = street.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default().to_owned();
    let rest: Vec<&str> = lines.collect();
    let name = get_str(record, "party_name").unwrap_or_default();
    let (company, person) = match get_str(record, "attn") {
        Some(person) => (Some(name.to_owned()), person.to_owned()),
        None => (None, name.to_owned()),
    };
    Some(Address {
        name: person,
        company,
        street: first,
        street2: (!rest.is_empty()).then(|| rest.join(", ")),
        postal_code: get_str(record, "postal_code")
            .unwrap_or_default()
            .to_owned(),
        city: get_str(record, "city").unwrap_or_default().to_owned(),
        region: nested(record, "subdivision")
            .first()
            .and_then(|s| get_str(s, "name"))
            .map(str::to_owned),
        country,
        phone: None,
    })
}

/// Whether two addresses are the same place for the same person, however spaced or cased.
pub(crate) fn same_address(a: &Address, b: &Address) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    norm(&a.street) == norm(&b.street)
        && norm(&a.postal_code) == norm(&b.postal_code)
        && norm(&a.city) == norm(&b.city)
        && a.country == b.country
        && norm(&a.name) == norm(&b.name)
}

#[async_trait]
impl CustomerSink for TrytonSystem {
    async fn find_customers(
        &self,
        query: &CustomerQuery,
    ) -> Result<Vec<CustomerRef>, ConnectorError> {
        let mut ids: Vec<i64> = match query {
            CustomerQuery::Email(email) => {
                let mechanisms = self
                    .client()
                    .search_read(
                        "party.contact_mechanism",
                        json!([["type", "=", "email"], ["value", "ilike", email.as_str()]]),
                        None,
                        json!([["id", "ASC"]]),
                        &["party"],
                        None,
                    )
                    .await?;
                mechanisms
                    .iter()
                    .filter_map(|m| get_ref(m, "party"))
                    .collect()
            }
            CustomerQuery::VatId(vat_id) => {
                let identifiers = self
                    .client()
                    .search_read(
                        "party.identifier",
                        json!([["code", "ilike", vat_pattern(vat_id.as_str())]]),
                        None,
                        json!([["id", "ASC"]]),
                        &["party", "code"],
                        None,
                    )
                    .await?;
                identifiers
                    .iter()
                    .filter(|i| {
                        get_str(i, "code").is_some_and(|c| compact_vat(c) == vat_id.as_str())
                    })
                    .filter_map(|i| get_ref(i, "party"))
                    .collect()
            }
            CustomerQuery::Reference(reference) => {
                self.client()
                    .search("party.party", json!([["code", "=", reference]]), None)
                    .await?
            }
        };
        ids.sort_unstable();
        ids.dedup();
        self.party_refs(&ids).await
    }

    async fn create_customer(&self, customer: &Customer) -> Result<CustomerRef, ConnectorError> {
        let mut mechanisms = Vec::new();
        if let Some(email) = &customer.email {
            mechanisms.push(json!({ "type": "email", "value": email.as_str() }));
        }
        if let Some(phone) = &customer.phone {
            mechanisms.push(json!({ "type": "phone", "value": phone }));
        }
        let mut addresses = Vec::new();
        for address in &customer.addresses {
            addresses.push(Value::Object(self.address_values(address).await?));
        }
        let name = match &customer.kind {
            CustomerKind::Company { company_name, .. } => company_name.clone(),
            CustomerKind::Person => customer.name.clone(),
        };
        if name.trim().is_empty() {
            return Err(refused(
                "missing_name",
                "a customer needs a name".into(),
                Some("name"),
            ));
        }
        let mut values = json!({
            "code": customer.reference,
            "name": name,
            "contact_mechanisms": [["create", mechanisms]],
            "addresses": [["create", addresses]],
        });
        if let Some(vat_id) = customer.vat_id() {
            values["identifiers"] =
                json!([["create", [{ "type": VAT_TYPE, "code": vat_id.as_str() }]]]);
        }
        let ids = self.client().create("party.party", vec![values]).await?;
        self.party_refs(&ids)
            .await?
            .pop()
            .ok_or_else(|| ConnectorError::protocol("the new party cannot be read back"))
    }
}

#[async_trait]
impl CustomerSource for TrytonSystem {
    async fn customers_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<ExternalCustomer>, ConnectorError> {
        let page = self
            .read_window(
                "party.party",
                vec![],
                &["addresses.", "identifiers."],
                &self.window(cursor)?,
                limit,
                PARTY_FIELDS,
            )
            .await?;
        Ok(Changes {
            items: self.customers_of(page.records).await?,
            cursor: Some(page.cursor),
            more: page.more,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_back_as_written() {
        let mut record = Record::new();
        record.insert("party_name".into(), json!("Hurtownia Bałtyk"));
        record.insert("attn".into(), json!("Anna Nowak"));
        record.insert("street".into(), json!("ul. Długa 5\nlok. 3"));
        record.insert("postal_code".into(), json!("80-831"));
        record.insert("city".into(), json!("Gdańsk"));
        record.insert("country.".into(), json!({"id": 1, "code": "PL"}));
        let address = address_from(&record).unwrap();
        assert_eq!(address.name, "Anna Nowak");
        assert_eq!(address.company.as_deref(), Some("Hurtownia Bałtyk"));
        assert_eq!(
            (address.street.as_str(), address.street2.as_deref()),
            ("ul. Długa 5", Some("lok. 3"))
        );
        let mut typed = address.clone();
        typed.street = "UL. DŁUGA 5".into();
        assert!(same_address(&address, &typed));
        typed.postal_code = "80-832".into();
        assert!(!same_address(&address, &typed));
        assert_eq!(days_in("14 days"), 14);
        assert_eq!(days_in("Direct"), 0);
    }
}
