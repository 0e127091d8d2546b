//! OIDC bearer tokens: a JWT signed by the issuer, checked against the issuer's published
//! keys (JWKS) for signature, issuer, audience and expiry. Keys are cached; a token
//! signed with a key id the cache does not know makes one refetch (the issuer rotated
//! its keys), at most once per `refetch_after`, so a flood of made-up key ids cannot
//! turn Kontor into a load generator against the issuer. Microsoft Entra ID works by
//! configuration alone: its issuer (`https://login.microsoftonline.com/{tenant}/v2.0`)
//! publishes the discovery document this reads.
//!
//! A slow or dead issuer costs only the requests that need a key nobody has: fetches
//! time out after `fetch_timeout`, no lock is held while one runs, tokens signed with a
//! cached key are verified at once meanwhile, and keys past `keys_ttl` keep serving
//! while they are refreshed in the background.
//!
//! Claims are mapped exactly: a role value grants the role it is listed under in
//! `role_values`, a tenants claim value the tenants it is listed under in
//! `tenant_groups`; anything else grants nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Role;

/// An OIDC issuer whose tokens Kontor accepts.
///
/// ```toml
/// [auth.oidc]
/// issuer = "https://login.microsoftonline.com/<tenant id>/v2.0"
/// audience = "api://kontor"          # the application id URI or client id tokens are minted for
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer, exactly as its tokens name it in `iss`.
    pub issuer: String,
    /// Audiences accepted in `aud` (one or several).
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// Where the keys are; by default read from the issuer's discovery document
    /// (`{issuer}/.well-known/openid-configuration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The claim holding the caller's roles (Entra ID: app roles in `roles`).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Which values of the roles claim grant which role, compared in full (case
    /// included). The strongest role granted wins.
    #[serde(default)]
    pub role_values: RoleValues,
    /// The claim naming the tenants the caller acts for (Entra ID: `groups`, or app
    /// roles in `roles`).
    #[serde(default = "default_tenants_claim")]
    pub tenants_claim: String,
    /// Values of the tenants claim → tenant ids (`["*"]`: every tenant), compared in
    /// full. A value not listed here grants nothing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenant_groups: BTreeMap<String, Vec<String>>,
    /// Clock difference tolerated on `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// How long keys are kept before they are fetched again.
    #[serde(default = "default_keys_ttl", with = "humantime_serde")]
    pub keys_ttl: Duration,
    /// The least time between two fetches caused by unknown key ids.
    #[serde(default = "default_refetch_after", with = "humantime_serde")]
    pub refetch_after: Duration,
    /// How long fetching the discovery document or the keys may take.
    #[serde(default = "default_fetch_timeout", with = "humantime_serde")]
    pub fetch_timeout: Duration,
    /// The console's client id at the issuer: people sign in to the console through
    /// the issuer (authorization code with PKCE) when it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client's secret, for an issuer that registers the console as a confidential
    /// client (Entra ID "web" platform); a public client needs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<kontor_connector::Secret>,
    /// Scopes the console asks for. The access token must be one Kontor accepts
    /// (`audience`); with Entra ID add `api://kontor/.default`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
}

/// The role values each role is granted by. By default Entra ID app roles named
/// `Kontor.Admin`, `Kontor.Operator`, `Kontor.Viewer` and `Kontor.Shop`.
///
/// ```toml
/// [server.auth.oidc.role_values]
/// admin = ["Kontor.Admin"]
/// operator = ["Kontor.Operator", "ops-team"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoleValues {
    pub admin: Vec<String>,
    pub operator: Vec<String>,
    pub viewer: Vec<String>,
    pub shop: Vec<String>,
}

impl Default for RoleValues {
    fn default() -> Self {
        RoleValues {
            admin: vec!["Kontor.Admin".into()],
            operator: vec!["Kontor.Operator".into()],
            viewer: vec!["Kontor.Viewer".into()],
            shop: vec!["Kontor.Shop".into()],
        }
    }
}

impl RoleValues {
    /// The role `value` is listed under, if any.
    pub fn role_of(&self, value: &str) -> Option<Role> {
        [
            (Role::Admin, &self.admin),
            (Role::Operator, &self.operator),
            (Role::Viewer, &self.viewer),
            (Role::ShopIntegration, &self.shop),
        ]
        .into_iter()
        .find(|(_, values)| values.iter().any(|v| v == value))
        .map(|(role, _)| role)
    }
}

fn default_fetch_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "profile".into()]
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

fn default_roles_claim() -> String {
    "roles".into()
}

fn default_tenants_claim() -> String {
    "groups".into()
}

fn default_leeway() -> Duration {
    Duration::from_secs(60)
}

fn default_keys_ttl() -> Duration {
    Duration::from_secs(3600)
}

fn default_refetch_after() -> Duration {
    Duration::from_secs(30)
}

impl OidcConfig {
    /// Problems found without connecting, as (key, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !self.issuer.starts_with("https://") && !is_loopback(&self.issuer) {
            problems.push((
                "issuer",
                format!("`{}` must be an https:// address", self.issuer),
            ));
        }
        if self.audience.iter().all(|a| a.trim().is_empty()) {
            problems.push(("audience", "name at least one audience".into()));
        }
        if let Some(uri) = &self.jwks_uri
            && !uri.starts_with("https://")
            && !is_loopback(uri)
        {
            problems.push(("jwks_uri", format!("`{uri}` must be an https:// address")));
        }
        if self.fetch_timeout.is_zero() || self.fetch_timeout > Duration::from_secs(60) {
            problems.push((
                "fetch_timeout",
                "must be more than 0s and at most 1m".to_owned(),
            ));
        }
        for (value, tenants) in &self.tenant_groups {
            if tenants.is_empty() {
                problems.push((
                    "tenant_groups",
                    format!("`{value}` grants no tenant; list tenant ids, or [\"*\"] for all"),
                ));
            }
        }
        problems
    }
}

/// Plain http is only for an issuer on this machine (tests, a local Keycloak).
fn is_loopback(url: &str) -> bool {
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| url.starts_with(p))
}

/// Why a token was not accepted. Shown to the caller only as `invalid_token` with a
/// short reason; never echoes the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("tokens signed with {0} are not accepted")]
    Algorithm(String),
    #[error("the token's key is not among the issuer's keys")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token is from another issuer")]
    WrongIssuer,
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(String),
    /// The issuer's keys cannot be had: a 503, not the caller's fault.
    #[error("the issuer's keys cannot be fetched: {0}")]
    KeysUnavailable(String),
}

/// The claims Kontor uses from a verified token.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// `sub`: who the caller is.
    pub subject: String,
    /// The strongest role its role values grant (`role_values`), if any.
    pub role: Option<Role>,
    /// The tenants its tenants claim grants (`tenant_groups`; `*`: every tenant).
    pub tenants: Vec<String>,
    /// All claims.
    pub claims: Value,
}

/// The issuer's keys as last fetched, and when a fetch was last tried.
#[derive(Default)]
struct KeyCache {
    set: Option<Arc<JwkSet>>,
    fetched: Option<Instant>,
    attempted: Option<Instant>,
    /// Why the last fetch failed, while no later one succeeded.
    failure: Option<String>,
}

struct Inner {
    config: OidcConfig,
    http: reqwest::Client,
    /// Read and replaced whole; never held across a fetch.
    keys: std::sync::RwLock<KeyCache>,
    /// One fetch at a time; only requests that need a key nobody has wait for it.
    fetching: tokio::sync::Mutex<()>,
    /// A background refresh of keys past their time is under way.
    refreshing: AtomicBool,
}

/// Verifies bearer tokens of one issuer.
pub struct OidcVerifier {
    inner: Arc<Inner>,
}

/// Asymmetric algorithms only: `none` and the HMAC family would let anyone who knows
/// a public key (or nothing) mint tokens.
const ACCEPTED: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

impl OidcVerifier {
    /// A verifier of `config`'s issuer, fetching with `http` (each fetch limited to
    /// `fetch_timeout`, whatever the client's own timeouts).
    pub fn new(config: OidcConfig, http: reqwest::Client) -> OidcVerifier {
        OidcVerifier {
            inner: Arc::new(Inner {
                config,
                http,
                keys: std::sync::RwLock::new(KeyCache::default()),
                fetching: tokio::sync::Mutex::new(()),
                refreshing: AtomicBool::new(false),
            }),
        }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.inner.config
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The issuer's discovery document.
    pub async fn discovery(&self) -> Result<Value, TokenError> {
        self.inner.discovery().await
    }

    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(TokenError::Algorithm(format!("{:?}", header.alg)));
        }
        let jwk = self.key(header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::UnknownKey)?;
        let config = &self.inner.config;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&config.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = config.leeway.as_secs();
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
                ErrorKind::InvalidAlgorithm => TokenError::Algorithm(format!("{:?}", header.alg)),
                _ => TokenError::Malformed,
            }
        })?;
        let claims = data.claims;
        let subject = claims["sub"].as_str().unwrap_or_default().to_owned();
        let role = strings(&claims[config.roles_claim.as_str()])
            .iter()
            .filter_map(|value| config.role_values.role_of(value))
            .max();
        let tenants = strings(&claims[config.tenants_claim.as_str()])
            .iter()
            .filter_map(|value| config.tenant_groups.get(value))
            .flatten()
            .cloned()
            .collect();
        Ok(VerifiedToken {
            subject,
            role,
            tenants,
            claims,
        })
    }

    /// The key with this id: from the cache at once (keys past their time are
    /// refreshed in the background meanwhile), else after one refetch.
    async fn key(&self, kid: Option<&str>) -> Result<Jwk, TokenError> {
        let inner = &self.inner;
        let (found, expired) = inner.cached(kid);
        if let Some(jwk) = found {
            if expired && inner.may_fetch() && !inner.refreshing.swap(true, Ordering::SeqCst) {
                let refreshing = inner.clone();
                tokio::spawn(async move {
                    refreshing.refetch_unless_recent().await;
                    refreshing.refreshing.store(false, Ordering::SeqCst);
                });
            }
            return Ok(jwk);
        }
        if !inner.may_fetch() {
            return Err(inner.no_key());
        }
        inner.refetch_unless_recent().await;
        inner.cached(kid).0.ok_or_else(|| inner.no_key())
    }
}

impl Inner {
    fn cache(&self) -> std::sync::RwLockReadGuard<'_, KeyCache> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached key with this id, and whether the cached keys are past `keys_ttl`.
    fn cached(&self, kid: Option<&str>) -> (Option<Jwk>, bool) {
        let cache = self.cache();
        let Some(set) = &cache.set else {
            return (None, false);
        };
        let found = match kid {
            Some(kid) => set.find(kid).cloned(),
            // A token without `kid` is accepted only from an issuer with a single key.
            None => (set.keys.len() == 1).then(|| set.keys[0].clone()),
        };
        let expired = cache
            .fetched
            .is_none_or(|at| at.elapsed() >= self.config.keys_ttl);
        (found, expired)
    }

    /// No fetch was tried in the last `refetch_after`.
    fn may_fetch(&self) -> bool {
        self.cache()
            .attempted
            .is_none_or(|at| at.elapsed() >= self.config.refetch_after)
    }

    /// Why there is no key for a token: the issuer's keys could not be had, or the
    /// token's key is not among them.
    fn no_key(&self) -> TokenError {
        let cache = self.cache();
        match (&cache.set, &cache.failure) {
            (None, Some(failure)) => TokenError::KeysUnavailable(failure.clone()),
            (None, None) => TokenError::KeysUnavailable("not fetched yet".into()),
            _ => TokenError::UnknownKey,
        }
    }

    /// Fetches the keys, unless another request did while this one waited its turn.
    async fn refetch_unless_recent(&self) {
        let _one_at_a_time = self.fetching.lock().await;
        if !self.may_fetch() {
            return;
        }
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .attempted = Some(Instant::now());
        let fetched = self.fetch().await;
        let mut cache = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        match fetched {
            Ok(set) => {
                cache.set = Some(Arc::new(set));
                cache.fetched = Some(Instant::now());
                cache.failure = None;
            }
            Err(error) => {
                tracing::warn!(message = "Cannot fetch the OIDC issuer's keys.", issuer = %self.config.issuer, %error);
                cache.failure = Some(match error {
                    TokenError::KeysUnavailable(reason) => reason,
                    other => other.to_string(),
                });
            }
        }
    }

    async fn discovery(&self) -> Result<Value, TokenError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        self.get_json(&url).await
    }

    async fn fetch(&self) -> Result<JwkSet, TokenError> {
        let jwks_uri = match &self.config.jwks_uri {
            Some(uri) => uri.clone(),
            None => self.discovery().await?["jwks_uri"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| {
                    TokenError::KeysUnavailable(format!(
                        "the discovery document of {} names no jwks_uri",
                        self.config.issuer
                    ))
                })?,
        };
        let set: JwkSet = self.get_json(&jwks_uri).await?;
        tracing::info!(message = "Fetched the OIDC issuer's keys.", issuer = %self.config.issuer, keys = set.keys.len());
        Ok(set)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, TokenError> {
        let fetch = async {
            let response = self
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| TokenError::KeysUnavailable(format!("{url}: {e}")))?;
            if !response.status().is_success() {
                return Err(TokenError::KeysUnavailable(format!(
                    "{url}: HTTP {}",
                    response.status()
                )));
            }
            response
                .json()
                .await
                .map_err(|e| TokenError::KeysUnavailable(format!("{url}: {e}")))
        };
        tokio::time::timeout(self.config.fetch_timeout, fetch)
            .await
            .unwrap_or_else(|_| {
                Err(TokenError::KeysUnavailable(format!(
                    "{url}: no answer within {}",
                    humantime::format_duration(self.config.fetch_timeout)
                )))
            })
    }
}

/// A claim's values: a list of strings, or one space-separated string (`scp` style).
fn strings(claim: &Value) -> Vec<String> {
    match claim {
        Value::String(one) => one.split_whitespace().map(str::to_owned).collect(),
        Value::Array(many) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}
