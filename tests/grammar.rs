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
            }
            Err(e) => out.push_str(&format!("  error: {e}\n")),
        }
        out.push('\n');
    }
    out
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
