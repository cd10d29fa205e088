//! Window functions across shards (`rank() OVER (ORDER BY score DESC)` over every
//! tenant's rows): the table's rows WHERE keeps are read first and the windows run on the
//! coordinator, over a table whose columns carry the table's affinity and collation.
//! Checked against one SQLite over 1 to 64 shards, on skewed tenants (most shards empty at
//! 64), ties in the window's order, NOCASE spellings, every storage class in one column,
//! and integers near 2^62.

mod common;

use common::{Harness, Rng, SHARD_COUNTS};
use d1plus::value::Value;

const POLICY: &str = r#"{"name": "w", "capacity": {"mode": "manual", "targetShardCount": 1},
  "sharding": {"tables": [{"name": "scores", "keyColumn": "tenant"}], "reference": ["levels"]}}"#;

/// `pts` has ties; `name` two spellings of a value under NOCASE; `note` every storage class;
/// `num` NUMERIC; `big` near 2^62; `lvl` generated, TEXT; `(tenant, id)` is unique.
fn harness(rng: &mut Rng) -> Harness {
    let h = Harness::new(POLICY, &SHARD_COUNTS);
    h.exec(
        "CREATE TABLE scores (tenant TEXT NOT NULL, id INTEGER NOT NULL, name TEXT COLLATE NOCASE,
                              pts INTEGER, speed REAL, note, num NUMERIC, big INTEGER,
                              lvl TEXT GENERATED ALWAYS AS (pts / 40) VIRTUAL,
                              PRIMARY KEY (tenant, id));
         CREATE TABLE levels (lvl INTEGER PRIMARY KEY, title TEXT);
         INSERT INTO levels VALUES (1, 'bronze'), (2, 'silver');",
    );
    let tenants = ["t0", "t0", "t0", "t0", "t1", "t2", "t3", "t4", "t5", "t6"];
    let notes = [
        Value::Integer(1),
        Value::Text("1".into()),
        Value::Real(1.5),
        Value::Text("x".into()),
        Value::Blob(vec![1, 2]),
        Value::Null,
    ];
    for id in 0..90_i64 {
        let row = [
            Value::Text(rng.pick(&tenants).to_string()),
            Value::Integer(id % 30),
            Value::Text(rng.pick(&["Apple", "apple", "pear", "FIG"]).to_string()),
            match rng.below(12) {
                0 => Value::Null,
                n => Value::Integer(n as i64 * 10),
            },
            Value::Real(rng.below(1000) as f64 / 7.0),
            rng.pick(&notes).clone(),
            Value::Text(rng.pick(&["5", "5.5", "abc", "12"]).to_string()),
            Value::Integer(*rng.pick(&[1_i64 << 61, 3, -(1_i64 << 61)])),
        ];
        // Ids repeat across tenants, never within one.
        let _ = h.run(
            "INSERT OR IGNORE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &row,
            None,
        );
    }
    h
}

/// Statements d1plus answers: (SQL, whether its ORDER BY makes the order total).
const ANSWERED: &[(&str, bool)] = &[
    // Ranks give equal rows equal ranks: ties need no check.
    ("SELECT tenant, id, pts, rank() OVER (ORDER BY pts DESC) FROM scores", false),
    ("SELECT tenant, id, dense_rank() OVER (ORDER BY pts), percent_rank() OVER (ORDER BY pts DESC NULLS LAST), cume_dist() OVER (ORDER BY pts) FROM scores", false),
    ("SELECT tenant, id, name, rank() OVER (ORDER BY name) FROM scores", false),
    ("SELECT tenant, id, rank() OVER (PARTITION BY name ORDER BY pts DESC) AS r FROM scores ORDER BY tenant, id", true),
    ("SELECT tenant, id, note, rank() OVER (ORDER BY note) FROM scores", false),
    // Order-free aggregates over the default frame, and over the whole partition.
    ("SELECT tenant, id, sum(pts) OVER (ORDER BY pts), count(*) OVER (PARTITION BY name), max(speed) OVER (PARTITION BY pts) FROM scores", false),
    ("SELECT tenant, id, total(speed) OVER (), avg(pts) OVER (PARTITION BY note) FROM scores", false),
    ("SELECT tenant, id, min(name) OVER (PARTITION BY pts) FROM scores WHERE name = 'pear'", false),
    // Order-dependent windows over a total order.
    ("SELECT tenant, id, row_number() OVER (ORDER BY pts DESC, tenant, id) AS rn FROM scores ORDER BY rn", true),
    ("SELECT tenant, id, pts, lag(pts) OVER (ORDER BY tenant, id), lead(id, 2, -1) OVER (ORDER BY id, tenant) FROM scores", false),
    ("SELECT tenant, id, sum(pts) OVER (ORDER BY tenant, id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM scores", false),
    ("SELECT tenant, id, first_value(name) OVER (PARTITION BY pts ORDER BY tenant, id), ntile(3) OVER (ORDER BY id, tenant) FROM scores", false),
    ("SELECT s.tenant, s.id, row_number() OVER (PARTITION BY s.name ORDER BY s.speed, s.tenant, s.id) FROM scores AS s", false),
    // Top N by rank; WHERE first, with parameters; an alias read in ORDER BY.
    ("SELECT tenant, id, pts, rank() OVER (ORDER BY pts DESC NULLS LAST, tenant, id) AS r FROM scores ORDER BY r LIMIT 5", true),
    ("SELECT tenant, id, row_number() OVER (ORDER BY speed DESC, tenant, id) AS rn FROM scores WHERE pts > 30 ORDER BY rn LIMIT 3 OFFSET 2", true),
    ("SELECT tenant, id, rank() OVER (ORDER BY pts) FROM scores WHERE num > 6", false),
    ("SELECT tenant, id, rank() OVER (ORDER BY pts) FROM scores WHERE num = '5'", false),
    // Windows over groups.
    ("SELECT lower(name) AS n, count(*), rank() OVER (ORDER BY count(*) DESC) FROM scores GROUP BY n", false),
    ("SELECT pts, sum(speed) AS s, dense_rank() OVER (ORDER BY pts DESC) FROM scores GROUP BY pts ORDER BY pts", true),
    ("SELECT tenant, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC, tenant) AS rn FROM scores GROUP BY tenant ORDER BY rn", true),
    // Aggregates inside a window's aggregate: checked per group.
    ("SELECT pts, count(*), sum(count(*)) OVER (ORDER BY pts), max(min(speed)) OVER (), avg(max(id)) OVER (PARTITION BY pts > 50) FROM scores GROUP BY pts", false),
    ("SELECT count(*), sum(count(*)) OVER () FROM scores", false),
    ("SELECT pts / 30 AS b, ntile(2) OVER (ORDER BY pts / 30), lead(count(*)) OVER (ORDER BY pts / 30) FROM scores WHERE pts IS NOT NULL GROUP BY b", false),
    // Rows no shard holds, and WHERE on the key.
    ("SELECT tenant, id, rank() OVER (ORDER BY pts) FROM scores WHERE pts > 1000", false),
    ("SELECT tenant, id, rank() OVER (ORDER BY pts) FROM scores WHERE tenant IN ('t1', 't2', 't3')", false),
    // Integers near 2^62 in a running sum that stays within 2^63.
    ("SELECT tenant, id, sum(big) OVER (PARTITION BY tenant, id) FROM scores", false),
    // The columns' affinity and collation in expressions beside the window.
    ("SELECT tenant, id, num = '5', pts > '30', name = 'APPLE', name < 'b', rank() OVER (ORDER BY num) FROM scores", false),
    ("SELECT tenant, id, name, max(pts) OVER (PARTITION BY name), rank() OVER (ORDER BY name, pts) FROM scores", false),
    // DISTINCT over a window's values (checked for equal values that differ).
    ("SELECT DISTINCT name COLLATE BINARY, count(*) OVER (PARTITION BY name) FROM scores", false),
    ("SELECT DISTINCT tenant, max(pts) OVER (PARTITION BY tenant) FROM scores", false),
    ("SELECT DISTINCT lower(name), rank() OVER (ORDER BY count(*) DESC) FROM scores GROUP BY lower(name)", false),
    // * and a window; `*` gives the generated column.
    ("SELECT *, rank() OVER (ORDER BY speed) FROM scores", false),
    ("SELECT tenant, id, lvl, lvl = 1, rank() OVER (ORDER BY lvl DESC) FROM scores", false),
    ("SELECT count(*), max(lvl), min(lvl), sum(pts) FROM (SELECT * FROM scores GROUP BY tenant, id)", false),
];

/// Statements d1plus must refuse: the answer depends on the order one database meets the
/// rows, or the statement reads what the rows read first do not hold.
const REFUSED: &[&str] = &[
    // Rows equal in the window's ORDER BY differ.
    "SELECT tenant, id, row_number() OVER (ORDER BY pts) FROM scores",
    "SELECT tenant, id, lag(id) OVER (PARTITION BY name ORDER BY pts) FROM scores",
    "SELECT tenant, id, sum(pts) OVER (ORDER BY name ROWS 1 PRECEDING) FROM scores",
    // LIMIT among rows equal in the ORDER BY.
    "SELECT tenant, pts, rank() OVER (ORDER BY pts) AS r FROM scores ORDER BY r LIMIT 3",
    // A running sum past 2^63.
    "SELECT tenant, id, sum(big) OVER (ORDER BY tenant, id) FROM scores WHERE big > 0",
    // rowid is not among the rows read first; an output alias in WHERE.
    "SELECT rowid, rank() OVER (ORDER BY pts) FROM scores",
    "SELECT pts * 2 AS p2, rank() OVER (ORDER BY pts) FROM scores WHERE p2 > 40",
    // 'Apple' and 'apple' in one NOCASE group: which one shows is the order's choice.
    "SELECT name, count(*), rank() OVER (ORDER BY count(*) DESC) FROM scores GROUP BY name",
    // A running sum of the groups' maxima past 2^63.
    "SELECT tenant, sum(max(big)) OVER (ORDER BY tenant) FROM scores GROUP BY tenant",
    // Groups equal in the window's ORDER BY.
    "SELECT tenant, row_number() OVER (ORDER BY count(*) > 0) FROM scores GROUP BY tenant",
    // Under DISTINCT, values of a window's expression that compare equal but differ.
    "SELECT DISTINCT CASE WHEN rank() OVER (ORDER BY id, tenant) % 2 = 0 THEN 'A' ELSE 'a' END COLLATE NOCASE FROM scores",
    // A named window.
    "SELECT tenant, id, rank() OVER w FROM scores WINDOW w AS (ORDER BY pts)",
];

#[test]
fn window_functions_across_shards_match_the_oracle() {
    let mut rng = Rng::from_env(0x1d0);
    let h = harness(&mut rng);
    h.assert_answered(ANSWERED);
    let sql = "SELECT tenant, id, rank() OVER (ORDER BY pts DESC) AS r FROM scores WHERE pts >= ? AND name <> ?2 ORDER BY r, tenant, id LIMIT ?3";
    let params = [
        Value::Integer(40),
        Value::Text("FIG".into()),
        Value::Integer(4),
    ];
    assert_eq!(h.compare_with(sql, &params, true), Ok(true), "{sql}");
}

#[test]
fn order_dependent_windows_across_shards_are_refused() {
    let mut rng = Rng::from_env(0x1d0);
    let h = harness(&mut rng);
    h.assert_refused(REFUSED);
    let message = |sql: &str| h.query_n(4, sql, &[]).unwrap_err().to_string();
    let m = message(REFUSED[0]);
    assert!(
        m.contains("with window functions across shards, rows equal in the PARTITION BY and ORDER BY of row_number() differ")
            && m.contains("add ORDER BY terms to the window"),
        "{m}"
    );
    assert!(message(REFUSED[3]).contains("LIMIT or OFFSET falls among rows equal"));
    assert!(message(REFUSED[4]).contains("past 2^63"));
    // Where the rows read first cannot answer, the planner's refusal stands.
    assert!(message(REFUSED[5]).contains("not partitioned by the shard key"));
}

#[test]
fn a_window_partitioned_by_the_shard_key_still_runs_on_the_shards() {
    let mut rng = Rng::from_env(0x1d0);
    let h = harness(&mut rng);
    // Each tenant's rows are on one shard: the shards compute the window.
    let sql = "SELECT tenant, id, rank() OVER (PARTITION BY tenant ORDER BY pts) FROM scores";
    assert_eq!(h.compare(sql, false), Ok(true));
    let r = h.query_n(8, sql, &[]).unwrap();
    assert!(r.meta.shards.len() > 1);
}
