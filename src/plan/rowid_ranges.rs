//! Rule `rowid_ranges`: an INSERT into a sharded table that leaves out its INTEGER PRIMARY
//! KEY still gets ids unique across all shards, as one database would give.
//!
//! Each shard allocates from its own range of 2^47 ids. The range belongs to the shard's
//! first slot of 64 (`shard * 64 / n`), so when shards split (`i` of `n` becomes `2i` and
//! `2i + 1` of `2n`) shard `2i` keeps its range and `2i + 1` starts a fresh one. All ids
//! stay below 2^53, so JavaScript reads them exactly.
//!
//! ```sql
//! INSERT INTO posts (tenantId, body) VALUES ('acme', 'hi')
//! -- shard 5 of 8:
//! INSERT INTO posts ("id", tenantId, body) VALUES ((SELECT coalesce(max("id"), 5629499534213120)
//!   FROM "posts" WHERE "id" >= 5629499534213120 AND "id" < 5770237022568448) + 1, 'acme', 'hi')
//! ```
//! The `+ k` for the k-th row of a statement keeps ids distinct even when SQLite evaluates
//! every row's subquery before inserting any of them.

use crate::lex::quote_ident;

/// Ids each shard may allocate.
pub const RANGE: i64 = 1 << 47;

/// The first id of a shard's range.
pub fn range_start(shard: usize, shard_count: usize) -> i64 {
    let slots_per_shard = (64 / shard_count.clamp(1, 64)) as i64;
    shard as i64 * slots_per_shard * RANGE
}

/// The SQL expression giving the `k`-th (0-based) new id of a statement on `shard`.
pub fn id_expr(table: &str, column: &str, shard: usize, shard_count: usize, k: usize) -> String {
    let start = range_start(shard, shard_count);
    let (t, c) = (quote_ident(table), quote_ident(column));
    format!(
        "(SELECT coalesce(max({c}), {start}) FROM {t} WHERE {c} >= {start} AND {c} < {}) + {}",
        start + RANGE,
        k + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_disjoint_below_2_pow_53_and_stable_under_splits() {
        for n in [1usize, 2, 4, 8, 16, 32, 64] {
            for s in 0..n {
                let start = range_start(s, n);
                assert!(start + RANGE <= 1 << 53);
                if n < 64 {
                    // Splitting keeps shard s's range on shard 2s.
                    assert_eq!(range_start(2 * s, 2 * n), start);
                    assert!(range_start(2 * s + 1, 2 * n) >= start + RANGE);
                }
            }
        }
    }
}
