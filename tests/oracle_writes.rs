//! Differential tests of routing and writes: d1plus over 1, 2, 4, 8 and 64 local shards
//! against one plain SQLite database, with skewed keys (most shards stay empty at 64).

mod common;

use common::{Harness, Outcome, Rng, SHARD_COUNTS};
use d1plus::error::ErrorCode;
use d1plus::plan::ShardHint;
use d1plus::value::Value;

const POLICY: &str = r#"{"name": "t", "capacity": {"mode": "manual", "targetShardCount": 1},
  "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"},
                          {"name": "Users", "keyColumn": "org"}],
               "reference": ["plans"]}}"#;

const SCHEMA: &str = "
CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL);
CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount, planId INTEGER,
                     PRIMARY KEY (tenantId, id));
CREATE TABLE users (org INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT, score REAL DEFAULT 0,
                    PRIMARY KEY (org, id));
CREATE TABLE settings (key TEXT PRIMARY KEY, value);
";

fn harness() -> Harness {
    let h = Harness::new(POLICY, &SHARD_COUNTS);
    h.exec(SCHEMA);
    h
}

fn t(s: &str) -> Value {
    Value::Text(s.into())
}
fn i(v: i64) -> Value {
    Value::Integer(v)
}

/// Skewed tenants: a few hot ones, so at 64 shards most shards are empty.
const TENANTS: [&str; 5] = ["acme", "acme", "acme", "globex", "initech"];

fn random_value(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => Value::Null,
        1 => i(rng.below(1000) as i64 - 500),
        2 => Value::Real((rng.below(10_000) as f64) / 8.0),
        3 => t(["x", "y", "ümlaut", "it''s"][rng.below(4) as usize]),
        4 => Value::Blob(vec![rng.below(256) as u8, 0, 7]),
        _ => i(i64::MAX - rng.below(3) as i64),
    }
}

#[test]
fn random_write_sequences_keep_every_row_in_place() {
    let h = harness();
    let mut rng = Rng::from_env(0x5eed);
    h.run(
        "INSERT INTO plans (id, name, price) VALUES (1, 'free', 0), (2, 'pro', 19.5)",
        &[],
        None,
    );
    let mut next_id = 1;
    for step in 0..300 {
        let tenant = *rng.pick(&TENANTS);
        let org = rng.pick(&[1i64, 1, 2, 3, 1000]).to_owned();
        let (sql, params): (String, Vec<Value>) = match rng.below(12) {
            // Multi-row insert across tenants, mixing literals and parameters.
            0..=2 => {
                let rows = 1 + rng.below(6);
                let mut parts = Vec::new();
                let mut params = Vec::new();
                for _ in 0..rows {
                    next_id += 1;
                    let tn = *rng.pick(&TENANTS);
                    if rng.chance(50) {
                        parts.push(format!("('{tn}', {next_id}, 'k{}', ?, 1)", rng.below(3)));
                        params.push(random_value(&mut rng));
                    } else {
                        parts.push(format!("(?, ?, 'k', {}, 2)", rng.below(100)));
                        params.push(t(tn));
                        params.push(i(next_id));
                    }
                }
                (format!("INSERT INTO events (tenantId, id, kind, amount, planId) VALUES {}", parts.join(", ")), params)
            }
            3 => {
                next_id += 1;
                (
                    "INSERT INTO users VALUES (?1, ?2, :name, ?1 * 1.5)".into(),
                    vec![i(org), i(next_id), t("n")],
                )
            }
            4 => (
                "UPDATE events SET amount = coalesce(amount, 0) || 'u' WHERE tenantId = ? AND id % 3 = 0".into(),
                vec![t(tenant)],
            ),
            5 => ("DELETE FROM events WHERE tenantId = :t AND id % 7 = 1".into(), vec![t(tenant)]),
            6 => (
                "INSERT INTO events (tenantId, id, kind) VALUES (?, ?, 'up') ON CONFLICT (tenantId, id) DO UPDATE SET kind = excluded.kind || '!'".into(),
                vec![t(tenant), i(rng.below(next_id as u64 + 1) as i64)],
            ),
            7 => ("UPDATE users SET score = score + 1 WHERE org IN (?, ?)".into(), vec![i(org), i(2)]),
            8 => ("INSERT OR REPLACE INTO settings VALUES (?, ?)".into(), vec![t(&format!("s{}", rng.below(5))), random_value(&mut rng)]),
            9 => ("UPDATE plans SET price = price + 1 WHERE id = ?".into(), vec![i(1 + rng.below(2) as i64)]),
            10 => (
                // A duplicate primary key: SQLite's error must pass through, nothing changes.
                "INSERT INTO events (tenantId, id) VALUES (?, 1), (?, 1)".into(),
                vec![t(tenant), t(tenant)],
            ),
            _ => ("DELETE FROM users WHERE org = 1000 OR org = 3".into(), vec![]),
        };
        if let Outcome::Refused(e) = h.run(&sql, &params, None) {
            panic!("step {step}: d1plus refused a routable write: {e}\n{sql}");
        }
        if step % 50 == 0 {
            h.check_invariants();
        }
    }
    h.check_invariants();
    // Single-shard reads agree with the oracle.
    for tenant in ["acme", "globex", "initech", "nobody"] {
        h.run(
            "SELECT * FROM events WHERE tenantId = ?",
            &[t(tenant)],
            None,
        );
        h.run(
            "SELECT e.id, e.kind, p.name FROM events AS e JOIN plans p ON p.id = e.planId WHERE e.tenantId = ?",
            &[t(tenant)],
            None,
        );
    }
    h.run(
        "SELECT * FROM users WHERE org IN (1, '2') OR org = 3.0",
        &[],
        None,
    );
    h.run("SELECT * FROM settings", &[], None);
    h.run("SELECT count(*) FROM plans", &[], None);
}

/// RETURNING columns carry SQLite's names even where the shards' text renumbers a
/// parameter (`?3 || kind` on a shard that binds two values names it `?2 || kind`): rows
/// split across shards, and a write scattered to every shard.
#[test]
fn returning_columns_are_named_as_sqlite_names_them() {
    let h = harness();
    for (sql, params) in [
        ("INSERT INTO events (tenantId, id, kind) VALUES (?1, 1, 'a'), (?2, 2, 'b') RETURNING id, ?3 || kind, (?3) AS x, kind", vec![t("acme"), t("globex"), t("p")]),
        ("INSERT INTO events (tenantId, id, kind) VALUES (?, 3, 'a'), (?, 4, 'b') RETURNING ? || kind, \"id\", id + :n", vec![t("acme"), t("initech"), t("q"), i(10)]),
        ("INSERT INTO events (tenantId, id, kind) VALUES ('acme', 5, ?2), ('umbrella', 6, ?1) RETURNING ?2 || kind  ,  ?1", vec![t("x"), t("y")]),
    ] {
        assert!(matches!(h.run(sql, &params, None), common::Outcome::Ok(_)), "{sql}");
    }
    let options = d1plus::plan::PlanOptions {
        allow_scatter_writes: true,
        ..Default::default()
    };
    let sql = "UPDATE events SET amount = ?2 WHERE id > ?1 RETURNING id, ?2 + ?1";
    let params = [i(0), i(7)];
    let (oracle_columns, _) = common::sqlite_query(&h.oracle, sql, &params).unwrap();
    for s in &h.shards {
        let r = futures::executor::block_on(s.db.query_with(sql, &params, None, options)).unwrap();
        assert_eq!(r.columns.to_vec(), oracle_columns, "{} shards", s.n);
    }
    h.check_invariants();
}

#[test]
fn returning_rows_come_back_in_the_callers_order() {
    let h = harness();
    let sql =
        "INSERT INTO events (tenantId, id, kind) VALUES ('acme', 1, 'a'), ('globex', 2, 'b'), \
               ('initech', 3, 'c'), ('acme', 4, 'd'), ('umbrella', 5, 'e') RETURNING id, kind";
    let expected: Vec<Vec<Value>> = (1..=5)
        .zip(["a", "b", "c", "d", "e"])
        .map(|(n, k)| vec![i(n), t(k)])
        .collect();
    for s in &h.shards {
        let r = futures::executor::block_on(s.db.query(sql, &[], None)).unwrap();
        assert_eq!(r.rows, expected, "{} shards", s.n);
        assert_eq!(r.meta.changes, 5);
    }
}

#[test]
fn inserts_over_d1_limits_are_split_within_each_shard() {
    let h = harness();
    // 60 rows x 2 parameters = 120 parameters: over D1's 100 even on one shard.
    let mut parts = Vec::new();
    let mut params = Vec::new();
    for n in 0..60 {
        parts.push("(?, ?, 'bulk')");
        params.push(t(TENANTS[n % TENANTS.len()]));
        params.push(i(n as i64));
    }
    let sql = format!(
        "INSERT INTO events (tenantId, id, kind) VALUES {}",
        parts.join(", ")
    );
    for s in &h.shards {
        let plan = s.db.plan(&sql, &params, None).unwrap();
        for b in &plan.batches {
            for st in &b.statements {
                assert!(
                    st.params.len() <= 100,
                    "{} shards: {} params",
                    s.n,
                    st.params.len()
                );
            }
        }
    }
    h.run(&sql, &params, None);
    h.check_invariants();
}

fn refused(h: &Harness, sql: &str, params: &[Value], hint: Option<&ShardHint>, code: ErrorCode) {
    match h.run(sql, params, hint) {
        Outcome::Refused(e) => {
            assert_eq!(e.code(), code, "{sql}: {e}");
            assert!(
                e.to_string().contains("Remedy") || code == ErrorCode::ParamCount,
                "{e}"
            );
        }
        Outcome::Ok(_) => panic!("expected a refusal ({code:?}): {sql}"),
    }
}

#[test]
fn bad_input_is_refused_clearly_and_changes_nothing() {
    let h = harness();
    h.run(
        "INSERT INTO events (tenantId, id) VALUES ('acme', 1), ('globex', 2)",
        &[],
        None,
    );
    refused(
        &h,
        "UPDATE events SET kind = 'x'",
        &[],
        None,
        ErrorCode::NoShardKey,
    );
    refused(
        &h,
        "DELETE FROM events WHERE id = 1",
        &[],
        None,
        ErrorCode::NoShardKey,
    );
    refused(
        &h,
        "UPDATE events SET tenantId = 'b' WHERE tenantId = 'acme'",
        &[],
        None,
        ErrorCode::KeyUpdate,
    );
    refused(
        &h,
        "INSERT INTO events (tenantId, id) VALUES ('acme', 1) ON CONFLICT DO UPDATE SET tenantId = 'z'",
        &[],
        None,
        ErrorCode::KeyUpdate,
    );
    refused(&h, "BEGIN", &[], None, ErrorCode::TransactionStatement);
    refused(
        &h,
        "SAVEPOINT a",
        &[],
        None,
        ErrorCode::TransactionStatement,
    );
    refused(&h, "VACUUM", &[], None, ErrorCode::TransactionStatement);
    refused(
        &h,
        "ATTACH 'x.db' AS x",
        &[],
        None,
        ErrorCode::TransactionStatement,
    );
    // A NULL key in the second row: nothing is written, not even the first row.
    refused(
        &h,
        "INSERT INTO events (tenantId, id) VALUES ('acme', 10), (NULL, 11)",
        &[],
        None,
        ErrorCode::InvalidShardKey,
    );
    refused(
        &h,
        "INSERT INTO events (tenantId, id) VALUES ('acme', 12), (?, 13)",
        &[Value::Blob(vec![1])],
        None,
        ErrorCode::InvalidShardKey,
    );
    refused(
        &h,
        "INSERT INTO users (org, id) VALUES (1.5, 1)",
        &[],
        None,
        ErrorCode::InvalidShardKey,
    );
    refused(
        &h,
        "INSERT INTO events (id) VALUES (1)",
        &[],
        None,
        ErrorCode::NoShardKey,
    );
    refused(
        &h,
        "INSERT INTO events (tenantId, id) VALUES (lower('A'), 1)",
        &[],
        None,
        ErrorCode::NoShardKey,
    );
    refused(
        &h,
        "INSERT INTO events (tenantId, id) VALUES (?, ?)",
        &[t("acme")],
        None,
        ErrorCode::ParamCount,
    );
    refused(
        &h,
        "SELECT * FROM events WHERE tenantId = ?",
        &[],
        None,
        ErrorCode::ParamCount,
    );
    // Rows that change shard: read first, then written by their new keys (two phases).
    let copy = "INSERT INTO events (tenantId, id) SELECT kind, id + 100 FROM events WHERE kind IS NOT NULL";
    assert!(matches!(h.run(copy, &[], None), Outcome::Ok(_)), "{copy}");
    h.check_invariants();
    refused(
        &h,
        // Its read (a bare column beside count() across shards: SQLite takes it from any
        // row) is refused: nothing written.
        "INSERT INTO events (tenantId, id) SELECT tenantId, count(*) + 100 FROM events",
        &[],
        None,
        ErrorCode::Unsupported,
    );
    // Keys of another affinity cannot stay on their shard: read first, then written.
    let copy = "INSERT INTO users (org, id) SELECT tenantId, id FROM events";
    assert!(matches!(h.run(copy, &[], None), Outcome::Ok(_)), "{copy}");
    h.check_invariants();
    refused(
        &h,
        "SELECT * FROM events e JOIN users u ON u.id = e.id",
        &[],
        None,
        ErrorCode::CrossShard,
    );
    refused(
        &h,
        "SELECT * FROM events e JOIN settings s ON s.key = e.kind WHERE e.tenantId = 'acme'",
        &[],
        None,
        ErrorCode::CrossShard,
    );
    refused(
        &h,
        "SELECT * FROM events WHERE tenantId = 'acme'",
        &[],
        Some(&ShardHint {
            table: "events".into(),
            key: t("globex"),
        }),
        ErrorCode::HintConflict,
    );
    refused(
        &h,
        "SELECT * FROM plans",
        &[],
        Some(&ShardHint {
            table: "plans".into(),
            key: t("x"),
        }),
        // A hint naming a table that is not sharded is bad input, not a conflict.
        ErrorCode::InvalidArgument,
    );
    // Into a reference table: read first, then the same rows written to every copy.
    let rollup = "INSERT INTO plans (id, name) SELECT id + 1000, kind FROM events";
    assert!(
        matches!(h.run(rollup, &[], None), Outcome::Ok(_)),
        "{rollup}"
    );
    h.check_invariants();
    // INSERT … SELECT that keeps each row's key (and so its shard) runs on every shard.
    assert!(matches!(
        h.run(
            "INSERT INTO events (tenantId, id, kind) SELECT tenantId, id + 100, 'copy' FROM events",
            &[],
            None
        ),
        Outcome::Ok(_)
    ));
    assert!(matches!(h.run("INSERT INTO events (tenantId, id, kind) SELECT e.tenantId, e.id + 1000, kind FROM events e WHERE e.tenantId = ?", &[t("acme")], None), Outcome::Ok(_)));
    assert!(matches!(h.run("INSERT INTO events (tenantId, id, amount) SELECT tenantId, max(id) + 5000, count(*) FROM events GROUP BY tenantId", &[], None), Outcome::Ok(_)));
    h.check_invariants();
    // SQL that does not parse: SQLite's own error text comes back.
    h.run("SELEC 1", &[], None);
    h.run("SELECT * FROM missing_table", &[], None);
}

#[test]
fn keyless_writes_scatter_only_when_allowed() {
    let h = harness();
    h.run("INSERT INTO events (tenantId, id, amount) VALUES ('acme', 1, 5), ('globex', 2, 6), ('initech', 3, 7)", &[], None);
    let options = d1plus::plan::PlanOptions {
        allow_scatter_writes: true,
        ..Default::default()
    };
    h.oracle
        .execute("UPDATE events SET amount = amount * 2", [])
        .unwrap();
    for s in &h.shards {
        let r = futures::executor::block_on(s.db.query_with(
            "UPDATE events SET amount = amount * 2",
            &[],
            None,
            options,
        ))
        .unwrap();
        assert_eq!(r.meta.changes, 3, "{} shards", s.n);
    }
    h.check_invariants();
}

#[test]
fn hints_route_statements_the_parser_cannot_pin() {
    let h = harness();
    h.run("INSERT INTO events (tenantId, id, kind) VALUES ('acme', 1, 'a'), ('acme', 2, 'b'), ('globex', 3, 'c')", &[], None);
    let hint = ShardHint {
        table: "events".into(),
        key: t("acme"),
    };
    // Pinned by hint: the read runs on acme's shard only; the filter keeps it exact.
    h.run("SELECT id FROM events WHERE tenantId = 'acme' AND kind IN (SELECT kind FROM events WHERE tenantId = 'acme')", &[], Some(&hint));
    h.run(
        "UPDATE events SET kind = 'z' WHERE tenantId >= 'acme' AND tenantId <= 'acme'",
        &[],
        Some(&hint),
    );
    h.check_invariants();
}

#[test]
fn generated_ids_are_unique_across_shards_and_below_2_pow_53() {
    let policy = r#"{"name": "t", "capacity": {"mode": "manual", "targetShardCount": 1},
      "sharding": {"tables": [{"name": "posts", "keyColumn": "tenantId"}]}}"#;
    let h = Harness::new(policy, &SHARD_COUNTS);
    h.exec("CREATE TABLE posts (id INTEGER PRIMARY KEY, tenantId TEXT NOT NULL, body TEXT)");
    for s in &h.shards {
        let mut returned = Vec::new();
        for round in 0..3 {
            let sql = "INSERT INTO posts (tenantId, body) VALUES ('acme', ?), ('globex', ?), ('acme', ?), ('initech', ?) RETURNING id, body";
            let params: Vec<Value> = (0..4).map(|k| t(&format!("r{round}-{k}"))).collect();
            let r = futures::executor::block_on(s.db.query(sql, &params, None)).unwrap();
            assert_eq!(r.rows.len(), 4);
            for (row, p) in r.rows.iter().zip(&params) {
                assert_eq!(
                    &row[1], p,
                    "{} shards: RETURNING in the caller's order",
                    s.n
                );
                returned.push(row[0].clone());
            }
            assert!(r.meta.last_row_id > 0);
        }
        // Single-row inserts go through the same rule.
        let r = futures::executor::block_on(s.db.query(
            "INSERT INTO posts (tenantId) VALUES (?)",
            &[t("umbrella")],
            None,
        ))
        .unwrap();
        assert_eq!(r.meta.changes, 1);
        let mut all = Vec::new();
        for shard in 0..s.n {
            let ids: Vec<i64> =
                s.db.backend()
                    .with_connection(shard, |c| {
                        let mut st = c.prepare("SELECT id FROM posts").unwrap();
                        st.query_map([], |r| r.get(0))
                            .unwrap()
                            .map(|x| x.unwrap())
                            .collect()
                    })
                    .unwrap();
            let slots = 64 / s.n as i64;
            for id in &ids {
                let lo = shard as i64 * slots * (1 << 47);
                assert!(
                    *id > lo && *id < lo + (1 << 47),
                    "{} shards: id {id} outside shard {shard}'s range",
                    s.n
                );
            }
            all.extend(ids);
        }
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count, "{} shards: duplicate ids", s.n);
        assert_eq!(count, 13);
        assert!(all.iter().all(|id| *id < 1 << 53));
        for id in returned {
            let Value::Integer(id) = id else {
                panic!("id not an integer")
            };
            assert!(all.contains(&id));
        }
    }
}

#[test]
fn keys_that_no_row_can_have_match_nothing() {
    let h = harness();
    h.run(
        "INSERT INTO users (org, id) VALUES (1, 1), (2, 2)",
        &[],
        None,
    );
    for (sql, params) in [
        ("SELECT * FROM users WHERE org = 1.5", vec![]),
        (
            "SELECT * FROM users WHERE org = ?",
            vec![Value::Blob(vec![1])],
        ),
        ("SELECT * FROM users WHERE org IN (NULL, 2)", vec![]),
        (
            "UPDATE users SET score = 1 WHERE org = ?",
            vec![Value::Real(2.5)],
        ),
    ] {
        assert!(matches!(h.run(sql, &params, None), Outcome::Ok(_)), "{sql}");
    }
    h.check_invariants();
}

/// Reproducers the fuzz targets found (fuzz/regressions/*.txt).
#[test]
fn fuzz_found_cases() {
    let h = harness();
    h.run("INSERT INTO events (tenantId, id, kind, amount) VALUES ('1', 1, 'a', 5), ('acme', 2, 'b', 5), ('globex', 3, NULL, 7)", &[], None);
    h.run(
        "INSERT INTO users (org, id, name) VALUES (1, 1, 'x')",
        &[],
        None,
    );
    // A key pinned inside a subquery does not route the write: refused, nothing deleted.
    refused(&h, "DELETE FROM events WHERE NOT EXISTS (SELECT 1 FROM events e2 WHERE e2.tenantId = 'acme' AND e2.id = events.id)", &[], None, ErrorCode::CrossShard);
    // IS DISTINCT FROM is not a FROM clause.
    assert!(matches!(
        h.run(
            "SELECT count(*) FROM events WHERE amount IS DISTINCT FROM 5",
            &[],
            None
        ),
        Outcome::Ok(_)
    ));
    assert!(matches!(
        h.run(
            "SELECT count(*) FROM events WHERE kind IS NOT DISTINCT FROM 'a'",
            &[],
            None
        ),
        Outcome::Ok(_)
    ));
    // sum() adds text that reads as an integer as an integer.
    assert!(matches!(h.run_ordered("SELECT tenantId, sum(DISTINCT tenantId) FROM events GROUP BY tenantId ORDER BY tenantId", &[]), Outcome::Ok(_)));
    // MySQL's VALUE spelling: a parse error, not an internal one.
    refused(
        &h,
        "INSERT INTO events VALUE ('a', 1)",
        &[],
        None,
        ErrorCode::ParseError,
    );
    h.check_invariants();
}

#[test]
fn null_shard_keys_live_on_the_home_shard() {
    let policy = r#"{"name": "t", "capacity": {"mode": "manual", "targetShardCount": 1},
      "sharding": {"tables": [{"name": "notes", "keyColumn": "owner"},
                              {"name": "tagged", "keyColumn": "owner"}]}}"#;
    let h = Harness::new(policy, &SHARD_COUNTS);
    h.exec("CREATE TABLE notes (owner TEXT, id INTEGER, body TEXT); CREATE TABLE tagged (owner TEXT DEFAULT 'ann', id INTEGER)");
    for (sql, params) in [
        ("INSERT INTO notes VALUES (NULL, 1, 'a'), ('ann', 2, 'b'), (?, 3, 'c'), ('bob', 4, NULL), (NULL, 5, 'e')", vec![Value::Null]),
        ("INSERT INTO notes (id, body) VALUES (6, 'f')", vec![]),
        ("INSERT INTO notes VALUES (?, 7, 'nan')", vec![Value::Real(f64::NAN)]),
        ("INSERT INTO tagged (id) VALUES (1), (2)", vec![]),
    ] {
        assert!(matches!(h.run(sql, &params, None), Outcome::Ok(_)), "{sql}");
    }
    h.check_invariants();
    for sql in [
        "SELECT id FROM notes WHERE owner IS NULL",
        "SELECT id FROM notes WHERE owner = NULL",
        "SELECT count(*), count(owner) FROM notes",
        "SELECT owner, count(*) FROM notes GROUP BY owner",
        "SELECT id FROM notes WHERE owner IS NULL OR owner = 'ann'",
    ] {
        assert!(matches!(h.run(sql, &[], None), Outcome::Ok(_)), "{sql}");
    }
    // `owner IS NULL` pins the home shard, so the keyless-write refusal does not apply.
    for s in &h.shards {
        let plan =
            s.db.plan(
                "DELETE FROM notes WHERE owner IS NULL AND id = 1",
                &[],
                None,
            )
            .unwrap();
        assert_eq!(
            plan.route.target,
            d1plus::plan::Target::One(0),
            "{} shards",
            s.n
        );
    }
    h.run("UPDATE notes SET body = 'z' WHERE owner IS NULL", &[], None);
    h.run(
        "DELETE FROM notes WHERE owner IS NULL AND id = 1",
        &[],
        None,
    );
    h.check_invariants();
}

#[test]
fn reference_writes_give_every_copy_the_same_values() {
    let policy = r#"{"name": "t", "capacity": {"mode": "manual", "targetShardCount": 1},
      "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}], "reference": ["plans", "audit"]}}"#;
    let h = Harness::new(policy, &SHARD_COUNTS);
    h.exec(
        "CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT, changes INTEGER, at TEXT);
         CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT, at TEXT DEFAULT CURRENT_TIMESTAMP);
         CREATE TABLE events (tenantId TEXT, id INTEGER);",
    );
    // Deterministic: a column named `changes`, the word 'now' as data, date functions of
    // constants, and columns given explicitly.
    for (sql, params) in [
        (
            "INSERT INTO plans (id, name, changes) VALUES (1, 'now', 3)",
            vec![],
        ),
        (
            "UPDATE plans SET changes = changes + 1 WHERE id = 1",
            vec![],
        ),
        (
            "INSERT INTO plans (id, at) VALUES (2, date('2024-01-31', '+1 day'))",
            vec![],
        ),
        (
            "INSERT INTO plans (id, at) VALUES (3, strftime('%Y', ?))",
            vec![t("2020-05-01")],
        ),
        (
            "INSERT INTO plans (id, at) VALUES (4, datetime(1700000000, 'unixepoch', 'subsec'))",
            vec![],
        ),
        (
            "INSERT INTO audit (id, what, at) VALUES (1, 'x', '2024-01-01')",
            vec![],
        ),
        ("INSERT INTO audit VALUES (2, 'y', NULL)", vec![]),
    ] {
        assert!(matches!(h.run(sql, &params, None), Outcome::Ok(_)), "{sql}");
    }
    // Each copy would read its own clock or counter.
    for (sql, params) in [
        ("INSERT INTO plans (id, at) VALUES (10, datetime())", vec![]),
        (
            "INSERT INTO plans (id, at) VALUES (11, unixepoch('subsec'))",
            vec![],
        ),
        (
            "INSERT INTO plans (id, at) VALUES (12, DATETIME('NOW', 'localtime'))",
            vec![],
        ),
        (
            "INSERT INTO plans (id, at) VALUES (13, strftime('%s', ?))",
            vec![t("now")],
        ),
        (
            "INSERT INTO plans (id, at) VALUES (16, strftime('%s'))",
            vec![],
        ),
        ("UPDATE plans SET at = julianday(name)", vec![]),
        (
            "INSERT INTO plans (id, at) VALUES (14, CURRENT_TIMESTAMP)",
            vec![],
        ),
        (
            "INSERT INTO plans (id, changes) VALUES (15, changes())",
            vec![],
        ),
        ("UPDATE plans SET name = hex(randomblob(4))", vec![]),
        ("INSERT INTO audit (id, what) VALUES (3, 'z')", vec![]),
        ("INSERT INTO audit DEFAULT VALUES", vec![]),
    ] {
        refused(&h, sql, &params, None, ErrorCode::Unsupported);
    }
    h.check_invariants();
}

#[test]
fn generated_ids_never_repeat_ids_given_explicitly() {
    let policy = r#"{"name": "t", "capacity": {"mode": "manual", "targetShardCount": 1},
      "sharding": {"tables": [{"name": "posts", "keyColumn": "tenantId"}]}}"#;
    let h = Harness::new(policy, &SHARD_COUNTS);
    h.exec("CREATE TABLE posts (id INTEGER PRIMARY KEY, tenantId TEXT NOT NULL, body TEXT)");
    // An imported table: ids 1..300 spread over every shard by their tenants.
    for chunk in (1..=300).collect::<Vec<i64>>().chunks(30) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|id| format!("({id}, 't{}', 'b')", id % 17))
            .collect();
        let sql = format!(
            "INSERT INTO posts (id, tenantId, body) VALUES {}",
            rows.join(", ")
        );
        assert!(matches!(h.run(&sql, &[], None), Outcome::Ok(_)), "{sql}");
    }
    for s in &h.shards {
        for tenant in ["t1", "t2", "t3", "t16", "new"] {
            futures::executor::block_on(s.db.query(
                "INSERT INTO posts (tenantId, body) VALUES (?, 'g'), (?, 'h')",
                &[t(tenant), t(tenant)],
                None,
            ))
            .unwrap_or_else(|e| panic!("{} shards: {e}", s.n));
        }
        let r = futures::executor::block_on(s.db.query(
            "SELECT count(*), count(DISTINCT id) FROM posts",
            &[],
            None,
        ))
        .unwrap();
        assert_eq!(
            r.rows,
            vec![vec![i(310), i(310)]],
            "{} shards: ids repeat",
            s.n
        );
    }
    // Ids that would let SQLite or another shard pick an id twice are refused.
    refused(
        &h,
        "INSERT INTO posts (id, tenantId) VALUES (NULL, 'x')",
        &[],
        None,
        ErrorCode::CrossShard,
    );
    // The upper half of slot 63's range: reserved for the last shard of 64 (no shard
    // count places tenant 't0' there) or, below 64 shards, for a shard a split will add.
    let reserved = 63 * (1i64 << 47) + (1 << 46) + 5;
    for s in &h.shards {
        let plan = s.db.plan(
            "INSERT INTO posts (id, tenantId) VALUES (?, 't0')",
            &[i(reserved)],
            None,
        );
        let shard_of_t0 =
            d1plus::placement::shard_for_key(&t("t0"), d1plus::value::Affinity::Text, s.n).unwrap();
        let owner = (s.n == 64).then_some(63);
        match plan {
            Ok(_) => assert_eq!(owner, Some(shard_of_t0), "{} shards", s.n),
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::CrossShard, "{e}");
                assert_ne!(owner, Some(shard_of_t0), "{} shards", s.n);
            }
        }
    }
}

#[test]
fn last_row_id_is_the_rowid_of_the_callers_last_row() {
    let policy = r#"{"name": "t", "capacity": {"mode": "manual", "targetShardCount": 1},
      "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}]}}"#;
    let h = Harness::new(policy, &SHARD_COUNTS);
    h.exec("CREATE TABLE events (id INTEGER PRIMARY KEY, tenantId TEXT NOT NULL, kind TEXT)");
    let mut rng = Rng::from_env(0x1a57);
    let mut next = 1;
    for round in 0..40 {
        let n = 1 + rng.below(6) as usize;
        let rows: Vec<String> = (0..n)
            .map(|_| {
                next += 1 + rng.below(3) as i64;
                format!(
                    "('{}', {}, 'k')",
                    rng.pick(&TENANTS),
                    next * 7 % 1000 + round * 1000
                )
            })
            .collect();
        let ignore = if rng.chance(30) { "OR IGNORE " } else { "" };
        let sql = format!(
            "INSERT {ignore}INTO events (tenantId, id, kind) VALUES {}",
            rows.join(", ")
        );
        h.oracle.execute(&sql, []).unwrap();
        let want = h.oracle.last_insert_rowid();
        let changes = h.oracle.changes();
        for s in &h.shards {
            let r = futures::executor::block_on(s.db.query(&sql, &[], None))
                .unwrap_or_else(|e| panic!("{} shards: {sql}: {e}", s.n));
            assert_eq!(r.meta.changes, changes, "{} shards: {sql}", s.n);
            if changes > 0 {
                assert_eq!(r.meta.last_row_id, want, "{} shards: {sql}", s.n);
            }
        }
    }
    h.check_invariants();
}

/// A sharded table whose key column is missing, compares as NOCASE or has REAL affinity is
/// refused at CREATE TABLE (it used to fail only at the first INSERT), on no shard.
#[test]
fn create_table_checks_the_shard_key_column() {
    let policy = r#"{"name": "k", "capacity": {"mode": "manual", "targetShardCount": 1},
      "sharding": {"tables": [{"name": "docs", "keyColumn": "owner"}]}}"#;
    let h = Harness::new(policy, &SHARD_COUNTS);
    for (sql, code, says) in [
        (
            "CREATE TABLE docs (id INTEGER, body TEXT)",
            ErrorCode::NoShardKey,
            "does not have",
        ),
        (
            "CREATE TABLE docs (owner TEXT COLLATE NOCASE, id INTEGER)",
            ErrorCode::InvalidShardKey,
            "COLLATE NOCASE",
        ),
        (
            "CREATE TABLE docs (owner REAL, id INTEGER)",
            ErrorCode::InvalidShardKey,
            "REAL affinity",
        ),
        (
            "CREATE TABLE docs (owner FLOAT, id INTEGER)",
            ErrorCode::InvalidShardKey,
            "REAL affinity",
        ),
    ] {
        match h.run(sql, &[], None) {
            Outcome::Refused(e) => {
                assert_eq!(e.code(), code, "{sql}: {e}");
                assert!(e.to_string().contains(says), "{e}");
            }
            Outcome::Ok(_) => panic!("accepted: {sql}"),
        }
    }
    // What is accepted: the key under another case, BINARY spelled out, no type at all.
    h.exec("CREATE TABLE docs (OWNER TEXT COLLATE BINARY, id INTEGER)");
    h.exec("DROP TABLE docs; CREATE TABLE docs (owner, id INTEGER)");
    h.check_invariants();
}
