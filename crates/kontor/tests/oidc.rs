#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! OIDC bearer tokens against a test issuer on loopback, whose keys are generated here:
//! a good token is accepted with its roles; an expired one, one for another audience or
//! issuer, one signed by another key, one with a made-up key id and one with a weak
//! algorithm are each refused for that reason. Keys are fetched once and cached; when
//! the issuer rotates them, a token with the new key id makes one refetch, and a flood
//! of unknown key ids makes no more than one.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kontor::auth::{OidcConfig, OidcVerifier, Role, TokenError};
use serde_json::{Value, json};
use support::issuer::{AUDIENCE, Issuer, SigningKey};

/// As an operator configures Entra ID: the issuer and the audience, nothing else.
fn verifier(issuer: &Issuer, refetch_after: &str) -> OidcVerifier {
    verifier_with(issuer, &format!("refetch_after = \"{refetch_after}\""))
}

fn verifier_with(issuer: &Issuer, settings: &str) -> OidcVerifier {
    let config: OidcConfig = toml::from_str(&format!(
        "issuer = \"{}\"\naudience = \"{AUDIENCE}\"\n{settings}",
        issuer.url
    ))
    .unwrap();
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    OidcVerifier::new(config, reqwest::Client::new())
}

#[tokio::test]
async fn a_good_token_is_accepted_and_every_kind_of_bad_one_is_refused_for_its_reason() {
    let key = SigningKey::generate("key-1");
    let issuer = Issuer::start(&[&key]).await;
    let oidc = verifier(&issuer, "30s");

    let good = oidc
        .verify(&key.sign(&issuer.claims(&["Kontor.Operator", "Kontor.Viewer"])))
        .await
        .unwrap();
    assert_eq!(good.subject, "operator@acme.example");
    assert_eq!(good.role, Some(Role::Operator));

    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = issuer.claims(&["Kontor.Admin"]);
        change(&mut claims);
        claims
    };
    let hour_ago = chrono::Utc::now().timestamp() - 3600;
    let cases: Vec<(&str, String, TokenError)> = vec![
        (
            "expired",
            key.sign(&with(&|c| c["exp"] = json!(hour_ago))),
            TokenError::Expired,
        ),
        (
            "another audience",
            key.sign(&with(&|c| c["aud"] = json!("api://something-else"))),
            TokenError::WrongAudience,
        ),
        (
            "another issuer",
            key.sign(&with(&|c| {
                c["iss"] = json!("https://sts.windows.net/other/")
            })),
            TokenError::WrongIssuer,
        ),
        (
            "no expiry",
            key.sign(&with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
            TokenError::MissingClaim("exp".into()),
        ),
        (
            "signed by another key under the same id",
            SigningKey::generate("key-1").sign(&issuer.claims(&[])),
            TokenError::BadSignature,
        ),
        (
            "a key id the issuer never had",
            SigningKey::generate("made-up").sign(&issuer.claims(&[])),
            TokenError::UnknownKey,
        ),
        (
            "HS256 with the public key as secret",
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &issuer.claims(&[]),
                &EncodingKey::from_secret(key.jwk.to_string().as_bytes()),
            )
            .unwrap(),
            TokenError::Algorithm("HS256".into()),
        ),
        ("not a JWT", "Bearer nonsense".into(), TokenError::Malformed),
    ];
    for (what, token, expected) in cases {
        assert_eq!(oidc.verify(&token).await, Err(expected), "{what}");
    }
    // A tampered payload under a genuine signature.
    let genuine = key.sign(&issuer.claims(&["Kontor.Viewer"]));
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(issuer.claims(&["Kontor.Admin"]).to_string());
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert_eq!(oidc.verify(&tampered).await, Err(TokenError::BadSignature));
}

#[tokio::test]
async fn keys_are_cached_and_a_rotation_is_picked_up_with_one_refetch() {
    let old = SigningKey::generate("2026-10");
    let issuer = Issuer::start(&[&old]).await;
    let oidc = verifier(&issuer, "200ms");
    for _ in 0..20 {
        oidc.verify(&old.sign(&issuer.claims(&[]))).await.unwrap();
    }
    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst),
        1,
        "fetched once, then cached"
    );

    // Made-up key ids: refused, and the issuer is not asked again and again.
    for n in 0..50 {
        let stranger = SigningKey::generate(&format!("guess-{n}"));
        assert_eq!(
            oidc.verify(&stranger.sign(&issuer.claims(&[]))).await,
            Err(TokenError::UnknownKey)
        );
    }
    assert!(
        issuer.fetches.load(Ordering::SeqCst) <= 2,
        "at most one refetch"
    );

    // The issuer rotates: the new key's tokens are accepted after one refetch.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let new = SigningKey::generate("2026-11");
    issuer.rotate(&[&old, &new]).await;
    let before = issuer.fetches.load(Ordering::SeqCst);
    oidc.verify(&new.sign(&issuer.claims(&[]))).await.unwrap();
    oidc.verify(&new.sign(&issuer.claims(&[]))).await.unwrap();
    oidc.verify(&old.sign(&issuer.claims(&[]))).await.unwrap();
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn an_issuer_that_cannot_be_reached_is_not_the_callers_fault() {
    let key = SigningKey::generate("key-1");
    let config: OidcConfig = toml::from_str(&format!(
        "issuer = \"http://127.0.0.1:9/tenant/v2.0\"\naudience = [\"{AUDIENCE}\", \"00000000-1111-2222-3333-444444444444\"]"
    ))
    .unwrap();
    assert_eq!(config.audience.len(), 2);
    let oidc = OidcVerifier::new(config, reqwest::Client::new());
    let claims = json!({ "iss": "http://127.0.0.1:9/tenant/v2.0", "aud": AUDIENCE, "sub": "x", "exp": chrono::Utc::now().timestamp() + 60 });
    assert!(matches!(
        oidc.verify(&key.sign(&claims)).await,
        Err(TokenError::KeysUnavailable(_))
    ));

    let plain: OidcConfig =
        toml::from_str("issuer = \"http://idp.example.com\"\naudience = \"\"").unwrap();
    let keys: Vec<&str> = plain.problems().iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, ["issuer", "audience"]);
}

#[tokio::test]
async fn roles_and_tenant_groups_are_matched_in_full_and_nothing_else_grants() {
    let key = SigningKey::generate("key-1");
    let issuer = Issuer::start(&[&key]).await;
    let oidc = verifier_with(
        &issuer,
        "tenant_groups = { \"group-acme\" = [\"acme\"], \"group-all\" = [\"*\"] }\n\
         [role_values]\noperator = [\"Kontor.Operator\", \"ops-team\"]",
    );
    let verify = async |roles: &[&str], groups: &[&str]| {
        let mut claims = issuer.claims(roles);
        claims["groups"] = json!(groups);
        oidc.verify(&key.sign(&claims)).await.unwrap()
    };
    for (roles, role) in [
        (&["Kontor.Admin"][..], Some(Role::Admin)),
        (&["ops-team"], Some(Role::Operator)),
        (&["Kontor.Viewer", "Kontor.Operator"], Some(Role::Operator)),
        (&["Kontor.Shop"], Some(Role::ShopIntegration)),
        (&["Other.Admin"], None),
        (&["kontor.admin"], None),
        (&["admin"], None),
        (&["Kontor.Admin.Extra"], None),
    ] {
        assert_eq!(verify(roles, &[]).await.role, role, "{roles:?}");
    }
    for (groups, tenants) in [
        (&["group-acme"][..], vec!["acme"]),
        (&["group-all"], vec!["*"]),
        (&["*"], vec![]),
        (&["acme"], vec![]),
        (&["Group-Acme"], vec![]),
    ] {
        assert_eq!(
            verify(&["Kontor.Admin"], groups).await.tenants,
            tenants,
            "{groups:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_issuer_holds_up_only_the_tokens_whose_key_nobody_has() {
    let key = SigningKey::generate("key-1");
    let issuer = Issuer::start(&[&key]).await;
    let oidc = std::sync::Arc::new(verifier_with(
        &issuer,
        "refetch_after = \"0s\"\nkeys_ttl = \"300ms\"\nfetch_timeout = \"2s\"",
    ));
    let known = key.sign(&issuer.claims(&["Kontor.Viewer"]));
    oidc.verify(&known).await.unwrap();

    // The issuer stops answering in time; a token with a made-up key id asks for keys.
    issuer.slow_down(Duration::from_secs(30)).await;
    let stranger = SigningKey::generate("made-up").sign(&issuer.claims(&[]));
    let waiting = tokio::spawn({
        let oidc = oidc.clone();
        async move { oidc.verify(&stranger).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Meanwhile tokens with the known key are verified, also once the keys are past
    // their time (a refresh starts in the background and does not hold them up).
    for _ in 0..20 {
        oidc.verify(&known).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    oidc.verify(&known).await.unwrap();
    assert!(
        !waiting.is_finished(),
        "the made-up key's fetch should still be waiting for the issuer"
    );
    // The fetch gives up at fetch_timeout, not when the issuer gets round to it.
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the fetch timed out")
        .unwrap();
    assert_eq!(outcome, Err(TokenError::UnknownKey));
    oidc.verify(&known).await.unwrap();
}
