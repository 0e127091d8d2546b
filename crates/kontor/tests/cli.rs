#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! The command line, as an operator uses it.

mod support;

use support::{MEMORY_CONFIG, Workspace, text};

fn assert_config_error(config: &str, key: &str) {
    let ws = Workspace::new(config);
    let out = ws.kontor(&["config", "check"]);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code for a bad config; stderr: {stderr}"
    );
    assert!(
        stderr.contains(key),
        "the error must name `{key}`: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one clear error: {stderr}"
    );
}

#[test]
fn a_malformed_config_gives_one_clear_error_naming_the_key_and_exit_code_2() {
    assert_config_error(
        "[store]\nurl = \"sqlite://x.db\"\n[runner]\nworkers = \"eight\"\n",
        "runner.workers",
    );
    assert_config_error("[runner\nworkers = 8\n", "kontor.toml:1:");
    assert_config_error(
        &MEMORY_CONFIG.replace(
            "type = \"memory\"\nstate_file = \"erp.jsonl\"",
            "type = \"odooo\"",
        ),
        "tenants.acme.connections.erp",
    );
    assert_config_error(
        &MEMORY_CONFIG.replace("to = \"erp\"", "to = \"erpp\""),
        "tenants.acme.flows.orders.to",
    );
    assert_config_error(
        &MEMORY_CONFIG.replace("idle_poll = \"20ms\"", "idle_poll = \"soon\""),
        "runner.idle_poll",
    );
}

#[test]
fn a_missing_config_file_is_named() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kontor"))
        .args(["--config", "/nonexistent/kontor.toml", "config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot read configuration file /nonexistent/kontor.toml"),
        "{stderr}"
    );
}

#[test]
fn config_check_apply_and_export_round_trip_through_the_store() {
    let ws = Workspace::new(MEMORY_CONFIG);
    let out = ws.kontor(&["config", "check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 tenants, 2 connections, 3 flows"));

    let out = ws.kontor(&["config", "apply"]);
    assert!(
        text(&out.stdout).contains("acme: created (revision 1)"),
        "{}",
        text(&out.stdout)
    );
    let out = ws.kontor(&["config", "apply"]);
    assert!(text(&out.stdout).contains("acme: unchanged (revision 1)"));

    let exported = text(&ws.kontor(&["config", "export"]).stdout);
    assert!(
        exported.contains("[tenants.acme.flows.orders]"),
        "{exported}"
    );
    // The store is the source of truth: a changed file only counts once applied.
    std::fs::write(
        ws.config(),
        MEMORY_CONFIG
            .replace("{dir}", &ws.dir.path().display().to_string())
            .replace(
                "[tenants.acme.flows.stock]\nfrom = \"erp\"\nto = \"shop\"\n",
                "",
            ),
    )
    .unwrap();
    assert!(text(&ws.kontor(&["config", "export"]).stdout).contains("flows.stock"));
    let out = ws.kontor(&["config", "apply"]);
    assert!(text(&out.stdout).contains("acme: updated (revision 2)"));
    assert!(!text(&ws.kontor(&["config", "export"]).stdout).contains("flows.stock"));
}

#[test]
fn sync_runs_a_flow_to_the_end_and_summarises() {
    let ws = Workspace::new(MEMORY_CONFIG);
    let orders = ws.seed(25);

    let dry = ws.kontor(&["sync", "orders", "--dry-run", "--json"]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(plan["changes"].as_array().unwrap().len(), 25);
    assert!(ws.erp().sales().is_empty(), "a dry run writes nothing");

    let out = ws.kontor(&["sync", "orders", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["parked"].as_array().unwrap().len(), 0);
    let erp = ws.erp();
    for order in &orders {
        assert_eq!(erp.sales_for(&order.number).len(), 1, "{}", order.number);
    }

    let out = ws.kontor(&[
        "links",
        "find",
        "--tenant",
        "acme",
        "--kind",
        "order",
        "--number",
        &orders[0].number,
    ]);
    let table = text(&out.stdout);
    assert!(table.contains("shop") && table.contains("erp"), "{table}");

    let out = ws.kontor(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["tenants"][0]["flows"].as_array().unwrap().len(), 3);
}

#[test]
fn a_parked_order_is_shown_explained_and_retried_after_the_fix() {
    let ws = Workspace::new(MEMORY_CONFIG);
    ws.seed(0);
    let shop = kontor_connectors::memory::MemorySystem::open("shop", &ws.tenant_file("shop.jsonl"))
        .unwrap();
    let erp = ws.erp();
    let mut generator = kontor_connectors::memory::OrderGenerator::new(
        1,
        kontor_connectors::memory::SellableItem::from_system(&erp),
    );
    let mut order = generator.next_order(chrono::Utc::now()).unwrap();
    order.lines[0].sku = "LEGACY-1".into();
    let order = shop.place_order(order).unwrap();
    drop(shop);

    let out = ws.kontor(&["sync", "orders"]);
    assert_eq!(out.status.code(), Some(1), "parked jobs make sync exit 1");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("unknown_sku") && stdout.contains("LEGACY-1"),
        "{stdout}"
    );

    let listed: serde_json::Value = serde_json::from_slice(
        &ws.kontor(&["jobs", "list", "--state", "parked", "--json"])
            .stdout,
    )
    .unwrap();
    let id = listed[0]["id"].as_i64().unwrap().to_string();
    let shown = text(&ws.kontor(&["jobs", "show", &id]).stdout);
    assert!(
        shown.contains("unknown_sku") && shown.contains(&order.id),
        "{shown}"
    );

    let fixed = MEMORY_CONFIG.replace(
        "warehouses = { MAIN = \"default\" }",
        "warehouses = { MAIN = \"default\" }\nsku = { \"LEGACY-1\" = \"MUG-330\" }",
    );
    std::fs::write(
        ws.config(),
        fixed.replace("{dir}", &ws.dir.path().display().to_string()),
    )
    .unwrap();
    assert!(ws.kontor(&["config", "apply"]).status.success());
    assert!(ws.kontor(&["jobs", "retry", &id]).status.success());
    // The retried job runs with the next sync (or `kontor run`).
    let out = ws.kontor(&["sync", "orders"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(ws.erp().sales_for(&order.number).len(), 1);
    let not_parked = ws.kontor(&["jobs", "retry", &id]);
    assert_eq!(not_parked.status.code(), Some(1));
    assert!(
        text(&not_parked.stderr).contains("succeeded"),
        "{}",
        text(&not_parked.stderr)
    );
}

#[test]
fn reports_come_as_tables_csv_and_json_and_bind_writes_only_when_accepted() {
    let ws = Workspace::new(MEMORY_CONFIG);
    let orders = ws.seed(6);
    assert!(ws.kontor(&["sync", "orders"]).status.success());
    let today = chrono::Utc::now().date_naive().to_string();
    let csv = text(
        &ws.kontor(&[
            "report", "sales", "--tenant", "acme", "--from", &today, "--to", &today, "--format",
            "csv",
        ])
        .stdout,
    );
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("day,channel,currency,orders,units,gross,tax")
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        (row[0], row[1], row[2], row[3]),
        (today.as_str(), "shop", "PLN", "6")
    );
    let total: rust_decimal::Decimal = orders.iter().map(|o| o.totals.total.amount).sum();
    assert_eq!(row[5], total.to_string());
    let json: serde_json::Value = serde_json::from_slice(
        &ws.kontor(&[
            "report", "sales", "--tenant", "acme", "--from", &today, "--to", &today, "--format",
            "json",
        ])
        .stdout,
    )
    .unwrap();
    assert!(!json["by_product"].as_array().unwrap().is_empty());
    let reversed = ws.kontor(&[
        "report",
        "sales",
        "--tenant",
        "acme",
        "--from",
        &today,
        "--to",
        "2000-01-01",
    ]);
    assert_eq!(reversed.status.code(), Some(1));

    let report = text(&ws.kontor(&["bind"]).stdout);
    assert!(
        report.contains("acme/catalogue:") && report.contains("Nothing was written"),
        "{report}"
    );
    let accepted: serde_json::Value =
        serde_json::from_slice(&ws.kontor(&["bind", "--accept", "--json"]).stdout).unwrap();
    assert_eq!(accepted["accepted"], true);
}

#[test]
fn an_api_key_is_shown_once_listed_without_its_secret_and_revoked() {
    let ws = Workspace::new(MEMORY_CONFIG);
    assert!(ws.kontor(&["config", "apply"]).status.success());
    let refused = ws.kontor(&[
        "keys", "create", "--tenant", "acme", "--role", "boss", "--name", "x",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("--role `boss`"));
    let refused = ws.kontor(&[
        "keys", "create", "--tenant", "nobody", "--role", "shop", "--name", "x",
    ]);
    assert_eq!(refused.status.code(), Some(2));

    let made = ws.kontor(&[
        "keys",
        "create",
        "--tenant",
        "acme",
        "--role",
        "shop",
        "--name",
        "b2b portal",
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let key = text(&made.stdout).trim().to_owned();
    let (id, secret) = key
        .strip_prefix("kontor_")
        .and_then(|rest| rest.split_once('_'))
        .unwrap();
    let listed = text(&ws.kontor(&["keys", "list", "--tenant", "acme"]).stdout);
    assert!(
        listed.contains(id) && listed.contains("b2b portal") && listed.contains("shop"),
        "{listed}"
    );
    assert!(!listed.contains(secret), "the secret is never shown again");

    assert!(
        ws.kontor(&["keys", "revoke", "--tenant", "acme", id])
            .status
            .success()
    );
    let again = ws.kontor(&["keys", "revoke", "--tenant", "acme", id]);
    assert_eq!(again.status.code(), Some(1));
    let listed: serde_json::Value =
        serde_json::from_slice(&ws.kontor(&["keys", "list", "--json"]).stdout).unwrap();
    assert!(listed[0]["revoked_at"].is_string(), "{listed}");
}

/// A WooCommerce shop whose keys are given inline, and a store key from a file.
const SEALED_CONFIG: &str = r#"
data_dir = "{dir}"

[store]
url = "sqlite://{dir}/kontor.db"

[store.secrets]
key = { file = "{dir}/key" }
previous = [{ file = "{dir}/old-key" }]

[server]
enabled = false

[tenants.acme.connections.shop]
type = "woocommerce"
url = "https://shop.example"
consumer_key = { value = "ck_plain_consumer_key" }
consumer_secret = { value = "cs_plain_consumer_secret" }

[tenants.acme.connections.erp]
type = "memory"

[tenants.acme.flows.orders]
from = "shop"
to = "erp"
"#;

#[test]
fn inline_secrets_are_stored_sealed_and_a_new_key_reseals_them() {
    let without_keys = SEALED_CONFIG.replace(
        "[store.secrets]\nkey = { file = \"{dir}/key\" }\nprevious = [{ file = \"{dir}/old-key\" }]\n",
        "",
    );
    assert!(!without_keys.contains("store.secrets"));
    let ws = Workspace::new(&without_keys);
    let plain = ["ck_plain_consumer_key", "cs_plain_consumer_secret"];
    let stored_bytes = || {
        std::fs::read_dir(ws.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("kontor.db"))
            .flat_map(|e| std::fs::read(e.path()).unwrap())
            .collect::<Vec<u8>>()
    };
    let contains = |haystack: &[u8], needle: &str| {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };

    // No key: an inline secret is refused, by name, rather than stored in the clear.
    let refused = ws.kontor(&["config", "apply"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("tenants.acme.connections.shop.consumer_key: an inline secret is kept in the store only sealed: set store.secrets.key"),
        "{stderr}"
    );
    assert!(!contains(&stored_bytes(), plain[0]));

    let first_key = text(&ws.kontor(&["secrets", "new-key"]).stdout)
        .trim()
        .to_owned();
    std::fs::write(ws.path("key"), &first_key).unwrap();
    let dir = ws.dir.path().display().to_string();
    std::fs::write(
        ws.config(),
        SEALED_CONFIG
            .replace("previous = [{ file = \"{dir}/old-key\" }]\n", "")
            .replace("{dir}", &dir),
    )
    .unwrap();
    let applied = ws.kontor(&["config", "apply"]);
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let bytes = stored_bytes();
    for secret in plain {
        assert!(
            !contains(&bytes, secret),
            "`{secret}` is in the store in the clear"
        );
    }
    let exported = text(&ws.kontor(&["config", "export"]).stdout);
    assert!(
        exported.contains("sealed = \"kontor-sealed:v2:"),
        "{exported}"
    );
    assert!(plain.iter().all(|s| !exported.contains(s)), "{exported}");
    assert!(text(&ws.kontor(&["config", "apply"]).stdout).contains("acme: unchanged"));
    let status = text(&ws.kontor(&["status", "--json"]).stdout);
    assert!(
        !status.contains("\"error\": \""),
        "the tenant starts with its opened secrets: {status}"
    );

    // Rotation: the old key moves to `previous`; rotate reseals; then the old key can go.
    std::fs::write(
        ws.config(),
        SEALED_CONFIG.replace("{dir}", &ws.dir.path().display().to_string()),
    )
    .unwrap();
    std::fs::write(ws.path("old-key"), &first_key).unwrap();
    let second_key = text(&ws.kontor(&["secrets", "new-key"]).stdout)
        .trim()
        .to_owned();
    assert_ne!(first_key, second_key);
    std::fs::write(ws.path("key"), &second_key).unwrap();
    let rotated = ws.kontor(&["secrets", "rotate"]);
    assert!(
        text(&rotated.stdout).contains("acme: 2 secrets resealed"),
        "{}{}",
        text(&rotated.stdout),
        text(&rotated.stderr)
    );
    assert!(text(&ws.kontor(&["secrets", "rotate"]).stdout).contains("acme: nothing to reseal"));
    std::fs::write(ws.path("old-key"), second_key.as_bytes()).unwrap();
    let status = text(&ws.kontor(&["status", "--json"]).stdout);
    assert!(
        !status.contains("\"error\": \""),
        "opens with the new key alone: {status}"
    );

    // A store key that did not seal them opens nothing, and says which key is missing.
    let stranger = text(&ws.kontor(&["secrets", "new-key"]).stdout)
        .trim()
        .to_owned();
    std::fs::write(ws.path("key"), &stranger).unwrap();
    std::fs::write(ws.path("old-key"), &stranger).unwrap();
    let status = text(&ws.kontor(&["status", "--json"]).stdout);
    assert!(
        status.contains("connections.shop.consumer_key: sealed with key"),
        "{status}"
    );
}
