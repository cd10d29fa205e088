//! `d1plus demo`: a short guided tour on a 4-shard database of local SQLite files.

use crate::cli::{init_with, open, print_table};
use d1plus::api::{Database, Options, Statement};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::Error;
use d1plus::policy::Policy;
use d1plus::value::Value;
use futures::executor::block_on;
use std::path::PathBuf;

const POLICY: &str = r#"{
  "name": "demo",
  "capacity": { "mode": "manual", "targetShardCount": 4 },
  "sharding": {
    "tables": [ { "name": "events", "keyColumn": "tenantId" },
                { "name": "notes",  "keyColumn": "tenantId" } ],
    "reference": [ "plans" ]
  }
}"#;

const SCHEMA: &str = "
CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price INTEGER NOT NULL);
CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount INTEGER,
                     planId INTEGER, PRIMARY KEY (tenantId, id));
CREATE TABLE notes (tenantId TEXT NOT NULL, id INTEGER NOT NULL, body TEXT, PRIMARY KEY (tenantId, id));
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
";

fn step(title: &str) {
    say!("\n== {title}");
}

fn show_sql(sql: &str) {
    say!("sql> {sql}");
}

fn explain(db: &Database<SqliteBackend>, sql: &str, params: &[Value]) -> Result<(), Error> {
    show_sql(sql);
    for line in db.plan(sql, params, None)?.to_string().lines() {
        say!("     {line}");
    }
    Ok(())
}

fn query(db: &Database<SqliteBackend>, sql: &str, params: &[Value]) -> Result<(), Error> {
    show_sql(sql);
    if !params.is_empty() {
        let ps: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        say!("     params: [{}]", ps.join(", "));
    }
    match block_on(db.query(sql, params, None)) {
        Ok(r) => print_table(&r),
        Err(e) => say!("refused: {e}"),
    }
    Ok(())
}

pub fn run(dir: Option<PathBuf>) -> Result<(), Error> {
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("d1plus-demo-{}", std::process::id()))
    });
    let policy = Policy::from_json(POLICY)?;
    say!(
        "d1plus demo: one logical SQLite database over 4 shard files in {}",
        dir.display()
    );
    say!("\npolicy.json:\n{POLICY}");
    init_with(&dir, &policy)?;
    let db = open(&dir, Options::default())?;
    writes(&db, &policy)?;
    reads(&db)?;
    refusals(&db)?;
    say!(
        "\nThe demo database is in {}. Try (`cargo install --path .` puts d1plus on PATH; or write `cargo run --` for `d1plus`):",
        dir.display()
    );
    say!(
        "  d1plus query {} \"SELECT * FROM events WHERE tenantId = 'acme'\"",
        dir.display()
    );
    say!(
        "  d1plus explain {} \"SELECT * FROM notes WHERE tenantId IN ('acme', 'globex')\"",
        dir.display()
    );
    Ok(())
}

/// Steps 1 to 4: DDL everywhere, reference and unsharded writes, a split INSERT, a batch,
/// and where the rows landed.
fn writes(db: &Database<SqliteBackend>, policy: &Policy) -> Result<(), Error> {
    step("1. DDL runs on every shard (the schema is the same everywhere)");
    let r = block_on(db.exec(SCHEMA))?;
    say!("created the schema with {} statements", r.count);

    step("2. A reference table (plans) is written to every shard; an unsharded one (settings) to the home shard");
    query(
        db,
        "INSERT INTO plans (id, name, price) VALUES (1, 'free', 0), (2, 'pro', 20)",
        &[],
    )?;
    query(
        db,
        "INSERT INTO settings (key, value) VALUES ('theme', 'dark')",
        &[],
    )?;

    step("3. A multi-row INSERT is split: each row goes to the shard its tenantId hashes to");
    let insert = "INSERT INTO events (tenantId, id, kind, amount, planId) VALUES \
                  ('acme', 1, 'signup', 0, 1), ('globex', 1, 'signup', 0, 2), \
                  ('initech', 1, 'signup', 0, 1), ('acme', 2, 'invoice', 120, 1), \
                  ('umbrella', 1, 'invoice', 75, 2), ('globex', 2, 'invoice', 300, 2)";
    explain(db, insert, &[])?;
    query(db, insert, &[])?;
    let batch = [
        Statement::new("INSERT INTO notes (tenantId, id, body) VALUES (?, 1, 'hello')")
            .bind(vec![Value::Text("acme".into())]),
        Statement::new("INSERT INTO notes (tenantId, id, body) VALUES (?, 1, 'hi')")
            .bind(vec![Value::Text("globex".into())]),
    ];
    let results = block_on(db.batch(&batch))?;
    say!(
        "batch(): {} statements, shards {:?} and {:?} (each shard's part is atomic)",
        results.len(),
        results[0].meta.shards,
        results[1].meta.shards
    );

    step("4. Where did the rows land? (reading each shard file directly)");
    for shard in 0..policy.shard_count() {
        let rows: Vec<String> = db.backend().with_connection(shard, |c| {
            let mut st = c
                .prepare("SELECT DISTINCT tenantId FROM events ORDER BY 1")
                .ok();
            st.as_mut()
                .and_then(|s| {
                    s.query_map([], |r| r.get::<_, String>(0))
                        .ok()
                        .map(|it| it.flatten().collect())
                })
                .unwrap_or_default()
        })?;
        say!("shard {shard}: tenants {rows:?}");
    }
    Ok(())
}

/// Steps 5 to 8: keyed reads, joins, fan-outs and their merges.
fn reads(db: &Database<SqliteBackend>) -> Result<(), Error> {
    step("5. A read with the shard key goes to exactly one shard");
    explain(
        db,
        "SELECT id, kind, amount FROM events WHERE tenantId = ?",
        &[Value::Text("acme".into())],
    )?;
    query(
        db,
        "SELECT id, kind, amount FROM events WHERE tenantId = ?",
        &[Value::Text("acme".into())],
    )?;

    step("6. Joins with a reference table, or co-located on the key, run on that shard");
    query(
        db,
        "SELECT e.id, e.kind, p.name AS plan FROM events e JOIN plans p ON p.id = e.planId WHERE e.tenantId = 'globex'",
        &[],
    )?;

    step("7. A read without the key fans out to every shard");
    explain(
        db,
        "SELECT tenantId, id, amount FROM events WHERE amount > 100",
        &[],
    )?;
    query(
        db,
        "SELECT tenantId, id, amount FROM events WHERE amount > 100",
        &[],
    )?;

    step("8. Cross-shard ORDER BY / LIMIT and aggregates are merged exactly, as one SQLite would answer");
    let top = "SELECT tenantId, count(*) AS events, sum(amount) AS revenue FROM events GROUP BY tenantId ORDER BY revenue DESC LIMIT 3";
    explain(db, top, &[])?;
    query(db, top, &[])?;
    let page =
        "SELECT tenantId, id, amount FROM events ORDER BY amount DESC, tenantId LIMIT 2 OFFSET 1";
    explain(db, page, &[])?;
    query(db, page, &[])?;
    Ok(())
}

/// Steps 9 and 10: what is refused, and why.
fn refusals(db: &Database<SqliteBackend>) -> Result<(), Error> {
    step("9. Writes with the key go to one shard; keyless writes are refused");
    query(
        db,
        "UPDATE events SET amount = amount + 5 WHERE tenantId = 'umbrella' AND id = 1",
        &[],
    )?;
    query(db, "UPDATE events SET amount = 0", &[])?;
    query(
        db,
        "UPDATE events SET tenantId = 'other' WHERE tenantId = 'acme'",
        &[],
    )?;

    step("10. Things D1 does not allow are refused as D1 would");
    query(db, "BEGIN TRANSACTION", &[])?;
    Ok(())
}
