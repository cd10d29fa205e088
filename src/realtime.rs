//! Realtime: a stream of committed writes to the tables the policy names
//! (`"realtime": { "tables": ["docs"] }`).
//!
//! **Capture at the shard, atomic with the write.** Each shard has a change log
//! (`_d1plus_changes`); triggers on each realtime table append one entry per inserted,
//! updated or deleted row in the same transaction as the write, so a rolled-back write
//! leaves no event and a committed one always does, whichever process wrote it, including
//! rows changed by `ON CONFLICT … DO UPDATE` (an update event), `INSERT OR REPLACE` on the
//! primary key (an insert event for a key that existed: the row image replaces it) and
//! triggers. One gap SQLite leaves: a row that `OR REPLACE` deletes because it collides on
//! *another* UNIQUE index fires no trigger, so it has no delete event (a BEFORE trigger
//! cannot tell that delete from an `OR IGNORE` that deletes nothing). d1plus (re)creates the
//! triggers after every schema change it runs and after migrations, so a column added later
//! is in the row images.
//!
//! **Order and cursors.** A shard's log is ordered by commit (`seq`, AUTOINCREMENT so a
//! number is never reused), and every row of a key lives on one shard, so events of one key
//! come in commit order. A cursor is every shard's last seen `seq`; reading after it
//! misses nothing and repeats nothing. The log keeps `maxRows` entries per shard (trimmed
//! by the triggers) and entries younger than `maxAgeSeconds` (trimmed by readers); a cursor
//! that points before what is kept gets `D1PLUS_CURSOR_EXPIRED`, never a silent gap.

use crate::api::Database;
use crate::backend::Backend;
use crate::error::{Error, ErrorCode, Result};
use crate::value::Value;
use serde::Serialize;

pub use crate::capture::CHANGES;
pub use crate::policy::{RealtimePolicy, DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_ROWS};

/// One committed change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Where a stream resumes after this event.
    pub cursor: String,
    /// The table.
    pub table: String,
    /// "insert", "update" or "delete".
    pub op: String,
    /// The row after the write (null for a delete): an object of column values, BLOBs in hex.
    pub row: serde_json::Value,
    /// The row before (updates and deletes).
    pub old: serde_json::Value,
    /// The shard it committed on.
    pub shard: usize,
    /// When, in milliseconds since 1970.
    pub at: i64,
}

/// Every shard's last seen log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub Vec<i64>);

impl Cursor {
    /// As text: `rt<shards>:<seq>.<seq>…`.
    pub fn encode(&self) -> String {
        let seqs: Vec<String> = self.0.iter().map(|s| s.to_string()).collect();
        format!("rt{}:{}", self.0.len(), seqs.join("."))
    }

    /// Reads a cursor made for `shard_count` shards.
    pub fn decode(text: &str, shard_count: usize) -> Result<Cursor> {
        let bad = || {
            Error::with_remedy(
                ErrorCode::InvalidArgument,
                format!("{text:?} is not a realtime cursor"),
                "pass a cursor an event carried, or none to start from now",
            )
        };
        let (count, seqs) = text
            .strip_prefix("rt")
            .and_then(|r| r.split_once(':'))
            .ok_or_else(bad)?;
        let seqs: Vec<i64> = seqs
            .split('.')
            .map(|s| s.parse::<i64>().map_err(|_| bad()))
            .collect::<Result<_>>()?;
        if count.parse::<usize>().ok() != Some(seqs.len()) {
            return Err(bad());
        }
        if seqs.len() != shard_count {
            return Err(Error::with_remedy(
                ErrorCode::CursorExpired,
                format!(
                    "the cursor was made for {} shards and the database has {shard_count} (it was split since)",
                    seqs.len()
                ),
                "start a new stream (without a cursor) and reload the rows you show",
            ));
        }
        Ok(Cursor(seqs))
    }
}

/// Makes every shard capture the realtime tables' writes as the schema is now (see
/// `crate::capture::ensure`).
pub async fn ensure_capture<B: Backend>(db: &Database<B>) -> Result<()> {
    crate::capture::ensure(db.backend(), db.policy(), &db.catalog()).await
}

/// The cursor of "now": every shard's newest log entry.
pub async fn now<B: Backend>(db: &Database<B>) -> Result<Cursor> {
    ensure_capture(db).await?;
    let rows = crate::capture::rows_on_every_shard(
        db.backend(),
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = '_d1plus_changes'), 0)",
    )
    .await?;
    Ok(Cursor(
        rows.iter()
            .map(|r| match r.first().and_then(|x| x.first()) {
                Some(Value::Integer(n)) => *n,
                _ => 0,
            })
            .collect(),
    ))
}

/// What a stream follows: some realtime tables (all of them when empty) and, optionally,
/// the rows of one shard key only (a tenant's rows), which live on one shard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subscription {
    /// Realtime tables (case-insensitive); empty: every realtime table.
    pub tables: Vec<String>,
    /// Only rows whose shard key equals this value (every table must then be sharded).
    pub key: Option<Value>,
}

impl Subscription {
    /// Every event of these tables.
    pub fn tables(tables: &[String]) -> Subscription {
        Subscription {
            tables: tables.to_vec(),
            key: None,
        }
    }
}

/// A subscription checked against the policy and the schema: the tables it names, and,
/// for a key, each table's key column with the key as that column stores it.
struct Filter {
    tables: Vec<String>,
    keys: Vec<KeyMatch>,
}

struct KeyMatch {
    table: String,
    column: String,
    affinity: crate::value::Affinity,
    key: Value,
    shard: usize,
}

impl Filter {
    fn new<B: Backend>(db: &Database<B>, rt: &RealtimePolicy, s: &Subscription) -> Result<Filter> {
        if let Some(t) = s
            .tables
            .iter()
            .find(|t| !rt.tables.iter().any(|r| r.eq_ignore_ascii_case(t)))
        {
            return Err(Error::with_remedy(
                ErrorCode::InvalidArgument,
                format!("table {t} is not a realtime table"),
                "name it in the policy's realtime.tables",
            ));
        }
        let tables = if s.tables.is_empty() {
            rt.tables.clone()
        } else {
            s.tables.clone()
        };
        let Some(key) = &s.key else {
            return Ok(Filter {
                tables,
                keys: Vec::new(),
            });
        };
        let catalog = db.catalog();
        let cx = crate::plan::Context {
            policy: db.policy(),
            catalog: &catalog,
            options: Default::default(),
        };
        let keys = tables
            .iter()
            .map(|t| {
                let sharded = db.policy().sharded_table(t).ok_or_else(|| {
                    Error::with_remedy(
                        ErrorCode::InvalidArgument,
                        format!(
                            "table {t} is not sharded, so its rows have no shard key to follow"
                        ),
                        "subscribe to its rows without a key, or only to sharded tables",
                    )
                })?;
                let hint = crate::plan::ShardHint {
                    table: sharded.name.clone(),
                    key: key.clone(),
                };
                let resolved = crate::plan::resolve_hint(&hint, cx)?;
                let affinity = crate::plan::key_affinity(&sharded.name, &sharded.key_column, cx)?;
                Ok(KeyMatch {
                    table: sharded.name.clone(),
                    column: sharded.key_column.clone(),
                    affinity,
                    key: key.with_affinity(affinity),
                    shard: resolved.shard,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Filter { tables, keys })
    }

    /// Whether the shard's log can hold a followed event.
    fn reads(&self, shard: usize) -> bool {
        self.keys.is_empty() || self.keys.iter().any(|k| k.shard == shard)
    }

    /// Whether an event of `table` with these images is followed: its table is, and, for a
    /// key, every image there is has that key.
    fn wants(&self, table: &str, row: &serde_json::Value, old: &serde_json::Value) -> bool {
        if !self.tables.iter().any(|t| t.eq_ignore_ascii_case(table)) {
            return false;
        }
        if self.keys.is_empty() {
            return true;
        }
        let Some(k) = self
            .keys
            .iter()
            .find(|k| k.table.eq_ignore_ascii_case(table))
        else {
            return false;
        };
        let images: Vec<&serde_json::Value> =
            [row, old].into_iter().filter(|i| !i.is_null()).collect();
        !images.is_empty()
            && images.iter().all(|image| {
                image
                    .as_object()
                    .and_then(|o| o.iter().find(|(c, _)| c.eq_ignore_ascii_case(&k.column)))
                    .map(|(_, v)| json_value(v).with_affinity(k.affinity) == k.key)
                    .unwrap_or(false)
            })
    }
}

/// A column value from a row image (BLOBs are hex text there; keys are never BLOBs).
fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::Bool(b) => Value::Integer(*b as i64),
        _ => Value::Null,
    }
}

/// The events after `cursor` that `subscription` follows (reading at most `limit` log
/// entries per shard, shard by shard, each shard's in commit order), and the cursor after
/// them. A key's subscription reads only the shards its key lives on. Entries older than
/// the retention are trimmed first.
pub async fn poll<B: Backend>(
    db: &Database<B>,
    cursor: &Cursor,
    subscription: &Subscription,
    limit: usize,
) -> Result<(Vec<Event>, Cursor)> {
    let rt = db.policy().realtime.clone().ok_or_else(|| {
        Error::with_remedy(
            ErrorCode::InvalidArgument,
            "the policy names no realtime tables",
            "add \"realtime\": { \"tables\": [\"…\"] } to the policy",
        )
    })?;
    let filter = Filter::new(db, &rt, subscription)?;
    let max_age_ms = rt.max_age_seconds.unwrap_or(DEFAULT_MAX_AGE_SECONDS) as i64 * 1000;
    let mut events = Vec::new();
    let mut next = cursor.clone();
    for (shard, after) in cursor.0.iter().enumerate() {
        if !filter.reads(shard) {
            continue;
        }
        let out = read_shard(db, shard, *after, limit, &rt, max_age_ms).await?;
        for row in out.get(2).map(|o| o.rows.as_slice()).unwrap_or_default() {
            let seq = match row.first() {
                Some(Value::Integer(s)) => *s,
                _ => continue,
            };
            next.0[shard] = seq;
            let text = |i: usize| match row.get(i) {
                Some(Value::Text(t)) => t.clone(),
                _ => String::new(),
            };
            let json = |i: usize| serde_json::from_str(&text(i)).unwrap_or(serde_json::Value::Null);
            let (table, row_image, old_image) = (text(1), json(3), json(4));
            if !filter.wants(&table, &row_image, &old_image) {
                continue;
            }
            events.push(Event {
                cursor: next.encode(),
                table,
                op: text(2),
                row: row_image,
                old: old_image,
                shard,
                at: match row.get(5) {
                    Some(Value::Integer(a)) => *a,
                    _ => 0,
                },
            });
        }
    }
    Ok((events, next))
}

/// One shard's log after `after` (trimming what is older than the retention first), or
/// `D1PLUS_CURSOR_EXPIRED` when entries after `after` were trimmed already.
async fn read_shard<B: Backend>(
    db: &Database<B>,
    shard: usize,
    after: i64,
    limit: usize,
    rt: &RealtimePolicy,
    max_age_ms: i64,
) -> Result<Vec<crate::backend::StatementOutput>> {
    let read = format!(
        "SELECT seq, tbl, op, row, old, at FROM {CHANGES} WHERE seq > {after} ORDER BY seq LIMIT {limit}"
    );
    let bounds = format!(
        "SELECT (SELECT min(seq) FROM {CHANGES}), coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{CHANGES}'), 0)"
    );
    let trim = format!(
        "DELETE FROM {CHANGES} WHERE at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - {max_age_ms}"
    );
    let out = db
        .backend()
        .run(vec![crate::backend::ShardBatch {
            shard,
            statements: [trim, bounds, read]
                .into_iter()
                .map(|sql| crate::backend::ShardStatement {
                    sql: sql.into(),
                    params: vec![],
                })
                .collect(),
        }])
        .await
        .pop()
        .ok_or_else(|| Error::internal("no answer from a shard"))??;
    let (oldest, newest) = match out.get(1).and_then(|o| o.rows.first()) {
        Some(r) => (r[0].clone(), r[1].clone()),
        None => (Value::Null, Value::Integer(0)),
    };
    let Value::Integer(newest) = newest else {
        return Err(Error::internal(
            "the change log's sequence is not an integer",
        ));
    };
    // Entries after the cursor were trimmed when the oldest kept is further on (or
    // none is kept though some were written after the cursor).
    let expired = match oldest {
        Value::Integer(o) => o > after + 1,
        _ => newest > after,
    };
    if expired && newest > after {
        return Err(Error::with_remedy(
            ErrorCode::CursorExpired,
            format!("shard {shard}'s change log no longer holds the changes after this cursor (retention: {} entries, {} s)", rt.max_rows(), max_age_ms / 1000),
            "start a new stream (without a cursor) and reload the rows you show",
        ));
    }
    Ok(out)
}
