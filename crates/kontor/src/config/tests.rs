use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
    let config = ConfigFile::parse(text, Path::new("kontor.toml"))?;
    let problems = config.problems();
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Problems {
            path: "kontor.toml".into(),
            problems,
        })
    }
}

const GOOD: &str = r#"
[store]
url = "sqlite://kontor.db"

[tenants.acme.connections.shop]
type = "memory"

[tenants.acme.connections.erp]
type = "memory"
seed_demo = true
latency = "5ms"

[tenants.acme.flows.orders]
from = "shop"
to = "erp"
every = "30s"
options = { tolerance = "0.01" }

[tenants.acme.mappings]
sku = { "OLD-1" = "NEW-1" }
"#;

#[test]
fn a_good_file_loads_with_defaults_filled_in() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.runner.workers, 8);
    let tenant = &config.tenants["acme"];
    assert_eq!(
        tenant.flows["orders"].every,
        Some(std::time::Duration::from_secs(30))
    );
    assert_eq!(tenant.mappings.erp_sku("OLD-1"), "NEW-1");
}

#[test]
fn export_round_trips() {
    let config = parse(GOOD).unwrap();
    let again = parse(&config.to_toml().unwrap()).unwrap();
    assert_eq!(config, again);
}

fn message(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn a_syntax_error_gives_line_and_column() {
    let m = message("[store]\nurl = \"sqlite://x.db\"\nworkers 8\n");
    assert!(m.starts_with("kontor.toml:3:"), "{m}");
}

#[test]
fn a_wrong_type_names_the_key_and_line() {
    let m = message("[runner]\nworkers = \"many\"\n");
    assert!(m.contains("runner.workers"), "{m}");
    assert!(m.starts_with("kontor.toml:2:"), "{m}");
}

#[test]
fn an_unknown_key_is_named() {
    let m = message("[runner]\nworkerz = 3\n");
    assert!(m.contains("workerz"), "{m}");
    let m = message("[tenants.acme.connections.shop]\ntype = \"memory\"\nerror_rat = 0.5\n");
    assert!(
        m.contains("tenants.acme.connections.shop") && m.contains("error_rat"),
        "{m}"
    );
}

#[test]
fn an_unknown_connector_type_is_named() {
    let m = message("[tenants.acme.connections.shop]\ntype = \"shopfiy\"\n");
    assert!(
        m.contains("tenants.acme.connections.shop") && m.contains("shopfiy"),
        "{m}"
    );
}

#[test]
fn flows_are_checked_against_their_connections() {
    let m = message(&GOOD.replace("to = \"erp\"", "to = \"erpp\""));
    assert!(
        m.contains("tenants.acme.flows.orders.to: no connection named `erpp`"),
        "{m}"
    );
    let m = message(&GOOD.replace("every = \"30s\"", "cron = \"every tuesday\""));
    assert!(m.contains("tenants.acme.flows.orders.cron"), "{m}");
    let m = message(&GOOD.replace("tolerance = \"0.01\"", "tolerence = \"0.01\""));
    assert!(m.contains("tenants.acme.flows.orders.options"), "{m}");
    let m = message(&GOOD.replace("latency = \"5ms\"", "error_rate = 2.0"));
    assert!(
        m.contains("tenants.acme.connections.erp.error_rate: must be between 0 and 1"),
        "{m}"
    );
}

#[test]
fn bad_settings_are_named() {
    let m = message("[store]\nurl = \"mysql://x\"\n");
    assert!(m.contains("store.url"), "{m}");
    let m = message("[tenants.\"Big Co\"]\n");
    assert!(m.contains("tenants.Big Co"), "{m}");
}
