//! API keys and session secrets: made from the operating system's random source; only
//! their hashes are stored.

use sha2::{Digest, Sha256};

/// The prefix of Kontor's API keys: `kontor_<id>_<secret>`.
pub const KEY_PREFIX: &str = "kontor_";

/// A new API key's parts: the id (stored), the secret's hash (stored) and the whole
/// key (shown once).
pub struct MintedKey {
    pub id: String,
    pub secret_hash: String,
    pub key: String,
}

/// Makes a key: an id and a 244-bit secret from the operating system's random source.
pub fn mint_key() -> MintedKey {
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    MintedKey {
        secret_hash: hash_secret(&secret),
        key: format!("{KEY_PREFIX}{id}_{secret}"),
        id,
    }
}

/// What the store keeps of a session cookie.
pub fn session_hash(cookie: &str) -> String {
    hash_secret(cookie)
}

pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Equal without telling, by its timing, how much of it was equal.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_only_their_hash_is_kept() {
        let a = mint_key();
        let b = mint_key();
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(&format!("{KEY_PREFIX}{}_", a.id)));
        assert!(!a.key.contains(&a.secret_hash));
        let secret = a.key.rsplit('_').next().unwrap_or_default();
        assert_eq!(secret.len(), 64);
        assert!(same(&hash_secret(secret), &a.secret_hash));
        assert!(!same(&hash_secret(secret), &b.secret_hash));
    }
}
