//! Customers (B2C people and B2B companies) and addresses.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::validate::{Validate, Validator};

/// An e-mail address, trimmed and lower-cased so that matching is reliable.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn new(raw: &str) -> Result<Self, String> {
        let normalized = raw.trim().to_lowercase();
        let valid = match normalized.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !normalized.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if valid {
            Ok(Email(normalized))
        } else {
            Err(format!("`{raw}` is not an e-mail address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Email::new(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A VAT identification number, normalised: upper case, no spaces, dots or dashes
/// (`PL 526-000-12-46` → `PL5260001246`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VatId(String);

impl VatId {
    pub fn new(raw: &str) -> Result<Self, String> {
        let normalized: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.'))
            .collect::<String>()
            .to_uppercase();
        if normalized.len() >= 4
            && normalized.len() <= 20
            && normalized.chars().all(|c| c.is_ascii_alphanumeric())
        {
            Ok(VatId(normalized))
        } else {
            Err(format!("`{raw}` is not a VAT number"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for VatId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        VatId::new(&s)
    }
}

impl From<VatId> for String {
    fn from(v: VatId) -> String {
        v.0
    }
}

impl fmt::Debug for VatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for VatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// ISO 3166-1 alpha-2 country code, upper case (`PL`, `DE`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn new(raw: &str) -> Result<Self, String> {
        let upper = raw.trim().to_ascii_uppercase();
        match upper.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(CountryCode([*a, *b])),
            _ => Err(format!("`{raw}` is not an ISO 3166 country code")),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl TryFrom<String> for CountryCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        CountryCode::new(&s)
    }
}

impl From<CountryCode> for String {
    fn from(c: CountryCode) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A postal address.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// The person's full name.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    pub street: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street2: Option<String>,
    pub postal_code: String,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub country: CountryCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Validate for Address {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.name, "name");
        v.required(&self.street, "street");
        v.required(&self.postal_code, "postal_code");
        v.required(&self.city, "city");
    }
}

/// Whether a customer is a consumer or a business.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CustomerKind {
    Person,
    Company {
        company_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vat_id: Option<VatId>,
    },
}

/// When invoices fall due.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentTerms {
    /// The ERP's name or code for the terms (e.g. `14 days`).
    pub code: String,
    pub days: u32,
}

/// A customer as the ERP keeps it (and B2B shops show it).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The customer's reference in the system it came from.
    pub reference: String,
    pub kind: CustomerKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default)]
    pub addresses: Vec<Address>,
    /// Customer group, e.g. `wholesale`: selects group prices in the shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_list: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_terms: Option<PaymentTerms>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_limit: Option<Money>,
    /// What the customer owes now (positive) or has in credit (negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Money>,
}

impl Customer {
    /// A customer of `kind` known only by `reference` and `name` so far.
    pub fn named(reference: &str, kind: CustomerKind, name: &str) -> Customer {
        Customer {
            reference: reference.into(),
            kind,
            name: name.into(),
            email: None,
            phone: None,
            addresses: vec![],
            group: None,
            price_list: None,
            payment_terms: None,
            credit_limit: None,
            balance: None,
        }
    }

    /// First and last name, for systems that want them apart: a person's own (the last
    /// word is the last name); for a company, its contact's name if given, else the
    /// company's name as the last name.
    pub fn first_and_last_name(&self) -> (String, String) {
        let name = self.name.trim();
        let company = match &self.kind {
            CustomerKind::Company { company_name, .. } => Some(company_name.trim()),
            CustomerKind::Person => None,
        };
        if company.is_some_and(|c| c == name) {
            return (String::new(), name.to_owned());
        }
        match name.rsplit_once(' ') {
            Some((first, last)) => (first.trim().to_owned(), last.trim().to_owned()),
            None => (String::new(), name.to_owned()),
        }
    }

    pub fn vat_id(&self) -> Option<&VatId> {
        match &self.kind {
            CustomerKind::Company { vat_id, .. } => vat_id.as_ref(),
            CustomerKind::Person => None,
        }
    }
}

impl Validate for Customer {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.reference, "reference");
        v.required(&self.name, "name");
        if let CustomerKind::Company { company_name, .. } = &self.kind {
            v.required(company_name, "kind.company_name");
        }
        if let (Some(limit), Some(balance)) = (&self.credit_limit, &self.balance) {
            v.check(
                limit.currency == balance.currency,
                "balance.currency",
                "must be the credit limit's currency",
            );
        }
        if let Some(limit) = &self.credit_limit {
            v.check(!limit.is_negative(), "credit_limit", "must not be negative");
        }
        v.each("addresses", &self.addresses);
    }
}

#[cfg(test)]
mod tests {
    fn customer(name: &str, kind: CustomerKind) -> Customer {
        Customer::named("K-1", kind, name)
    }

    #[test]
    fn names_split_for_people_and_stay_whole_for_companies() {
        assert_eq!(
            customer("Anna Maria Nowak", CustomerKind::Person).first_and_last_name(),
            ("Anna Maria".into(), "Nowak".into())
        );
        let company = CustomerKind::Company {
            company_name: "Hotel Gdańsk sp. z o.o.".into(),
            vat_id: None,
        };
        assert_eq!(
            customer("Hotel Gdańsk sp. z o.o.", company).first_and_last_name(),
            (String::new(), "Hotel Gdańsk sp. z o.o.".into())
        );
        assert_eq!(
            customer("Cher", CustomerKind::Person).first_and_last_name(),
            (String::new(), "Cher".into())
        );
    }

    use super::*;

    #[test]
    fn emails_and_vat_ids_are_normalised_for_matching() {
        assert_eq!(
            Email::new(" Jan@Example.COM ").unwrap().as_str(),
            "jan@example.com"
        );
        assert!(Email::new("jan@localhost").is_err());
        assert!(Email::new("not an email").is_err());
        assert_eq!(
            VatId::new("pl 526-000-12-46").unwrap().as_str(),
            "PL5260001246"
        );
        assert!(VatId::new("x").is_err());
    }

    #[test]
    fn country_codes_are_two_letters() {
        assert_eq!(CountryCode::new("pl").unwrap().as_str(), "PL");
        assert!(CountryCode::new("POL").is_err());
        assert!(serde_json::from_str::<CountryCode>("\"P1\"").is_err());
    }
}
