//! Catalogue, ERP → shop: products and variants created or updated in the shop, each
//! sent only when its content changed since it was last sent. A page of changes goes out
//! in as few batch calls as the shop allows; an item the shop refuses gets a job of its
//! own, so one bad product never holds back the rest.

use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{CatalogueSink, CatalogueSource, ProductUpsert};
use kontor_engine::{Effects, JobContext, JobError, JobHandler, Link, NewJob, Store, content_hash};
use kontor_model::{Product, ProductStatus, Validate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{bad_payload, connector_failure, store_failure};
use crate::flow::{Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, step};
use crate::kinds;

/// What to do in the shop with a product the ERP archived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchivePolicy {
    /// Take it off sale in the shop.
    #[default]
    Archive,
    /// Leave the shop's product as it is.
    Ignore,
}

/// Options of a `catalogue` flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueOptions {
    /// Create products the shop does not have yet; `false` only updates existing ones.
    pub create_new: bool,
    pub archived: ArchivePolicy,
    /// Products read per poll; defaults to the shop's batch size.
    pub page_size: Option<usize>,
}

impl Default for CatalogueOptions {
    fn default() -> Self {
        CatalogueOptions {
            create_new: true,
            archived: ArchivePolicy::Archive,
            page_size: None,
        }
    }
}

pub struct CatalogueFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: CatalogueOptions,
    pub(crate) erp: Arc<dyn CatalogueSource>,
    pub(crate) shop: Arc<dyn CatalogueSink>,
    /// The shop's own listing, where it offers one: for go-live, what exists only there.
    pub(crate) shop_listing: Option<Arc<dyn CatalogueSource>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExportProduct {
    flow: String,
    code: String,
}

step!(PollCatalogue, CatalogueFlow, poll);
step!(ExportProductStep, CatalogueFlow, export_one);

/// What to do with one product.
enum Action {
    Upsert {
        existing_id: Option<String>,
        hash: String,
    },
    Archive {
        product_id: String,
    },
    Skip {
        why: &'static str,
    },
}

/// Every product a source has.
async fn all_products(
    source: &Arc<dyn CatalogueSource>,
    what: &str,
) -> Result<Vec<Product>, JobError> {
    crate::common::read_everything(|cursor| {
        let source = source.clone();
        async move { source.products_changed(cursor.as_deref(), 500).await }
    })
    .await
    .map_err(|e| connector_failure(&format!("listing the products of `{what}`"), e))
}

impl CatalogueFlow {
    /// The next page of changes from the source, after the cursor.
    async fn page(
        &self,
        store: &Store,
        limit: usize,
    ) -> Result<kontor_connector::Changes<kontor_model::Product>, JobError> {
        let source = self.erp.clone();
        self.ctx
            .next_page(store, "changed products", |cursor| async move {
                source.products_changed(cursor.as_deref(), limit).await
            })
            .await
    }

    fn page_size(&self) -> usize {
        self.options
            .page_size
            .unwrap_or_else(|| self.shop.batch_size())
            .max(1)
    }

    async fn decide(&self, store: &Store, product: &Product) -> Result<Action, JobError> {
        let link = store
            .link_by_entity(
                &self.ctx.tenant,
                kinds::PRODUCT,
                &self.ctx.to,
                &product.code,
            )
            .await
            .map_err(|e| store_failure("looking up product links", e))?;
        if product.status == ProductStatus::Archived {
            return Ok(match (self.options.archived, link) {
                (ArchivePolicy::Archive, Some(link))
                    if link.sent_hash.as_deref() != Some("archived") =>
                {
                    Action::Archive {
                        product_id: link.external_id,
                    }
                }
                _ => Action::Skip { why: "archived" },
            });
        }
        let hash = content_hash(product);
        match link {
            Some(link) if link.sent_hash.as_deref() == Some(hash.as_str()) => {
                Ok(Action::Skip { why: "unchanged" })
            }
            Some(link) => Ok(Action::Upsert {
                existing_id: Some(link.external_id),
                hash,
            }),
            None if self.options.create_new => Ok(Action::Upsert {
                existing_id: None,
                hash,
            }),
            None => Ok(Action::Skip {
                why: "not in the shop, and the flow only updates existing products",
            }),
        }
    }

    /// Sends `products` to the shop; returns what to record, and the codes that failed
    /// with their errors.
    async fn export(
        &self,
        store: &Store,
        products: Vec<Product>,
    ) -> Result<(Effects, Vec<(String, JobError)>), JobError> {
        let t = &self.ctx.tenant;
        let mut effects = Effects::none();
        let mut failed = Vec::new();
        let mut upserts = Vec::new();
        let mut hashes = Vec::new();
        let mut archives = Vec::new();
        let (mut unchanged, mut created, mut updated) = (0, 0, 0);
        for product in products {
            if let Err(problems) = product.validate() {
                let error = JobError::permanent(
                    "invalid_product",
                    format!("product {}: {problems}", product.code),
                );
                failed.push((product.code.clone(), error));
                continue;
            }
            match self.decide(store, &product).await? {
                Action::Skip { .. } => unchanged += 1,
                Action::Archive { product_id } => archives.push((product.code.clone(), product_id)),
                Action::Upsert { existing_id, hash } => {
                    hashes.push(hash);
                    upserts.push(ProductUpsert {
                        product,
                        product_id: existing_id,
                    });
                }
            }
        }
        let doing = format!("sending products to `{}`", self.ctx.to);
        for (chunk, chunk_hashes) in upserts
            .chunks(self.shop.batch_size().max(1))
            .zip(hashes.chunks(self.shop.batch_size().max(1)))
        {
            let results = self
                .shop
                .upsert_products(chunk)
                .await
                .map_err(|e| connector_failure(&doing, e))?;
            for ((upsert, hash), result) in chunk.iter().zip(chunk_hashes).zip(results) {
                let code = &upsert.product.code;
                match result {
                    Ok(written) => {
                        if written.created {
                            created += 1
                        } else {
                            updated += 1
                        }
                        effects = effects.link(
                            Link::new(t, kinds::PRODUCT, &self.ctx.to, &written.product_id, code)
                                .with_hash(hash.clone()),
                        );
                        for variant in written.variants {
                            effects = effects.link(Link::new(
                                t,
                                kinds::VARIANT,
                                &self.ctx.to,
                                variant.variant_id,
                                variant.sku,
                            ));
                        }
                    }
                    Err(e) => failed.push((
                        code.clone(),
                        connector_failure(&format!("sending product {code}"), e),
                    )),
                }
            }
        }
        if !archives.is_empty() {
            let ids: Vec<String> = archives.iter().map(|(_, id)| id.clone()).collect();
            let results = self
                .shop
                .archive_products(&ids)
                .await
                .map_err(|e| connector_failure(&doing, e))?;
            for ((code, product_id), result) in archives.into_iter().zip(results) {
                match result {
                    Ok(()) => {
                        effects = effects.link(
                            Link::new(t, kinds::PRODUCT, &self.ctx.to, product_id, &code)
                                .with_hash("archived"),
                        )
                    }
                    Err(e) => failed.push((
                        code.clone(),
                        connector_failure(&format!("archiving product {code}"), e),
                    )),
                }
            }
        }
        effects.outcome = Some(format!(
            "{created} created, {updated} updated, {unchanged} unchanged, {} failed",
            failed.len()
        ));
        Ok((effects, failed))
    }

    fn export_job(&self, code: &str) -> NewJob {
        self.ctx
            .item_job("export", code, json!({ "code": code }))
            .ordering_key(self.ctx.record_key(code))
    }

    /// `catalogue.poll`: one page of changed products, sent in batches.
    pub(crate) async fn poll(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let changes = self.page(&ctx.store, self.page_size()).await?;
        let (mut effects, failed) = self.export(&ctx.store, changes.items).await?;
        for (code, _) in &failed {
            effects = effects.enqueue(self.export_job(code));
        }
        effects.cursors.extend(self.ctx.cursor_at(changes.cursor));
        if changes.more {
            effects = effects.enqueue(self.start_job());
        }
        Ok(effects)
    }

    /// `catalogue.export`: one product again, read afresh, after it failed in a batch.
    pub(crate) async fn export_one(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: ExportProduct =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let product = self.erp.get_product(&job.code).await.map_err(|e| {
            connector_failure(
                &format!("reading product {} from `{}`", job.code, self.ctx.from),
                e,
            )
        })?;
        let (effects, mut failed) = self.export(&ctx.store, vec![product]).await?;
        match failed.pop() {
            Some((_, error)) => Err(error),
            None => Ok(effects),
        }
    }
}

#[async_trait]
impl Flow for CatalogueFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(0)
    }

    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == kinds::PRODUCT {
            vec![self.export_job(&change.external_id)]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollCatalogue(self.clone()))),
            (
                self.ctx.step("export"),
                Arc::new(ExportProductStep(self.clone())),
            ),
        ]
    }

    async fn plan(&self, store: &Store, limit: usize) -> Result<Plan, JobError> {
        let changes = self.page(store, limit).await?;
        let mut plan = Plan {
            changes: Vec::new(),
            more: changes.more,
        };
        for product in changes.items {
            let entity = format!("product {}", product.code);
            let (action, detail) = match product.validate() {
                Err(problems) => (PlannedAction::Park, problems.to_string()),
                Ok(()) => match self.decide(store, &product).await? {
                    Action::Skip { why } => (PlannedAction::Unchanged, why.to_owned()),
                    Action::Archive { product_id } => {
                        (PlannedAction::Update, format!("would archive {product_id}"))
                    }
                    Action::Upsert {
                        existing_id: Some(id),
                        ..
                    } => (PlannedAction::Update, format!("would update {id}")),
                    Action::Upsert {
                        existing_id: None, ..
                    } => (
                        PlannedAction::Create,
                        format!("would create with {} variants", product.variants.len()),
                    ),
                },
            };
            plan.changes.push(PlannedChange {
                entity,
                action,
                detail,
            });
        }
        Ok(plan)
    }

    async fn bind(&self, store: &Store) -> Result<Option<crate::golive::BindReport>, JobError> {
        use std::collections::{BTreeMap, BTreeSet};

        use crate::golive::{Ambiguity, BindMatch, BindReport};
        let t = &self.ctx.tenant;
        let mut report = BindReport {
            tenant: t.clone(),
            flow: self.ctx.name.clone(),
            ..BindReport::default()
        };
        let products = all_products(&self.erp, &self.ctx.from).await?;
        let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for product in &products {
            for variant in &product.variants {
                owners
                    .entry(variant.sku.clone())
                    .or_default()
                    .push(product.code.clone());
            }
        }
        let skus: Vec<String> = owners.keys().cloned().collect();
        let mut in_shop: BTreeMap<String, Vec<kontor_connector::VariantRef>> = BTreeMap::new();
        for chunk in skus.chunks(100) {
            let found = self.shop.find_variants(chunk).await.map_err(|e| {
                connector_failure(&format!("looking up SKUs in `{}`", self.ctx.to), e)
            })?;
            for variant in found {
                in_shop
                    .entry(variant.sku.clone())
                    .or_default()
                    .push(variant);
            }
        }
        for product in &products {
            let record = format!("product {}", product.code);
            let linked = store
                .link_by_entity(t, kinds::PRODUCT, &self.ctx.to, &product.code)
                .await
                .map_err(|e| store_failure("looking up product links", e))?;
            if linked.is_some() {
                report.already_linked += 1;
                continue;
            }
            if let Some(variant) = product
                .variants
                .iter()
                .find(|v| owners.get(&v.sku).is_some_and(|o| o.len() > 1))
            {
                report.ambiguous.push(Ambiguity {
                    record,
                    candidates: owners[&variant.sku].clone(),
                    why: format!(
                        "SKU {} belongs to several products in `{}`",
                        variant.sku, self.ctx.from
                    ),
                });
                continue;
            }
            if let Some(variant) = product
                .variants
                .iter()
                .find(|v| in_shop.get(&v.sku).is_some_and(|r| r.len() > 1))
            {
                report.ambiguous.push(Ambiguity {
                    record,
                    candidates: in_shop[&variant.sku]
                        .iter()
                        .map(|r| r.product_id.clone())
                        .collect(),
                    why: format!(
                        "SKU {} appears more than once in `{}`",
                        variant.sku, self.ctx.to
                    ),
                });
                continue;
            }
            let found: Vec<&kontor_connector::VariantRef> = product
                .variants
                .iter()
                .filter_map(|v| in_shop.get(&v.sku).and_then(|r| r.first()))
                .collect();
            let shop_products: BTreeSet<&str> =
                found.iter().map(|r| r.product_id.as_str()).collect();
            match shop_products.len() {
                0 => report.only_in_source.push(record),
                1 => {
                    let product_id = found[0].product_id.clone();
                    let missing: Vec<&str> = product
                        .variants
                        .iter()
                        .filter(|v| !in_shop.contains_key(&v.sku))
                        .map(|v| v.sku.as_str())
                        .collect();
                    report.links.push(Link::new(
                        t,
                        kinds::PRODUCT,
                        &self.ctx.to,
                        &product_id,
                        &product.code,
                    ));
                    for variant in &found {
                        report.links.push(Link::new(
                            t,
                            kinds::VARIANT,
                            &self.ctx.to,
                            &variant.variant_id,
                            &variant.sku,
                        ));
                    }
                    report.matched.push(BindMatch {
                        record,
                        target: product_id,
                        note: (!missing.is_empty()).then(|| {
                            format!(
                                "variants only in `{}`: {}",
                                self.ctx.from,
                                missing.join(", ")
                            )
                        }),
                    });
                }
                _ => report.ambiguous.push(Ambiguity {
                    record,
                    candidates: shop_products.iter().map(|p| (*p).to_owned()).collect(),
                    why: format!(
                        "its variants are spread over several products in `{}`",
                        self.ctx.to
                    ),
                }),
            }
        }
        if let Some(listing) = &self.shop_listing {
            for product in all_products(listing, &self.ctx.to).await? {
                if !product.variants.iter().any(|v| owners.contains_key(&v.sku)) {
                    report
                        .only_in_target
                        .push(format!("product {}", product.code));
                }
            }
        }
        Ok(Some(report))
    }

    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError> {
        crate::rewind_cursor(store, &self.ctx, start, |at| self.erp.cursor_at(at)).await
    }
}
