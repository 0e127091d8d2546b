#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! Nothing lost, nothing doubled: a `kontor run` process importing 2,000 orders from the
//! memory shop into the memory ERP is killed with SIGKILL at random moments, again and
//! again. After the last restart every order is in the ERP exactly once, and nothing is
//! parked. (The memory shop and ERP are journaled to files, so they outlive the process.)

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kontor_engine::{JobFilter, JobState, Store};
use support::{Workspace, text};

const ORDERS: usize = 2_000;

const CONFIG: &str = r#"
data_dir = "{dir}"

[store]
url = "sqlite://{dir}/kontor.db"

[server]
enabled = false

[runner]
workers = 8
lease = "2s"
idle_poll = "50ms"
shutdown_grace = "1s"

[runner.retry]
max_attempts = 100
initial_delay = "50ms"
max_delay = "500ms"

[tenants.acme.connections.shop]
type = "memory"
state_file = "shop.jsonl"
latency = "1ms"

[tenants.acme.connections.erp]
type = "memory"
state_file = "erp.jsonl"
latency = "2ms"

[tenants.acme.flows.orders]
from = "shop"
to = "erp"
every = "1s"
options = { page_size = 250 }
"#;

fn start(ws: &Workspace, log: &std::fs::File) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kontor"))
        .arg("--config")
        .arg(ws.config())
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log.try_clone().unwrap())
        .spawn()
        .unwrap()
}

/// Distinct shop orders in the ERP, and the most sales any one of them has.
fn progress(ws: &Workspace) -> (usize, usize) {
    let mut per_order: BTreeMap<String, usize> = BTreeMap::new();
    for sale in ws.erp().sales() {
        *per_order.entry(sale.reference).or_default() += 1;
    }
    (
        per_order.len(),
        per_order.values().copied().max().unwrap_or(0),
    )
}

#[test]
fn orders_survive_repeated_sigkill_exactly_once() {
    let ws = Workspace::new(CONFIG);
    let orders = ws.seed(ORDERS);
    let log = std::fs::File::create(ws.path("kontor.log")).unwrap();
    let mut rng = fastrand::Rng::with_seed(
        std::env::var("KONTOR_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(7),
    );

    // Kill it mid-work, over and over. The moment is chosen by progress, not by the
    // clock: however fast Kontor runs, each process is killed after it has imported a
    // random number of orders (and a random few milliseconds more), never after the end.
    let mut kills_mid_work = 0;
    for _ in 0..40 {
        let (before, _) = progress(&ws);
        let goal = (before + rng.usize(30..250)).min(ORDERS - 1);
        let mut child = start(&ws, &log);
        let deadline = Instant::now() + Duration::from_secs(20);
        while progress(&ws).0 < goal && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rng.u64(0..40)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (done, worst) = progress(&ws);
        assert!(worst <= 1, "an order reached the ERP twice after a kill");
        if done >= ORDERS {
            break;
        }
        kills_mid_work += 1;
    }
    assert!(
        kills_mid_work >= 5,
        "the test must kill the process while it works ({kills_mid_work} times)"
    );

    // The last restart finishes the work.
    let mut child = start(&ws, &log);
    let deadline = Instant::now() + Duration::from_secs(180);
    while progress(&ws).0 < ORDERS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let erp = ws.erp();
    let mut missing = Vec::new();
    for order in &orders {
        match erp.sales_for(&order.number).len() {
            1 => {}
            0 => missing.push(order.number.clone()),
            n => panic!("order {} is in the ERP {n} times", order.number),
        }
    }
    assert!(
        missing.is_empty(),
        "{} orders never reached the ERP (e.g. {:?}); log:\n{}",
        missing.len(),
        &missing[..missing.len().min(5)],
        text(&std::fs::read(ws.path("kontor.log")).unwrap_or_default())
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (parked, recovered) = runtime.block_on(async {
        let store = Store::open(&format!("sqlite://{}", ws.path("kontor.db").display()))
            .await
            .unwrap();
        let parked = store
            .list_jobs(&JobFilter {
                states: vec![JobState::Parked],
                ..Default::default()
            })
            .await
            .unwrap();
        // Imports that found the sale a killed process had created: the path that
        // makes a crash harmless. Reported, as how often it happens depends on timing.
        let mut recovered = 0;
        let mut before = None;
        loop {
            let page = store
                .list_jobs(&JobFilter {
                    states: vec![JobState::Succeeded],
                    kind: Some("orders.import".into()),
                    before_id: before,
                    limit: 1000,
                    ..Default::default()
                })
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            recovered += page
                .iter()
                .filter(|j| {
                    j.outcome
                        .as_deref()
                        .is_some_and(|o| o.contains("was already in"))
                })
                .count();
        }
        (parked, recovered)
    });
    assert!(
        parked.is_empty(),
        "nothing parked: {:?}",
        parked.iter().map(|j| j.last_error()).collect::<Vec<_>>()
    );
    eprintln!(
        "{kills_mid_work} kills while working; {recovered} imports found the sale a killed process had created"
    );
}
