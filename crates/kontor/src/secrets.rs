//! Connection secrets at rest: inline secrets are sealed with AES-256-GCM before a
//! tenant's configuration is stored, and opened when its connections are built. The key
//! comes from the environment or a file (`[store.secrets]`), never from the store. A
//! sealed value names the key that sealed it, so older keys keep opening what they
//! sealed while `kontor secrets rotate` reseals everything under the current one.
//!
//! A sealed value is bound to where it belongs: the tenant, connection and field are the
//! cipher's associated data, so a value copied into another tenant's (or connection's,
//! or field's) configuration does not open.
//!
//! Settings that arrive through the API or the console are a stranger's input as far as
//! the host is concerned: they may carry a secret only as its value (sealed here before
//! it is stored), or send back unchanged the secret the saved settings of that very
//! connection hold, and only while the connection still points at the same address.
//! `env` and `file` secrets reach the host's environment and files, so only an
//! administrator of the machine gives them, in the file `kontor config apply` reads.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kontor_connector::Secret;
use kontor_connectors::ConnectionConfig;
use kontor_flows::ConfigProblem;
use sha2::{Digest, Sha256};

use crate::config::{SecretsSettings, TenantConfig};

/// How sealed values begin: format version, then the key id. Version 2 binds the value
/// to its tenant, connection and field; version 1 (bound to nothing) still opens, and
/// `kontor config apply` or `kontor secrets rotate` reseal it as version 2.
const PREFIX: &str = "kontor-sealed:v2:";
const PREFIX_V1: &str = "kontor-sealed:v1:";
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{key}: {message}")]
    Key { key: String, message: String },
    #[error("{0}")]
    Problems(String),
}

fn key_problem(key: impl Into<String>, message: impl Into<String>) -> SecretsError {
    SecretsError::Key {
        key: key.into(),
        message: message.into(),
    }
}

/// One sealing key and its id (the start of the SHA-256 of the key itself, so the id
/// says nothing of the key but tells keys apart).
struct SealKey {
    id: String,
    key: LessSafeKey,
}

impl SealKey {
    fn from_text(text: &str) -> Result<SealKey, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "not base64 (make one with `kontor secrets new-key`)".to_owned())?;
        if bytes.len() != KEY_LEN {
            return Err(format!(
                "a key is {KEY_LEN} bytes, this one {} (make one with `kontor secrets new-key`)",
                bytes.len()
            ));
        }
        let id = hex::encode(&Sha256::digest(&bytes)[..4]);
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| "the key was refused by the cipher".to_owned())?;
        Ok(SealKey {
            id,
            key: LessSafeKey::new(key),
        })
    }
}

/// The current key (seals and opens) and previous ones (open only).
#[derive(Default)]
pub struct Keyring {
    current: Option<SealKey>,
    previous: Vec<SealKey>,
}

impl Keyring {
    /// The keys `[store.secrets]` names; errors name the key at fault.
    pub fn from_settings(settings: &SecretsSettings) -> Result<Keyring, SecretsError> {
        let load = |name: String, secret: &Secret| {
            let text = secret
                .resolve()
                .map_err(|e| key_problem(name.clone(), e.to_string()))?;
            SealKey::from_text(&text).map_err(|message| key_problem(name, message))
        };
        let current = match &settings.key {
            Some(secret) => Some(load("store.secrets.key".into(), secret)?),
            None => None,
        };
        let previous = settings
            .previous
            .iter()
            .enumerate()
            .map(|(i, secret)| load(format!("store.secrets.previous[{i}]"), secret))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Keyring { current, previous })
    }

    fn seal(&self, plain: &str, place: &Place) -> Option<String> {
        let key = self.current.as_ref()?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut sealed = plain.as_bytes().to_vec();
        let aad = place.associated_data();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut sealed,
            )
            .ok()?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Some(format!("{PREFIX}{}:{}", key.id, STANDARD.encode(bytes)))
    }

    fn open(&self, sealed: &str, place: &Place) -> Result<String, String> {
        let (aad, rest) = match sealed.strip_prefix(PREFIX) {
            Some(rest) => (place.associated_data(), rest),
            None => (
                String::new(),
                sealed
                    .strip_prefix(PREFIX_V1)
                    .ok_or("not a sealed secret Kontor made")?,
            ),
        };
        let (id, data) = rest
            .split_once(':')
            .ok_or("not a sealed secret Kontor made")?;
        let key = self
            .current
            .iter()
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| {
                format!("sealed with key {id}, which is neither store.secrets.key nor in store.secrets.previous")
            })?;
        let bytes = STANDARD
            .decode(data)
            .map_err(|_| "the sealed value is damaged".to_owned())?;
        if bytes.len() < NONCE_LEN {
            return Err("the sealed value is damaged".into());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| "the sealed value is damaged".to_owned())?;
        let mut buffer = ciphertext.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buffer)
            .map_err(|_| {
                format!(
                    "the sealed value does not open with key {id} here: it was sealed for another \
                     tenant, connection or field, or it is damaged"
                )
            })?;
        String::from_utf8(plain.to_vec()).map_err(|_| "the sealed value is damaged".into())
    }

    fn is_current(&self, sealed: &str) -> bool {
        self.current.as_ref().is_some_and(|key| {
            sealed
                .strip_prefix(PREFIX)
                .is_some_and(|rest| rest.starts_with(&format!("{}:", key.id)))
        })
    }
}

/// Where a secret belongs: what its sealed value is bound to.
struct Place<'a> {
    tenant: &'a str,
    connection: &'a str,
    field: &'a str,
}

impl Place<'_> {
    fn associated_data(&self) -> String {
        // Tenant ids and connection names are identifiers (no `/`), so this is unambiguous.
        format!(
            "kontor-secret/{}/{}/{}",
            self.tenant, self.connection, self.field
        )
    }
}

/// A new random key, base64, for `[store.secrets] key`.
pub fn new_key() -> Result<String, SecretsError> {
    let mut bytes = [0u8; KEY_LEN];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| SecretsError::Problems("the system's random source failed".into()))?;
    Ok(STANDARD.encode(bytes))
}

/// Seals a tenant's inline secrets for the store, and reseals those an older key
/// sealed; returns how many it (re)sealed. Without a key, an inline secret is refused:
/// it would be stored in the clear. A secret the stored configuration already holds,
/// sealed under the current key, is kept as stored, so applying an unchanged file
/// changes nothing.
pub fn seal_tenant(
    tenant: &str,
    config: &mut TenantConfig,
    keyring: &Keyring,
    stored: Option<&TenantConfig>,
) -> Result<usize, Vec<ConfigProblem>> {
    let mut kept = std::collections::BTreeMap::new();
    if let Some(stored) = stored {
        let mut stored = stored.clone();
        for (connection, settings) in &mut stored.connections {
            for (name, secret) in settings.secrets_mut() {
                if let Secret::Sealed(value) = secret
                    && keyring.is_current(value)
                {
                    kept.insert((connection.clone(), name), value.clone());
                }
            }
        }
    }
    let mut sealed = 0;
    let mut problems = Vec::new();
    for (connection, settings) in &mut config.connections {
        for (name, secret) in settings.secrets_mut() {
            let key = format!("tenants.{tenant}.connections.{connection}.{name}");
            let place = Place {
                tenant,
                connection,
                field: name,
            };
            let plain = match secret {
                Secret::Value(plain) => {
                    if let Some(value) = kept.get(&(connection.clone(), name))
                        && keyring.open(value, &place).as_deref() == Ok(plain.as_str())
                    {
                        *secret = Secret::Sealed(value.clone());
                        continue;
                    }
                    plain.clone()
                }
                Secret::Sealed(value) if !keyring.is_current(value) => {
                    match keyring.open(value, &place) {
                        Ok(plain) if keyring.current.is_some() => plain,
                        // No current key: leave it as it is, sealed.
                        Ok(_) => continue,
                        Err(message) => {
                            problems.push(ConfigProblem::new(key, message));
                            continue;
                        }
                    }
                }
                _ => continue,
            };
            match keyring.seal(&plain, &place) {
                Some(value) => {
                    *secret = Secret::Sealed(value);
                    sealed += 1;
                }
                None => problems.push(ConfigProblem::new(
                    key,
                    "an inline secret is kept in the store only sealed: set store.secrets.key \
                     (`kontor secrets new-key` makes one), or give it as { env = \"…\" } or { file = \"…\" }",
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(sealed)
    } else {
        Err(problems)
    }
}

/// What is wrong with a connection's settings that arrived through the API or the
/// console, compared with the settings saved for that connection (`saved`), as problems
/// keyed from the tenant (`connections.<name>.<field>`). A secret may be given as its
/// value, or be the saved one sent back unchanged while the address it is sent to stays
/// the same; an `env` or `file` secret, or a sealed value from anywhere else, is refused.
pub fn api_settings_problems(
    connection: &str,
    settings: &ConnectionConfig,
    saved: Option<&ConnectionConfig>,
) -> Vec<ConfigProblem> {
    let saved_secrets = saved.map(ConnectionConfig::secrets).unwrap_or_default();
    let same_address = saved.is_some_and(|saved| {
        saved.kind() == settings.kind() && saved.address() == settings.address()
    });
    let mut problems = Vec::new();
    for (field, secret) in settings.secrets() {
        if matches!(secret, Secret::Value(_)) {
            continue;
        }
        let key = format!("connections.{connection}.{field}");
        let is_saved = saved_secrets
            .iter()
            .any(|(name, kept)| *name == field && *kept == secret);
        let problem = match (&secret, is_saved) {
            (_, true) if same_address => continue,
            (_, true) => format!(
                "the saved secret is used only with the address it was saved for; to use `{}`, \
                 give the secret again as {{\"value\": …}}",
                settings.address().unwrap_or_default()
            ),
            (Secret::Env(_) | Secret::File(_), false) => "`env` and `file` secrets are read from \
                 the host, so they come only from the configuration file an administrator of the \
                 machine applies (`kontor config apply`); here give the secret itself as \
                 {\"value\": …}, which is stored sealed"
                .to_owned(),
            (_, false) => "a sealed value is taken only as this connection's saved settings hold \
                 it; give the secret itself as {\"value\": …}"
                .to_owned(),
        };
        problems.push(ConfigProblem::new(key, problem));
    }
    problems
}

/// Opens a stored tenant's sealed secrets, to build its connections.
pub fn open_tenant(
    tenant: &str,
    config: &mut TenantConfig,
    keyring: &Keyring,
) -> Result<(), Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    for (connection, settings) in &mut config.connections {
        for (name, secret) in settings.secrets_mut() {
            if let Secret::Sealed(value) = secret {
                let place = Place {
                    tenant,
                    connection,
                    field: name,
                };
                match keyring.open(value, &place) {
                    Ok(plain) => *secret = Secret::Value(plain),
                    Err(message) => problems.push(ConfigProblem::new(
                        format!("tenants.{tenant}.connections.{connection}.{name}"),
                        message,
                    )),
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(current: Option<&str>, previous: &[&str]) -> Keyring {
        Keyring::from_settings(&SecretsSettings {
            key: current.map(|k| Secret::Value(k.into())),
            previous: previous
                .iter()
                .map(|k| Secret::Value((*k).into()))
                .collect(),
        })
        .unwrap()
    }

    const HERE: Place<'static> = Place {
        tenant: "acme",
        connection: "erp",
        field: "password",
    };

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_with_nothing_else() {
        let (old, new) = (new_key().unwrap(), new_key().unwrap());
        let sealed = keyring(Some(&old), &[]).seal("hunter2", &HERE).unwrap();
        assert!(sealed.starts_with(PREFIX));
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            keyring(Some(&old), &[]).seal("hunter2", &HERE).unwrap(),
            "fresh nonce each time"
        );
        assert_eq!(
            keyring(Some(&old), &[]).open(&sealed, &HERE).unwrap(),
            "hunter2"
        );
        assert_eq!(
            keyring(Some(&new), &[&old]).open(&sealed, &HERE).unwrap(),
            "hunter2"
        );
        let refused = keyring(Some(&new), &[]).open(&sealed, &HERE).unwrap_err();
        assert!(refused.contains("neither store.secrets.key"), "{refused}");

        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(keyring(Some(&old), &[]).open(&tampered, &HERE).is_err());
    }

    #[test]
    fn a_sealed_secret_opens_only_where_it_was_sealed() {
        let key = new_key().unwrap();
        let keyring = keyring(Some(&key), &[]);
        let sealed = keyring.seal("hunter2", &HERE).unwrap();
        for elsewhere in [
            Place {
                tenant: "beta",
                ..HERE
            },
            Place {
                connection: "shop",
                ..HERE
            },
            Place {
                field: "webhook_secret",
                ..HERE
            },
        ] {
            let refused = keyring.open(&sealed, &elsewhere).unwrap_err();
            assert!(refused.contains("sealed for another tenant"), "{refused}");
        }
    }

    /// A tenant's configuration with one Tryton connection whose password is `password`.
    fn tenant_with(password: Secret, url: &str) -> TenantConfig {
        let settings = serde_json::json!({
            "type": "tryton", "url": url, "database": "kontor", "username": "admin",
            "password": password,
        });
        let mut config = TenantConfig::default();
        config
            .connections
            .insert("erp".into(), serde_json::from_value(settings).unwrap());
        config
    }

    #[test]
    fn a_sealed_value_copied_to_another_tenant_does_not_open_there() {
        let key = new_key().unwrap();
        let keyring = keyring(Some(&key), &[]);
        let mut acme = tenant_with(Secret::Value("acme's password".into()), "https://erp");
        seal_tenant("acme", &mut acme, &keyring, None).unwrap();
        let copied = acme.connections["erp"].secrets()[0].1.clone();
        assert!(matches!(copied, Secret::Sealed(_)));

        let mut beta = tenant_with(copied, "https://erp");
        seal_tenant("beta", &mut beta, &keyring, None).unwrap();
        let problems = open_tenant("beta", &mut beta, &keyring).unwrap_err();
        assert_eq!(problems[0].key, "tenants.beta.connections.erp.password");
        open_tenant("acme", &mut acme, &keyring).unwrap();
        assert_eq!(
            acme.connections["erp"].secrets()[0].1,
            Secret::Value("acme's password".into())
        );
    }

    #[test]
    fn a_value_sealed_before_secrets_were_bound_still_opens_and_is_bound_when_resealed() {
        let key = new_key().unwrap();
        let keyring = keyring(Some(&key), &[]);
        let bound = keyring.seal("hunter2", &HERE).unwrap();
        // Version 1 is the same cipher with no associated data; make one by hand.
        let legacy = {
            let (id, _) = bound[PREFIX.len()..].split_once(':').unwrap();
            let sealing = keyring.current.as_ref().unwrap();
            let nonce = [7u8; NONCE_LEN];
            let mut data = b"hunter2".to_vec();
            sealing
                .key
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::empty(),
                    &mut data,
                )
                .unwrap();
            let mut bytes = nonce.to_vec();
            bytes.extend(data);
            format!("{PREFIX_V1}{id}:{}", STANDARD.encode(bytes))
        };
        assert_eq!(keyring.open(&legacy, &HERE).unwrap(), "hunter2");
        let mut config = tenant_with(Secret::Sealed(legacy), "https://erp");
        assert_eq!(seal_tenant("acme", &mut config, &keyring, None).unwrap(), 1);
        let Secret::Sealed(resealed) = &config.connections["erp"].secrets()[0].1 else {
            panic!("sealed");
        };
        assert!(resealed.starts_with(PREFIX));
        assert!(
            keyring
                .open(
                    resealed,
                    &Place {
                        tenant: "beta",
                        ..HERE
                    }
                )
                .is_err()
        );
    }

    #[test]
    fn settings_from_the_api_carry_values_or_the_saved_secret_for_the_same_address() {
        let erp = |config: TenantConfig| config.connections["erp"].clone();
        let saved = erp(tenant_with(
            Secret::Env("TRYTON_PASSWORD".into()),
            "https://erp",
        ));
        let problems = |settings: &ConnectionConfig, saved: Option<&ConnectionConfig>| {
            api_settings_problems("erp", settings, saved)
        };

        // A value, and the saved secret sent back unchanged to the same address: taken.
        let value = erp(tenant_with(
            Secret::Value("new".into()),
            "https://elsewhere",
        ));
        assert!(problems(&value, Some(&saved)).is_empty());
        assert!(problems(&saved, Some(&saved)).is_empty());

        // A reference to the host, new or for a connection with nothing saved: refused.
        for secret in [
            Secret::Env("KONTOR_SECRETS_KEY".into()),
            Secret::File("/etc/shadow".into()),
            Secret::Sealed("kontor-sealed:v2:abcd:AAAA".into()),
        ] {
            let sent = erp(tenant_with(secret.clone(), "https://erp"));
            for against in [Some(&saved), None] {
                let found = problems(&sent, against);
                assert_eq!(found.len(), 1, "{secret:?}");
                assert_eq!(found[0].key, "connections.erp.password");
            }
        }
        let env = problems(
            &erp(tenant_with(Secret::Env("HOME".into()), "https://erp")),
            None,
        );
        assert!(
            env[0].message.contains("kontor config apply"),
            "{}",
            env[0].message
        );

        // The saved secret taken to another address: refused, naming the address.
        let moved = erp(tenant_with(
            Secret::Env("TRYTON_PASSWORD".into()),
            "https://attacker.example",
        ));
        let found = problems(&moved, Some(&saved));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("attacker.example"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_bad_key_is_named() {
        let error = Keyring::from_settings(&SecretsSettings {
            key: Some(Secret::Value("c2hvcnQ=".into())),
            previous: vec![],
        })
        .err()
        .unwrap();
        assert!(
            error
                .to_string()
                .starts_with("store.secrets.key: a key is 32 bytes"),
            "{error}"
        );
        let error = Keyring::from_settings(&SecretsSettings {
            key: None,
            previous: vec![Secret::Env("KONTOR_TEST_NO_SUCH_KEY".into())],
        })
        .err()
        .unwrap();
        assert!(
            error.to_string().contains("store.secrets.previous[0]"),
            "{error}"
        );
    }
}
