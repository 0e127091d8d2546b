//! Connection secrets at rest: inline secrets are sealed with AES-256-GCM before a
//! tenant's configuration is stored, and opened when its connections are built. The key
//! comes from the environment or a file (`[store.secrets]`), never from the store. A
//! sealed value names the key that sealed it, so older keys keep opening what they
//! sealed while `kontor secrets rotate` reseals everything under the current one.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kontor_connector::Secret;
use kontor_flows::ConfigProblem;
use sha2::{Digest, Sha256};

use crate::config::{SecretsSettings, TenantConfig};

/// How sealed values begin: format version, then the key id.
const PREFIX: &str = "kontor-sealed:v1:";
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

    fn seal(&self, plain: &str) -> Option<String> {
        let key = self.current.as_ref()?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut sealed = plain.as_bytes().to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .ok()?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Some(format!("{PREFIX}{}:{}", key.id, STANDARD.encode(bytes)))
    }

    fn open(&self, sealed: &str) -> Result<String, String> {
        let (id, data) = sealed
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
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
            .open_in_place(nonce, Aad::empty(), &mut buffer)
            .map_err(|_| {
                format!("the sealed value does not open with key {id}: damaged or altered")
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
            let plain = match secret {
                Secret::Value(plain) => {
                    if let Some(value) = kept.get(&(connection.clone(), name))
                        && keyring.open(value).as_deref() == Ok(plain.as_str())
                    {
                        *secret = Secret::Sealed(value.clone());
                        continue;
                    }
                    plain.clone()
                }
                Secret::Sealed(value) if !keyring.is_current(value) => {
                    match keyring.open(value) {
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
            match keyring.seal(&plain) {
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
                match keyring.open(value) {
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

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_with_nothing_else() {
        let (old, new) = (new_key().unwrap(), new_key().unwrap());
        let sealed = keyring(Some(&old), &[]).seal("hunter2").unwrap();
        assert!(sealed.starts_with(PREFIX));
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            keyring(Some(&old), &[]).seal("hunter2").unwrap(),
            "fresh nonce each time"
        );
        assert_eq!(keyring(Some(&old), &[]).open(&sealed).unwrap(), "hunter2");
        assert_eq!(
            keyring(Some(&new), &[&old]).open(&sealed).unwrap(),
            "hunter2"
        );
        let refused = keyring(Some(&new), &[]).open(&sealed).unwrap_err();
        assert!(refused.contains("neither store.secrets.key"), "{refused}");

        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(keyring(Some(&old), &[]).open(&tampered).is_err());
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
