//! Reproducers of wrong answers found from outside the project (`tests/repros/*.json`, format
//! in its README): each runs its setup and query through d1plus and on one plain SQLite
//! database, and d1plus must give SQLite's answer (rows, types, order where it matters,
//! the listed `meta` fields), or SQLite's own error when SQLite rejects the statement.
//!
//! A refusal (a `D1PLUS_` error other than `D1PLUS_INTERNAL`) passes only for the cases in
//! [`REFUSED`], each with the reason no exact answer is possible; the README says the same.

mod common;

use common::diff::{compare_outcome, Compared};
use common::sqlite_query;
use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::{Error, ErrorCode};
use d1plus::policy::Policy;
use d1plus::value::Value;
use futures::executor::block_on;
use serde::Deserialize;
use std::path::Path;

/// Cases where d1plus refuses, and why that is the exact answer's only alternative.
const REFUSED: &[(&str, &str)] = &[
    (
        "W17",
        "SQLite's sum() fails when its running total overflows in its row order; across shards \
         the order is not known, so a sum whose positive or negative parts could overflow is refused",
    ),
    (
        "W02",
        "DISTINCT keeps whichever of 4 and 4.0 SQLite meets first; across shards that order \
         is not known, so equal values of different types are refused (at any LIMIT)",
    ),
    (
        "W02b",
        "UNION keeps whichever of 4 and 4.0 SQLite meets first (as W02)",
    ),
    (
        "W27",
        "a gap, not a limit: views over sharded tables (now also through other views) are \
         refused on a fan-out until d1plus expands views; the wrong answer read shard 0 only",
    ),
    (
        "M02",
        "the rows of INSERT OR IGNORE … RETURNING that a conflict skips cannot be matched back \
         to the caller's VALUES order when the rows span shards; refused before anything runs",
    ),
    (
        "W19",
        "a gap: each shard numbers the implicit rowid of a table without an INTEGER PRIMARY \
         KEY from 1, so `rowid` on a fan-out is refused (it named one row per shard)",
    ),
];

/// Cases still open, with what is left; the test checks they still differ, so a fix must
/// move them out of this list.
const OPEN: &[(&str, &str)] = &[];

#[derive(Deserialize)]
struct Repro {
    id: String,
    title: String,
    shards: usize,
    sharded: Vec<(String, String)>,
    reference: Vec<String>,
    setup: Vec<String>,
    query: String,
    #[serde(default)]
    params: Vec<serde_json::Value>,
    order_matters: bool,
    #[serde(default)]
    compare_meta: Vec<String>,
}

fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Integer(i64::from(*b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

fn policy_of(r: &Repro) -> Policy {
    let tables: Vec<serde_json::Value> = r
        .sharded
        .iter()
        .map(|(t, k)| serde_json::json!({"name": t, "keyColumn": k}))
        .collect();
    let json = serde_json::json!({
        "name": r.id.to_lowercase(),
        "capacity": {"mode": "manual", "targetShardCount": r.shards},
        "sharding": {"tables": tables, "reference": r.reference},
    });
    Policy::from_json(&json.to_string()).unwrap()
}

/// Runs one case: Ok(None) when d1plus gave SQLite's answer, Ok(Some(refusal)) when it
/// refused, Err(what differs) otherwise.
fn run(r: &Repro) -> Result<Option<Error>, String> {
    let oracle = rusqlite::Connection::open_in_memory().unwrap();
    let backend = SqliteBackend::in_memory(r.shards).unwrap();
    let db = block_on(Database::open(policy_of(r), backend, Options::default())).unwrap();
    for s in &r.setup {
        oracle
            .execute_batch(s)
            .map_err(|e| format!("setup fails on SQLite: {e}"))?;
        match block_on(db.query(s, &[], None)) {
            Ok(_) => {}
            Err(e) if e.code() == ErrorCode::Internal => {
                return Err(format!("setup: internal error: {e}"))
            }
            Err(e) => return Ok(Some(e)),
        }
    }
    let params: Vec<Value> = r.params.iter().map(json_value).collect();
    let expected = sqlite_query(&oracle, &r.query, &params);
    let oracle_meta = (oracle.changes(), oracle.last_insert_rowid());
    let got = block_on(db.query(&r.query, &params, None));
    match compare_outcome(&got, &expected, r.order_matters, 0) {
        Compared::Same => {}
        Compared::Differs(_, d) => return Err(d),
        Compared::Refused => {
            let Err(e) = got else {
                unreachable!("a refusal is an error")
            };
            if e.code() == ErrorCode::Internal {
                return Err(format!("internal error: {e}"));
            }
            return Ok(Some(e));
        }
    }
    if let Ok(res) = &got {
        for field in &r.compare_meta {
            let (ours, theirs) = match field.as_str() {
                "changes" => (res.meta.changes as i64, oracle_meta.0 as i64),
                "last_row_id" => (res.meta.last_row_id, oracle_meta.1),
                other => return Err(format!("unknown meta field {other}")),
            };
            if ours != theirs {
                return Err(format!("meta.{field} = {ours}, SQLite {theirs}"));
            }
        }
    }
    Ok(None)
}

fn load(dir: &Path) -> Vec<Repro> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

fn check_all(dir: &Path) {
    let repros = load(dir);
    assert!(!repros.is_empty(), "no reproducers in {}", dir.display());
    let mut failures = Vec::new();
    for r in &repros {
        let allowed = REFUSED.iter().any(|(id, _)| *id == r.id);
        if let Some((_, left)) = OPEN.iter().find(|(id, _)| *id == r.id) {
            match std::panic::catch_unwind(|| run(r)) {
                Ok(Err(_)) => eprintln!("{}: still open: {left}", r.id),
                _ => failures.push(format!("{}: passes now: take it out of OPEN", r.id)),
            }
            continue;
        }
        match std::panic::catch_unwind(|| run(r)) {
            Ok(Ok(None)) => {}
            Ok(Ok(Some(e))) if allowed => eprintln!("{}: refused as documented: {e}", r.id),
            Ok(Ok(Some(e))) => failures.push(format!("{} ({}): refused: {e}", r.id, r.title)),
            Ok(Err(diff)) => failures.push(format!("{} ({}):\n   {diff}", r.id, r.title)),
            Err(_) => failures.push(format!("{} ({}): panicked", r.id, r.title)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} reproducers differ from SQLite:\n{}",
        failures.len(),
        repros.len(),
        failures.join("\n")
    );
}

#[test]
fn every_reproducer_gives_sqlites_answer() {
    check_all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/repros"));
}

/// The shared set, when CI points at it: new cases found from outside are run as soon as
/// they are filed, before they are copied into `tests/repros/`.
#[test]
fn shared_reproducers_give_sqlites_answer() {
    match std::env::var("D1PLUS_REPROS_DIR") {
        Ok(dir) => check_all(Path::new(&dir)),
        Err(_) => eprintln!("D1PLUS_REPROS_DIR not set: only tests/repros is checked"),
    }
}
