//! `"mode": "auto"` capacity: when a database splits, from its shards' sizes (natively
//! `d1plus split --auto`, in a Worker `splitStep` with `auto`).

use crate::error::{Error, ErrorCode, Result};
use crate::policy::{Capacity, Policy, DEFAULT_SPLIT_AT_BYTES};

/// What an `auto` decision was, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoDecision {
    /// The shard count to split to, if any.
    pub to: Option<usize>,
    /// Why, in a sentence.
    pub reason: String,
}

/// Whether `"mode": "auto"` capacity splits now, given each shard's `(bytes, rows of
/// sharded tables)`: when a shard passes `splitAtBytes` (default [`DEFAULT_SPLIT_AT_BYTES`])
/// or holds more than `splitAtRows` rows, and the database has fewer than `maxShardCount`
/// shards, it doubles once.
pub fn decide(policy: &Policy, sizes: &[(u64, u64)]) -> Result<AutoDecision> {
    let Capacity::Auto {
        max_shard_count,
        split_at_bytes,
        split_at_rows,
        ..
    } = policy.capacity
    else {
        return Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            "--auto splits by the policy's \"auto\" capacity, and this policy's capacity is not auto",
            "set \"capacity\": {\"mode\": \"auto\", \"targetShardCount\": N, \"maxShardCount\": M} in the policy, or split with a target",
        ));
    };
    let bytes_limit = split_at_bytes.unwrap_or(DEFAULT_SPLIT_AT_BYTES);
    let mut largest = (0u64, 0u64);
    let mut passing = None;
    for (i, &(bytes, rows)) in sizes.iter().enumerate() {
        largest = (largest.0.max(bytes), largest.1.max(rows));
        let over_rows = split_at_rows.is_some_and(|r| rows > r);
        if passing.is_none() && (bytes > bytes_limit || over_rows) {
            passing = Some((i, bytes, rows));
        }
    }
    let n = sizes.len();
    let rows_limit = split_at_rows.map_or("no row limit".to_string(), |r| format!("{r} rows"));
    Ok(match passing {
        None => AutoDecision {
            to: None,
            reason: format!(
                "no shard passes the thresholds ({bytes_limit} bytes, {rows_limit}); the largest has {} bytes and {} rows",
                largest.0, largest.1
            ),
        },
        Some((i, bytes, rows)) if n >= max_shard_count => AutoDecision {
            to: None,
            reason: format!(
                "shard {i} passes the thresholds ({bytes} bytes, {rows} rows), but the database already has maxShardCount ({max_shard_count}) shards"
            ),
        },
        Some((i, bytes, rows)) => AutoDecision {
            to: Some(2 * n),
            reason: format!(
                "shard {i} passes the thresholds ({bytes} bytes, {rows} rows against {bytes_limit} bytes, {rows_limit}): splitting {n} -> {} shards",
                2 * n
            ),
        },
    })
}

impl super::Run<'_> {
    /// Each serving shard's `(bytes, rows of sharded tables)`, as D1 reports its size: one
    /// call per shard, together.
    pub(super) async fn sizes(
        &mut self,
        policy: &Policy,
        layout: &super::LayoutRecord,
    ) -> Result<Vec<(u64, u64)>> {
        use crate::backend::{ShardBatch, ShardStatement};
        let first = self.at(&layout.shards[0])?;
        let catalog = crate::catalog::Catalog::from_rows(
            &self
                .read(first, crate::catalog::LOAD_SQL.to_string())
                .await?,
            0,
        );
        let counts: Vec<String> = policy
            .sharding
            .tables
            .iter()
            .filter(|t| catalog.get(&t.name).is_some())
            .map(|t| {
                format!(
                    "(SELECT count(*) FROM {})",
                    crate::lex::quote_ident(&t.name)
                )
            })
            .collect();
        let sql = format!(
            "SELECT {} AS n",
            if counts.is_empty() {
                "0".to_string()
            } else {
                counts.join(" + ")
            }
        );
        let mut batches = Vec::new();
        for name in &layout.shards {
            // Two statements: D1 reports a batch's sizes (a lone read answers rows only).
            let statement = |sql: &str| ShardStatement {
                sql: sql.into(),
                params: Vec::new(),
            };
            batches.push(ShardBatch {
                shard: self.at(name)?,
                statements: vec![statement(&sql), statement("SELECT 1 AS one")],
            });
        }
        self.used += 2 * batches.len();
        let mut out = Vec::new();
        for answer in self.backend.run(batches).await {
            let first = answer?.into_iter().next().unwrap_or_default();
            let rows = match first.rows.first().and_then(|r| r.first()) {
                Some(crate::value::Value::Integer(n)) => *n as u64,
                _ => 0,
            };
            out.push((first.meta.size_after, rows));
        }
        Ok(out)
    }
}
