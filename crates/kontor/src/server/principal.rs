//! Who a request comes from, and what they may touch. Every API request is made by a
//! principal: a person with an OIDC token, a machine with an API key, or — only with
//! `local_trust` — someone on this machine. Each route asks for a role and a tenant;
//! nothing is served across tenants.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, Method, header};
use kontor_engine::Store;

use crate::auth::oidc::{OidcVerifier, TokenError};
use crate::auth::{KEY_PREFIX, Role, Tenants, hash_secret, same, session_hash};
use crate::server::error::ApiError;

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An OIDC access token.
    Token,
    ApiKey,
    /// A console session cookie (signed in with a password or through OIDC).
    Session,
    /// `local_trust`: a request without credentials from this machine.
    Local,
}

impl Via {
    pub fn name(self) -> &'static str {
        match self {
            Via::Token => "token",
            Via::ApiKey => "api_key",
            Via::Session => "session",
            Via::Local => "local",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who: the token's subject, `key:<id>`, `user:<name>`, or `local`.
    pub subject: String,
    pub role: Role,
    pub tenants: Tenants,
    pub via: Via,
}

impl Principal {
    /// Allowed when the principal acts for `tenant` with at least `role`. A tenant it
    /// does not act for reads as not found, so tenants cannot be probed.
    pub fn may(&self, role: Role, tenant: &str) -> Result<(), ApiError> {
        if !self.tenants.contains(tenant) {
            return Err(ApiError::not_found(format!("tenant `{tenant}`")));
        }
        self.has(role)
    }

    /// Allowed when the principal has at least `role` (for what is not one tenant's).
    pub fn has(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role
            && (role == Role::ShopIntegration || self.role != Role::ShopIntegration)
        {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} role; {} has {}",
                role.name(),
                self.subject,
                self.role.name()
            )))
        }
    }
}

/// The console's session cookie, and the header its changes must carry.
pub const SESSION_COOKIE: &str = "kontor_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of the cookie `name` a request sends, if it sends one.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// The session cookie of a request, if it sends one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// Turns a request's credentials into a principal.
pub struct Authenticator {
    pub store: Store,
    pub oidc: Option<Arc<OidcVerifier>>,
    pub local_trust: bool,
}

impl Authenticator {
    /// The caller of a request: a bearer token or API key, else a console session (whose
    /// changes must carry its CSRF token), else — with `local_trust` — this machine.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        method: &Method,
        peer: Option<IpAddr>,
    ) -> Result<Principal, ApiError> {
        let Some(authorization) = headers.get(header::AUTHORIZATION) else {
            if let Some(cookie) = session_cookie(headers) {
                return self.session(&cookie, headers, method).await;
            }
            if self.local_trust && peer.is_some_and(|ip| ip.is_loopback()) {
                return Ok(Principal {
                    subject: "local".into(),
                    role: Role::Admin,
                    tenants: Tenants::All,
                    via: Via::Local,
                });
            }
            return Err(ApiError::unauthenticated(
                "unauthenticated",
                "send `Authorization: Bearer <token or API key>`",
            ));
        };
        let token = authorization
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "invalid_token",
                    "the Authorization header is not `Bearer …`",
                )
            })?;
        match token.strip_prefix(KEY_PREFIX) {
            Some(key) => self.api_key(key).await,
            None => self.oidc_token(token).await,
        }
    }

    async fn api_key(&self, key: &str) -> Result<Principal, ApiError> {
        let refused = || ApiError::unauthenticated("invalid_token", "unknown or revoked API key");
        let (id, secret) = key.split_once('_').ok_or_else(refused)?;
        let (record, hash) = self.store.live_api_key(id).await?.ok_or_else(refused)?;
        if !same(&hash, &hash_secret(secret)) {
            return Err(refused());
        }
        let role = Role::from_name(&record.role).ok_or_else(refused)?;
        Ok(Principal {
            subject: format!("key:{}", record.id),
            role,
            tenants: Tenants::Only(BTreeSet::from([record.tenant])),
            via: Via::ApiKey,
        })
    }

    async fn session(
        &self,
        cookie: &str,
        headers: &HeaderMap,
        method: &Method,
    ) -> Result<Principal, ApiError> {
        let session = self
            .store
            .live_session(&session_hash(cookie))
            .await?
            .ok_or_else(|| {
                ApiError::unauthenticated("session_expired", "sign in again: the session has ended")
            })?;
        let changes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if changes {
            let sent = headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !same(sent, &session.csrf_token) {
                return Err(ApiError::forbidden(format!(
                    "a change made with a session cookie must send its `{CSRF_HEADER}` header"
                ))
                .with_code("csrf_token_missing"));
            }
        }
        let role = Role::from_name(&session.role).ok_or_else(|| {
            ApiError::unauthenticated("session_expired", "sign in again: the session has ended")
        })?;
        Ok(Principal {
            subject: session.subject,
            role,
            tenants: Tenants::from_list(session.tenants),
            via: Via::Session,
        })
    }

    async fn oidc_token(&self, token: &str) -> Result<Principal, ApiError> {
        let oidc = self.oidc.as_ref().ok_or_else(|| {
            ApiError::unauthenticated(
                "invalid_token",
                "no OIDC issuer is configured; use an API key",
            )
        })?;
        let verified = oidc.verify(token).await.map_err(|error| match error {
            TokenError::KeysUnavailable(_) => {
                tracing::warn!(message = "Cannot check a token: the issuer's keys are out of reach.", %error);
                ApiError::unavailable("issuer_unavailable", error.to_string())
            }
            other => {
                tracing::info!(message = "A token was refused.", reason = %other);
                ApiError::unauthenticated("invalid_token", other.to_string())
            }
        })?;
        let role = verified.role.ok_or_else(|| {
            ApiError::forbidden(format!("{} has no Kontor role", verified.subject))
        })?;
        Ok(Principal {
            subject: verified.subject,
            role,
            tenants: Tenants::from_list(verified.tenants),
            via: Via::Token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_cumulative_but_a_shop_key_is_not_an_operator() {
        let principal = |role| Principal {
            subject: "t".into(),
            role,
            tenants: Tenants::Only(BTreeSet::from(["acme".to_owned()])),
            via: Via::ApiKey,
        };
        assert!(principal(Role::Admin).may(Role::Operator, "acme").is_ok());
        assert!(principal(Role::Viewer).may(Role::Operator, "acme").is_err());
        assert!(
            principal(Role::Viewer)
                .may(Role::ShopIntegration, "acme")
                .is_ok()
        );
        assert!(
            principal(Role::ShopIntegration)
                .may(Role::Viewer, "acme")
                .is_err()
        );
        assert_eq!(
            principal(Role::Admin)
                .may(Role::Viewer, "beta")
                .map_err(|e| e.code),
            Err("not_found")
        );
    }
}
