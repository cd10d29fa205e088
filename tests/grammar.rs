//! Grammar tests: every statement of `grammar-tests/*.sql` is planned under
//! `grammar-tests/policy.json` against `grammar-tests/schema.sql`, and its plan (or error)
//! is an `insta` snapshot per file. Every per-shard statement must prepare on real SQLite
//! whenever the original statement does.

use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::lex::split_statements;
use d1plus::parse::Parsed;
use d1plus::policy::Policy;
use d1plus::value::Value;
use futures::executor::block_on;
use std::path::Path;

fn grammar_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/grammar-tests"))
}

fn database() -> Database<SqliteBackend> {
    let dir = grammar_dir();
    let policy =
        Policy::from_json(&std::fs::read_to_string(dir.join("policy.json")).unwrap()).unwrap();
    let backend = SqliteBackend::in_memory(policy.shard_count()).unwrap();
    let db = block_on(Database::open(policy, backend, Options::default())).unwrap();
    block_on(db.exec(&std::fs::read_to_string(dir.join("schema.sql")).unwrap())).unwrap();
    db
}

/// Parameters for a statement: text keys, so every statement plans deterministically.
fn params_for(sql: &str) -> Vec<Value> {
    let n = Parsed::new(sql).map(|p| p.params.count).unwrap_or(0);
    (1..=n).map(|i| Value::Text(format!("p{i}"))).collect()
}

fn plan_file(db: &Database<SqliteBackend>, name: &str) -> String {
    let text = std::fs::read_to_string(grammar_dir().join(name)).unwrap();
    let mut out = String::new();
    for st in split_statements(&text) {
        let sql = text[st.range].trim();
        // Comments before a statement belong to the snapshot, not to the SQL.
        let sql_only: String = sql
            .lines()
            .skip_while(|l| l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        if sql_only.trim().is_empty() {
            continue;
        }
        let params = params_for(&sql_only);
        out.push_str(&format!("> {sql_only}\n"));
        match db.plan(&sql_only, &params, None) {
            Ok(plan) => {
                for line in plan.to_string().lines() {
                    out.push_str(&format!("  {line}\n"));
                }
                check_prepares(db, &sql_only, &plan);
                check_same_meaning(&sql_only, &params, &plan);
            }
            Err(e) => out.push_str(&format!("  error: {e}\n")),
        }
        out.push('\n');
    }
    out
}

/// A rewritten write means the same as the original: on two copies of one database
/// holding the schema, the original and every per-shard statement (all batches, in order)
/// leave the same rows behind. (Rewritten reads are proven by the differential oracle:
/// their shard SQL differs on purpose, e.g. hidden sort columns or `LIMIT n+m`.)
fn check_same_meaning(original: &str, params: &[Value], plan: &d1plus::plan::Plan) {
    let rewritten = plan
        .batches
        .iter()
        .flat_map(|b| &b.statements)
        .any(|st| *st.sql != *original);
    let first = original
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    if !rewritten || !matches!(first.as_str(), "INSERT" | "REPLACE" | "UPDATE" | "DELETE") {
        return;
    }
    let schema = std::fs::read_to_string(grammar_dir().join("schema.sql")).unwrap();
    let copy = || {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(&schema).unwrap();
        c
    };
    let (a, b) = (copy(), copy());
    let run = |c: &rusqlite::Connection, sql: &str, ps: &[Value]| {
        let mut st = c.prepare(sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(ps.iter()))?;
        while rows.next()?.is_some() {}
        Ok::<(), rusqlite::Error>(())
    };
    if run(&a, original, params).is_err() {
        return;
    }
    for st in plan.batches.iter().flat_map(|b| &b.statements) {
        run(&b, &st.sql, &st.params).unwrap_or_else(|e| {
            panic!(
                "{}: {e}
  from: {original}",
                st.sql
            )
        });
    }
    // Ids the rowid_ranges rule gives differ from SQLite's by design (one range per
    // shard): compare everything but that column.
    let generated_id: Option<String> =
        plan.batches
            .iter()
            .flat_map(|b| &b.statements)
            .find_map(|st| {
                st.sql
                    .split("(SELECT coalesce(max(")
                    .nth(1)
                    .and_then(|rest| rest.split(')').next())
                    .map(|c| c.trim_matches('"').to_string())
            });
    let dump = |c: &rusqlite::Connection| -> Vec<String> {
        let tables: Vec<String> = c
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|t| t.unwrap())
            .collect();
        let mut out = Vec::new();
        for t in tables {
            let q = format!("SELECT * FROM \"{}\"", t.replace('"', "\"\""));
            let mut st = c.prepare(&q).unwrap();
            let n = st.column_count();
            let skip: Vec<bool> = (0..n)
                .map(|i| {
                    generated_id
                        .as_deref()
                        .is_some_and(|g| st.column_name(i).is_ok_and(|c| c.eq_ignore_ascii_case(g)))
                })
                .collect();
            let mut rows: Vec<String> = st
                .query_map([], |r| {
                    Ok((0..n)
                        .filter(|i| !skip[*i])
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
                .map(|r| format!("{t}: {}", r.unwrap()))
                .collect();
            rows.sort();
            out.extend(rows);
        }
        out
    };
    assert_eq!(
        dump(&a),
        dump(&b),
        "the rewrite of {original} changes its meaning"
    );
}

/// If the original prepares on a shard, every rewritten statement must prepare too.
fn check_prepares(db: &Database<SqliteBackend>, original: &str, plan: &d1plus::plan::Plan) {
    let original_ok = db
        .backend()
        .with_connection(0, |c| c.prepare(original).is_ok())
        .unwrap();
    if !original_ok {
        return;
    }
    for b in &plan.batches {
        for st in &b.statements {
            let res = db
                .backend()
                .with_connection(b.shard, |c| {
                    c.prepare(&st.sql).map(|_| ()).map_err(|e| e.to_string())
                })
                .unwrap();
            assert!(
                res.is_ok(),
                "rewritten statement does not prepare: {}\n  from: {original}\n  error: {res:?}",
                st.sql
            );
        }
    }
}

fn snapshot(name: &str) {
    let db = database();
    let out = plan_file(&db, &format!("{name}.sql"));
    insta::with_settings!({
        snapshot_path => grammar_dir().join("snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, out);
    });
}

#[test]
fn select_core() {
    snapshot("select_core");
}

#[test]
fn joins() {
    snapshot("joins");
}

#[test]
fn subqueries() {
    snapshot("subqueries");
}

#[test]
fn writes() {
    snapshot("writes");
}

#[test]
fn ddl_and_admin() {
    snapshot("ddl_and_admin");
}

#[test]
fn tokens_and_params() {
    snapshot("tokens_and_params");
}

#[test]
fn fanout_reads() {
    snapshot("fanout_reads");
}

#[test]
fn aggregates() {
    snapshot("aggregates");
}

#[test]
fn expressions() {
    snapshot("expressions");
}

#[test]
fn compound_and_window() {
    snapshot("compound_and_window");
}
