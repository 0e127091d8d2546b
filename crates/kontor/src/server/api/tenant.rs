//! One tenant's status, sales report, and the links of its entities.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use chrono::NaiveDate;
use kontor_engine::Link;
use kontor_flows::reports::{Breakdown, SalesReport};
use serde::Deserialize;
use utoipa::IntoParams;

use super::Caller;
use crate::auth::Role;
use crate::server::ServerState;
use crate::server::error::ApiError;
use crate::status::Status;

/// A query that did not parse, as a structured error.
pub(super) fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|rejection| ApiError::bad_request("invalid_query", "query", rejection.body_text()))
}

/// The tenant's flows with their cursors, and its queue.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/status", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, body = Status),
        (status = 401, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn tenant_status(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Status>, ApiError> {
    caller.tenant(&state, Role::Viewer, &tenant)?;
    Ok(Json(state.app.status_of(|t| t == tenant).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SalesQuery {
    /// First day (UTC), inclusive.
    from: NaiveDate,
    /// Last day (UTC), inclusive.
    to: NaiveDate,
    /// `json` (default), or `csv` broken down `by`.
    format: Option<String>,
    /// For CSV: `day` (per day and channel, default) or `product`.
    #[param(value_type = Option<String>)]
    by: Option<Breakdown>,
}

/// Sales per channel and day, per product, and totals, from the orders Kontor imported.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/reports/sales", tag = "operations",
    params(("tenant" = String, Path, description = "Tenant id"), SalesQuery),
    responses(
        (status = 200, body = SalesReport, description = "The report; as text/csv with `format=csv`"),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn sales_report(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    sales: Result<Query<SalesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.tenant(&state, Role::Viewer, &tenant)?;
    let sales = query(sales)?;
    if sales.to < sales.from {
        return Err(ApiError::bad_request(
            "invalid_range",
            "to",
            format!("`to` ({}) is before `from` ({})", sales.to, sales.from),
        ));
    }
    let csv = match sales.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "format",
                format!("format is json or csv, not {other}"),
            ));
        }
    };
    let report =
        kontor_flows::reports::sales_report(&state.app.store, &tenant, sales.from, sales.to)
            .await?;
    if csv {
        let by = sales.by.unwrap_or_default();
        let name = format!(
            "attachment; filename=\"sales-{tenant}-{}-{}-{}.csv\"",
            sales.from,
            sales.to,
            match by {
                Breakdown::Day => "day",
                Breakdown::Product => "product",
            }
        );
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, name),
            ],
            report.csv(by),
        )
            .into_response());
    }
    Ok(Json(report).into_response())
}

/// Where one entity lives in each system: its external ids, and what was last sent.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/links/{kind}/{entity_id}", tag = "operations",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("kind" = String, Path, description = "Entity kind: `order`, `variant`, `customer`, …"),
        ("entity_id" = String, Path, description = "Kontor's id of the entity (an order's number, a variant's SKU)"),
    ),
    responses(
        (status = 200, body = Vec<Link>),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn entity_links(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, kind, entity_id)): Path<(String, String, String)>,
) -> Result<Json<Vec<Link>>, ApiError> {
    caller.tenant(&state, Role::Viewer, &tenant)?;
    let links = state
        .app
        .store
        .links_of_entity(&tenant, &kind, &entity_id)
        .await?;
    if links.is_empty() {
        return Err(ApiError::not_found(format!("{kind} `{entity_id}`")));
    }
    Ok(Json(links))
}
