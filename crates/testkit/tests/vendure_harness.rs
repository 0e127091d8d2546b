//! The Vendure harness itself: a seeded server starts, sells, and is isolated.

use kontor_testkit::{Checkout, VendureServer};
use serde_json::json;

#[test]
fn a_seeded_vendure_sells_a_product_to_a_shopper() {
    let server = VendureServer::start().expect("Vendure starts");
    let mut admin = server.admin().expect("admin logs in");
    let product = admin
        .query(
            r#"mutation { createProduct(input: {translations: [{languageCode: en, name: "Mug", slug: "mug", description: ""}]}) { id } }"#,
            json!({}),
        )
        .expect("product created");
    admin
        .query(
            "mutation($p: ID!) { createProductVariants(input: [{productId: $p, sku: \"MUG\", price: 2000, stockOnHand: 10, translations: [{languageCode: en, name: \"Mug\"}]}]) { id } }",
            json!({"p": product["createProduct"]["id"]}),
        )
        .expect("variant created");
    let code = server
        .place_order(&[("MUG", 2)], &Checkout::default())
        .expect("order placed");
    let order = admin
        .query(
            "query($code: String!) { orders(options: {filter: {code: {eq: $code}}}) { items { state currencyCode totalWithTax } } }",
            json!({"code": code}),
        )
        .expect("order read");
    // 2 × 20.00 + 15.00 courier, net; 23 % VAT on top.
    assert_eq!(
        order["orders"]["items"][0],
        json!({"state": "PaymentSettled", "currencyCode": "PLN", "totalWithTax": 6765})
    );
    // Another server starts from the seeded template, without this one's product.
    let other = VendureServer::start().expect("a second Vendure starts");
    let variants = other
        .admin()
        .expect("admin logs in")
        .query("{ productVariants { totalItems } }", json!({}))
        .expect("variants read");
    assert_eq!(variants["productVariants"]["totalItems"], 0);
}
