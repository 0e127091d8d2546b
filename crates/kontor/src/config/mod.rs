//! Kontor's configuration file.
//!
//! One TOML file holds the bootstrap settings (store, server, runner, logs) and the
//! integration configuration (tenants with their connections, flows and mappings).
//! At run time the store is the source of truth for the integration part: `kontor
//! config apply` writes it there, and `kontor config export` reads it back.
//!
//! Every error names the key it is about.

mod settings;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kontor_connectors::ConnectionConfig;
use kontor_flows::{ConfigProblem, ConnectionInfo, FlowConfig, Mappings, check_flows};
use serde::{Deserialize, Serialize};

pub use settings::{
    AuthSettings, LogFormat, LogSettings, RetrySettings, RunnerSettings, SecretsSettings,
    ServerSettings, StoreSettings,
};

/// One tenant: a merchant, with their systems and flows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionConfig>,
    #[serde(default)]
    pub flows: BTreeMap<String, FlowConfig>,
    #[serde(default)]
    pub mappings: Mappings,
}

/// The whole file: bootstrap settings, then tenants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Relative file paths in connection settings are resolved against this directory.
    #[serde(default = "settings::current_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub store: StoreSettings,
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub runner: RunnerSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
}

impl Default for ConfigFile {
    fn default() -> Self {
        ConfigFile {
            data_dir: settings::current_dir(),
            store: StoreSettings::default(),
            server: ServerSettings::default(),
            runner: RunnerSettings::default(),
            log: LogSettings::default(),
            tenants: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not valid TOML: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}{}: {key}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        key: String,
        line: Option<usize>,
        message: String,
    },
    #[error("{}", format_problems(path, problems))]
    Problems {
        path: PathBuf,
        problems: Vec<ConfigProblem>,
    },
    #[error("tenant `{tenant}` in the store: {key}: {message}")]
    Stored {
        tenant: String,
        key: String,
        message: String,
    },
}

fn format_problems(path: &Path, problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {p}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, column)
}

fn is_identifier(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl ConfigFile {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = ConfigFile::parse(&text, path)?;
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(ConfigError::Problems {
                path: path.to_owned(),
                problems,
            });
        }
        Ok(config)
    }

    /// Parses TOML text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|e| {
            let (line, column) = line_and_column(text, e.span().map_or(0, |s| s.start));
            ConfigError::Syntax {
                path: path.to_owned(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            ConfigError::Invalid {
                path: path.to_owned(),
                key: if key == "." {
                    "(top level)".to_owned()
                } else {
                    key
                },
                line: inner.span().map(|s| line_and_column(text, s.start).0),
                message: inner.message().trim().to_owned(),
            }
        })
    }

    /// Everything wrong that can be found without connecting to anything.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = self.settings_problems();
        for (id, tenant) in &self.tenants {
            problems.extend(tenant.problems(id));
        }
        problems
    }

    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}

impl TenantConfig {
    /// Problems with one tenant, keys starting at `tenants.<id>`.
    pub fn problems(&self, id: &str) -> Vec<ConfigProblem> {
        let prefix = format!("tenants.{id}");
        let mut problems = Vec::new();
        if !is_identifier(id) {
            problems.push(ConfigProblem::new(
                prefix.clone(),
                "a tenant id is lower-case letters, digits, `-` and `_`",
            ));
        }
        let mut infos = BTreeMap::new();
        for (name, connection) in &self.connections {
            if !is_identifier(name) {
                problems.push(ConfigProblem::new(
                    format!("{prefix}.connections.{name}"),
                    "a connection name is lower-case letters, digits, `-` and `_`",
                ));
            }
            for (key, message) in connection.problems() {
                problems.push(ConfigProblem::new(
                    format!("{prefix}.connections.{name}.{key}"),
                    message,
                ));
            }
            infos.insert(
                name.clone(),
                ConnectionInfo {
                    kind: connection.kind(),
                    capabilities: connection.capabilities(),
                },
            );
        }
        for problem in self.mappings.problems() {
            problems.push(ConfigProblem::new(
                format!("{prefix}.{}", problem.key),
                problem.message,
            ));
        }
        for problem in check_flows(&self.flows, &infos) {
            problems.push(ConfigProblem::new(
                format!("{prefix}.{}", problem.key),
                problem.message,
            ));
        }
        problems
    }

    /// The tenant as stored: a JSON document.
    pub fn to_document(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn from_document(
        tenant: &str,
        document: serde_json::Value,
    ) -> Result<TenantConfig, ConfigError> {
        serde_path_to_error::deserialize(document).map_err(|e| ConfigError::Stored {
            tenant: tenant.to_owned(),
            key: e.path().to_string(),
            message: e.into_inner().to_string(),
        })
    }
}
