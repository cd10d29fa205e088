//! `d1plus status`: where the data is. Per shard its file, size and rows per sharded table;
//! how even the distribution is (largest shard / mean); the keys with the most rows.

use crate::api::Database;
#[cfg(not(target_arch = "wasm32"))]
use crate::backend::sqlite::SqliteBackend;
use crate::backend::Backend;
use crate::error::Result;
use crate::lex::quote_ident;
use crate::value::Value;
use serde::Serialize;
use std::collections::BTreeMap;

/// A split in progress (local databases; a Worker's database has no split yet).
#[cfg(not(target_arch = "wasm32"))]
pub type Split = crate::layout::SplitState;
/// A split in progress (local databases; a Worker's database has no split yet).
#[cfg(target_arch = "wasm32")]
pub type Split = serde_json::Value;

/// Keys listed per sharded table.
const TOP_KEYS: usize = 5;

/// One shard.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ShardStatus {
    /// Its index.
    pub index: usize,
    /// Its file, relative to the database directory.
    pub file: String,
    /// Rows of each sharded table.
    pub rows: BTreeMap<String, u64>,
    /// Bytes (page count times page size).
    pub bytes: u64,
}

/// The whole database.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Status {
    /// Every shard, in order.
    pub shards: Vec<ShardStatus>,
    /// A split in progress: its target, the new files, its phase.
    pub split: Option<Split>,
    /// Rows of sharded tables on the fullest shard divided by the mean (1.0 is even).
    pub skew: f64,
    /// Per sharded table, the keys with the most rows, most first.
    pub top_keys: BTreeMap<String, Vec<(Value, u64)>>,
}

/// Reads the status of a local database.
#[cfg(not(target_arch = "wasm32"))]
pub fn status(db: &Database<SqliteBackend>, layout: &crate::layout::Layout) -> Result<Status> {
    futures::executor::block_on(read(
        db,
        &layout.files,
        layout.split.clone(),
        Bytes::PageCount,
    ))
}

/// How a shard's size is read: natively from SQLite's page count; D1 reports it with every
/// answer (`meta.size_after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bytes {
    /// `page_count * page_size`.
    PageCount,
    /// The backend's `size_after`.
    Reported,
}

/// Reads the status of any database (a Worker's too): rows per sharded table and bytes of
/// each shard (one batch per shard), the skew, and the top keys. `files` names each
/// shard's file, where there are files.
pub async fn read<B: Backend>(
    db: &Database<B>,
    files: &[String],
    split: Option<Split>,
    bytes: Bytes,
) -> Result<Status> {
    db.ensure_catalog().await?;
    let policy = db.policy();
    let catalog = db.catalog();
    let tables: Vec<(String, String)> = policy
        .sharding
        .tables
        .iter()
        .filter(|t| catalog.get(&t.name).is_some())
        .map(|t| (t.name.clone(), t.key_column.clone()))
        .collect();
    let mut statements: Vec<String> = tables
        .iter()
        .map(|(t, _)| format!("SELECT count(*) FROM {}", quote_ident(t)))
        .collect();
    statements.push(match bytes {
        Bytes::PageCount => {
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()".into()
        }
        Bytes::Reported => "SELECT 0 AS size".into(),
    });
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    let per_shard = crate::capture::run_on_every_shard(db.backend(), &refs).await;
    let mut shards = Vec::new();
    for (index, out) in per_shard.into_iter().enumerate() {
        let out = out?;
        let int = |i: usize| match out
            .get(i)
            .and_then(|o| o.rows.first())
            .and_then(|r| r.first())
        {
            Some(Value::Integer(n)) => (*n).max(0) as u64,
            _ => 0,
        };
        let rows = tables
            .iter()
            .enumerate()
            .map(|(i, (t, _))| (t.clone(), int(i)))
            .collect();
        let size = match bytes {
            Bytes::PageCount => int(tables.len()),
            Bytes::Reported => out.last().map_or(0, |o| o.meta.size_after),
        };
        shards.push(ShardStatus {
            index,
            file: files.get(index).cloned().unwrap_or_default(),
            rows,
            bytes: size,
        });
    }
    let totals: Vec<u64> = shards.iter().map(|s| s.rows.values().sum()).collect();
    let mean = totals.iter().sum::<u64>() as f64 / totals.len().max(1) as f64;
    let skew = if mean > 0.0 {
        *totals.iter().max().unwrap_or(&0) as f64 / mean
    } else {
        1.0
    };
    let mut top_keys = BTreeMap::new();
    for (t, key) in &tables {
        // Grouped by the key: every group lives on one shard, the merge takes the top.
        let sql = format!(
            "SELECT {k}, count(*) FROM {t} GROUP BY {k} ORDER BY 2 DESC, 1 LIMIT {TOP_KEYS}",
            k = quote_ident(key),
            t = quote_ident(t)
        );
        let r = db.query(&sql, &[], None).await?;
        let keys = r
            .rows
            .into_iter()
            .map(|row| {
                let n = match row.get(1) {
                    Some(Value::Integer(n)) => *n as u64,
                    _ => 0,
                };
                (row.into_iter().next().unwrap_or(Value::Null), n)
            })
            .collect();
        top_keys.insert(t.clone(), keys);
    }
    Ok(Status {
        shards,
        split,
        skew,
        top_keys,
    })
}

#[cfg(not(target_arch = "wasm32"))]
impl Status {
    /// The status for a terminal: a line and a bar per shard, the skew, the top keys.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let totals: Vec<u64> = self.shards.iter().map(|s| s.rows.values().sum()).collect();
        let max = totals.iter().copied().max().unwrap_or(0).max(1);
        let _ = writeln!(
            out,
            "shard  file                       bytes        rows  distribution"
        );
        for (s, total) in self.shards.iter().zip(&totals) {
            let bar = "#".repeat((40 * total / max) as usize);
            let _ = writeln!(
                out,
                "{:>5}  {:<22} {:>9} {:>9}  {bar}",
                s.index, s.file, s.bytes, total
            );
        }
        let split = match &self.split {
            None => "none in progress".to_string(),
            Some(s) => format!(
                "to {} shards in progress, this step to {} ({:?} phase)",
                s.to,
                s.files.len(),
                s.phase
            ),
        };
        let _ = writeln!(
            out,
            "skew (largest shard / mean): {:.2}; split: {split}",
            self.skew
        );
        for (t, keys) in &self.top_keys {
            let list: Vec<String> = keys.iter().map(|(k, n)| format!("{k} ({n})")).collect();
            let _ = writeln!(out, "top keys of {t}: {}", list.join(", "));
        }
        out
    }
}
