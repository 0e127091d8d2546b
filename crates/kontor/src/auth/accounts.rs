//! Local accounts: their names, roles and passwords (Argon2id hashes in PHC form; the
//! salt and parameters travel with the hash), and the random tokens sessions are made of.

use super::Role;

/// A username: 1–64 lower-case letters, digits and `. _ - @`.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@')
        })
}

/// The role a person may have: admin, operator or viewer (`shop` is for machines).
pub fn person_role(name: &str) -> Option<Role> {
    Role::from_name(name).filter(|role| *role != Role::ShopIntegration)
}

/// Shorter passwords are refused.
pub const MIN_PASSWORD_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password has at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    #[error("the password could not be hashed: {0}")]
    Hashing(String),
}

/// An Argon2id hash of `password`, with a fresh salt. Slow by design: call it off the
/// async threads.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    use argon2::password_hash::PasswordHasher;
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Whether `password` matches `hash`; a damaged hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password matches, checked when the account does not exist so that a
/// sign-in takes as long for an unknown name as for a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// 256 bits from the operating system's random source, as hex: session cookies, CSRF
/// tokens, OIDC state and PKCE verifiers.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The system's random source does not fail on the platforms Kontor runs on; if it
    // ever did, two v4 UUIDs (also from it, through another path) stand in.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_takes_its_password_and_no_other() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert!(!verify_password("anything at all", decoy_hash()));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 64);
    }
}
