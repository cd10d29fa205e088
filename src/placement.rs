//! Placement (docs/ARCHITECTURE.md §3): which shard a key lives on. Never changes once data
//! exists; `tests/placement_golden.rs` pins it.
//!
//! The key is taken as SQLite would store it in the key column (its affinity): INTEGER
//! as decimal text, TEXT as UTF-8. `h = XXH64(bytes, seed 0)`; with `n = 2^k` shards the
//! shard is the top `k` bits of `h`, so shard `i` of `n` splits into `2i` and `2i + 1`
//! of `2n`.

use crate::error::{Error, ErrorCode, Result};
use crate::value::{Affinity, Value};
use xxhash_rust::xxh64::xxh64;

/// The shard of already-canonical key bytes (see [`canonical_key`]) among
/// `shard_count` shards, a power of two from 1 to 64.
pub fn shard_for_bytes(bytes: &[u8], shard_count: usize) -> usize {
    debug_assert!(shard_count.is_power_of_two() && shard_count <= 64);
    let bits = shard_count.trailing_zeros();
    if bits == 0 {
        return 0;
    }
    (xxh64(bytes, 0) >> (64 - bits)) as usize
}

/// Writes `i` in decimal into `buf`, returning the used tail (no allocation).
fn decimal(i: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = i.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

fn invalid_key(why: String) -> Error {
    Error::with_remedy(
        ErrorCode::InvalidShardKey,
        why,
        "use an integer or text shard key",
    )
}

/// The key's canonical bytes under the key column's affinity: what SQLite would store
/// in the key column, INTEGER as decimal text, TEXT as UTF-8. NULL, BLOB and keys
/// stored as REAL are errors ([`ErrorCode::InvalidShardKey`]).
pub fn canonical_key(value: &Value, affinity: Affinity) -> Result<Vec<u8>> {
    // SQLite stores a NaN as NULL; without this, TEXT affinity would turn it into "".
    if matches!(value, Value::Real(r) if r.is_nan()) {
        return Err(invalid_key(
            "the shard key is NaN, which SQLite stores as NULL: a row needs a key to have a shard"
                .into(),
        ));
    }
    let mut buf = [0u8; 20];
    match value.with_affinity(affinity) {
        Value::Integer(i) => Ok(decimal(i, &mut buf).to_vec()),
        Value::Text(t) => Ok(t.into_bytes()),
        Value::Null => Err(invalid_key(
            "the shard key is NULL: a row needs a key to have a shard".into(),
        )),
        Value::Blob(_) => Err(invalid_key(format!(
            "the shard key {value} is a BLOB: keys are integers or text"
        ))),
        Value::Real(r) => Err(invalid_key(real_key_message(r, affinity))),
    }
}

/// Why a key that is still a REAL after affinity has no shard.
fn real_key_message(r: f64, affinity: Affinity) -> String {
    let shown = crate::value::format_real(r);
    if r.is_finite() && r.fract() != 0.0 {
        // Pinned by grammar-tests/snapshots/writes.snap.
        format!("the shard key {shown} is a REAL that is not an integer")
    } else if matches!(affinity, Affinity::Integer | Affinity::Numeric) {
        // Integral, yet affinity kept it REAL: it does not fit in 64 bits (or is infinite).
        format!("the shard key {shown} is a REAL outside the 64-bit integer range")
    } else {
        format!(
            "the shard key {shown} is stored as a REAL in a key column with {} affinity: keys are integers or text",
            format!("{affinity:?}").to_uppercase()
        )
    }
}

/// The shard of `value` in a key column of the given affinity. A NULL key (SQLite
/// stores a NaN as NULL too) has no hash: such rows live on the home shard, shard 0,
/// where one database would keep them beside the others.
pub fn shard_for_key(value: &Value, affinity: Affinity, shard_count: usize) -> Result<usize> {
    if value.is_null() || matches!(value, Value::Real(r) if r.is_nan()) {
        return Ok(0);
    }
    let mut buf = [0u8; 20];
    // Hot path: integers and text need no allocation.
    match (value, affinity) {
        (Value::Integer(i), Affinity::Integer | Affinity::Numeric | Affinity::Blob) => {
            Ok(shard_for_bytes(decimal(*i, &mut buf), shard_count))
        }
        (Value::Text(t), Affinity::Text | Affinity::Blob) => {
            Ok(shard_for_bytes(t.as_bytes(), shard_count))
        }
        _ => Ok(shard_for_bytes(
            &canonical_key(value, affinity)?,
            shard_count,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_splits_each_shard_in_two() {
        let mut x: u64 = 88172645463325252;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = Value::Integer(x as i64);
            let mut n = 1;
            while n < 64 {
                let a = shard_for_key(&key, Affinity::Integer, n).unwrap();
                let b = shard_for_key(&key, Affinity::Integer, 2 * n).unwrap();
                assert_eq!(b / 2, a, "key {key:?}: {n} -> {}", 2 * n);
                n *= 2;
            }
        }
    }

    #[test]
    fn decimal_matches_to_string() {
        let mut buf = [0u8; 20];
        for i in [0, 1, -1, 42, i64::MAX, i64::MIN, -1000000007] {
            assert_eq!(decimal(i, &mut buf), i.to_string().as_bytes());
        }
    }

    #[test]
    fn null_keys_live_home_blob_and_fractional_keys_are_errors() {
        for n in [1, 2, 64] {
            assert_eq!(shard_for_key(&Value::Null, Affinity::Text, n).unwrap(), 0);
            assert_eq!(
                shard_for_key(&Value::Real(f64::NAN), Affinity::Integer, n).unwrap(),
                0
            );
        }
        assert!(canonical_key(&Value::Null, Affinity::Text).is_err());
        for v in [Value::Blob(vec![1]), Value::Real(1.5)] {
            let e = shard_for_key(&v, Affinity::Integer, 8).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidShardKey);
            assert!(e.to_string().contains("Remedy"));
        }
        for (v, affinity, says) in [
            (
                Value::Real(1.5),
                Affinity::Integer,
                "1.5 is a REAL that is not an integer",
            ),
            (
                Value::Real(1e20),
                Affinity::Integer,
                "outside the 64-bit integer range",
            ),
            (
                Value::Real(f64::INFINITY),
                Affinity::Numeric,
                "Inf is a REAL outside",
            ),
            (
                Value::Integer(42),
                Affinity::Real,
                "42.0 is stored as a REAL",
            ),
            (Value::Real(42.0), Affinity::Blob, "with BLOB affinity"),
            (Value::Blob(vec![0xab]), Affinity::Text, "x'ab' is a BLOB"),
            (Value::Null, Affinity::Text, "is NULL"),
            (Value::Real(f64::NAN), Affinity::Text, "NaN"),
            (Value::Real(f64::NAN), Affinity::Integer, "NaN"),
        ] {
            let e = canonical_key(&v, affinity).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidShardKey);
            assert!(e.to_string().contains(says), "{e}");
        }
        // Under TEXT affinity a REAL is stored as text ("1.5"): a valid key.
        assert!(shard_for_key(&Value::Real(1.5), Affinity::Text, 8).is_ok());
    }
}
