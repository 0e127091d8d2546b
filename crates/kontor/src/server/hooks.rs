//! Webhook intake: `POST /hooks/{tenant}/{connection}`. The connection's connector
//! checks the signature and says what changed; Kontor enqueues the jobs a poll would
//! enqueue for it and answers at once. The work happens on the queue, so a slow ERP
//! never makes a shop's webhook time out, and a repeated webhook finds its job already
//! queued (or the record already synced). Deliveries the system numbers (Shopify,
//! WooCommerce) are also remembered by id for a while, and a repeat is answered
//! `200 {"duplicate": true}` without touching the queue.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use kontor_connector::{WebhookError, WebhookHeaders};
use kontor_flows::Change;
use serde_json::json;

use super::ServerState;

/// How many delivery ids are remembered (per process; after a restart a repeat is
/// still harmless, since flows write idempotently).
const REMEMBERED_DELIVERIES: usize = 100_000;

/// The ids of deliveries already queued, oldest first out.
#[derive(Default)]
pub(super) struct RecentDeliveries(Mutex<(HashSet<String>, VecDeque<String>)>);

impl RecentDeliveries {
    fn seen(&self, key: &str) -> bool {
        self.lock().0.contains(key)
    }

    fn remember(&self, key: String) {
        let mut guard = self.lock();
        let (set, order) = &mut *guard;
        if set.insert(key.clone()) {
            order.push_back(key);
            if order.len() > REMEMBERED_DELIVERIES
                && let Some(oldest) = order.pop_front()
            {
                set.remove(&oldest);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashSet<String>, VecDeque<String>)> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn refuse(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// A delivery from a shop or ERP: the connection's connector checks its signature and
/// says what changed; the jobs a poll would make are queued and the answer is immediate.
#[utoipa::path(post, path = "/hooks/{tenant}/{connection}", tag = "webhooks", security(()),
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("connection" = String, Path, description = "The connection the delivery comes from"),
    ),
    request_body(content = String, description = "The platform's own payload, signed its way", content_type = "application/json"),
    responses(
        (status = 200, description = "Queued (or a repeat: `duplicate: true`)"),
        (status = 401, description = "Missing or wrong signature", body = super::api::ErrorBody),
        (status = 404, description = "No such tenant or connection, or it takes no webhooks: one answer for all three", body = super::api::ErrorBody),
    ))]
pub(crate) async fn receive(
    State(state): State<ServerState>,
    Path((tenant, connection)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Only a connection that takes webhooks names a metric's series: a stranger's
    // made-up paths must not grow /metrics, nor tell which tenants exist.
    let Some(receiver) = state
        .app
        .tenant(&tenant)
        .and_then(|live| live.connections.get(&connection).cloned())
        .and_then(|connector| connector.webhooks())
    else {
        metrics::counter!("kontor_webhooks_unroutable_total").increment(1);
        tracing::debug!(message = "Webhook for no webhook endpoint.", %tenant, %connection);
        return refuse(
            StatusCode::NOT_FOUND,
            "not_found",
            "no webhook endpoint here".to_owned(),
        );
    };
    let count = |outcome: &'static str| {
        metrics::counter!("kontor_webhooks_total", "tenant" => tenant.clone(), "connection" => connection.clone(), "outcome" => outcome).increment(1);
    };
    let headers = WebhookHeaders::new(
        headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
    );
    let notices = match receiver.receive(&headers, &body, chrono::Utc::now()) {
        Ok(notices) => notices,
        Err(WebhookError::Malformed(reason)) => {
            count("malformed");
            tracing::warn!(message = "Webhook not understood.", %tenant, %connection, %reason);
            return refuse(
                StatusCode::BAD_REQUEST,
                "malformed_webhook",
                format!("the webhook is signed but not understood: {reason}"),
            );
        }
        Err(error) => {
            count("refused");
            tracing::warn!(message = "Webhook refused.", %tenant, %connection, reason = %error);
            return refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_signature",
                error.to_string(),
            );
        }
    };
    // Only a verified delivery's id is looked at: a forger cannot make Kontor ignore one.
    let delivery = receiver
        .delivery_id(&headers)
        .map(|id| format!("{tenant}/{connection}/{id}"));
    if let Some(key) = &delivery
        && state.deliveries.seen(key)
    {
        count("duplicate");
        tracing::info!(message = "Repeated webhook delivery ignored.", %tenant, %connection, delivery = %key);
        return (
            StatusCode::OK,
            Json(json!({ "accepted": 0, "jobs": 0, "duplicate": true })),
        )
            .into_response();
    }
    let mut queued = 0;
    for notice in &notices {
        let change = Change {
            connection: connection.clone(),
            entity: notice.entity.clone(),
            external_id: notice.external_id.clone(),
        };
        match state.app.on_change(&tenant, &change).await {
            Ok(outcomes) => queued += outcomes.len(),
            Err(error) => {
                // The sender retries; polling covers it if it gives up.
                count("store_unavailable");
                tracing::error!(message = "Webhook could not be queued.", %tenant, %connection, %error);
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    error.to_string(),
                );
            }
        }
    }
    if let Some(key) = delivery {
        state.deliveries.remember(key);
    }
    count("accepted");
    (
        StatusCode::ACCEPTED,
        Json(json!({ "accepted": notices.len(), "jobs": queued })),
    )
        .into_response()
}
