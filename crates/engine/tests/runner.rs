#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! The runner with real concurrency: several processes (separate pools on one
//! database), each with a pool of workers.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kontor_engine::{
    Effects, HandlerRegistry, JobContext, JobError, JobFilter, JobHandler, JobState, NewJob,
    RetryPolicy, Runner, RunnerConfig, Shutdown, Store, SystemClock,
};
use serde_json::json;

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    }
}

fn config(worker: &str) -> RunnerConfig {
    RunnerConfig {
        workers: 4,
        lease: Duration::from_secs(5),
        idle_poll: Duration::from_millis(20),
        shutdown_grace: Duration::from_millis(200),
        worker_id: worker.to_owned(),
    }
}

/// Records executions and fails the test if two jobs of one key ever overlap.
#[derive(Default)]
struct Recorder {
    in_flight: Mutex<HashMap<String, i64>>,
    runs: Mutex<HashMap<i64, u32>>,
    order: Mutex<HashMap<String, Vec<i64>>>,
}

#[async_trait]
impl JobHandler for Recorder {
    async fn run(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let key = ctx.job.ordering_key.clone();
        if let Some(key) = &key {
            let previous = self
                .in_flight
                .lock()
                .unwrap()
                .insert(key.clone(), ctx.job.id);
            assert!(
                previous.is_none(),
                "jobs {previous:?} and {} of key {key} overlap",
                ctx.job.id
            );
            self.order
                .lock()
                .unwrap()
                .entry(key.clone())
                .or_default()
                .push(ctx.job.id);
        }
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..4))).await;
        *self.runs.lock().unwrap().entry(ctx.job.id).or_default() += 1;
        if let Some(key) = &key {
            self.in_flight.lock().unwrap().remove(key);
        }
        Ok(Effects::none())
    }
}

async fn wait_until_done(store: &Store, expected: i64) {
    for _ in 0..1500 {
        let counts = store.queue_counts(true).await.unwrap();
        let done: i64 = counts
            .iter()
            .filter(|c| c.state == JobState::Succeeded)
            .map(|c| c.count)
            .sum();
        if done == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "jobs did not finish: {:?}",
        store.queue_counts(true).await.unwrap()
    );
}

async fn concurrent_processes_never_overlap_a_key_and_run_each_job_once(t: support::TestStore) {
    let recorder = Arc::new(Recorder::default());
    let mut handlers = HandlerRegistry::default();
    handlers.register("work", recorder.clone());
    let shutdown = Shutdown::new();
    let mut processes = Vec::new();
    for p in 0..3 {
        let store = t.reopen().await;
        let runner = Runner::new(store, handlers.clone(), config(&format!("process-{p}")));
        let shutdown = shutdown.clone();
        processes.push(tokio::spawn(async move { runner.run(shutdown).await }));
    }
    let mut total = 0;
    for i in 0..400 {
        let mut job = NewJob::new("acme", "work", json!({ "i": i }));
        if i % 4 != 0 {
            job = job.ordering_key(format!("order-{}", i % 15));
        }
        t.store.enqueue(job).await.unwrap();
        total += 1;
    }
    wait_until_done(&t.store, total).await;
    shutdown.cancel();
    for p in processes {
        p.await.unwrap();
    }
    let runs = recorder.runs.lock().unwrap();
    assert_eq!(runs.len() as i64, total);
    assert!(runs.values().all(|n| *n == 1), "a job ran more than once");
    for (key, order) in recorder.order.lock().unwrap().iter() {
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "key {key} ran out of order: {order:?}"
        );
    }
}

struct Flaky {
    calls: AtomicU32,
}

#[async_trait]
impl JobHandler for Flaky {
    async fn run(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        match ctx.job.kind.as_str() {
            "flaky" if self.calls.fetch_add(1, Ordering::SeqCst) == 0 => {
                Err(JobError::transient("erp_unavailable", "connection refused"))
            }
            "flaky" => Ok(Effects::none().outcome("worked the second time")),
            "bad" => Err(JobError::permanent(
                "invalid_order",
                "lines[0].quantity: must be positive",
            )),
            "boom" => panic!("index out of bounds"),
            _ => Ok(Effects::none()),
        }
    }
}

async fn failures_are_retried_parked_or_caught_by_class(t: support::TestStore) {
    let handler = Arc::new(Flaky {
        calls: AtomicU32::new(0),
    });
    let mut handlers = HandlerRegistry::default();
    for kind in ["flaky", "bad", "boom"] {
        handlers.register(kind, handler.clone());
    }
    let runner = Runner::new(t.store.clone(), handlers, config("w"));
    let shutdown = Shutdown::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { runner.run(shutdown).await }
    });
    let flaky = t
        .store
        .enqueue(NewJob::new("acme", "flaky", json!({})))
        .await
        .unwrap()
        .job_id();
    let bad = t
        .store
        .enqueue(NewJob::new("acme", "bad", json!({})))
        .await
        .unwrap()
        .job_id();
    let boom = t
        .store
        .enqueue(NewJob::new("acme", "boom", json!({})))
        .await
        .unwrap()
        .job_id();
    let orphan = t
        .store
        .enqueue(NewJob::new("acme", "no-such-kind", json!({})))
        .await
        .unwrap()
        .job_id();

    let mut settled = false;
    for _ in 0..300 {
        let open = t
            .store
            .list_jobs(&JobFilter {
                states: vec![JobState::Pending, JobState::Running],
                ..Default::default()
            })
            .await
            .unwrap();
        if open.is_empty() {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    running.await.unwrap();
    assert!(settled, "jobs kept running");

    let job = |id| {
        let store = t.store.clone();
        async move { store.get_job(id, None).await.unwrap().unwrap() }
    };
    let flaky = job(flaky).await;
    assert_eq!((flaky.state, flaky.attempts), (JobState::Succeeded, 2));
    assert_eq!(flaky.outcome.as_deref(), Some("worked the second time"));
    let bad = job(bad).await;
    assert_eq!(
        (bad.state, bad.attempts),
        (JobState::Parked, 1),
        "permanent: no retries"
    );
    let boom = job(boom).await;
    assert_eq!(
        boom.state,
        JobState::Parked,
        "a panic parks the job, the process lives"
    );
    assert_eq!(boom.last_error().unwrap().code, "handler_panicked");
    assert!(
        boom.last_error()
            .unwrap()
            .message
            .contains("index out of bounds")
    );
    let orphan = job(orphan).await;
    assert_eq!(
        (orphan.state, orphan.last_error().unwrap().code.as_str()),
        (JobState::Parked, "no_handler")
    );
}

struct Slow;

#[async_trait]
impl JobHandler for Slow {
    async fn run(&self, _ctx: &JobContext) -> Result<Effects, JobError> {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(Effects::none())
    }
}

async fn shutdown_gives_back_jobs_that_do_not_finish_in_time(t: support::TestStore) {
    let mut handlers = HandlerRegistry::default();
    handlers.register("slow", Arc::new(Slow));
    let runner = Runner::new(t.store.clone(), handlers, config("w"));
    let id = t
        .store
        .enqueue(NewJob::new("acme", "slow", json!({})))
        .await
        .unwrap()
        .job_id();
    let shutdown = Shutdown::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { runner.run(shutdown).await }
    });
    for _ in 0..100 {
        if t.store.get_job(id, None).await.unwrap().unwrap().state == JobState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("stops promptly")
        .unwrap();
    let job = t.store.get_job(id, None).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts),
        (JobState::Pending, 0),
        "given back, attempt not counted"
    );
}

mod sqlite {
    use super::*;

    async fn store() -> support::TestStore {
        support::sqlite_with(fast_retries(), Some(Arc::new(SystemClock))).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_processes_never_overlap_a_key_and_run_each_job_once() {
        super::concurrent_processes_never_overlap_a_key_and_run_each_job_once(store().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_are_retried_parked_or_caught_by_class() {
        super::failures_are_retried_parked_or_caught_by_class(store().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_gives_back_jobs_that_do_not_finish_in_time() {
        super::shutdown_gives_back_jobs_that_do_not_finish_in_time(store().await).await
    }
}

/// A job that writes (to an ERP, say) every 20 ms until it is stopped, the first time it
/// runs; the next run finishes at once. Records who wrote when.
struct Writer {
    writes: Mutex<Vec<(String, std::time::Instant)>>,
}

#[async_trait]
impl JobHandler for Writer {
    async fn run(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let me = ctx.job.worker.clone().unwrap_or_default();
        loop {
            self.writes
                .lock()
                .unwrap()
                .push((me.clone(), std::time::Instant::now()));
            if ctx.job.attempts > 1 {
                return Ok(Effects::none());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A worker cut off from the store (its database fails over mid-job) stops its handler
/// before its lease lapses, so the worker that takes the job next never runs beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_cannot_renew_its_lease_stops_before_another_takes_the_job() {
    let t = support::postgres_with(fast_retries(), Some(Arc::new(SystemClock))).await;
    let relay = support::CuttableRelay::start("127.0.0.1:5432").await;
    let mut cut_off = t.options.clone();
    cut_off.url = support::postgres_url_through(&t.options.url, relay.addr);
    let cut_off = Store::open_with(cut_off, Arc::new(SystemClock))
        .await
        .unwrap();

    let writer = Arc::new(Writer {
        writes: Mutex::new(Vec::new()),
    });
    let mut handlers = HandlerRegistry::default();
    handlers.register("write", writer.clone());
    let lease = RunnerConfig {
        workers: 1,
        lease: Duration::from_secs(3),
        ..config("first")
    };
    let first = tokio::spawn({
        let runner = Runner::new(cut_off, handlers.clone(), lease.clone());
        async move { runner.run(Shutdown::new()).await }
    });
    let id = t
        .store
        .enqueue(NewJob::new("acme", "write", json!({})))
        .await
        .unwrap()
        .job_id();
    for _ in 0..250 {
        if !writer.writes.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.cut();
    let cut_at = std::time::Instant::now();

    let shutdown = Shutdown::new();
    let second = tokio::spawn({
        let runner = Runner::new(
            t.store.clone(),
            handlers,
            RunnerConfig {
                worker_id: "second".into(),
                ..lease
            },
        );
        let shutdown = shutdown.clone();
        async move { runner.run(shutdown).await }
    });
    let mut done = false;
    for _ in 0..500 {
        let job = t.store.get_job(id, None).await.unwrap().unwrap();
        if job.state == JobState::Succeeded {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(done, "the second worker never finished the job");
    shutdown.cancel();
    second.await.unwrap();
    first.abort();

    let writes = writer.writes.lock().unwrap().clone();
    let last_of_first = writes
        .iter()
        .filter(|(who, _)| who == "first")
        .map(|(_, at)| *at)
        .max()
        .unwrap();
    let first_of_second = writes
        .iter()
        .filter(|(who, _)| who == "second")
        .map(|(_, at)| *at)
        .min()
        .unwrap();
    assert!(
        last_of_first < first_of_second,
        "the cut-off worker wrote {:?} after the other took the job",
        last_of_first - first_of_second
    );
    assert!(
        last_of_first - cut_at < Duration::from_secs(3),
        "the cut-off worker stopped only after its lease lapsed"
    );
}

mod postgres {
    use super::*;

    async fn store() -> support::TestStore {
        support::postgres_with(fast_retries(), Some(Arc::new(SystemClock))).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_processes_never_overlap_a_key_and_run_each_job_once() {
        super::concurrent_processes_never_overlap_a_key_and_run_each_job_once(store().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_are_retried_parked_or_caught_by_class() {
        super::failures_are_retried_parked_or_caught_by_class(store().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_gives_back_jobs_that_do_not_finish_in_time() {
        super::shutdown_gives_back_jobs_that_do_not_finish_in_time(store().await).await
    }
}
