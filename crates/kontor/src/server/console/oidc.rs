//! Signing in to the console through the OIDC issuer: the authorization code flow with
//! PKCE. The browser is sent to the issuer with a fresh `state` (also kept in a
//! short-lived cookie, so a sign-in cannot be started by another site and finished in
//! this browser) and the challenge of a verifier Kontor keeps; the issuer sends it back
//! with a code, which Kontor exchanges for tokens. The access token is verified as any
//! API caller's would be — issuer, audience, signature, roles — and a session starts.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::accounts::random_token;
use crate::auth::same;
use crate::auth::{OidcVerifier, Role, Tenants};
use crate::server::ServerState;
use crate::server::api::start_session;
use crate::server::principal::cookie;

/// How long a sign-in may take at the issuer.
const SIGN_IN_WITHIN: Duration = Duration::from_secs(600);
const STATE_COOKIE: &str = "kontor_login";

#[derive(Debug, Deserialize)]
pub(super) struct Start {
    /// The console page to come back to.
    return_to: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Back to the console's sign-in page, saying why signing in did not work.
fn failed(reason: &str) -> Response {
    let mut url = String::from("/console/signin?error=");
    url.extend(url_encode(reason));
    Redirect::to(&url).into_response()
}

fn url_encode(text: &str) -> impl Iterator<Item = char> + '_ {
    text.bytes().flat_map(|b| {
        let keep = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        let chars: Vec<char> = if keep {
            vec![char::from(b)]
        } else {
            format!("%{b:02X}").chars().collect()
        };
        chars
    })
}

fn verifier(state: &ServerState) -> Option<&OidcVerifier> {
    state.oidc_sign_in().then_some(())?;
    state.auth.oidc.as_deref()
}

fn redirect_uri(state: &ServerState) -> String {
    format!("{}/console/auth/callback", state.app.public_url())
}

fn state_cookie(value: Option<&str>) -> HeaderValue {
    let text = match value {
        Some(value) => format!(
            "{STATE_COOKIE}={value}; Path=/console/auth; HttpOnly; SameSite=Lax; Max-Age={}",
            SIGN_IN_WITHIN.as_secs()
        ),
        None => format!("{STATE_COOKIE}=; Path=/console/auth; HttpOnly; SameSite=Lax; Max-Age=0"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Only console pages, so the redirect cannot be turned towards another site.
fn safe_return(to: Option<String>) -> String {
    to.filter(|t| t.starts_with("/console/") && !t.contains("//") && !t.contains('\\'))
        .unwrap_or_else(|| "/console/".to_owned())
}

async fn endpoints(oidc: &OidcVerifier) -> Result<(String, String), String> {
    let document = oidc.discovery().await.map_err(|e| e.to_string())?;
    let field = |name: &str| {
        document[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("the issuer's discovery document names no {name}"))
    };
    Ok((field("authorization_endpoint")?, field("token_endpoint")?))
}

/// Sends the browser to the issuer.
pub(super) async fn start(
    State(state): State<ServerState>,
    Query(start): Query<Start>,
) -> Response {
    let Some(oidc) = verifier(&state) else {
        return failed("signing in through OIDC is not configured (server.auth.oidc.client_id)");
    };
    let (authorize, _) = match endpoints(oidc).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(message = "Cannot start an OIDC sign-in.", %error);
            return failed(
                "the sign-in service cannot be reached; try again or use a local account",
            );
        }
    };
    let login_state = random_token();
    let code_verifier = random_token();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(code_verifier.as_bytes()));
    if let Err(error) = state
        .app
        .store
        .begin_oidc_login(&login_state, &code_verifier, &safe_return(start.return_to))
        .await
    {
        tracing::warn!(message = "Cannot start an OIDC sign-in.", %error);
        return failed("Kontor's store cannot be reached; try again");
    }
    let config = oidc.config();
    let scope = config.scopes.join(" ");
    let redirect = redirect_uri(&state);
    let params = [
        ("response_type", "code"),
        ("client_id", config.client_id.as_deref().unwrap_or_default()),
        ("redirect_uri", redirect.as_str()),
        ("scope", scope.as_str()),
        ("state", login_state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let url = match reqwest::Url::parse_with_params(&authorize, params) {
        Ok(url) => url,
        Err(error) => {
            tracing::warn!(message = "The issuer's authorization endpoint is not a URL.", %error);
            return failed("the sign-in service is misconfigured");
        }
    };
    let mut response = Redirect::to(url.as_str()).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, state_cookie(Some(&login_state)));
    response
}

/// The issuer sends the browser back here with a code.
pub(super) async fn callback(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Query(back): Query<Callback>,
) -> Response {
    let mut response = match finish(&state, &headers, back).await {
        Ok(response) => response,
        Err(reason) => failed(&reason),
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, state_cookie(None));
    response
}

async fn finish(
    state: &ServerState,
    headers: &HeaderMap,
    back: Callback,
) -> Result<Response, String> {
    let oidc = verifier(state).ok_or("signing in through OIDC is not configured")?;
    if let Some(error) = back.error {
        return Err(format!(
            "the sign-in service refused: {}",
            back.error_description.unwrap_or(error)
        ));
    }
    let (Some(code), Some(login_state)) = (back.code, back.state) else {
        return Err("the sign-in service sent no code".into());
    };
    let expected = cookie(headers, STATE_COOKIE).unwrap_or_default();
    if !same(&expected, &login_state) {
        return Err("this sign-in was not started in this browser; start again".into());
    }
    let (code_verifier, return_to) = state
        .app
        .store
        .take_oidc_login(&login_state, SIGN_IN_WITHIN)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the sign-in took too long or was used already; start again")?;
    let (_, token_endpoint) = endpoints(oidc).await?;
    let config = oidc.config();
    let redirect = redirect_uri(state);
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", redirect),
        ("client_id", config.client_id.clone().unwrap_or_default()),
        ("code_verifier", code_verifier),
    ];
    if let Some(secret) = &config.client_secret {
        form.push((
            "client_secret",
            secret
                .resolve()
                .map_err(|e| format!("server.auth.oidc.client_secret: {e}"))?,
        ));
    }
    let answer = oidc
        .http()
        .post(&token_endpoint)
        .form(&form)
        .send()
        .await
        .map_err(|e| format!("the sign-in service cannot be reached: {e}"))?;
    let status = answer.status();
    let tokens: Value = answer
        .json()
        .await
        .map_err(|e| format!("the sign-in service answered something else than tokens: {e}"))?;
    if !status.is_success() {
        let reason = tokens["error_description"]
            .as_str()
            .or(tokens["error"].as_str())
            .unwrap_or("no reason given");
        return Err(format!("the sign-in service refused the code: {reason}"));
    }
    // The access token is the one made for Kontor's API; an ID token serves when the
    // console's client id is itself an accepted audience.
    let mut verified = Err("the sign-in service sent no token".to_owned());
    for name in ["access_token", "id_token"] {
        if let Some(token) = tokens[name].as_str() {
            verified = oidc.verify(token).await.map_err(|e| e.to_string());
            if verified.is_ok() {
                break;
            }
        }
    }
    let verified = verified.map_err(|e| format!("the token was not accepted: {e}"))?;
    let role = verified
        .role
        .filter(|r| *r != Role::ShopIntegration)
        .ok_or_else(|| format!("{} has no Kontor role", verified.subject))?;
    let (_, session_cookie) = start_session(
        state,
        verified.subject,
        role,
        &Tenants::from_list(verified.tenants),
        "oidc",
    )
    .await
    .map_err(|e| e.message)?;
    let mut response = Redirect::to(&return_to).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie);
    Ok(response)
}
