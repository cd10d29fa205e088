//! Target (b)'s check: a sequence of statements on one plain SQLite database and on d1plus
//! over 4 shards. Every statement d1plus accepts must give the oracle's columns and rows
//! (in order where the statement's ORDER BY is total, as a multiset otherwise) and, for
//! writes, its change count; or SQLite's own error. After each write the tables must hold
//! the oracle's rows, sharded rows on their key's shard, unsharded rows on the home shard
//! and every copy of a reference table alike. Proxy refusals are fine.

use super::diff::{compare_outcome, compare_tables, sqlite_query, Compared, Difference};
use super::{database, known, plan_of, DATA, SCHEMA, SHARDS, TABLES};
use d1plus::api::Database;
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::{Error, ErrorCode};
use d1plus::plan::PlanOptions;
use d1plus::value::Value;
use futures::executor::block_on;
use std::fmt::Write as _;

/// One statement of a sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// SQL text.
    pub sql: String,
    /// Bound parameters.
    pub params: Vec<Value>,
    /// Run with scatter writes allowed.
    pub scatter: bool,
    /// The statement's ORDER BY makes the row order total: compare rows in order.
    pub ordered: bool,
}

/// A SQL literal for a value (what scripts hold and the generator writes).
pub fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => format!("{r:?}"),
        Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
        Value::Blob(b) => {
            let mut s = String::from("X'");
            for byte in b {
                let _ = write!(s, "{byte:02X}");
            }
            s + "'"
        }
    }
}

/// A sequence as a script: one statement per line, `sql<TAB>params<TAB>flags`, where params
/// are SQL literals separated by commas and flags are `ordered` and/or `scatter`.
pub fn to_script(steps: &[Step]) -> String {
    let mut out = String::new();
    for s in steps {
        let params: Vec<String> = s.params.iter().map(literal).collect();
        let mut flags = Vec::new();
        if s.ordered {
            flags.push("ordered");
        }
        if s.scatter {
            flags.push("scatter");
        }
        let _ = writeln!(out, "{}\t{}\t{}", s.sql, params.join(", "), flags.join(" "));
    }
    out
}

/// Reads a script written by [`to_script`] (lines starting with `#` are comments). The
/// parameter literals are evaluated by SQLite itself, so they keep their storage class.
pub fn from_script(text: &str) -> Vec<Step> {
    let conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut parts = line.split('\t');
            let sql = parts.next().unwrap_or_default().to_string();
            let params = parts.next().unwrap_or_default().trim();
            let flags = parts.next().unwrap_or_default();
            let params = if params.is_empty() {
                Vec::new()
            } else {
                let (_, mut rows) = sqlite_query(&conn, &format!("SELECT {params}"), &[])
                    .unwrap_or_else(|e| panic!("bad parameters {params:?}: {e}"));
                rows.pop().unwrap_or_default()
            };
            Step {
                sql,
                params,
                scatter: flags.split_whitespace().any(|f| f == "scatter"),
                ordered: flags.split_whitespace().any(|f| f == "ordered"),
            }
        })
        .collect()
}

/// The two databases.
pub struct Oracle {
    /// d1plus over [`SHARDS`] in-memory shards.
    pub db: Database<SqliteBackend>,
    /// One plain SQLite database.
    pub plain: rusqlite::Connection,
}

const CLEAR: &str = "DELETE FROM plans; DELETE FROM events; DELETE FROM users; DELETE FROM counters; DELETE FROM settings;";

impl Default for Oracle {
    fn default() -> Self {
        Oracle::new()
    }
}

impl Oracle {
    /// Both databases with the schema and the data.
    pub fn new() -> Oracle {
        let plain = rusqlite::Connection::open_in_memory().expect("oracle");
        plain.execute_batch(SCHEMA).expect("schema");
        plain.execute_batch(DATA).expect("data");
        Oracle {
            db: database(),
            plain,
        }
    }

    /// Back to the initial rows on both sides.
    pub fn reset(&self) {
        for shard in 0..SHARDS {
            self.db
                .backend()
                .with_connection(shard, |c| c.execute_batch(CLEAR))
                .expect("shard")
                .expect("clear");
        }
        block_on(self.db.exec(DATA)).expect("data");
        self.plain.execute_batch(CLEAR).expect("clear");
        self.plain.execute_batch(DATA).expect("data");
    }

    /// Runs a sequence from the initial rows. `Err` describes the first difference, with
    /// the script up to that statement. With `skip_known`, a statement that meets a known
    /// open bug (see [`known`]) ends the sequence instead.
    pub fn run(&self, steps: &[Step], skip_known: bool) -> Result<(), String> {
        self.reset();
        for (i, step) in steps.iter().enumerate() {
            if skip_known && known::skipped(&self.db, step).is_some() {
                return Ok(());
            }
            match self.step(step, skip_known) {
                Ok(true) => {}
                // The databases may differ from here on for a documented reason.
                Ok(false) => return Ok(()),
                Err(e) => {
                    return Err(format!(
                        "{e}\n--- script (statement {} of {}):\n{}",
                        i + 1,
                        steps.len(),
                        to_script(&steps[..=i])
                    ))
                }
            }
        }
        Ok(())
    }

    /// One statement on both sides. Ok(false): the sides may now differ legitimately (a
    /// multi-shard write failed part-way, or was refused while running).
    fn step(&self, step: &Step, skip_known: bool) -> Result<bool, String> {
        let options = PlanOptions {
            allow_scatter_writes: step.scatter,
            ..PlanOptions::default()
        };
        self.compare(step, skip_known).map_err(|e| {
            match plan_of(&self.db, &step.sql, &step.params, None, options) {
                Ok(plan) => format!("{e}\n--- plan:\n{plan}"),
                Err(_) => e,
            }
        })
    }

    fn compare(&self, step: &Step, skip_known: bool) -> Result<bool, String> {
        let Step {
            sql,
            params,
            scatter,
            ordered,
        } = step;
        let options = PlanOptions {
            allow_scatter_writes: *scatter,
            ..PlanOptions::default()
        };
        let plan = match plan_of(&self.db, sql, params, None, options) {
            Ok(plan) => plan,
            Err(e) => return self.check_refusal(sql, params, &e).map(|()| true),
        };
        let first = sql.split_whitespace().next().unwrap_or_default();
        let write = ["INSERT", "REPLACE", "UPDATE", "DELETE"]
            .iter()
            .any(|k| first.eq_ignore_ascii_case(k));
        let expected = sqlite_query(&self.plain, sql, params);
        let expected_changes = self.plain.changes();
        let got = block_on(self.db.query_with(sql, params, None, options));
        match compare_outcome(&got, &expected, *ordered, 0) {
            Compared::Same => {}
            Compared::Differs(difference, text) => {
                let known = skip_known
                    && match (difference, &got, &expected) {
                        (Difference::Columns, Ok(r), Ok((columns, _))) => {
                            known::column_names(&r.columns, columns).is_some()
                        }
                        (Difference::Rows, _, _) => known::rows(step).is_some(),
                        _ => false,
                    };
                if known {
                    return Ok(false);
                }
                // With several shards, which of several failing rows SQLite meets first
                // depends on row order: only one shard's error text must be SQLite's.
                if difference != Difference::ErrorText || plan.batches.len() == 1 {
                    return Err(text);
                }
            }
            Compared::Refused => {
                let Err(e) = &got else {
                    unreachable!("a refusal is an error")
                };
                match e.code() {
                    ErrorCode::Internal => return Err(format!("internal error: {e}")),
                    ErrorCode::IntegerOverflow if !matches!(&expected, Err(m) if m.contains("integer overflow")) =>
                    {
                        return Err(format!(
                            "d1plus: {e}, but SQLite: {:?}",
                            expected.map(|(_, rows)| rows)
                        ));
                    }
                    // Refused while running (e.g. values a merge cannot order exactly).
                    _ if write => return Ok(false),
                    _ => {}
                }
            }
        }
        match &got {
            Ok(r) if write && r.meta.changes != expected_changes => {
                return Err(format!(
                    "changes differ: d1plus {}, oracle {expected_changes}",
                    r.meta.changes
                ))
            }
            // Atomic per shard only: other shards may have committed their part.
            Err(Error::Backend { .. }) if write && plan.batches.len() > 1 => return Ok(false),
            _ => {}
        }
        if write {
            let tables: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
            compare_tables(&self.db, &self.plain, &tables)?;
        }
        Ok(true)
    }

    /// A refusal at planning time is fine, unless it is an internal error, or it claims
    /// SQLite's own objection (no such table or column, wrong parameter count) for a
    /// statement SQLite prepares and binds.
    fn check_refusal(&self, sql: &str, params: &[Value], e: &Error) -> Result<(), String> {
        match e.code() {
            ErrorCode::Internal => Err(format!("internal error while planning: {e}")),
            ErrorCode::NoSuchTable | ErrorCode::NoSuchColumn | ErrorCode::ParamCount => {
                match self.plain.prepare(sql) {
                    Ok(st) if st.parameter_count() == params.len() => Err(format!(
                        "d1plus refuses ({e}) what SQLite prepares and binds"
                    )),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}
