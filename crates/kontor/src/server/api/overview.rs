//! What operators look at: each flow's state and the tenant's activity over time (the
//! dashboard), parked jobs grouped by why they stopped (the error inbox) and their
//! retry in bulk once the reason is fixed, and one record across every system with its
//! history (the entity view).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::Json;
use chrono::{DateTime, Utc};
use kontor_engine::{ActivitySlot, Job, JobFilter, Link, ParkedGroup, ParkedSelection};
use kontor_flows::FlowKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Caller;
use super::body::body;
use super::tenant::query;
use crate::auth::Role;
use crate::server::ServerState;
use crate::server::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct DashboardQuery {
    /// How far back the activity goes, in hours (1–720, default 24).
    hours: Option<u32>,
}

/// One flow as the dashboard shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct FlowCard {
    name: String,
    kind: String,
    from: String,
    to: String,
    /// `every 5s`, a cron expression, or none (on demand and webhooks only).
    schedule: Option<String>,
    enabled: bool,
    /// When it last finished a job successfully.
    last_success_at: Option<DateTime<Utc>>,
    /// Jobs finished successfully in the last hour.
    done_last_hour: i64,
    pending: i64,
    running: i64,
    parked: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Dashboard {
    tenant: String,
    generated_at: DateTime<Utc>,
    hours: u32,
    /// The length of one activity slot.
    slot_seconds: u64,
    flows: Vec<FlowCard>,
    /// Orders that reached the ERP (`created`) and jobs that failed (`errors`) per slot,
    /// oldest first; every slot is there.
    activity: Vec<ActivitySlot>,
    pending: i64,
    running: i64,
    parked: i64,
}

/// The tenant's flows and activity.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/dashboard", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id"), DashboardQuery),
    responses(
        (status = 200, body = Dashboard),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn dashboard(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    asked: Result<Query<DashboardQuery>, QueryRejection>,
) -> Result<Json<Dashboard>, ApiError> {
    let live = caller.tenant(&state, Role::Viewer, &tenant)?;
    let hours = match query(asked)?.hours {
        None => 24,
        Some(h @ 1..=720) => h,
        Some(h) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "hours",
                format!("hours must be between 1 and 720, not {h}"),
            ));
        }
    };
    let store = &state.app.store;
    let now = store.now();
    // About 48 slots, whole minutes.
    let slot = Duration::from_secs((u64::from(hours) * 3600 / 48).max(60) / 60 * 60);
    let since = now - chrono::Duration::hours(i64::from(hours));
    let activity = store
        .flow_activity(&tenant, now - chrono::Duration::hours(1))
        .await?;
    let mut by_flow: BTreeMap<&str, &kontor_engine::FlowActivity> =
        activity.iter().map(|a| (a.flow.as_str(), a)).collect();
    let mut flows = Vec::new();
    let mut erps = Vec::new();
    if let Some(live) = &live {
        for (name, config) in &live.config.flows {
            let Ok(kind) = config.kind_for(name) else {
                continue;
            };
            if kind == FlowKind::Orders && !erps.contains(&config.to) {
                erps.push(config.to.clone());
            }
            let seen = by_flow.remove(name.as_str());
            flows.push(FlowCard {
                name: name.clone(),
                kind: kind.to_string(),
                from: config.from.clone(),
                to: config.to.clone(),
                schedule: config
                    .every
                    .map(|e| format!("every {}", humantime::format_duration(e)))
                    .or_else(|| config.cron.clone()),
                enabled: config.enabled,
                last_success_at: seen.and_then(|a| a.last_success_at),
                done_last_hour: seen.map_or(0, |a| a.succeeded),
                pending: seen.map_or(0, |a| a.pending),
                running: seen.map_or(0, |a| a.running),
                parked: seen.map_or(0, |a| a.parked),
            });
        }
    }
    let series = store
        .activity(&tenant, kontor_flows::kinds::ORDER, &erps, since, slot)
        .await?;
    let (pending, running, parked) = activity.iter().fold((0, 0, 0), |(p, r, k), a| {
        (p + a.pending, r + a.running, k + a.parked)
    });
    Ok(Json(Dashboard {
        tenant,
        generated_at: now,
        hours,
        slot_seconds: slot.as_secs(),
        flows,
        activity: series,
        pending,
        running,
        parked,
    }))
}

/// Parked jobs that stopped for one reason.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct InboxGroup {
    #[serde(flatten)]
    group: ParkedGroup,
    /// The latest one's error: its message and details (what the console offers to fix).
    message: String,
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
}

/// The error inbox: parked jobs grouped by kind and reason, the largest group first.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/inbox", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, body = Vec<InboxGroup>),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn inbox(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<InboxGroup>>, ApiError> {
    caller.tenant(&state, Role::Viewer, &tenant)?;
    let store = &state.app.store;
    let mut groups = Vec::new();
    for group in store.parked_groups(&tenant).await? {
        let latest = store.get_job(group.latest_job_id, Some(&tenant)).await?;
        let error = latest.as_ref().and_then(Job::last_error);
        groups.push(InboxGroup {
            message: error.map(|e| e.message.clone()).unwrap_or_default(),
            details: error.and_then(|e| e.details.clone()),
            group,
        });
    }
    Ok(Json(groups))
}

/// Which parked jobs to run again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkRetry {
    /// Only jobs of this kind.
    kind: Option<String>,
    /// Only jobs parked with this error code.
    code: Option<String>,
    /// Only these jobs.
    #[serde(default)]
    ids: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Retried {
    retried: u64,
}

/// Runs again every parked job that matches (after its reason was fixed).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/jobs/retry", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = BulkRetry,
    responses(
        (status = 200, body = Retried),
        (status = 400, description = "Nothing to select by", body = super::ErrorBody),
        (status = 403, description = "Needs the operator role", body = super::ErrorBody),
    ))]
pub(super) async fn retry_parked(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    request: Result<Json<BulkRetry>, JsonRejection>,
) -> Result<Json<Retried>, ApiError> {
    caller.tenant(&state, Role::Operator, &tenant)?;
    let Json(request) = body(request)?;
    if request.kind.is_none() && request.code.is_none() && request.ids.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "code",
            "say which parked jobs: a `kind`, a `code` or `ids`",
        ));
    }
    let retried = state
        .app
        .store
        .retry_parked(
            &tenant,
            &ParkedSelection {
                kind: request.kind,
                code: request.code,
                ids: request.ids,
            },
        )
        .await?;
    tracing::info!(message = "Parked jobs retried.", %tenant, retried, by = %caller.subject);
    Ok(Json(Retried { retried }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct EntitySearch {
    /// An order number, SKU, e-mail, VAT id, Kontor's id, or an id in one of the systems.
    q: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EntityHit {
    kind: String,
    entity_id: String,
}

/// Finds records by what people know them by.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/entities", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id"), EntitySearch),
    responses(
        (status = 200, body = Vec<EntityHit>),
        (status = 400, body = super::ErrorBody),
    ))]
pub(super) async fn search_entities(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    search: Result<Query<EntitySearch>, QueryRejection>,
) -> Result<Json<Vec<EntityHit>>, ApiError> {
    caller.tenant(&state, Role::Viewer, &tenant)?;
    let text = query(search)?.q.trim().to_owned();
    if text.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "q",
            "say what to look for",
        ));
    }
    let mut hits = state.app.store.search_entities(&tenant, &text, 20).await?;
    // E-mails are kept in lower case.
    if text.contains('@') && text != text.to_lowercase() {
        hits.extend(
            state
                .app
                .store
                .search_entities(&tenant, &text.to_lowercase(), 20)
                .await?,
        );
    }
    hits.sort();
    hits.dedup();
    Ok(Json(
        hits.into_iter()
            .map(|(kind, entity_id)| EntityHit { kind, entity_id })
            .collect(),
    ))
}

/// One record across systems.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EntityView {
    kind: String,
    entity_id: String,
    /// Kontor's copy of the record as it last synced it.
    #[schema(value_type = Option<Object>)]
    data: Option<serde_json::Value>,
    updated_at: Option<DateTime<Utc>>,
    links: Vec<Link>,
    /// Jobs that worked on it, newest first.
    history: Vec<Job>,
}

/// One record: Kontor's copy, its id in each system, and the jobs that worked on it.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/entities/{kind}/{entity_id}", tag = "operations",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("kind" = String, Path, description = "`order`, `variant`, `customer`, …"),
        ("entity_id" = String, Path, description = "Kontor's id of the record"),
    ),
    responses(
        (status = 200, body = EntityView),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn entity(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, kind, entity_id)): Path<(String, String, String)>,
) -> Result<Json<EntityView>, ApiError> {
    caller.tenant(&state, Role::Viewer, &tenant)?;
    let store = &state.app.store;
    let record = store.get_entity(&tenant, &kind, &entity_id).await?;
    let links = store.links_of_entity(&tenant, &kind, &entity_id).await?;
    if record.is_none() && links.is_empty() {
        return Err(ApiError::not_found(format!("{kind} `{entity_id}`")));
    }
    // Jobs name a record by its id in the system they read it from.
    let mut needles: Vec<String> = links.iter().map(|l| l.external_id.clone()).collect();
    needles.push(entity_id.clone());
    if let Some(number) = record
        .as_ref()
        .and_then(|r| r.keys.iter().find(|k| k.key_type == "number"))
    {
        needles.push(number.value.clone());
    }
    needles.sort();
    needles.dedup();
    let mut history: Vec<Job> = Vec::new();
    for needle in needles {
        let found = store
            .list_jobs(&JobFilter {
                tenant: Some(tenant.clone()),
                search: Some(needle),
                limit: 50,
                ..Default::default()
            })
            .await?;
        for job in found {
            if !history.iter().any(|j| j.id == job.id) {
                history.push(job);
            }
        }
    }
    history.sort_by_key(|job| std::cmp::Reverse(job.id));
    history.truncate(50);
    Ok(Json(EntityView {
        kind,
        entity_id,
        updated_at: record.as_ref().and_then(|r| r.updated_at),
        data: record.map(|r| r.data),
        links,
        history,
    }))
}
