//! The workers-rs-shaped API (`d1plus::workers`), natively over local SQLite shards: the
//! same calls a Rust Worker makes on `worker::D1Database`.

use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::ErrorCode;
use d1plus::plan::ShardHint;
use d1plus::policy::Policy;
use d1plus::value::Value;
use d1plus::workers::D1Database;
use futures::executor::block_on;
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
#[allow(non_snake_case)]
struct Event {
    tenantId: String,
    id: i64,
    amount: Option<f64>,
}

fn database() -> D1Database<SqliteBackend> {
    let policy = Policy::from_json(
        r#"{"name": "t", "capacity": {"mode": "manual", "targetShardCount": 4},
            "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}]}}"#,
    )
    .unwrap();
    let backend = SqliteBackend::in_memory(4).unwrap();
    let db =
        D1Database::from_database(Database::unloaded(policy, backend, Options::default()).unwrap());
    let r = block_on(db.exec(
        "CREATE TABLE events (tenantId TEXT, id INTEGER, amount REAL, PRIMARY KEY (tenantId, id));
         INSERT INTO events VALUES ('acme', 1, 10), ('globex', 2, 2.5), ('acme', 3, NULL), ('initech', 4, 7)",
    ))
    .unwrap();
    assert_eq!(r.count().unwrap(), Some(2));
    db
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn all_results_and_meta() {
    let db = database();
    let r = block_on(
        db.prepare("SELECT tenantId, id, amount FROM events WHERE tenantId = ?1 ORDER BY id")
            .bind_values(vec![text("acme")])
            .all(),
    )
    .unwrap();
    assert!(r.success());
    assert_eq!(
        r.results::<Event>().unwrap(),
        vec![
            Event {
                tenantId: "acme".into(),
                id: 1,
                amount: Some(10.0)
            },
            Event {
                tenantId: "acme".into(),
                id: 3,
                amount: None
            },
        ]
    );
    assert_eq!(r.shards().len(), 1, "a keyed read goes to one shard");
    // An integral REAL reads as an integer, as it does through D1's JavaScript numbers.
    let n: Option<i64> = block_on(
        db.prepare("SELECT amount FROM events WHERE tenantId = 'acme' AND id = 1")
            .first(Some("amount")),
    )
    .unwrap();
    assert_eq!(n, Some(10));
    let w = block_on(
        db.prepare("UPDATE events SET amount = 1 WHERE tenantId = 'globex'")
            .run(),
    )
    .unwrap();
    assert_eq!(w.meta().unwrap().unwrap().changes, Some(1));
}

#[test]
fn first_raw_and_missing_columns() {
    let db = database();
    let q = db.prepare("SELECT id, tenantId FROM events ORDER BY id DESC");
    let first: Option<serde_json::Value> = block_on(q.first(None)).unwrap();
    assert_eq!(
        first,
        Some(serde_json::json!({"id": 4, "tenantId": "initech"}))
    );
    let id: Option<i64> = block_on(q.first(Some("id"))).unwrap();
    assert_eq!(id, Some(4));
    let err = block_on(q.first::<i64>(Some("nope"))).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ColumnNotFound);
    assert_eq!(
        err.to_string(),
        "D1_COLUMN_NOTFOUND: Column not found (nope)"
    );
    let none: Option<serde_json::Value> = block_on(
        db.prepare("SELECT id FROM events WHERE tenantId = 'nobody'")
            .first(None),
    )
    .unwrap();
    assert_eq!(none, None);
    let raw: Vec<Vec<serde_json::Value>> = block_on(q.raw()).unwrap();
    assert_eq!(raw.len(), 4);
    assert_eq!(
        raw[0],
        vec![serde_json::json!(4), serde_json::json!("initech")]
    );
    let wrong = block_on(q.raw::<i64>()).unwrap_err();
    assert_eq!(wrong.code(), ErrorCode::TypeError);
}

#[test]
fn batch_sql_hint_and_errors() {
    let db = database();
    let results = block_on(db.batch(vec![
        db.prepare("INSERT INTO events VALUES (?1, 9, 1)").bind_values(vec![text("umbrella")]),
        db.prepare("SELECT count(*) AS n FROM events"),
    ]))
    .unwrap();
    assert_eq!(results[0].meta().unwrap().unwrap().changes, Some(1));
    #[derive(Deserialize)]
    struct N {
        n: i64,
    }
    assert_eq!(results[1].results::<N>().unwrap()[0].n, 5);

    let hinted = db.sql(
        "SELECT count(*) AS n FROM events",
        vec![],
        Some(ShardHint {
            table: "events".into(),
            key: text("acme"),
        }),
    );
    let r = block_on(hinted.all()).unwrap();
    assert_eq!(r.results::<N>().unwrap()[0].n, 2);
    assert_eq!(r.shards().len(), 1);

    let dup = block_on(db.prepare("INSERT INTO events VALUES ('acme', 1, 0)").run()).unwrap_err();
    assert!(
        dup.to_string()
            .starts_with("D1_ERROR: UNIQUE constraint failed"),
        "{dup}"
    );
    let unkeyed = block_on(db.prepare("DELETE FROM events").run()).unwrap_err();
    assert!(unkeyed.code().as_str().starts_with("D1PLUS_"), "{unkeyed}");
    // The code survives as the text's prefix, which is all workers-rs keeps of it.
    assert_eq!(d1plus::workers::error_code(&unkeyed), Some(unkeyed.code()));
    assert_eq!(
        d1plus::error::ErrorCode::of_message(&unkeyed.to_string()),
        Some(unkeyed.code())
    );
    assert_eq!(
        d1plus::error::ErrorCode::of_message(&dup.to_string()),
        Some(d1plus::error::ErrorCode::Backend)
    );
}

/// The Rust counterpart of `db.migrate()` / `db.check()`.
#[test]
fn migrate_and_check_through_the_workers_api() {
    let db = database();
    let m = |name: &str, sql: &str| d1plus::migrate::Migration {
        name: name.into(),
        sql: sql.into(),
    };
    let migrations = [
        m("0001_kinds.sql", "CREATE TABLE kinds (k TEXT PRIMARY KEY);"),
        m(
            "0002_rows.sql",
            "INSERT INTO events VALUES ('zeta', 9, 1.5);",
        ),
    ];
    let r = block_on(db.migrate(&migrations)).unwrap();
    assert_eq!((r.applied, r.already), (8, 0));
    assert!(block_on(db.check()).unwrap().is_empty());
    let again = block_on(db.migrate(&migrations)).unwrap();
    assert_eq!((again.applied, again.already), (0, 2));
    let zeta: Vec<Event> = block_on(
        db.prepare("SELECT * FROM events WHERE tenantId = ?")
            .bind_values(vec![text("zeta")])
            .all(),
    )
    .unwrap()
    .results()
    .unwrap();
    assert_eq!(zeta.len(), 1);
}

#[test]
fn table_api_and_transactions_through_the_workers_api() {
    let db = database();
    let op =
        |json: serde_json::Value| serde_json::from_value::<d1plus::table::TableOp>(json).unwrap();
    let row = block_on(db.table(
        "events",
        &op(serde_json::json!({"op": "get", "key": {"tenantId": "acme", "id": 1}})),
    ))
    .unwrap();
    assert_eq!(
        row,
        serde_json::json!({"tenantId": "acme", "id": 1, "amount": 10.0})
    );
    let page = block_on(db.table(
        "events",
        &op(serde_json::json!({"op": "list", "orderBy": "-amount", "limit": 2})),
    ))
    .unwrap();
    assert_eq!(page["rows"].as_array().unwrap().len(), 2);
    assert_eq!(page["rows"][0]["amount"], serde_json::json!(10.0));
    assert!(page["cursor"].is_string());
    // One shard: atomic; across shards: refused before anything runs.
    let one = block_on(db.transaction(vec![
        db.sql(
            "UPDATE events SET amount = 11 WHERE tenantId = 'acme' AND id = 1",
            vec![],
            None,
        ),
        db.sql("INSERT INTO events VALUES ('acme', 5, 1)", vec![], None),
    ]))
    .unwrap();
    assert_eq!(one.len(), 2);
    let err = block_on(db.transaction(vec![
        db.sql("INSERT INTO events VALUES ('acme', 6, 1)", vec![], None),
        db.sql("INSERT INTO events VALUES ('globex', 7, 1)", vec![], None),
    ]))
    .map(|_| ())
    .unwrap_err();
    assert_eq!(
        d1plus::workers::error_code(&err),
        Some(ErrorCode::CrossShardTransaction)
    );
    let count = block_on(db.table("events", &op(serde_json::json!({"op": "count"})))).unwrap();
    assert_eq!(count, serde_json::json!(5));
}
