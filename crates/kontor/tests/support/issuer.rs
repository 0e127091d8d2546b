//! A test OIDC issuer on loopback whose signing keys are generated in the test: its
//! discovery document and JWKS, as Microsoft Entra ID serves them, and a sign-in (the
//! authorization code flow with PKCE) that approves at once and hands out the token the
//! test gave it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::sync::Mutex;

pub const AUDIENCE: &str = "api://kontor";

/// A signing key and its public half as a JWK.
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl SigningKey {
    pub fn generate(kid: &str) -> SigningKey {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let point = pair.public_key_raw();
        // An uncompressed P-256 point: 0x04, then x and y of 32 bytes each.
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        SigningKey {
            kid: kid.into(),
            encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                "x": b64(&point[1..33]), "y": b64(&point[33..65]),
            }),
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// A code handed out by the authorization endpoint, waiting to be exchanged.
struct Grant {
    code: String,
    challenge: String,
    redirect_uri: String,
    client_id: String,
}

#[derive(Clone)]
pub struct Issuer {
    pub url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    pub fetches: Arc<AtomicUsize>,
    /// The access token the next sign-in gets.
    token: Arc<Mutex<Option<String>>>,
    grants: Arc<Mutex<Vec<Grant>>>,
    /// Token requests refused (wrong verifier, redirect or client).
    pub refused: Arc<AtomicUsize>,
    /// How long the keys take to come (an issuer in trouble).
    delay: Arc<Mutex<std::time::Duration>>,
}

impl Issuer {
    pub async fn start(keys: &[&SigningKey]) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = Issuer {
            url: format!("http://{}/tenant-1/v2.0", listener.local_addr().unwrap()),
            keys: Arc::new(Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect())),
            fetches: Arc::new(AtomicUsize::new(0)),
            token: Arc::new(Mutex::new(None)),
            grants: Arc::new(Mutex::new(Vec::new())),
            refused: Arc::new(AtomicUsize::new(0)),
            delay: Arc::new(Mutex::new(std::time::Duration::ZERO)),
        };
        let app = Router::new()
            .route(
                "/tenant-1/v2.0/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/tenant-1/discovery/v2.0/keys", get(jwks))
            .route("/tenant-1/oauth2/v2.0/authorize", get(authorize))
            .route("/tenant-1/oauth2/v2.0/token", axum::routing::post(token))
            .with_state(issuer.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        issuer
    }

    /// The access token the next sign-in through the authorization endpoint gets.
    pub async fn grant(&self, token: String) {
        *self.token.lock().await = Some(token);
    }

    /// From now on the keys take `delay` to come.
    pub async fn slow_down(&self, delay: std::time::Duration) {
        *self.delay.lock().await = delay;
    }

    pub async fn rotate(&self, keys: &[&SigningKey]) {
        *self.keys.lock().await = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    pub fn claims(&self, roles: &[&str]) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.url, "aud": AUDIENCE, "sub": "operator@acme.example",
            "iat": now, "nbf": now, "exp": now + 600, "roles": roles,
        })
    }
}

async fn discovery(State(issuer): State<Issuer>) -> axum::Json<Value> {
    let base = issuer.url.trim_end_matches("/v2.0");
    axum::Json(json!({
        "issuer": issuer.url,
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
    }))
}

async fn jwks(State(issuer): State<Issuer>) -> axum::Json<Value> {
    issuer.fetches.fetch_add(1, Ordering::SeqCst);
    let delay = *issuer.delay.lock().await;
    tokio::time::sleep(delay).await;
    axum::Json(json!({ "keys": *issuer.keys.lock().await }))
}

/// Approves at once: back to the client with a code for this challenge.
async fn authorize(
    State(issuer): State<Issuer>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    assert_eq!(field("response_type"), "code");
    assert_eq!(field("code_challenge_method"), "S256");
    let code = format!("code-{}", issuer.grants.lock().await.len() + 1);
    issuer.grants.lock().await.push(Grant {
        code: code.clone(),
        challenge: field("code_challenge"),
        redirect_uri: field("redirect_uri"),
        client_id: field("client_id"),
    });
    let back = format!(
        "{}?code={code}&state={}",
        field("redirect_uri"),
        field("state")
    );
    axum::response::Redirect::to(&back).into_response()
}

/// Exchanges a code for the granted token, if the verifier, redirect and client match.
async fn token(
    State(issuer): State<Issuer>,
    axum::extract::Form(form): axum::extract::Form<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use sha2::Digest;
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let mut grants = issuer.grants.lock().await;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(field("code_verifier").as_bytes()));
    let found = grants.iter().position(|g| {
        g.code == field("code")
            && g.challenge == challenge
            && g.redirect_uri == field("redirect_uri")
            && g.client_id == field("client_id")
    });
    let (Some(index), Some(token)) = (found, issuer.token.lock().await.clone()) else {
        issuer.refused.fetch_add(1, Ordering::SeqCst);
        return (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_grant", "error_description": "no such code for this verifier" })),
        )
            .into_response();
    };
    grants.remove(index);
    axum::Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": 600 }))
        .into_response()
}
