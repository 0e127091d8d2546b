//! OpenAPI schemas of the types that travel as plain strings (they serialize through
//! `String`, so a derived schema would describe their insides instead).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

fn string_schema(pattern: Option<&str>, description: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(pattern)
        .description(Some(description))
        .examples([serde_json::json!(example)])
        .into()
}

macro_rules! string_schema {
    ($type:ty, $pattern:expr, $description:expr, $example:expr) => {
        impl utoipa::PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                string_schema($pattern, $description, $example)
            }
        }
        impl utoipa::ToSchema for $type {}
    };
}

string_schema!(
    crate::Currency,
    Some("^[A-Z]{3}$"),
    "An ISO 4217 currency code.",
    "PLN"
);
string_schema!(crate::Email, None, "An e-mail address.", "anna@example.com");
string_schema!(
    crate::VatId,
    None,
    "A VAT id, with its country prefix where it has one.",
    "PL5260250274"
);
string_schema!(
    crate::CountryCode,
    Some("^[A-Z]{2}$"),
    "An ISO 3166-1 alpha-2 country code.",
    "PL"
);
