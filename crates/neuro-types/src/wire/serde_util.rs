//! Small serde helpers shared by the payload structs.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serializer};

/// Serialises a [`Decimal`] as a JSON string (the platform sends prices as strings
/// so that they stay exact) and reads it back from a string or a number.
pub mod decimal_str {
    use super::*;
    use std::str::FromStr;

    /// Writes the decimal as a string.
    pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    /// Reads a decimal from a JSON string or number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum StrOrNum {
            Str(String),
            Num(serde_json::Number),
        }
        let text = match StrOrNum::deserialize(d)? {
            StrOrNum::Str(s) => s,
            StrOrNum::Num(n) => n.to_string(),
        };
        parse(text.trim()).map_err(serde::de::Error::custom)
    }

    /// Parses plain (`"1.50"`) or exponent (`"1E+2"`, `1e-7`) notation, both of
    /// which Python's `Decimal` accepts.
    pub fn parse(text: &str) -> Result<Decimal, rust_decimal::Error> {
        Decimal::from_str(text).or_else(|_| Decimal::from_scientific(text))
    }
}

/// Reads an integer that may arrive as a float (`1795499977.0`), truncating it the
/// way Python's `int()` does; writes a plain integer.
pub mod int_from_number {
    use super::*;

    /// Writes the value as a JSON integer.
    pub fn serialize<S: Serializer>(value: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(*value)
    }

    /// Reads a JSON integer or float, truncating toward zero.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        if let Some(i) = n.as_i64() {
            return Ok(i);
        }
        if let Some(u) = n.as_u64() {
            return i64::try_from(u).map_err(serde::de::Error::custom);
        }
        match n.as_f64() {
            Some(f) if f.is_finite() && f.abs() < 9.2e18 => Ok(f.trunc() as i64),
            _ => Err(serde::de::Error::custom(format!(
                "number out of range: {n}"
            ))),
        }
    }
}

/// `skip_serializing_if` helper: true for `false`.
pub fn is_false(value: &bool) -> bool {
    !*value
}

/// Timestamps in the form Python's `datetime.isoformat()` writes for aware UTC
/// values (`2022-07-26T10:00:00.123456+00:00`), read back from any RFC 3339 text.
pub mod iso8601 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, UtcOffset};

    /// Formats a timestamp the way the platform servers do.
    pub fn format(value: OffsetDateTime) -> String {
        let v = value.to_offset(UtcOffset::UTC);
        let micros = v.microsecond();
        if micros == 0 {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
                v.year(),
                u8::from(v.month()),
                v.day(),
                v.hour(),
                v.minute(),
                v.second()
            )
        } else {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
                v.year(),
                u8::from(v.month()),
                v.day(),
                v.hour(),
                v.minute(),
                v.second(),
                micros
            )
        }
    }

    /// Parses RFC 3339 / ISO 8601 text with an offset (`Z` or `+hh:mm`).
    pub fn parse(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
        OffsetDateTime::parse(text, &Rfc3339)
    }

    /// Writes a timestamp.
    pub fn serialize<S: Serializer>(value: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*value))
    }

    /// Reads a timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    /// The same for optional timestamps (`null` or absent means `None`).
    pub mod option {
        use super::*;

        /// Writes an optional timestamp (`None` as `null`).
        pub fn serialize<S: Serializer>(
            value: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => s.serialize_str(&format(*v)),
                None => s.serialize_none(),
            }
        }

        /// Reads an optional timestamp.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(text) => parse(&text).map(Some).map_err(serde::de::Error::custom),
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[derive(Deserialize)]
    struct Price {
        #[serde(with = "decimal_str")]
        value: Decimal,
    }

    #[test]
    fn decimals_in_any_notation() {
        for (json, want) in [
            (r#"{"value": "1.50"}"#, "1.50"),
            (r#"{"value": " 10 "}"#, "10"),
            (r#"{"value": "1E+2"}"#, "100"),
            (r#"{"value": 0.25}"#, "0.25"),
            (r#"{"value": 1e-7}"#, "0.0000001"),
            (r#"{"value": 3}"#, "3"),
        ] {
            let price: Price = serde_json::from_str(json).unwrap();
            assert_eq!(price.value.to_string(), want, "{json}");
        }
        assert!(serde_json::from_str::<Price>(r#"{"value": "abc"}"#).is_err());
    }
}
