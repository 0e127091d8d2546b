//! The admin console, served by `kontor run` itself: a page and its scripts and styles,
//! embedded in the binary, that work through the same API as everyone else (so a viewer
//! who finds a hidden button still meets the API's refusal). People sign in with a
//! local account (`POST /api/v1/session`) or through the OIDC issuer (`oidc.rs`).

mod oidc;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use super::ServerState;

/// The console's files (`crates/kontor/console/`).
#[derive(RustEmbed)]
#[folder = "console/"]
struct Assets;

pub fn routes() -> Router<ServerState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/assets/{*file}", get(asset))
        .route("/console/auth/oidc", get(oidc::start))
        .route("/console/auth/callback", get(oidc::callback))
        .route("/console/", get(page))
        .route("/console/{*route}", get(page))
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "text/html; charset=utf-8",
    }
}

/// Headers every console answer carries: its own files only, never framed by another
/// site.
fn guarded(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn file(path: &str, content_type: &'static str) -> Response {
    match Assets::get(path) {
        Some(found) => guarded(
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                found.data.into_owned(),
            )
                .into_response(),
        ),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

async fn asset(Path(name): Path<String>) -> Response {
    file(&format!("assets/{name}"), content_type(&name))
}

/// Every console route is the one page; its script shows the route.
async fn page() -> Response {
    file("index.html", "text/html; charset=utf-8")
}
