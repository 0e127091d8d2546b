#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! Property tests of the queue: under any interleaving of enqueue, lease, fail, succeed,
//! heartbeat, release, lease expiry and operator actions,
//! - no two jobs of one ordering key are running at once, and a running job has no
//!   unfinished job before it on its key;
//! - a dedupe key has at most one waiting job;
//! - a finished job never changes again, and no job is completed twice;
//! - jobs of one ordering key complete in enqueue order;
//! - after draining, every job enqueued has ended exactly once in a terminal state.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use kontor_engine::{
    Effects, EnqueueOutcome, Job, JobError, JobFilter, JobState, Lease, NewJob, Store, StoreError,
};
use proptest::prelude::*;
use serde_json::json;

const LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        key: Option<u8>,
        dedupe: Option<u8>,
        priority: i8,
    },
    Claim {
        worker: u8,
        n: u8,
    },
    Succeed(usize),
    FailTransient(usize),
    FailThrottled(usize),
    FailPermanent(usize),
    Heartbeat(usize),
    Release(usize),
    Advance(u16),
    OperatorRetry(usize),
    OperatorSkip(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (proptest::option::of(0u8..3), proptest::option::of(0u8..3), -1i8..=1)
            .prop_map(|(key, dedupe, priority)| Op::Enqueue { key, dedupe, priority }),
        3 => (0u8..3, 1u8..4).prop_map(|(worker, n)| Op::Claim { worker, n }),
        3 => any::<usize>().prop_map(Op::Succeed),
        1 => any::<usize>().prop_map(Op::FailTransient),
        1 => any::<usize>().prop_map(Op::FailThrottled),
        1 => any::<usize>().prop_map(Op::FailPermanent),
        1 => any::<usize>().prop_map(Op::Heartbeat),
        1 => any::<usize>().prop_map(Op::Release),
        2 => (0u16..90).prop_map(Op::Advance),
        1 => any::<usize>().prop_map(Op::OperatorRetry),
        1 => any::<usize>().prop_map(Op::OperatorSkip),
    ]
}

/// What the test has seen, to check the store against.
#[derive(Default)]
struct Model {
    created: HashSet<i64>,
    held: Vec<Lease>,
    completed: HashSet<i64>,
    /// Completion order of each ordering key.
    completions_by_key: HashMap<String, Vec<i64>>,
    finished: HashMap<i64, JobState>,
}

async fn all_jobs(store: &Store) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_jobs(&JobFilter {
                before_id: before,
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            return jobs;
        }
        before = page.last().map(|j| j.id);
        jobs.extend(page);
    }
}

fn take(held: &mut Vec<Lease>, pick: usize) -> Option<Lease> {
    if held.is_empty() {
        None
    } else {
        let i = pick % held.len();
        Some(held.swap_remove(i))
    }
}

async fn check_invariants(store: &Store, model: &mut Model) {
    let jobs = all_jobs(store).await;
    let ids: HashSet<i64> = jobs.iter().map(|j| j.id).collect();
    assert_eq!(
        ids, model.created,
        "every enqueued job exists, and no other"
    );

    let mut by_key: BTreeMap<&str, Vec<&Job>> = BTreeMap::new();
    for job in &jobs {
        if let Some(key) = &job.ordering_key {
            by_key.entry(key).or_default().push(job);
        }
        if let Some(previous) = model.finished.get(&job.id) {
            assert_eq!(
                *previous, job.state,
                "finished job {} changed state",
                job.id
            );
        }
        if job.state.is_terminal() {
            model.finished.insert(job.id, job.state);
        }
        if job.state == JobState::Succeeded {
            assert!(
                model.completed.contains(&job.id),
                "job {} succeeded without a completion",
                job.id
            );
        }
        if job.state == JobState::Pending {
            assert!(
                job.attempts < job.max_attempts,
                "pending job {} has no attempts left",
                job.id
            );
        }
    }
    for (key, mut jobs) in by_key {
        jobs.sort_by_key(|j| j.id);
        let running: Vec<_> = jobs
            .iter()
            .filter(|j| j.state == JobState::Running)
            .collect();
        assert!(
            running.len() <= 1,
            "two jobs of key {key} running at once: {running:?}"
        );
        if let Some(run) = running.first() {
            for earlier in jobs.iter().filter(|j| j.id < run.id) {
                assert!(
                    earlier.state.is_terminal(),
                    "job {} of key {key} runs before {} finished",
                    run.id,
                    earlier.id
                );
            }
        }
    }
    let mut waiting_per_dedupe: HashMap<&str, usize> = HashMap::new();
    for job in &jobs {
        if let (Some(key), JobState::Pending | JobState::Parked) = (&job.dedupe_key, job.state) {
            *waiting_per_dedupe.entry(key).or_default() += 1;
        }
    }
    assert!(
        waiting_per_dedupe.values().all(|n| *n <= 1),
        "two waiting jobs share a dedupe key"
    );
    for (key, order) in &model.completions_by_key {
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "key {key} completed out of order: {order:?}"
        );
    }
}

async fn succeed(store: &Store, model: &mut Model, lease: Lease) {
    match store.complete(&lease, Effects::none()).await {
        Ok(()) => {
            assert!(
                model.completed.insert(lease.job.id),
                "job {} completed twice",
                lease.job.id
            );
            if let Some(key) = &lease.job.ordering_key {
                model
                    .completions_by_key
                    .entry(key.clone())
                    .or_default()
                    .push(lease.job.id);
            }
        }
        Err(StoreError::LeaseLost { .. }) => {}
        Err(e) => panic!("complete failed: {e}"),
    }
}

async fn apply(store: &Store, t: &support::TestStore, model: &mut Model, op: Op) {
    match op {
        Op::Enqueue {
            key,
            dedupe,
            priority,
        } => {
            let mut job = NewJob::new("acme", "work", json!({}))
                .priority(i32::from(priority))
                .max_attempts(3);
            if let Some(k) = key {
                job = job.ordering_key(format!("key-{k}"));
            }
            if let Some(d) = dedupe {
                job = job.dedupe_key(format!("dedupe-{d}"));
            }
            match store.enqueue(job).await.unwrap() {
                EnqueueOutcome::Created(id) => assert!(model.created.insert(id)),
                EnqueueOutcome::Deduplicated(id) => {
                    let existing = store.get_job(id, None).await.unwrap().unwrap();
                    assert!(matches!(
                        existing.state,
                        JobState::Pending | JobState::Parked
                    ));
                }
            }
        }
        Op::Claim { worker, n } => {
            let leases = store
                .claim(&format!("w{worker}"), u32::from(n), LEASE)
                .await
                .unwrap();
            assert!(leases.len() <= usize::from(n));
            model.held.extend(leases);
        }
        Op::Succeed(pick) => {
            if let Some(lease) = take(&mut model.held, pick) {
                succeed(store, model, lease).await;
            }
        }
        Op::FailTransient(pick) | Op::FailThrottled(pick) | Op::FailPermanent(pick) => {
            if let Some(lease) = take(&mut model.held, pick) {
                let error = match op {
                    Op::FailTransient(_) => JobError::transient("timeout", "timed out"),
                    Op::FailThrottled(_) => JobError::transient("rate_limited", "429")
                        .with_retry_after(Some(Duration::from_secs(5))),
                    _ => JobError::permanent("bad_data", "invalid"),
                };
                match store.fail(&lease, &error).await {
                    Ok(_) | Err(StoreError::LeaseLost { .. }) => {}
                    Err(e) => panic!("fail failed: {e}"),
                }
            }
        }
        Op::Heartbeat(pick) => {
            if !model.held.is_empty() {
                let i = pick % model.held.len();
                match store.heartbeat(&mut model.held[i], LEASE).await {
                    Ok(()) => {}
                    Err(StoreError::LeaseLost { .. }) => {
                        model.held.swap_remove(i);
                    }
                    Err(e) => panic!("heartbeat failed: {e}"),
                }
            }
        }
        Op::Release(pick) => {
            if let Some(lease) = take(&mut model.held, pick) {
                store.release(&lease).await.unwrap();
            }
        }
        Op::Advance(secs) => t.clock.advance(Duration::from_secs(u64::from(secs))),
        Op::OperatorRetry(pick) | Op::OperatorSkip(pick) => {
            let parked = store
                .list_jobs(&JobFilter {
                    states: vec![JobState::Parked],
                    ..Default::default()
                })
                .await
                .unwrap();
            if !parked.is_empty() {
                let id = parked[pick % parked.len()].id;
                if matches!(op, Op::OperatorRetry(_)) {
                    store.retry_job(id, Some("acme")).await.unwrap();
                } else {
                    store.skip_job(id, Some("acme"), "operator").await.unwrap();
                }
            }
        }
    }
}

/// Works everything off: waits out backoffs and leases, succeeds what runs, skips what
/// is parked.
async fn drain(store: &Store, t: &support::TestStore, model: &mut Model) {
    for lease in std::mem::take(&mut model.held) {
        succeed(store, model, lease).await;
    }
    for _ in 0..500 {
        let open = all_jobs(store)
            .await
            .into_iter()
            .filter(|j| !j.state.is_terminal())
            .count();
        if open == 0 {
            return;
        }
        t.clock.advance(Duration::from_secs(3600));
        for lease in store.claim("drain", 100, LEASE).await.unwrap() {
            succeed(store, model, lease).await;
        }
        let parked = store
            .list_jobs(&JobFilter {
                states: vec![JobState::Parked],
                ..Default::default()
            })
            .await
            .unwrap();
        for job in parked {
            store.skip_job(job.id, None, "drain").await.unwrap();
        }
        check_invariants(store, model).await;
    }
    panic!("the queue did not drain");
}

async fn run_case(t: support::TestStore, ops: Vec<Op>) {
    let store = t.store.clone();
    let mut model = Model::default();
    for op in ops {
        apply(&store, &t, &mut model, op).await;
        check_invariants(&store, &mut model).await;
    }
    drain(&store, &t, &mut model).await;
    let jobs = all_jobs(&store).await;
    assert!(
        jobs.iter().all(|j| j.state.is_terminal()),
        "every job ended"
    );
    let succeeded: HashSet<i64> = jobs
        .iter()
        .filter(|j| j.state == JobState::Succeeded)
        .map(|j| j.id)
        .collect();
    assert_eq!(
        succeeded, model.completed,
        "exactly the completed jobs succeeded, each once"
    );
    store.close().await;
}

fn cases(default: u32) -> u32 {
    std::env::var("KONTOR_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), ..ProptestConfig::default() })]
    #[test]
    fn queue_invariants_hold_on_sqlite(ops in proptest::collection::vec(op(), 1..70)) {
        runtime().block_on(async { run_case(support::sqlite().await, ops).await });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48) / 3, ..ProptestConfig::default() })]
    #[test]
    fn queue_invariants_hold_on_postgres(ops in proptest::collection::vec(op(), 1..70)) {
        runtime().block_on(async { run_case(support::postgres().await, ops).await });
    }
}
