//! Kontor's own REST API under `/api/v1`, described by an OpenAPI 3.1 document built
//! from these handlers (`GET /api/v1/openapi.json`, browsable at `/api/docs`).
//!
//! Every route but health, readiness, metrics and webhook intake needs a caller (an
//! OIDC token or an API key) and, under `/api/v1/tenants/{tenant}`, acts for that one
//! tenant only: a tenant the caller does not act for reads as not found.

mod body;
mod config;
mod documents;
mod jobs;
mod keys;
mod orders;
mod overview;
mod people;
mod reads;
mod system;
mod tenant;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ServerState;
use super::error::ApiError;
use crate::app::LiveTenant;
use crate::auth::Role;
use crate::server::principal::Principal;

pub use orders::ORDER_INBOX_KIND;
pub(crate) use people::start_session;
pub use people::{SignInLimiter, sign_in_limiter};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kontor API",
        description = "Read ERP data, hand orders over, and operate Kontor's integrations. \
                       Amounts are decimal strings, times RFC 3339 in UTC. Errors are \
                       `{\"error\": {\"code\", \"message\", \"field\"}}` with a stable code."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "system", description = "Health, readiness, metrics and status"),
        (name = "webhooks", description = "Deliveries from shops and ERPs"),
        (name = "catalogue", description = "Products, prices and stock, read from the ERP"),
        (name = "customers", description = "B2B customers, read from the ERP"),
        (name = "documents", description = "Orders submitted through Kontor, invoices and shipments"),
        (name = "operations", description = "Jobs, links, reports"),
        (name = "configuration", description = "Connections and mappings, as the console edits them"),
        (name = "access", description = "Signing in, accounts and API keys"),
    )
)]
struct ApiDoc;

/// Bearer credentials: an OIDC access token or a Kontor API key (`kontor_…`).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(
            "An access token from the configured OIDC issuer, or an API key made with \
             `kontor keys create`."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// Every route with its OpenAPI description.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::health))
        .routes(routes!(system::ready))
        .routes(routes!(system::metrics))
        .routes(routes!(system::status))
        .routes(routes!(super::hooks::receive))
        .routes(routes!(tenant::tenant_status))
        .routes(routes!(tenant::sales_report))
        .routes(routes!(tenant::entity_links))
        .routes(routes!(overview::dashboard))
        .routes(routes!(overview::inbox))
        .routes(routes!(overview::retry_parked))
        .routes(routes!(overview::search_entities))
        .routes(routes!(overview::entity))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(jobs::skip_job))
        .routes(routes!(jobs::edit_and_retry_job))
        .routes(routes!(config::get_config))
        .routes(routes!(config::put_mappings))
        .routes(routes!(config::put_connection, config::delete_connection))
        .routes(routes!(config::test_connection))
        .routes(routes!(
            people::sign_in,
            people::current_session,
            people::sign_out
        ))
        .routes(routes!(people::list_users))
        .routes(routes!(people::put_user, people::delete_user))
        .routes(routes!(keys::list_keys, keys::create_key))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(reads::products))
        .routes(routes!(reads::product))
        .routes(routes!(reads::prices))
        .routes(routes!(reads::stock))
        .routes(routes!(reads::customers))
        .routes(routes!(documents::invoices))
        .routes(routes!(documents::invoice_pdf))
        .routes(routes!(documents::shipments))
        .routes(routes!(orders::submit_order, orders::imported_orders))
        .routes(routes!(orders::get_submitted_order))
}

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

/// An error answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable, for programs: `unauthenticated`, `invalid_token`, `forbidden`,
    /// `not_found`, `invalid_query`, `invalid_body`, `idempotency_conflict`, …
    code: String,
    /// For people.
    message: String,
    /// The parameter or body field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    /// More, for some codes: `invalid_config` lists every problem as `{key, message}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    details: Option<serde_json::Value>,
}

/// One page of a list. Keep `next_cursor` to continue later: a later call with it
/// returns only what changed since.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent when there is nothing to continue from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// More items are waiting beyond this page.
    pub more: bool,
}

/// Paging and filtering of lists read from a system.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Continue from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Only what changed at or after this time (RFC 3339); ignored with `cursor`.
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many items (1–500, default 100).
    pub limit: Option<u32>,
    /// Which of the tenant's connections to read; by default the source of the
    /// tenant's flow for this data (the ERP).
    pub connection: Option<String>,
}

impl PageQuery {
    /// The cursor of a read from a source that only pages from the start (it cannot
    /// honour `updated_since`).
    pub fn cursor_from_start(&self, what: &str) -> Result<Option<String>, ApiError> {
        if self.updated_since.is_some() && self.cursor.is_none() {
            return Err(ApiError::bad_request(
                "updated_since_unsupported",
                "updated_since",
                format!("{what} are read from the start; keep the cursor"),
            ));
        }
        Ok(self.cursor.clone())
    }

    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(100),
            Some(n @ 1..=500) => Ok(n as usize),
            Some(n) => Err(ApiError::bad_request(
                "invalid_query",
                "limit",
                format!("limit must be between 1 and 500, not {n}"),
            )),
        }
    }
}

/// The address a request comes from (the TCP peer; behind a reverse proxy, the
/// proxy's), when the server knows it.
pub struct PeerAddress(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddress(peer(parts)))
    }
}

fn peer(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// The caller of a request, authenticated.
pub struct Caller(pub Principal);

impl FromRequestParts<ServerState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let peer = peer(parts);
        let principal = state
            .auth
            .authenticate(&parts.headers, &parts.method, peer)
            .await?;
        Ok(Caller(principal))
    }
}

impl std::ops::Deref for Caller {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl Caller {
    /// The tenant, if the caller acts for it with at least `role` and it exists: running
    /// (`Some`), or configured but not running (`None`).
    pub fn tenant(
        &self,
        state: &ServerState,
        role: Role,
        tenant: &str,
    ) -> Result<Option<Arc<LiveTenant>>, ApiError> {
        self.0.may(role, tenant)?;
        let tenants = state.app.tenants();
        match tenants.get(tenant) {
            Some(live) => Ok(Some(live.clone())),
            None if tenants.broken.contains_key(tenant) => Ok(None),
            None => Err(ApiError::not_found(format!("tenant `{tenant}`"))),
        }
    }

    /// The running tenant (its connections are needed), if the caller may act for it.
    pub fn live_tenant(
        &self,
        state: &ServerState,
        role: Role,
        tenant: &str,
    ) -> Result<Arc<LiveTenant>, ApiError> {
        self.tenant(state, role, tenant)?.ok_or_else(|| {
            ApiError::unavailable(
                "tenant_not_running",
                format!("tenant `{tenant}` is not running: its configuration has problems"),
            )
        })
    }
}

/// A connector error as an API error: the system's refusals are the request's fault,
/// everything else a gateway problem.
pub(crate) fn connector_error(
    connection: &str,
    error: kontor_connector::ConnectorError,
) -> ApiError {
    use axum::http::StatusCode;
    use kontor_connector::ConnectorError;
    match error {
        ConnectorError::NotFound { what } => ApiError::not_found(what),
        ConnectorError::InvalidCursor(message) => {
            ApiError::bad_request("invalid_cursor", "cursor", format!("cursor: {message}"))
        }
        other if other.is_transient() => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "system_unavailable",
            format!("connection `{connection}`: {other}"),
        ),
        other => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "system_error",
            format!("connection `{connection}`: {other}"),
        ),
    }
}

/// The connection a read goes to, and its port: the one the request names, else the
/// source of the tenant's flow of `kind` (the ERP it syncs from), else the only
/// connection that offers the port.
pub(crate) fn source<T: ?Sized>(
    live: &LiveTenant,
    named: Option<&str>,
    kind: kontor_flows::FlowKind,
    port: impl Fn(&dyn kontor_connector::Connector) -> Option<std::sync::Arc<T>>,
) -> Result<(String, std::sync::Arc<T>), ApiError> {
    let offer = |name: &str| {
        live.connections
            .get(name)
            .and_then(|connector| port(connector.as_ref()))
            .map(|found| (name.to_owned(), found))
    };
    if let Some(name) = named {
        if !live.connections.contains_key(name) {
            return Err(ApiError::bad_request(
                "unknown_connection",
                "connection",
                format!("the tenant has no connection `{name}`"),
            ));
        }
        return offer(name).ok_or_else(|| {
            ApiError::bad_request(
                "not_offered",
                "connection",
                format!("connection `{name}` does not offer {kind} data"),
            )
        });
    }
    if let Some(found) = live
        .flows
        .iter()
        .map(|built| built.flow.context())
        .filter(|ctx| ctx.kind == kind)
        .find_map(|ctx| offer(&ctx.from))
    {
        return Ok(found);
    }
    let mut offering = live.connections.keys().filter_map(|name| offer(name));
    match (offering.next(), offering.next()) {
        (Some(found), None) => Ok(found),
        (None, _) => Err(ApiError::not_found(format!(
            "no connection of this tenant offers {kind} data"
        ))),
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "ambiguous_connection",
            "connection",
            format!("several connections offer {kind} data; name one with `connection`"),
        )),
    }
}

/// Where a read starts: the caller's cursor, else the source's cursor for
/// `updated_since`, else the beginning.
pub(crate) fn start_cursor(
    query: &PageQuery,
    connection: &str,
    cursor_at: impl Fn(chrono::DateTime<chrono::Utc>) -> Option<String>,
) -> Result<Option<String>, ApiError> {
    match (&query.cursor, query.updated_since) {
        (Some(cursor), _) => Ok(Some(cursor.clone())),
        (None, None) => Ok(None),
        (None, Some(since)) => cursor_at(since).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                "updated_since_unsupported",
                "updated_since",
                format!(
                    "connection `{connection}` cannot tell what changed since a time; read from the start and keep the cursor"
                ),
            )
        }),
    }
}

impl<T> Page<T> {
    pub(crate) fn from_changes(
        changes: kontor_connector::Changes<T>,
        started: Option<String>,
    ) -> Page<T> {
        Page {
            items: changes.items,
            // Nothing read keeps the old cursor, so a poller can come back with it.
            next_cursor: changes.cursor.or(started),
            more: changes.more,
        }
    }
}
