//! Kontor's business logic. Each flow is written once against the canonical model and the
//! connector ports, and works with any connection that has the capabilities it needs; a
//! flow knows no vendor.

pub mod catalogue;
pub mod config;
mod error;
pub mod flow;
pub mod orders;
pub mod stock;

use std::collections::BTreeMap;
use std::sync::Arc;

use kontor_connector::{Capabilities, Capability, Connector};
use kontor_engine::{JobError, Schedule, ScheduledFlow, Store};

pub use config::{ConfigProblem, FlowConfig, FlowKind, Mappings};
pub use flow::{
    Change, Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, handler_registry,
};

/// Entity kinds flows record links and snapshots under.
pub mod kinds {
    pub const ORDER: &str = "order";
    pub const CUSTOMER: &str = "customer";
    /// Keyed by the ERP's product code.
    pub const PRODUCT: &str = "product";
    /// Keyed by SKU.
    pub const VARIANT: &str = "variant";
    /// What was last sent to a shop location, keyed `SKU@location`.
    pub const STOCK: &str = "stock";
    /// The ERP's stock of one SKU in one warehouse, keyed `SKU@warehouse`.
    pub const STOCK_LEVEL: &str = "stock_level";
}

/// A new Kontor entity id: time-ordered, unique across processes.
pub(crate) fn new_entity_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The entity id for a record first known by its id in one system: the same for every
/// job that derives it, so concurrent jobs meeting the same new record agree on it.
pub(crate) fn entity_id_for(tenant: &str, kind: &str, system: &str, external_id: &str) -> String {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6b6f_6e74_6f72_4000_8000_656e_7469_7479);
    uuid::Uuid::new_v5(
        &NAMESPACE,
        format!("{tenant}/{kind}/{system}/{external_id}").as_bytes(),
    )
    .to_string()
}

/// What a kind of flow needs of its source (`from`) and target (`to`) connections.
pub fn needs(kind: FlowKind) -> (&'static [Capability], &'static [Capability]) {
    match kind {
        FlowKind::Catalogue => (&[Capability::CatalogueRead], &[Capability::CatalogueWrite]),
        FlowKind::Stock => (&[Capability::StockRead], &[Capability::StockWrite]),
        FlowKind::Orders => (
            &[Capability::OrderRead],
            &[
                Capability::SalesWrite,
                Capability::CustomerWrite,
                Capability::CatalogueRead,
            ],
        ),
    }
}

/// A connection as the configuration check sees it.
pub struct ConnectionInfo {
    pub kind: &'static str,
    pub capabilities: Capabilities,
}

fn schedule_of(name: &str, config: &FlowConfig) -> Result<Option<Schedule>, ConfigProblem> {
    match (config.every, &config.cron) {
        (Some(_), Some(_)) => Err(ConfigProblem::new(
            format!("flows.{name}.cron"),
            "give `every` or `cron`, not both",
        )),
        (Some(every), None) => Schedule::every(every)
            .map(Some)
            .map_err(|e| ConfigProblem::new(format!("flows.{name}.every"), e.to_string())),
        (None, Some(cron)) => Schedule::cron(cron)
            .map(Some)
            .map_err(|e| ConfigProblem::new(format!("flows.{name}.cron"), e.to_string())),
        (None, None) => Ok(None),
    }
}

fn check_options(name: &str, kind: FlowKind, config: &FlowConfig) -> Result<(), ConfigProblem> {
    match kind {
        FlowKind::Catalogue => config
            .options::<catalogue::CatalogueOptions>(name)
            .map(drop),
        FlowKind::Stock => config.options::<stock::StockOptions>(name).map(drop),
        FlowKind::Orders => config.options::<orders::OrdersOptions>(name).map(drop),
    }
}

/// Everything wrong with a tenant's flows that can be found without connecting: unknown
/// connections, capabilities a connection lacks, bad options and schedules.
pub fn check_flows(
    flows: &BTreeMap<String, FlowConfig>,
    connections: &BTreeMap<String, ConnectionInfo>,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let known = || {
        connections
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (name, config) in flows {
        let kind = match config.kind_for(name) {
            Ok(kind) => kind,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let (source_needs, target_needs) = needs(kind);
        for (end, connection, needed) in [
            ("from", &config.from, source_needs),
            ("to", &config.to, target_needs),
        ] {
            let key = format!("flows.{name}.{end}");
            match connections.get(connection) {
                None => problems.push(ConfigProblem::new(
                    key,
                    format!(
                        "no connection named `{connection}` (connections: {})",
                        known()
                    ),
                )),
                Some(info) => {
                    for missing in info.capabilities.missing(needed) {
                        problems.push(ConfigProblem::new(
                            key.clone(),
                            format!(
                                "connection `{connection}` ({}) cannot {missing}, which a {kind} flow needs of its `{end}` side",
                                info.kind
                            ),
                        ));
                    }
                }
            }
        }
        if config.from == config.to {
            problems.push(ConfigProblem::new(
                format!("flows.{name}.to"),
                "must differ from `from`",
            ));
        }
        if let Err(problem) = check_options(name, kind, config) {
            problems.push(problem);
        }
        if let Err(problem) = schedule_of(name, config) {
            problems.push(problem);
        }
    }
    problems
}

/// A flow ready to run, and its trigger.
pub struct BuiltFlow {
    pub flow: Arc<dyn Flow>,
    pub schedule: Option<Schedule>,
}

impl BuiltFlow {
    pub fn scheduled(&self) -> Option<ScheduledFlow> {
        let ctx = self.flow.context();
        self.schedule.clone().map(|schedule| ScheduledFlow {
            tenant: ctx.tenant.clone(),
            flow: ctx.name.clone(),
            schedule,
            job: self.flow.start_job(),
        })
    }
}

/// Builds a tenant's enabled flows on its built connections. Fails with every problem
/// found (the same ones [`check_flows`] reports).
pub fn build_flows(
    tenant: &str,
    flows: &BTreeMap<String, FlowConfig>,
    connections: &BTreeMap<String, Arc<dyn Connector>>,
    mappings: Arc<Mappings>,
) -> Result<Vec<BuiltFlow>, Vec<ConfigProblem>> {
    let infos: BTreeMap<String, ConnectionInfo> = connections
        .iter()
        .map(|(name, c)| {
            (
                name.clone(),
                ConnectionInfo {
                    kind: c.kind(),
                    capabilities: c.capabilities(),
                },
            )
        })
        .collect();
    let problems = check_flows(flows, &infos);
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut built = Vec::new();
    for (name, config) in flows.iter().filter(|(_, c)| c.enabled) {
        let one =
            build_one(tenant, name, config, connections, mappings.clone()).map_err(|p| vec![p])?;
        built.push(one);
    }
    Ok(built)
}

fn build_one(
    tenant: &str,
    name: &str,
    config: &FlowConfig,
    connections: &BTreeMap<String, Arc<dyn Connector>>,
    mappings: Arc<Mappings>,
) -> Result<BuiltFlow, ConfigProblem> {
    let kind = config.kind_for(name)?;
    let ctx = FlowContext {
        tenant: tenant.to_owned(),
        name: name.to_owned(),
        kind,
        from: config.from.clone(),
        to: config.to.clone(),
    };
    let missing = |end: &str| {
        ConfigProblem::new(
            format!("flows.{name}.{end}"),
            "the connection lacks a capability this flow needs",
        )
    };
    let from = connections
        .get(&config.from)
        .ok_or_else(|| missing("from"))?;
    let to = connections.get(&config.to).ok_or_else(|| missing("to"))?;
    let flow: Arc<dyn Flow> = match kind {
        FlowKind::Catalogue => Arc::new(catalogue::CatalogueFlow {
            options: config.options(name)?,
            erp: from.catalogue_source().ok_or_else(|| missing("from"))?,
            shop: to.catalogue_sink().ok_or_else(|| missing("to"))?,
            ctx,
        }),
        FlowKind::Stock => Arc::new(stock::StockFlow {
            options: config.options(name)?,
            mappings,
            erp: from.stock_source().ok_or_else(|| missing("from"))?,
            shop: to.stock_sink().ok_or_else(|| missing("to"))?,
            ctx,
        }),
        FlowKind::Orders => Arc::new(orders::OrdersFlow {
            options: config.options(name)?,
            mappings,
            shop_orders: from.order_source().ok_or_else(|| missing("from"))?,
            erp_sales: to.sales_sink().ok_or_else(|| missing("to"))?,
            erp_customers: to.customer_sink().ok_or_else(|| missing("to"))?,
            erp_catalogue: to.catalogue_source().ok_or_else(|| missing("to"))?,
            ctx,
        }),
    };
    Ok(BuiltFlow {
        flow,
        schedule: schedule_of(name, config)?,
    })
}

/// Moves a flow's cursor for a backfill. `cursor_at` is the source's own mapping of a
/// date to a cursor; where it has none, the sync starts over from the beginning —
/// imports are idempotent, so reading too much is safe, and reading too little is not.
pub(crate) async fn rewind_cursor(
    store: &Store,
    ctx: &FlowContext,
    start: SyncStart,
    cursor_at: impl FnOnce(chrono::DateTime<chrono::Utc>) -> Option<String>,
) -> Result<(), JobError> {
    let failed = |e| error::store_failure("moving the cursor", e);
    let cursor = match start {
        SyncStart::Beginning => None,
        SyncStart::Cursor(value) => Some(value),
        SyncStart::Since(at) => cursor_at(at),
    };
    match cursor {
        None => store
            .reset_cursor(&ctx.tenant, &ctx.name, &ctx.from)
            .await
            .map_err(failed),
        Some(value) => store
            .set_cursor(&kontor_engine::Cursor::new(
                &ctx.tenant,
                &ctx.name,
                &ctx.from,
                value,
            ))
            .await
            .map_err(failed),
    }
}
