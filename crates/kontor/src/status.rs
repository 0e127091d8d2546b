//! What Kontor is doing: tenants, flows with their cursors, and the queue.

use chrono::{DateTime, Utc};
use kontor_engine::{JobState, QueueCount};
use serde::Serialize;

use crate::app::App;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    pub store: String,
    pub tenants: Vec<TenantStatus>,
    pub queue: Vec<QueueCount>,
    pub pending: i64,
    pub running: i64,
    pub parked: i64,
    pub lag_seconds: f64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantStatus {
    pub tenant: String,
    pub revision: Option<i64>,
    /// Why the tenant is not running, if it is not.
    pub error: Option<String>,
    pub flows: Vec<FlowStatus>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FlowStatus {
    pub name: String,
    pub kind: String,
    pub from: String,
    pub to: String,
    pub schedule: Option<String>,
    pub cursor: Option<String>,
    pub cursor_updated_at: Option<DateTime<Utc>>,
}

impl App {
    pub async fn status(&self) -> Result<Status, kontor_engine::StoreError> {
        self.status_of(|_| true).await
    }

    /// Status of the tenants `shown` lets through (the API shows a caller its own).
    pub async fn status_of(
        &self,
        shown: impl Fn(&str) -> bool,
    ) -> Result<Status, kontor_engine::StoreError> {
        let mut queue = self.store.queue_counts(false).await?;
        queue.retain(|c| shown(&c.tenant));
        let count = |state: JobState| {
            queue
                .iter()
                .filter(|c| c.state == state)
                .map(|c| c.count)
                .sum()
        };
        let mut tenants = Vec::new();
        let now = self.tenants();
        for (id, live) in now.running.iter().filter(|(id, _)| shown(id)) {
            let mut flows = Vec::new();
            for built in &live.flows {
                let ctx = built.flow.context();
                let cursor = self.store.cursor(id, &ctx.name, &ctx.from).await?;
                let config = live.config.flows.get(&ctx.name);
                flows.push(FlowStatus {
                    name: ctx.name.clone(),
                    kind: ctx.kind.to_string(),
                    from: ctx.from.clone(),
                    to: ctx.to.clone(),
                    schedule: config.and_then(|c| {
                        c.every
                            .map(|e| format!("every {}", humantime::format_duration(e)))
                            .or_else(|| c.cron.clone())
                    }),
                    cursor_updated_at: cursor.as_ref().and_then(|c| c.updated_at),
                    cursor: cursor.map(|c| c.value),
                });
            }
            tenants.push(TenantStatus {
                tenant: id.clone(),
                revision: Some(live.revision),
                error: None,
                flows,
            });
        }
        for (id, broken) in now.broken.iter().filter(|(id, _)| shown(id)) {
            tenants.push(TenantStatus {
                tenant: id.clone(),
                revision: Some(broken.revision),
                error: Some(broken.error.clone()),
                flows: vec![],
            });
        }
        Ok(Status {
            store: self.store.backend().to_string(),
            pending: count(JobState::Pending),
            running: count(JobState::Running),
            parked: count(JobState::Parked),
            lag_seconds: self.store.queue_lag().await?.as_secs_f64(),
            queue,
            tenants,
        })
    }
}
