//! A hint scopes a statement to one key, never to a shard: every hinted statement must
//! give what one SQLite database gives for the same statement with every occurrence of
//! each sharded table restricted to the hinted key. Checked over 1 shard (every tenant
//! shares it: the strongest case) up to 64, against the oracle running that restriction
//! written out by hand.

mod common;

use common::{sorted, sqlite_query, Harness, SHARD_COUNTS};
use d1plus::error::{Error, ErrorCode};
use d1plus::plan::ShardHint;
use d1plus::value::Value;
use futures::executor::block_on;

const POLICY: &str = r#"{"name": "t", "capacity": {"mode": "manual", "targetShardCount": 1},
  "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"},
                          {"name": "users", "keyColumn": "org"}],
               "reference": ["plans"]}}"#;

const SCHEMA: &str = "
CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, PRIMARY KEY (tenantId, id));
CREATE TABLE users (org INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT, PRIMARY KEY (org, id));
CREATE VIEW busy AS SELECT tenantId, count(*) AS n FROM events GROUP BY tenantId;
INSERT INTO plans VALUES (1, 'free'), (2, 'pro');
";

fn harness() -> Harness {
    let h = Harness::new(POLICY, &SHARD_COUNTS);
    h.exec(SCHEMA);
    let mut rows = Vec::new();
    for (n, tenant) in ["acme", "globex", "initech", "it's"].iter().enumerate() {
        for id in 1..=4 {
            let kind = ["a", "b", "c"][(id + n) % 3];
            rows.push(format!(
                "('{}', {id}, '{kind}')",
                tenant.replace('\'', "''")
            ));
        }
    }
    let insert = format!(
        "INSERT INTO events (tenantId, id, kind) VALUES {}",
        rows.join(", ")
    );
    h.run(&insert, &[], None);
    h.run(
        "INSERT INTO users (org, id, name) VALUES (7, 1, 'x'), (7, 2, 'y'), (8, 1, 'z'), (9, 1, 'w')",
        &[],
        None,
    );
    h
}

fn hint(table: &str, key: Value) -> ShardHint {
    ShardHint {
        table: table.into(),
        key,
    }
}

fn acme() -> ShardHint {
    hint("events", Value::Text("acme".into()))
}

/// Runs `sql` under `hint` on every shard count and `scoped` (the same statement with the
/// key restriction written out) on the oracle: same rows, same changes.
fn same(h: &Harness, sql: &str, hint: &ShardHint, scoped: &str) {
    let (cols, expected) = sqlite_query(&h.oracle, scoped, &[])
        .unwrap_or_else(|e| panic!("oracle failed ({e}): {scoped}"));
    let changes = h.oracle.changes();
    let upper = sql.to_ascii_uppercase();
    let is_write = ["INSERT", "UPDATE", "DELETE"]
        .iter()
        .any(|w| upper.starts_with(w));
    for s in &h.shards {
        let r = block_on(s.db.query(sql, &[], Some(hint)))
            .unwrap_or_else(|e| panic!("{} shards: {sql}: {e}", s.n));
        if !cols.is_empty() {
            assert_eq!(r.columns[..], cols[..], "{} shards: {sql}", s.n);
        }
        assert_eq!(
            sorted(r.rows),
            sorted(expected.clone()),
            "{} shards: {sql}",
            s.n
        );
        if is_write {
            assert_eq!(r.meta.changes, changes, "{} shards: changes of {sql}", s.n);
        }
    }
    h.check_invariants();
}

fn refused(h: &Harness, sql: &str, hint: &ShardHint, code: ErrorCode, says: &str) {
    for s in &h.shards {
        match s.db.plan(sql, &[], Some(hint)) {
            Err(e @ Error::Proxy { .. }) => {
                assert_eq!(e.code(), code, "{} shards: {sql}: {e}", s.n);
                assert!(e.to_string().contains(says), "{e}");
            }
            other => panic!("{} shards: {sql} should be refused, got {other:?}", s.n),
        }
    }
}

#[test]
fn hinted_reads_see_only_the_hinted_key() {
    let h = harness();
    let acme = acme();
    same(
        &h,
        "SELECT id, kind FROM events",
        &acme,
        "SELECT id, kind FROM events WHERE tenantId = 'acme'",
    );
    same(
        &h,
        "SELECT e.id, f.id FROM events e JOIN events AS f ON e.kind = f.kind AND e.id < f.id",
        &acme,
        "SELECT e.id, f.id FROM events e JOIN events AS f ON e.kind = f.kind AND e.id < f.id WHERE e.tenantId = 'acme' AND f.tenantId = 'acme'",
    );
    same(
        &h,
        "SELECT kind, count(*) FROM events WHERE id IN (SELECT id FROM events WHERE kind = 'a') GROUP BY kind",
        &acme,
        "SELECT kind, count(*) FROM events WHERE tenantId = 'acme' AND id IN (SELECT id FROM events WHERE kind = 'a' AND tenantId = 'acme') GROUP BY kind",
    );
    same(
        &h,
        "WITH k AS (SELECT kind FROM events) SELECT count(*), count(DISTINCT kind) FROM k",
        &acme,
        "WITH k AS (SELECT kind FROM events WHERE tenantId = 'acme') SELECT count(*), count(DISTINCT kind) FROM k",
    );
    same(
        &h,
        "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 3) SELECT x, (SELECT count(*) FROM events WHERE id = x) AS n FROM r",
        &acme,
        "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 3) SELECT x, (SELECT count(*) FROM events WHERE id = x AND tenantId = 'acme') AS n FROM r",
    );
    // A FROM subquery keyed like its table (`analyze::keyed`), alone and joined.
    same(
        &h,
        "SELECT x.kind, x.n FROM (SELECT tenantId, kind, count(*) AS n FROM events GROUP BY tenantId, kind) x",
        &acme,
        "SELECT x.kind, x.n FROM (SELECT tenantId, kind, count(*) AS n FROM events WHERE tenantId = 'acme' GROUP BY tenantId, kind) x",
    );
    same(
        &h,
        "SELECT e.id, x.n FROM events e JOIN (SELECT tenantId, kind, count(*) AS n FROM events GROUP BY tenantId, kind) x ON x.tenantId = e.tenantId AND x.kind = e.kind",
        &acme,
        "SELECT e.id, x.n FROM events e JOIN (SELECT tenantId, kind, count(*) AS n FROM events WHERE tenantId = 'acme' GROUP BY tenantId, kind) x ON x.tenantId = e.tenantId AND x.kind = e.kind WHERE e.tenantId = 'acme'",
    );
    // Another sharded table in the statement is scoped to the same key.
    same(
        &h,
        "SELECT count(*) FROM events, users",
        &hint("users", Value::Integer(7)),
        "SELECT count(*) FROM events, users WHERE users.org = 7 AND events.tenantId = '7'",
    );
    // A key with a quote; a key given as text for an INTEGER key column.
    same(
        &h,
        "SELECT id FROM events",
        &hint("events", Value::Text("it's".into())),
        "SELECT id FROM events WHERE tenantId = 'it''s'",
    );
    same(
        &h,
        "SELECT name FROM users",
        &hint("users", Value::Text("7".into())),
        "SELECT name FROM users WHERE org = 7",
    );
    // Pinned by the SQL itself: nothing to add, same answer.
    same(
        &h,
        "SELECT id FROM events WHERE tenantId = 'acme' AND kind = 'a'",
        &acme,
        "SELECT id FROM events WHERE tenantId = 'acme' AND kind = 'a'",
    );
}

#[test]
fn hinted_writes_change_only_the_hinted_key() {
    let h = harness();
    let acme = acme();
    // OR binds looser than the added AND: the original WHERE is parenthesized.
    same(
        &h,
        "DELETE FROM events WHERE kind = 'b' OR kind = 'c' RETURNING id",
        &acme,
        "DELETE FROM events WHERE (kind = 'b' OR kind = 'c') AND tenantId = 'acme' RETURNING id",
    );
    same(
        &h,
        "UPDATE events AS e SET kind = 'z' WHERE kind IN (SELECT kind FROM events WHERE id > 3) RETURNING id",
        &acme,
        "UPDATE events AS e SET kind = 'z' WHERE kind IN (SELECT kind FROM events WHERE id > 3 AND tenantId = 'acme') AND e.tenantId = 'acme' RETURNING id",
    );
    same(
        &h,
        "UPDATE events SET kind = kind || '!'",
        &hint("events", Value::Text("globex".into())),
        "UPDATE events SET kind = kind || '!' WHERE tenantId = 'globex'",
    );
    same(
        &h,
        "INSERT INTO events (tenantId, id, kind) SELECT tenantId, id + 100, kind FROM events",
        &acme,
        "INSERT INTO events (tenantId, id, kind) SELECT tenantId, id + 100, kind FROM events WHERE tenantId = 'acme'",
    );
    same(
        &h,
        "INSERT INTO events (tenantId, id, kind) SELECT 'acme', id + 200, name FROM plans",
        &acme,
        "INSERT INTO events (tenantId, id, kind) SELECT 'acme', id + 200, name FROM plans",
    );
    same(
        &h,
        "DELETE FROM events",
        &acme,
        "DELETE FROM events WHERE tenantId = 'acme'",
    );
    same(
        &h,
        "DELETE FROM users WHERE id = 1",
        &hint("users", Value::Integer(7)),
        "DELETE FROM users WHERE id = 1 AND org = 7",
    );
}

#[test]
fn hints_that_cannot_be_scoped_are_refused() {
    let h = harness();
    let acme = acme();
    // A hint never narrows what the SQL asks for.
    refused(
        &h,
        "SELECT id FROM events WHERE tenantId IN ('acme', 'globex')",
        &acme,
        ErrorCode::HintConflict,
        "disagrees",
    );
    // Rows for another key cannot be written under the hint.
    refused(
        &h,
        "INSERT INTO events (tenantId, id, kind) SELECT 'globex', id + 300, kind FROM events",
        &acme,
        ErrorCode::HintConflict,
        "every selected row has that key",
    );
    refused(
        &h,
        "INSERT INTO events (tenantId, id, kind) SELECT kind, id, kind FROM events",
        &acme,
        ErrorCode::HintConflict,
        "every selected row has that key",
    );
    // What a CTE cannot shadow: a schema-qualified name, a view's body.
    refused(
        &h,
        "SELECT id FROM main.events",
        &acme,
        ErrorCode::HintConflict,
        "schema-qualified",
    );
    refused(
        &h,
        "SELECT * FROM busy",
        &acme,
        ErrorCode::HintConflict,
        "view busy",
    );
    h.check_invariants();
}
