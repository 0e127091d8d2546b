//! What every flow offers the engine and the CLI.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_engine::{Effects, HandlerRegistry, JobContext, JobError, JobHandler, NewJob, Store};
use serde::{Deserialize, Serialize};

use crate::config::FlowKind;

/// Who a flow is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowContext {
    pub tenant: String,
    pub name: String,
    pub kind: FlowKind,
    /// Source connection.
    pub from: String,
    /// Target connection.
    pub to: String,
}

impl FlowContext {
    /// The job kind of one of this flow's steps, e.g. `orders.import`.
    pub fn step(&self, step: &str) -> String {
        format!("{}.{step}", self.kind)
    }
}

/// Every step's payload names its flow, so one handler per job kind can serve all tenants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FlowRef {
    pub flow: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannedAction {
    Create,
    Update,
    Unchanged,
    /// Would be parked for a person, with the reason in `detail`.
    Park,
    /// Would wait (e.g. for payment).
    Wait,
}

/// One change a run would make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChange {
    /// What it is about, e.g. `order #1001` or `product TSH`.
    pub entity: String,
    pub action: PlannedAction,
    pub detail: String,
}

/// What a dry run found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub changes: Vec<PlannedChange>,
    /// More changes wait beyond what was planned.
    pub more: bool,
}

/// Something changed in a connected system: what a verified webhook or an event says.
/// It only names the record; the flow reads the record itself (webhooks can be late,
/// repeated or out of order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The connection the change happened in.
    pub connection: String,
    /// What changed: `order`, `product`, `stock`, …
    pub entity: String,
    /// Its id in that system (for stock: the SKU).
    pub external_id: String,
}

/// Where a backfill starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStart {
    /// Everything, from the beginning.
    Beginning,
    /// Changes from this time on.
    Since(DateTime<Utc>),
    /// A source-specific position (an id or a cursor value).
    Cursor(String),
}

#[async_trait]
pub trait Flow: Send + Sync {
    fn context(&self) -> &FlowContext;

    /// The job that starts one run: what a schedule, a webhook or `kontor sync` enqueues.
    fn start_job(&self) -> NewJob;

    /// The jobs a change should start — the same jobs a poll would enqueue for it, so
    /// that a webhook and a poll seeing one change do the work once.
    fn jobs_for(&self, change: &Change) -> Vec<NewJob>;

    /// This flow's steps: job kind → handler.
    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)>;

    /// What a run would change, reading from the systems but writing nothing.
    async fn plan(&self, store: &Store, limit: usize) -> Result<Plan, JobError>;

    /// Moves the flow's cursor so the next run starts at `start` (a backfill).
    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError>;

    /// Go-live binding: how records already on both sides match up, and the links that
    /// would bind them. Writes nothing. `None` for flows with nothing to bind.
    async fn bind(&self, store: &Store) -> Result<Option<crate::golive::BindReport>, JobError> {
        let _ = store;
        Ok(None)
    }
}

/// Routes a job to the flow named in its payload, within the job's tenant.
struct Dispatch {
    kind: String,
    steps: HashMap<(String, String), Arc<dyn JobHandler>>,
}

#[async_trait]
impl JobHandler for Dispatch {
    async fn run(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let flow: FlowRef =
            serde_json::from_value(ctx.job.payload.clone()).map_err(crate::error::bad_payload)?;
        match self.steps.get(&(ctx.job.tenant.clone(), flow.flow.clone())) {
            Some(step) => step.run(ctx).await,
            None => Err(JobError::needs_human(
                "flow_not_configured",
                format!(
                    "tenant `{}` has no enabled flow `{}` with a `{}` step; was it removed from the configuration?",
                    ctx.job.tenant, flow.flow, self.kind
                ),
            )),
        }
    }
}

/// The handlers for all steps of all these flows, one per job kind.
pub fn handler_registry(flows: &[Arc<dyn Flow>]) -> HandlerRegistry {
    let mut by_kind: HashMap<String, Dispatch> = HashMap::new();
    for flow in flows {
        let ctx = flow.context().clone();
        for (kind, handler) in flow.clone().steps() {
            by_kind
                .entry(kind.clone())
                .or_insert_with(|| Dispatch {
                    kind: kind.clone(),
                    steps: HashMap::new(),
                })
                .steps
                .insert((ctx.tenant.clone(), ctx.name.clone()), handler);
        }
    }
    let mut registry = HandlerRegistry::default();
    for (kind, dispatch) in by_kind {
        registry.register(kind, Arc::new(dispatch));
    }
    registry
}

/// Declares a job handler that runs one method of a flow: `step!(PollOrders, OrdersFlow, poll);`
macro_rules! step {
    ($handler:ident, $flow:ty, $method:ident) => {
        pub(crate) struct $handler(pub(crate) std::sync::Arc<$flow>);

        #[async_trait::async_trait]
        impl kontor_engine::JobHandler for $handler {
            async fn run(
                &self,
                ctx: &kontor_engine::JobContext,
            ) -> Result<kontor_engine::Effects, kontor_engine::JobError> {
                self.0.$method(ctx).await
            }
        }
    };
}
pub(crate) use step;
