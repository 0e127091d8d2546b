//! Order submission: a shop without a connector of its own hands an order over, and
//! the tenant's orders flow takes it to the ERP like any shop's order. The
//! `Idempotency-Key` header makes a retry safe: the same key and body return the first
//! submission; the same key with a different body is refused.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Json;
use kontor_connectors::inbox::KIND;
use kontor_engine::{Link, NewSubmission, Store, Submission, Submitted, content_hash};
use kontor_flows::{Change, kinds};
use kontor_model::{Order, Validate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::parse_json;
use super::tenant::query;
use super::{Caller, Page, PageQuery};
use crate::app::LiveTenant;
use crate::auth::Role;
use crate::server::ServerState;
use crate::server::error::ApiError;

/// The connector kind of connections that take orders through the API.
pub const ORDER_INBOX_KIND: &str = KIND;

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct InboxQuery {
    /// The tenant's `api` connection to submit to, if it has several.
    connection: Option<String>,
}

/// A submitted order, and where it is now.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SubmittedOrder {
    /// The order's id, as submitted.
    id: String,
    number: String,
    connection: String,
    submitted_at: chrono::DateTime<chrono::Utc>,
    /// `submitted` until the ERP has it, then `in_erp`.
    state: &'static str,
    /// The order's ids in each system, once the orders flow has written it.
    links: Vec<Link>,
}

/// Submits an order. Kontor answers once the order is safely kept; the ERP document
/// follows through the tenant's orders flow, looked up by the order's number first so
/// it is created once.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/orders", tag = "documents",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("Idempotency-Key" = String, Header, description = "Unique per order; send the same again when retrying"),
        InboxQuery,
    ),
    request_body = Order,
    responses(
        (status = 201, description = "Accepted", body = SubmittedOrder),
        (status = 200, description = "A retry: the first submission", body = SubmittedOrder),
        (status = 400, description = "No Idempotency-Key, or an invalid order (the field is named)", body = super::ErrorBody),
        (status = 403, body = super::ErrorBody),
        (status = 404, description = "No such tenant, or it takes no orders through the API", body = super::ErrorBody),
        (status = 409, description = "The key was used for another order, or the order was submitted under another key", body = super::ErrorBody),
    ))]
pub(super) async fn submit_order(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    inbox: Result<Query<InboxQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SubmittedOrder>), ApiError> {
    let live = caller.live_tenant(&state, Role::ShopIntegration, &tenant)?;
    let connection = inbox_connection(&live, query(inbox)?.connection.as_deref())?;
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_required",
                IDEMPOTENCY_KEY,
                "send an Idempotency-Key header (1–255 characters), the same on every retry of this order",
            )
        })?
        .to_owned();
    let order: Order = parse_json(&headers, body)?;
    if let Err(errors) = order
        .validate()
        .and_then(|()| kontor_model::submission::check(&order))
    {
        let first = errors.0.first();
        return Err(ApiError::bad_request(
            "invalid_order",
            first.map_or("body", |e| e.field.as_str()),
            errors.to_string(),
        ));
    }
    // Its import is enqueued with it: faster than the next poll of the inbox, which
    // would find it anyway.
    let import = state.app.jobs_for(
        &tenant,
        &Change {
            connection: connection.clone(),
            entity: kinds::ORDER.to_owned(),
            external_id: order.id.clone(),
        },
    );
    // Kept as the order reads (what Kontor will import), and told apart from another
    // order by the hash of that: a retry that only reorders or respaces its fields is
    // the same submission.
    let text = serde_json::to_string(&order)
        .map_err(|e| ApiError::unavailable("order_unwritable", e.to_string()))?;
    let submitted = state
        .app
        .store
        .submit_order(
            &NewSubmission {
                tenant: &tenant,
                connection: &connection,
                order_id: &order.id,
                idempotency_key: &key,
                request_hash: &content_hash(&order),
                body: &text,
            },
            import,
        )
        .await?;
    let (status, submission) = match submitted {
        Submitted::Accepted(submission) => {
            tracing::info!(message = "Order submitted through the API.", %tenant, %connection, order = %order.number, by = %caller.subject);
            // Just stored: nothing is linked to it yet, so nothing is looked up.
            return Ok((StatusCode::CREATED, Json(summary(submission, Vec::new()))));
        }
        Submitted::Replayed(submission) => (StatusCode::OK, submission),
        Submitted::KeyReused(first) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                format!(
                    "Idempotency-Key `{key}` was used for order `{}` with a different body; use a new key for a new order",
                    first.order_id
                ),
            )
            .with_field(IDEMPOTENCY_KEY));
        }
        Submitted::AlreadySubmitted(first) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_submitted",
                format!(
                    "order `{}` was submitted at {} under another Idempotency-Key",
                    first.order_id,
                    first.submitted_at.to_rfc3339()
                ),
            )
            .with_field("id"));
        }
    };
    Ok((status, Json(view(&state.app.store, submission).await?)))
}

/// An order Kontor has imported, from any shop or the API, as it last saw it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ImportedOrder {
    /// Kontor's id for the order (see its links).
    entity_id: String,
    /// The connection the order came from.
    channel: String,
    #[schema(value_type = Order)]
    order: serde_json::Value,
    /// The ERP document made for it: id, number, total.
    #[schema(value_type = Object)]
    erp: serde_json::Value,
    updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Orders Kontor has imported, in Kontor's id order, from its synced state.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/orders", tag = "documents",
    params(("tenant" = String, Path, description = "Tenant id"), PageQuery),
    responses(
        (status = 200, body = Page<ImportedOrder>),
        (status = 400, body = super::ErrorBody),
        (status = 403, description = "Needs the viewer role", body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn imported_orders(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<ImportedOrder>>, ApiError> {
    caller.tenant(&state, Role::Viewer, &tenant)?;
    let page = query(page)?;
    let start = page.cursor_from_start("orders")?;
    let limit = page.limit()?;
    let records = state
        .app
        .store
        .list_entities(&tenant, kinds::ORDER, start.as_deref(), limit as u32)
        .await?;
    let more = records.len() == limit;
    let next_cursor = records.last().map(|r| r.id.clone()).or(start);
    let items = records
        .into_iter()
        .map(|mut record| ImportedOrder {
            entity_id: record.id,
            channel: record.data["channel"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            order: record.data["order"].take(),
            erp: record.data["erp"].take(),
            updated_at: record.updated_at,
        })
        .collect();
    Ok(Json(Page {
        items,
        next_cursor,
        more,
    }))
}

/// A submitted order, and its links once it reached the ERP.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/orders/{order_id}", tag = "documents",
    params(("tenant" = String, Path, description = "Tenant id"), ("order_id" = String, Path, description = "The order's id, as submitted"), InboxQuery),
    responses(
        (status = 200, body = SubmittedOrder),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn get_submitted_order(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, order_id)): Path<(String, String)>,
    inbox: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<Json<SubmittedOrder>, ApiError> {
    let live = caller.live_tenant(&state, Role::ShopIntegration, &tenant)?;
    let connection = inbox_connection(&live, query(inbox)?.connection.as_deref())?;
    let submission = state
        .app
        .store
        .submitted_order(&tenant, &connection, &order_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("submitted order `{order_id}`")))?;
    Ok(Json(view(&state.app.store, submission).await?))
}

async fn view(store: &Store, submission: Submission) -> Result<SubmittedOrder, ApiError> {
    let links = store
        .links_alongside(
            &submission.tenant,
            kinds::ORDER,
            &submission.connection,
            &submission.order_id,
        )
        .await?;
    Ok(summary(submission, links))
}

fn summary(submission: Submission, links: Vec<Link>) -> SubmittedOrder {
    /// Only the number, read without building the rest.
    #[derive(Deserialize)]
    struct Numbered {
        number: String,
    }
    let number = serde_json::from_str::<Numbered>(&submission.body)
        .map(|n| n.number)
        .unwrap_or_default();
    SubmittedOrder {
        id: submission.order_id,
        number,
        state: if links.iter().any(|l| l.system != submission.connection) {
            "in_erp"
        } else {
            "submitted"
        },
        connection: submission.connection,
        submitted_at: submission.submitted_at,
        links,
    }
}

/// The tenant's `api` connection: the one named, or the only one.
fn inbox_connection(live: &LiveTenant, named: Option<&str>) -> Result<String, ApiError> {
    let inboxes: Vec<&String> = live
        .connections
        .iter()
        .filter(|(_, c)| c.kind() == KIND)
        .map(|(name, _)| name)
        .collect();
    match (named, inboxes.as_slice()) {
        (Some(name), _) if inboxes.iter().any(|n| *n == name) => Ok(name.to_owned()),
        (Some(name), _) => Err(ApiError::bad_request(
            "unknown_connection",
            "connection",
            format!("the tenant has no `api` connection `{name}`"),
        )),
        (None, [only]) => Ok((*only).clone()),
        (None, []) => Err(ApiError::not_found(
            "a connection that takes orders: add one of type `api` to the tenant".to_owned(),
        )),
        (None, _) => Err(ApiError::bad_request(
            "ambiguous_connection",
            "connection",
            "the tenant has several `api` connections; name one with `connection`",
        )),
    }
}
