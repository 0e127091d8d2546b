//! The memory system's ports. It behaves like a real system where it matters to flows:
//! a shop refuses stock for a SKU it does not have, the ERP refuses a sale for an unknown
//! customer or product, and — like any ERP — it creates a second sale if asked twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{
    CatalogueSink, CatalogueSource, Changes, Connector, ConnectorError, CustomerQuery, CustomerRef,
    CustomerSink, ItemResults, OrderSource, OrderSummary, ProductUpsert, ProductWritten,
    SalesDocument, SalesDraft, SalesLine, SalesSink, StockSink, StockSource, StockUpdate,
    VariantRef,
};
use kontor_model::{Customer, Money, Order, Product, ProductStatus, StockLevel, tax_breakdown};
use rust_decimal::Decimal;

use super::state::{CustomerRecord, Mutation, ProductRecord, SaleRecord, State};
use super::system::MemorySystem;

fn parse_cursor(cursor: Option<&str>) -> Result<u64, ConnectorError> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .parse()
            .map_err(|_| ConnectorError::protocol(format!("`{c}` is not a memory-system cursor"))),
    }
}

fn variant_refs(state: &State, skus: &[String]) -> Vec<VariantRef> {
    skus.iter()
        .filter_map(|sku| {
            let product_id = state.sku_index.get(sku)?;
            let record = state.products.get(product_id)?;
            Some(VariantRef {
                sku: sku.clone(),
                product_id: product_id.clone(),
                variant_id: record.variant_ids.get(sku)?.clone(),
            })
        })
        .collect()
}

fn product_view(record: &ProductRecord) -> Product {
    let mut product = record.product.clone();
    if record.archived {
        product.status = ProductStatus::Archived;
    }
    product
}

#[async_trait]
impl CatalogueSource for MemorySystem {
    async fn products_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Product>, ConnectorError> {
        self.call("products.list").await?;
        let after = parse_cursor(cursor)?;
        Ok(self.read(|s| {
            let (ids, last, more) = s.product_feed.since(after, limit);
            Changes {
                items: ids
                    .iter()
                    .filter_map(|id| s.products.get(id))
                    .map(product_view)
                    .collect(),
                cursor: last.map(|seq| seq.to_string()),
                more,
            }
        }))
    }

    async fn find_variants(&self, skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError> {
        self.call("variants.find").await?;
        Ok(self.read(|s| variant_refs(s, skus)))
    }

    async fn get_product(&self, code: &str) -> Result<Product, ConnectorError> {
        self.call("products.get").await?;
        self.read(|s| {
            s.products
                .values()
                .find(|p| p.product.code == code)
                .map(product_view)
        })
        .ok_or_else(|| ConnectorError::NotFound {
            what: format!("product {code}"),
        })
    }
}

#[async_trait]
impl CatalogueSink for MemorySystem {
    async fn find_variants(&self, skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError> {
        self.call("variants.find").await?;
        Ok(self.read(|s| variant_refs(s, skus)))
    }

    async fn upsert_products(
        &self,
        products: &[ProductUpsert],
    ) -> Result<ItemResults<ProductWritten>, ConnectorError> {
        self.call("products.batch").await?;
        let limit = CatalogueSink::batch_size(self);
        if products.len() > limit {
            return Err(ConnectorError::rejected(format!(
                "a batch takes at most {} products, got {}",
                limit,
                products.len()
            )));
        }
        self.write(|state| {
            let mut mutations = Vec::new();
            let mut results = Vec::new();
            for upsert in products {
                let product = &upsert.product;
                // Known id first, then any of its SKUs: a retried create updates instead.
                let existing_id = upsert
                    .product_id
                    .clone()
                    .filter(|id| state.products.contains_key(id))
                    .or_else(|| {
                        product
                            .variants
                            .iter()
                            .find_map(|v| state.sku_index.get(&v.sku).cloned())
                    });
                let existing = existing_id
                    .as_ref()
                    .and_then(|id| state.products.get(id))
                    .cloned();
                let id = existing_id.unwrap_or_else(|| state.new_id("p"));
                let mut variant_ids = BTreeMap::new();
                for variant in &product.variants {
                    let known = existing
                        .as_ref()
                        .and_then(|p| p.variant_ids.get(&variant.sku).cloned());
                    variant_ids.insert(
                        variant.sku.clone(),
                        known.unwrap_or_else(|| state.new_id("v")),
                    );
                }
                let written = ProductWritten {
                    code: product.code.clone(),
                    product_id: id.clone(),
                    variants: variant_ids
                        .iter()
                        .map(|(sku, variant_id)| VariantRef {
                            sku: sku.clone(),
                            product_id: id.clone(),
                            variant_id: variant_id.clone(),
                        })
                        .collect(),
                    created: existing.is_none(),
                };
                mutations.push(Mutation::Product(ProductRecord {
                    id,
                    product: product.clone(),
                    variant_ids,
                    archived: product.status == ProductStatus::Archived,
                }));
                results.push(Ok(written));
            }
            (mutations, results)
        })
    }

    async fn archive_products(
        &self,
        product_ids: &[String],
    ) -> Result<ItemResults<()>, ConnectorError> {
        self.call("products.archive").await?;
        self.write(|state| {
            let mut mutations = Vec::new();
            let results = product_ids
                .iter()
                .map(|id| match state.products.get(id) {
                    Some(record) => {
                        let mut record = record.clone();
                        record.archived = true;
                        mutations.push(Mutation::Product(record));
                        Ok(())
                    }
                    None => Err(ConnectorError::NotFound {
                        what: format!("product {id}"),
                    }),
                })
                .collect();
            (mutations, results)
        })
    }

    fn batch_size(&self) -> usize {
        self.knobs().batch_size.max(1)
    }
}

#[async_trait]
impl StockSource for MemorySystem {
    async fn stock_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<StockLevel>, ConnectorError> {
        self.call("stock.list").await?;
        let after = parse_cursor(cursor)?;
        Ok(self.read(|s| {
            let (keys, last, more) = s.stock_feed.since(after, limit);
            Changes {
                items: keys
                    .iter()
                    .filter_map(|k| s.stock.get(k))
                    .cloned()
                    .collect(),
                cursor: last.map(|seq| seq.to_string()),
                more,
            }
        }))
    }
}

#[async_trait]
impl StockSink for MemorySystem {
    async fn set_stock(&self, updates: &[StockUpdate]) -> Result<ItemResults<()>, ConnectorError> {
        self.call("stock.batch").await?;
        if updates.len() > self.knobs().batch_size.max(1) {
            return Err(ConnectorError::rejected(
                "too many stock updates in one batch",
            ));
        }
        self.write(|state| {
            let mut mutations = Vec::new();
            let results = updates
                .iter()
                .map(|u| {
                    if !state.sku_index.contains_key(&u.sku) {
                        return Err(ConnectorError::NotFound {
                            what: format!("variant with SKU {}", u.sku),
                        });
                    }
                    mutations.push(Mutation::Stock(StockLevel {
                        sku: u.sku.clone(),
                        warehouse: u.location.clone(),
                        on_hand: u.available,
                        reserved: Decimal::ZERO,
                        incoming: u.incoming.clone().into_iter().collect(),
                    }));
                    Ok(())
                })
                .collect();
            (mutations, results)
        })
    }

    fn batch_size(&self) -> usize {
        self.knobs().batch_size.max(1)
    }
}

#[async_trait]
impl OrderSource for MemorySystem {
    async fn orders_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<OrderSummary>, ConnectorError> {
        self.call("orders.list").await?;
        let after = parse_cursor(cursor)?;
        Ok(self.read(|s| {
            let (ids, last, more) = s.order_feed.since(after, limit);
            Changes {
                items: ids
                    .iter()
                    .filter_map(|id| s.orders.get(id))
                    .map(|o| OrderSummary {
                        id: o.id.clone(),
                        number: o.number.clone(),
                        updated_at: o.updated_at,
                    })
                    .collect(),
                cursor: last.map(|seq| seq.to_string()),
                more,
            }
        }))
    }

    async fn get_order(&self, order_id: &str) -> Result<Order, ConnectorError> {
        self.call("orders.get").await?;
        self.read(|s| s.orders.get(order_id).cloned())
            .ok_or_else(|| ConnectorError::NotFound {
                what: format!("order {order_id}"),
            })
    }
}

/// Totals the way an ERP computes them from the lines it was given.
fn document_from(
    state: &State,
    id: String,
    draft: &SalesDraft,
) -> Result<SalesDocument, ConnectorError> {
    let currency = draft.order.currency;
    let money_error = |e: kontor_model::MoneyError| ConnectorError::rejected(e.to_string());
    let mut amounts = Vec::new();
    let mut lines = Vec::new();
    for line in &draft.lines {
        let amount = line
            .unit_price
            .checked_mul(line.quantity)
            .and_then(|m| m.checked_sub(&line.discount))
            .map_err(money_error)?;
        amounts.push((line.tax_rate, amount));
        let line_gross = tax_breakdown(
            currency,
            draft.prices_include_tax,
            [(line.tax_rate, amount)],
        )
        .map_err(money_error)?
        .first()
        .map(|b| b.gross)
        .unwrap_or(Money::zero(currency));
        lines.push(SalesLine {
            sku: line.sku.clone(),
            quantity: line.quantity,
            total: line_gross,
        });
    }
    let breakdown =
        tax_breakdown(currency, draft.prices_include_tax, amounts).map_err(money_error)?;
    let total = Money::sum(currency, breakdown.iter().map(|b| &b.gross)).map_err(money_error)?;
    let tax = Money::sum(currency, breakdown.iter().map(|b| &b.tax)).map_err(money_error)?;
    Ok(SalesDocument {
        number: format!("SO/{:05}", state.sales.len() + 1),
        id,
        reference: draft.reference.clone(),
        state: "confirmed".to_owned(),
        total,
        tax,
        lines,
    })
}

#[async_trait]
impl SalesSink for MemorySystem {
    async fn find_sale(&self, reference: &str) -> Result<Option<SalesDocument>, ConnectorError> {
        self.call("sales.find").await?;
        Ok(self.sales_for(reference).into_iter().next())
    }

    async fn create_sale(&self, draft: &SalesDraft) -> Result<SalesDocument, ConnectorError> {
        self.call("sales.create").await?;
        self.write(|state| {
            if !state.customers.contains_key(&draft.customer_id) {
                return (
                    vec![],
                    Err(ConnectorError::rejected(format!(
                        "customer {} does not exist",
                        draft.customer_id
                    ))),
                );
            }
            for line in &draft.lines {
                if let Some(product_id) = &line.product_id
                    && !state.products.contains_key(product_id)
                {
                    return (
                        vec![],
                        Err(ConnectorError::Rejected {
                            code: Some("unknown_product".into()),
                            message: format!(
                                "product {product_id} (SKU {}) does not exist",
                                line.sku
                            ),
                            field: Some("lines".into()),
                        }),
                    );
                }
            }
            let id = state.new_id("s");
            match document_from(state, id, draft) {
                Ok(document) => (
                    vec![Mutation::Sale(Box::new(SaleRecord {
                        document: document.clone(),
                        draft: draft.clone(),
                    }))],
                    Ok(document),
                ),
                Err(e) => (vec![], Err(e)),
            }
        })?
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
            s.customers
                .values()
                .filter(|c| match query {
                    CustomerQuery::Email(email) => c.customer.email.as_ref() == Some(email),
                    CustomerQuery::VatId(vat) => c.customer.vat_id() == Some(vat),
                    CustomerQuery::Reference(reference) => {
                        &c.customer.reference == reference || &c.id == reference
                    }
                })
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

/// The memory system as a configured connection: it offers every port.
#[derive(Clone, Debug)]
pub struct MemoryConnector {
    pub system: MemorySystem,
}

#[async_trait]
impl Connector for MemoryConnector {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn catalogue_source(&self) -> Option<Arc<dyn CatalogueSource>> {
        Some(Arc::new(self.system.clone()))
    }

    fn catalogue_sink(&self) -> Option<Arc<dyn CatalogueSink>> {
        Some(Arc::new(self.system.clone()))
    }

    fn stock_source(&self) -> Option<Arc<dyn StockSource>> {
        Some(Arc::new(self.system.clone()))
    }

    fn stock_sink(&self) -> Option<Arc<dyn StockSink>> {
        Some(Arc::new(self.system.clone()))
    }

    fn order_source(&self) -> Option<Arc<dyn OrderSource>> {
        Some(Arc::new(self.system.clone()))
    }

    fn sales_sink(&self) -> Option<Arc<dyn SalesSink>> {
        Some(Arc::new(self.system.clone()))
    }

    fn customer_sink(&self) -> Option<Arc<dyn CustomerSink>> {
        Some(Arc::new(self.system.clone()))
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.system.call("check").await
    }
}
