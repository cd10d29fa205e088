//! Shared by the fuzz targets (`fuzz_targets/*.rs`) and by `tests/fuzz_replay.rs`, which
//! replays the committed inputs as an ordinary `cargo test`: the fixed policy, schema and
//! data, how each target reads its bytes, and the check each target makes.
//!
//! It uses only what the d1plus package itself depends on (rusqlite, futures, serde_json),
//! so the replay test builds on stable without fuzzing crates. That is also why the grammar
//! reads its bytes with a small [`grammar::Bytes`] reader instead of `arbitrary`.
#![allow(dead_code)]

pub mod diff;
pub mod grammar;
pub mod known;
pub mod oracle;

use d1plus::analyze::analyze;
use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::{ErrorCode, Result};
use d1plus::parse::Parsed;
use d1plus::plan::{self, Context, Plan, PlanOptions, ShardHint};
use d1plus::policy::Policy;
use d1plus::value::Value;
use futures::executor::block_on;

/// Shards of the fuzzed database.
pub const SHARDS: usize = 4;

/// Longest input the byte targets look at (libFuzzer's default `-max_len` is 4096).
pub const MAX_INPUT: usize = 64 * 1024;

/// Three sharded tables (TEXT and INTEGER keys), a reference table, and (by omission) two
/// unsharded ones.
pub const POLICY: &str = r#"{"name": "fuzz", "capacity": {"mode": "manual", "targetShardCount": 4},
  "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}, {"name": "users", "keyColumn": "tenantId"},
  {"name": "counters", "keyColumn": "k"}], "reference": ["plans"]}}"#;

/// The schema, the same on every shard and in the oracle.
pub const SCHEMA: &str = "
CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT, price REAL);
CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount INTEGER, data TEXT, PRIMARY KEY (tenantId, id));
CREATE TABLE users (tenantId TEXT NOT NULL, id INTEGER NOT NULL, name TEXT COLLATE NOCASE, PRIMARY KEY (tenantId, id));
CREATE TABLE counters (k INTEGER PRIMARY KEY, n INTEGER);
CREATE TABLE settings (key TEXT PRIMARY KEY, value);
";

/// Every table, in the order the oracle compares them.
pub const TABLES: [&str; 5] = ["plans", "events", "users", "counters", "settings"];

/// The rows every oracle run starts from.
pub const DATA: &str = "
INSERT INTO plans VALUES (1, 'free', 0), (2, 'pro', 9.5), (3, NULL, 2.25);
INSERT INTO events VALUES ('acme', 1, 'a', 10, '{\"x\": 1}'), ('globex', 2, 'b', NULL, NULL), ('acme', 3, 'a', 7, '[]'), ('initech', 4, 'c', -2, 'z'), ('umbrella', 1, 'B', 3, 'q'), ('1', 2, NULL, 1, '');
INSERT INTO users VALUES ('acme', 1, 'Ann'), ('globex', 1, 'bob'), ('acme', 2, 'ann'), ('initech', 3, NULL);
INSERT INTO counters VALUES (1, 5), (2, 6), (17, 1), (-1, NULL);
INSERT INTO settings VALUES ('a', 1), ('b', 'x'), ('c', 2.5);
";

/// A 4-shard database with the schema and the data.
pub fn database() -> Database<SqliteBackend> {
    let policy = Policy::from_json(POLICY).expect("fixed policy");
    let backend = SqliteBackend::in_memory(SHARDS).expect("in-memory shards");
    let options = Options {
        verify_cached_plans: true,
        ..Options::default()
    };
    let db = block_on(Database::open(policy, backend, options)).expect("open");
    block_on(db.exec(SCHEMA)).expect("schema");
    block_on(db.exec(DATA)).expect("data");
    db
}

/// Parse -> analyze -> plan with the database's policy and catalog, without the plan cache.
pub fn plan_of(
    db: &Database<SqliteBackend>,
    sql: &str,
    params: &[Value],
    hint: Option<&ShardHint>,
    options: PlanOptions,
) -> Result<Plan> {
    let catalog = db.catalog();
    let parsed = Parsed::new(sql)?;
    let analysis = analyze(&parsed, db.policy(), &catalog)?;
    let cx = Context {
        policy: db.policy(),
        catalog: &catalog,
        options,
    };
    plan::plan(&parsed, &analysis, params, hint, cx)
}

// ---------------------------------------------------------------------------------------
// Target (a), plan_bytes.

/// What `plan_bytes` makes of its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInput {
    /// The SQL (lossy UTF-8).
    pub sql: String,
    /// Bound parameters.
    pub params: Vec<Value>,
    /// A routing hint.
    pub hint: Option<ShardHint>,
    /// Scatter writes allowed.
    pub scatter: bool,
}

const KEYS: [&str; 8] = [
    "acme", "globex", "initech", "umbrella", "", "1", "02", "Acme",
];

/// A parameter value from one byte: every storage class, and the values that are hard on
/// placement (integral reals, numeric text, extremes, NaN).
pub fn value_from_byte(b: u8, k: usize) -> Value {
    let sel = (b / 10) as usize;
    match b % 10 {
        0 => Value::Null,
        1 => Value::Integer(b as i64 - 128),
        2 => Value::Real(b as f64 / 4.0),
        3 => Value::Text(KEYS[(sel + k) % KEYS.len()].to_string()),
        4 => Value::Blob(vec![b; sel % 3]),
        5 => Value::Integer([i64::MAX, i64::MIN, i64::MAX - 1, 1 << 53][sel % 4]),
        6 => Value::Real(
            [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -0.0,
                1e300,
                9.223372036854776e18,
                2.0,
                -1.0,
            ][sel % 8],
        ),
        7 => Value::Text(
            [
                "1",
                "02",
                " 3",
                "1e3",
                "-0",
                "9223372036854775808",
                "0x10",
                "3.0",
            ][sel % 8]
                .to_string(),
        ),
        8 => Value::Text(
            [
                "\u{e9}",
                "\u{df}",
                "\0",
                "a'b",
                "%_",
                "ACME",
                "acme ",
                "\u{10FFFF}",
            ][sel % 8]
                .to_string(),
        ),
        _ => Value::Integer(sel as i64 % 8),
    }
}

/// Reads `plan_bytes` input. The first byte is a header:
/// - bits 0-2: how many value bytes follow (0 to 7), the pool parameters are drawn from;
/// - bit 3: scatter writes allowed;
/// - bit 4: a hint, on the table of bits 6-7 (events, users, counters, plans), keyed by the
///   first pool value (or `'acme'`);
/// - bit 5: bind exactly the pool (the count may be wrong); otherwise bind as many values as
///   the SQL has parameters, cycling through the pool.
///
/// The rest is the SQL, as lossy UTF-8.
pub fn decode(data: &[u8]) -> PlanInput {
    let Some((&head, rest)) = data.split_first() else {
        return PlanInput {
            sql: String::new(),
            params: Vec::new(),
            hint: None,
            scatter: false,
        };
    };
    let n = ((head & 0x07) as usize).min(rest.len());
    let (pool, sql) = rest.split_at(n);
    let sql = String::from_utf8_lossy(sql).into_owned();
    let pool: Vec<Value> = pool
        .iter()
        .enumerate()
        .map(|(k, &b)| value_from_byte(b, k))
        .collect();
    let params = if head & 0x20 != 0 {
        pool.clone()
    } else {
        let count = Parsed::new(&sql)
            .map(|p| p.params.count)
            .unwrap_or(0)
            .min(4096);
        (0..count)
            .map(|i| {
                if pool.is_empty() {
                    Value::Text(KEYS[i % KEYS.len()].to_string())
                } else {
                    pool[i % pool.len()].clone()
                }
            })
            .collect()
    };
    let hint = (head & 0x10 != 0).then(|| ShardHint {
        table: ["events", "users", "counters", "plans"][(head >> 6) as usize].into(),
        key: pool
            .first()
            .cloned()
            .unwrap_or_else(|| Value::Text("acme".into())),
    });
    PlanInput {
        sql,
        params,
        hint,
        scatter: head & 0x08 != 0,
    }
}

/// Target (a): planning never panics and answers a plan or an error, never an internal
/// error; it answers the same twice (no hash-order dependence) and through the plan cache;
/// and the plan is well formed (see [`check_plan_shape`]).
pub fn check_plan(db: &Database<SqliteBackend>, data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let input = decode(data);
    if known::planning(&input.sql).is_some() {
        return;
    }
    plan_checked(db, &input);
}

/// [`check_plan`] without stepping around known bugs.
pub fn plan_checked(db: &Database<SqliteBackend>, input: &PlanInput) {
    let options = PlanOptions {
        allow_scatter_writes: input.scatter,
        ..PlanOptions::default()
    };
    let (sql, params, hint) = (&input.sql, &input.params, input.hint.as_ref());
    if sql.len() <= 16 * 1024 {
        assert!(
            d1plus::parse::plain_prefix_agrees(sql),
            "plain names and values read directly give another tree: {sql:?}"
        );
    }
    let first = plan_of(db, sql, params, hint, options);
    let again = plan_of(db, sql, params, hint, options);
    // Compared as printed: a NaN parameter is not equal to itself.
    let printed = format!("{first:?}");
    assert_eq!(
        printed,
        format!("{again:?}"),
        "planning twice differs: {sql:?} {params:?}"
    );
    if !input.scatter {
        // Twice through the cache: a miss, then a hit.
        for _ in 0..2 {
            let cached = db.plan(sql, params, hint);
            assert_eq!(
                format!("{cached:?}"),
                printed,
                "the cached plan differs: {sql:?} {params:?}"
            );
        }
        // Other values through the plan made for these (a template when they route alike).
        for other in [neighbours(params), params.iter().rev().cloned().collect()] {
            let cached = format!("{:?}", db.plan(sql, &other, hint));
            let fresh = format!("{:?}", plan_of(db, sql, &other, hint, options));
            assert_eq!(cached, fresh, "the cached plan differs: {sql:?} {other:?}");
        }
    }
    match first {
        Ok(plan) => check_plan_shape(&plan, sql),
        Err(e) => assert!(
            e.code() != ErrorCode::Internal,
            "internal error: {e}\nsql: {sql:?}\nparams: {params:?}"
        ),
    }
    // The plan of any values (`explain` without values, the shell's `.explain`): never a
    // panic or an internal error either.
    if let Err(e) = db.explain_unbound(sql, hint) {
        assert!(
            e.code() != ErrorCode::Internal,
            "explain without values: internal error: {e}\nsql: {sql:?}"
        );
    }
    let _ = d1plus::lex::is_complete(sql);
}

/// Values next to `params`, of the same storage class.
fn neighbours(params: &[Value]) -> Vec<Value> {
    params
        .iter()
        .map(|v| match v {
            Value::Null => Value::Null,
            Value::Integer(i) => Value::Integer(i.wrapping_add(1)),
            Value::Real(r) => Value::Real(r + 1.0),
            Value::Text(t) => Value::Text(format!("{t}x")),
            Value::Blob(b) => Value::Blob([b.as_slice(), &[0]].concat()),
        })
        .collect()
}

/// A plan prints and serializes; its batches are on existing shards, ascending, one per
/// shard of its target, each with statements; every per-shard statement is one statement
/// that binds exactly the values it is given.
pub fn check_plan_shape(plan: &Plan, sql: &str) {
    let _ = plan.to_string();
    let _ = serde_json::to_string(plan);
    let shards: Vec<usize> = plan.batches.iter().map(|b| b.shard).collect();
    assert!(
        shards.windows(2).all(|w| w[0] < w[1]) && shards.iter().all(|&s| s < SHARDS),
        "batches not on ascending existing shards: {shards:?}\nsql: {sql:?}"
    );
    assert_eq!(
        shards,
        plan.route.target.shards(SHARDS),
        "batches differ from the route's target\nsql: {sql:?}\n{plan}"
    );
    for b in &plan.batches {
        assert!(!b.statements.is_empty(), "an empty batch\nsql: {sql:?}");
        for st in &b.statements {
            match Parsed::new(&st.sql) {
                Ok(p) => assert_eq!(
                    p.params.count,
                    st.params.len(),
                    "shard statement binds {} values for {} parameters: {}\nfrom: {sql:?}",
                    st.params.len(),
                    p.params.count,
                    st.sql
                ),
                Err(e) => panic!(
                    "shard statement does not parse ({e}): {}\nfrom: {sql:?}",
                    st.sql
                ),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Target (c), rewrite_prepares.

/// Target (c), stepping around known bugs: see [`rewrite_checked`].
pub fn check_rewrite_prepares(db: &Database<SqliteBackend>, sql: &str) {
    if known::planning(sql)
        .or_else(|| known::sqlite_reads_less(sql))
        .is_some()
    {
        return;
    }
    rewrite_checked(db, sql);
}

/// Target (c): when the original statement prepares on a shard, SQLite counts as many
/// parameters in it as d1plus does, and every per-shard statement d1plus produces prepares
/// too, with as many parameters as values it binds.
pub fn rewrite_checked(db: &Database<SqliteBackend>, sql: &str) {
    if sql.len() > 16 * 1024 {
        return;
    }
    let n = Parsed::new(sql).map(|p| p.params.count).unwrap_or(0);
    if n > 500 {
        return;
    }
    let params: Vec<Value> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                Value::Text(KEYS[(i / 2) % 4].to_string())
            } else {
                Value::Integer(i as i64)
            }
        })
        .collect();
    let Ok(plan) = db.plan(sql, &params, None) else {
        return;
    };
    let original = db
        .backend()
        .with_connection(0, |c| c.prepare(sql).map(|s| s.parameter_count()).ok())
        .expect("shard 0");
    let Some(count) = original else {
        return;
    };
    assert_eq!(
        count, n,
        "SQLite numbers {count} parameters, d1plus {n}: {sql:?}"
    );
    for b in &plan.batches {
        for st in &b.statements {
            let prepared = db
                .backend()
                .with_connection(b.shard, |c| {
                    c.prepare(&st.sql)
                        .map(|s| s.parameter_count())
                        .map_err(|e| e.to_string())
                })
                .expect("shard");
            match prepared {
                Ok(k) => assert_eq!(
                    k,
                    st.params.len(),
                    "shard statement has {k} parameters but binds {}: {}\nfrom: {sql:?}",
                    st.params.len(),
                    st.sql
                ),
                Err(e) => panic!(
                    "rewritten statement does not prepare: {}\nfrom: {sql:?}\n{e}",
                    st.sql
                ),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Target (b), grammar_oracle.

/// Target (b): the statements the bytes choose give the same answers on d1plus as on one
/// plain SQLite database; panics with the reproducing script otherwise.
pub fn check_oracle(oracle: &oracle::Oracle, data: &[u8]) {
    if data.len() > 1024 {
        return;
    }
    let steps = grammar::steps(data);
    if let Err(e) = oracle.run(&steps, true) {
        panic!("d1plus differs from SQLite: {e}");
    }
}
