//! What every bench shares: the schema and policy of a typical multi-tenant D1 app, the
//! data it holds, a short criterion configuration, and a [`Recorder`] that keeps
//! criterion's own samples so each bench can print ratios (not only times) at the end.
//!
//! Each bench binary includes this file with `mod common;` and uses only part of it.
#![allow(dead_code)]

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use d1plus::api::Database;
use d1plus::backend::Backend;
use d1plus::policy::Policy;
use d1plus::value::Value;
use futures::executor::block_on;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Samples criterion takes per bench. Ratios are medians over exactly these samples.
pub const SAMPLE_SIZE: usize = 20;

/// Short runs: the whole `cargo bench` should finish in a few minutes on 2 shared cores.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(SAMPLE_SIZE)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .without_plots()
        .configure_from_args()
}

/// The schema: `events` and `users` sharded by tenant, `plans` copied on every shard,
/// `settings` unsharded (home shard).
pub const SCHEMA: &str = "
CREATE TABLE events (
  tenantId TEXT NOT NULL,
  id INTEGER NOT NULL,
  userId INTEGER NOT NULL,
  createdAt INTEGER NOT NULL,
  kind TEXT NOT NULL,
  amount REAL NOT NULL,
  PRIMARY KEY (tenantId, id)
);
CREATE INDEX events_by_time ON events (tenantId, createdAt, id);
CREATE TABLE users (
  tenantId TEXT NOT NULL,
  id INTEGER NOT NULL,
  name TEXT NOT NULL,
  planId INTEGER NOT NULL,
  PRIMARY KEY (tenantId, id)
);
CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

/// The policy over `shards` shards.
pub fn policy(shards: usize) -> Policy {
    Policy::from_json(&format!(
        r#"{{ "name": "bench",
              "capacity": {{ "mode": "manual", "targetShardCount": {shards} }},
              "sharding": {{ "tables": [ {{ "name": "events", "keyColumn": "tenantId" }},
                                         {{ "name": "users", "keyColumn": "tenantId" }} ],
                             "reference": [ "plans" ] }} }}"#
    ))
    .expect("the bench policy is valid")
}

/// How much data the end-to-end and merge benches load.
#[derive(Debug, Clone, Copy)]
pub struct DataSize {
    /// Tenants (shard keys).
    pub tenants: usize,
    /// Events per tenant.
    pub events_per_tenant: usize,
}

/// The tenant key of tenant number `t`.
pub fn tenant(t: usize) -> String {
    format!("tenant-{t:04}")
}

/// The kinds of event, for GROUP BY.
pub const KINDS: [&str; 5] = ["click", "view", "signup", "purchase", "refund"];

/// Event `i` of tenant `t`: (tenantId, id, userId, createdAt, kind, amount). Deterministic;
/// `amount` is spread over 0..10_000 so `amount > 9_990` keeps about 0.1% of the rows.
pub fn event(t: usize, i: usize) -> [Value; 6] {
    let n = (t * 7919 + i * 104_729) as u64;
    let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    [
        Value::Text(tenant(t)),
        Value::Integer(i as i64 + 1),
        Value::Integer((mixed % 1000) as i64),
        Value::Integer(1_700_000_000 + (i as i64) * 60),
        Value::Text(KINDS[(mixed % 5) as usize].to_string()),
        Value::Real((mixed % 1_000_000) as f64 / 100.0),
    ]
}

/// The INSERT used to load data: 16 rows (96 parameters, under D1's 100) per statement.
pub const LOAD_ROWS_PER_INSERT: usize = 16;

/// Multi-row INSERT text for `rows` rows of `events`.
pub fn insert_events_sql(rows: usize) -> String {
    let row = "(?, ?, ?, ?, ?, ?)";
    format!(
        "INSERT INTO events (tenantId, id, userId, createdAt, kind, amount) VALUES {}",
        vec![row; rows].join(", ")
    )
}

/// Creates the schema and loads `size` through d1plus (one `batch`: one transaction per shard).
pub fn load<B: Backend>(db: &Database<B>, size: DataSize) {
    block_on(db.exec(SCHEMA)).expect("schema");
    let rows: Vec<[Value; 6]> = (0..size.tenants)
        .flat_map(|t| (0..size.events_per_tenant).map(move |i| event(t, i)))
        .collect();
    let statements: Vec<d1plus::api::Statement> = rows
        .chunks(LOAD_ROWS_PER_INSERT)
        .map(|chunk| {
            d1plus::api::Statement::new(insert_events_sql(chunk.len()))
                .bind(chunk.iter().flat_map(|r| r.iter().cloned()).collect())
        })
        .collect();
    block_on(db.batch(&statements)).expect("load events");
    let plans = d1plus::api::Statement::new(
        "INSERT INTO plans (id, name, price) VALUES (1, 'free', 0), (2, 'pro', 20)",
    );
    let settings =
        d1plus::api::Statement::new("INSERT INTO settings (key, value) VALUES ('motd', 'hello')");
    block_on(db.batch(&[plans, settings])).expect("load plans and settings");
}

/// Creates the schema and loads `size` into one plain SQLite connection (the oracle).
pub fn load_plain(conn: &mut rusqlite::Connection, size: DataSize) {
    conn.execute_batch(SCHEMA).expect("schema");
    let tx = conn.transaction().expect("begin");
    {
        let mut stmt = tx
            .prepare("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)")
            .expect("prepare insert");
        for t in 0..size.tenants {
            for i in 0..size.events_per_tenant {
                let e = event(t, i);
                stmt.execute(rusqlite::params_from_iter(e.iter()))
                    .expect("insert");
            }
        }
    }
    tx.execute_batch(
        "INSERT INTO plans (id, name, price) VALUES (1, 'free', 0), (2, 'pro', 20);
         INSERT INTO settings (key, value) VALUES ('motd', 'hello');",
    )
    .expect("load plans and settings");
    tx.commit().expect("commit");
}

/// Runs a prepared query directly with rusqlite and materializes its rows as d1plus does
/// (column names, one `Value` per cell), so both sides of a comparison do the same work.
pub fn query_direct(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut stmt = conn.prepare_cached(sql).expect("prepare");
    let columns: Vec<String> = stmt.column_names().map(String::from).collect();
    let width = columns.len();
    let mut rows = Vec::new();
    let mut cursor = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .expect("query");
    while let Some(row) = cursor.next().expect("step") {
        rows.push(
            (0..width)
                .map(|i| Value::from(row.get_ref(i).expect("column")))
                .collect(),
        );
    }
    (columns, rows)
}

/// Checks that two results hold the same rows, reals equal to 1e-9 relative (a sum of reals
/// added up per shard and then across shards rounds differently from one sum over all
/// rows). Panics naming the first row that differs, not printing every row.
pub fn assert_same_rows(what: &str, got: &[Vec<Value>], expected: &[Vec<Value>]) {
    assert_eq!(
        got.len(),
        expected.len(),
        "{what}: {} rows, one database has {}",
        got.len(),
        expected.len()
    );
    let close = |a: &Value, b: &Value| match (a, b) {
        (Value::Real(x), Value::Real(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
        _ => a == b,
    };
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let same = g.len() == e.len() && g.iter().zip(e).all(|(a, b)| close(a, b));
        assert!(same, "{what}: row {i} is {g:?}, one database has {e:?}");
    }
}

/// Keeps criterion's samples (per-iteration times) by bench id, so the bench can print
/// ratios after its groups ran. Filled by [`Recorder::bench`]; a bench filtered out on the
/// command line simply has no entry.
#[derive(Default)]
pub struct Recorder {
    samples: RefCell<BTreeMap<String, Vec<f64>>>,
}

impl Recorder {
    /// Registers `f` as bench `group/id` and records every sample criterion takes of it.
    pub fn bench<T>(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        group_name: &str,
        id: &str,
        mut f: impl FnMut() -> T,
    ) {
        let key = format!("{group_name}/{id}");
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(f());
                }
                let elapsed = start.elapsed();
                self.push(&key, iters, elapsed);
                elapsed
            })
        });
    }

    /// Registers `routine` as bench `group/id`, timing only `routine` itself: `input` builds
    /// its argument (e.g. clones rows it consumes) and its answer is dropped, both untimed.
    pub fn bench_with_input<I, T>(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        group_name: &str,
        id: &str,
        mut input: impl FnMut() -> I,
        mut routine: impl FnMut(I) -> T,
    ) {
        let key = format!("{group_name}/{id}");
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let arg = input();
                    let start = Instant::now();
                    let answer = black_box(routine(black_box(arg)));
                    elapsed += start.elapsed();
                    drop(answer);
                }
                self.push(&key, iters, elapsed);
                elapsed
            })
        });
    }

    /// Records one sample of `iters` iterations that took `elapsed` (for benches that time
    /// themselves, e.g. to leave input cloning out).
    pub fn push(&self, key: &str, iters: u64, elapsed: Duration) {
        if iters > 0 {
            self.samples
                .borrow_mut()
                .entry(key.to_string())
                .or_default()
                .push(elapsed.as_secs_f64() / iters as f64);
        }
    }

    /// The median time of one iteration over the last [`SAMPLE_SIZE`] samples (criterion's
    /// measurement samples; the earlier ones are its warm-up), or None if it did not run.
    pub fn median(&self, key: &str) -> Option<Duration> {
        let samples = self.samples.borrow();
        let all = samples.get(key)?;
        let mut last: Vec<f64> = all[all.len().saturating_sub(SAMPLE_SIZE)..].to_vec();
        last.sort_by(f64::total_cmp);
        let mid = last.len() / 2;
        let median = if last.len() % 2 == 0 {
            (last[mid - 1] + last[mid]) / 2.0
        } else {
            last[mid]
        };
        Some(Duration::from_secs_f64(median))
    }
}

/// `3.1 us`, `450 ns`, `12.4 ms`.
pub fn fmt_time(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.2} us", s * 1e6)
    } else {
        format!("{:.0} ns", s * 1e9)
    }
}

/// `a / b` as a ratio.
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// Geometric mean of ratios (the fair average of ratios).
pub fn geomean(ratios: &[f64]) -> Option<f64> {
    if ratios.is_empty() {
        None
    } else {
        Some((ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp())
    }
}

/// `met` or `MISSED by 2.3x`.
pub fn verdict(ratio: f64, target: f64) -> String {
    if ratio <= target {
        format!("met (target <= {target}x)")
    } else {
        format!(
            "MISSED (target <= {target}x; {:.2}x over it)",
            ratio / target
        )
    }
}
