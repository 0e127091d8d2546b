#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! The store and queue behaviour every backend must have. Each test runs on SQLite and
//! on PostgreSQL.

mod support;

use std::time::Duration;

use kontor_engine::{
    Clock, Cursor, Effects, EnqueueOutcome, EntityRecord, FailureOutcome, JobError, JobFilter,
    JobState, Link, MatchKey, NewJob, NewSubmission, Schedule, ScheduledFlow, Scheduler,
    StoreError, Submitted,
};
use serde_json::json;
use support::TestStore;

const LEASE: Duration = Duration::from_secs(30);

fn job(kind: &str) -> NewJob {
    NewJob::new("acme", kind, json!({"n": 1}))
}

async fn enqueue_dedupes_only_while_waiting(t: TestStore) {
    let s = &t.store;
    let first = s
        .enqueue(job("orders.import").dedupe_key("order:1"))
        .await
        .unwrap();
    let second = s
        .enqueue(job("orders.import").dedupe_key("order:1"))
        .await
        .unwrap();
    assert!(matches!(first, EnqueueOutcome::Created(_)));
    assert_eq!(second, EnqueueOutcome::Deduplicated(first.job_id()));
    // Other tenants have their own keys.
    let other = s
        .enqueue(NewJob::new("globex", "orders.import", json!({})).dedupe_key("order:1"))
        .await
        .unwrap();
    assert!(matches!(other, EnqueueOutcome::Created(_)));

    // Once it runs, a new event must enqueue a new job: the running one may have read
    // the record before the change.
    let leases = s.claim("w", 10, LEASE).await.unwrap();
    assert_eq!(leases.len(), 2);
    let third = s
        .enqueue(job("orders.import").dedupe_key("order:1"))
        .await
        .unwrap();
    assert!(matches!(third, EnqueueOutcome::Created(id) if id != first.job_id()));
}

async fn claims_follow_priority_then_due_time(t: TestStore) {
    let s = &t.store;
    let low = s.enqueue(job("a")).await.unwrap().job_id();
    let high = s.enqueue(job("b").priority(5)).await.unwrap().job_id();
    let later = s
        .enqueue(job("c").priority(9).run_at(t.clock.now_plus(60)))
        .await
        .unwrap()
        .job_id();
    let leases = s.claim("w", 10, LEASE).await.unwrap();
    let ids: Vec<_> = leases.iter().map(|l| l.job.id).collect();
    assert_eq!(ids, vec![high, low], "future job must wait; priority first");
    t.clock.advance(Duration::from_secs(61));
    let leases = s.claim("w", 10, LEASE).await.unwrap();
    assert_eq!(
        leases.iter().map(|l| l.job.id).collect::<Vec<_>>(),
        vec![later]
    );
    assert_eq!(leases[0].job.attempts, 1);
}

async fn one_ordering_key_runs_one_job_at_a_time_in_order(t: TestStore) {
    let s = &t.store;
    let a = s
        .enqueue(job("import").ordering_key("order:7"))
        .await
        .unwrap()
        .job_id();
    let b = s
        .enqueue(job("payment").ordering_key("order:7"))
        .await
        .unwrap()
        .job_id();
    let c = s
        .enqueue(job("other").ordering_key("order:8"))
        .await
        .unwrap()
        .job_id();
    let leases = s.claim("w", 10, LEASE).await.unwrap();
    let ids: Vec<_> = leases.iter().map(|l| l.job.id).collect();
    assert_eq!(ids, vec![a, c]);
    assert!(
        s.claim("w", 10, LEASE).await.unwrap().is_empty(),
        "b waits for a"
    );
    s.complete(&leases[0], Effects::none()).await.unwrap();
    let next = s.claim("w", 10, LEASE).await.unwrap();
    assert_eq!(next.iter().map(|l| l.job.id).collect::<Vec<_>>(), vec![b]);
}

async fn a_parked_job_holds_back_its_ordering_key_until_skipped(t: TestStore) {
    let s = &t.store;
    let a = s
        .enqueue(job("import").ordering_key("order:1"))
        .await
        .unwrap()
        .job_id();
    let b = s
        .enqueue(job("payment").ordering_key("order:1"))
        .await
        .unwrap()
        .job_id();
    let lease = s.claim("w", 10, LEASE).await.unwrap().remove(0);
    let outcome = s
        .fail(
            &lease,
            &JobError::needs_human("unknown_sku", "SKU X-1 is not in the ERP"),
        )
        .await
        .unwrap();
    assert_eq!(outcome, FailureOutcome::Parked);
    assert!(
        s.claim("w", 10, LEASE).await.unwrap().is_empty(),
        "payment must not overtake the parked order"
    );
    let skipped = s
        .skip_job(a, None, "order cancelled by the customer")
        .await
        .unwrap();
    assert_eq!(skipped.state, JobState::Skipped);
    let next = s.claim("w", 10, LEASE).await.unwrap();
    assert_eq!(next[0].job.id, b);
}

async fn transient_failures_retry_with_backoff_then_park_with_the_error_chain(t: TestStore) {
    let s = &t.store;
    let id = s
        .enqueue(job("import").max_attempts(2))
        .await
        .unwrap()
        .job_id();
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
    let error = JobError::transient("erp_unavailable", "the ERP did not answer").caused_by(&io);
    let FailureOutcome::Retrying { at } = s.fail(&lease, &error).await.unwrap() else {
        panic!("a transient failure with attempts left must retry");
    };
    let delay = at - t.clock.now();
    assert!(
        delay >= chrono::Duration::milliseconds(500) && delay <= chrono::Duration::seconds(1),
        "{delay}"
    );
    assert!(
        s.claim("w", 1, LEASE).await.unwrap().is_empty(),
        "not before the backoff"
    );
    t.clock.advance(Duration::from_secs(2));
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    assert_eq!(lease.job.attempts, 2);
    assert_eq!(
        s.fail(&lease, &error).await.unwrap(),
        FailureOutcome::Parked
    );

    let parked = s.get_job(id, Some("acme")).await.unwrap().unwrap();
    assert_eq!(parked.state, JobState::Parked);
    assert_eq!(
        parked.payload,
        json!({"n": 1}),
        "payload kept for the operator"
    );
    assert_eq!(parked.errors.len(), 2);
    let last = parked.last_error().unwrap();
    assert_eq!(last.code, "erp_unavailable");
    assert_eq!(last.chain, vec!["connection refused".to_owned()]);
    let listed = s
        .list_jobs(&JobFilter {
            states: vec![JobState::Parked],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|j| j.id).collect::<Vec<_>>(), vec![id]);
}

async fn retry_after_is_honoured_and_does_not_use_an_attempt(t: TestStore) {
    let s = &t.store;
    s.enqueue(job("push").max_attempts(1)).await.unwrap();
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    let throttled = JobError::transient("rate_limited", "429 Too Many Requests")
        .with_retry_after(Some(Duration::from_secs(20)));
    let FailureOutcome::Retrying { at } = s.fail(&lease, &throttled).await.unwrap() else {
        panic!("throttling must never park a job");
    };
    let wait = at - t.clock.now();
    assert!(
        wait >= chrono::Duration::seconds(20) && wait <= chrono::Duration::seconds(22),
        "{wait}"
    );
    t.clock.advance(Duration::from_secs(25));
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    assert_eq!(
        lease.job.attempts, 1,
        "the throttled attempt was not counted"
    );
}

async fn permanent_failures_park_at_once(t: TestStore) {
    let s = &t.store;
    s.enqueue(job("import")).await.unwrap();
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    let error = JobError::permanent("invalid_order", "lines[0].quantity: must be positive")
        .with_details(json!({"field": "lines[0].quantity"}));
    assert_eq!(
        s.fail(&lease, &error).await.unwrap(),
        FailureOutcome::Parked
    );
    let job = s.get_job(lease.job.id, None).await.unwrap().unwrap();
    assert_eq!(
        job.last_error().unwrap().details,
        Some(json!({"field": "lines[0].quantity"}))
    );
}

async fn operator_can_retry_and_edit_a_parked_job(t: TestStore) {
    let s = &t.store;
    let id = s
        .enqueue(job("import").max_attempts(1))
        .await
        .unwrap()
        .job_id();
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    s.fail(&lease, &JobError::transient("timeout", "timed out"))
        .await
        .unwrap();
    let retried = s
        .edit_and_retry_job(id, Some("acme"), json!({"n": 2}))
        .await
        .unwrap();
    assert_eq!((retried.state, retried.attempts), (JobState::Pending, 0));
    assert_eq!(retried.payload, json!({"n": 2}));
    assert_eq!(retried.original_payload, Some(json!({"n": 1})));
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    assert_eq!(lease.job.payload, json!({"n": 2}));

    // Only parked jobs can be retried, and only within their tenant.
    let err = s.retry_job(id, None).await.unwrap_err();
    assert!(matches!(err, StoreError::WrongJobState { .. }), "{err}");
    s.complete(&lease, Effects::none()).await.unwrap();
    let err = s.retry_job(id, Some("globex")).await.unwrap_err();
    assert!(matches!(err, StoreError::JobNotFound { .. }), "{err}");
}

async fn an_expired_lease_returns_the_job_and_fences_the_old_worker(t: TestStore) {
    let s = &t.store;
    let id = s.enqueue(job("import")).await.unwrap().job_id();
    let stale = s.claim("crashed-worker", 1, LEASE).await.unwrap().remove(0);
    t.clock.advance(LEASE + Duration::from_secs(1));
    t.clock.advance(Duration::from_secs(2)); // past the lease-expiry retry backoff
    let mut fresh = Vec::new();
    for _ in 0..3 {
        fresh = s.claim("w2", 1, LEASE).await.unwrap();
        if !fresh.is_empty() {
            break;
        }
        t.clock.advance(Duration::from_secs(1));
    }
    assert_eq!(fresh.len(), 1, "the crashed worker's job comes back");
    assert_eq!(fresh[0].job.id, id);
    let err = s.complete(&stale, Effects::none()).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");
    s.complete(&fresh[0], Effects::none()).await.unwrap();
    let done = s.get_job(id, None).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.last_error().unwrap().code, "lease_expired");
}

async fn heartbeats_keep_a_long_job_leased(t: TestStore) {
    let s = &t.store;
    s.enqueue(job("import")).await.unwrap();
    let mut lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    for _ in 0..4 {
        t.clock.advance(Duration::from_secs(20));
        s.heartbeat(&mut lease, LEASE).await.unwrap();
        assert!(s.claim("other", 1, LEASE).await.unwrap().is_empty());
    }
    s.complete(&lease, Effects::none()).await.unwrap();
}

async fn completion_commits_links_entities_cursors_and_follow_ups_together(t: TestStore) {
    let s = &t.store;
    s.enqueue(job("orders.poll").run_id(Some("run-1".into())))
        .await
        .unwrap();
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    let effects = Effects::none()
        .link(Link::new("acme", "order", "erp", "SO-1", "ord-1").with_hash("h1"))
        .entity(
            EntityRecord::new("acme", "order", "ord-1", json!({"number": "#1"}))
                .key(MatchKey::number("#1")),
        )
        .cursor(Cursor::new(
            "acme",
            "orders",
            "shop",
            "2026-11-23T12:00:00Z",
        ))
        .enqueue(job("orders.import").dedupe_key("order:1"))
        .outcome("1 order found");
    s.complete(&lease, effects).await.unwrap();

    let link = s
        .link_by_external("acme", "order", "erp", "SO-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (link.entity_id.as_str(), link.sent_hash.as_deref()),
        ("ord-1", Some("h1"))
    );
    assert_eq!(
        s.find_entities("acme", "order", &MatchKey::number("#1"))
            .await
            .unwrap(),
        vec!["ord-1"]
    );
    assert_eq!(
        s.cursor("acme", "orders", "shop")
            .await
            .unwrap()
            .unwrap()
            .value,
        "2026-11-23T12:00:00Z"
    );
    let follow_up = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    assert_eq!(
        follow_up.job.run_id.as_deref(),
        Some("run-1"),
        "follow-ups inherit the run"
    );
    let done = s.get_job(lease.job.id, None).await.unwrap().unwrap();
    assert_eq!(done.outcome.as_deref(), Some("1 order found"));
}

async fn a_link_conflict_rolls_back_the_whole_completion(t: TestStore) {
    let s = &t.store;
    s.upsert_link(&Link::new("acme", "order", "erp", "SO-1", "ord-1"))
        .await
        .unwrap();
    s.enqueue(job("import")).await.unwrap();
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    let effects = Effects::none()
        .cursor(Cursor::new("acme", "orders", "shop", "should-not-stick"))
        .link(Link::new("acme", "order", "erp", "SO-1", "ord-2"));
    let err = s.complete(&lease, effects).await.unwrap_err();
    assert!(matches!(err, StoreError::ExternalAlreadyLinked(_)), "{err}");
    assert!(
        s.cursor("acme", "orders", "shop").await.unwrap().is_none(),
        "nothing committed"
    );
    assert_eq!(
        s.get_job(lease.job.id, None).await.unwrap().unwrap().state,
        JobState::Running
    );
}

async fn links_are_unique_both_ways(t: TestStore) {
    let s = &t.store;
    s.upsert_link(&Link::new("acme", "variant", "shop", "gid://1", "sku-1").with_hash("a"))
        .await
        .unwrap();
    // Refreshing the hash of the same binding is fine; no hash keeps the old one.
    s.upsert_link(&Link::new("acme", "variant", "shop", "gid://1", "sku-1").with_hash("b"))
        .await
        .unwrap();
    s.upsert_link(&Link::new("acme", "variant", "shop", "gid://1", "sku-1"))
        .await
        .unwrap();
    let link = s
        .link_by_entity("acme", "variant", "shop", "sku-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.sent_hash.as_deref(), Some("b"));
    // The entity already has a record in this system: a second one would be a duplicate.
    let err = s
        .upsert_link(&Link::new("acme", "variant", "shop", "gid://2", "sku-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EntityAlreadyLinked(_)), "{err}");
    // The same entity in another system is the point of links.
    s.upsert_link(&Link::new("acme", "variant", "erp", "42", "sku-1"))
        .await
        .unwrap();
    let all = s.links_of_entity("acme", "variant", "sku-1").await.unwrap();
    assert_eq!(
        all.iter().map(|l| l.system.as_str()).collect::<Vec<_>>(),
        vec!["erp", "shop"]
    );
    // Found from either record, in one look.
    let alongside = s
        .links_alongside("acme", "variant", "shop", "gid://1")
        .await
        .unwrap();
    assert_eq!(alongside, all);
    assert!(
        s.links_alongside("acme", "variant", "shop", "gid://9")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.unlink("acme", "variant", "shop", "gid://1")
            .await
            .unwrap()
    );
    s.upsert_link(&Link::new("acme", "variant", "shop", "gid://2", "sku-1"))
        .await
        .unwrap();
}

async fn entities_are_found_by_sku_email_and_vat_id(t: TestStore) {
    let s = &t.store;
    let customer = EntityRecord::new("acme", "customer", "c-1", json!({"name": "ACME"}))
        .key(MatchKey::email("buyer@acme.pl"))
        .key(MatchKey::vat_id("PL5260001246"));
    s.upsert_entity(&customer).await.unwrap();
    s.upsert_entity(
        &EntityRecord::new("acme", "customer", "c-2", json!({}))
            .key(MatchKey::email("buyer@acme.pl")),
    )
    .await
    .unwrap();
    s.upsert_entity(
        &EntityRecord::new("acme", "variant", "v-1", json!({})).key(MatchKey::sku("TSHIRT-M")),
    )
    .await
    .unwrap();
    assert_eq!(
        s.find_entities("acme", "customer", &MatchKey::vat_id("PL5260001246"))
            .await
            .unwrap(),
        vec!["c-1"]
    );
    assert_eq!(
        s.find_entities("acme", "customer", &MatchKey::email("buyer@acme.pl"))
            .await
            .unwrap(),
        vec!["c-1", "c-2"],
        "two matches: ambiguous, the caller decides"
    );
    assert_eq!(
        s.find_entities("acme", "variant", &MatchKey::sku("TSHIRT-M"))
            .await
            .unwrap(),
        vec!["v-1"]
    );
    assert!(
        s.find_entities("globex", "variant", &MatchKey::sku("TSHIRT-M"))
            .await
            .unwrap()
            .is_empty()
    );
    // Rewriting an entity replaces its keys.
    s.upsert_entity(
        &EntityRecord::new("acme", "customer", "c-1", json!({}))
            .key(MatchKey::email("new@acme.pl")),
    )
    .await
    .unwrap();
    assert!(
        s.find_entities("acme", "customer", &MatchKey::vat_id("PL5260001246"))
            .await
            .unwrap()
            .is_empty()
    );
    let stored = s
        .get_entity("acme", "customer", "c-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.keys, vec![MatchKey::email("new@acme.pl")]);
}

async fn cursors_resume_and_can_be_reset_for_backfill(t: TestStore) {
    let s = &t.store;
    assert!(s.cursor("acme", "orders", "shop").await.unwrap().is_none());
    s.set_cursor(&Cursor::new("acme", "orders", "shop", "100"))
        .await
        .unwrap();
    s.set_cursor(&Cursor::new("acme", "orders", "shop", "250"))
        .await
        .unwrap();
    s.set_cursor(&Cursor::new("acme", "stock", "erp", "x"))
        .await
        .unwrap();
    assert_eq!(
        s.cursor("acme", "orders", "shop")
            .await
            .unwrap()
            .unwrap()
            .value,
        "250"
    );
    let reopened = t.reopen().await;
    assert_eq!(
        reopened
            .cursor("acme", "orders", "shop")
            .await
            .unwrap()
            .unwrap()
            .value,
        "250"
    );
    s.reset_cursor("acme", "orders", "shop").await.unwrap();
    assert!(s.cursor("acme", "orders", "shop").await.unwrap().is_none());
    assert_eq!(s.list_cursors(Some("acme")).await.unwrap().len(), 1);
}

async fn a_failed_job_with_a_waiting_twin_is_superseded(t: TestStore) {
    let s = &t.store;
    s.enqueue(job("import").dedupe_key("order:1"))
        .await
        .unwrap();
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    let twin = s
        .enqueue(job("import").dedupe_key("order:1"))
        .await
        .unwrap()
        .job_id();
    let outcome = s
        .fail(&lease, &JobError::transient("timeout", "timed out"))
        .await
        .unwrap();
    assert_eq!(outcome, FailureOutcome::Superseded { by: twin });
    let counts = s.queue_counts(true).await.unwrap();
    let waiting: i64 = counts
        .iter()
        .filter(|c| c.state == JobState::Pending)
        .map(|c| c.count)
        .sum();
    assert_eq!(waiting, 1, "one job left to do the work");
}

async fn two_processes_fire_each_schedule_tick_once(t: TestStore) {
    let other_process = t.reopen().await;
    let flows = vec![ScheduledFlow {
        tenant: "acme".into(),
        flow: "orders".into(),
        schedule: Schedule::every(Duration::from_secs(30)).unwrap(),
        job: NewJob::new("acme", "orders.poll", json!({})),
    }];
    let a = Scheduler::new(t.store.clone(), flows.clone());
    let b = Scheduler::new(other_process, flows);
    assert_eq!(
        a.tick().await.unwrap() + b.tick().await.unwrap(),
        1,
        "fires at start, once"
    );
    assert_eq!(a.tick().await.unwrap() + b.tick().await.unwrap(), 0);
    t.clock.advance(Duration::from_secs(31));
    assert_eq!(b.tick().await.unwrap() + a.tick().await.unwrap(), 1);
    // The first poll is still waiting, so the second joined it.
    let pending = t
        .store
        .list_jobs(&JobFilter {
            states: vec![JobState::Pending],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
}

async fn cron_schedules_wait_for_their_time(t: TestStore) {
    let flows = vec![ScheduledFlow {
        tenant: "acme".into(),
        flow: "nightly".into(),
        schedule: Schedule::cron("0 2 * * *").unwrap(),
        job: NewJob::new("acme", "catalogue.full", json!({})),
    }];
    let scheduler = Scheduler::new(t.store.clone(), flows);
    assert_eq!(scheduler.tick().await.unwrap(), 0, "12:00 is not 02:00");
    t.clock.advance(Duration::from_secs(14 * 3600 + 1));
    assert_eq!(scheduler.tick().await.unwrap(), 1);
}

async fn tenant_configs_are_revisioned(t: TestStore) {
    let s = &t.store;
    let r1 = s
        .put_tenant_config("acme", &json!({"flows": {}}), None)
        .await
        .unwrap();
    assert_eq!(
        s.put_tenant_config("acme", &json!({"flows": {}}), None)
            .await
            .unwrap(),
        r1,
        "no-op"
    );
    let r2 = s
        .put_tenant_config("acme", &json!({"flows": {"orders": {}}}), Some(r1))
        .await
        .unwrap();
    assert_eq!(r2, r1 + 1);
    let err = s
        .put_tenant_config("acme", &json!({}), Some(r1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::RevisionConflict { .. }), "{err}");
    assert_eq!(s.tenant_configs().await.unwrap()[0].revision, r2);
    assert!(s.delete_tenant_config("acme").await.unwrap());
}

async fn api_keys_are_kept_hashed_per_tenant_and_revoked_for_good(t: TestStore) {
    let s = &t.store;
    let new = |id: &'static str, tenant: &'static str| kontor_engine::NewApiKey {
        id,
        secret_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        tenant,
        role: "shop",
        name: "the web shop",
    };
    s.create_api_key(&new("k1", "acme")).await.unwrap();
    s.create_api_key(&new("k2", "beta")).await.unwrap();
    assert!(
        s.create_api_key(&new("k1", "beta")).await.is_err(),
        "ids are unique"
    );
    let (record, hash) = s.live_api_key("k1").await.unwrap().unwrap();
    assert_eq!(
        (record.tenant.as_str(), record.role.as_str()),
        ("acme", "shop")
    );
    assert_eq!(hash.len(), 64);
    let ids =
        |keys: Vec<kontor_engine::ApiKeyRecord>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(ids(s.api_keys(Some("acme")).await.unwrap()), ["k1"]);
    assert_eq!(s.api_keys(None).await.unwrap().len(), 2);
    assert!(
        !s.revoke_api_key("k1", "beta").await.unwrap(),
        "not beta's key"
    );
    assert!(s.revoke_api_key("k1", "acme").await.unwrap());
    assert!(!s.revoke_api_key("k1", "acme").await.unwrap(), "once");
    assert!(s.live_api_key("k1").await.unwrap().is_none());
    assert!(
        s.api_keys(Some("acme")).await.unwrap()[0]
            .revoked_at
            .is_some()
    );
}

async fn named_locks_exclude_others_until_released_or_expired(t: TestStore) {
    let other = t.reopen().await;
    let wait = Duration::from_millis(50);
    let held = t
        .store
        .lock("customer:acme:jan@example.com", LEASE, wait)
        .await
        .unwrap()
        .unwrap();
    assert!(
        other
            .lock("customer:acme:jan@example.com", LEASE, wait)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        other
            .lock("customer:acme:ola@example.com", LEASE, wait)
            .await
            .unwrap()
            .is_some()
    );
    t.store.unlock(held).await.unwrap();
    let again = other
        .lock("customer:acme:jan@example.com", LEASE, wait)
        .await
        .unwrap();
    assert!(again.is_some());
    // A holder that died: its lock expires.
    t.clock.advance(LEASE + Duration::from_secs(1));
    assert!(
        t.store
            .lock("customer:acme:jan@example.com", LEASE, wait)
            .await
            .unwrap()
            .is_some()
    );
}

/// A lock a job takes is held until the job ends and is free the moment its completion
/// or failure is recorded — not when its lease would have lapsed. (The orders flow
/// relies on this instead of unlocking.)
async fn a_jobs_lock_is_free_once_the_job_completes_or_fails(t: TestStore) {
    let wait = Duration::from_millis(50);
    let other = |name: &'static str| {
        let store = t.store.clone();
        async move { store.lock(name, LEASE, wait).await.unwrap().is_some() }
    };
    t.store.enqueue(job("import")).await.unwrap();
    t.store.enqueue(job("import")).await.unwrap();
    let mut leases = t.store.claim("w", 2, LEASE).await.unwrap();
    let (first, second) = (leases.remove(0), leases.remove(0));
    let ctx = kontor_engine::JobContext::new(&first, t.store.clone());
    assert!(ctx.lock("customer:a", wait).await.unwrap().is_some());
    let ctx = kontor_engine::JobContext::new(&second, t.store.clone());
    assert!(ctx.lock("customer:b", wait).await.unwrap().is_some());
    assert!(!other("customer:a").await, "held while the job runs");

    t.store.complete(&first, Effects::none()).await.unwrap();
    assert!(other("customer:a").await, "released with the completion");

    assert!(!other("customer:b").await);
    t.store
        .fail(
            &second,
            &JobError::transient("erp_down", "the ERP did not answer"),
        )
        .await
        .unwrap();
    assert!(other("customer:b").await, "released with the failure");
}

async fn a_lock_held_by_a_job_is_free_once_its_lease_lapses(t: TestStore) {
    let wait = Duration::from_millis(50);
    t.store.enqueue(job("import")).await.unwrap();
    let mut lease = t.store.claim("w", 1, LEASE).await.unwrap().remove(0);
    let ctx = kontor_engine::JobContext::new(&lease, t.store.clone());
    assert!(ctx.lock("customer:x", wait).await.unwrap().is_some());
    // While the job renews its lease, nobody else gets the lock.
    t.clock.advance(Duration::from_secs(20));
    t.store.heartbeat(&mut lease, LEASE).await.unwrap();
    t.clock.advance(Duration::from_secs(20));
    assert!(
        t.store
            .lock("customer:x", LEASE, wait)
            .await
            .unwrap()
            .is_none()
    );
    // Its process dies: once the lease lapses the lock is free, long before any TTL.
    t.clock.advance(LEASE + Duration::from_secs(1));
    assert!(
        t.store
            .lock("customer:x", LEASE, wait)
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_waiting_job_is_retried_and_parks_with_its_reason_if_the_wait_runs_out(t: TestStore) {
    let s = &t.store;
    let id = s
        .enqueue(job("payments.record").max_attempts(2))
        .await
        .unwrap()
        .job_id();
    let waiting = JobError::waiting("order_not_imported", "order #1 is not in the ERP yet");
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    assert!(matches!(
        s.fail(&lease, &waiting).await.unwrap(),
        FailureOutcome::Retrying { .. }
    ));
    t.clock.advance(Duration::from_secs(5));
    let lease = s.claim("w", 1, LEASE).await.unwrap().remove(0);
    assert_eq!(lease.job.attempts, 2, "waiting counts attempts");
    assert_eq!(
        s.fail(&lease, &waiting).await.unwrap(),
        FailureOutcome::Parked
    );
    let parked = s.get_job(id, None).await.unwrap().unwrap();
    assert_eq!(
        parked.last_error().unwrap().class,
        kontor_engine::ErrorClass::Waiting
    );
}

async fn entities_are_searched_by_key_id_and_external_id(t: TestStore) {
    let s = &t.store;
    s.upsert_entity(
        &EntityRecord::new("acme", "order", "ord-1", json!({ "number": "W-77" }))
            .key(MatchKey::number("W-77")),
    )
    .await
    .unwrap();
    s.upsert_link(&Link::new("acme", "order", "erp", "SO-9", "ord-1"))
        .await
        .unwrap();
    let found =
        |text: &'static str| async move { s.search_entities("acme", text, 10).await.unwrap() };
    let one = vec![("order".to_owned(), "ord-1".to_owned())];
    assert_eq!(found("W-77").await, one, "by its number");
    assert_eq!(found("SO-9").await, one, "by its id in the ERP");
    assert_eq!(found("ord-1").await, one, "by its own id");
    assert!(found("W-78").await.is_empty());
    assert!(
        s.search_entities("globex", "W-77", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The console's views of the queue: jobs found by flow and by text; each flow's work;
/// activity over time; parked jobs grouped by reason and retried together.
async fn the_console_finds_counts_groups_and_retries_jobs(t: TestStore) {
    let s = &t.store;
    let flow_job = |kind: &str, order: &str| {
        NewJob::new("acme", kind, json!({ "flow": "orders", "order_id": order }))
            .dedupe_key(format!("{kind}:orders:{order}"))
            .max_attempts(1)
    };
    let a = s
        .enqueue(flow_job("orders.import", "A-100%_1"))
        .await
        .unwrap()
        .job_id();
    let b = s
        .enqueue(flow_job("orders.import", "B-200"))
        .await
        .unwrap()
        .job_id();
    let c = s
        .enqueue(flow_job("orders.import", "C-300"))
        .await
        .unwrap()
        .job_id();
    let poll = s
        .enqueue(NewJob::new(
            "acme",
            "orders.poll",
            json!({ "flow": "orders" }),
        ))
        .await
        .unwrap()
        .job_id();
    s.enqueue(NewJob::new(
        "globex",
        "orders.poll",
        json!({ "flow": "orders" }),
    ))
    .await
    .unwrap();
    let search = |text: &str| JobFilter {
        tenant: Some("acme".into()),
        search: Some(text.into()),
        ..Default::default()
    };
    let ids = |jobs: Vec<kontor_engine::Job>| jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_jobs(&search("b-200")).await.unwrap()),
        [b],
        "any case"
    );
    assert_eq!(
        ids(s.list_jobs(&search("100%_")).await.unwrap()),
        [a],
        "% and _ are taken literally"
    );
    assert!(s.list_jobs(&search("0%_2")).await.unwrap().is_empty());
    let by_flow = s
        .list_jobs(&JobFilter {
            tenant: Some("acme".into()),
            flow: Some("orders".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_flow.len(), 4);
    assert!(by_flow.iter().all(|j| j.flow.as_deref() == Some("orders")));

    // Two imports park with one reason, one with another; the polls succeed.
    let leases = s.claim("w", 10, LEASE).await.unwrap();
    assert_eq!(leases.len(), 5);
    for lease in &leases {
        if lease.job.tenant == "globex" {
            s.complete(lease, Effects::none()).await.unwrap();
            continue;
        }
        let error = match lease.job.id {
            id if id == a || id == b => {
                JobError::needs_human("unknown_sku", "SKU MUG-250 not found")
            }
            id if id == c => JobError::permanent("invalid_order", "order C-300 has no lines"),
            _ => {
                s.complete(
                    lease,
                    Effects::none().link(Link::new("acme", "order", "erp", "SO-1", "e-1")),
                )
                .await
                .unwrap();
                continue;
            }
        };
        s.fail(lease, &error).await.unwrap();
    }
    let since = t.clock.now() - chrono::Duration::hours(1);
    let flows = s.flow_activity("acme", since).await.unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(
        (flows[0].parked, flows[0].pending, flows[0].succeeded),
        (3, 0, 1)
    );
    assert_eq!(flows[0].last_success_at, Some(t.clock.now()));
    let slots = s
        .activity(
            "acme",
            "order",
            &["erp".into()],
            since,
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    assert_eq!(
        slots.len(),
        7,
        "an hour in 10-minute slots, the current one too"
    );
    assert_eq!(slots.iter().map(|s| s.created).sum::<i64>(), 1);
    assert_eq!(slots.iter().map(|s| s.errors).sum::<i64>(), 3);
    assert_eq!(slots.last().unwrap().errors, 3, "in the current slot");

    let groups = s.parked_groups("acme").await.unwrap();
    let summary: Vec<(&str, i64)> = groups.iter().map(|g| (g.code.as_str(), g.count)).collect();
    assert_eq!(summary, [("unknown_sku", 2), ("invalid_order", 1)]);
    assert_eq!(groups[0].latest_job_id, b);
    assert_eq!(groups[0].flow.as_deref(), Some("orders"));
    assert_eq!(
        s.retry_parked(
            "globex",
            &kontor_engine::ParkedSelection {
                code: Some("unknown_sku".into()),
                ..Default::default()
            }
        )
        .await
        .unwrap(),
        0,
        "only the tenant's own"
    );
    let revived = s
        .retry_parked(
            "acme",
            &kontor_engine::ParkedSelection {
                kind: Some("orders.import".into()),
                code: Some("unknown_sku".into()),
                ids: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(revived, 2);
    for id in [a, b] {
        let job = s.get_job(id, None).await.unwrap().unwrap();
        assert_eq!((job.state, job.attempts), (JobState::Pending, 0));
    }
    assert_eq!(
        s.get_job(c, None).await.unwrap().unwrap().state,
        JobState::Parked
    );
    let _ = poll;
}

/// Accounts keep a hash only; sessions are found by their cookie's hash until they
/// expire, and a changed password or a removed account ends them; an OIDC sign-in's
/// verifier is taken once, and only while fresh.
async fn accounts_sessions_and_sign_ins(t: TestStore) {
    let s = &t.store;
    assert!(
        s.put_user("anna", "hash-1", "viewer", &["acme".into()])
            .await
            .unwrap()
    );
    let (user, hash) = s.user_with_hash("anna").await.unwrap().unwrap();
    assert_eq!(
        (user.role.as_str(), user.tenants.clone(), hash.as_str()),
        ("viewer", vec!["acme".to_owned()], "hash-1")
    );
    let session = kontor_engine::SessionRecord {
        subject: "user:anna".into(),
        role: "viewer".into(),
        tenants: vec!["acme".into()],
        csrf_token: "csrf".into(),
        method: "password".into(),
        created_at: t.clock.now(),
        expires_at: t.clock.now() + chrono::Duration::hours(1),
    };
    s.create_session("cookie-hash", &session).await.unwrap();
    assert_eq!(
        s.live_session("cookie-hash").await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(s.live_session("other").await.unwrap(), None);
    t.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        s.live_session("cookie-hash").await.unwrap(),
        None,
        "expired"
    );
    let fresh = kontor_engine::SessionRecord {
        created_at: t.clock.now(),
        expires_at: t.clock.now() + chrono::Duration::hours(1),
        ..session
    };
    s.create_session("cookie-2", &fresh).await.unwrap();
    assert!(
        !s.put_user("anna", "hash-2", "viewer", &["acme".into()])
            .await
            .unwrap()
    );
    assert_eq!(
        s.live_session("cookie-2").await.unwrap(),
        None,
        "a new password ends sessions"
    );
    s.create_session("cookie-3", &fresh).await.unwrap();
    assert!(s.end_session("cookie-3").await.unwrap());
    assert!(!s.end_session("cookie-3").await.unwrap());
    assert!(s.delete_user("anna").await.unwrap());
    assert!(s.users().await.unwrap().is_empty());

    s.begin_oidc_login("state-1", "verifier-1", "/console/")
        .await
        .unwrap();
    s.begin_oidc_login("state-2", "verifier-2", "/console/")
        .await
        .unwrap();
    let within = Duration::from_secs(600);
    assert_eq!(
        s.take_oidc_login("state-1", within).await.unwrap(),
        Some(("verifier-1".into(), "/console/".into()))
    );
    assert_eq!(
        s.take_oidc_login("state-1", within).await.unwrap(),
        None,
        "once"
    );
    t.clock.advance(Duration::from_secs(601));
    assert_eq!(
        s.take_oidc_login("state-2", within).await.unwrap(),
        None,
        "too late"
    );
}

/// An order handed over through the API is stored with its import job, in one
/// transaction; a retry of the same submission stores and enqueues nothing more.
async fn a_submission_is_stored_with_its_import_once(t: TestStore) {
    let s = &t.store;
    let body = json!({"id": "o-1", "number": "1001"}).to_string();
    let new = NewSubmission {
        tenant: "acme",
        connection: "portal",
        order_id: "o-1",
        idempotency_key: "key-1",
        request_hash: "h1",
        body: &body,
    };
    let import = || vec![job("orders.import").dedupe_key("orders:o-1")];
    let first = s.submit_order(&new, import()).await.unwrap();
    assert!(matches!(first, Submitted::Accepted(_)), "{first:?}");
    let again = s.submit_order(&new, import()).await.unwrap();
    assert!(matches!(again, Submitted::Replayed(_)), "{again:?}");
    let other_key = NewSubmission {
        idempotency_key: "key-2",
        ..new.clone()
    };
    let twice = s.submit_order(&other_key, import()).await.unwrap();
    assert!(matches!(twice, Submitted::AlreadySubmitted(_)), "{twice:?}");
    let jobs = s
        .list_jobs(&JobFilter {
            kind: Some("orders.import".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let leases = s.claim("w", 10, LEASE).await.unwrap();
    assert_eq!(leases.len(), 1);
    // Once its import has run, a replay still enqueues nothing.
    s.complete(&leases[0], Effects::none()).await.unwrap();
    s.submit_order(&new, import()).await.unwrap();
    assert!(s.claim("w", 10, LEASE).await.unwrap().is_empty());
}

on_both_backends!(
    a_jobs_lock_is_free_once_the_job_completes_or_fails,
    a_submission_is_stored_with_its_import_once,
    entities_are_searched_by_key_id_and_external_id,
    the_console_finds_counts_groups_and_retries_jobs,
    accounts_sessions_and_sign_ins,
    a_waiting_job_is_retried_and_parks_with_its_reason_if_the_wait_runs_out,
    a_lock_held_by_a_job_is_free_once_its_lease_lapses,
    named_locks_exclude_others_until_released_or_expired,
    enqueue_dedupes_only_while_waiting,
    claims_follow_priority_then_due_time,
    one_ordering_key_runs_one_job_at_a_time_in_order,
    a_parked_job_holds_back_its_ordering_key_until_skipped,
    transient_failures_retry_with_backoff_then_park_with_the_error_chain,
    retry_after_is_honoured_and_does_not_use_an_attempt,
    permanent_failures_park_at_once,
    operator_can_retry_and_edit_a_parked_job,
    an_expired_lease_returns_the_job_and_fences_the_old_worker,
    heartbeats_keep_a_long_job_leased,
    completion_commits_links_entities_cursors_and_follow_ups_together,
    a_link_conflict_rolls_back_the_whole_completion,
    links_are_unique_both_ways,
    entities_are_found_by_sku_email_and_vat_id,
    cursors_resume_and_can_be_reset_for_backfill,
    a_failed_job_with_a_waiting_twin_is_superseded,
    two_processes_fire_each_schedule_tick_once,
    cron_schedules_wait_for_their_time,
    tenant_configs_are_revisioned,
    api_keys_are_kept_hashed_per_tenant_and_revoked_for_good,
);
