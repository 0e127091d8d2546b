//! The catalogue delta: an ERP with N variants (ten per product) synced to a shop, then
//! 1 % of the variants changed and synced again. Reported: wall time, the shop API calls
//! made against the fewest the shop's batch limit allows for that change, and peak
//! memory as the catalogue grows.
//!
//! The ERP generates its products from their numbers and the shop keeps only counts, so
//! neither holds the catalogue in this process: the memory measured is Kontor's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kontor_connector::{
    CatalogueSink, CatalogueSource, Changes, Connector, ConnectorError, ItemResults, ProductUpsert,
    ProductWritten, VariantRef,
};
use kontor_engine::{JobState, Runner, RunnerConfig, Shutdown, Store, StoreOptions, SystemClock};
use kontor_flows::{FlowConfig, Mappings, build_flows, handler_registry};
use kontor_model::{LocalizedText, Product, ProductStatus, Variant};

use crate::BenchError;
use crate::measure::{self, mebibytes};
use crate::report::{Measurement, Target};

pub const VARIANTS_PER_PRODUCT: usize = 10;
/// Products per call the shop accepts (WooCommerce's and the memory shop's limit).
pub const SHOP_BATCH: usize = 100;
/// One variant in this many is changed.
pub const CHANGE_ONE_IN: usize = 100;

/// An ERP whose catalogue is a function of the product number: products `0..count` in
/// order, then the changed ones again, each once at its latest change (as an ERP's
/// change feed reads).
#[derive(Debug)]
pub struct GeneratedErp {
    products: usize,
    /// Products changed since the first listing, ascending.
    changed: RwLock<Vec<usize>>,
}

impl GeneratedErp {
    pub fn new(variants: usize) -> Self {
        GeneratedErp {
            products: variants.div_ceil(VARIANTS_PER_PRODUCT),
            changed: RwLock::new(Vec::new()),
        }
    }

    pub fn products(&self) -> usize {
        self.products
    }

    fn changed(&self) -> std::sync::RwLockReadGuard<'_, Vec<usize>> {
        self.changed
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Renames one variant in every `CHANGE_ONE_IN`; returns how many products changed.
    pub fn change_one_percent(&self) -> usize {
        let variants = self.products * VARIANTS_PER_PRODUCT;
        let mut products: Vec<usize> = (0..variants)
            .step_by(CHANGE_ONE_IN)
            .map(|v| v / VARIANTS_PER_PRODUCT)
            .collect();
        products.dedup();
        let count = products.len();
        *self
            .changed
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = products;
        count
    }

    pub fn product(&self, number: usize) -> Product {
        let changed = self.changed().binary_search(&number).is_ok();
        let code = format!("P{number:07}");
        let variants = (0..VARIANTS_PER_PRODUCT)
            .map(|v| Variant {
                sku: format!("{code}-{v:02}"),
                ean: None,
                options: BTreeMap::from([("size".to_owned(), format!("{}", 36 + v))]),
                // The changed variant is the one a `CHANGE_ONE_IN` stride lands on.
                name: (changed
                    && (number * VARIANTS_PER_PRODUCT + v).is_multiple_of(CHANGE_ONE_IN))
                .then(|| LocalizedText::new("en", format!("{code} size {} (new)", 36 + v))),
                images: Vec::new(),
                weight_kg: None,
            })
            .collect();
        Product {
            code: code.clone(),
            name: LocalizedText::new("en", format!("Trail shoe {number}")),
            description: LocalizedText::new("en", "Light, grippy, made to last."),
            categories: vec![vec!["Shoes".to_owned(), "Running".to_owned()]],
            tags: Vec::new(),
            attributes: BTreeMap::new(),
            options: vec!["size".to_owned()],
            images: Vec::new(),
            attachments: Vec::new(),
            variants,
            tax_rate: None,
            status: ProductStatus::Active,
            updated_at: None,
        }
    }

    /// The product at change sequence `seq` (from 1), if any; `None` past the end.
    fn at(&self, seq: usize, changed: &[usize]) -> Option<Option<usize>> {
        if seq <= self.products {
            let number = seq - 1;
            // A changed product is read at its latest change, not here.
            Some((changed.binary_search(&number).is_err()).then_some(number))
        } else {
            changed.get(seq - self.products - 1).map(|&n| Some(n))
        }
    }
}

#[async_trait]
impl CatalogueSource for GeneratedErp {
    async fn products_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Product>, ConnectorError> {
        let mut seq = cursor.and_then(|c| c.parse::<usize>().ok()).unwrap_or(0);
        let changed = self.changed().clone();
        let mut items = Vec::with_capacity(limit);
        while items.len() < limit {
            match self.at(seq + 1, &changed) {
                None => break,
                Some(number) => {
                    seq += 1;
                    if let Some(number) = number {
                        items.push(number);
                    }
                }
            }
        }
        let more = self.at(seq + 1, &changed).is_some();
        Ok(Changes {
            cursor: (!items.is_empty() || seq > 0).then(|| seq.to_string()),
            items: items.into_iter().map(|n| self.product(n)).collect(),
            more,
        })
    }

    async fn find_variants(&self, _skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError> {
        Ok(Vec::new())
    }

    async fn get_product(&self, code: &str) -> Result<Product, ConnectorError> {
        code.strip_prefix('P')
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n < self.products)
            .map(|n| self.product(n))
            .ok_or_else(|| ConnectorError::NotFound {
                what: format!("product {code}"),
            })
    }
}

/// A shop that takes products in batches of `SHOP_BATCH`, gives them ids, and counts
/// calls; it keeps nothing else.
#[derive(Debug, Default)]
pub struct CountingShop {
    calls: AtomicU64,
    products: AtomicU64,
}

impl CountingShop {
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub fn products_written(&self) -> u64 {
        self.products.load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
        self.products.store(0, Ordering::Relaxed);
    }
}

#[async_trait]
impl CatalogueSink for CountingShop {
    async fn find_variants(&self, _skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(Vec::new())
    }

    async fn upsert_products(
        &self,
        products: &[ProductUpsert],
    ) -> Result<ItemResults<ProductWritten>, ConnectorError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if products.len() > SHOP_BATCH {
            return Err(ConnectorError::rejected(format!(
                "a batch takes at most {SHOP_BATCH} products, got {}",
                products.len()
            )));
        }
        self.products
            .fetch_add(products.len() as u64, Ordering::Relaxed);
        Ok(products
            .iter()
            .map(|upsert| {
                let product_id = format!("sp-{}", upsert.product.code);
                Ok(ProductWritten {
                    code: upsert.product.code.clone(),
                    variants: upsert
                        .product
                        .variants
                        .iter()
                        .map(|v| VariantRef {
                            sku: v.sku.clone(),
                            product_id: product_id.clone(),
                            variant_id: format!("sv-{}", v.sku),
                        })
                        .collect(),
                    created: upsert.product_id.is_none(),
                    product_id,
                })
            })
            .collect())
    }

    async fn archive_products(&self, ids: &[String]) -> Result<ItemResults<()>, ConnectorError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(ids.iter().map(|_| Ok(())).collect())
    }

    fn batch_size(&self) -> usize {
        SHOP_BATCH
    }
}

struct ErpConnection(Arc<GeneratedErp>);
struct ShopConnection(Arc<CountingShop>);

#[async_trait]
impl Connector for ErpConnection {
    fn kind(&self) -> &'static str {
        "generated"
    }
    fn catalogue_source(&self) -> Option<Arc<dyn CatalogueSource>> {
        Some(self.0.clone())
    }
    async fn check(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

#[async_trait]
impl Connector for ShopConnection {
    fn kind(&self) -> &'static str {
        "counting"
    }
    fn catalogue_sink(&self) -> Option<Arc<dyn CatalogueSink>> {
        Some(self.0.clone())
    }
    async fn check(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// One sync: its wall time, shop calls and peak memory.
#[derive(Debug, Clone, Copy)]
pub struct SyncRun {
    pub wall: Duration,
    pub calls: u64,
    pub products_written: u64,
    pub peak_rss: u64,
}

#[derive(Debug, Clone)]
pub struct CatalogueResult {
    pub variants: usize,
    pub changed_products: usize,
    pub first: SyncRun,
    pub delta: SyncRun,
    /// The same change read and sent by a plain loop, no Kontor.
    pub floor_wall: Duration,
}

impl CatalogueResult {
    /// Fewest calls the shop allows for the change: the changed products in full batches.
    pub fn minimum_calls(&self) -> u64 {
        self.changed_products.div_ceil(SHOP_BATCH) as u64
    }

    pub fn measurements(&self, smallest_peak_rss: Option<u64>) -> Vec<Measurement> {
        let case = format!("{} variants", thousands(self.variants));
        let mut out = vec![
            Measurement::new(
                "catalogue",
                &case,
                "first sync, wall time",
                "s",
                self.first.wall.as_secs_f64(),
            ),
            Measurement::new(
                "catalogue",
                &case,
                "first sync, shop API calls",
                "calls",
                self.first.calls as f64,
            )
            .against(
                "fewest possible",
                self.variants
                    .div_ceil(VARIANTS_PER_PRODUCT)
                    .div_ceil(SHOP_BATCH) as f64,
            ),
            Measurement::new(
                "catalogue",
                &case,
                "1 % delta, wall time",
                "ms",
                self.delta.wall.as_secs_f64() * 1000.0,
            )
            .against(
                "plain read-and-send loop",
                self.floor_wall.as_secs_f64() * 1000.0,
            ),
            Measurement::new(
                "catalogue",
                &case,
                "1 % delta, shop API calls",
                "calls",
                self.delta.calls as f64,
            )
            .against("fewest possible", self.minimum_calls() as f64)
            .target(Target::RatioAtMost(1.1)),
        ];
        let peak = self.first.peak_rss.max(self.delta.peak_rss);
        let mut rss = Measurement::new("catalogue", &case, "peak RSS", "MiB", mebibytes(peak));
        if let Some(smallest) = smallest_peak_rss {
            rss = rss.against("peak RSS at 10 000 variants", mebibytes(smallest));
        }
        if self.variants >= 1_000_000 {
            rss = rss.target(Target::AtMost(100.0));
        }
        out.push(rss);
        out
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

pub struct CatalogueDelta {
    pub variants: usize,
}

impl CatalogueDelta {
    pub fn new(variants: usize) -> Self {
        CatalogueDelta { variants }
    }

    pub async fn run(&self) -> Result<CatalogueResult, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| BenchError::io("making a directory", e))?;
        let url = format!("sqlite://{}", dir.path().join("kontor.db").display());
        let store = Store::open_with(StoreOptions::new(url), Arc::new(SystemClock)).await?;
        let erp = Arc::new(GeneratedErp::new(self.variants));
        let shop = Arc::new(CountingShop::default());
        let connections: BTreeMap<String, Arc<dyn Connector>> = BTreeMap::from([
            (
                "erp".to_owned(),
                Arc::new(ErpConnection(erp.clone())) as Arc<dyn Connector>,
            ),
            (
                "shop".to_owned(),
                Arc::new(ShopConnection(shop.clone())) as Arc<dyn Connector>,
            ),
        ]);
        let flow_config: FlowConfig =
            serde_json::from_value(serde_json::json!({ "from": "erp", "to": "shop" }))
                .map_err(|e| BenchError::Failed(format!("flow config: {e}")))?;
        let flows = build_flows(
            "bench",
            &BTreeMap::from([("catalogue".to_owned(), flow_config)]),
            &connections,
            Arc::new(Mappings::default()),
        )
        .map_err(|problems| BenchError::Failed(format!("building the flow: {problems:?}")))?;
        let flow = flows
            .first()
            .map(|b| b.flow.clone())
            .ok_or_else(|| BenchError::Failed("no catalogue flow was built".into()))?;
        let handlers = handler_registry(std::slice::from_ref(&flow));
        let runner = Runner::new(
            store.clone(),
            handlers,
            RunnerConfig {
                workers: 2,
                idle_poll: Duration::from_millis(20),
                ..RunnerConfig::default()
            },
        );
        let shutdown = Shutdown::new();
        let running = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { runner.run(shutdown).await }
        });

        let sync = |name: &'static str| {
            let (store, flow, shop) = (store.clone(), flow.clone(), shop.clone());
            async move {
                shop.reset();
                measure::reset_peak_rss();
                let started = Instant::now();
                let run_id = format!("{name}-{}", uuid::Uuid::now_v7());
                store
                    .enqueue(
                        flow.start_job()
                            .run_id(Some(run_id.clone()))
                            .dedupe_key(run_id.clone()),
                    )
                    .await?;
                settle(&store, &run_id).await?;
                Ok::<_, BenchError>(SyncRun {
                    wall: started.elapsed(),
                    calls: shop.calls(),
                    products_written: shop.products_written(),
                    peak_rss: measure::peak_rss(),
                })
            }
        };
        let first = sync("first").await;
        let changed_products = erp.change_one_percent();
        let delta = sync("delta").await;
        shutdown.cancel();
        let _ = running.await;
        let (first, delta) = (first?, delta?);

        if first.products_written != erp.products() as u64 {
            return Err(BenchError::Failed(format!(
                "the first sync wrote {} products of {}",
                first.products_written,
                erp.products()
            )));
        }
        if delta.products_written != changed_products as u64 {
            return Err(BenchError::Failed(format!(
                "the delta wrote {} products; {changed_products} had changed",
                delta.products_written
            )));
        }
        let floor_wall = floor(&erp, self.variants).await?;
        Ok(CatalogueResult {
            variants: self.variants,
            changed_products,
            first,
            delta,
            floor_wall,
        })
    }
}

/// The floor for the delta: read the changes from where the first listing ended and send
/// them in full batches, keeping nothing.
async fn floor(erp: &GeneratedErp, variants: usize) -> Result<Duration, BenchError> {
    let shop = CountingShop::default();
    let started = Instant::now();
    let mut cursor = Some(variants.div_ceil(VARIANTS_PER_PRODUCT).to_string());
    loop {
        let page = erp
            .products_changed(cursor.as_deref(), SHOP_BATCH)
            .await
            .map_err(|e| BenchError::Failed(format!("reading the ERP: {e}")))?;
        if page.items.is_empty() {
            break;
        }
        let upserts: Vec<ProductUpsert> = page
            .items
            .into_iter()
            .map(|product| ProductUpsert {
                product_id: Some(format!("sp-{}", product.code)),
                product,
            })
            .collect();
        shop.upsert_products(&upserts)
            .await
            .map_err(|e| BenchError::Failed(format!("sending: {e}")))?;
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    Ok(started.elapsed())
}

/// Waits until a run has no job pending or running, twice in a row; fails if any parked.
async fn settle(store: &Store, run_id: &str) -> Result<(), BenchError> {
    let mut quiet = 0;
    while quiet < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let counts = store.run_counts(run_id).await?;
        let of = |s: JobState| {
            counts
                .iter()
                .find(|(state, _)| *state == s)
                .map_or(0, |(_, n)| *n)
        };
        if of(JobState::Parked) > 0 {
            return Err(BenchError::Failed(format!(
                "{} catalogue jobs were parked",
                of(JobState::Parked)
            )));
        }
        quiet = if of(JobState::Pending) + of(JobState::Running) == 0 {
            quiet + 1
        } else {
            0
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kontor_model::Validate;

    use super::*;

    #[tokio::test]
    async fn the_generated_erp_reads_like_a_change_feed() {
        let erp = GeneratedErp::new(1_000);
        assert_eq!(erp.products(), 100);
        erp.product(7).validate().unwrap();
        let all = erp.products_changed(None, 60).await.unwrap();
        assert_eq!(all.items.len(), 60);
        assert!(all.more);
        let rest = erp
            .products_changed(all.cursor.as_deref(), 60)
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 40);
        assert!(!rest.more);
        let end = rest.cursor.clone();
        assert!(
            erp.products_changed(end.as_deref(), 60)
                .await
                .unwrap()
                .items
                .is_empty()
        );

        // One variant in a hundred: every tenth product, each read once more, changed.
        assert_eq!(erp.change_one_percent(), 10);
        let delta = erp.products_changed(end.as_deref(), 60).await.unwrap();
        assert_eq!(
            delta
                .items
                .iter()
                .map(|p| p.code.as_str())
                .take(3)
                .collect::<Vec<_>>(),
            vec!["P0000000", "P0000010", "P0000020"]
        );
        assert_eq!(delta.items.len(), 10);
        assert_ne!(delta.items[0], {
            let unchanged = GeneratedErp::new(1_000);
            unchanged.product(0)
        });
        // A full re-read shows each product once, the changed ones at the end.
        let mut everything = Vec::new();
        let mut cursor = None;
        loop {
            let page = erp.products_changed(cursor.as_deref(), 30).await.unwrap();
            everything.extend(page.items.into_iter().map(|p| p.code));
            cursor = page.cursor;
            if !page.more {
                break;
            }
        }
        assert_eq!(everything.len(), 100);
        assert_eq!(everything[90], "P0000000");
    }
}
