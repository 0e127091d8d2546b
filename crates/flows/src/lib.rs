//! Kontor's business logic. Each flow is written once against the canonical model and the
//! connector ports, and works with any connection that has the capabilities it needs; a
//! flow knows no vendor.

pub mod catalogue;
mod common;
pub mod config;
pub mod customers;
mod error;
pub mod flow;
pub mod golive;
pub mod invoices;
pub mod notes;
pub mod order_status;
pub mod orders;
pub mod payments;
pub mod prices;
pub mod reports;
pub mod returns;
pub mod shipments;
pub mod showroom;
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
    /// A price as sent to a shop, keyed by SKU, scope and minimum quantity.
    pub const PRICE: &str = "price";
    /// A payment recorded in the ERP, keyed `order entity/transaction id`.
    pub const PAYMENT: &str = "payment";
    /// A receipt or invoice issued for an order, keyed by the order's entity.
    pub const INVOICE: &str = "invoice";
    /// An invoice, receipt or credit note as the ERP issued it, keyed by its number.
    pub const ERP_INVOICE: &str = "erp_invoice";
    /// A shipment from the ERP, keyed by its reference; carries the order number.
    pub const SHIPMENT: &str = "shipment";
    /// A return recorded in the ERP, keyed `order entity/return reference`.
    pub const RETURN: &str = "return";
    /// A stock transfer made for an order, keyed `order entity/purpose`.
    pub const TRANSFER: &str = "transfer";
    /// The order status last sent to a shop, keyed by the order's entity.
    pub const ORDER_STATUS: &str = "order_status";
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
    use Capability::*;
    match kind {
        FlowKind::Catalogue => (&[CatalogueRead], &[CatalogueWrite]),
        FlowKind::Prices => (&[PriceRead], &[PriceWrite]),
        FlowKind::Stock => (&[StockRead], &[StockWrite]),
        FlowKind::Customers => (&[CustomerRead], &[AccountWrite]),
        FlowKind::Orders => (&[OrderRead], &[SalesWrite, CustomerWrite, CatalogueRead]),
        FlowKind::Payments => (&[OrderRead], &[PaymentWrite]),
        FlowKind::Invoices => (&[InvoiceRead], &[InvoiceWrite]),
        FlowKind::Shipments => (
            &[ShipmentRead],
            &[FulfilmentWrite, OrderRead, OrderStatusWrite],
        ),
        FlowKind::OrderStatus => (&[SalesRead], &[OrderStatusWrite]),
        FlowKind::Returns => (&[ReturnRead], &[ReturnWrite]),
        FlowKind::Showroom => (&[OrderRead], &[TransferWrite]),
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
        FlowKind::Prices => config.options::<prices::PricesOptions>(name).map(drop),
        FlowKind::Stock => config.options::<stock::StockOptions>(name).map(drop),
        FlowKind::Customers => config
            .options::<customers::CustomersOptions>(name)
            .map(drop),
        FlowKind::Orders => config.options::<orders::OrdersOptions>(name).map(drop),
        FlowKind::Payments => config.options::<payments::PaymentsOptions>(name).map(drop),
        FlowKind::Invoices => config.options::<invoices::InvoicesOptions>(name).map(drop),
        FlowKind::Shipments => config
            .options::<shipments::ShipmentsOptions>(name)?
            .check(name),
        FlowKind::OrderStatus => config
            .options::<order_status::OrderStatusOptions>(name)
            .map(drop),
        FlowKind::Returns => config.options::<returns::ReturnsOptions>(name).map(drop),
        FlowKind::Showroom => config.options::<showroom::ShowroomOptions>(name).map(drop),
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
    // Checked against the connections' capabilities already; a missing port here means
    // a connector declared a capability it does not offer.
    macro_rules! port {
        ($end:ident . $accessor:ident) => {
            $end.$accessor().ok_or_else(|| missing(stringify!($end)))?
        };
    }
    let flow: Arc<dyn Flow> = match kind {
        FlowKind::Catalogue => Arc::new(catalogue::CatalogueFlow {
            options: config.options(name)?,
            erp: port!(from.catalogue_source),
            shop: port!(to.catalogue_sink),
            shop_listing: to.catalogue_source(),
            ctx,
        }),
        FlowKind::Prices => Arc::new(prices::PricesFlow {
            options: config.options(name)?,
            mappings,
            erp: port!(from.price_source),
            shop: port!(to.price_sink),
            ctx,
        }),
        FlowKind::Stock => Arc::new(stock::StockFlow {
            options: config.options(name)?,
            mappings,
            erp: port!(from.stock_source),
            shop: port!(to.stock_sink),
            ctx,
        }),
        FlowKind::Customers => Arc::new(customers::CustomersFlow {
            options: config.options(name)?,
            mappings,
            erp: port!(from.customer_source),
            shop: port!(to.account_sink),
            ctx,
        }),
        FlowKind::Orders => {
            let options: orders::OrdersOptions = config.options(name)?;
            let erp_stock = if options.warehouses.is_empty() {
                None
            } else {
                Some(to.stock_source().ok_or_else(|| {
                    ConfigProblem::new(
                        format!("flows.{name}.options.warehouses"),
                        format!("splitting orders across warehouses needs connection `{}` to read stock", config.to),
                    )
                })?)
            };
            Arc::new(orders::OrdersFlow {
                options,
                mappings,
                shop_orders: port!(from.order_source),
                erp_sales: port!(to.sales_sink),
                erp_customers: port!(to.customer_sink),
                erp_catalogue: port!(to.catalogue_source),
                erp_stock,
                ctx,
            })
        }
        FlowKind::Payments => Arc::new(payments::PaymentsFlow {
            options: config.options(name)?,
            shop: port!(from.order_source),
            erp: port!(to.payment_sink),
            ctx,
        }),
        FlowKind::Invoices => Arc::new(invoices::InvoicesFlow {
            options: config.options(name)?,
            erp: port!(from.invoice_source),
            shop: port!(to.invoice_sink),
            ctx,
        }),
        FlowKind::Shipments => Arc::new(shipments::ShipmentsFlow {
            options: config.options(name)?,
            mappings,
            erp: port!(from.shipment_source),
            shop: port!(to.fulfilment_sink),
            shop_orders: port!(to.order_source),
            shop_status: port!(to.order_status_sink),
            ctx,
        }),
        FlowKind::OrderStatus => Arc::new(order_status::OrderStatusFlow {
            options: config.options(name)?,
            mappings,
            erp: port!(from.sales_source),
            shop: port!(to.order_status_sink),
            ctx,
        }),
        FlowKind::Returns => Arc::new(returns::ReturnsFlow {
            options: config.options(name)?,
            mappings,
            shop: port!(from.return_source),
            erp: port!(to.return_sink),
            ctx,
        }),
        FlowKind::Showroom => Arc::new(showroom::ShowroomFlow {
            options: config.options(name)?,
            mappings,
            shop: port!(from.order_source),
            erp: port!(to.transfer_sink),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_lacking_a_capability_fails_the_check_naming_it() {
        let flows = BTreeMap::from([(
            "orders".to_owned(),
            FlowConfig {
                kind: None,
                from: "shop".into(),
                to: "erp".into(),
                enabled: true,
                every: None,
                cron: None,
                options: serde_json::Value::Null,
            },
        )]);
        let connections = BTreeMap::from([
            (
                "shop".to_owned(),
                ConnectionInfo {
                    kind: "feed",
                    capabilities: [Capability::OrderRead].into_iter().collect(),
                },
            ),
            (
                "erp".to_owned(),
                ConnectionInfo {
                    kind: "readonly-erp",
                    capabilities: [Capability::CatalogueRead].into_iter().collect(),
                },
            ),
        ]);
        let problems = check_flows(&flows, &connections);
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 2, "{messages:#?}");
        assert!(
            messages
                .iter()
                .all(|m| m.starts_with("flows.orders.to: connection `erp` (readonly-erp) cannot"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("create sales documents"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("find and create customers"))
        );
    }
}
