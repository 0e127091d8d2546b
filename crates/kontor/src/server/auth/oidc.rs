//! OIDC bearer tokens: a JWT signed by the issuer, checked against the issuer's published
//! keys (JWKS) for signature, issuer, audience and expiry. Keys are cached; a token
//! signed with a key id the cache does not know makes one refetch (the issuer rotated
//! its keys), at most once per `refetch_after`, so a flood of made-up key ids cannot
//! turn Kontor into a load generator against the issuer. Microsoft Entra ID works by
//! configuration alone: its issuer (`https://login.microsoftonline.com/{tenant}/v2.0`)
//! publishes the discovery document this reads.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::RwLock;

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
    /// The claim naming the tenants the caller acts for (Entra ID: `groups`, or app
    /// roles in `roles`).
    #[serde(default = "default_tenants_claim")]
    pub tenants_claim: String,
    /// Values of the tenants claim → tenant ids (`"*"`: every tenant). A value not
    /// listed here is taken as a tenant id itself.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tenant_groups: std::collections::BTreeMap<String, Vec<String>>,
    /// Clock difference tolerated on `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// How long keys are kept before they are fetched again.
    #[serde(default = "default_keys_ttl", with = "humantime_serde")]
    pub keys_ttl: Duration,
    /// The least time between two fetches caused by unknown key ids.
    #[serde(default = "default_refetch_after", with = "humantime_serde")]
    pub refetch_after: Duration,
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
    /// The roles claim's values.
    pub roles: Vec<String>,
    /// The tenants the caller acts for, from the tenants claim (`*`: every tenant).
    pub tenants: Vec<String>,
    /// All claims, for tenant or group mapping.
    pub claims: Value,
}

struct Keys {
    set: JwkSet,
    fetched: Instant,
}

/// Verifies bearer tokens of one issuer.
pub struct OidcVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    keys: RwLock<Option<Keys>>,
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
    pub fn new(config: OidcConfig, http: reqwest::Client) -> OidcVerifier {
        OidcVerifier {
            config,
            http,
            keys: RwLock::new(None),
        }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The issuer's discovery document.
    pub async fn discovery(&self) -> Result<Value, TokenError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        self.get_json(&url).await
    }

    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(TokenError::Algorithm(format!("{:?}", header.alg)));
        }
        let jwk = self.key(header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::UnknownKey)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&self.config.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.config.leeway.as_secs();
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
        let roles = strings(&claims[self.config.roles_claim.as_str()]);
        let tenants = strings(&claims[self.config.tenants_claim.as_str()])
            .into_iter()
            .flat_map(|value| match self.config.tenant_groups.get(&value) {
                Some(tenants) => tenants.clone(),
                None => vec![value],
            })
            .collect();
        Ok(VerifiedToken {
            subject,
            roles,
            tenants,
            claims,
        })
    }

    /// The key with this id: from the cache, else after one refetch.
    async fn key(&self, kid: Option<&str>) -> Result<Jwk, TokenError> {
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            // A token without `kid` is accepted only from an issuer with a single key.
            None => (set.keys.len() == 1).then(|| set.keys[0].clone()),
        };
        let stale = {
            let keys = self.keys.read().await;
            match keys.as_ref() {
                Some(keys) => {
                    if keys.fetched.elapsed() < self.config.keys_ttl
                        && let Some(jwk) = find(&keys.set)
                    {
                        return Ok(jwk);
                    }
                    keys.fetched.elapsed() >= self.config.refetch_after
                }
                None => true,
            }
        };
        if !stale {
            return Err(TokenError::UnknownKey);
        }
        let mut keys = self.keys.write().await;
        // Another request may have refreshed them while this one waited.
        let fresh = keys
            .as_ref()
            .is_some_and(|k| k.fetched.elapsed() < self.config.refetch_after);
        if !fresh {
            let set = self.fetch().await?;
            *keys = Some(Keys {
                set,
                fetched: Instant::now(),
            });
        }
        keys.as_ref()
            .and_then(|k| find(&k.set))
            .ok_or(TokenError::UnknownKey)
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
