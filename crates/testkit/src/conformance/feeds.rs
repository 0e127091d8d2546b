//! Incremental reads by cursor: orders from a shop, products from an ERP, and whatever
//! port reads changes next. The checks see a feed as keys, so one suite serves them all.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use kontor_connector::{CatalogueSource, Changes, ConnectorError, OrderSource};

/// An incremental read under test, reduced to the keys of what it reads.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// What the feed reads, for messages: `orders`, `products`.
    fn what(&self) -> &'static str;
    /// One page of changes after `cursor`.
    async fn read(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<String>, ConnectorError>;
    /// Reads one record by its key.
    async fn get(&self, key: &str) -> Result<(), ConnectorError>;
}

/// The system behind a feed, driven as its users drive it.
#[async_trait]
pub trait FeedSystem: Send + Sync {
    /// Makes a record the feed will report (places an order, adds a product) and
    /// returns its key as the feed reports it.
    async fn add(&self) -> String;
    /// Sets the record's change stamp to `at`: what a transaction that stamped it then
    /// and committed only now leaves behind.
    async fn restamp(&self, key: &str, at: DateTime<Utc>);
    /// How long after its stamp the connection reads a record (its poll lag): the
    /// lateness of a commit it promises to survive.
    fn lag(&self) -> Duration;
    /// A key no record of the system has.
    fn unknown_key(&self) -> String;
}

struct Orders(Arc<dyn OrderSource>);

#[async_trait]
impl ChangeFeed for Orders {
    fn what(&self) -> &'static str {
        "orders"
    }
    async fn read(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<String>, ConnectorError> {
        let page = self.0.orders_changed(cursor, limit).await?;
        Ok(Changes {
            items: page.items.into_iter().map(|o| o.id).collect(),
            cursor: page.cursor,
            more: page.more,
        })
    }
    async fn get(&self, key: &str) -> Result<(), ConnectorError> {
        self.0.get_order(key).await.map(drop)
    }
}

struct Products(Arc<dyn CatalogueSource>);

#[async_trait]
impl ChangeFeed for Products {
    fn what(&self) -> &'static str {
        "products"
    }
    async fn read(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<String>, ConnectorError> {
        let page = self.0.products_changed(cursor, limit).await?;
        Ok(Changes {
            items: page.items.into_iter().map(|p| p.code).collect(),
            cursor: page.cursor,
            more: page.more,
        })
    }
    async fn get(&self, key: &str) -> Result<(), ConnectorError> {
        self.0.get_product(key).await.map(drop)
    }
}

/// A shop's orders as a feed (keys: the ids `orders_changed` reports).
pub fn order_feed(source: Arc<dyn OrderSource>) -> impl ChangeFeed {
    Orders(source)
}

/// An ERP's catalogue as a feed (keys: product codes).
pub fn catalogue_feed(source: Arc<dyn CatalogueSource>) -> impl ChangeFeed {
    Products(source)
}

/// Records waiting longer than this past the lag fail the check.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs every feed check against `feed`, reading `system`.
pub async fn change_feed(feed: &dyn ChangeFeed, system: &dyn FeedSystem) {
    let start = caught_up(feed).await;
    let after_pages = every_record_once_across_pages(feed, system, start).await;
    let after_ties = a_tie_at_a_page_boundary_is_not_split(feed, system, after_pages).await;
    a_record_committed_late_is_not_skipped(feed, system, after_ties).await;
    records_are_read_by_key(feed, system).await;
}

/// The cursor at the end of what the feed has now.
async fn caught_up(feed: &dyn ChangeFeed) -> Option<String> {
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = feed
            .read(cursor.as_deref(), 100)
            .await
            .unwrap_or_else(|e| panic!("reading {} from the start: {e}", feed.what()));
        cursor = page.cursor.or(cursor);
        if !page.more {
            return cursor;
        }
    }
    panic!("{} never stopped saying more are waiting", feed.what());
}

/// How often each wanted key was read.
type Seen = BTreeMap<String, usize>;

fn none_yet(wanted: &[String]) -> Seen {
    wanted.iter().map(|k| (k.clone(), 0)).collect()
}

/// Reads from `cursor` in pages of `limit` until every key of `seen` was read (or
/// patience runs out), counting; returns the counts and the cursor reached.
async fn read_until(
    feed: &dyn ChangeFeed,
    system: &dyn FeedSystem,
    cursor: Option<String>,
    limit: usize,
    mut seen: Seen,
) -> (Seen, Option<String>) {
    let mut cursor = cursor;
    let deadline = Instant::now() + system.lag() + PATIENCE;
    loop {
        let page = feed
            .read(cursor.as_deref(), limit)
            .await
            .unwrap_or_else(|e| panic!("reading {}: {e}", feed.what()));
        for key in page.items {
            if let Some(count) = seen.get_mut(&key) {
                *count += 1;
            }
        }
        cursor = page.cursor.or(cursor);
        if page.more {
            continue;
        }
        if seen.values().all(|n| *n > 0) || Instant::now() >= deadline {
            return (seen, cursor);
        }
        // What is left is inside the lag: wait on the system's clock, which no test moves.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_each_once(feed: &dyn ChangeFeed, seen: &Seen, case: &str) {
    let wrong: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "{case}: each of the {} must be read exactly once; read (key, times): {wrong:?}",
        feed.what()
    );
}

async fn every_record_once_across_pages(
    feed: &dyn ChangeFeed,
    system: &dyn FeedSystem,
    cursor: Option<String>,
) -> Option<String> {
    let mut added = Vec::new();
    for _ in 0..5 {
        added.push(system.add().await);
    }
    let (seen, cursor) = read_until(feed, system, cursor, 2, none_yet(&added)).await;
    assert_each_once(feed, &seen, "five records read in pages of two");
    cursor
}

async fn a_tie_at_a_page_boundary_is_not_split(
    feed: &dyn ChangeFeed,
    system: &dyn FeedSystem,
    cursor: Option<String>,
) -> Option<String> {
    // Stamps of whole seconds tie often (WordPress, Shopify); a page of two ends
    // inside a tie of three.
    let mut added = Vec::new();
    for _ in 0..3 {
        added.push(system.add().await);
    }
    // Stamped back by less than a second: late by less than any lag.
    let at = Utc::now().trunc_subsecs(0);
    for key in &added {
        system.restamp(key, at).await;
    }
    let (seen, cursor) = read_until(feed, system, cursor, 2, none_yet(&added)).await;
    assert_each_once(
        feed,
        &seen,
        "three records of one stamp read in pages of two",
    );
    cursor
}

async fn a_record_committed_late_is_not_skipped(
    feed: &dyn ChangeFeed,
    system: &dyn FeedSystem,
    cursor: Option<String>,
) {
    // `early` is stamped before `later` but commits after `later` was (or could have
    // been) read: a slow transaction, late by less than the lag. A cursor that jumps to
    // the newest stamp it saw passes over it for good.
    // Each stamp is taken when it is set, so `early` is late by three quarters of the
    // lag however slow the machine: within what the connection promises.
    let later = system.add().await;
    system.restamp(&later, Utc::now() - system.lag() / 4).await;
    let page = feed
        .read(cursor.as_deref(), 100)
        .await
        .unwrap_or_else(|e| panic!("reading {}: {e}", feed.what()));
    let cursor = page.cursor.or(cursor);
    let early = system.add().await;
    system
        .restamp(&early, Utc::now() - system.lag() * 3 / 4)
        .await;
    let mut seen = none_yet(&[later.clone(), early]);
    for key in page.items {
        if let Some(count) = seen.get_mut(&key) {
            *count += 1;
        }
    }
    let (seen, _) = read_until(feed, system, cursor, 100, seen).await;
    assert_each_once(
        feed,
        &seen,
        "a record committed after a later-stamped one was read",
    );
}

async fn records_are_read_by_key(feed: &dyn ChangeFeed, system: &dyn FeedSystem) {
    let key = system.add().await;
    if let Err(e) = feed.get(&key).await {
        panic!("reading {} `{key}` by its key: {e}", feed.what());
    }
    match feed.get(&system.unknown_key()).await {
        Err(ConnectorError::NotFound { .. }) => {}
        other => panic!(
            "an unknown key among the {} must be NotFound, got {other:?}",
            feed.what()
        ),
    }
}
