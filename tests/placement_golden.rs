//! Golden placement vectors. They pin d1plus's placement forever: if one of these fails,
//! existing data would be looked for on the wrong shard. NEVER change the expectations.
//!
//! Computed independently of this crate with Python's `xxhash` package
//! (`xxhash.xxh64(key.encode("utf-8"), seed=0).intdigest()`, shard = top k bits for
//! n = 2^k shards), not by running the Rust code.

use d1plus::placement::{canonical_key, shard_for_bytes, shard_for_key};
use d1plus::value::{Affinity, Value};
use rstest::rstest;

const COUNTS: [usize; 6] = [1, 2, 4, 8, 16, 64];

#[rstest]
#[case("acme", 0xbb189bfb846fec0c, [0, 1, 2, 5, 11, 46])]
#[case("tenant-1", 0xe5af04048faa8656, [0, 1, 3, 7, 14, 57])]
#[case("", 0xef46db3751d8e999, [0, 1, 3, 7, 14, 59])]
#[case("日本語", 0x7179a19f3719f5e1, [0, 0, 1, 3, 7, 28])]
#[case("ümlaut", 0x9b49ff9a3532fe3c, [0, 1, 2, 4, 9, 38])]
#[case("\u{1F600}", 0x9025b8abaae87b80, [0, 1, 2, 4, 9, 36])]
fn text_keys(#[case] key: &str, #[case] hash: u64, #[case] shards: [usize; 6]) {
    let v = Value::Text(key.into());
    assert_eq!(
        xxhash_rust::xxh64::xxh64(&canonical_key(&v, Affinity::Text).unwrap(), 0),
        hash
    );
    for (n, want) in COUNTS.iter().zip(shards) {
        assert_eq!(
            shard_for_key(&v, Affinity::Text, *n).unwrap(),
            want,
            "{key:?} over {n}"
        );
        assert_eq!(shard_for_bytes(key.as_bytes(), *n), want);
    }
}

#[rstest]
#[case(0, 0x633457081244afec, [0, 0, 1, 3, 6, 24])]
#[case(1, 0xb7b41276360564d4, [0, 1, 2, 5, 11, 45])]
#[case(-1, 0x3d62c7c8a7a6e2d8, [0, 0, 0, 1, 3, 15])]
#[case(42, 0x6de6f5d076d742b9, [0, 0, 1, 3, 6, 27])]
#[case(i64::MAX, 0xd8afff7b1fb07eb3, [0, 1, 3, 6, 13, 54])]
#[case(i64::MIN, 0x9e606ab2dd272c10, [0, 1, 2, 4, 9, 39])]
fn integer_keys(#[case] key: i64, #[case] hash: u64, #[case] shards: [usize; 6]) {
    let v = Value::Integer(key);
    assert_eq!(
        xxhash_rust::xxh64::xxh64(&canonical_key(&v, Affinity::Integer).unwrap(), 0),
        hash
    );
    for (n, want) in COUNTS.iter().zip(shards) {
        assert_eq!(
            shard_for_key(&v, Affinity::Integer, *n).unwrap(),
            want,
            "{key} over {n}"
        );
        // Integer-looking text in an INTEGER column is stored as the integer.
        assert_eq!(
            shard_for_key(&Value::Text(key.to_string()), Affinity::Integer, *n).unwrap(),
            want
        );
        assert_eq!(
            shard_for_key(&Value::Text(format!(" {key} ")), Affinity::Numeric, *n).unwrap(),
            want
        );
        // An integer in a TEXT column is stored as its decimal text.
        assert_eq!(shard_for_key(&v, Affinity::Text, *n).unwrap(), want);
        assert_eq!(
            canonical_key(&v, Affinity::Text).unwrap(),
            key.to_string().as_bytes()
        );
    }
}

#[test]
fn integral_reals_are_integers_under_integer_affinity() {
    for n in COUNTS {
        assert_eq!(
            shard_for_key(&Value::Real(42.0), Affinity::Integer, n).unwrap(),
            [0, 0, 1, 3, 6, 27][COUNTS.iter().position(|c| *c == n).unwrap()]
        );
    }
    // Under TEXT affinity 42.0 is stored as the text "42.0": a different key than 42.
    assert_eq!(
        canonical_key(&Value::Real(42.0), Affinity::Text).unwrap(),
        b"42.0"
    );
}
