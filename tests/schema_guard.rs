//! The schema guard (src/guard.rs): a request's first call carries a statement that fails
//! when another client changed the schema since the catalog was read, instead of a
//! re-read of the schema before every request. A stale plan never commits; the call runs
//! again on the new schema; a current schema costs no extra call.

use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::backend::{Backend, ShardBatch, ShardStatement};
use d1plus::error::ErrorCode;
use d1plus::placement::shard_for_key;
use d1plus::policy::Policy;
use d1plus::value::{Affinity, Value};
use futures::executor::block_on;

const SHARDS: usize = 4;

fn database() -> Database<SqliteBackend> {
    let policy = Policy::from_json(
        r#"{"name": "g", "capacity": {"mode": "manual", "targetShardCount": 4},
            "sharding": {"tables": [{"name": "moves", "keyColumn": "tenantId"}]}}"#,
    )
    .unwrap();
    let db = block_on(Database::open(
        policy,
        SqliteBackend::in_memory(SHARDS).unwrap(),
        Options::default(),
    ))
    .unwrap();
    block_on(db.exec("CREATE TABLE moves (tenantId TEXT, id INTEGER)")).unwrap();
    db
}

/// Runs `sql` on every shard directly, past this process's catalog (as another client
/// does): each shard's rows.
fn on_every_shard(db: &Database<SqliteBackend>, sql: &str) -> Vec<Vec<Vec<Value>>> {
    let batches = (0..SHARDS)
        .map(|shard| ShardBatch {
            shard,
            statements: vec![ShardStatement {
                sql: sql.into(),
                params: vec![],
            }],
        })
        .collect();
    block_on(db.backend().run(batches))
        .into_iter()
        .map(|r| r.unwrap().remove(0).rows)
        .collect()
}

/// Another client changes every shard.
fn elsewhere(db: &Database<SqliteBackend>, sql: &str) {
    on_every_shard(db, sql);
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn a_write_planned_on_a_stale_schema_never_commits_and_runs_again_on_the_new_one() {
    let db = database();
    // Another client rebuilds the table with its columns in the other order.
    elsewhere(&db, "DROP TABLE moves");
    elsewhere(&db, "CREATE TABLE moves (id INTEGER, tenantId TEXT)");

    // Armed by hand: the write fails with the guard's code and changes nothing.
    let request = db.attach(db.backend(), None).unwrap();
    assert!(request.arm_schema_guard());
    let err =
        block_on(request.query("INSERT INTO moves VALUES (7, 'acme')", &[], None)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaChanged, "{err}");
    let all = on_every_shard(&db, "SELECT count(*) FROM moves");
    assert!(all.iter().all(|r| r[0][0] == Value::Integer(0)), "{all:?}");

    // As a Worker's first call does: guarded, then once more on the new schema.
    let request = db.attach(db.backend(), None).unwrap();
    let r = block_on(request.revalidating(|| {
        Box::pin(request.query("INSERT INTO moves VALUES (7, 'acme')", &[], None))
    }))
    .unwrap();
    assert_eq!(r.meta.changes, 1);
    let home = shard_for_key(&text("acme"), Affinity::Text, SHARDS).unwrap();
    let placed = on_every_shard(&db, "SELECT tenantId, id FROM moves");
    for (shard, rows) in placed.iter().enumerate() {
        let want = if shard == home {
            vec![vec![text("acme"), Value::Integer(7)]]
        } else {
            vec![]
        };
        assert_eq!(rows, &want, "shard {shard}: routed by the new key position");
    }
}

#[test]
fn a_read_on_a_stale_schema_is_answered_from_the_new_one() {
    let db = database();
    block_on(db.query(
        "INSERT INTO moves VALUES ('acme', 1), ('globex', 2)",
        &[],
        None,
    ))
    .unwrap();
    elsewhere(&db, "ALTER TABLE moves ADD COLUMN note TEXT DEFAULT 'n'");

    let request = db.attach(db.backend(), None).unwrap();
    assert!(request.arm_schema_guard());
    let err = block_on(request.query("SELECT * FROM moves ORDER BY id", &[], None)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaChanged, "{err}");

    let request = db.attach(db.backend(), None).unwrap();
    let r =
        block_on(request.revalidating(|| {
            Box::pin(request.query("SELECT * FROM moves ORDER BY id", &[], None))
        }))
        .unwrap();
    assert_eq!(r.columns, ["tenantId", "id", "note"]);
    assert_eq!(r.rows.len(), 2);
    assert_eq!(
        r.rows[1],
        vec![text("globex"), Value::Integer(2), text("n")]
    );
}

#[test]
fn a_current_schema_costs_one_statement_in_the_same_call_and_no_reload() {
    let db = database();
    block_on(db.query("INSERT INTO moves VALUES ('acme', 1)", &[], None)).unwrap();

    // A point read: the read and the guard, in one backend call; its answer as without.
    let request = db.attach(db.backend(), None).unwrap();
    let r = block_on(request.revalidating(|| {
        Box::pin(request.query("SELECT id FROM moves WHERE tenantId = 'acme'", &[], None))
    }))
    .unwrap();
    assert_eq!(r.rows, vec![vec![Value::Integer(1)]]);
    assert_eq!(r.columns, ["id"]);
    assert_eq!(
        request.queries_used(),
        2,
        "the read and the guard, no schema read"
    );

    // A write: the guard heads its shard's batch; the answer's meta is the write's.
    let request = db.attach(db.backend(), None).unwrap();
    let r = block_on(request.revalidating(|| {
        Box::pin(request.query(
            "INSERT INTO moves VALUES ('globex', 2) RETURNING id",
            &[],
            None,
        ))
    }))
    .unwrap();
    assert_eq!(r.rows, vec![vec![Value::Integer(2)]]);
    assert_eq!(r.meta.changes, 1);
    assert_eq!(request.queries_used(), 2);

    // Only the first call of a request is guarded.
    let second = block_on(request.query("SELECT count(*) FROM moves", &[], None)).unwrap();
    assert_eq!(second.rows, vec![vec![Value::Integer(2)]]);
    assert_eq!(request.queries_used(), 2 + SHARDS);
}

#[test]
fn a_failing_statement_keeps_its_own_error_under_the_guard() {
    let db = database();
    block_on(db.exec("CREATE UNIQUE INDEX one_id ON moves (tenantId, id)")).unwrap();
    block_on(db.query("INSERT INTO moves VALUES ('acme', 1)", &[], None)).unwrap();
    let request = db.attach(db.backend(), None).unwrap();
    let err = block_on(request.revalidating(|| {
        Box::pin(request.query("INSERT INTO moves VALUES ('acme', 1)", &[], None))
    }))
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Backend);
    assert!(
        err.to_string().contains("UNIQUE constraint failed"),
        "{err}"
    );
}
