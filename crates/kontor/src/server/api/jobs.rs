//! The queue of one tenant: list and read jobs; retry, skip, or edit and retry the
//! parked ones (operators).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::Json;
use kontor_engine::{Job, JobFilter, JobState};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::body::body;
use super::tenant::query;
use super::{Caller, Page};
use crate::auth::Role;
use crate::server::ServerState;
use crate::server::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct JobsQuery {
    /// Only jobs in this state: pending, running, succeeded, parked, skipped, superseded.
    state: Option<String>,
    /// Only the jobs of this flow.
    flow: Option<String>,
    /// Only jobs of this kind, e.g. `orders.import`.
    kind: Option<String>,
    /// Only jobs with this text in their kind, keys, payload, outcome or error code
    /// (an order number, a SKU, …), in any case.
    q: Option<String>,
    /// Only jobs whose last error has this code.
    error_code: Option<String>,
    /// Only the jobs of one sync run.
    run_id: Option<String>,
    /// Continue from a previous page's `next_cursor`.
    cursor: Option<String>,
    /// At most this many (1–500, default 100).
    limit: Option<u32>,
}

/// The tenant's jobs, newest first.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/jobs", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id"), JobsQuery),
    responses(
        (status = 200, body = Page<Job>),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn list_jobs(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    jobs: Result<Query<JobsQuery>, QueryRejection>,
) -> Result<Json<Page<Job>>, ApiError> {
    caller.tenant(&state, Role::Viewer, &tenant)?;
    let jobs = query(jobs)?;
    let states = match &jobs.state {
        None => vec![],
        Some(name) => vec![JobState::parse(name).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "state", format!("no job state `{name}`"))
        })?],
    };
    let before_id = match &jobs.cursor {
        None => None,
        Some(cursor) => Some(cursor.parse::<i64>().map_err(|_| {
            ApiError::bad_request("invalid_query", "cursor", "not a cursor from this list")
        })?),
    };
    let limit = match jobs.limit {
        None => 100,
        Some(n @ 1..=500) => n,
        Some(n) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "limit",
                format!("limit must be between 1 and 500, not {n}"),
            ));
        }
    };
    let items = state
        .app
        .store
        .list_jobs(&JobFilter {
            tenant: Some(tenant),
            states,
            flow: jobs.flow,
            kind: jobs.kind,
            search: jobs.q,
            run_id: jobs.run_id,
            error_code: jobs.error_code,
            before_id,
            limit,
        })
        .await?;
    let more = items.len() == limit as usize;
    Ok(Json(Page {
        next_cursor: items.last().filter(|_| more).map(|job| job.id.to_string()),
        more,
        items,
    }))
}

/// One job: its payload (and the original, if edited), attempts and error history.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/jobs/{job_id}", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id"), ("job_id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, body = Job),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn get_job(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, job_id)): Path<(String, i64)>,
) -> Result<Json<Job>, ApiError> {
    caller.tenant(&state, Role::Viewer, &tenant)?;
    state
        .app
        .store
        .get_job(job_id, Some(&tenant))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("job {job_id}")))
}

/// Runs a parked job again, with a fresh set of attempts (after fixing its cause).
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/jobs/{job_id}/retry", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id"), ("job_id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "Queued again", body = Job),
        (status = 403, description = "Needs the operator role", body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 409, description = "The job is not parked", body = super::ErrorBody),
    ))]
pub(super) async fn retry_job(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, job_id)): Path<(String, i64)>,
) -> Result<Json<Job>, ApiError> {
    caller.tenant(&state, Role::Operator, &tenant)?;
    let job = state.app.store.retry_job(job_id, Some(&tenant)).await?;
    tracing::info!(message = "Job retried through the API.", job_id, %tenant, by = %caller.subject);
    Ok(Json(job))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct SkipRequest {
    /// Why it should not run; kept as the job's outcome.
    reason: String,
}

/// Decides a parked job should not run.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/jobs/{job_id}/skip", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id"), ("job_id" = i64, Path, description = "Job id")),
    request_body = SkipRequest,
    responses(
        (status = 200, description = "Skipped", body = Job),
        (status = 400, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody),
    ))]
pub(super) async fn skip_job(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, job_id)): Path<(String, i64)>,
    request: Result<Json<SkipRequest>, JsonRejection>,
) -> Result<Json<Job>, ApiError> {
    caller.tenant(&state, Role::Operator, &tenant)?;
    let Json(request) = body(request)?;
    if request.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "reason",
            "say why the job is skipped",
        ));
    }
    let reason = format!("{} (by {})", request.reason.trim(), caller.subject);
    let job = state
        .app
        .store
        .skip_job(job_id, Some(&tenant), &reason)
        .await?;
    Ok(Json(job))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct EditRequest {
    /// The job's new payload; the original is kept.
    payload: serde_json::Value,
}

/// Replaces a parked job's payload and runs it again.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/jobs/{job_id}/edit-and-retry", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id"), ("job_id" = i64, Path, description = "Job id")),
    request_body = EditRequest,
    responses(
        (status = 200, description = "Queued again with the new payload", body = Job),
        (status = 400, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody),
    ))]
pub(super) async fn edit_and_retry_job(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, job_id)): Path<(String, i64)>,
    request: Result<Json<EditRequest>, JsonRejection>,
) -> Result<Json<Job>, ApiError> {
    caller.tenant(&state, Role::Operator, &tenant)?;
    let Json(request) = body(request)?;
    if !request.payload.is_object() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "payload",
            "a job's payload is a JSON object",
        ));
    }
    let job = state
        .app
        .store
        .edit_and_retry_job(job_id, Some(&tenant), request.payload)
        .await?;
    tracing::info!(message = "Job edited and retried through the API.", job_id, %tenant, by = %caller.subject);
    Ok(Json(job))
}
