//! Whole-plan caching (src/plan/template.rs): a plan taken from the cache for new parameter
//! values must be exactly the plan made fresh for them. Statements whose plans read their
//! parameters (keys, IN lists, multi-row INSERTs, explicit ids, LIMIT/OFFSET, values folded
//! into the merge) run many times with values drawn from a pool built to collide: equal
//! keys in different types, NULL and NaN, keys on every shard, ids in generated ranges.

mod common;

use common::Rng;
use d1plus::analyze::analyze;
use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::parse::Parsed;
use d1plus::plan::{self, Context, Plan, PlanOptions};
use d1plus::policy::Policy;
use d1plus::value::Value;
use futures::executor::block_on;

const POLICY: &str = r#"{"name": "c", "capacity": {"mode": "manual", "targetShardCount": 8},
  "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}, {"name": "counters", "keyColumn": "k"},
  {"name": "docs", "keyColumn": "id"}], "reference": ["plans"]}}"#;

const SCHEMA: &str = "
CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount INTEGER, PRIMARY KEY (tenantId, id));
CREATE TABLE counters (k INTEGER PRIMARY KEY, n INTEGER);
CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT);
CREATE TABLE settings (key TEXT PRIMARY KEY, value);
";

/// Statements whose plans depend on their parameters in every way the planner reads them.
const STATEMENTS: &[&str] = &[
    "SELECT * FROM events WHERE tenantId = ? AND id = ?",
    "SELECT * FROM events WHERE tenantId = ? OR tenantId = ?",
    "SELECT * FROM events WHERE tenantId IN (?, ?, ?) ORDER BY id LIMIT ?",
    "SELECT * FROM events WHERE tenantId IN (?, ?) AND tenantId = ?",
    "SELECT kind, count(*) FROM events WHERE amount > ? GROUP BY kind HAVING count(*) > ? ORDER BY 2 DESC LIMIT ? OFFSET ?",
    "SELECT group_concat(kind, ?) FROM events",
    "SELECT tenantId, sum(amount) + ? FROM events GROUP BY tenantId",
    "SELECT * FROM events ORDER BY amount LIMIT ? OFFSET ?",
    "SELECT * FROM counters WHERE k = ?",
    "SELECT * FROM counters WHERE k IN (?, ?, ?, ?)",
    "SELECT * FROM docs WHERE id = ? OR id = ?",
    "SELECT e.id, p.name FROM events e JOIN plans p ON p.id = e.amount WHERE e.tenantId = ?",
    "SELECT * FROM (SELECT * FROM events LIMIT ?) WHERE tenantId = ?",
    "INSERT INTO events (tenantId, id, kind) VALUES (?, ?, ?)",
    "INSERT INTO events (tenantId, id, kind) VALUES (?, ?, ?), (?, ?, ?), (?, ?, ?)",
    "INSERT INTO events (tenantId, id, kind) VALUES (?, ?, 'x'), ('lit', ?, ?) RETURNING id",
    "INSERT INTO counters (k, n) VALUES (?, ?), (?, ?)",
    "INSERT INTO counters (k, n) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = n + ?",
    "INSERT INTO docs (id, body) VALUES (?, ?), (?, ?)",
    "INSERT INTO docs (body) VALUES (?), (?)",
    "INSERT INTO plans (id, name) VALUES (?, ?)",
    "INSERT INTO settings (key, value) VALUES (?, ?)",
    "UPDATE events SET amount = ? WHERE tenantId = ? AND id = ?",
    "UPDATE counters SET n = ? WHERE k IN (?, ?)",
    "DELETE FROM events WHERE tenantId = ?",
    "DELETE FROM docs WHERE id = ?",
    "SELECT value FROM settings WHERE key = ?",
    "UPDATE plans SET name = ? WHERE id = ?",
    "UPDATE plans SET name = datetime(?) WHERE id = 1",
];

/// Values that collide in every way a plan could confuse them.
fn pool() -> Vec<Value> {
    let mut v = vec![
        Value::Null,
        Value::Real(f64::NAN),
        Value::Real(0.0),
        Value::Real(-0.0),
        Value::Real(1.0),
        Value::Real(1.5),
        Value::Real(-3.0),
        Value::Integer(0),
        Value::Integer(-1),
        Value::Integer(i64::MAX),
        Value::Integer(i64::MIN),
        Value::Text("1".into()),
        Value::Text("now".into()),
        Value::Text("-".into()),
        Value::Text("acme".into()),
        Value::Text("ACME".into()),
        Value::Text(" 2".into()),
        Value::Blob(vec![1, 2]),
        Value::Blob(vec![]),
        // Ids in the halves of the 2^47 ranges that shards generate from.
        Value::Integer((1 << 47) + (1 << 46)),
        Value::Integer(3 * (1 << 47) + (1 << 46) + 5),
        Value::Integer(70_368_744_177_663),
    ];
    v.extend((1..=40).map(Value::Integer));
    v.extend((1..=40).map(|i| Value::Text(format!("tenant-{i}"))));
    v
}

fn database() -> Database<SqliteBackend> {
    let policy = Policy::from_json(POLICY).unwrap();
    let backend = SqliteBackend::in_memory(8).unwrap();
    // Verification off: this test compares itself, so it also holds in release builds.
    let db = block_on(Database::open(policy, backend, Options::default())).unwrap();
    block_on(db.exec(SCHEMA)).unwrap();
    db
}

fn fresh(db: &Database<SqliteBackend>, sql: &str, params: &[Value]) -> String {
    let catalog = db.catalog();
    let parsed = Parsed::new(sql).unwrap();
    let analysis = analyze(&parsed, db.policy(), &catalog).unwrap();
    let cx = Context {
        policy: db.policy(),
        catalog: &catalog,
        options: PlanOptions::default(),
    };
    // Compared as printed: a NaN parameter is not equal to itself.
    format!("{:?}", plan::plan(&parsed, &analysis, params, None, cx))
}

#[test]
fn cached_plans_equal_fresh_plans_for_any_values() {
    let db = database();
    let pool = pool();
    let mut rng = Rng::from_env(7);
    let rounds = std::env::var("D1PLUS_CACHE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    for sql in STATEMENTS {
        let n = Parsed::new(sql).unwrap().params.count;
        for _ in 0..rounds {
            // Mostly small ints and tenants (so answers repeat and templates are hit).
            let params: Vec<Value> = (0..n).map(|_| rng.pick(&pool).clone()).collect();
            let cached = format!("{:?}", db.plan(sql, &params, None));
            assert_eq!(
                cached,
                fresh(&db, sql, &params),
                "cached plan differs: {sql} {params:?}"
            );
        }
    }
    let stats = db.plan_cache_stats();
    assert!(
        stats.template_hits > (STATEMENTS.len() * rounds / 2) as u64,
        "templates were used: {stats:?}"
    );
}

/// Fan-outs, IN lists and multi-row INSERTs are planned once per way their values route.
#[test]
fn a_template_serves_other_values_that_route_alike() {
    let db = database();
    let sql = "SELECT * FROM events WHERE amount > ? ORDER BY amount DESC LIMIT 10";
    let a: Plan = db.plan(sql, &[Value::Integer(5)], None).unwrap();
    let before = db.plan_cache_stats().template_hits;
    let b: Plan = db.plan(sql, &[Value::Text("x".into())], None).unwrap();
    assert_eq!(db.plan_cache_stats().template_hits, before + 1);
    assert_eq!(a.batches.len(), 8);
    assert_eq!(
        b.batches[3].statements[0].params,
        vec![Value::Text("x".into())]
    );
    assert_eq!(
        a.batches[3].statements[0].sql,
        b.batches[3].statements[0].sql
    );

    // The same keys' shards in another order of rows: a different template.
    let ins = "INSERT INTO counters (k, n) VALUES (?, ?), (?, ?)";
    let p = |k1: i64, k2: i64| [k1, 1, k2, 2].map(Value::Integer).to_vec();
    let split = db.plan(ins, &p(1, 2), None).unwrap();
    let hits = db.plan_cache_stats().template_hits;
    let same = db.plan(ins, &p(1, 2), None).unwrap();
    assert_eq!(db.plan_cache_stats().template_hits, hits + 1);
    assert_eq!(split, same);
    // A NULL key is refused even though a non-NULL key of shard 0 made a template.
    let zero = (1..200)
        .find(|k| {
            d1plus::placement::shard_for_key(
                &Value::Integer(*k),
                d1plus::value::Affinity::Integer,
                8,
            )
            .unwrap()
                == 0
        })
        .unwrap();
    db.plan(ins, &p(zero, zero), None).unwrap();
    let null = db.plan(
        ins,
        &[
            Value::Null,
            Value::Integer(1),
            Value::Integer(zero),
            Value::Integer(2),
        ],
        None,
    );
    assert!(null.is_err(), "{null:?}");
}

/// A template is for the statement's parameter count: a call binding another count gets
/// D1PLUS_PARAM_COUNT, never the cached plan (found by the plan_bytes fuzzer).
#[test]
fn a_call_with_another_parameter_count_is_not_served_from_a_template() {
    let db = database();
    for sql in [
        "CREATE INDEX i ON events(kind)",
        "SELECT * FROM events WHERE tenantId = ?",
    ] {
        let n = Parsed::new(sql).unwrap().params.count;
        let params: Vec<Value> = (0..n).map(|_| Value::Text("acme".into())).collect();
        db.plan(sql, &params, None).unwrap();
        db.plan(sql, &params, None).unwrap();
        for wrong in [n + 1, n + 2] {
            let params: Vec<Value> = (0..wrong).map(|i| Value::Integer(i as i64)).collect();
            let e = db.plan(sql, &params, None).unwrap_err();
            assert_eq!(e.code(), d1plus::error::ErrorCode::ParamCount, "{sql}: {e}");
        }
    }
}
