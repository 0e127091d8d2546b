//! A tenant's configuration as the console edits it: read it whole; change its mappings
//! (operators — the error inbox sends them there) or one connection (admins); try a
//! connection before or after saving it. Every change names the revision it was made
//! against, so two editors cannot overwrite each other unseen, is checked by building the
//! tenant before it is stored, and runs at once.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Json;
use chrono::{DateTime, Utc};
use kontor_connectors::ConnectionConfig;
use kontor_flows::{FlowKind, Mappings, needs};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::Caller;
use super::body::body;
use super::tenant::query;
use crate::app::AppError;
use crate::auth::Role;
use crate::config::TenantConfig;
use crate::server::ServerState;
use crate::server::error::ApiError;

/// A tenant's configuration as stored, and whether it runs.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TenantConfigView {
    tenant: String,
    /// Send it back with a change; a change made against an older one is refused.
    revision: i64,
    updated_at: DateTime<Utc>,
    /// Running with this revision; otherwise `error` says why not.
    running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// `name`, `connections`, `flows` and `mappings`, as in the TOML file. Secrets show
    /// only as references (`{"env": …}`, `{"file": …}`) or sealed.
    #[schema(value_type = Object)]
    config: serde_json::Value,
    /// What each connection is and can do, and which flows use it.
    connections: BTreeMap<String, ConnectionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ConnectionView {
    /// The connector: `tryton`, `shopify`, `memory`, …
    kind: String,
    /// What it can do (`read products`, `create sales documents`, …); empty when the
    /// tenant is not running.
    capabilities: Vec<String>,
    /// Flows reading from or writing to it.
    used_by: Vec<String>,
}

/// A change to a tenant's mappings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MappingsChange {
    /// The revision the change was made against.
    revision: i64,
    /// Every mapping table, whole (`sku`, `warehouses`, `payment_methods`,
    /// `shipping_methods`, `order_status`, `customer_groups`, `tax_rates`,
    /// `price_lists`); a table left out is emptied.
    #[schema(value_type = Object)]
    mappings: serde_json::Value,
}

/// A connection added or changed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectionChange {
    revision: i64,
    /// The connection's settings, as in the TOML file (`type` picks the connector). A
    /// secret given as `{"value": …}` is stored sealed.
    #[schema(value_type = Object)]
    connection: serde_json::Value,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RevisionQuery {
    /// The revision the change was made against.
    revision: i64,
}

/// What a change came to.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Changed {
    config: TenantConfigView,
    /// Accepted, but worth a look (a mapped SKU the ERP does not have, …).
    warnings: Vec<String>,
}

/// Settings to try instead of the saved ones (nothing is saved).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectionTrial {
    #[schema(value_type = Option<Object>)]
    connection: Option<serde_json::Value>,
}

/// "Test connection": what works and what is missing.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ConnectionTest {
    connection: String,
    kind: Option<String>,
    /// Every step passed.
    ok: bool,
    steps: Vec<TestStep>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TestStep {
    /// `settings`, `reach` or `capabilities`.
    step: &'static str,
    ok: bool,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    millis: Option<u64>,
}

/// Reads `value` as `T`, naming the field at fault under `prefix`.
fn parse<T: DeserializeOwned>(value: serde_json::Value, prefix: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            prefix.to_owned()
        } else {
            format!("{prefix}.{path}")
        };
        ApiError::bad_request(
            "invalid_body",
            &field,
            format!("{field}: {}", e.into_inner()),
        )
    })
}

/// An app error from writing a configuration, for the caller.
fn refused(error: AppError) -> ApiError {
    match error {
        AppError::Tenant { problems, .. } => problems_error("invalid_config", &problems),
        AppError::SecretRefused { problems, .. } => problems_error("secret_refused", &problems),
        AppError::Store(store) => store.into(),
        other => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_config",
            other.to_string(),
        ),
    }
}

/// A 422 listing every problem, the first one's key as the field.
fn problems_error(code: &'static str, problems: &[kontor_flows::ConfigProblem]) -> ApiError {
    let message = problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let details = json!({
        "problems": problems
            .iter()
            .map(|p| json!({ "key": p.key, "message": p.message }))
            .collect::<Vec<_>>()
    });
    let error =
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_details(details);
    match problems.first() {
        Some(first) => error.with_field(first.key.clone()),
        None => error,
    }
}

async fn stored(state: &ServerState, tenant: &str) -> Result<(TenantConfig, i64), ApiError> {
    let record = state
        .app
        .store
        .tenant_config(tenant)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("tenant `{tenant}`")))?;
    let config = TenantConfig::from_document(tenant, record.document)
        .map_err(|e| ApiError::unavailable("config_unreadable", e.to_string()))?;
    Ok((config, record.revision))
}

/// Stores `config` as the change made against `revision`, and answers the tenant as it
/// now runs.
async fn apply(
    state: &ServerState,
    tenant: &str,
    config: &TenantConfig,
    revision: i64,
) -> Result<TenantConfigView, ApiError> {
    state
        .app
        .update_tenant(tenant, config, revision)
        .await
        .map_err(refused)?;
    view(state, tenant).await
}

async fn view(state: &ServerState, tenant: &str) -> Result<TenantConfigView, ApiError> {
    let record = state
        .app
        .store
        .tenant_config(tenant)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("tenant `{tenant}`")))?;
    let config = TenantConfig::from_document(tenant, record.document.clone()).ok();
    let tenants = state.app.tenants();
    let live = tenants
        .get(tenant)
        .filter(|live| live.revision == record.revision);
    let error = match (live, tenants.broken.get(tenant)) {
        (Some(_), _) => None,
        (None, Some(broken)) => Some(broken.error.clone()),
        (None, None) => Some("not loaded yet; it starts within a few seconds".to_owned()),
    };
    let mut connections = BTreeMap::new();
    if let Some(config) = &config {
        for (name, connection) in &config.connections {
            let capabilities = live
                .and_then(|l| l.connections.get(name))
                .map(|c| {
                    c.capabilities()
                        .iter()
                        .map(|cap| cap.describe().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            let used_by = config
                .flows
                .iter()
                .filter(|(_, f)| &f.from == name || &f.to == name)
                .map(|(flow, _)| flow.clone())
                .collect();
            connections.insert(
                name.clone(),
                ConnectionView {
                    kind: connection.kind().to_owned(),
                    capabilities,
                    used_by,
                },
            );
        }
    }
    Ok(TenantConfigView {
        tenant: tenant.to_owned(),
        revision: record.revision,
        updated_at: record.updated_at,
        running: live.is_some(),
        error,
        config: record.document,
        connections,
    })
}

/// The tenant's configuration: connections, flows, mappings, and its revision.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/config", tag = "configuration",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, body = TenantConfigView),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn get_config(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<TenantConfigView>, ApiError> {
    caller.tenant(&state, Role::Viewer, &tenant)?;
    Ok(Json(view(&state, &tenant).await?))
}

/// Replaces the tenant's mappings; checked, then running at once.
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/config/mappings", tag = "configuration",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = MappingsChange,
    responses(
        (status = 200, body = Changed),
        (status = 400, description = "Not mappings (the field is named)", body = super::ErrorBody),
        (status = 403, description = "Needs the operator role", body = super::ErrorBody),
        (status = 409, description = "Changed by someone else since `revision`", body = super::ErrorBody),
        (status = 422, description = "The mappings have problems (`details.problems`)", body = super::ErrorBody),
    ))]
pub(super) async fn put_mappings(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    change: Result<Json<MappingsChange>, JsonRejection>,
) -> Result<Json<Changed>, ApiError> {
    caller.tenant(&state, Role::Operator, &tenant)?;
    let Json(change) = body(change)?;
    let mappings: Mappings = parse(change.mappings, "mappings")?;
    let (mut config, _) = stored(&state, &tenant).await?;
    config.mappings = mappings;
    let changed = apply(&state, &tenant, &config, change.revision).await?;
    tracing::info!(message = "Mappings changed.", %tenant, revision = changed.revision, by = %caller.subject);
    Ok(Json(Changed {
        warnings: unknown_skus(&state, &tenant, &config.mappings).await,
        config: changed,
    }))
}

/// SKUs the map sends to that the ERP (the source of the tenant's catalogue, or the
/// target of its orders) does not have. Only a warning: the ERP may be out of reach, or
/// the product on its way.
async fn unknown_skus(state: &ServerState, tenant: &str, mappings: &Mappings) -> Vec<String> {
    let Some(live) = state.app.tenant(tenant) else {
        return Vec::new();
    };
    let targets: Vec<String> = mappings.sku.values().cloned().collect();
    if targets.is_empty() {
        return Vec::new();
    }
    let erp = live
        .flows
        .iter()
        .map(|built| built.flow.context())
        .find_map(|ctx| match ctx.kind {
            FlowKind::Orders => Some(ctx.to.clone()),
            FlowKind::Catalogue => Some(ctx.from.clone()),
            _ => None,
        });
    let Some(catalogue) = erp
        .as_ref()
        .and_then(|name| live.connections.get(name))
        .and_then(|c| c.catalogue_source())
    else {
        return Vec::new();
    };
    match catalogue.find_variants(&targets).await {
        Ok(found) => targets
            .iter()
            .filter(|sku| !found.iter().any(|v| &v.sku == *sku))
            .map(|sku| {
                format!(
                    "`{}` has no SKU `{sku}`; orders mapped to it will wait until it does",
                    erp.as_deref().unwrap_or_default()
                )
            })
            .collect(),
        Err(error) => vec![format!(
            "could not check the mapped SKUs in `{}`: {error}",
            erp.as_deref().unwrap_or_default()
        )],
    }
}

/// Adds or changes one connection; checked, then running at once.
#[utoipa::path(put, path = "/api/v1/tenants/{tenant}/config/connections/{name}", tag = "configuration",
    params(("tenant" = String, Path, description = "Tenant id"), ("name" = String, Path, description = "Connection name")),
    request_body = ConnectionChange,
    responses(
        (status = 200, body = Changed),
        (status = 400, body = super::ErrorBody),
        (status = 403, description = "Needs the admin role", body = super::ErrorBody),
        (status = 409, body = super::ErrorBody),
        (status = 422, body = super::ErrorBody),
    ))]
pub(super) async fn put_connection(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
    change: Result<Json<ConnectionChange>, JsonRejection>,
) -> Result<Json<Changed>, ApiError> {
    caller.tenant(&state, Role::Admin, &tenant)?;
    let Json(change) = body(change)?;
    let connection: ConnectionConfig = parse(change.connection, &format!("connections.{name}"))?;
    let (mut config, _) = stored(&state, &tenant).await?;
    config.connections.insert(name.clone(), connection);
    let changed = apply(&state, &tenant, &config, change.revision).await?;
    tracing::info!(message = "Connection changed.", %tenant, connection = %name, revision = changed.revision, by = %caller.subject);
    Ok(Json(Changed {
        config: changed,
        warnings: Vec::new(),
    }))
}

/// Removes a connection no flow uses.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant}/config/connections/{name}", tag = "configuration",
    params(("tenant" = String, Path, description = "Tenant id"), ("name" = String, Path, description = "Connection name"), RevisionQuery),
    responses(
        (status = 200, body = Changed),
        (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody),
        (status = 422, description = "A flow still uses it", body = super::ErrorBody),
    ))]
pub(super) async fn delete_connection(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
    revision: Result<Query<RevisionQuery>, QueryRejection>,
) -> Result<Json<Changed>, ApiError> {
    caller.tenant(&state, Role::Admin, &tenant)?;
    let revision = query(revision)?.revision;
    let (mut config, _) = stored(&state, &tenant).await?;
    if config.connections.remove(&name).is_none() {
        return Err(ApiError::not_found(format!("connection `{name}`")));
    }
    let changed = apply(&state, &tenant, &config, revision).await?;
    tracing::info!(message = "Connection removed.", %tenant, connection = %name, by = %caller.subject);
    Ok(Json(Changed {
        config: changed,
        warnings: Vec::new(),
    }))
}

/// Tries a connection — the saved one, or the settings sent — and says what works and
/// what is missing: the settings, reaching the system with its credentials, and the
/// capabilities the tenant's flows need of it. Nothing is saved or written.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/connections/{name}/test", tag = "configuration",
    params(("tenant" = String, Path, description = "Tenant id"), ("name" = String, Path, description = "Connection name")),
    request_body(content = ConnectionTrial, description = "Settings to try instead of the saved ones"),
    responses(
        (status = 200, body = ConnectionTest),
        (status = 403, description = "Needs the operator role", body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn test_connection(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
    trial: Option<Json<ConnectionTrial>>,
) -> Result<Json<ConnectionTest>, ApiError> {
    caller.tenant(&state, Role::Operator, &tenant)?;
    let (config, _) = stored(&state, &tenant).await?;
    let settings = match trial.and_then(|Json(t)| t.connection) {
        Some(value) => {
            let settings = parse::<ConnectionConfig>(value, &format!("connections.{name}"))?;
            state
                .app
                .check_api_connection(&tenant, &name, &settings)
                .await
                .map_err(refused)?;
            settings
        }
        None => config
            .connections
            .get(&name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("connection `{name}`")))?,
    };
    let mut test = ConnectionTest {
        connection: name.clone(),
        kind: Some(settings.kind().to_owned()),
        ok: false,
        steps: Vec::new(),
    };
    let connector = match state.app.build_connection(&tenant, &name, &settings) {
        Ok(connector) => {
            test.steps.push(TestStep {
                step: "settings",
                ok: true,
                message: "the settings are complete and every secret could be read".into(),
                millis: None,
            });
            connector
        }
        Err(error) => {
            test.steps.push(TestStep {
                step: "settings",
                ok: false,
                message: error.to_string(),
                millis: None,
            });
            return Ok(Json(test));
        }
    };
    let started = Instant::now();
    let reached = connector.check().await;
    test.steps.push(TestStep {
        step: "reach",
        ok: reached.is_ok(),
        message: match &reached {
            Ok(()) => format!("{} answered and accepted the credentials", settings.kind()),
            Err(error) => error.to_string(),
        },
        millis: Some(started.elapsed().as_millis() as u64),
    });
    let offered = connector.capabilities();
    let mut missing = Vec::new();
    for (flow, flow_config) in &config.flows {
        let Ok(kind) = flow_config.kind_for(flow) else {
            continue;
        };
        let (source_needs, target_needs) = needs(kind);
        for (end, needed) in [("from", source_needs), ("to", target_needs)] {
            let connection = if end == "from" {
                &flow_config.from
            } else {
                &flow_config.to
            };
            if connection != &name {
                continue;
            }
            for capability in offered.missing(needed) {
                missing.push(format!("flow `{flow}` needs it to {capability}"));
            }
        }
    }
    test.steps.push(TestStep {
        step: "capabilities",
        ok: missing.is_empty(),
        message: if missing.is_empty() {
            let can: Vec<&str> = offered.iter().map(|c| c.describe()).collect();
            format!("it can {}", can.join(", "))
        } else {
            format!("missing: {}", missing.join("; "))
        },
        millis: None,
    });
    test.ok = test.steps.iter().all(|s| s.ok);
    Ok(Json(test))
}
