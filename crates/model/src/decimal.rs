//! Decimals on the wire: plain decimal strings — `"12.30"`, `"-1"`, `"0.5"` — and
//! nothing else. Amounts, quantities and rates arrive from strangers (the API's order
//! submission), so `"1e9"`, `"1_000"`, `"+1"`, `".5"` and `"1."` are refused rather than
//! read the way one parser happens to read them.

use std::str::FromStr;

use rust_decimal::Decimal;

/// The most digits a plain decimal may have (what [`Decimal`] holds exactly).
const MAX_DIGITS: usize = 28;

/// Reads a plain decimal: an optional `-`, digits, and optionally `.` and more digits.
pub fn parse_plain(text: &str) -> Result<Decimal, String> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return Err(format!(
            "`{}` is not a plain decimal (like \"12.30\": digits, one optional `.`, an optional leading `-`)",
            text.chars().take(40).collect::<String>()
        ));
    }
    if whole.len() + fraction.map_or(0, str::len) > MAX_DIGITS {
        return Err(format!("has more than {MAX_DIGITS} digits"));
    }
    Decimal::from_str(text).map_err(|e| e.to_string())
}

/// `#[serde(with = "kontor_model::decimal::plain")]`: a [`Decimal`] as a plain decimal
/// string, written as [`Decimal`] displays itself and read by [`parse_plain`].
pub mod plain {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        super::parse_plain(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_decimals_are_read() {
        for good in ["0", "12.30", "-1", "0.5", "1000000", "-0.0001"] {
            assert_eq!(
                parse_plain(good).unwrap(),
                Decimal::from_str(good).unwrap(),
                "{good}"
            );
        }
        for bad in [
            "1e3", "1E-2", "1_000", "+1", ".5", "1.", "", "-", " 1", "1 ", "0x10", "1.2.3", "١٢",
            "NaN", "inf",
        ] {
            assert!(parse_plain(bad).is_err(), "{bad:?}");
        }
        assert!(parse_plain(&"9".repeat(29)).is_err());
    }

    #[test]
    fn a_plain_decimal_survives_the_wire() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Amount(#[serde(with = "plain")] Decimal);
        let amount = Amount(Decimal::new(-1230, 2));
        let text = serde_json::to_string(&amount).unwrap();
        assert_eq!(text, "\"-12.30\"");
        assert_eq!(serde_json::from_str::<Amount>(&text).unwrap(), amount);
        assert!(serde_json::from_str::<Amount>("\"1e3\"").is_err());
        assert!(serde_json::from_str::<Amount>("12.3").is_err());
    }
}
