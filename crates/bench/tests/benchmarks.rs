//! Each benchmark, run small: what it measures must hold — every order in the ERP once,
//! the delta sent in the fewest calls, every stock change shown in the shop — or its
//! numbers mean nothing. Timings are not asserted here; `kontor-bench` reports them.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use kontor_bench::catalogue::CatalogueDelta;
use kontor_bench::client::LoadGenerator;
use kontor_bench::harness::Backend;
use kontor_bench::orders::OrderPath;
use kontor_bench::stock::StockPropagation;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_path_lands_every_order_once_through_kontor_and_the_floor() {
    let client = LoadGenerator::new(1).unwrap();
    let path = OrderPath {
        orders: 150,
        concurrency: 8,
        workers: 4,
        paced_for: Duration::from_millis(500),
    };
    // `run` fails if an order is missing, doubled or parked, on either side.
    let result = path.run(&Backend::Sqlite, &client).await.unwrap();
    assert_eq!(result.saturated.kontor.orders, 150);
    assert_eq!(result.saturated.floor.orders, 150);
    assert!(result.paced.kontor.orders >= 100);
    assert!(result.rate > 0.0);
    let measured = result.measurements();
    let throughput = measured.iter().find(|m| m.metric == "throughput").unwrap();
    assert!(throughput.value > 0.0 && throughput.ratio.is_some());
    assert!(
        measured
            .iter()
            .any(|m| m.metric.starts_with("p99 added latency") && m.target.is_some()),
        "the latency target is checked on SQLite"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_percent_catalogue_delta_is_sent_in_the_fewest_calls_the_shop_allows() {
    let result = CatalogueDelta::new(2_000).run().await.unwrap();
    assert_eq!(
        result.first.calls,
        result.first.products_written.div_ceil(100)
    );
    assert_eq!(result.first.products_written, 200, "every product once");
    assert_eq!(result.changed_products, 20);
    assert_eq!(result.delta.products_written, 20, "only what changed");
    assert_eq!(result.delta.calls, result.minimum_calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_changes_reach_the_shop_polled_and_on_events_and_events_are_sooner() {
    let result = StockPropagation { samples: 3 }.run().await.unwrap();
    assert_eq!(result.polled.len(), 3);
    assert_eq!(result.on_events.len(), 3);
    // An event starts the flow at once; a poll comes up to a second later.
    assert!(
        result.on_events.percentile(50.0) < result.polled.percentile(50.0),
        "events {:?}, polled {:?}",
        result.on_events.percentile(50.0),
        result.polled.percentile(50.0)
    );
}
