//! A test OIDC issuer on loopback whose signing keys are generated in the test: its
//! discovery document and JWKS, as Microsoft Entra ID serves them.

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

#[derive(Clone)]
pub struct Issuer {
    pub url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    pub fetches: Arc<AtomicUsize>,
}

impl Issuer {
    pub async fn start(keys: &[&SigningKey]) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = Issuer {
            url: format!("http://{}/tenant-1/v2.0", listener.local_addr().unwrap()),
            keys: Arc::new(Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect())),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .route(
                "/tenant-1/v2.0/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/tenant-1/discovery/v2.0/keys", get(jwks))
            .with_state(issuer.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        issuer
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
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
    }))
}

async fn jwks(State(issuer): State<Issuer>) -> axum::Json<Value> {
    issuer.fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({ "keys": *issuer.keys.lock().await }))
}
