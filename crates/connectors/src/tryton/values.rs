//! Tryton's JSON-RPC value encoding: decimals, dates, datetimes and bytes travel as
//! objects tagged with `__class__`; a dotted read (`party.name`) comes back under the
//! key `party.`.

use base64::Engine;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use kontor_connector::ConnectorError;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

pub(crate) type Record = Map<String, Value>;

pub(crate) fn decimal(value: Decimal) -> Value {
    json!({ "__class__": "Decimal", "decimal": value.to_string() })
}

pub(crate) fn date(value: NaiveDate) -> Value {
    json!({ "__class__": "date", "year": value.year(), "month": value.month(), "day": value.day() })
}

/// Tryton keeps timestamps as naive UTC.
pub(crate) fn datetime(value: DateTime<Utc>) -> Value {
    json!({
        "__class__": "datetime",
        "year": value.year(), "month": value.month(), "day": value.day(),
        "hour": value.hour(), "minute": value.minute(), "second": value.second(),
        "microsecond": value.timestamp_subsec_micros(),
    })
}

fn unexpected(record: &Record, field: &str, wanted: &str) -> ConnectorError {
    ConnectorError::protocol(format!(
        "Tryton sent {} for `{field}`, expected {wanted}",
        record
            .get(field)
            .map_or_else(|| "nothing".to_owned(), ToString::to_string)
    ))
}

pub(crate) fn get_i64(record: &Record, field: &str) -> Result<i64, ConnectorError> {
    record
        .get(field)
        .and_then(Value::as_i64)
        .ok_or_else(|| unexpected(record, field, "an id"))
}

/// A Many2One: its id, or `None` when empty.
pub(crate) fn get_ref(record: &Record, field: &str) -> Option<i64> {
    record.get(field).and_then(Value::as_i64)
}

/// A One2Many or Many2Many: its ids. An answer without the field is refused — read as
/// no lines, a sale would lose them.
pub(crate) fn get_ids(record: &Record, field: &str) -> Result<Vec<i64>, ConnectorError> {
    match record.get(field) {
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| id.as_i64().ok_or_else(|| unexpected(record, field, "ids")))
            .collect(),
        Some(Value::Null) => Ok(Vec::new()),
        _ => Err(unexpected(record, field, "a list of ids")),
    }
}

/// A boolean; on SQLite Tryton sends some as 0 and 1.
pub(crate) fn get_bool(record: &Record, field: &str) -> Option<bool> {
    match record.get(field)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

pub(crate) fn get_str<'a>(record: &'a Record, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A decimal field that must have a value: money and quantities are read with it, so
/// an empty or missing one is refused by name rather than read as zero.
pub(crate) fn get_decimal(record: &Record, field: &str) -> Result<Decimal, ConnectorError> {
    get_optional_decimal(record, field)?.ok_or_else(|| unexpected(record, field, "a decimal"))
}

/// A decimal field that may be empty (`None`); a field the answer lacks is refused.
pub(crate) fn get_optional_decimal(
    record: &Record,
    field: &str,
) -> Result<Option<Decimal>, ConnectorError> {
    match record.get(field) {
        Some(Value::Object(tagged))
            if tagged.get("__class__").and_then(Value::as_str) == Some("Decimal") =>
        {
            tagged
                .get("decimal")
                .and_then(Value::as_str)
                .and_then(|d| Decimal::from_str_exact(d).ok())
                .map(Some)
                .ok_or_else(|| unexpected(record, field, "a decimal"))
        }
        // Float fields (quantities) come as JSON numbers.
        Some(Value::Number(n)) => n
            .to_string()
            .parse()
            .map(Some)
            .map_err(|_| unexpected(record, field, "a number")),
        Some(Value::Null) => Ok(None),
        None => Err(unexpected(record, field, "a decimal")),
        _ => Err(unexpected(record, field, "a decimal")),
    }
}

pub(crate) fn get_date(record: &Record, field: &str) -> Option<NaiveDate> {
    let tagged = record.get(field)?.as_object()?;
    let part = |k: &str| tagged.get(k).and_then(Value::as_u64);
    NaiveDate::from_ymd_opt(
        i32::try_from(part("year")?).ok()?,
        u32::try_from(part("month")?).ok()?,
        u32::try_from(part("day")?).ok()?,
    )
}

pub(crate) fn get_datetime(record: &Record, field: &str) -> Option<DateTime<Utc>> {
    let tagged = record.get(field)?.as_object()?;
    let part = |k: &str| {
        tagged
            .get(k)
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(tagged.get("year")?.as_i64()?).ok()?,
        part("month")?,
        part("day")?,
    )?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        part("hour")?,
        part("minute")?,
        part("second")?,
        part("microsecond").unwrap_or(0),
    )?;
    Some(NaiveDateTime::new(date, time).and_utc())
}

pub(crate) fn get_bytes(value: &Value) -> Result<Vec<u8>, ConnectorError> {
    match value {
        Value::Object(tagged)
            if tagged.get("__class__").and_then(Value::as_str) == Some("bytes") =>
        {
            // Python encodes MIME-style, a line break every 76 characters.
            let encoded: String = tagged
                .get("base64")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| {
                    ConnectorError::protocol(format!("Tryton sent bytes that are not base64: {e}"))
                })
        }
        Value::String(text) => Ok(text.clone().into_bytes()),
        other => Err(ConnectorError::protocol(format!(
            "Tryton sent {other} where a file was expected"
        ))),
    }
}

/// The records of a dotted read: `party.` is an object, `lines.` a list of them.
pub(crate) fn nested<'a>(record: &'a Record, field: &str) -> Vec<&'a Record> {
    match record.get(&format!("{field}.")) {
        Some(Value::Object(one)) => vec![one],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_object).collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn tagged_values_round_trip() {
        let mut record = Record::new();
        record.insert("price".into(), decimal(dec!(32.44)));
        record.insert("quantity".into(), json!(60.0));
        let at = DateTime::parse_from_rfc3339("2026-11-23T17:10:16.000942Z")
            .unwrap()
            .with_timezone(&Utc);
        record.insert("write_date".into(), datetime(at));
        assert_eq!(get_decimal(&record, "price").unwrap(), dec!(32.44));
        assert_eq!(get_decimal(&record, "quantity").unwrap(), dec!(60));
        assert_eq!(get_datetime(&record, "write_date"), Some(at));
        record.insert(
            "name".into(),
            json!({"__class__": "bytes", "base64": "JVBE\nRg==\n"}),
        );
        assert_eq!(get_bytes(&record["name"]).unwrap(), b"%PDF");
        assert!(get_decimal(&record, "name").is_err());
    }

    #[test]
    fn an_answer_missing_an_amount_a_quantity_or_lines_is_refused_by_name() {
        let mut line = Record::new();
        line.insert("amount".into(), Value::Null);
        line.insert("lines".into(), json!([1, 2]));
        let refused = get_decimal(&line, "amount").unwrap_err().to_string();
        assert!(refused.contains("`amount`"), "{refused}");
        let refused = get_decimal(&line, "quantity").unwrap_err().to_string();
        assert!(refused.contains("`quantity`"), "{refused}");
        assert_eq!(get_optional_decimal(&line, "amount").unwrap(), None);
        assert_eq!(get_ids(&line, "lines").unwrap(), [1, 2]);
        let refused = get_ids(&line, "taxes").unwrap_err().to_string();
        assert!(refused.contains("`taxes`"), "{refused}");
    }
}
