//! Products and their variants, as the ERP knows them and the shop shows them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::order::TaxRate;
use crate::text::LocalizedText;
use crate::validate::{Validate, Validator};

/// A product: what a shopper sees as one page. Sold through its variants.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// The product's own code in the ERP (a parent SKU); stable across systems.
    pub code: String,
    pub name: LocalizedText,
    #[serde(default)]
    pub description: LocalizedText,
    /// Category paths, e.g. `["Shoes", "Running"]`.
    #[serde(default)]
    pub categories: Vec<Vec<String>>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Product-level attributes (brand, material).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The axes variants differ on, in display order (e.g. `size`, `colour`).
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub images: Vec<MediaRef>,
    /// Data sheets, manuals: files offered for download.
    #[serde(default)]
    pub attachments: Vec<MediaRef>,
    pub variants: Vec<Variant>,
    /// The VAT rate it is sold at domestically; shops map it to their tax classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<TaxRate>,
    #[serde(default)]
    pub status: ProductStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    #[default]
    Active,
    /// Not yet for sale.
    Draft,
    /// No longer sold; the flow's archive policy decides what the shop does with it.
    Archived,
}

/// One sellable item: has a SKU, a price and stock.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub sku: String,
    /// EAN-13 / GTIN, checked digit verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ean: Option<String>,
    /// Values for the product's option axes, e.g. `size = "42"`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// A name of its own, when the product's name is not enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<LocalizedText>,
    #[serde(default)]
    pub images: Vec<MediaRef>,
    /// Weight in kilograms, exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_kg: Option<rust_decimal::Decimal>,
}

/// A reference to an image or file held elsewhere (a URL or a blob key): never the bytes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl Product {
    pub fn variant(&self, sku: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.sku == sku)
    }
}

/// True if `code` is a well-formed GTIN-8/12/13/14 with a correct check digit.
pub fn is_valid_gtin(code: &str) -> bool {
    if !matches!(code.len(), 8 | 12 | 13 | 14) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits: Vec<u32> = code.bytes().map(|b| u32::from(b - b'0')).collect();
    let (body, check) = digits.split_at(digits.len() - 1);
    // Weights 3,1,3,1… from the rightmost body digit.
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    (10 - sum % 10) % 10 == check[0]
}

impl Validate for Product {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.code, "code");
        v.check(
            !self.name.is_empty(),
            "name",
            "is required in at least one language",
        );
        v.check(
            !self.variants.is_empty(),
            "variants",
            "a product needs at least one variant",
        );
        for (i, variant) in self.variants.iter().enumerate() {
            if self.variants[..i].iter().any(|o| o.sku == variant.sku) {
                v.error(
                    &format!("variants[{i}].sku"),
                    format!("`{}` appears twice", variant.sku),
                );
            }
            for axis in variant.options.keys() {
                if !self.options.contains(axis) {
                    v.error(
                        &format!("variants[{i}].options.{axis}"),
                        "is not one of the product's options",
                    );
                }
            }
        }
        v.each("variants", &self.variants);
        v.each("images", &self.images);
        v.each("attachments", &self.attachments);
    }
}

impl Validate for Variant {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.sku, "sku");
        v.check(
            !self.sku.chars().any(char::is_whitespace),
            "sku",
            "must not contain spaces",
        );
        if let Some(ean) = &self.ean {
            v.check(
                is_valid_gtin(ean),
                "ean",
                format!("`{ean}` is not a valid EAN/GTIN"),
            );
        }
        if let Some(w) = self.weight_kg {
            v.check(!w.is_sign_negative(), "weight_kg", "must not be negative");
        }
    }
}

impl Validate for MediaRef {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.url, "url");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> Product {
        Product {
            code: "TSHIRT".into(),
            name: LocalizedText::new("en", "T-shirt"),
            description: LocalizedText::default(),
            categories: vec![vec!["Clothing".into()]],
            tags: vec![],
            attributes: BTreeMap::new(),
            options: vec!["size".into()],
            images: vec![],
            attachments: vec![],
            variants: vec![Variant {
                sku: "TSHIRT-M".into(),
                ean: Some("5901234123457".into()),
                options: [("size".to_string(), "M".to_string())].into(),
                name: None,
                images: vec![],
                weight_kg: None,
            }],
            tax_rate: None,
            status: ProductStatus::Active,
            updated_at: None,
        }
    }

    #[test]
    fn gtin_check_digit() {
        assert!(is_valid_gtin("5901234123457"));
        assert!(!is_valid_gtin("5901234123458"));
        assert!(is_valid_gtin("96385074"));
        assert!(!is_valid_gtin("59012341234x7"));
    }

    #[test]
    fn a_valid_product_passes() {
        assert!(product().validate().is_ok());
    }

    #[test]
    fn problems_name_the_variant_field() {
        let mut p = product();
        p.variants[0].ean = Some("123".into());
        p.variants.push(p.variants[0].clone());
        p.variants[1].options.insert("colour".into(), "red".into());
        let err = p.validate().unwrap_err();
        let fields: Vec<_> = err.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"variants[1].sku"), "{fields:?}");
        assert!(fields.contains(&"variants[1].options.colour"), "{fields:?}");
        assert!(fields.contains(&"variants[0].ean"), "{fields:?}");
    }
}
