//! What the console's dashboard and error inbox show: each flow's work now and lately,
//! activity over time, and parked jobs grouped by why they stopped — and the bulk retry
//! an operator does once the reason is fixed.

use crate::error::StoreError;
use crate::store::{Store, params};
use crate::time::{from_micros, opt_from_micros, to_micros};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One flow's jobs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlowActivity {
    pub flow: String,
    pub pending: i64,
    pub running: i64,
    pub parked: i64,
    /// Jobs finished successfully since the time asked about.
    pub succeeded: i64,
    /// When the flow last finished a job successfully.
    pub last_success_at: Option<DateTime<Utc>>,
}

/// One slot of activity over time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivitySlot {
    pub at: DateTime<Utc>,
    /// Records newly linked in the systems asked about (orders that reached the ERP).
    pub created: i64,
    /// Jobs whose latest attempt in this slot failed. Waiting for another flow's work
    /// and being paced by a system's rate limit are routine, and do not count.
    pub errors: i64,
}

/// Parked jobs that stopped for the same reason.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParkedGroup {
    pub kind: String,
    pub flow: Option<String>,
    /// The error code all of them stopped with.
    pub code: String,
    pub count: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// The most recent of them, to show its message.
    pub latest_job_id: i64,
}

/// Which parked jobs a bulk retry revives.
#[derive(Debug, Clone, Default)]
pub struct ParkedSelection {
    pub kind: Option<String>,
    pub code: Option<String>,
    pub ids: Vec<i64>,
}

fn slot_of(micros: i64, slot: i64) -> i64 {
    micros.div_euclid(slot)
}

impl Store {
    /// Every flow of `tenant` that has jobs: what waits, runs and is parked now, and
    /// what succeeded since `since`.
    pub async fn flow_activity(
        &self,
        tenant: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<FlowActivity>, StoreError> {
        let (tenant, since) = (tenant.to_owned(), to_micros(since));
        self.read(move |sql| {
            let mut flows: std::collections::BTreeMap<String, FlowActivity> = Default::default();
            for row in sql.query(
                "SELECT flow, state, COUNT(*) AS n FROM jobs WHERE tenant = $1 AND flow IS NOT NULL \
                 AND state IN ('pending', 'running', 'parked') GROUP BY flow, state",
                params![tenant],
            )? {
                let flow: String = row.get("flow")?;
                let state: String = row.get("state")?;
                let n: i64 = row.get("n")?;
                let entry = flow_entry(&mut flows, flow);
                match state.as_str() {
                    "pending" => entry.pending = n,
                    "running" => entry.running = n,
                    _ => entry.parked = n,
                }
            }
            for row in sql.query(
                "SELECT flow, COUNT(*) AS n FROM jobs WHERE tenant = $1 AND flow IS NOT NULL \
                 AND state = 'succeeded' AND finished_at >= $2 GROUP BY flow",
                params![tenant, since],
            )? {
                flow_entry(&mut flows, row.get("flow")?).succeeded = row.get("n")?;
            }
            let known: Vec<String> = sql.scalars(
                "SELECT DISTINCT flow FROM jobs WHERE tenant = $1 AND flow IS NOT NULL",
                params![tenant],
            )?;
            for flow in known {
                // One flow at a time: the index answers each in a step, where grouping all
                // would walk every job the flow ever ran.
                let last: Option<i64> = sql
                    .scalar::<Option<i64>>(
                        "SELECT MAX(finished_at) FROM jobs WHERE tenant = $1 AND flow = $2 \
                         AND state = 'succeeded'",
                        params![tenant, flow],
                    )?
                    .flatten();
                flow_entry(&mut flows, flow).last_success_at = opt_from_micros(last);
            }
            Ok(flows.into_values().collect())
        })
        .await
    }

    /// Activity of `tenant` since `since`, in slots of `slot`: records of `kind` newly
    /// linked in `systems`, and jobs that failed. Every slot is there, empty ones too.
    pub async fn activity(
        &self,
        tenant: &str,
        kind: &str,
        systems: &[String],
        since: DateTime<Utc>,
        slot: std::time::Duration,
    ) -> Result<Vec<ActivitySlot>, StoreError> {
        let slot_us = i64::try_from(slot.as_micros()).unwrap_or(i64::MAX).max(1);
        let first = slot_of(to_micros(since), slot_us);
        let last = slot_of(to_micros(self.now()), slot_us);
        let count = usize::try_from(last - first + 1).unwrap_or(0).min(10_000);
        let mut slots: Vec<ActivitySlot> = (0..count)
            .map(|i| ActivitySlot {
                at: from_micros((first + i as i64) * slot_us),
                created: 0,
                errors: 0,
            })
            .collect();
        let (tenant, kind, systems) = (tenant.to_owned(), kind.to_owned(), systems.to_vec());
        let since = to_micros(since);
        // (slot start, count, created or failed)
        let counts: Vec<(i64, i64, bool)> = self
            .read(move |sql| {
                let mut counts = Vec::new();
                for system in &systems {
                    for row in sql.query(
                        "SELECT created_at / $4 AS slot, COUNT(*) AS n FROM links WHERE tenant = $1 \
                         AND kind = $2 AND system = $3 AND created_at >= $5 GROUP BY created_at / $4",
                        params![tenant, kind, system, slot_us, since],
                    )? {
                        counts.push((row.get::<i64>("slot")? * slot_us, row.get("n")?, true));
                    }
                }
                for row in sql.query(
                    "SELECT updated_at / $2 AS slot, COUNT(*) AS n FROM jobs WHERE tenant = $1 \
                     AND updated_at >= $3 AND error_code IS NOT NULL AND error_class <> 'waiting' \
                     AND error_code <> 'rate_limited' GROUP BY updated_at / $2",
                    params![tenant, slot_us, since],
                )? {
                    counts.push((row.get::<i64>("slot")? * slot_us, row.get("n")?, false));
                }
                Ok(counts)
            })
            .await?;
        for (micros, n, created) in counts {
            let index = slot_of(micros, slot_us) - first;
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| slots.get_mut(i)) {
                if created {
                    slot.created += n;
                } else {
                    slot.errors += n;
                }
            }
        }
        Ok(slots)
    }

    /// Parked jobs of `tenant` grouped by kind and error code, the largest group first.
    pub async fn parked_groups(&self, tenant: &str) -> Result<Vec<ParkedGroup>, StoreError> {
        let tenant = tenant.to_owned();
        self.read(move |sql| {
            sql.query(
                "SELECT kind, MAX(flow) AS flow, COALESCE(error_code, 'unknown') AS code, \
                 COUNT(*) AS n, MIN(updated_at) AS first_at, MAX(updated_at) AS last_at, \
                 MAX(id) AS latest FROM jobs WHERE tenant = $1 AND state = 'parked' \
                 GROUP BY kind, COALESCE(error_code, 'unknown') ORDER BY n DESC, kind, code",
                params![tenant],
            )?
            .iter()
            .map(|row| {
                Ok(ParkedGroup {
                    kind: row.get("kind")?,
                    flow: row.get("flow")?,
                    code: row.get("code")?,
                    count: row.get("n")?,
                    first_at: from_micros(row.get("first_at")?),
                    last_at: from_micros(row.get("last_at")?),
                    latest_job_id: row.get("latest")?,
                })
            })
            .collect()
        })
        .await
    }

    /// Operator: runs the parked jobs of `tenant` that `selection` names again, each
    /// with a fresh set of attempts. Returns how many.
    pub async fn retry_parked(
        &self,
        tenant: &str,
        selection: &ParkedSelection,
    ) -> Result<u64, StoreError> {
        use crate::store::sql::SqlBuilder;
        let now = to_micros(self.now());
        let mut q = SqlBuilder::new("UPDATE jobs SET state = 'pending', attempts = 0, run_at = ");
        q.push_bind(now)
            .push(", updated_at = ")
            .push_bind(now)
            .push(" WHERE state = 'parked' AND tenant = ")
            .push_bind(tenant);
        if let Some(kind) = &selection.kind {
            q.push(" AND kind = ").push_bind(kind);
        }
        if let Some(code) = &selection.code {
            q.push(" AND error_code = ").push_bind(code);
        }
        if !selection.ids.is_empty() {
            q.push(" AND id IN (");
            for (i, id) in selection.ids.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push_bind(*id);
            }
            q.push(")");
        }
        let built = q.build();
        let revived = self.write(move |sql| sql.execute_built(&built)).await?;
        if revived > 0 {
            self.wakeup().notify_waiters();
        }
        Ok(revived)
    }
}

fn flow_entry(
    flows: &mut std::collections::BTreeMap<String, FlowActivity>,
    flow: String,
) -> &mut FlowActivity {
    flows.entry(flow.clone()).or_insert_with(|| FlowActivity {
        flow,
        ..Default::default()
    })
}
