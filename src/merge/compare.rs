//! SQLite's ordering of values: NULL < INTEGER/REAL (compared exactly, also beyond 2^53)
//! < TEXT (by collation) < BLOB (memcmp).

use crate::value::Value;
use serde::Serialize;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// The built-in collations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Collation {
    /// memcmp of the UTF-8 bytes.
    Binary,
    /// ASCII letters folded to lower case, then binary.
    NoCase,
    /// Trailing spaces ignored, then binary.
    RTrim,
}

impl Collation {
    /// `BINARY`, `NOCASE` or `RTRIM` (case-insensitive); None for others.
    pub fn from_name(name: &str) -> Option<Collation> {
        match name.to_ascii_uppercase().as_str() {
            "BINARY" => Some(Collation::Binary),
            "NOCASE" => Some(Collation::NoCase),
            "RTRIM" => Some(Collation::RTrim),
            _ => None,
        }
    }

    /// Its SQL name (`BINARY`, `NOCASE`, `RTRIM`), as `COLLATE` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Collation::Binary => "BINARY",
            Collation::NoCase => "NOCASE",
            Collation::RTrim => "RTRIM",
        }
    }

    fn compare_text(self, a: &str, b: &str) -> Ordering {
        match self {
            Collation::Binary => a.as_bytes().cmp(b.as_bytes()),
            Collation::NoCase => {
                let fold = |s: &str| {
                    s.bytes()
                        .map(|c| c.to_ascii_lowercase())
                        .collect::<Vec<u8>>()
                };
                fold(a).cmp(&fold(b))
            }
            Collation::RTrim => a
                .trim_end_matches(' ')
                .as_bytes()
                .cmp(b.trim_end_matches(' ').as_bytes()),
        }
    }
}

/// An integer against a real, exactly (no rounding of the integer to f64).
fn int_real(i: i64, r: f64) -> Ordering {
    if r.is_nan() {
        return Ordering::Greater;
    }
    if r >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    if r < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    let t = r.trunc();
    let ti = t as i64;
    match i.cmp(&ti) {
        Ordering::Equal => {
            if r > t {
                Ordering::Less
            } else if r < t {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

/// Compares two values as SQLite's ORDER BY does.
pub fn compare(a: &Value, b: &Value, collation: Collation) -> Ordering {
    use Value::*;
    match (a, b) {
        (Integer(x), Integer(y)) => x.cmp(y),
        (Real(x), Real(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Integer(x), Real(y)) => int_real(*x, *y),
        (Real(x), Integer(y)) => int_real(*y, *x).reverse(),
        (Text(x), Text(y)) => collation.compare_text(x, y),
        (Blob(x), Blob(y)) => x.cmp(y),
        _ => a.storage_class().cmp(&b.storage_class()),
    }
}

/// Compares two values as one ORDER BY term does: NULLs first ascending and last
/// descending unless `nulls_first` says otherwise, then [`compare`] under `collation`.
pub fn compare_term(
    x: &Value,
    y: &Value,
    descending: bool,
    nulls_first: Option<bool>,
    collation: Collation,
) -> Ordering {
    let nulls_first = nulls_first.unwrap_or(!descending);
    match (x.is_null(), y.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) if nulls_first => Ordering::Less,
        (true, false) => Ordering::Greater,
        (false, true) if nulls_first => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) if descending => compare(x, y, collation).reverse(),
        (false, false) => compare(x, y, collation),
    }
}

/// Equality as `=`, GROUP BY and DISTINCT see it for non-NULL values.
pub fn sqlite_eq(a: &Value, b: &Value, collation: Collation) -> bool {
    compare(a, b, collation) == Ordering::Equal
}

/// A hashable form of a value under BINARY equality: equal values (`1` and `1.0`) hash
/// alike, so DISTINCT and GROUP BY can use hash maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EqKey {
    /// NULL (DISTINCT and GROUP BY treat NULLs as equal).
    Null,
    /// An integer, or a real holding an integer exactly.
    Int(i64),
    /// Any other real, by its bits.
    Real(u64),
    /// Text.
    Text(String),
    /// Blob.
    Blob(Vec<u8>),
}

impl Hash for EqKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            EqKey::Null => {}
            EqKey::Int(i) => i.hash(state),
            EqKey::Real(r) => r.hash(state),
            EqKey::Text(t) => t.hash(state),
            EqKey::Blob(b) => b.hash(state),
        }
    }
}

impl EqKey {
    /// The key of `v`.
    pub fn of(v: &Value) -> EqKey {
        match v {
            Value::Null => EqKey::Null,
            Value::Integer(i) => EqKey::Int(*i),
            Value::Real(r) => {
                if r.fract() == 0.0
                    && *r >= -9_223_372_036_854_775_808.0
                    && *r < 9_223_372_036_854_775_808.0
                {
                    EqKey::Int(*r as i64)
                } else {
                    EqKey::Real(r.to_bits())
                }
            }
            Value::Text(t) => EqKey::Text(t.clone()),
            Value::Blob(b) => EqKey::Blob(b.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Value::*;

    #[test]
    fn storage_classes_then_values() {
        let ordered = [
            Null,
            Integer(i64::MIN),
            Real(-1.5),
            Integer(-1),
            Real(0.0),
            Integer(1),
            Real(1.5),
            Integer(9_007_199_254_740_993), // 2^53 + 1: above the nearest real
            Real(9_007_199_254_740_994.0),
            Integer(i64::MAX),
            Real(1e300),
            Text("".into()),
            Text("B".into()),
            Text("a".into()),
            Blob(vec![]),
            Blob(vec![0]),
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(
                    compare(a, b, Collation::Binary),
                    i.cmp(&j),
                    "{a:?} vs {b:?}"
                );
            }
        }
        assert_eq!(
            compare(
                &Integer(9_007_199_254_740_993),
                &Real(9_007_199_254_740_992.0),
                Collation::Binary
            ),
            Ordering::Greater
        );
        assert!(sqlite_eq(&Integer(1), &Real(1.0), Collation::Binary));
        assert_eq!(EqKey::of(&Integer(1)), EqKey::of(&Real(1.0)));
    }

    #[test]
    fn collations() {
        let (a, b) = (Text("abc".into()), Text("ABC  ".into()));
        assert_eq!(compare(&a, &b, Collation::Binary), Ordering::Greater);
        assert_eq!(
            compare(&a, &Text("ABC".into()), Collation::NoCase),
            Ordering::Equal
        );
        assert_eq!(
            compare(&Text("ABC".into()), &b, Collation::RTrim),
            Ordering::Equal
        );
        assert_eq!(
            compare(&Text("é".into()), &Text("É".into()), Collation::NoCase),
            Ordering::Greater,
            "NOCASE folds ASCII only"
        );
    }
}
