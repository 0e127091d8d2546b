//! Invoices (with their PDFs) and shipments issued by the tenant's ERP.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use kontor_flows::{FlowKind, kinds};
use kontor_model::{Invoice, Shipment};

use super::tenant::query;
use super::{Caller, Page, PageQuery, connector_error, source};
use crate::auth::Role;
use crate::server::ServerState;
use crate::server::error::ApiError;

/// Invoices, receipts and credit notes issued since the cursor.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/invoices", tag = "documents",
    params(("tenant" = String, Path, description = "Tenant id"), PageQuery),
    responses(
        (status = 200, body = Page<Invoice>),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 502, body = super::ErrorBody),
    ))]
pub(super) async fn invoices(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<Invoice>>, ApiError> {
    let live = caller.live_tenant(&state, Role::Viewer, &tenant)?;
    let page = query(page)?;
    let start = page.cursor_from_start("invoices")?;
    let (connection, invoices) =
        source(&live, page.connection.as_deref(), FlowKind::Invoices, |c| {
            c.invoice_source()
        })?;
    let changes = invoices
        .invoices_changed(start.as_deref(), page.limit()?)
        .await
        .map_err(|e| connector_error(&connection, e))?;
    Ok(Json(Page::from_changes(changes, start)))
}

/// The PDF of an invoice Kontor has synced, fetched from the ERP.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/invoices/{number}/pdf", tag = "documents",
    params(("tenant" = String, Path, description = "Tenant id"), ("number" = String, Path, description = "The invoice's number, URL-encoded (`FV%2F12%2F2026`)")),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf", body = Vec<u8>),
        (status = 404, description = "No such invoice has been synced", body = super::ErrorBody),
        (status = 502, body = super::ErrorBody),
    ))]
pub(super) async fn invoice_pdf(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let live = caller.live_tenant(&state, Role::Viewer, &tenant)?;
    let record = state
        .app
        .store
        .get_entity(&tenant, kinds::ERP_INVOICE, &number)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("invoice `{number}` (not synced yet?)")))?;
    let invoice: Invoice = serde_json::from_value(record.data).map_err(|e| {
        ApiError::unavailable("store_unreadable", format!("invoice `{number}`: {e}"))
    })?;
    let (connection, invoices) = source(&live, None, FlowKind::Invoices, |c| c.invoice_source())?;
    let pdf = invoices
        .invoice_pdf(&invoice)
        .await
        .map_err(|e| connector_error(&connection, e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}.pdf\"",
                    number.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
                ),
            ),
        ],
        pdf,
    )
        .into_response())
}

/// Shipments (deliveries with carrier and tracking) made since the cursor.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/shipments", tag = "documents",
    params(("tenant" = String, Path, description = "Tenant id"), PageQuery),
    responses(
        (status = 200, body = Page<Shipment>),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 502, body = super::ErrorBody),
    ))]
pub(super) async fn shipments(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<Shipment>>, ApiError> {
    let live = caller.live_tenant(&state, Role::Viewer, &tenant)?;
    let page = query(page)?;
    let start = page.cursor_from_start("shipments")?;
    let (connection, shipments) = source(
        &live,
        page.connection.as_deref(),
        FlowKind::Shipments,
        |c| c.shipment_source(),
    )?;
    let changes = shipments
        .shipments_changed(start.as_deref(), page.limit()?)
        .await
        .map_err(|e| connector_error(&connection, e))?;
    Ok(Json(Page::from_changes(changes, start)))
}
