//! The differential oracle: the same statements on one plain SQLite database and on
//! d1plus over N local shards; results and placement are compared.
#![allow(dead_code)]

use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::Error;
use d1plus::execute::QueryResult;
use d1plus::plan::ShardHint;
use d1plus::policy::Policy;
use d1plus::value::Value;
use futures::executor::block_on;

/// Shard counts every differential test runs over.
pub const SHARD_COUNTS: [usize; 5] = [1, 2, 4, 8, 64];

/// A small deterministic RNG (xorshift64*), seeded from D1PLUS_SEED or the given default.
pub struct Rng(u64);

impl Rng {
    pub fn from_env(default: u64) -> Rng {
        let seed = std::env::var("D1PLUS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        eprintln!("seed: {seed} (set D1PLUS_SEED to reproduce)");
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The differential oracle's core, shared with the fuzz targets.
#[path = "../../fuzz/common/diff.rs"]
pub mod diff;
use diff::{compare_outcome, Compared};
pub use diff::{sorted, sqlite_query};

pub struct Sharded {
    pub n: usize,
    pub db: Database<SqliteBackend>,
}

pub struct Harness {
    pub policy_json: String,
    pub oracle: rusqlite::Connection,
    pub shards: Vec<Sharded>,
}

/// What happened to one statement on both sides.
#[derive(Debug)]
pub enum Outcome {
    /// Both succeeded with these results (oracle, then one per shard count).
    Ok(Vec<Vec<Value>>),
    /// d1plus refused it (proxy error); the oracle's outcome is not compared.
    Refused(Error),
}

impl Harness {
    pub fn new(policy_json: &str, counts: &[usize]) -> Harness {
        let oracle = rusqlite::Connection::open_in_memory().unwrap();
        oracle.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        let shards = counts
            .iter()
            .map(|&n| {
                let mut policy: serde_json::Value = serde_json::from_str(policy_json).unwrap();
                policy["capacity"] = serde_json::json!({"mode": "manual", "targetShardCount": n});
                let policy = Policy::from_json(&policy.to_string()).unwrap();
                let backend = SqliteBackend::in_memory(n).unwrap();
                let options = Options {
                    verify_cached_plans: true,
                    ..Options::default()
                };
                let db = block_on(Database::open(policy, backend, options)).unwrap();
                Sharded { n, db }
            })
            .collect();
        Harness {
            policy_json: policy_json.to_string(),
            oracle,
            shards,
        }
    }

    pub fn policy(&self) -> &Policy {
        self.shards[0].db.policy()
    }

    /// Runs DDL / a script on every side; it must succeed everywhere.
    pub fn exec(&self, script: &str) {
        self.oracle.execute_batch(script).unwrap();
        for s in &self.shards {
            block_on(s.db.exec(script)).unwrap_or_else(|e| panic!("{} shards: {e}\n{script}", s.n));
        }
    }

    /// Runs one statement everywhere. Succeeds on d1plus exactly when it succeeds on the
    /// oracle, unless d1plus refuses it with a proxy error (then the statement must not
    /// have changed anything; callers check invariants).
    pub fn run(&self, sql: &str, params: &[Value], hint: Option<&ShardHint>) -> Outcome {
        // d1plus runs first on every shard count: a refusal (at planning, or before a
        // two-phase statement writes) changes nothing, so the oracle must not run then,
        // and every shard count must refuse alike.
        let outcomes: Vec<_> = self
            .shards
            .iter()
            .map(|s| block_on(s.db.query(sql, params, hint)))
            .collect();
        let refused = |r: &Result<d1plus::execute::QueryResult, Error>| matches!(r, Err(e) if !matches!(e, Error::Backend { .. }));
        if let Some(Err(e)) = outcomes.iter().find(|r| refused(r)) {
            assert!(
                outcomes.iter().all(refused),
                "refused on some shard counts only: {sql}: {e}"
            );
            return Outcome::Refused(e.clone());
        }
        let oracle = sqlite_query(&self.oracle, sql, params);
        for (s, outcome) in self.shards.iter().zip(&outcomes) {
            if let Compared::Differs(_, d) = compare_outcome(outcome, &oracle, false, 0) {
                panic!("{} shards: {d}\n  sql: {sql} {params:?}", s.n);
            }
        }
        match oracle {
            Ok((_, rows)) => Outcome::Ok(rows),
            Err(_) => Outcome::Ok(Vec::new()),
        }
    }

    /// Runs a read whose ORDER BY makes the order total: rows must match in order.
    pub fn run_ordered(&self, sql: &str, params: &[Value]) -> Outcome {
        let oracle = sqlite_query(&self.oracle, sql, params);
        let expected = match &oracle {
            Ok((_, rows)) => rows.clone(),
            Err(e) => panic!("oracle failed ({e}): {sql}"),
        };
        for s in &self.shards {
            let got = block_on(s.db.query(sql, params, None));
            match compare_outcome(&got, &oracle, true, 0) {
                Compared::Same => {}
                Compared::Refused => return Outcome::Refused(got.unwrap_err()),
                Compared::Differs(_, d) => panic!("{} shards: {d}\n  sql: {sql} {params:?}", s.n),
            }
        }
        Outcome::Ok(expected)
    }

    /// Each read (SQL, whether its order is total) must be answered as one SQLite answers
    /// it on every shard count (REALs within 2 units in the last place, as a REAL sum over
    /// shards may differ): a refusal or a difference panics, naming the statement.
    pub fn assert_answered(&self, reads: &[(&str, bool)]) {
        for (sql, ordered) in reads {
            match self.compare_within(sql, &[], *ordered, 2) {
                Ok(true) => {}
                Ok(false) => panic!("refused: {sql}: {:?}", self.query_n(4, sql, &[]).err()),
                Err(d) => panic!("{sql}\n{d}"),
            }
        }
    }

    /// Each read must be refused, and never answered otherwise than one SQLite answers it.
    pub fn assert_refused(&self, reads: &[&str]) {
        for sql in reads {
            match self.compare(sql, false) {
                Ok(false) => {}
                Ok(true) => panic!("answered, where the answer depends on the row order: {sql}"),
                Err(d) => panic!("{sql}\n{d}"),
            }
        }
    }

    /// Compares one read on every shard count without panicking: Ok(true) when it matched,
    /// Ok(false) when d1plus refused it (a proxy error), Err(description) on a mismatch.
    pub fn compare(&self, sql: &str, ordered: bool) -> Result<bool, String> {
        self.compare_with(sql, &[], ordered)
    }

    /// [`Harness::compare`] with parameters.
    pub fn compare_with(&self, sql: &str, params: &[Value], ordered: bool) -> Result<bool, String> {
        self.compare_within(sql, params, ordered, 0)
    }

    /// [`Harness::compare_with`], where REAL values may differ by `ulps` units in the last
    /// place: what the README allows for REAL sums whose values sit on several shards.
    pub fn compare_within(
        &self,
        sql: &str,
        params: &[Value],
        ordered: bool,
        ulps: u64,
    ) -> Result<bool, String> {
        let oracle = sqlite_query(&self.oracle, sql, params);
        for s in &self.shards {
            let got = block_on(s.db.query(sql, params, None));
            match compare_outcome(&got, &oracle, ordered, ulps) {
                Compared::Same => {}
                Compared::Refused => return Ok(false),
                Compared::Differs(_, d) => return Err(format!("{} shards: {d}", s.n)),
            }
        }
        Ok(true)
    }

    /// Runs a read with LIMIT but no total order: any `n` of the rows qualify, so check the
    /// count and that every row is one the unlimited query returns.
    pub fn run_limited(&self, sql: &str, unlimited: &str, params: &[Value]) {
        let (_, expected) = sqlite_query(&self.oracle, sql, params).unwrap();
        let (_, all) = sqlite_query(&self.oracle, unlimited, params).unwrap();
        let all = sorted(all);
        for s in &self.shards {
            let r = block_on(s.db.query(sql, params, None))
                .unwrap_or_else(|e| panic!("{} shards: {e}: {sql}", s.n));
            assert_eq!(
                r.rows.len(),
                expected.len(),
                "{} shards: row count differs: {sql}",
                s.n
            );
            for row in &r.rows {
                assert!(
                    all.binary_search_by_key(&format!("{row:?}"), |x| format!("{x:?}"))
                        .is_ok(),
                    "{} shards: {row:?} is not a row of {unlimited}",
                    s.n
                );
            }
        }
    }

    /// Runs a read and returns d1plus's result for the given shard count.
    pub fn query_n(&self, n: usize, sql: &str, params: &[Value]) -> Result<QueryResult, Error> {
        let s = self.shards.iter().find(|s| s.n == n).unwrap();
        block_on(s.db.query(sql, params, None))
    }

    /// After writes: every table's rows, unioned over shards, equal the oracle's; sharded
    /// rows sit on their key's shard; unsharded rows only on shard 0; reference tables are
    /// identical on every shard.
    pub fn check_invariants(&self) {
        let tables = diff::user_tables(&self.oracle).unwrap();
        for s in &self.shards {
            if let Err(e) = diff::compare_tables(&s.db, &self.oracle, &tables) {
                panic!("{e}");
            }
        }
    }
}
