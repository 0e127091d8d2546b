//! Exact money: a decimal amount with an ISO 4217 currency. No floats anywhere.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an ISO 4217 currency code")]
    UnknownCurrency(String),
    #[error("currencies differ: {left} and {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("`{0}` is not a decimal amount")]
    InvalidAmount(String),
    #[error("{amount} {currency} has more decimals than the currency's minor unit allows")]
    NotRepresentable { amount: Decimal, currency: Currency },
    #[error("amount out of range")]
    Overflow,
}

/// An ISO 4217 currency, e.g. `PLN`. Stored as its three-letter code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// Active ISO 4217 codes, sorted (looked up by binary search), and those whose minor
/// unit (digits after the decimal point) is not two.
const CURRENCIES: &[[u8; 3]] = &[
    *b"AED", *b"AFN", *b"ALL", *b"AMD", *b"ANG", *b"AOA", *b"ARS", *b"AUD", *b"AWG", *b"AZN",
    *b"BAM", *b"BBD", *b"BDT", *b"BGN", *b"BHD", *b"BIF", *b"BMD", *b"BND", *b"BOB", *b"BOV",
    *b"BRL", *b"BSD", *b"BTN", *b"BWP", *b"BYN", *b"BZD", *b"CAD", *b"CDF", *b"CHE", *b"CHF",
    *b"CHW", *b"CLF", *b"CLP", *b"CNY", *b"COP", *b"COU", *b"CRC", *b"CUP", *b"CVE", *b"CZK",
    *b"DJF", *b"DKK", *b"DOP", *b"DZD", *b"EGP", *b"ERN", *b"ETB", *b"EUR", *b"FJD", *b"FKP",
    *b"GBP", *b"GEL", *b"GHS", *b"GIP", *b"GMD", *b"GNF", *b"GTQ", *b"GYD", *b"HKD", *b"HNL",
    *b"HTG", *b"HUF", *b"IDR", *b"ILS", *b"INR", *b"IQD", *b"IRR", *b"ISK", *b"JMD", *b"JOD",
    *b"JPY", *b"KES", *b"KGS", *b"KHR", *b"KMF", *b"KPW", *b"KRW", *b"KWD", *b"KYD", *b"KZT",
    *b"LAK", *b"LBP", *b"LKR", *b"LRD", *b"LSL", *b"LYD", *b"MAD", *b"MDL", *b"MGA", *b"MKD",
    *b"MMK", *b"MNT", *b"MOP", *b"MRU", *b"MUR", *b"MVR", *b"MWK", *b"MXN", *b"MXV", *b"MYR",
    *b"MZN", *b"NAD", *b"NGN", *b"NIO", *b"NOK", *b"NPR", *b"NZD", *b"OMR", *b"PAB", *b"PEN",
    *b"PGK", *b"PHP", *b"PKR", *b"PLN", *b"PYG", *b"QAR", *b"RON", *b"RSD", *b"RUB", *b"RWF",
    *b"SAR", *b"SBD", *b"SCR", *b"SDG", *b"SEK", *b"SGD", *b"SHP", *b"SLE", *b"SOS", *b"SRD",
    *b"SSP", *b"STN", *b"SVC", *b"SYP", *b"SZL", *b"THB", *b"TJS", *b"TMT", *b"TND", *b"TOP",
    *b"TRY", *b"TTD", *b"TWD", *b"TZS", *b"UAH", *b"UGX", *b"USD", *b"USN", *b"UYI", *b"UYU",
    *b"UYW", *b"UZS", *b"VED", *b"VES", *b"VND", *b"VUV", *b"WST", *b"XAF", *b"XCD", *b"XCG",
    *b"XOF", *b"XPF", *b"YER", *b"ZAR", *b"ZMW", *b"ZWG",
];
const ZERO_DECIMALS: &[[u8; 3]] = &[
    *b"BIF", *b"CLP", *b"DJF", *b"GNF", *b"ISK", *b"JPY", *b"KMF", *b"KRW", *b"PYG", *b"RWF",
    *b"UGX", *b"UYI", *b"VND", *b"VUV", *b"XAF", *b"XOF", *b"XPF",
];
const THREE_DECIMALS: &[[u8; 3]] = &[
    *b"BHD", *b"IQD", *b"JOD", *b"KWD", *b"LYD", *b"OMR", *b"TND",
];
const FOUR_DECIMALS: &[[u8; 3]] = &[*b"CLF", *b"UYW"];

impl Currency {
    pub const EUR: Currency = Currency(*b"EUR");
    pub const PLN: Currency = Currency(*b"PLN");
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a code; accepts lower case, rejects anything not in ISO 4217.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        let unknown = || MoneyError::UnknownCurrency(code.to_owned());
        let mut bytes: [u8; 3] = code.trim().as_bytes().try_into().map_err(|_| unknown())?;
        bytes.make_ascii_uppercase();
        if !bytes.iter().all(u8::is_ascii_uppercase) || CURRENCIES.binary_search(&bytes).is_err() {
            return Err(unknown());
        }
        Ok(Currency(bytes))
    }

    pub fn code(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point in this currency's smallest unit (2 for PLN, 0 for JPY).
    pub fn minor_units(&self) -> u32 {
        let listed = |table: &[[u8; 3]]| table.binary_search(&self.0).is_ok();
        if listed(ZERO_DECIMALS) {
            0
        } else if listed(THREE_DECIMALS) {
            3
        } else if listed(FOUR_DECIMALS) {
            4
        } else {
            2
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::new(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::new(&code).map_err(serde::de::Error::custom)
    }
}

/// An exact amount in one currency. On the wire: `{"amount": "12.30", "currency": "PLN"}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "crate::decimal::plain")]
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Money { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Money::new(Decimal::ZERO, currency)
    }

    /// Parses `"12.30"` in `currency`; rejects anything that is not a plain decimal.
    pub fn parse(amount: &str, currency: &str) -> Result<Self, MoneyError> {
        let value = Decimal::from_str_exact(amount.trim())
            .map_err(|_| MoneyError::InvalidAmount(amount.to_owned()))?;
        Ok(Money::new(value, Currency::new(currency)?))
    }

    /// From an integer count of minor units (Vendure, Stripe: 1230 → 12.30).
    pub fn from_minor_units(minor: i64, currency: Currency) -> Self {
        Money::new(Decimal::new(minor, currency.minor_units()), currency)
    }

    /// To minor units; fails if the amount has more decimals than the currency allows.
    pub fn to_minor_units(&self) -> Result<i64, MoneyError> {
        let rounded = self.rounded();
        if rounded.amount != self.amount {
            return Err(MoneyError::NotRepresentable {
                amount: self.amount,
                currency: self.currency,
            });
        }
        let scale = Decimal::from(10_i64.pow(self.currency.minor_units()));
        let minor = self
            .amount
            .checked_mul(scale)
            .ok_or(MoneyError::Overflow)?
            .normalize();
        i64::try_from(minor).map_err(|_| MoneyError::Overflow)
    }

    /// Rounded to the currency's minor unit, half away from zero (commercial rounding).
    pub fn rounded(&self) -> Money {
        Money::new(
            self.amount.round_dp_with_strategy(
                self.currency.minor_units(),
                RoundingStrategy::MidpointAwayFromZero,
            ),
            self.currency,
        )
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// Multiplies by a quantity or a rate; the result is not rounded.
    pub fn checked_mul(&self, factor: Decimal) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// Divides by a rate or a count; the result is not rounded.
    pub fn checked_div(&self, divisor: Decimal) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_div(divisor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// Sums amounts that must all be in `currency`.
    pub fn sum<'a>(
        currency: Currency,
        items: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(m))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pln(s: &str) -> Money {
        Money::parse(s, "PLN").unwrap()
    }

    #[test]
    fn currency_codes_are_checked_against_iso_4217() {
        assert_eq!(Currency::new("pln").unwrap(), Currency::PLN);
        assert!(matches!(
            Currency::new("XYZ"),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!(Currency::new("PL").is_err());
        assert_eq!(Currency::new("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::new("KWD").unwrap().minor_units(), 3);
    }

    #[test]
    fn adding_different_currencies_is_an_error() {
        let eur = Money::parse("1", "EUR").unwrap();
        assert!(matches!(
            pln("1").checked_add(&eur),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn tenths_of_cents_add_up_exactly() {
        let total = Money::sum(Currency::PLN, &[pln("0.1"), pln("0.2")]).unwrap();
        assert_eq!(total, pln("0.3"));
    }

    #[test]
    fn rounding_is_commercial_half_away_from_zero() {
        assert_eq!(pln("2.345").rounded(), pln("2.35"));
        assert_eq!(pln("-2.345").rounded(), pln("-2.35"));
        assert_eq!(pln("2.344").rounded(), pln("2.34"));
    }

    #[test]
    fn currency_tables_are_sorted_for_binary_search() {
        for table in [CURRENCIES, ZERO_DECIMALS, THREE_DECIMALS, FOUR_DECIMALS] {
            assert!(table.windows(2).all(|w| w[0] < w[1]));
        }
        assert_eq!(Currency::new(" pln").unwrap(), Currency::PLN);
        assert_eq!(Currency::new("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::new("KWD").unwrap().minor_units(), 3);
        assert!(Currency::new("XXX").is_err());
        assert!(Currency::new("PŁN").is_err());
    }

    #[test]
    fn minor_units_round_trip_and_refuse_fractions_of_a_cent() {
        assert_eq!(pln("12.30").to_minor_units().unwrap(), 1230);
        assert_eq!(Money::from_minor_units(1230, Currency::PLN), pln("12.30"));
        assert!(pln("12.305").to_minor_units().is_err());
        let yen = Money::parse("1500", "JPY").unwrap();
        assert_eq!(yen.to_minor_units().unwrap(), 1500);
    }

    #[test]
    fn money_travels_as_decimal_strings() {
        let json = serde_json::to_string(&pln("19.99")).unwrap();
        assert_eq!(json, r#"{"amount":"19.99","currency":"PLN"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back, pln("19.99"));
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1","currency":"ABC"}"#).is_err());
    }

    proptest! {
        #[test]
        fn minor_units_round_trip(minor in -1_000_000_000_000_i64..1_000_000_000_000) {
            let m = Money::from_minor_units(minor, Currency::PLN);
            prop_assert_eq!(m.to_minor_units().unwrap(), minor);
        }
    }
}
