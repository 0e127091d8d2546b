//! Kontor's HTTP server: health, readiness, Prometheus metrics, webhook intake, and the
//! REST API with its OpenAPI document and docs page.

pub mod api;
mod console;
pub mod error;
mod hooks;
pub mod principal;

use std::sync::Arc;

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa_swagger_ui::SwaggerUi;

use crate::app::App;
use crate::auth::OidcVerifier;
use principal::Authenticator;

/// What handlers need: the running app, the metrics recorder, and who may call.
#[derive(Clone)]
pub struct ServerState {
    app: Arc<App>,
    metrics: PrometheusHandle,
    deliveries: Arc<hooks::RecentDeliveries>,
    auth: Arc<Authenticator>,
    /// Sign-in attempts per account name.
    sign_ins: Arc<api::SignInLimiter>,
}

impl ServerState {
    pub fn new(app: Arc<App>, metrics: PrometheusHandle) -> Self {
        let settings = &app.config.server.auth;
        let auth = Authenticator {
            store: app.store.clone(),
            oidc: settings
                .oidc
                .clone()
                .map(|config| Arc::new(OidcVerifier::new(config, reqwest::Client::new()))),
            local_trust: settings.local_trust,
        };
        ServerState {
            app,
            metrics,
            deliveries: Arc::new(hooks::RecentDeliveries::default()),
            auth: Arc::new(auth),
            sign_ins: api::sign_in_limiter(),
        }
    }

    /// People can sign in to the console through the OIDC issuer.
    pub fn oidc_sign_in(&self) -> bool {
        self.app
            .config
            .server
            .auth
            .oidc
            .as_ref()
            .is_some_and(|oidc| oidc.client_id.is_some())
    }
}

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

pub fn router(state: ServerState) -> Router {
    let (routes, openapi) = api::routes().split_for_parts();
    let max_body = state.app.config.server.max_body_bytes;
    // The docs page also serves the document itself, at OPENAPI_PATH.
    routes
        .with_state(state.clone())
        .fallback(|| async { error::ApiError::not_found("no such route") })
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::map_response(error::json_errors))
        .merge(SwaggerUi::new("/api/docs").url(OPENAPI_PATH, openapi))
        .merge(console::routes().with_state(state))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}
