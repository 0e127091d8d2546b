//! Catalogue, prices, stock and customers, read through from the tenant's ERP with the
//! connector's own change cursors: a caller polls with `next_cursor` and gets only
//! what changed, as Kontor's flows do.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Json;
use kontor_flows::FlowKind;
use kontor_model::{Customer, Price, Product, StockLevel};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::tenant::query;
use super::{Caller, Page, PageQuery, connector_error, source, start_cursor};
use crate::auth::Role;
use crate::server::ServerState;
use crate::server::error::ApiError;

/// Products with their variants, changed since the cursor.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/products", tag = "catalogue",
    params(("tenant" = String, Path, description = "Tenant id"), PageQuery),
    responses(
        (status = 200, body = Page<Product>),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 502, description = "The ERP failed", body = super::ErrorBody),
    ))]
pub(super) async fn products(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<Product>>, ApiError> {
    let live = caller.live_tenant(&state, Role::ShopIntegration, &tenant)?;
    let page = query(page)?;
    let (connection, catalogue) = source(
        &live,
        page.connection.as_deref(),
        FlowKind::Catalogue,
        |c| c.catalogue_source(),
    )?;
    let start = start_cursor(&page, &connection, |since| catalogue.cursor_at(since))?;
    let changes = catalogue
        .products_changed(start.as_deref(), page.limit()?)
        .await
        .map_err(|e| connector_error(&connection, e))?;
    Ok(Json(Page::from_changes(changes, start)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ConnectionQuery {
    /// Which of the tenant's connections to read; by default the ERP.
    connection: Option<String>,
}

/// One product as the ERP has it now.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/products/{code}", tag = "catalogue",
    params(("tenant" = String, Path, description = "Tenant id"), ("code" = String, Path, description = "The product's code"), ConnectionQuery),
    responses(
        (status = 200, body = Product),
        (status = 404, body = super::ErrorBody),
        (status = 502, body = super::ErrorBody),
    ))]
pub(super) async fn product(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, code)): Path<(String, String)>,
    named: Result<Query<ConnectionQuery>, QueryRejection>,
) -> Result<Json<Product>, ApiError> {
    let live = caller.live_tenant(&state, Role::ShopIntegration, &tenant)?;
    let named = query(named)?;
    let (connection, catalogue) = source(
        &live,
        named.connection.as_deref(),
        FlowKind::Catalogue,
        |c| c.catalogue_source(),
    )?;
    let product = catalogue
        .get_product(&code)
        .await
        .map_err(|e| connector_error(&connection, e))?;
    Ok(Json(product))
}

/// Prices (base, price lists, customer groups, customers, promotions) changed since the
/// cursor.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/prices", tag = "catalogue",
    params(("tenant" = String, Path, description = "Tenant id"), PageQuery),
    responses(
        (status = 200, body = Page<Price>),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 502, body = super::ErrorBody),
    ))]
pub(super) async fn prices(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<Price>>, ApiError> {
    let live = caller.live_tenant(&state, Role::ShopIntegration, &tenant)?;
    let page = query(page)?;
    let (connection, prices) = source(&live, page.connection.as_deref(), FlowKind::Prices, |c| {
        c.price_source()
    })?;
    let start = start_cursor(&page, &connection, |since| prices.cursor_at(since))?;
    let changes = prices
        .prices_changed(start.as_deref(), page.limit()?)
        .await
        .map_err(|e| connector_error(&connection, e))?;
    Ok(Json(Page::from_changes(changes, start)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct StockQuery {
    /// The stock of these SKUs now, in every warehouse (comma-separated); without it,
    /// the levels changed since the cursor.
    sku: Option<String>,
    /// Continue from a previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only what changed at or after this time (RFC 3339); ignored with `cursor`.
    updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many items (1–500, default 100).
    limit: Option<u32>,
    /// Which of the tenant's connections to read; by default the ERP.
    connection: Option<String>,
}

/// Stock per SKU and warehouse: what changed since the cursor, or the current levels
/// of the SKUs asked for.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/stock", tag = "catalogue",
    params(("tenant" = String, Path, description = "Tenant id"), StockQuery),
    responses(
        (status = 200, body = Page<StockLevel>),
        (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 502, body = super::ErrorBody),
    ))]
pub(super) async fn stock(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    stock: Result<Query<StockQuery>, QueryRejection>,
) -> Result<Json<Page<StockLevel>>, ApiError> {
    let live = caller.live_tenant(&state, Role::ShopIntegration, &tenant)?;
    let StockQuery {
        sku,
        cursor,
        updated_since,
        limit,
        connection,
    } = query(stock)?;
    let page = PageQuery {
        cursor,
        updated_since,
        limit,
        connection,
    };
    let (connection, levels) = source(&live, page.connection.as_deref(), FlowKind::Stock, |c| {
        c.stock_source()
    })?;
    if let Some(skus) = &sku {
        let skus: Vec<String> = skus
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if skus.is_empty() || skus.len() > 500 {
            return Err(ApiError::bad_request(
                "invalid_query",
                "sku",
                "name between 1 and 500 SKUs",
            ));
        }
        let items = levels
            .stock_of(&skus)
            .await
            .map_err(|e| connector_error(&connection, e))?;
        return Ok(Json(Page {
            items,
            next_cursor: None,
            more: false,
        }));
    }
    let start = start_cursor(&page, &connection, |since| levels.cursor_at(since))?;
    let changes = levels
        .stock_changed(start.as_deref(), page.limit()?)
        .await
        .map_err(|e| connector_error(&connection, e))?;
    Ok(Json(Page::from_changes(changes, start)))
}

/// A customer with its id in the ERP.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ErpCustomer {
    id: String,
    customer: Customer,
}

/// B2B customers (terms, credit limits, balances) changed since the cursor.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/customers", tag = "customers",
    params(("tenant" = String, Path, description = "Tenant id"), PageQuery),
    responses(
        (status = 200, body = Page<ErpCustomer>),
        (status = 400, body = super::ErrorBody),
        (status = 403, description = "Needs the viewer role", body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
        (status = 502, body = super::ErrorBody),
    ))]
pub(super) async fn customers(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<ErpCustomer>>, ApiError> {
    let live = caller.live_tenant(&state, Role::Viewer, &tenant)?;
    let page = query(page)?;
    let start = page.cursor_from_start("customers")?;
    let (connection, customers) = source(
        &live,
        page.connection.as_deref(),
        FlowKind::Customers,
        |c| c.customer_source(),
    )?;
    let changes = customers
        .customers_changed(start.as_deref(), page.limit()?)
        .await
        .map_err(|e| connector_error(&connection, e))?;
    let changes = kontor_connector::Changes {
        items: changes
            .items
            .into_iter()
            .map(|c| ErpCustomer {
                id: c.id,
                customer: c.customer,
            })
            .collect(),
        cursor: changes.cursor,
        more: changes.more,
    };
    Ok(Json(Page::from_changes(changes, start)))
}
