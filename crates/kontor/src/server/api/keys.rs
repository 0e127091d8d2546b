//! API keys of one tenant (admins): made here or with `kontor keys create`, shown once,
//! stored hashed, revocable.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use kontor_engine::{ApiKeyRecord, NewApiKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Caller;
use super::body::body;
use crate::auth::{Role, mint_key};
use crate::server::ServerState;
use crate::server::error::ApiError;

/// The tenant's keys, revoked ones included (never their secrets).
#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/api-keys", tag = "access",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, body = Vec<ApiKeyRecord>),
        (status = 403, description = "Needs the admin role", body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn list_keys(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<ApiKeyRecord>>, ApiError> {
    caller.tenant(&state, Role::Admin, &tenant)?;
    Ok(Json(state.app.store.api_keys(Some(&tenant)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct NewKeyRequest {
    /// What the key is for, e.g. `b2b portal`.
    name: String,
    /// `shop` (catalogue and order submission), `viewer`, `operator` or `admin`.
    role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct NewKey {
    /// The key. It is shown this once; Kontor keeps only its hash.
    key: String,
    #[serde(flatten)]
    record: ApiKeyRecord,
}

/// Makes a key for a machine acting for this tenant.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/api-keys", tag = "access",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = NewKeyRequest,
    responses(
        (status = 201, body = NewKey),
        (status = 400, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn create_key(
    State(state): State<ServerState>,
    caller: Caller,
    Path(tenant): Path<String>,
    request: Result<Json<NewKeyRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
    caller.tenant(&state, Role::Admin, &tenant)?;
    let Json(request) = body(request)?;
    let role = Role::from_name(&request.role).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_body",
            "role",
            format!(
                "no role `{}`: use shop, viewer, operator or admin",
                request.role
            ),
        )
    })?;
    if request.name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "name",
            "say what the key is for",
        ));
    }
    let minted = mint_key();
    let record = state
        .app
        .store
        .create_api_key(&NewApiKey {
            id: &minted.id,
            secret_hash: &minted.secret_hash,
            tenant: &tenant,
            role: role.name(),
            name: request.name.trim(),
        })
        .await?;
    tracing::info!(message = "API key created.", key_id = %record.id, %tenant, role = role.name(), by = %caller.subject);
    Ok((
        StatusCode::CREATED,
        Json(NewKey {
            key: minted.key,
            record,
        }),
    ))
}

/// Revokes a key: it stops working at once.
#[utoipa::path(delete, path = "/api/v1/tenants/{tenant}/api-keys/{key_id}", tag = "access",
    params(("tenant" = String, Path, description = "Tenant id"), ("key_id" = String, Path, description = "The key's id (the part after `kontor_`)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn revoke_key(
    State(state): State<ServerState>,
    caller: Caller,
    Path((tenant, key_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.tenant(&state, Role::Admin, &tenant)?;
    if state.app.store.revoke_api_key(&key_id, &tenant).await? {
        tracing::info!(message = "API key revoked.", %key_id, %tenant, by = %caller.subject);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("API key `{key_id}`")))
    }
}
