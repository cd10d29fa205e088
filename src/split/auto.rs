//! `d1plus split --auto`: when `"mode": "auto"` capacity splits.

use super::*;

pub use crate::reshard::AutoDecision;

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
    let sizes = layout
        .paths(dir)
        .iter()
        .map(|path| shard_size(path, &policy))
        .collect::<Result<Vec<_>>>()?;
    crate::reshard::decide(&policy, &sizes)
}

/// A shard file's bytes and rows of sharded tables.
fn shard_size(path: &Path, policy: &Policy) -> Result<(u64, u64)> {
    let conn = open(path)?;
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
