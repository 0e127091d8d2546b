//! What an order handed over by a stranger's program (Kontor's API) must be, beyond a
//! valid [`Order`]: it goes on into an ERP's database and documents. So
//! identifiers are short and printable, texts are bounded and carry no NUL or control
//! characters, and amounts have no more decimals than their currency has.

use crate::{Money, Order, ValidationErrors, Validator};

/// The longest identifier (an id, a number, a SKU, a method code), in characters.
pub const MAX_IDENTIFIER: usize = 255;
/// The longest name or address field, in characters.
pub const MAX_TEXT: usize = 1_000;
/// The longest note, in characters.
pub const MAX_NOTE: usize = 10_000;
/// The most lines an order may have.
pub const MAX_LINES: usize = 5_000;

/// Every problem with `order` as a submission, each naming its field.
pub fn check(order: &Order) -> Result<(), ValidationErrors> {
    let mut v = Validator::default();
    identifier(&mut v, "id", &order.id);
    identifier(&mut v, "number", &order.number);
    optional_identifier(
        &mut v,
        "customer.reference",
        order.customer.reference.as_deref(),
    );
    text(&mut v, "customer.name", &order.customer.name);
    optional_text(
        &mut v,
        "customer.company",
        order.customer.company.as_deref(),
    );
    optional_text(&mut v, "customer.phone", order.customer.phone.as_deref());
    optional_identifier(&mut v, "payment_method", order.payment_method.as_deref());
    optional_identifier(&mut v, "source_status", order.source_status.as_deref());
    identifier(&mut v, "delivery.method", order.delivery.method_code());
    v.check(
        order.lines.len() <= MAX_LINES,
        "lines",
        format!(
            "has {} lines; at most {MAX_LINES} are taken",
            order.lines.len()
        ),
    );
    for (i, line) in order.lines.iter().enumerate().take(MAX_LINES) {
        let field = |name: &str| format!("lines[{i}].{name}");
        identifier(&mut v, &field("id"), &line.id);
        identifier(&mut v, &field("sku"), &line.sku);
        text(&mut v, &field("name"), &line.name);
        amount(&mut v, &field("unit_price"), &line.unit_price);
        amount(&mut v, &field("discount"), &line.discount);
    }
    if let Some(shipping) = &order.shipping {
        identifier(&mut v, "shipping.method", &shipping.method);
        amount(&mut v, "shipping.amount", &shipping.amount);
    }
    for (i, discount) in order.discounts.iter().enumerate() {
        optional_identifier(
            &mut v,
            &format!("discounts[{i}].code"),
            discount.code.as_deref(),
        );
        text(
            &mut v,
            &format!("discounts[{i}].description"),
            &discount.description,
        );
        amount(&mut v, &format!("discounts[{i}].amount"), &discount.amount);
    }
    for (i, payment) in order.payments.iter().enumerate() {
        identifier(
            &mut v,
            &format!("payments[{i}].transaction_id"),
            &payment.transaction_id,
        );
        identifier(&mut v, &format!("payments[{i}].method"), &payment.method);
        amount(&mut v, &format!("payments[{i}].amount"), &payment.amount);
    }
    amount(&mut v, "totals.total", &order.totals.total);
    amount(&mut v, "totals.tax", &order.totals.tax);
    for (name, address) in [
        ("billing_address", &order.billing_address),
        ("shipping_address", &order.shipping_address),
    ] {
        let Some(address) = address else { continue };
        for (field, value) in [
            ("name", Some(address.name.as_str())),
            ("company", address.company.as_deref()),
            ("street", Some(address.street.as_str())),
            ("street2", address.street2.as_deref()),
            ("postal_code", Some(address.postal_code.as_str())),
            ("city", Some(address.city.as_str())),
            ("region", address.region.as_deref()),
            ("phone", address.phone.as_deref()),
        ] {
            optional_text(&mut v, &format!("{name}.{field}"), value);
        }
    }
    if let Some(note) = &order.note {
        bounded(&mut v, "note", note, MAX_NOTE, true);
    }
    v.finish()
}

fn identifier(v: &mut Validator, field: &str, value: &str) {
    let length = value.chars().count();
    v.check(
        length <= MAX_IDENTIFIER,
        field,
        format!("is {length} characters long; at most {MAX_IDENTIFIER} are taken"),
    );
    v.check(
        !value.chars().any(char::is_control),
        field,
        "has a control character (NUL, a line break, …); identifiers are printable",
    );
}

fn optional_identifier(v: &mut Validator, field: &str, value: Option<&str>) {
    if let Some(value) = value {
        identifier(v, field, value);
    }
}

fn text(v: &mut Validator, field: &str, value: &str) {
    bounded(v, field, value, MAX_TEXT, false);
}

fn optional_text(v: &mut Validator, field: &str, value: Option<&str>) {
    if let Some(value) = value {
        text(v, field, value);
    }
}

/// At most `max` characters, with no control characters but — in multi-line text —
/// line breaks and tabs.
fn bounded(v: &mut Validator, field: &str, value: &str, max: usize, lines: bool) {
    let length = value.chars().count();
    v.check(
        length <= max,
        field,
        format!("is {length} characters long; at most {max} are taken"),
    );
    let allowed = |c: char| lines && matches!(c, '\n' | '\r' | '\t');
    v.check(
        !value.chars().any(|c| c.is_control() && !allowed(c)),
        field,
        "has a control character (NUL, …)",
    );
}

fn amount(v: &mut Validator, field: &str, money: &Money) {
    v.check(
        money.rounded() == *money,
        &format!("{field}.amount"),
        format!(
            "{} has more decimals than {} has ({})",
            money.amount,
            money.currency,
            money.currency.minor_units()
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::order;

    fn fields(order: &Order) -> Vec<String> {
        check(order)
            .err()
            .map(|e| e.0.into_iter().map(|e| e.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_plain_order_passes() {
        assert_eq!(fields(&order(true)), Vec::<String>::new());
    }

    #[test]
    fn long_or_unprintable_identifiers_texts_and_over_precise_amounts_are_named() {
        let mut bad = order(true);
        bad.id = "x".repeat(MAX_IDENTIFIER + 1);
        bad.number = "10\u{0}01".into();
        bad.lines[0].sku = "SKU\nTWO".into();
        bad.customer.name = "y".repeat(MAX_TEXT + 1);
        bad.note = Some("line one\nline two\u{7}".into());
        bad.lines[0].unit_price.amount = rust_decimal::Decimal::new(12345, 3);
        assert_eq!(
            fields(&bad),
            [
                "id",
                "number",
                "customer.name",
                "lines[0].sku",
                "lines[0].unit_price.amount",
                "note"
            ]
        );
        let mut fine = order(true);
        fine.note = Some("line one\nline two\tend".into());
        fine.lines[0].unit_price.amount = rust_decimal::Decimal::new(123_400, 4);
        assert_eq!(fields(&fine), Vec::<String>::new(), "12.3400 is 12.34");
    }
}
