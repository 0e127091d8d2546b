//! Health, readiness, metrics, and the status of the caller's tenants.

use axum::extract::State;
use axum::response::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::Caller;
use crate::auth::{Role, Tenants};
use crate::server::ServerState;
use crate::server::error::ApiError;
use crate::status::Status;

#[derive(Serialize, ToSchema)]
pub(super) struct Health {
    /// `ok`, or `ready` from the readiness check.
    status: &'static str,
}

/// Alive: the process answers.
#[utoipa::path(get, path = "/health", tag = "system", security(()),
    responses((status = 200, body = Health)))]
pub(super) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Ready: the store answers.
#[utoipa::path(get, path = "/ready", tag = "system", security(()),
    responses(
        (status = 200, body = Health),
        (status = 503, description = "The store does not answer", body = super::ErrorBody),
    ))]
pub(super) async fn ready(State(state): State<ServerState>) -> Result<Json<Health>, ApiError> {
    state.app.store.ping().await?;
    Ok(Json(Health { status: "ready" }))
}

/// Prometheus metrics: jobs by state and outcome, durations, calls and errors per
/// connection, queue lag.
#[utoipa::path(get, path = "/metrics", tag = "system", security(()),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub(super) async fn metrics(State(state): State<ServerState>) -> String {
    state.metrics.render()
}

/// The caller's tenants: their flows with cursors, and the queue.
#[utoipa::path(get, path = "/api/v1/status", tag = "system",
    responses(
        (status = 200, body = Status),
        (status = 401, body = super::ErrorBody),
    ))]
pub(super) async fn status(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Status>, ApiError> {
    caller.has(Role::Viewer)?;
    let status = match &caller.tenants {
        Tenants::All => state.app.status().await?,
        Tenants::Only(tenants) => state.app.status_of(|t| tenants.contains(t)).await?,
    };
    Ok(Json(status))
}
