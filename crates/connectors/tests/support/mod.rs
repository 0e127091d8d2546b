//! What the shop connectors' tests share: a connection built from TOML as an operator
//! writes it, and a small catalogue (a T-shirt in sizes, a mug) with prices and stock.
#![allow(dead_code)] // Each test file uses its own part.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kontor_connector::{Connector, ConnectorError, PriceUpdate, ProductUpsert, StockUpdate};
use kontor_connectors::{BuildContext, ConnectionConfig, MemoryRegistry};
use kontor_model::{
    LocalizedText, MediaRef, Money, Price, PriceKind, PriceScope, Product, ProductStatus, TaxRate,
    Variant,
};
use rust_decimal::{Decimal, dec};

/// A connection of tenant `acme` named `shop`, from its TOML, its files in `tenant_dir`;
/// the configuration must have no problems.
pub fn build(toml: &str, tenant_dir: &Path) -> Arc<dyn Connector> {
    let config: ConnectionConfig = toml::from_str(toml).expect("config parses");
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    build_unchecked(toml, tenant_dir)
}

/// As [`build`], for a connection whose configuration is meant to fail when used (a
/// wrong key, a closed port).
pub fn build_unchecked(toml: &str, tenant_dir: &Path) -> Arc<dyn Connector> {
    let config: ConnectionConfig = toml::from_str(toml).expect("config parses");
    config
        .build(&BuildContext {
            tenant: "acme",
            connection: "shop",
            tenant_dir,
            memory: &MemoryRegistry::default(),
            inbox: None,
        })
        .expect("builds")
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn pln(amount: Decimal) -> Money {
    Money::new(amount, kontor_model::Currency::new("PLN").expect("PLN"))
}

pub fn variant(sku: &str, options: &[(&str, &str)]) -> Variant {
    Variant {
        sku: sku.into(),
        ean: None,
        options: options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        name: None,
        images: vec![],
        weight_kg: Some(dec!(0.2)),
    }
}

/// A T-shirt (`TSH`) with a variant `TSH-<size>` per size, VAT 23 %.
pub fn tshirt(sizes: &[&str]) -> Product {
    Product {
        code: "TSH".into(),
        name: LocalizedText::new("en", "T-shirt").with("pl", "Koszulka"),
        description: LocalizedText::new("en", "Organic cotton"),
        categories: vec![vec!["Clothing".into(), "Shirts".into()]],
        tags: vec![],
        attributes: BTreeMap::new(),
        options: vec!["size".into()],
        images: vec![MediaRef {
            url: "https://erp.example.com/img/tsh.jpg".into(),
            alt: Some("T-shirt".into()),
            content_type: None,
        }],
        attachments: vec![],
        variants: sizes
            .iter()
            .map(|s| variant(&format!("TSH-{s}"), &[("size", s)]))
            .collect(),
        tax_rate: Some(TaxRate(dec!(23))),
        status: ProductStatus::Active,
        updated_at: None,
    }
}

/// A mug (`MUG`): one variant, no options, VAT 8 %.
pub fn mug() -> Product {
    Product {
        code: "MUG".into(),
        name: LocalizedText::new("en", "Mug"),
        categories: vec![vec!["Kitchen".into()]],
        options: vec![],
        images: vec![],
        variants: vec![variant("MUG", &[])],
        tax_rate: Some(TaxRate(dec!(8))),
        ..tshirt(&[])
    }
}

pub fn upsert(product: Product) -> ProductUpsert {
    ProductUpsert {
        product,
        product_id: None,
    }
}

/// A base price in PLN, with or without tax.
pub fn base_price(sku: &str, amount: Decimal, includes_tax: bool) -> PriceUpdate {
    PriceUpdate {
        price: Price {
            sku: sku.into(),
            amount: pln(amount),
            includes_tax,
            scope: PriceScope::Base,
            kind: PriceKind::Regular,
            min_quantity: Decimal::ONE,
            valid_from: None,
            valid_until: None,
        },
        variant_id: None,
        scope_id: None,
    }
}

pub fn stock_at(sku: &str, location: &str, available: Decimal) -> StockUpdate {
    StockUpdate {
        sku: sku.into(),
        variant_id: None,
        location: location.into(),
        available,
        incoming: None,
    }
}

/// The results of a batch, each of which must have succeeded.
pub fn ok<T: std::fmt::Debug>(results: Vec<Result<T, ConnectorError>>) -> Vec<T> {
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("item failed: {e}")))
        .collect()
}
