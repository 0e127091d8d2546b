//! Signing in to the console, and the local accounts people sign in with.
//!
//! A sign-in (`POST /api/v1/session`, or through the OIDC issuer) starts a session: an
//! HttpOnly cookie, of which the store keeps only a hash, and a CSRF token the console
//! sends with every change. Accounts are managed by admins, each within the tenants they
//! act for.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, Utc};
use kontor_engine::{SessionRecord, UserRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Caller;
use super::body::body;
use crate::auth::accounts::{
    PasswordError, decoy_hash, hash_password, person_role, random_token, valid_username,
    verify_password,
};
use crate::auth::{Role, Tenants, session_hash};
use crate::server::ServerState;
use crate::server::error::ApiError;
use crate::server::principal::{SESSION_COOKIE, Via, session_cookie};

/// Sign-in attempts allowed per source address and account name each minute.
const SIGN_INS_PER_MINUTE: u32 = 10;
/// Sign-ins checked per second and processor core, whoever makes them.
const SIGN_INS_PER_SECOND_PER_CORE: u32 = 10;
/// Past this many (address, account) pairs, the ones whose limit has recovered are
/// forgotten, so made-up names cannot grow memory.
const REMEMBERED_PAIRS: usize = 10_000;

/// What stands between an anonymous sign-in and the password hash: a global rate, a
/// limit per source address and account (so a stranger elsewhere cannot lock an
/// operator out), and a pool as large as the machine has cores for the hashing itself
/// (each Argon2id check takes ~19 MiB; unbounded, parallel attempts took gigabytes).
pub struct SignInLimiter {
    overall: governor::DefaultDirectRateLimiter,
    per_source: governor::DefaultKeyedRateLimiter<(Option<IpAddr>, String)>,
    hashing: tokio::sync::Semaphore,
}

impl SignInLimiter {
    /// Whether an attempt from `source` for `username` may go on to the password check.
    fn admit(&self, source: Option<IpAddr>, username: &str) -> Result<(), ApiError> {
        if self.overall.check().is_err() {
            tracing::warn!(message = "Sign-ins refused: too many attempts overall.");
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many sign-in attempts; wait a moment",
            ));
        }
        if self.per_source.len() > REMEMBERED_PAIRS {
            self.per_source.retain_recent();
        }
        if self
            .per_source
            .check_key(&(source, username.to_owned()))
            .is_err()
        {
            tracing::warn!(message = "Sign-ins refused: too many attempts.", %username, source = ?source);
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many sign-in attempts for this account from here; wait a minute",
            ));
        }
        Ok(())
    }

    /// Checks `password` against `hash` on the blocking pool, no more at once than
    /// the machine has cores.
    async fn verify(&self, password: String, hash: String) -> bool {
        let Ok(_turn) = self.hashing.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false)
    }
}

pub fn sign_in_limiter() -> Arc<SignInLimiter> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let cores = u32::try_from(cores).unwrap_or(u32::MAX);
    let per_minute = NonZeroU32::new(SIGN_INS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
    let per_second = NonZeroU32::new(SIGN_INS_PER_SECOND_PER_CORE.saturating_mul(cores))
        .unwrap_or(NonZeroU32::MIN);
    Arc::new(SignInLimiter {
        overall: governor::RateLimiter::direct(governor::Quota::per_second(per_second)),
        per_source: governor::RateLimiter::keyed(governor::Quota::per_minute(per_minute)),
        hashing: tokio::sync::Semaphore::new(cores as usize),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SignIn {
    username: String,
    password: String,
}

/// Who is calling, and how.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SessionView {
    /// `user:<name>` for a local account, the token's subject through OIDC, `key:<id>`
    /// for an API key, `local` with local trust.
    subject: String,
    /// `admin`, `operator`, `viewer` or `shop`.
    role: &'static str,
    /// Tenant ids; `*` for every tenant.
    tenants: Vec<String>,
    /// `session` (the console), `token`, `api_key` or `local`.
    via: &'static str,
    /// A session's: send it as `X-CSRF-Token` with every change.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    /// The console offers to sign in through the OIDC issuer.
    oidc_sign_in: bool,
}

fn session_view(session: &SessionRecord, oidc_sign_in: bool) -> SessionView {
    SessionView {
        subject: session.subject.clone(),
        role: Role::from_name(&session.role).map_or("viewer", Role::name),
        tenants: session.tenants.clone(),
        via: Via::Session.name(),
        csrf_token: Some(session.csrf_token.clone()),
        expires_at: Some(session.expires_at),
        oidc_sign_in,
    }
}

/// The `Set-Cookie` value starting (`Some`) or ending (`None`) a session.
pub(crate) fn cookie(state: &ServerState, value: Option<&str>) -> HeaderValue {
    let secure = if state.app.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let text = match value {
        Some(value) => format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            state.app.config.server.auth.session_ttl.as_secs()
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Starts a session for someone whose identity was proven (a password, the issuer).
pub(crate) async fn start_session(
    state: &ServerState,
    subject: String,
    role: Role,
    tenants: &Tenants,
    method: &str,
) -> Result<(SessionRecord, HeaderValue), ApiError> {
    let token = random_token();
    let now = state.app.store.now();
    let ttl = chrono::Duration::from_std(state.app.config.server.auth.session_ttl)
        .unwrap_or(chrono::Duration::hours(12));
    let session = SessionRecord {
        subject,
        role: role.name().to_owned(),
        tenants: tenants.to_list(),
        csrf_token: random_token(),
        method: method.to_owned(),
        created_at: now,
        expires_at: now + ttl,
    };
    state
        .app
        .store
        .create_session(&session_hash(&token), &session)
        .await?;
    tracing::info!(message = "Signed in to the console.", subject = %session.subject, role = %session.role, method);
    Ok((session, cookie(state, Some(&token))))
}

fn refused_sign_in() -> ApiError {
    ApiError::unauthenticated("invalid_credentials", "wrong username or password")
}

/// Signs in with a local account; answers the session and sets its cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "access", security(()),
    request_body = SignIn,
    responses(
        (status = 201, description = "Signed in; the cookie is set", body = SessionView),
        (status = 401, description = "Wrong username or password", body = super::ErrorBody),
        (status = 429, description = "Too many attempts (for this account from this address, or overall); wait", body = super::ErrorBody),
    ))]
pub(super) async fn sign_in(
    State(state): State<ServerState>,
    source: super::PeerAddress,
    request: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body(request)?;
    let username = request.username.trim().to_lowercase();
    state.sign_ins.admit(source.0, &username)?;
    let found = state.app.store.user_with_hash(&username).await?;
    let hash = found
        .as_ref()
        .map_or_else(|| decoy_hash().to_owned(), |(_, hash)| hash.clone());
    let matches = state.sign_ins.verify(request.password, hash).await;
    let Some((user, _)) = found.filter(|_| matches) else {
        tracing::info!(message = "A sign-in was refused.", %username);
        return Err(refused_sign_in());
    };
    let role = Role::from_name(&user.role).ok_or_else(refused_sign_in)?;
    let (session, cookie) = start_session(
        &state,
        format!("user:{}", user.username),
        role,
        &Tenants::from_list(user.tenants),
        "password",
    )
    .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(session_view(&session, state.oidc_sign_in())),
    )
        .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Who the caller is: the console asks this first, to know what to offer.
#[utoipa::path(get, path = "/api/v1/session", tag = "access",
    responses(
        (status = 200, body = SessionView),
        (status = 401, body = super::ErrorBody),
    ))]
pub(super) async fn current_session(
    State(state): State<ServerState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Json<SessionView>, ApiError> {
    if caller.via == Via::Session
        && let Some(cookie) = session_cookie(&headers)
        && let Some(session) = state.app.store.live_session(&session_hash(&cookie)).await?
    {
        return Ok(Json(session_view(&session, state.oidc_sign_in())));
    }
    Ok(Json(SessionView {
        subject: caller.subject.clone(),
        role: caller.role.name(),
        tenants: caller.tenants.to_list(),
        via: caller.via.name(),
        csrf_token: None,
        expires_at: None,
        oidc_sign_in: state.oidc_sign_in(),
    }))
}

/// Signs out: the session ends and its cookie is cleared.
#[utoipa::path(delete, path = "/api/v1/session", tag = "access", security(()),
    responses((status = 204, description = "Signed out")))]
pub(super) async fn sign_out(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    if let Some(cookie) = session_cookie(&headers)
        && let Err(error) = state.app.store.end_session(&session_hash(&cookie)).await
    {
        tracing::warn!(message = "Could not end a session; it lapses by itself.", %error);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, None));
    response
}

/// A local account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UserChange {
    /// Required for a new account; leave it out to keep the password.
    password: Option<String>,
    /// `admin`, `operator` or `viewer`.
    role: String,
    /// Tenant ids; `*` for every tenant (only for an admin of every tenant to give).
    tenants: Vec<String>,
}

/// The accounts the caller may manage: those within its tenants.
#[utoipa::path(get, path = "/api/v1/users", tag = "access",
    responses(
        (status = 200, body = Vec<UserRecord>),
        (status = 403, description = "Needs the admin role", body = super::ErrorBody),
    ))]
pub(super) async fn list_users(
    State(state): State<ServerState>,
    caller: Caller,
) -> Result<Json<Vec<UserRecord>>, ApiError> {
    caller.has(Role::Admin)?;
    let users = state.app.store.users().await?;
    Ok(Json(
        users
            .into_iter()
            .filter(|u| {
                caller
                    .tenants
                    .covers(&Tenants::from_list(u.tenants.clone()))
            })
            .collect(),
    ))
}

/// Creates an account, or changes one's role, tenants or password (which ends its
/// sessions).
#[utoipa::path(put, path = "/api/v1/users/{username}", tag = "access",
    params(("username" = String, Path, description = "Lower-case letters, digits and . _ - @")),
    request_body = UserChange,
    responses(
        (status = 201, description = "Created", body = UserRecord),
        (status = 200, description = "Changed", body = UserRecord),
        (status = 400, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody),
        (status = 404, description = "An account outside the caller's tenants", body = super::ErrorBody),
    ))]
pub(super) async fn put_user(
    State(state): State<ServerState>,
    caller: Caller,
    Path(username): Path<String>,
    change: Result<Json<UserChange>, JsonRejection>,
) -> Result<(StatusCode, Json<UserRecord>), ApiError> {
    caller.has(Role::Admin)?;
    let Json(change) = body(change)?;
    if !valid_username(&username) {
        return Err(ApiError::bad_request(
            "invalid_username",
            "username",
            "a username is 1–64 lower-case letters, digits and . _ - @",
        ));
    }
    let role = person_role(&change.role).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_role",
            "role",
            format!(
                "`{}` is not a role for people: admin, operator or viewer",
                change.role
            ),
        )
    })?;
    let tenants = Tenants::from_list(change.tenants.clone());
    if change.tenants.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "tenants",
            "name the tenants the account acts for",
        ));
    }
    if !caller.tenants.covers(&tenants) {
        return Err(ApiError::forbidden(
            "an account can only be given tenants its admin acts for",
        ));
    }
    let existing = state.app.store.user_with_hash(&username).await?;
    if let Some((user, _)) = &existing
        && !caller
            .tenants
            .covers(&Tenants::from_list(user.tenants.clone()))
    {
        return Err(ApiError::not_found(format!("user `{username}`")));
    }
    let hash = match (change.password, existing) {
        (Some(password), _) => tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| ApiError::unavailable("hashing_failed", e.to_string()))?
            .map_err(|e| match e {
                PasswordError::TooShort => {
                    ApiError::bad_request("weak_password", "password", e.to_string())
                }
                other => ApiError::unavailable("hashing_failed", other.to_string()),
            })?,
        (None, Some((_, hash))) => hash,
        (None, None) => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "password",
                "a new account needs a password",
            ));
        }
    };
    let created = state
        .app
        .store
        .put_user(&username, &hash, role.name(), &tenants.to_list())
        .await?;
    tracing::info!(message = "Account changed.", %username, role = role.name(), created, by = %caller.subject);
    let (user, _) = state
        .app
        .store
        .user_with_hash(&username)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user `{username}`")))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(user)))
}

/// Removes an account and ends its sessions.
#[utoipa::path(delete, path = "/api/v1/users/{username}", tag = "access",
    params(("username" = String, Path, description = "The account")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody),
    ))]
pub(super) async fn delete_user(
    State(state): State<ServerState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.has(Role::Admin)?;
    let visible = state
        .app
        .store
        .user_with_hash(&username)
        .await?
        .is_some_and(|(user, _)| caller.tenants.covers(&Tenants::from_list(user.tenants)));
    if !visible || !state.app.store.delete_user(&username).await? {
        return Err(ApiError::not_found(format!("user `{username}`")));
    }
    tracing::info!(message = "Account removed.", %username, by = %caller.subject);
    Ok(StatusCode::NO_CONTENT)
}
