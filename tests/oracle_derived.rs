//! A FROM subquery over sharded tables under an outer query that reads nothing else
//! (`SELECT count(*) FROM (SELECT DISTINCT …)`, aggregates of aggregates, a `WITH` read
//! once): the subquery runs first, merged across shards, and the outer query runs on the
//! coordinator over its rows, in a table whose columns carry the subquery columns'
//! affinity and collation. Checked against one SQLite over 1 to 64 shards on data that
//! attacks exactly that: mixed storage classes, NOCASE and RTRIM columns, CAST, COLLATE and
//! unary `+` in the subquery's outputs, comparisons that convert under an affinity.

mod common;

use common::{Harness, Outcome, Rng, SHARD_COUNTS};
use d1plus::value::Value;

const POLICY: &str = r#"{"name": "d", "capacity": {"mode": "manual", "targetShardCount": 1},
  "sharding": {"tables": [{"name": "items", "keyColumn": "tenant"}], "reference": ["kinds"]}}"#;

/// Skewed tenants (one holds most rows; with 64 shards most are empty). `name` has one
/// spelling per value, `alias` two (`Apple`, `apple`); `note` holds every storage class,
/// `mixed` holds `1` and `1.0`; `num` is NUMERIC; `big` near 2^62.
fn harness(rng: &mut Rng) -> Harness {
    let h = Harness::new(POLICY, &SHARD_COUNTS);
    h.exec(
        "CREATE TABLE items (tenant TEXT NOT NULL, id INTEGER NOT NULL, name TEXT COLLATE NOCASE,
                             tag TEXT COLLATE RTRIM, qty INTEGER, price REAL, note, num NUMERIC,
                             alias TEXT, mixed, big INTEGER, PRIMARY KEY (tenant, id));
         CREATE TABLE kinds (k TEXT PRIMARY KEY, label TEXT);
         INSERT INTO kinds VALUES ('Apple', 'fruit'), ('pear', 'fruit');",
    );
    let tenants = ["t0", "t0", "t0", "t0", "t1", "t2", "t3", "t4", "t5", "t6"];
    let notes = [
        Value::Integer(1),
        Value::Text("1".into()),
        Value::Real(1.5),
        Value::Text("x".into()),
        Value::Blob(vec![1, 2]),
        Value::Null,
        Value::Integer(2),
    ];
    for id in 0..120_i64 {
        let row = [
            Value::Text(rng.pick(&tenants).to_string()),
            Value::Integer(id),
            Value::Text(rng.pick(&["Apple", "pear", "FIG", "kiwi"]).to_string()),
            Value::Text(rng.pick(&["x", "y", "z"]).to_string()),
            match rng.below(9) {
                0 => Value::Null,
                1 => Value::Text("7".into()),
                n => Value::Integer(n as i64),
            },
            Value::Real(rng.below(40) as f64 / 4.0 + 0.1),
            rng.pick(&notes).clone(),
            Value::Text(rng.pick(&["5", "5.5", "abc", "12"]).to_string()),
            Value::Text(rng.pick(&["Apple", "apple", "pear"]).to_string()),
            rng.pick(&[Value::Integer(1), Value::Real(1.0), Value::Integer(3)])
                .clone(),
            Value::Integer(rng.pick(&[1_i64 << 61, 3, -(1_i64 << 61)]).to_owned()),
        ];
        let out = h.run(
            "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &row,
            None,
        );
        assert!(matches!(out, Outcome::Ok(_)), "{out:?}");
    }
    h
}

/// Statements d1plus answers: (SQL, whether its ORDER BY makes the order total).
const ANSWERED: &[(&str, bool)] = &[
    ("SELECT count(*) FROM (SELECT DISTINCT name FROM items)", false),
    ("SELECT count(*) FROM (SELECT tenant FROM items GROUP BY tenant)", false),
    ("SELECT count(*), sum(n), avg(n), min(n), max(n), total(n) FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant)", false),
    ("SELECT name, n FROM (SELECT name, count(*) AS n FROM items GROUP BY name) WHERE n > 3 ORDER BY n DESC, name", true),
    // NOCASE through the subquery's column: 'APPLE' finds 'Apple'.
    ("SELECT * FROM (SELECT name, count(*) FROM items GROUP BY name) WHERE name = 'APPLE'", false),
    ("SELECT n FROM (SELECT DISTINCT name AS n FROM items) ORDER BY n", true),
    // INTEGER affinity converts '3'; an expression has none and does not.
    ("SELECT q FROM (SELECT DISTINCT qty AS q FROM items) WHERE q = '3'", false),
    ("SELECT q FROM (SELECT DISTINCT qty + 0 AS q FROM items) WHERE q = '3'", false),
    // CAST gives TEXT affinity: 3 becomes '3'.
    ("SELECT t FROM (SELECT DISTINCT CAST(qty AS TEXT) AS t FROM items) WHERE t = 3", false),
    ("SELECT t, typeof(t) FROM (SELECT DISTINCT CAST(qty AS TEXT) AS t FROM items) WHERE t > 5 ORDER BY t", true),
    // COLLATE BINARY over a NOCASE column, unary + keeping NOCASE, upper() without one.
    ("SELECT n FROM (SELECT DISTINCT name COLLATE BINARY AS n FROM items) WHERE n = 'apple'", false),
    ("SELECT n FROM (SELECT DISTINCT name COLLATE BINARY AS n FROM items) ORDER BY n", true),
    ("SELECT n FROM (SELECT DISTINCT +name AS n FROM items) WHERE n = 'apple'", false),
    ("SELECT n FROM (SELECT DISTINCT upper(name) AS n FROM items) WHERE n = 'apple'", false),
    ("SELECT n FROM (SELECT DISTINCT lower(name) COLLATE NOCASE AS n FROM items) WHERE n = 'APPLE'", false),
    // RTRIM: trailing spaces do not count.
    ("SELECT tag, c FROM (SELECT tag, count(*) AS c FROM items GROUP BY tag) WHERE tag = 'x   '", false),
    ("SELECT count(*) FROM (SELECT DISTINCT tag FROM items) WHERE tag IN ('y ', 'z  ')", false),
    // Every storage class in an untyped column: no affinity on either side of `=`.
    ("SELECT note, c FROM (SELECT note, count(*) AS c FROM items GROUP BY note) WHERE note = 1", false),
    ("SELECT note, c FROM (SELECT note, count(*) AS c FROM items GROUP BY note) ORDER BY note", true),
    ("SELECT typeof(note), count(*) FROM (SELECT DISTINCT note FROM items) GROUP BY 1 ORDER BY 1", true),
    // NUMERIC affinity: '5' is 5, '12' > '5' numerically.
    ("SELECT num FROM (SELECT DISTINCT num FROM items) WHERE num = '5'", false),
    ("SELECT num, typeof(num) FROM (SELECT DISTINCT num FROM items) WHERE num > 6 ORDER BY num", true),
    // Aggregates of aggregates, with HAVING, GROUP BY an alias or an ordinal.
    ("SELECT max(c) - min(c), count(*) FROM (SELECT tenant, count(*) AS c FROM items GROUP BY tenant)", false),
    ("SELECT avg(c) > 10, max(c) BETWEEN 1 AND 100, CASE WHEN sum(c) > 5 THEN 'many' END FROM (SELECT count(*) AS c FROM items GROUP BY tag)", false),
    ("SELECT n % 3 AS m, CASE n % 3 WHEN 0 THEN 'zero' ELSE 'other' END, count(*) FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant) GROUP BY n % 3 ORDER BY m", true),
    ("SELECT tag, rank() OVER (ORDER BY count(*) DESC) FROM (SELECT tag, tenant FROM items GROUP BY tag, tenant) GROUP BY tag", false),
    ("SELECT n / 10 AS bucket, count(*) FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant) GROUP BY bucket ORDER BY bucket", true),
    ("SELECT n, count(*) FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant) GROUP BY 1 HAVING count(*) >= 1 ORDER BY 2 DESC, 1", true),
    ("SELECT DISTINCT c FROM (SELECT tenant, count(*) AS c FROM items GROUP BY tenant) ORDER BY c", true),
    ("SELECT avg(s), sum(s) FROM (SELECT sum(qty) AS s FROM items GROUP BY tenant, name)", false),
    ("SELECT * FROM (SELECT tenant, name, sum(qty) AS s FROM items GROUP BY tenant, name) WHERE s > 5 ORDER BY tenant, name", true),
    ("SELECT count(*), count(DISTINCT name), count(DISTINCT tag) FROM (SELECT * FROM items WHERE qty > 2)", false),
    ("SELECT count(*) FROM (SELECT DISTINCT tenant, qty, price FROM items)", false),
    ("SELECT name, count(*) FROM (SELECT DISTINCT tenant, name FROM items) GROUP BY name ORDER BY 1", true),
    ("SELECT count(*) FILTER (WHERE n > 3), max(n) FILTER (WHERE tenant <> 't0') FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant)", false),
    ("WITH per AS (SELECT tenant, count(*) AS n, sum(qty) AS s FROM items GROUP BY tenant) SELECT count(*), max(s) FROM per WHERE n > 2", false),
    ("WITH names AS (SELECT DISTINCT name FROM items WHERE qty > 1) SELECT count(*) FROM names", false),
    // A join inside the subquery (with the reference table), nothing read outside.
    ("SELECT label, count(*) FROM (SELECT i.tenant, k.label FROM items i JOIN kinds k ON k.k = i.name) GROUP BY label ORDER BY 1", true),
    // A column neither grouped nor aggregated that has one value in every group (of the
    // type and spelling one database would show from any row).
    ("SELECT s, m, count(*) FROM (SELECT tenant AS t, id % 3 AS m, id % 6 AS s FROM items) GROUP BY s ORDER BY s", true),
    ("SELECT s, m + 1, max(t) FROM (SELECT tenant AS t, id % 3 AS m, id % 6 AS s FROM items) GROUP BY s HAVING m >= 0 ORDER BY m, s", true),
    ("SELECT m, count(*) FROM (SELECT tenant AS t, 7 AS m FROM items)", false),
    // No rows at all.
    ("SELECT count(*), max(n), sum(n) FROM (SELECT tenant, count(*) AS n FROM items WHERE qty > 1000 GROUP BY tenant)", false),
    ("SELECT * FROM (SELECT name, count(*) AS n FROM items WHERE qty > 1000 GROUP BY name) ORDER BY n", false),
    // Sums of sums near 2^62 that stay within 2^63: checked, answered.
    ("SELECT sum(b) FROM (SELECT DISTINCT big AS b FROM items)", false),
    ("SELECT typeof(p), p FROM (SELECT tenant, max(price) AS p FROM items GROUP BY tenant) ORDER BY p, 1", false),
    // Qualified by the subquery's alias, in the checked expressions too.
    ("SELECT d.name, max(d.n), sum(d.n) FROM (SELECT tenant, name, count(*) AS n FROM items GROUP BY tenant, name) AS d GROUP BY d.name ORDER BY 1", true),
    ("SELECT DISTINCT d.tag FROM (SELECT tag FROM items GROUP BY tag) d", false),
    // The subquery's own order.
    ("SELECT * FROM (SELECT name, count(*) AS n FROM items GROUP BY name ORDER BY n DESC, name)", true),
    // LIMIT and OFFSET where no bound falls among rows equal in the ORDER BY that differ.
    ("SELECT name, n FROM (SELECT name, count(*) AS n FROM items GROUP BY name) ORDER BY n DESC, name LIMIT 2", true),
    ("SELECT tenant, n FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant) ORDER BY 2 DESC, 1 LIMIT 3 OFFSET 1", true),
    ("SELECT * FROM (SELECT DISTINCT name FROM items) d ORDER BY d.name LIMIT 10", true),
    ("SELECT n FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant) ORDER BY n LIMIT 2", true),
    ("SELECT t AS x FROM (SELECT tenant AS t, count(*) AS n FROM items GROUP BY tenant) WHERE n > 0 ORDER BY x DESC LIMIT 2, 3", true),
    ("SELECT count(*) FROM (SELECT DISTINCT name FROM items) LIMIT 1", false),
    // Ranks give equal rows equal ranks; order-free aggregates over the default frame take
    // in every row equal to the current one: no order among equal rows shows.
    ("SELECT name, n, rank() OVER (ORDER BY n DESC) FROM (SELECT name, count(*) AS n FROM items GROUP BY name)", false),
    ("SELECT tenant, n, dense_rank() OVER (ORDER BY n), percent_rank() OVER (ORDER BY n), cume_dist() OVER (ORDER BY n) FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant)", false),
    ("SELECT tenant, name, s, sum(s) OVER (PARTITION BY tenant), max(s) OVER (PARTITION BY name ORDER BY s), count(*) OVER () FROM (SELECT tenant, name, sum(qty) AS s FROM items GROUP BY tenant, name)", false),
    ("SELECT a, rank() OVER (ORDER BY a COLLATE NOCASE) FROM (SELECT DISTINCT alias AS a FROM items)", false),
    ("SELECT n, avg(n) OVER (ORDER BY n RANGE UNBOUNDED PRECEDING) IS NULL FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant)", false),
    // Order-dependent windows where no two rows equal in the window's PARTITION BY and
    // ORDER BY differ: their order is every database's.
    ("SELECT name, row_number() OVER (ORDER BY n DESC, name) FROM (SELECT name, count(*) AS n FROM items GROUP BY name)", false),
    ("SELECT tenant, n, lag(n, 1, -1) OVER (ORDER BY tenant), lead(tenant) OVER (ORDER BY tenant DESC), first_value(n) OVER (ORDER BY tenant ROWS 1 PRECEDING) FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant)", false),
    ("SELECT tenant, sum(n) OVER (ORDER BY tenant ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), group_concat(tenant, '/') OVER (ORDER BY tenant) FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant)", false),
    ("SELECT name, tenant, row_number() OVER (PARTITION BY name ORDER BY tenant) AS rn, ntile(2) OVER (PARTITION BY tenant ORDER BY name) FROM (SELECT DISTINCT name, tenant FROM items) ORDER BY name, rn", true),
    // Rows alike in every column may come in any order.
    ("SELECT t, row_number() OVER (ORDER BY t) FROM (SELECT tenant AS t FROM items WHERE tenant <> 't0')", false),
    // Over groups, told apart by the window's ORDER BY.
    ("SELECT tag, count(*) AS c, row_number() OVER (ORDER BY count(*) DESC, tag) AS rn, lag(tag) OVER (ORDER BY tag) FROM (SELECT tag, tenant FROM items GROUP BY tag, tenant) GROUP BY tag HAVING count(*) > 0", false),
    ("SELECT count(*), row_number() OVER (ORDER BY count(*)) FROM (SELECT DISTINCT tag FROM items)", false),
    // Row numbers, then a LIMIT over them.
    ("SELECT name, row_number() OVER (ORDER BY n DESC, name) AS rn FROM (SELECT name, count(*) AS n FROM items GROUP BY name) ORDER BY rn LIMIT 2", true),
];

/// A FROM subquery that only filters and projects is read like its table on each shard;
/// its outputs' collation and affinity, read through an alias, must reach the merge (they
/// did not: `max(c0)` over `n AS c0` of a NOCASE column merged as BINARY).
const THROUGH_AN_ALIAS: &[(&str, bool)] = &[
    ("SELECT min(c0), max(c0) FROM (SELECT i.name AS c0 FROM items i) AS d", false),
    ("SELECT c0 FROM (SELECT name AS c0, id FROM items) AS d ORDER BY c0, id", false),
    ("SELECT c0, count(*) FROM (SELECT name AS c0 FROM items WHERE qty > 1) AS d GROUP BY c0 ORDER BY 1", true),
    ("SELECT c0, max(p) FROM (SELECT tag AS c0, price AS p FROM items) GROUP BY c0 ORDER BY c0", true),
    ("SELECT max(q), min(q) FROM (SELECT num AS q FROM items) AS d", false),
    ("SELECT q, count(*) FROM (SELECT num AS q FROM items) GROUP BY q ORDER BY q", true),
    ("SELECT max(c0) FROM (SELECT name COLLATE BINARY AS c0 FROM items) AS d", false),
    ("SELECT c0, count(*) FROM (SELECT CAST(qty AS TEXT) AS c0 FROM items) GROUP BY c0 ORDER BY c0", true),
    ("SELECT max(c0), min(c0) FROM (SELECT +name AS c0 FROM items) AS d", false),
    ("WITH w AS (SELECT name AS who, qty FROM items) SELECT max(who), min(who) FROM w", false),
];

/// Statements d1plus must refuse (the answer depends on the order one database meets the
/// subquery's rows, or is not combinable yet). Those grouped by the key show it under
/// another name: a subquery showing its key is read like a table (`tests/oracle_keyed.rs`).
const REFUSED: &[&str] = &[
    "SELECT group_concat(name) FROM (SELECT DISTINCT name FROM items)",
    // Four names in two classes of the window's ORDER BY: rows equal there differ, and
    // which comes first is the order's choice.
    "SELECT name, row_number() OVER (ORDER BY n % 2) FROM (SELECT name, count(*) AS n FROM items GROUP BY name)",
    "SELECT name FROM (SELECT name, count(*) AS n FROM items GROUP BY name) GROUP BY name ORDER BY 1 LIMIT 1",
    "SELECT t FROM (SELECT DISTINCT tenant AS t FROM items) LIMIT 1",
    "SELECT t FROM (SELECT tenant AS t, 1 AS one FROM items GROUP BY tenant) ORDER BY one LIMIT 2 OFFSET 1",
    "SELECT n, sum(n) OVER (ORDER BY n % 2 ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant)",
    "SELECT n, lag(tenant) OVER (ORDER BY n % 2) FROM (SELECT tenant, count(*) AS n FROM items GROUP BY tenant)",
    "SELECT name, max(n) FROM (SELECT tenant AS t, name, count(*) AS n FROM items GROUP BY tenant, name)",
    "SELECT tag, rank() OVER (ORDER BY tenant) FROM (SELECT tag, tenant FROM items GROUP BY tag, tenant) GROUP BY tag",
    // 'Apple' and 'apple' meet under NOCASE: which one shows is the order's choice.
    "SELECT DISTINCT a COLLATE NOCASE FROM (SELECT DISTINCT alias AS a FROM items)",
    "SELECT a COLLATE NOCASE AS k, count(*) FROM (SELECT DISTINCT alias AS a FROM items) GROUP BY k",
    // 1 and 1.0 meet.
    "SELECT max(m) FROM (SELECT DISTINCT tenant AS t, mixed AS m FROM items)",
    // Positive values alone past 2^63.
    "SELECT sum(b) FROM (SELECT DISTINCT tenant AS t, big AS b FROM items WHERE big > 0)",
    // Two columns named alike.
    "SELECT count(*) FROM (SELECT name, name FROM items GROUP BY tenant, name)",
    // The subquery fails (its ORDER BY overflows) where one database pushes the outer
    // WHERE into it first and never meets the failing rows: refused, not an error.
    "SELECT c0 FROM (SELECT tenant AS c0 FROM items GROUP BY tenant ORDER BY sum(big + 4611686018427387904)) WHERE c0 = 'nobody'",
    "SELECT c0 FROM (SELECT tenant AS c0 FROM items GROUP BY tenant ORDER BY sum(big + 4611686018427387904)) ORDER BY c0",
    // A window function's values under DISTINCT.
    "SELECT DISTINCT max(n) OVER (PARTITION BY t) FROM (SELECT DISTINCT tenant AS t, mixed AS n FROM items)",
    // `*` under DISTINCT beside a window sum past 2^63.
    "SELECT DISTINCT *, sum(b) OVER () FROM (SELECT DISTINCT tenant, big AS b FROM items WHERE big > 0)",
    // A column beside max(): SQLite takes it from a row holding the maximum, and among
    // tied rows which one depends on the plan it runs the subquery with inside the
    // statement (found by the generator: 1.0 where SQLite showed '1').
    "SELECT c1 FROM (SELECT max(tenant) AS c0, mixed AS c1 FROM items) WHERE c1 = 1 OR c1 = '1'",
    // Reads a table besides the subquery.
    "SELECT count(*) FROM (SELECT DISTINCT name FROM items) d JOIN kinds k ON k.k = d.name",
    // A column neither grouped nor aggregated with two values in one group.
    "SELECT m, s, count(*) FROM (SELECT tenant AS t, id % 3 AS m, id % 6 AS s FROM items) GROUP BY m",
    "SELECT max(n), name FROM (SELECT tenant AS t, name, count(*) AS n FROM items GROUP BY tenant, name)",
    // An order-dependent window over groups, all equal in its ORDER BY (three tags of one
    // length).
    "SELECT tag, row_number() OVER (ORDER BY length(tag) % 2) FROM (SELECT tag, tenant FROM items GROUP BY tag, tenant) GROUP BY tag",
];

#[test]
fn outer_queries_over_a_from_subquery_match_the_oracle() {
    let mut rng = Rng::from_env(0xde1e);
    let h = harness(&mut rng);
    h.assert_answered(ANSWERED);
    // Parameters in the subquery and in the outer query.
    let sql = "SELECT name, n FROM (SELECT name, count(*) AS n FROM items WHERE qty > ? GROUP BY name) WHERE n >= ?2 ORDER BY name";
    let params = [Value::Integer(2), Value::Text("3".into())];
    assert_eq!(h.compare_with(sql, &params, true), Ok(true), "{sql}");
    let sql =
        "SELECT count(*) FROM (SELECT DISTINCT name FROM items WHERE qty > :q) WHERE name <> :n";
    let params = [Value::Integer(3), Value::Text("FIG".into())];
    assert_eq!(h.compare_with(sql, &params, false), Ok(true), "{sql}");
}

#[test]
fn a_subquery_read_like_its_table_keeps_its_columns_collation_and_affinity() {
    let mut rng = Rng::from_env(0xde1e);
    let h = harness(&mut rng);
    for (sql, ordered) in THROUGH_AN_ALIAS {
        match h.compare(sql, *ordered) {
            Ok(true) => {}
            Ok(false) => panic!("refused: {sql}: {:?}", h.query_n(4, sql, &[]).err()),
            Err(d) => panic!("{sql}\n{d}"),
        }
    }
}

#[test]
fn order_dependent_outer_queries_are_refused() {
    let mut rng = Rng::from_env(0xde1e);
    let h = harness(&mut rng);
    h.assert_refused(REFUSED);
}

#[test]
fn the_outer_query_names_the_construct_it_refuses() {
    let mut rng = Rng::from_env(0xde1e);
    let h = harness(&mut rng);
    let message = |sql: &str| h.query_n(4, sql, &[]).unwrap_err().to_string();
    assert!(
        message(REFUSED[0]).contains("group_concat()"),
        "{}",
        message(REFUSED[0])
    );
    assert!(message(REFUSED[1]).contains("PARTITION BY and ORDER BY of row_number() differ"));
    assert!(message(REFUSED[2]).contains("LIMIT or OFFSET over groups"));
    assert!(message(REFUSED[3]).contains("LIMIT or OFFSET falls among rows equal"));
    assert!(message(REFUSED[5]).contains("PARTITION BY and ORDER BY of sum() differ"));
    assert!(message(REFUSED[22]).contains("PARTITION BY and ORDER BY of row_number() differ"));
    assert!(message(REFUSED[7]).contains("column name neither grouped nor aggregated"));
    assert!(message(REFUSED[9]).contains("compare equal but differ"));
    assert!(message(REFUSED[12]).contains("past 2^63"));
    let bare = message(REFUSED[20]);
    assert!(
        bare.contains(
            "the column s neither grouped nor aggregated has different values in one group"
        ),
        "{bare}"
    );
}
