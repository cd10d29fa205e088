//! The differential oracle's one core, shared by the fuzz targets (`oracle.rs` here) and
//! the test harness (`tests/common`): running SQL on a plain SQLite, comparing one
//! statement's outcome (columns, rows, errors), and checking every table of a d1plus
//! database against the plain one (rows equal, each sharded row on its key's shard,
//! unsharded rows on the home shard, reference copies alike).

use d1plus::api::Database;
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::{sqlite_message, Error};
use d1plus::execute::QueryResult;
use d1plus::value::Value;

/// Result rows.
pub type Rows = Vec<Vec<Value>>;

/// Runs one statement to completion on a plain connection: (columns, rows), or SQLite's
/// error text.
pub fn sqlite_query(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> Result<(Vec<String>, Rows), String> {
    let mut stmt = conn.prepare(sql).map_err(sqlite_message)?;
    let columns: Vec<String> = stmt.column_names().map(|c| c.to_string()).collect();
    let n = columns.len();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(sqlite_message)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(sqlite_message)? {
        out.push(
            (0..n)
                .map(|i| r.get_ref(i).map(Value::from).unwrap_or(Value::Null))
                .collect(),
        );
    }
    Ok((columns, out))
}

/// Rows in a canonical order (for results without a total ORDER BY).
pub fn sorted(mut rows: Rows) -> Rows {
    rows.sort_by_key(|r| format!("{r:?}"));
    rows
}

/// Whether two results hold the same rows: in order when `ordered`, as multisets otherwise;
/// REAL values may differ by `ulps` units in the last place.
pub fn same_rows(got: &Rows, expected: &Rows, ordered: bool, ulps: u64) -> bool {
    let close = |a: &Rows, b: &Rows| {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x.len() == y.len()
                    && x.iter().zip(y).all(|(u, v)| match (u, v) {
                        (Value::Real(p), Value::Real(q)) => {
                            p == q || {
                                let (i, j) = (p.to_bits() as i64, q.to_bits() as i64);
                                p.signum() == q.signum() && i.abs_diff(j) <= ulps
                            }
                        }
                        _ => u == v,
                    })
            })
    };
    if ordered {
        close(got, expected)
    } else {
        close(&sorted(got.clone()), &sorted(expected.clone()))
    }
}

/// One statement's outcome on d1plus against plain SQLite's.
#[derive(Debug)]
pub enum Compared {
    /// The same columns and rows, or SQLite's own error.
    Same,
    /// d1plus refused the statement itself (a proxy error): SQLite has nothing to compare.
    Refused,
    /// The first difference, and its description.
    Differs(Difference, String),
}

/// What differs between d1plus's outcome and SQLite's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// The column names.
    Columns,
    /// The rows.
    Rows,
    /// One side answered, the other failed.
    Outcome,
    /// Both failed, but d1plus's shard error is not SQLite's.
    ErrorText,
}

/// Compares d1plus's outcome of one statement with SQLite's ([`sqlite_query`]): columns by
/// name when SQLite names any (a write without RETURNING names none); rows as
/// [`same_rows`] does; a shard's error must start with SQLite's text.
pub fn compare_outcome(
    got: &Result<QueryResult, Error>,
    expected: &Result<(Vec<String>, Rows), String>,
    ordered: bool,
    ulps: u64,
) -> Compared {
    let differs = |d, text: String| Compared::Differs(d, text);
    match (got, expected) {
        (Ok(r), Ok((columns, _))) if !columns.is_empty() && r.columns[..] != columns[..] => {
            differs(
                Difference::Columns,
                format!(
                    "column names differ\n  d1plus: {:?}\n  oracle: {columns:?}",
                    r.columns
                ),
            )
        }
        (Ok(r), Ok((_, rows))) if !same_rows(&r.rows, rows, ordered, ulps) => differs(
            Difference::Rows,
            format!(
                "rows differ{}\n  d1plus: {:?}\n  oracle: {rows:?}",
                if ordered { " (in order)" } else { "" },
                r.rows
            ),
        ),
        (Ok(_), Ok(_)) => Compared::Same,
        (Ok(r), Err(e)) => differs(
            Difference::Outcome,
            format!("d1plus answered {:?} but SQLite failed: {e}", r.rows),
        ),
        (Err(e @ Error::Backend { .. }), Ok((_, rows))) => differs(
            Difference::Outcome,
            format!("d1plus failed ({e}) but SQLite answered {rows:?}"),
        ),
        (Err(Error::Backend { message, .. }), Err(e)) if message.starts_with(e.as_str()) => {
            Compared::Same
        }
        (Err(Error::Backend { message, .. }), Err(e)) => differs(
            Difference::ErrorText,
            format!("error text differs\n  d1plus: {message}\n  oracle: {e}"),
        ),
        (Err(_), _) => Compared::Refused,
    }
}

/// The user tables of a plain SQLite database, by name.
pub fn user_tables(plain: &rusqlite::Connection) -> Result<Vec<String>, String> {
    let (_, rows) = sqlite_query(
        plain,
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1",
        &[],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match r.into_iter().next() {
            Some(Value::Text(t)) => Some(t),
            _ => None,
        })
        .collect())
}

/// Every one of `tables` on the shards of `db` against `plain`: the first difference.
pub fn compare_tables(
    db: &Database<SqliteBackend>,
    plain: &rusqlite::Connection,
    tables: &[String],
) -> Result<(), String> {
    let catalog = db.catalog();
    let policy = db.policy();
    let n = policy.shard_count();
    for table in tables {
        let all = format!("SELECT * FROM \"{table}\"");
        let (_, expected) = sqlite_query(plain, &all, &[])?;
        let expected = sorted(expected);
        let per_shard: Vec<Rows> = (0..n)
            .map(|i| {
                db.backend()
                    .with_connection(i, |c| sqlite_query(c, &all, &[]))
                    .map_err(|e| e.to_string())?
                    .map(|(_, rows)| rows)
            })
            .collect::<Result<_, String>>()?;
        if policy.is_reference(table) {
            for (i, rows) in per_shard.iter().enumerate() {
                if sorted(rows.clone()) != expected {
                    return Err(format!(
                        "{n} shards: reference table {table} on shard {i}: {rows:?}\n  oracle: {expected:?}"
                    ));
                }
            }
            continue;
        }
        let union = sorted(per_shard.iter().flatten().cloned().collect());
        if union != expected {
            return Err(format!(
                "{n} shards: table {table} differs\n  shards: {union:?}\n  oracle: {expected:?}"
            ));
        }
        if let Some(st) = policy.sharded_table(table) {
            let Some((ki, kc)) = catalog.get(table).and_then(|t| t.column(&st.key_column)) else {
                return Err(format!("no key column {} in {table}", st.key_column));
            };
            for (i, rows) in per_shard.iter().enumerate() {
                for r in rows {
                    let want = d1plus::placement::shard_for_key(&r[ki], kc.affinity, n);
                    if want.as_ref().ok() != Some(&i) {
                        return Err(format!(
                            "{n} shards: {table} row {r:?} sits on shard {i}, its key maps to {want:?}"
                        ));
                    }
                }
            }
        } else {
            for (i, rows) in per_shard.iter().enumerate().skip(1) {
                if !rows.is_empty() {
                    return Err(format!(
                        "{n} shards: unsharded table {table} has rows on shard {i}: {rows:?}"
                    ));
                }
            }
        }
    }
    Ok(())
}
