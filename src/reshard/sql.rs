//! The split's SQL, shared by the native split (`crate::split`) and the one over backend
//! calls: how each table is copied (`TableSpec`), the capture and pause triggers, and for
//! the calls, row tuples as SQL literals and their inserts.

use super::{CAUGHT, COPY, LOG};
use crate::catalog::{Catalog, ObjectKind};
use crate::error::{Error, Result};
use crate::lex::quote_ident;
use crate::placement;
use crate::plan::rowid_ranges;
use crate::policy::{Policy, TableKind};
use crate::value::{Affinity, Value};

/// D1 refuses statements over 100 KB; inserts are cut well below that.
pub(crate) const MAX_STATEMENT_BYTES: usize = 90_000;

/// Where a table's rows go when old shard `i` becomes `2i` and `2i + 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Spread {
    /// Sharded: each row by its key (column index, affinity) among the new shard count.
    Key(usize, Affinity),
    /// Reference tables and d1plus's own records: on both halves.
    Both,
    /// Unsharded tables: with the even half (the home shard stays shard 0).
    Even,
}

/// One table as the split copies it.
#[derive(Debug, Clone)]
pub(crate) struct TableSpec {
    pub(crate) name: String,
    pub(crate) spread: Spread,
    /// The name the rowid goes by (`rowid` unless a column took it).
    pub(crate) rowid: String,
    /// Stored columns, quoted.
    pub(crate) columns: Vec<String>,
    /// The key column, quoted (sharded tables).
    pub(crate) key: Option<String>,
    /// The INTEGER PRIMARY KEY aliasing the rowid, if any.
    pub(crate) id_alias: bool,
    /// UNIQUE indexes over plain columns: their columns, quoted, with their collations.
    pub(crate) unique: Vec<Vec<(String, String)>>,
}

/// The tables of `catalog` as the split copies them; `unique` holds the rows of
/// [`UNIQUE_SQL`] (table, index, column, collation).
pub(crate) fn table_specs(
    catalog: &Catalog,
    policy: &Policy,
    unique: &[Vec<Value>],
) -> Result<Vec<TableSpec>> {
    let mut out = Vec::new();
    for t in catalog.tables() {
        if t.kind != ObjectKind::Table {
            continue;
        }
        let Some(rowid) = ["rowid", "_rowid_", "oid"]
            .into_iter()
            .find(|r| t.column(r).is_none())
        else {
            return Err(Error::unsupported(
                format!("table {} has columns named rowid, _rowid_ and oid: the split cannot address its rows", t.name),
                "rename one of those columns before splitting",
            ));
        };
        let spread = match policy.table_kind(&t.name) {
            TableKind::Sharded => {
                let key = policy
                    .sharded_table(&t.name)
                    .map(|s| s.key_column.as_str())
                    .unwrap_or_default();
                let (i, c) = t.column(key).ok_or_else(|| {
                    Error::internal(format!("sharded table {} has no key column {key}", t.name))
                })?;
                Spread::Key(i, c.affinity)
            }
            TableKind::Reference => Spread::Both,
            TableKind::Unsharded if is_bookkeeping(&t.name) => Spread::Both,
            TableKind::Unsharded => Spread::Even,
        };
        out.push(TableSpec {
            name: t.name.clone(),
            key: match spread {
                Spread::Key(i, _) => Some(quote_ident(&t.columns[i].name)),
                _ => None,
            },
            spread,
            rowid: rowid.to_string(),
            columns: t
                .columns
                .iter()
                .filter(|c| !c.hidden)
                .map(|c| quote_ident(&c.name))
                .collect(),
            id_alias: t.rowid_alias.is_some(),
            unique: unique_of(&t.name, unique)?,
        });
    }
    Ok(out)
}

/// d1plus's and wrangler's records, which every shard keeps its own copy of.
fn is_bookkeeping(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("_d1plus_") || lower == "d1_migrations"
}

/// Every UNIQUE index's key columns: `tbl, idx, cid, col, coll`, in index order. (D1
/// does not allow `pragma_index_list`; the indexes SQLite makes for UNIQUE and PRIMARY
/// KEY constraints have no SQL, and the others say UNIQUE in theirs.)
pub(crate) const UNIQUE_SQL: &str = "SELECT m.tbl_name AS tbl, m.name AS idx, ix.cid AS cid, ix.name AS col, ix.coll AS coll \
     FROM sqlite_schema AS m, pragma_index_xinfo(m.name) AS ix \
     WHERE m.type = 'index' AND (m.sql IS NULL OR upper(m.sql) LIKE 'CREATE UNIQUE %') AND ix.key = 1 \
     ORDER BY m.tbl_name, m.name, ix.seqno";

fn unique_of(table: &str, rows: &[Vec<Value>]) -> Result<Vec<Vec<(String, String)>>> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for row in rows {
        let [Value::Text(tbl), Value::Text(idx), cid, col, coll] = row.as_slice() else {
            continue;
        };
        if !tbl.eq_ignore_ascii_case(table) {
            continue;
        }
        let (Value::Integer(cid), Value::Text(col)) = (cid, col) else {
            return Err(Error::unsupported(
                format!("table {table} has a UNIQUE index on an expression ({idx}): the split cannot follow the rows an OR REPLACE deletes through it"),
                "drop the index (or make it a plain column index) before splitting, and recreate it after",
            ));
        };
        if *cid < 0 {
            continue;
        }
        let coll = match coll {
            Value::Text(c) => c.clone(),
            _ => "BINARY".to_string(),
        };
        match out.last_mut() {
            Some((name, cols)) if name == idx => cols.push((quote_ident(col), coll)),
            _ => out.push((idx.clone(), vec![(quote_ident(col), coll)])),
        }
    }
    Ok(out.into_iter().map(|(_, cols)| cols).collect())
}

/// A SQL string literal.
pub(crate) use crate::lex::quote_text as literal;

pub(crate) fn trigger_name(kind: &str, op: &str, table: &str) -> String {
    quote_ident(&format!("_d1plus_split_{kind}_{op}_{table}"))
}

/// The change log and its triggers on an old shard (idempotent): each write's rowids,
/// and before an INSERT or UPDATE the rows its new values collide with on a UNIQUE
/// index (which an `OR REPLACE` deletes without a delete trigger).
pub(crate) fn capture(tables: &[TableSpec]) -> Vec<String> {
    let mut out = vec![format!(
        "CREATE TABLE IF NOT EXISTS {LOG} (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, rid INTEGER NOT NULL)"
    )];
    for t in tables {
        let (name, tbl, r) = (quote_ident(&t.name), literal(&t.name), &t.rowid);
        let log = |row: &str| format!("INSERT INTO {LOG} (tbl, rid) VALUES ({tbl}, {row});");
        out.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER INSERT ON {name} BEGIN {} END",
            trigger_name("log", "insert", &t.name),
            log(&format!("NEW.{r}"))
        ));
        out.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER UPDATE ON {name} BEGIN {} {} END",
            trigger_name("log", "update", &t.name),
            log(&format!("OLD.{r}")),
            log(&format!("NEW.{r}"))
        ));
        out.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER DELETE ON {name} BEGIN {} END",
            trigger_name("log", "delete", &t.name),
            log(&format!("OLD.{r}"))
        ));
        let collisions: String = t
            .unique
            .iter()
            .map(|cols| {
                let cond: Vec<String> = cols
                    .iter()
                    .map(|(c, coll)| format!("{c} = NEW.{c} COLLATE {}", quote_ident(coll)))
                    .collect();
                format!(
                    "INSERT INTO {LOG} (tbl, rid) SELECT {tbl}, {r} FROM {name} WHERE {};",
                    cond.join(" AND ")
                )
            })
            .collect();
        if !collisions.is_empty() {
            for op in ["insert", "update"] {
                out.push(format!(
                    "CREATE TRIGGER IF NOT EXISTS {} BEFORE {} ON {name} BEGIN {collisions} END",
                    trigger_name("collide", op, &t.name),
                    op.to_ascii_uppercase()
                ));
            }
        }
    }
    out
}

/// Triggers that refuse every write to an old shard with `D1PLUS_RETRY` (idempotent).
pub(crate) fn pause(tables: &[TableSpec]) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables {
        for op in ["INSERT", "UPDATE", "DELETE"] {
            out.push(format!(
                "CREATE TRIGGER IF NOT EXISTS {} BEFORE {op} ON {} BEGIN SELECT RAISE(ABORT, '{}: a split is moving this shard'); END",
                trigger_name("pause", &op.to_ascii_lowercase(), &t.name),
                quote_ident(&t.name),
                crate::error::RETRY_MARKER,
            ));
        }
    }
    out
}

/// Drops the triggers of `kinds` ("log", "collide", "pause") from an old shard.
pub(crate) fn drop_triggers(tables: &[TableSpec], kinds: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables {
        for kind in kinds {
            for op in ["insert", "update", "delete"] {
                out.push(format!(
                    "DROP TRIGGER IF EXISTS {}",
                    trigger_name(kind, op, &t.name)
                ));
            }
        }
    }
    out
}

/// The progress tables of a new shard.
pub(crate) fn progress_tables() -> [String; 3] {
    [
        format!("CREATE TABLE IF NOT EXISTS {COPY} (tbl TEXT PRIMARY KEY, last TEXT, done INTEGER NOT NULL DEFAULT 0)"),
        format!("CREATE TABLE IF NOT EXISTS {CAUGHT} (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL)"),
        format!("CREATE TABLE IF NOT EXISTS {} (tbl TEXT PRIMARY KEY, floor INTEGER NOT NULL)", rowid_ranges::FLOOR_TABLE),
    ]
}

impl TableSpec {
    /// Columns a chunk or log read selects besides its own: the rowid as text (exact
    /// beyond 2^53), the key's storage class and exact text, and the row as a SQL tuple
    /// (`quote()` writes every value so it reads back identical, REALs included).
    pub(crate) fn row_columns(&self, alias: &str) -> String {
        let r = format!("{alias}.{}", self.rowid);
        let key = match &self.key {
            Some(key) => {
                let k = format!("{alias}.{key}");
                format!(
                    "typeof({k}) AS kt, CASE typeof({k}) WHEN 'integer' THEN CAST({k} AS TEXT) WHEN 'real' THEN quote({k}) WHEN 'blob' THEN hex({k}) ELSE {k} END AS kv"
                )
            }
            None => "NULL AS kt, NULL AS kv".to_string(),
        };
        let values: Vec<String> = std::iter::once(format!("quote({r})"))
            .chain(self.columns.iter().map(|c| format!("quote({alias}.{c})")))
            .collect();
        format!(
            "CAST({r} AS TEXT) AS rid, {key}, '(' || {} || ')' AS tup",
            values.join(" || ', ' || ")
        )
    }

    /// A chunk of the copy: rows after `after` (a rowid, as text) in rowid order.
    pub(crate) fn chunk_sql(&self, after: Option<&str>, limit: usize) -> String {
        let start = after.map_or(String::new(), |a| {
            format!(" WHERE t.{} > CAST({} AS INTEGER)", self.rowid, literal(a))
        });
        format!(
            "SELECT {} FROM {} AS t{start} ORDER BY t.{} LIMIT {limit}",
            self.row_columns("t"),
            quote_ident(&self.name),
            self.rowid
        )
    }

    /// The log entries of this table in `(after, upto]`, each with the row as it is now
    /// (NULLs when it is gone).
    pub(crate) fn log_sql(&self, after: i64, upto: i64) -> String {
        format!(
            "SELECT l.seq AS seq, CAST(l.rid AS TEXT) AS lrid, t.{r} IS NOT NULL AS present, {} FROM {LOG} AS l \
             LEFT JOIN {} AS t ON t.{r} = l.rid WHERE l.tbl = {} AND l.seq > {after} AND l.seq <= {upto}",
            self.row_columns("t"),
            quote_ident(&self.name),
            literal(&self.name),
            r = self.rowid,
        )
    }

    /// `INSERT OR REPLACE` statements carrying `tuples`, each under the size D1 accepts.
    pub(crate) fn inserts(&self, tuples: &[&str]) -> Result<Vec<String>> {
        let head = format!(
            "INSERT OR REPLACE INTO {} ({}, {}) VALUES ",
            quote_ident(&self.name),
            self.rowid,
            self.columns.join(", ")
        );
        let mut out = Vec::new();
        let mut sql = head.clone();
        for tup in tuples {
            if head.len() + tup.len() > MAX_STATEMENT_BYTES {
                return Err(Error::unsupported(
                    format!(
                        "a row of table {} is {} bytes as SQL, more than one D1 statement holds",
                        self.name,
                        tup.len()
                    ),
                    "split this database natively (d1plus split) or shrink the row first",
                ));
            }
            if sql.len() + tup.len() + 2 > MAX_STATEMENT_BYTES {
                out.push(std::mem::replace(&mut sql, head.clone()));
            }
            if sql.len() > head.len() {
                sql.push_str(", ");
            }
            sql.push_str(tup);
        }
        if sql.len() > head.len() {
            out.push(sql);
        }
        Ok(out)
    }

    /// `DELETE` statements for these rowids (as text).
    pub(crate) fn deletes(&self, rowids: &[&str]) -> Vec<String> {
        rowids
            .chunks(2_000)
            .map(|ids| {
                format!(
                    "DELETE FROM {} WHERE {} IN ({})",
                    quote_ident(&self.name),
                    self.rowid,
                    ids.join(", ")
                )
            })
            .collect()
    }

    /// Which of `2i`, `2i + 1` (as 0 or 1) a row read by [`TableSpec::row_columns`] goes to:
    /// `[even, odd]`.
    pub(crate) fn halves(
        &self,
        old: usize,
        to: usize,
        kt: &Value,
        kv: &Value,
    ) -> Result<[bool; 2]> {
        match self.spread {
            Spread::Both => Ok([true, true]),
            Spread::Even => Ok([true, false]),
            Spread::Key(_, affinity) => {
                let key = stored_key(kt, kv).ok_or_else(|| {
                    Error::internal(format!("table {}: unreadable key {kt:?} {kv:?}", self.name))
                })?;
                let shard = placement::shard_for_key(&key, affinity, to)?;
                match shard.checked_sub(2 * old) {
                    Some(0) => Ok([true, false]),
                    Some(1) => Ok([false, true]),
                    _ => Err(Error::internal(format!(
                        "table {}: a row of old shard {old} places on shard {shard} of {to}",
                        self.name
                    ))),
                }
            }
        }
    }
}

/// A key as stored, from its storage class and exact text (see [`TableSpec::row_columns`]).
fn stored_key(kt: &Value, kv: &Value) -> Option<Value> {
    let Value::Text(kind) = kt else {
        return None;
    };
    let text = match kv {
        Value::Text(t) => t.as_str(),
        Value::Null => return Some(Value::Null),
        _ => return None,
    };
    Some(match kind.as_str() {
        "integer" => Value::Integer(text.parse().ok()?),
        "real" => Value::Real(text.parse().ok()?),
        "text" => Value::Text(text.to_string()),
        "blob" => Value::Blob(
            (0..text.len() / 2)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<std::result::Result<_, _>>()
                .ok()?,
        ),
        _ => Value::Null,
    })
}
