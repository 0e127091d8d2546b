//! Prices: each variant's list price (net) as the base price, and its price in every
//! Tryton price list, computed by Tryton (`sale_price_uom` with the list in the context).
//! A changed price list changes every product's price in it: the window then takes all.

use async_trait::async_trait;
use kontor_connector::{Changes, ConnectorError, PriceSource};
use kontor_model::{Price, PriceKind, PriceScope};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::tryton::TrytonSystem;
use crate::tryton::values::{
    Record, get_bool, get_decimal, get_ids, get_optional_decimal, get_ref, get_str,
};
use crate::tryton::window::Window;

impl TrytonSystem {
    pub(crate) async fn company_currency(&self) -> Result<kontor_model::Currency, ConnectorError> {
        let context = self.client().context().await?;
        let company = context
            .get("company")
            .and_then(Value::as_i64)
            .ok_or_else(|| ConnectorError::Unauthorized {
                message: "the Tryton user has no current company".into(),
            })?;
        let read = self
            .client()
            .read("company.company", &[company], &["currency"], None)
            .await?;
        let currency = read
            .first()
            .and_then(|r| get_ref(r, "currency"))
            .ok_or_else(|| ConnectorError::protocol("company without currency"))?;
        self.currency(currency).await
    }

    async fn prices_of(&self, variant_ids: &[i64]) -> Result<Vec<Price>, ConnectorError> {
        if variant_ids.is_empty() {
            return Ok(vec![]);
        }
        let currency = self.company_currency().await?;
        let price = |sku: &str, amount: Decimal, includes_tax: bool, scope: PriceScope| Price {
            sku: sku.to_owned(),
            amount: kontor_model::Money::new(amount.normalize(), currency),
            includes_tax,
            scope,
            kind: PriceKind::Regular,
            min_quantity: Decimal::ONE,
            valid_from: None,
            valid_until: None,
        };
        let mut prices = Vec::new();
        for variant in self
            .client()
            .read(
                "product.product",
                variant_ids,
                &["code", "list_price_used"],
                None,
            )
            .await?
        {
            let Some(sku) = get_str(&variant, "code") else {
                continue;
            };
            // A product without a list price has no price to send: the shop keeps its
            // own rather than selling at 0.00.
            match get_optional_decimal(&variant, "list_price_used")? {
                Some(amount) => prices.push(price(sku, amount, false, PriceScope::Base)),
                None => {
                    tracing::warn!(message = "A Tryton product has no list price; no price is sent for it.", %sku)
                }
            }
        }
        let lists = self
            .client()
            .search_read(
                "product.price_list",
                json!([]),
                None,
                json!([["id", "ASC"]]),
                &["name", "tax_included"],
                None,
            )
            .await?;
        for list in lists {
            let (Some(id), Some(name)) = (get_ref(&list, "id"), get_str(&list, "name")) else {
                continue;
            };
            let includes_tax = get_bool(&list, "tax_included").unwrap_or(false);
            let mut context = Record::new();
            context.insert("price_list".into(), json!(id));
            context.insert("quantity".into(), json!(1));
            for variant in self
                .client()
                .read(
                    "product.product",
                    variant_ids,
                    &["code", "sale_price_uom"],
                    Some(&context),
                )
                .await?
            {
                if let (Some(sku), Some(Value::Object(_))) =
                    (get_str(&variant, "code"), variant.get("sale_price_uom"))
                {
                    let amount = get_decimal(&variant, "sale_price_uom")?;
                    prices.push(price(
                        sku,
                        amount.round_dp(4),
                        includes_tax,
                        PriceScope::PriceList(name.to_owned()),
                    ));
                }
            }
        }
        Ok(prices)
    }
}

#[async_trait]
impl PriceSource for TrytonSystem {
    async fn prices_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Price>, ConnectorError> {
        let mut window = self.window(cursor)?;
        let lists_changed = window.from.is_some() && window.after == 0 && {
            let lists = self
                .client()
                .search(
                    "product.price_list",
                    json!([["OR", window.changed(""), window.changed("lines.")]]),
                    Some(1),
                )
                .await?;
            !lists.is_empty()
        };
        if lists_changed {
            // Every product's price may have changed: this window reaches back to the start.
            window.from = None;
        }
        let page = self
            .read_window(
                "product.template",
                Self::goods(),
                &["products."],
                &window,
                limit,
                &["products"],
            )
            .await?;
        let mut variants: Vec<i64> = Vec::new();
        for template in &page.records {
            variants.extend(get_ids(template, "products")?);
        }
        Ok(Changes {
            items: self.prices_of(&variants).await?,
            cursor: Some(page.cursor),
            more: page.more,
        })
    }

    fn cursor_at(&self, since: chrono::DateTime<chrono::Utc>) -> Option<String> {
        Some(Window::since(since))
    }
}
