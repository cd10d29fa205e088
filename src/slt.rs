//! A sqllogictest runner over d1plus (`d1plus slt`): runs the record files of SQLite's
//! test suite through the proxy over N local shards and compares every query's result
//! with the file's. A record d1plus refuses (a proxy error) is counted as skipped, never
//! as passed; a different result is a failure.

use crate::api::{Database, Options};
use crate::backend::sqlite::SqliteBackend;
use crate::error::Error;
use crate::lex::{self, TokenKind};
use crate::policy::{Policy, ShardedTable, Sharding};
use crate::value::Value;
use futures::executor::block_on;
use std::fmt;

/// Counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records whose result matched.
    pub passed: usize,
    /// Records whose result differed (or that failed unexpectedly).
    pub failed: usize,
    /// Records d1plus refused, or that ran on data diverged by an earlier refusal.
    pub skipped: usize,
    /// Passed records (counted in `passed` too) where d1plus failed with the error one
    /// plain SQLite gives for the same records, although the file expects rows (files
    /// written by older SQLite versions).
    pub sqlite_errors: usize,
    /// Passed records (counted in `passed` too) whose `group_concat` elements came in
    /// another order: SQLite leaves that order undefined, and across shards it is the
    /// shards' order (README).
    pub reordered: usize,
    /// Queries also run with literals bound ([`Literals::AlsoBound`]) whose answer was
    /// SQLite's to the same bound statement.
    pub bound: usize,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.skipped += o.skipped;
        self.reordered += o.reordered;
        self.sqlite_errors += o.sqlite_errors;
        self.bound += o.bound;
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )?;
        if self.sqlite_errors > 0 {
            write!(
                f,
                " ({} passed failing as plain SQLite fails, where the file expects rows)",
                self.sqlite_errors
            )?;
        }
        if self.reordered > 0 {
            write!(
                f,
                " ({} passed with group_concat elements in another order)",
                self.reordered
            )?;
        }
        if self.bound > 0 {
            write!(f, " ({} also with literals bound)", self.bound)?;
        }
        Ok(())
    }
}

/// One record of a test file.
#[derive(Debug, Clone, PartialEq)]
enum Record {
    Statement {
        line: usize,
        sql: String,
        expect_error: bool,
    },
    Query {
        line: usize,
        sql: String,
        types: String,
        sort: Sort,
        expected: Vec<String>,
    },
    HashThreshold(usize),
    Halt,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sort {
    No,
    Rows,
    Values,
}

/// Parses a sqllogictest file, keeping only the records meant for SQLite.
fn parse(text: &str) -> Vec<Record> {
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        if line.is_empty() || line.starts_with('#') {
            i += 1;
            continue;
        }
        // Conditions come before the record they guard.
        let mut for_sqlite = true;
        let mut j = i;
        while j < lines.len() {
            let l = lines[j].trim();
            let mut words = l.split_whitespace();
            match (words.next(), words.next()) {
                (Some("skipif"), Some(db)) => {
                    if db == "sqlite" {
                        for_sqlite = false;
                    }
                }
                (Some("onlyif"), Some(db)) => {
                    if db != "sqlite" {
                        for_sqlite = false;
                    }
                }
                _ => break,
            }
            j += 1;
        }
        i = j;
        let Some(head) = lines.get(i).map(|l| l.trim()) else {
            break;
        };
        let start = i;
        // The record body runs to the next blank line.
        let mut end = i + 1;
        while end < lines.len() && !lines[end].trim().is_empty() {
            end += 1;
        }
        let body = &lines[start + 1..end];
        let mut words = head.split_whitespace();
        let record = match words.next() {
            Some("statement") => Some(Record::Statement {
                line: start + 1,
                sql: body.join("\n"),
                expect_error: words.next() == Some("error"),
            }),
            Some("query") => {
                let types = words.next().unwrap_or("").to_string();
                let sort = match words.next() {
                    Some("rowsort") => Sort::Rows,
                    Some("valuesort") => Sort::Values,
                    _ => Sort::No,
                };
                let sep = body.iter().position(|l| l.trim() == "----");
                let (sql, expected) = match sep {
                    Some(p) => (
                        body[..p].join("\n"),
                        body[p + 1..].iter().map(|s| s.trim().to_string()).collect(),
                    ),
                    None => (body.join("\n"), Vec::new()),
                };
                Some(Record::Query {
                    line: start + 1,
                    sql,
                    types,
                    sort,
                    expected,
                })
            }
            Some("hash-threshold") => words
                .next()
                .and_then(|n| n.parse().ok())
                .map(Record::HashThreshold),
            Some("halt") => Some(Record::Halt),
            _ => None,
        };
        if let (true, Some(r)) = (for_sqlite, record) {
            let halt = r == Record::Halt;
            records.push(r);
            if halt {
                break;
            }
        }
        i = end;
    }
    records
}

/// The SQL of every statement and query of a sqllogictest file meant for SQLite (for the
/// parser's tests, which read every statement of the suite).
#[cfg(test)]
pub(crate) fn sql_of(text: &str) -> Vec<String> {
    parse(text)
        .into_iter()
        .filter_map(|r| match r {
            Record::Statement { sql, .. } | Record::Query { sql, .. } => Some(sql),
            Record::HashThreshold(_) | Record::Halt => None,
        })
        .collect()
}

/// The default policy for a file: its first table sharded by its first column, every
/// other table a reference table.
fn default_policy(records: &[Record], shards: usize) -> Result<Policy, Error> {
    let mut tables: Vec<(String, String)> = Vec::new();
    for r in records {
        let Record::Statement { sql, .. } = r else {
            continue;
        };
        let toks = lex::significant(sql);
        if toks.len() < 4 || !toks[0].is_keyword(sql, "CREATE") {
            continue;
        }
        let Some(t) = toks.iter().position(|t| t.is_keyword(sql, "TABLE")) else {
            continue;
        };
        let mut k = t + 1;
        if toks.get(k).is_some_and(|x| x.is_keyword(sql, "IF")) {
            k += 3;
        }
        let Some(name) = toks.get(k).and_then(|x| x.ident_name(sql)) else {
            continue;
        };
        let first_col = toks
            .get(k + 1)
            .filter(|x| x.kind == TokenKind::LParen)
            .and_then(|_| toks.get(k + 2))
            .and_then(|x| x.ident_name(sql))
            .unwrap_or_default();
        tables.push((name, first_col));
    }
    let mut sharding = Sharding::default();
    if let Some((name, col)) = tables.first() {
        sharding.tables.push(ShardedTable {
            name: name.clone(),
            key_column: col.clone(),
        });
        // Files drop and recreate tables: each name once.
        for (n, _) in &tables[1..] {
            let listed = |m: &String| m.eq_ignore_ascii_case(n);
            if !n.eq_ignore_ascii_case(name) && !sharding.reference.iter().any(listed) {
                sharding.reference.push(n.clone());
            }
        }
    }
    let json = serde_json::json!({
        "name": "slt",
        "capacity": {"mode": "manual", "targetShardCount": shards},
        "sharding": sharding,
    });
    Policy::from_json(&json.to_string())
}

/// How sqllogictest prints a value of a column of the given type letter.
fn format_value(v: &Value, ty: char) -> String {
    match v {
        Value::Null => "NULL".into(),
        _ => match ty {
            'I' => match v {
                Value::Integer(i) => i.to_string(),
                Value::Real(r) => (*r as i64).to_string(),
                Value::Text(t) => crate::value::parse_numeric_text(t)
                    .map(|n| match n {
                        Value::Integer(i) => i,
                        Value::Real(r) => r as i64,
                        _ => 0,
                    })
                    .unwrap_or(0)
                    .to_string(),
                _ => "0".into(),
            },
            'R' => {
                let r = match v {
                    Value::Integer(i) => *i as f64,
                    Value::Real(r) => *r,
                    Value::Text(t) => t.trim().parse().unwrap_or(0.0),
                    _ => 0.0,
                };
                format!("{r:.3}")
            }
            _ => {
                let t = match v {
                    Value::Text(t) => t.clone(),
                    Value::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                    Value::Real(r) => crate::value::format_real(*r),
                    other => other.to_string(),
                };
                if t.is_empty() {
                    "(empty)".into()
                } else {
                    t.chars()
                        .map(|c| if (' '..='~').contains(&c) { c } else { '@' })
                        .collect()
                }
            }
        },
    }
}

fn md5_hex(values: &[String]) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for v in values {
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The rows one plain SQLite answers for a query with `params` bound, or its error (while
/// stepping, too).
fn sqlite_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Vec<Value>>, String> {
    let run = || -> rusqlite::Result<Vec<Vec<Value>>> {
        let mut st = conn.prepare(sql)?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(
                (0..n)
                    .map(|i| row.get_ref(i).map(Value::from))
                    .collect::<rusqlite::Result<_>>()?,
            );
        }
        Ok(out)
    };
    run().map_err(crate::error::sqlite_message)
}

/// `sql` with some of its literal numbers, strings and blobs replaced by parameters bound
/// to the same values, in every style SQLite takes (`?`, `?N`, `:a`, `$a`). The bits of
/// `choice` pick which literals and how, so the same text and choice give the same
/// statement. A lone integer in `ORDER BY` / `GROUP BY` is an ordinal, and stays.
pub fn bind_literals(sql: &str, choice: u64) -> (String, Vec<Value>) {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut params: Vec<Value> = Vec::new();
    let mut cursor = 0;
    let mut literal = 0u32;
    let mut after_by = false;
    for t in lex::tokens_of(sql) {
        let text = &sql[t.start..t.end];
        let ordinal = after_by && t.kind == TokenKind::Number;
        match t.kind {
            TokenKind::Space | TokenKind::Comment => continue,
            TokenKind::Word => {
                after_by = text.eq_ignore_ascii_case("BY")
                    || (after_by
                        && [
                            "ASC", "DESC", "COLLATE", "NULLS", "FIRST", "LAST", "NOCASE", "BINARY",
                            "RTRIM",
                        ]
                        .iter()
                        .any(|k| text.eq_ignore_ascii_case(k)));
            }
            TokenKind::Comma | TokenKind::Number => {}
            _ => after_by = false,
        }
        let value = match t.kind {
            _ if ordinal => None,
            TokenKind::Number => Some(number_literal(text)),
            TokenKind::String => Some(Value::Text(text[1..text.len() - 1].replace("''", "'"))),
            TokenKind::Blob => Some(Value::Blob(
                (2..text.len() - 1)
                    .step_by(2)
                    .filter_map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
                    .collect(),
            )),
            _ => None,
        };
        let Some(value) = value else { continue };
        let bits = choice.rotate_right(literal.wrapping_mul(3) + 1);
        literal = literal.wrapping_add(1);
        if bits & 1 == 0 {
            continue;
        }
        out.push_str(&sql[cursor..t.start]);
        cursor = t.end;
        params.push(value);
        let n = params.len();
        match (bits >> 1) & 3 {
            // `?` takes the number after the largest so far: the next one, here.
            0 => out.push('?'),
            1 => out.push_str(&format!("?{n}")),
            2 => out.push_str(&format!(":p{n}")),
            _ => out.push_str(&format!("${n}x")),
        }
    }
    out.push_str(&sql[cursor..]);
    (out, params)
}

/// The value SQLite gives a numeric literal: an INTEGER when it fits, else a REAL.
fn number_literal(text: &str) -> Value {
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .and_then(|h| u64::from_str_radix(h, 16).ok());
    if let Some(h) = hex {
        // SQLite reads a hex literal as the 64-bit pattern it spells.
        return Value::Integer(h as i64);
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Integer(i);
    }
    Value::Real(text.parse::<f64>().unwrap_or(0.0))
}

/// Which literals of `sql` [`bind_literals`] binds, the same for the same text and `seed`:
/// FNV-1a of the text, its basis mixed with the seed.
pub fn literal_choice(sql: &str, seed: u64) -> u64 {
    sql.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A statement record, run as SQLite's sqllogictest driver runs it (`sqlite3_exec`: a
/// record may hold several statements, run in order up to the first error).
fn run_statement<B: crate::backend::Backend>(db: &Database<B>, sql: &str) -> Result<(), Error> {
    if crate::lex::split_statements(sql).len() > 1 {
        block_on(db.exec(sql)).map(drop)
    } else {
        block_on(db.query(sql, &[], None)).map(drop)
    }
}

/// Runs one file's text over `shards` local shards. Returns the tally and the failures'
/// descriptions (plus a `note:` line naming the write whose refusal made the data
/// diverge, if one did).
pub fn run_text(
    text: &str,
    shards: usize,
    policy: Option<&Policy>,
) -> Result<(Tally, Vec<String>), Error> {
    run_text_with(text, shards, policy, Options::default())
}

/// [`run_text`] with the database's options (e.g. allowing keyless UPDATE/DELETE on every
/// shard, which SQLite's `index/delete` files send).
pub fn run_text_with(
    text: &str,
    shards: usize,
    policy: Option<&Policy>,
    options: Options,
) -> Result<(Tally, Vec<String>), Error> {
    run_text_as(text, shards, policy, options, Literals::AsWritten)
}

/// How a run sends each query's literals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Literals {
    /// As the file writes them.
    #[default]
    AsWritten,
    /// As written, then again with some of them bound as parameters ([`bind_literals`]);
    /// the second answer is compared with one plain SQLite's answer to the same bound
    /// statement (a parameter must mean its value wherever d1plus moves its text).
    AlsoBound,
}

/// [`run_text_with`], sending literals as `literals` says.
pub fn run_text_as(
    text: &str,
    shards: usize,
    policy: Option<&Policy>,
    options: Options,
    literals: Literals,
) -> Result<(Tally, Vec<String>), Error> {
    let records = parse(text);
    let policy = match policy {
        Some(p) => p.clone(),
        None => default_policy(&records, shards)?,
    };
    let backend = SqliteBackend::in_memory(policy.shard_count())?;
    let db = block_on(Database::open(policy, backend, options))?;
    // One plain SQLite fed the same statements: the judge when d1plus fails a query.
    let oracle = rusqlite::Connection::open_in_memory()
        .map_err(|e| Error::backend(None, crate::error::sqlite_message(e)))?;
    let mut run = Run::default();
    for r in records {
        match r {
            // Results are compared as printed: hashed or not, as the file has them.
            Record::HashThreshold(_) => {}
            Record::Halt => break,
            Record::Statement {
                line,
                sql,
                expect_error,
            } => {
                let outcome = run_statement(&db, &sql).inspect(|()| {
                    // The oracle follows only what d1plus did (a refused write leaves it
                    // behind too; later queries are skipped then anyway).
                    oracle.execute_batch(&sql).ok();
                });
                run.judge_statement(line, &sql, expect_error, outcome);
            }
            Record::Query {
                line,
                sql,
                types,
                sort,
                expected,
            } => {
                if run.diverged.is_some() {
                    run.tally.skipped += 1;
                    continue;
                }
                let result = match block_on(db.query(&sql, &[], None)) {
                    Ok(r) => r,
                    Err(Error::Backend { message, .. })
                        if sqlite_rows(&oracle, &sql, &[]).err().as_ref() == Some(&message) =>
                    {
                        run.tally.passed += 1;
                        run.tally.sqlite_errors += 1;
                        continue;
                    }
                    Err(e @ Error::Backend { .. }) => {
                        run.tally.failed += 1;
                        run.failures.push(format!("line {line}: {e}: {sql}"));
                        continue;
                    }
                    Err(e) => {
                        run.tally.skipped += 1;
                        run.failures.push(format!("skip: line {line}: {e}"));
                        continue;
                    }
                };
                let values = result_values(&result.rows, &types, &sort);
                let hashed = expected.len() == 1 && expected[0].contains(" values hashing to ");
                let ok = if hashed {
                    let got = format!("{} values hashing to {}", values.len(), md5_hex(&values));
                    got == expected[0]
                } else {
                    // Expected values printed without hashing (under or over the
                    // threshold): compare them as they are.
                    values == expected
                };
                if literals == Literals::AlsoBound {
                    run.judge_bound(&db, &oracle, line, &sql, &types, &sort);
                }
                if ok {
                    run.tally.passed += 1;
                } else if !hashed && same_but_concatenation_order(&sql, &values, &expected) {
                    run.tally.passed += 1;
                    run.tally.reordered += 1;
                } else {
                    run.tally.failed += 1;
                    let got: Vec<String> = values.iter().take(12).cloned().collect();
                    run.failures.push(format!(
                        "line {line}: result differs: {sql}\n  expected: {:?}\n  got: {got:?}",
                        expected.iter().take(12).collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    Ok((run.tally, run.failures))
}

/// What a file's run found so far.
#[derive(Default)]
struct Run {
    tally: Tally,
    failures: Vec<String>,
    /// The line of the first refused write: the shards' data differs from the file's
    /// after it, so later results cannot be compared, and are skipped.
    diverged: Option<usize>,
}

impl Run {
    /// Runs a query again with some literals bound ([`Literals::AlsoBound`]) and compares
    /// d1plus's answer with the oracle's to the same bound statement.
    fn judge_bound<B: crate::backend::Backend>(
        &mut self,
        db: &Database<B>,
        oracle: &rusqlite::Connection,
        line: usize,
        sql: &str,
        types: &str,
        sort: &Sort,
    ) {
        // The other choice binds each literal the first leaves: some literal is bound.
        let choice = literal_choice(sql, 0);
        let (bound, params) = match bind_literals(sql, choice) {
            (_, none) if none.is_empty() => bind_literals(sql, !choice),
            some => some,
        };
        if params.is_empty() {
            return;
        }
        let want = sqlite_rows(oracle, &bound, &params);
        let got = block_on(db.query(&bound, &params, None));
        let differs = match (&got, &want) {
            (Ok(r), Ok(rows)) => (result_values(&r.rows, types, sort)
                != result_values(rows, types, sort))
            .then(|| format!("{:?}", r.rows.iter().take(6).collect::<Vec<_>>())),
            (Err(Error::Backend { message, .. }), Err(e)) if message == e => None,
            // A refusal is a gap, not a wrong answer; the run as written judged the query.
            (Err(e), _) if !matches!(e, Error::Backend { .. }) => {
                self.failures
                    .push(format!("skip: line {line}: with literals bound: {e}"));
                return;
            }
            (Err(e), _) => Some(e.to_string()),
            (Ok(r), Err(_)) => Some(format!("{:?}", r.rows.iter().take(6).collect::<Vec<_>>())),
        };
        match differs {
            None => self.tally.bound += 1,
            Some(got) => {
                self.tally.failed += 1;
                self.failures.push(format!(
                    "line {line}: with literals bound, differs from SQLite: {bound} {params:?}\n  SQLite: {:?}\n  got: {got}",
                    want.map(|rows| rows.into_iter().take(6).collect::<Vec<_>>())
                ));
            }
        }
    }

    /// Tallies a statement record's outcome.
    fn judge_statement(
        &mut self,
        line: usize,
        sql: &str,
        expect_error: bool,
        outcome: Result<(), Error>,
    ) {
        match outcome {
            Ok(()) if !expect_error => self.tally.passed += 1,
            Ok(()) => {
                self.tally.failed += 1;
                self.failures.push(format!(
                    "line {line}: statement succeeded but an error was expected: {sql}"
                ));
            }
            Err(Error::Backend { .. }) if expect_error => self.tally.passed += 1,
            Err(e @ Error::Backend { .. }) => {
                self.tally.failed += 1;
                self.failures.push(format!("line {line}: {e}: {sql}"));
            }
            Err(e) => {
                self.tally.skipped += 1;
                if !expect_error && self.diverged.is_none() {
                    self.diverged = Some(line);
                    self.failures.push(format!("note: line {line}: d1plus refused a write, so later queries are skipped: {e}"));
                } else {
                    self.failures.push(format!("skip: line {line}: {e}"));
                }
            }
        }
    }
}

/// A query's rows as sqllogictest prints them: each value formatted by its column's type
/// letter, then sorted as the record asks.
fn result_values(rows: &[Vec<Value>], types: &str, sort: &Sort) -> Vec<String> {
    let ty: Vec<char> = types.chars().collect();
    let mut rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, v)| format_value(v, ty.get(i).copied().unwrap_or('T')))
                .collect()
        })
        .collect();
    match sort {
        Sort::Rows => {
            rows.sort();
            rows.into_iter().flatten().collect()
        }
        Sort::Values => {
            let mut v: Vec<String> = rows.into_iter().flatten().collect();
            v.sort();
            v
        }
        Sort::No => rows.into_iter().flatten().collect(),
    }
}

/// Whether `got` differs from `expected` only in the order of comma-separated elements,
/// for a statement using `group_concat` (whose element order SQLite leaves undefined).
fn same_but_concatenation_order(sql: &str, got: &[String], expected: &[String]) -> bool {
    fn elements(v: &str) -> Vec<&str> {
        let mut parts: Vec<&str> = v.split(',').collect();
        parts.sort_unstable();
        parts
    }
    sql.to_ascii_lowercase().contains("group_concat")
        && got.len() == expected.len()
        && got
            .iter()
            .zip(expected)
            .all(|(g, e)| elements(g) == elements(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "hash-threshold 8

statement ok
CREATE TABLE t1(a INTEGER, b INTEGER, c TEXT)

statement ok
CREATE TABLE t2(x INTEGER, y TEXT)

statement ok
INSERT INTO t1 VALUES(1, 10, 'a'), (2, 20, 'b'), (3, NULL, ''), (4, 40, 'd')

statement ok
INSERT INTO t2 VALUES(1, 'one'), (2, 'two')

query IIT rowsort
SELECT a, b, c FROM t1 WHERE b IS NOT NULL
----
1
10
a
2
20
b
4
40
d

query I nosort
SELECT a FROM t1 ORDER BY b DESC
----
4
2
1
3

query R nosort
SELECT avg(b) FROM t1
----
23.333

query T nosort
SELECT c FROM t1 WHERE a = 3
----
(empty)

query IT rowsort
SELECT t1.a, t2.y FROM t1 JOIN t2 ON t2.x = t1.a
----
1
one
2
two

query III rowsort
SELECT a, b, a FROM t1
----
12 values hashing to de603bb39f8a91dce07f7dfc9e4aefb1

query III rowsort
SELECT a, b, b FROM t1
----
12 values hashing to de603bb39f8a91dce07f7dfc9e4aefb1

skipif sqlite
query I nosort
SELECT 'not for sqlite'
----
1

statement error
SELECT * FROM nope

query I nosort
SELECT t1.a FROM t1 JOIN t1 AS u ON u.b = t1.a
----
";

    #[test]
    fn binds_literals_in_every_style_and_leaves_ordinals() {
        let sql = "SELECT a, 'it''s', x'0aff' FROM t WHERE b > -2.5 ORDER BY 1, a % 3 DESC LIMIT 4";
        // Every literal chosen (odd bits), each style in turn.
        let (bound, values) = bind_literals(sql, u64::MAX);
        assert_eq!(
            bound,
            "SELECT a, $1x, $2x FROM t WHERE b > -$3x ORDER BY 1, a % $4x DESC LIMIT $5x"
        );
        assert_eq!(
            values,
            vec![
                Value::Text("it's".into()),
                Value::Blob(vec![0x0a, 0xff]),
                Value::Real(2.5),
                Value::Integer(3),
                Value::Integer(4),
            ]
        );
        let styles: Vec<String> = (0..64u64)
            .map(|c| bind_literals(sql, c.wrapping_mul(0x9e37_79b9_7f4a_7c15)).0)
            .collect();
        for style in ["?", "?1", ":p1", "$1x"] {
            assert!(
                styles.iter().any(|s| s.contains(&format!("{style} "))),
                "{style}: {styles:?}"
            );
        }
        assert!(styles.iter().all(|s| s.contains("ORDER BY 1,")));
        assert_eq!(bind_literals(sql, 0), (sql.to_string(), vec![]));
    }

    /// A query that moves a parameter's text (a hidden sort column), run as written and
    /// with its literals bound: both SQLite's answers.
    #[test]
    fn also_bound_runs_compare_with_sqlite_running_the_bound_statement() {
        let file = "statement ok\nCREATE TABLE t1(a INTEGER, b INTEGER)\n\n\
            statement ok\nINSERT INTO t1 VALUES (1, 5), (2, 4), (3, 3), (4, 2), (5, 1), (6, 0), (7, 7), (8, 8)\n\n\
            query I nosort\nSELECT a FROM t1 WHERE b > 0 ORDER BY a % 3, a\n----\n3\n1\n4\n7\n2\n5\n8\n\n";
        let (tally, failures) =
            run_text_as(file, 4, None, Options::default(), Literals::AlsoBound).unwrap();
        assert_eq!((tally.passed, tally.failed), (3, 0), "{failures:?}");
        assert_eq!(
            tally.bound, 1,
            "the query has literals, some bound: {failures:?}"
        );
    }

    #[test]
    fn runs_records_and_counts_refusals_as_skipped() {
        let (tally, failures) = run_text(FILE, 4, None).unwrap();
        // The second hash is the first query's: it must be caught as a failure.
        assert_eq!(tally.failed, 1, "{failures:?}");
        assert!(
            failures.iter().any(|f| f.contains("SELECT a, b, b")),
            "{failures:?}"
        );
        assert_eq!(tally.passed, 11, "{failures:?}");
        assert_eq!(tally.skipped, 1, "the self-join not on the key is refused");
    }

    #[test]
    fn group_concat_order_is_not_a_difference_but_its_elements_are() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let sql = "SELECT group_concat(y) FROM t1";
        let expected = v(&["true,false,NULL,true"]);
        assert!(same_but_concatenation_order(
            sql,
            &v(&["NULL,true,false,true"]),
            &expected
        ));
        assert!(!same_but_concatenation_order(
            sql,
            &v(&["NULL,true,false"]),
            &expected
        ));
        assert!(!same_but_concatenation_order(
            sql,
            &v(&["NULL,true,true,true"]),
            &expected
        ));
        assert!(!same_but_concatenation_order(
            "SELECT y FROM t1",
            &v(&["NULL,true,false,true"]),
            &expected
        ));
    }
}
