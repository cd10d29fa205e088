//! A column neither grouped nor aggregated beside one min() or max(): SQLite takes it from
//! the row holding the extreme ("the latest message of each sender"). Across shards d1plus
//! takes it from the shard whose partial row holds the extreme, and refuses where one
//! SQLite would pick among tied rows by the order it meets them.

mod common;

use common::{sqlite_query, Harness, Outcome, Rng, SHARD_COUNTS};
use d1plus::error::ErrorCode;
use d1plus::placement::shard_for_key;
use d1plus::value::{Affinity, Value};

const POLICY: &str = r#"{"name": "b", "capacity": {"mode": "manual", "targetShardCount": 1},
  "sharding": {"tables": [{"name": "msgs", "keyColumn": "convo"}], "reference": ["people"]}}"#;

/// Messages in skewed conversations; `at` is unique where it is not NULL, so the latest
/// message of any set of rows is one row.
fn harness(rng: &mut Rng) -> Harness {
    let h = Harness::new(POLICY, &SHARD_COUNTS);
    h.exec(
        "CREATE TABLE msgs (convo TEXT NOT NULL, id INTEGER NOT NULL, at INTEGER, body TEXT,
                            who TEXT COLLATE NOCASE, score REAL, PRIMARY KEY (convo, id));
         CREATE TABLE people (who TEXT PRIMARY KEY COLLATE NOCASE, team TEXT);
         INSERT INTO people VALUES ('ann', 'red'), ('bob', 'blue'), ('cy', 'red');",
    );
    let convos = ["c0", "c0", "c0", "c1", "c1", "c2", "c3", "c4", "c5"];
    for id in 0..150_i64 {
        let at = if rng.chance(8) {
            Value::Null
        } else {
            Value::Integer(id * 37 % 1009)
        };
        let row = [
            Value::Text(rng.pick(&convos).to_string()),
            Value::Integer(id),
            at,
            Value::Text(format!("m{id}")),
            Value::Text(rng.pick(&["ann", "bob", "cy"]).to_string()),
            Value::Real(rng.below(8) as f64 / 2.0),
        ];
        let out = h.run("INSERT INTO msgs VALUES (?, ?, ?, ?, ?, ?)", &row, None);
        assert!(matches!(out, Outcome::Ok(_)), "{out:?}");
    }
    h
}

#[test]
fn bare_columns_beside_one_min_or_max_match_the_oracle() {
    let mut rng = Rng::from_env(0xba5e);
    let h = harness(&mut rng);
    let answered: &[(&str, bool)] = &[
        ("SELECT max(at), body, convo FROM msgs", false),
        ("SELECT min(at), body, who, score FROM msgs", false),
        ("SELECT max(at), body FROM msgs WHERE convo IN ('c1', 'c4')", false),
        ("SELECT who, max(at), body FROM msgs GROUP BY who ORDER BY who", true),
        ("SELECT who, max(at), body FROM msgs GROUP BY who ORDER BY 2 DESC LIMIT 2", true),
        ("SELECT who, count(*), max(at) AS last, upper(body) AS b FROM msgs GROUP BY who HAVING b <> 'M3' AND count(*) > 1 ORDER BY last DESC", true),
        ("SELECT who, min(at), body || '!', sum(score), \"convo\", msgs.id FROM msgs GROUP BY who ORDER BY 1", true),
        ("SELECT p.team, max(m.at), m.body FROM msgs m JOIN people p ON p.who = m.who GROUP BY p.team ORDER BY 1", true),
        ("SELECT who, max(at) FILTER (WHERE score >= 0.5), body FROM msgs GROUP BY who ORDER BY 1", true),
        ("SELECT DISTINCT who, max(at), body FROM msgs GROUP BY who ORDER BY 1", true),
        ("SELECT score, max(at), body FROM msgs GROUP BY score ORDER BY body", true),
        // No row anywhere: NULL, as one SQLite answers.
        ("SELECT max(at), body FROM msgs WHERE convo = 'nobody'", false),
        ("SELECT max(at), body FROM msgs WHERE 0", false),
    ];
    for (sql, ordered) in answered {
        match h.compare(sql, *ordered) {
            Ok(true) => {}
            Ok(false) => panic!("refused: {sql}: {:?}", h.query_n(4, sql, &[]).err()),
            Err(d) => panic!("{sql}\n{d}"),
        }
    }
    let params = [Value::Real(1.0)];
    let sql = "SELECT who, max(at), body FROM msgs WHERE score > ? GROUP BY who ORDER BY 1";
    assert_eq!(h.compare_with(sql, &params, true), Ok(true), "{sql}");

    // SQLite leaves the row undefined beside several min()/max() or none; a DISTINCT
    // aggregate changes how the shards group.
    for sql in [
        "SELECT who, max(at), min(at), body FROM msgs GROUP BY who",
        "SELECT who, count(*), body FROM msgs GROUP BY who",
        "SELECT who, max(at), count(DISTINCT convo), body FROM msgs GROUP BY who",
        "SELECT who, max(DISTINCT at), body FROM msgs GROUP BY who",
    ] {
        let e = h.query_n(4, sql, &[]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unsupported, "{sql}: {e}");
        assert!(e.to_string().contains("body"), "{e}");
    }

    // An INSERT … SELECT reading the latest message writes where its key says.
    let sql = "INSERT INTO msgs (convo, id, at, body, who) SELECT convo, 1000, max(at) + 1, 'echo ' || body, who FROM msgs";
    assert!(matches!(h.run(sql, &[], None), Outcome::Ok(_)));
    h.check_invariants();
}

/// Two rows tie on the maximum: where they sit on one shard, that shard's SQLite keeps
/// the one it meets first, as one SQLite does; on two shards, which one it meets first is
/// the shards' order, so the statement is refused.
#[test]
fn ties_on_the_extreme_across_shards_are_refused() {
    let mut rng = Rng::from_env(0x7e5);
    let h = harness(&mut rng);
    h.run(
        "INSERT INTO msgs VALUES ('c1', 500, 5000, 'tie-a', 'ann', 99), ('c5', 501, 5000, 'tie-b', 'bob', 99)",
        &[],
        None,
    );
    let apart = |n: usize| {
        let shard = |k: &str| shard_for_key(&Value::Text(k.into()), Affinity::Text, n).unwrap();
        shard("c1") != shard("c5")
    };
    assert!(SHARD_COUNTS.iter().any(|&n| apart(n)) && !apart(1));
    for (sql, tied) in [
        ("SELECT max(at), body FROM msgs", true),
        ("SELECT max(score), body FROM msgs WHERE score > 50", true),
        // The tied rows are in different groups: no tie.
        (
            "SELECT team, max(at), body FROM msgs JOIN people USING (who) GROUP BY team ORDER BY 1",
            false,
        ),
    ] {
        let (_, expected) = sqlite_query(&h.oracle, sql, &[]).unwrap();
        for &n in &SHARD_COUNTS {
            match h.query_n(n, sql, &[]) {
                Ok(r) => {
                    assert!(!(tied && apart(n)), "{n} shards: answered {sql}");
                    assert_eq!(r.rows, expected, "{n} shards: {sql}");
                }
                Err(e) => {
                    assert!(tied && apart(n), "{n} shards: {sql}: {e}");
                    assert_eq!(e.code(), ErrorCode::Unsupported, "{e}");
                    assert!(e.to_string().contains("beside max()"), "{e}");
                }
            }
        }
    }
}
