//! `d1plus split --auto`: when `"mode": "auto"` capacity splits.

use super::*;

/// What `d1plus split --auto` decided, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoDecision {
    /// The shard count to split to, if any.
    pub to: Option<usize>,
    /// Why, in a sentence.
    pub reason: String,
}

/// Decides whether `"mode": "auto"` capacity splits now: when a shard's file passes
/// `splitAtBytes` (default [`crate::policy::DEFAULT_SPLIT_AT_BYTES`]) or its sharded
/// tables hold more than `splitAtRows` rows, and the database has fewer than
/// `maxShardCount` shards, it doubles once. A split in progress is resumed.
pub fn auto_target(dir: &Path) -> Result<AutoDecision> {
    let (policy, layout) = layout::read(dir)?;
    if let Some(s) = &layout.split {
        return Ok(AutoDecision {
            to: Some(s.to),
            reason: format!("resuming the split to {} shards", s.to),
        });
    }
    let crate::policy::Capacity::Auto {
        max_shard_count,
        split_at_bytes,
        split_at_rows,
        ..
    } = policy.capacity
    else {
        return Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            "--auto splits by the policy's \"auto\" capacity, and this policy's capacity is not auto",
            "set \"capacity\": {\"mode\": \"auto\", \"targetShardCount\": N, \"maxShardCount\": M} in policy.json, or split with --to",
        ));
    };
    let bytes_limit = split_at_bytes.unwrap_or(crate::policy::DEFAULT_SPLIT_AT_BYTES);
    let mut largest = (0u64, 0u64);
    let mut passing = None;
    for (i, path) in layout.paths(dir).iter().enumerate() {
        let (bytes, rows) = shard_size(path, &policy)?;
        largest = (largest.0.max(bytes), largest.1.max(rows));
        let over_rows = split_at_rows.is_some_and(|r| rows > r);
        if passing.is_none() && (bytes > bytes_limit || over_rows) {
            passing = Some((i, bytes, rows));
        }
    }
    let n = layout.shard_count;
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

/// A shard file's bytes and rows of sharded tables.
fn shard_size(path: &Path, policy: &Policy) -> Result<(u64, u64)> {
    let conn = open(path, false)?;
    let err = |e| file_error(path, e);
    let bytes: i64 = conn
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    let mut rows = 0u64;
    for t in &policy.sharding.tables {
        if has_table(&conn, path, &t.name)? {
            let n: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM {}", quote_ident(&t.name)),
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
            rows += n as u64;
        }
    }
    Ok((bytes as u64, rows))
}
