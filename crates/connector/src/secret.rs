//! Secrets in configuration: given by reference (an environment variable or a file) or
//! inline. Inline secrets are sealed (encrypted) before the configuration is stored, and
//! opened by Kontor, which holds the key, before a connection is built; never printed.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a secret comes from. In TOML: `password = { env = "TRYTON_PASSWORD" }`,
/// `{ file = "/run/secrets/tryton" }`, or `{ value = "…" }`; as stored,
/// `{ sealed = "kontor-sealed:v2:…" }`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Secret {
    Env(String),
    File(PathBuf),
    Value(String),
    /// An inline value encrypted with Kontor's secrets key; opened before use.
    Sealed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable `{0}` is not set")]
    MissingEnv(String),
    #[error("cannot read secret file `{path}`: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the secret is empty")]
    Empty,
    #[error("the secret is sealed; Kontor opens it with its secrets key (store.secrets.key)")]
    Sealed,
}

impl Secret {
    /// The secret's value; a file's trailing newline is dropped.
    pub fn resolve(&self) -> Result<String, SecretError> {
        let value = match self {
            Secret::Env(name) => {
                std::env::var(name).map_err(|_| SecretError::MissingEnv(name.clone()))?
            }
            Secret::File(path) => std::fs::read_to_string(path)
                .map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            Secret::Value(value) => value.clone(),
            Secret::Sealed(_) => return Err(SecretError::Sealed),
        };
        if value.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Env(name) => write!(f, "Secret(env {name})"),
            Secret::File(path) => write!(f, "Secret(file {})", path.display()),
            Secret::Value(_) => f.write_str("Secret(inline, redacted)"),
            Secret::Sealed(_) => f.write_str("Secret(sealed)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_secrets_never_show_in_debug_output() {
        let s = Secret::Value("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn file_secrets_lose_their_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("kontor-secret-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        assert_eq!(Secret::File(dir.clone()).resolve().unwrap(), "s3cret");
        std::fs::remove_file(dir).unwrap();
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = Secret::Env("KONTOR_TEST_SURELY_UNSET".into())
            .resolve()
            .unwrap_err();
        assert!(err.to_string().contains("KONTOR_TEST_SURELY_UNSET"));
    }
}
