//! Products: a Tryton template is a product, its `product.product`s are the variants, the
//! variant's full code (template code + suffix) is the SKU.

use std::collections::BTreeMap;

use async_trait::async_trait;
use kontor_connector::{CatalogueSource, Changes, ConnectorError, VariantRef};
use kontor_model::{LocalizedText, Product, ProductStatus, TaxRate, Variant};
use serde_json::{Value, json};

use crate::tryton::TrytonSystem;
use crate::tryton::mappers::{category_path, variant_option};
use crate::tryton::values::{
    Record, get_bool, get_datetime, get_i64, get_ids, get_ref, get_str, nested,
};
use crate::tryton::window::Window;

const TEMPLATE_FIELDS: &[&str] = &[
    "code",
    "name",
    "active",
    "salable",
    "account_category",
    "categories.rec_name",
    "products",
    "write_date",
    "create_date",
];
const PRODUCT_FIELDS: &[&str] = &[
    "code",
    "suffix_code",
    "active",
    "description",
    "identifiers.type",
    "identifiers.code",
];

impl TrytonSystem {
    /// Reads archived records too: the shop must learn that they went.
    pub(crate) fn with_inactive() -> Record {
        let mut context = Record::new();
        context.insert("active_test".into(), json!(false));
        context
    }

    fn in_language(language: &str) -> Record {
        let mut context = Self::with_inactive();
        context.insert("language".into(), json!(language));
        context
    }

    /// The canonical products of these templates, names in every configured language.
    pub(crate) async fn products_of(
        &self,
        templates: Vec<Record>,
    ) -> Result<Vec<Product>, ConnectorError> {
        let languages = &self.config().languages;
        let ids: Vec<i64> = templates.iter().filter_map(|t| get_ref(t, "id")).collect();
        let mut variant_ids: Vec<i64> = Vec::new();
        for template in &templates {
            variant_ids.extend(get_ids(template, "products")?);
        }
        let mut names: BTreeMap<(i64, String), String> = BTreeMap::new();
        let mut descriptions: BTreeMap<(i64, String), String> = BTreeMap::new();
        let mut variants: BTreeMap<i64, Record> = BTreeMap::new();
        for language in languages {
            let context = Self::in_language(language);
            for template in self
                .client()
                .read("product.template", &ids, &["name"], Some(&context))
                .await?
            {
                if let (Some(id), Some(name)) =
                    (get_ref(&template, "id"), get_str(&template, "name"))
                {
                    names.insert((id, language.clone()), name.to_owned());
                }
            }
            for product in self
                .client()
                .read(
                    "product.product",
                    &variant_ids,
                    PRODUCT_FIELDS,
                    Some(&context),
                )
                .await?
            {
                let Some(id) = get_ref(&product, "id") else {
                    continue;
                };
                if let Some(text) = get_str(&product, "description") {
                    descriptions.insert((id, language.clone()), text.to_owned());
                }
                variants.entry(id).or_insert(product);
            }
        }
        let mut products = Vec::with_capacity(templates.len());
        for template in templates {
            let id = get_i64(&template, "id")?;
            let text = |map: &BTreeMap<(i64, String), String>, id: i64| {
                let mut text = LocalizedText::default();
                for language in languages {
                    if let Some(value) = map.get(&(id, language.clone())) {
                        text = text.with(language, value.clone());
                    }
                }
                text
            };
            let members: Vec<&Record> = get_ids(&template, "products")?
                .iter()
                .filter_map(|v| variants.get(v))
                .collect();
            let several = members.len() > 1;
            let mut description = LocalizedText::default();
            let product_variants: Vec<Variant> = members
                .iter()
                .filter_map(|variant| {
                    let sku = get_str(variant, "code")?.to_owned();
                    let vid = get_ref(variant, "id")?;
                    if description.is_empty() {
                        description = text(&descriptions, vid);
                    }
                    let ean = nested(variant, "identifiers")
                        .into_iter()
                        .find(|i| matches!(get_str(i, "type"), Some("ean" | "gtin")))
                        .and_then(|i| get_str(i, "code").map(str::to_owned));
                    let mut options = BTreeMap::new();
                    if several {
                        options.insert(
                            "Variant".to_owned(),
                            variant_option(get_str(variant, "suffix_code").unwrap_or(&sku)),
                        );
                    }
                    Some(Variant {
                        sku,
                        ean,
                        options,
                        name: None,
                        images: vec![],
                        weight_kg: None,
                    })
                })
                .collect();
            let tax_rate = match get_ref(&template, "account_category") {
                Some(category) => self.category_rate(category).await?,
                None => None,
            };
            let active = get_bool(&template, "active").unwrap_or(true)
                && get_bool(&template, "salable").unwrap_or(false);
            products.push(Product {
                code: get_str(&template, "code")
                    .map_or_else(|| format!("tryton-{id}"), str::to_owned),
                name: text(&names, id),
                description,
                categories: nested(&template, "categories")
                    .iter()
                    .filter_map(|c| get_str(c, "rec_name"))
                    .map(category_path)
                    .collect(),
                tags: vec![],
                attributes: BTreeMap::new(),
                options: if several {
                    vec!["Variant".to_owned()]
                } else {
                    vec![]
                },
                images: vec![],
                attachments: vec![],
                variants: product_variants,
                tax_rate,
                status: if active {
                    ProductStatus::Active
                } else {
                    ProductStatus::Archived
                },
                updated_at: get_datetime(&template, "write_date")
                    .or_else(|| get_datetime(&template, "create_date")),
            });
        }
        Ok(products)
    }

    /// The rate of an account category's customer tax.
    pub(crate) async fn category_rate(
        &self,
        category: i64,
    ) -> Result<Option<TaxRate>, ConnectorError> {
        let taxes = self.category_taxes(category).await?;
        let known = self.taxes().await?;
        Ok(taxes
            .iter()
            .find_map(|id| known.iter().find(|t| t.id == *id))
            .map(|t| TaxRate(t.percent)))
    }

    /// Goods, archived ones included.
    pub(crate) fn goods() -> Vec<Value> {
        vec![json!(["type", "=", "goods"])]
    }
}

#[async_trait]
impl CatalogueSource for TrytonSystem {
    async fn products_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Product>, ConnectorError> {
        let page = self
            .read_window(
                "product.template",
                Self::goods(),
                &["products."],
                &self.window(cursor)?,
                limit,
                TEMPLATE_FIELDS,
            )
            .await?;
        Ok(Changes {
            items: self.products_of(page.records).await?,
            cursor: Some(page.cursor),
            more: page.more,
        })
    }

    async fn find_variants(&self, skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError> {
        if skus.is_empty() {
            return Ok(vec![]);
        }
        let found = self
            .client()
            .search_read(
                "product.product",
                json!([["code", "in", skus]]),
                None,
                json!([["id", "ASC"]]),
                &["code"],
                None,
            )
            .await?;
        Ok(found
            .iter()
            .filter_map(|p| {
                // What Tryton sells (and sale lines name) is the variant, a
                // `product.product`: it is the product id as well. Its template only
                // groups variants.
                let id = get_ref(p, "id")?.to_string();
                Some(VariantRef {
                    sku: get_str(p, "code")?.to_owned(),
                    product_id: id.clone(),
                    variant_id: id,
                })
            })
            .collect())
    }

    async fn get_product(&self, code: &str) -> Result<Product, ConnectorError> {
        let context = Self::with_inactive();
        let found = self
            .client()
            .search_read(
                "product.template",
                json!([["code", "=", code]]),
                Some(1),
                json!([]),
                TEMPLATE_FIELDS,
                Some(&context),
            )
            .await?;
        if found.is_empty() {
            return Err(ConnectorError::NotFound {
                what: format!("Tryton product with code `{code}`"),
            });
        }
        self.products_of(found)
            .await?
            .pop()
            .ok_or_else(|| ConnectorError::NotFound {
                what: format!("Tryton product `{code}`"),
            })
    }

    fn cursor_at(&self, since: chrono::DateTime<chrono::Utc>) -> Option<String> {
        Some(Window::since(since))
    }
}
