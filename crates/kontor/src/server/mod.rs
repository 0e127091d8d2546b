//! Kontor's HTTP server: health, readiness, Prometheus metrics, webhook intake, and the API.

pub mod auth;
mod hooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::app::App;

/// What handlers need: the running app, and the metrics recorder.
#[derive(Clone)]
pub struct ServerState {
    app: Arc<App>,
    metrics: PrometheusHandle,
    deliveries: Arc<hooks::RecentDeliveries>,
}

impl ServerState {
    pub fn new(app: Arc<App>, metrics: PrometheusHandle) -> Self {
        ServerState {
            app,
            metrics,
            deliveries: Arc::new(hooks::RecentDeliveries::default()),
        }
    }
}

pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/hooks/{tenant}/{connection}", post(hooks::receive))
        .route("/api/v1/status", get(status))
        .route("/api/v1/reports/sales", get(sales_report))
        .with_state(state)
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when the store answers.
async fn ready(State(state): State<ServerState>) -> Response {
    match state.app.store.ping().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "error": { "code": "store_unavailable", "message": error.to_string() } })),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<ServerState>) -> String {
    state.metrics.render()
}

async fn status(State(state): State<ServerState>) -> Response {
    match state.app.status().await {
        Ok(status) => Json(status).into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": { "code": "store_unavailable", "message": error.to_string() } })),
        )
            .into_response(),
    }
}

#[derive(Debug, serde::Deserialize)]
struct SalesQuery {
    tenant: String,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
}

/// A request error: structured, with a stable code and the field at fault.
fn bad_request(code: &str, field: &str, message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": { "code": code, "message": message, "field": field } })),
    )
        .into_response()
}

async fn sales_report(
    State(state): State<ServerState>,
    query: Result<axum::extract::Query<SalesQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = match query {
        Ok(axum::extract::Query(query)) => query,
        Err(rejection) => return bad_request("invalid_query", "query", rejection.body_text()),
    };
    if query.to < query.from {
        return bad_request(
            "invalid_range",
            "to",
            format!("`to` ({}) is before `from` ({})", query.to, query.from),
        );
    }
    match kontor_flows::reports::sales_report(&state.app.store, &query.tenant, query.from, query.to)
        .await
    {
        Ok(report) => Json(report).into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": { "code": "store_unavailable", "message": error.to_string() } })),
        )
            .into_response(),
    }
}
