//! Shared by the fuzz targets and by tests/fuzz_replay.rs: a 4-shard database with a fixed
//! policy and schema, and the checks each target makes.
#![allow(dead_code)]

use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::plan::ShardHint;
use d1plus::policy::Policy;
use d1plus::value::Value;
use futures::executor::block_on;

pub const POLICY: &str = r#"{"name": "fuzz", "capacity": {"mode": "manual", "targetShardCount": 4},
  "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}, {"name": "users", "keyColumn": "tenantId"},
  {"name": "counters", "keyColumn": "k"}], "reference": ["plans"]}}"#;

pub const SCHEMA: &str = "
CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT, price REAL);
CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount INTEGER, data TEXT, PRIMARY KEY (tenantId, id));
CREATE TABLE users (tenantId TEXT NOT NULL, id INTEGER NOT NULL, name TEXT COLLATE NOCASE, PRIMARY KEY (tenantId, id));
CREATE TABLE counters (k INTEGER PRIMARY KEY, n INTEGER);
CREATE TABLE settings (key TEXT PRIMARY KEY, value);
INSERT INTO plans VALUES (1, 'free', 0), (2, 'pro', 9.5);
INSERT INTO events VALUES ('acme', 1, 'a', 10, '{\"x\": 1}'), ('globex', 2, 'b', NULL, NULL), ('acme', 3, 'a', 7, '[]'), ('initech', 4, 'c', -2, 'z');
INSERT INTO users VALUES ('acme', 1, 'Ann'), ('globex', 1, 'bob');
INSERT INTO counters VALUES (1, 5), (2, 6), (17, 1);
INSERT INTO settings VALUES ('a', 1);
";

pub fn database() -> Database<SqliteBackend> {
    let policy = Policy::from_json(POLICY).expect("fixed policy");
    let backend = SqliteBackend::in_memory(4).expect("in-memory shards");
    let db = block_on(Database::open(policy, backend, Options::default())).expect("open");
    block_on(db.exec(SCHEMA)).expect("schema");
    db
}

/// Parameters and a hint decoded from the fuzzer's first bytes; the rest is SQL.
pub fn decode(data: &[u8]) -> (String, Vec<Value>, Option<ShardHint>) {
    let Some((&head, rest)) = data.split_first() else {
        return (String::new(), Vec::new(), None);
    };
    let nparams = (head & 0x0f) as usize;
    let mut params = Vec::new();
    let mut i = 0;
    for k in 0..nparams {
        let b = rest.get(i).copied().unwrap_or(0);
        i += 1;
        params.push(match b % 6 {
            0 => Value::Null,
            1 => Value::Integer(b as i64 - 100),
            2 => Value::Real(b as f64 / 3.0),
            3 => Value::Text(["acme", "globex", "", "x'y"][k % 4].to_string()),
            4 => Value::Blob(vec![b]),
            _ => Value::Integer(i64::MAX - b as i64),
        });
    }
    let hint = (head & 0x10 != 0).then(|| ShardHint {
        table: "events".into(),
        key: Value::Text("acme".into()),
    });
    let sql = String::from_utf8_lossy(rest.get(i..).unwrap_or(&[])).into_owned();
    (sql, params, hint)
}

/// Target (a): planning never panics and always answers (a plan or an error).
pub fn check_plan(db: &Database<SqliteBackend>, data: &[u8]) {
    if data.len() > 64 * 1024 {
        return;
    }
    let (sql, params, hint) = decode(data);
    let _ = db.plan(&sql, &params, hint.as_ref());
}

/// Target (c): when the original statement prepares on a shard, every per-shard statement
/// d1plus produces prepares too.
pub fn check_rewrite_prepares(db: &Database<SqliteBackend>, sql: &str) {
    if sql.len() > 16 * 1024 {
        return;
    }
    let n = d1plus::parse::Parsed::new(sql)
        .map(|p| p.params.count)
        .unwrap_or(0);
    if n > 200 {
        return;
    }
    let params: Vec<Value> = (0..n).map(|i| Value::Text(format!("p{i}"))).collect();
    let Ok(plan) = db.plan(sql, &params, None) else {
        return;
    };
    let original_ok = db
        .backend()
        .with_connection(0, |c| c.prepare(sql).is_ok())
        .unwrap_or(false);
    if !original_ok {
        return;
    }
    for b in &plan.batches {
        for st in &b.statements {
            let ok = db
                .backend()
                .with_connection(b.shard, |c| {
                    c.prepare(&st.sql).map(|_| ()).map_err(|e| e.to_string())
                })
                .expect("shard");
            assert!(
                ok.is_ok(),
                "rewritten statement does not prepare: {}\n from: {sql}\n {ok:?}",
                st.sql
            );
        }
    }
}
