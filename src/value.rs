//! The SQLite value model: the five storage classes, type affinity and the conversions
//! SQLite applies when a value is stored in (or compared with) a column.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A result's column names, shared: a backend that knows a statement's names hands the same
/// list to every answer instead of building the strings again.
pub type Columns = std::sync::Arc<[String]>;

/// One SQLite value, in one of the five storage classes.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `NULL`.
    #[default]
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// An IEEE-754 double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Blob(Vec<u8>),
}

/// The storage class of a value, in SQLite's sort order (NULL < numbers < TEXT < BLOB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum StorageClass {
    /// NULL.
    Null,
    /// INTEGER or REAL (they compare with each other numerically).
    Numeric,
    /// TEXT.
    Text,
    /// BLOB.
    Blob,
}

impl Value {
    /// An SQL literal that reads back as exactly this value (see [`push_sql_literal`]).
    pub fn sql_literal(&self) -> String {
        let mut out = String::new();
        push_sql_literal(&mut out, self.as_value_ref());
        out
    }

    /// The value as rusqlite borrows it.
    pub(crate) fn as_value_ref(&self) -> rusqlite::types::ValueRef<'_> {
        use rusqlite::types::ValueRef;
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }

    /// The storage class used for ordering.
    pub fn storage_class(&self) -> StorageClass {
        match self {
            Value::Null => StorageClass::Null,
            Value::Integer(_) | Value::Real(_) => StorageClass::Numeric,
            Value::Text(_) => StorageClass::Text,
            Value::Blob(_) => StorageClass::Blob,
        }
    }

    /// SQLite's `typeof()` name of this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }

    /// True for `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value SQLite would store after applying a column's type `affinity`
    /// (<https://sqlite.org/datatype3.html#type_affinity>).
    pub fn with_affinity(&self, affinity: Affinity) -> Value {
        match (affinity, self) {
            (Affinity::Blob, v) => v.clone(),
            (Affinity::Text, Value::Integer(i)) => Value::Text(i.to_string()),
            (Affinity::Text, Value::Real(r)) => Value::Text(format_real(*r)),
            (Affinity::Text, v) => v.clone(),
            (Affinity::Integer | Affinity::Numeric, Value::Text(t)) => {
                match parse_numeric_text(t) {
                    Some(Value::Real(r)) => real_to_integer_if_exact(r),
                    Some(v) => v,
                    None => self.clone(),
                }
            }
            (Affinity::Integer | Affinity::Numeric, Value::Real(r)) => real_to_integer_if_exact(*r),
            (Affinity::Real, Value::Text(t)) => match parse_numeric_text(t) {
                Some(Value::Integer(i)) => Value::Real(i as f64),
                Some(v) => v,
                None => self.clone(),
            },
            (Affinity::Real, Value::Integer(i)) => Value::Real(*i as f64),
            (_, v) => v.clone(),
        }
    }
}

/// A REAL that holds an integer exactly becomes that INTEGER (NUMERIC/INTEGER affinity).
fn real_to_integer_if_exact(r: f64) -> Value {
    // 2^63 as f64 is exactly representable; values in [-2^63, 2^63) convert without loss
    // when they have no fractional part.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if r.fract() == 0.0 && (-LIMIT..LIMIT).contains(&r) {
        Value::Integer(r as i64)
    } else {
        Value::Real(r)
    }
}

/// Parses text the way SQLite decides whether text "looks like" a number when applying
/// NUMERIC affinity: optional surrounding spaces, optional sign, digits with an optional
/// fraction and exponent. Hexadecimal text is not converted.
pub fn parse_numeric_text(text: &str) -> Option<Value> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if body.is_empty() {
        return None;
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    let mut is_real = false;
    if i < bytes.len() && bytes[i] == b'.' {
        is_real = true;
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        is_real = true;
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    if !is_real {
        if let Ok(v) = t.trim_start_matches('+').parse::<i64>() {
            return Some(Value::Integer(v));
        }
    }
    t.parse::<f64>().ok().map(Value::Real)
}

/// Formats a REAL the way SQLite 3.54 prints it as text (`vdbeMemRenderNum`: `%!.17g`,
/// whose `sqlite3FpDecode` drops the last digits when fewer still read back as the same
/// double): `1.0`, `0.1`, `0.16666666666666666`, `1000000000000000.0`, `1.0e+20`.
pub fn format_real(r: f64) -> String {
    if r.is_nan() {
        return String::new();
    }
    if r.is_infinite() {
        return if r > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if r == 0.0 {
        return "0.0".into();
    }
    let (z, dp) = crate::sqlite_fp::decode17(r.abs());
    let digits = std::str::from_utf8(&z).unwrap_or("0");
    let mut out = String::with_capacity(digits.len() + 8);
    if r < 0.0 {
        out.push('-');
    }
    let exp = dp - 1;
    if !(-4..=16).contains(&exp) {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        let sign = if exp < 0 { '-' } else { '+' };
        out.push_str(&format!("e{sign}{:02}", exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', point - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

/// A column's type affinity, derived from its declared type by SQLite's five rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Affinity {
    /// INTEGER affinity (declared type contains "INT").
    Integer,
    /// TEXT affinity ("CHAR", "CLOB" or "TEXT").
    Text,
    /// BLOB affinity (no declared type, or "BLOB").
    Blob,
    /// REAL affinity ("REAL", "FLOA" or "DOUB").
    Real,
    /// NUMERIC affinity (everything else).
    Numeric,
}

impl Affinity {
    /// Applies SQLite's affinity rules (<https://sqlite.org/datatype3.html#determination_of_column_affinity>).
    pub fn from_declared_type(declared: &str) -> Affinity {
        let t = declared.to_ascii_uppercase();
        if t.contains("INT") {
            Affinity::Integer
        } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
            Affinity::Text
        } else if t.contains("BLOB") || t.trim().is_empty() {
            Affinity::Blob
        } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
            Affinity::Real
        } else {
            Affinity::Numeric
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => f.write_str(&format_real(*r)),
            Value::Text(t) => f.write_str(t),
            Value::Blob(b) => {
                f.write_str("x'")?;
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                f.write_str("'")
            }
        }
    }
}

/// JSON shape, as D1 returns values: integers and reals as numbers (a real keeps its
/// fraction, `1.0`), text as a string, blobs as an array of byte values, NULL as null.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Integer(i) => serializer.serialize_i64(*i),
            Value::Real(r) if r.is_finite() => serializer.serialize_f64(*r),
            Value::Real(_) => serializer.serialize_unit(),
            Value::Text(t) => serializer.serialize_str(t),
            Value::Blob(b) => {
                let mut seq = serializer.serialize_seq(Some(b.len()))?;
                for byte in b {
                    seq.serialize_element(byte)?;
                }
                seq.end()
            }
        }
    }
}

/// Accepts what a D1 client may bind: numbers (integers stay integers), strings,
/// booleans (as 1/0), null, and arrays of byte values (blobs).
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("null, a number, a string, a boolean or an array of bytes")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Integer(v as i64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(i64::try_from(v)
                    .map(Value::Integer)
                    .unwrap_or(Value::Real(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Real(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Text(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Value, E> {
                Ok(Value::Text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut bytes = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                Ok(Value::Blob(bytes))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Appends an SQL literal that reads back as exactly `v`, storage class included: reals in
/// round-trip form (infinities as `9e999`, a NaN as `NULL`, as SQLite binds one), text quoted
/// with `'` doubled (`CAST(X'..' AS TEXT)` when it holds a NUL or is not UTF-8), blobs as
/// `X'..'`, `NULL`. The one literal writer: plans, explain and dumps use it.
pub fn push_sql_literal(out: &mut String, v: rusqlite::types::ValueRef<'_>) {
    use rusqlite::types::ValueRef;
    use std::fmt::Write as _;
    match v {
        ValueRef::Null => out.push_str("NULL"),
        ValueRef::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        ValueRef::Real(r) if r.is_nan() => out.push_str("NULL"),
        ValueRef::Real(r) if r.is_infinite() => {
            out.push_str(if r > 0.0 { "9e999" } else { "-9e999" })
        }
        ValueRef::Real(r) => {
            // `{:?}` is the shortest text that reads back as the same double; it keeps a
            // `.` or an exponent, so it stays REAL (checked, to be sure).
            let start = out.len();
            let _ = write!(out, "{r:?}");
            if !out[start..].contains(['.', 'e', 'E']) {
                out.push_str(".0");
            }
        }
        ValueRef::Text(t) if t.contains(&0) || std::str::from_utf8(t).is_err() => {
            out.push_str("CAST(");
            push_hex_blob(out, t);
            out.push_str(" AS TEXT)");
        }
        ValueRef::Text(t) => {
            out.push('\'');
            out.push_str(&String::from_utf8_lossy(t).replace('\'', "''"));
            out.push('\'');
        }
        ValueRef::Blob(b) => push_hex_blob(out, b),
    }
}

/// `X'..'`, two hex digits per byte.
fn push_hex_blob(out: &mut String, b: &[u8]) {
    use std::fmt::Write as _;
    out.push_str("X'");
    for byte in b {
        let _ = write!(out, "{byte:02X}");
    }
    out.push('\'');
}

/// Binds a value as rusqlite binds it: the storage class is kept exactly.
impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(self.as_value_ref()))
    }
}

/// Copies a SQLite value out, keeping its storage class. Text that is not valid UTF-8
/// (e.g. `CAST(x'ff' AS TEXT)`) gets U+FFFD for the bad bytes: a `String` cannot hold
/// them, and a JSON result could not carry them either.
impl From<rusqlite::types::ValueRef<'_>> for Value {
    fn from(value: rusqlite::types::ValueRef<'_>) -> Value {
        use rusqlite::types::ValueRef;
        match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A REAL parameter sent as JSON (the Worker's requests, the CLI's ndjson) arrives as
    /// the very double that was sent: serde_json's default float parser is off by one unit
    /// in the last place for about a third of all doubles (its `float_roundtrip` feature is
    /// the exact one). JavaScript and Rust both print the shortest text that reads back.
    #[test]
    fn reals_read_from_json_keep_every_bit() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut checked = 0;
        while checked < 20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let r = f64::from_bits(x);
            if !r.is_finite() || r.fract() == 0.0 {
                continue;
            }
            for text in [format!("{r}"), format!("{r:e}")] {
                let read: Value = serde_json::from_str(&text).unwrap();
                assert!(
                    matches!(read, Value::Real(v) if v.to_bits() == r.to_bits()),
                    "{text} read as {read:?}"
                );
            }
            checked += 1;
        }
        let read: Value = serde_json::from_str("1.0715660391465826e-75").unwrap();
        assert_eq!(read, Value::Real(1.0715660391465826e-75));
    }

    #[test]
    fn affinity_rules() {
        assert_eq!(Affinity::from_declared_type("INTEGER"), Affinity::Integer);
        assert_eq!(Affinity::from_declared_type("BIGINT"), Affinity::Integer);
        assert_eq!(Affinity::from_declared_type("VARCHAR(20)"), Affinity::Text);
        assert_eq!(Affinity::from_declared_type(""), Affinity::Blob);
        assert_eq!(Affinity::from_declared_type("DOUBLE"), Affinity::Real);
        assert_eq!(
            Affinity::from_declared_type("DECIMAL(10,2)"),
            Affinity::Numeric
        );
        // "POINT" contains "INT": SQLite's rule 1 wins.
        assert_eq!(Affinity::from_declared_type("POINT"), Affinity::Integer);
    }

    #[test]
    fn affinity_conversions() {
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(
            t(" 42 ").with_affinity(Affinity::Integer),
            Value::Integer(42)
        );
        assert_eq!(
            t("42.0").with_affinity(Affinity::Integer),
            Value::Integer(42)
        );
        assert_eq!(t("4.5").with_affinity(Affinity::Integer), Value::Real(4.5));
        assert_eq!(t("0x10").with_affinity(Affinity::Integer), t("0x10"));
        assert_eq!(t("abc").with_affinity(Affinity::Numeric), t("abc"));
        assert_eq!(Value::Integer(7).with_affinity(Affinity::Text), t("7"));
        assert_eq!(Value::Real(7.0).with_affinity(Affinity::Text), t("7.0"));
        assert_eq!(
            Value::Integer(7).with_affinity(Affinity::Real),
            Value::Real(7.0)
        );
        assert_eq!(t("7").with_affinity(Affinity::Blob), t("7"));
    }

    #[test]
    fn real_formatting_matches_sqlite() {
        assert_eq!(format_real(1.0), "1.0");
        assert_eq!(format_real(0.5), "0.5");
        assert_eq!(format_real(-2.25), "-2.25");
        assert_eq!(format_real(1e20), "1.0e+20");
        assert_eq!(format_real(123456789012345.0), "123456789012345.0");
        assert_eq!(format_real(0.1), "0.1");
        assert_eq!(format_real(0.0001), "0.0001");
        assert_eq!(format_real(1.5e-7), "1.5e-07");
    }

    #[test]
    fn json_round_trip_keeps_storage_classes() {
        let vals = vec![
            Value::Null,
            Value::Integer(3),
            Value::Real(3.0),
            Value::Text("x".into()),
            Value::Blob(vec![1, 2]),
        ];
        let json = serde_json::to_string(&vals).unwrap();
        assert_eq!(json, r#"[null,3,3.0,"x",[1,2]]"#);
        let back: Vec<Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vals);
    }
}
