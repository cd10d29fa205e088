//! The schema guard (src/guard/): a request's first call carries a statement that fails
//! when another client changed the schema since the catalog was read, instead of a
//! re-read of the schema before every request. A stale plan never commits; the call runs
//! again on the new schema; a current schema costs no extra call.

use d1plus::api::{Database, Options};
use d1plus::backend::recording::RecordingBackend;
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::backend::{Backend, ShardBatch, StatementOutput};
use d1plus::error::ErrorCode;
use d1plus::placement::shard_for_key;
use d1plus::policy::Policy;
use d1plus::value::{Affinity, Value};
use futures::executor::block_on;
use std::cell::RefCell;

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
    directly(db.backend(), sql)
}

/// Runs `sql` on every shard of `backend`, each its own batch: each shard's rows.
fn directly(backend: &dyn Backend, sql: &str) -> Vec<Vec<Vec<Value>>> {
    let batches = (0..SHARDS)
        .map(|shard| ShardBatch::one(shard, sql.into(), vec![]))
        .collect();
    block_on(backend.run(batches))
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
    assert_eq!(r.columns[..], ["tenantId", "id", "note"]);
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
    assert_eq!(r.columns[..], ["id"]);
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

/// Shards that answer as D1 does: one statement alone exactly (`raw()`), the statements of
/// a batch as JavaScript objects (`batch()`: `Object.fromEntries` of each row), so a name
/// listed twice keeps its last value at its first place, integer-like names come first,
/// and no rows means no column names.
///
/// `race`: DDL run on a call's first shard right before its first batch runs, and DDL run
/// right after (once, on a call of several batches): another client changing the schema
/// between two D1 calls of one backend call.
struct D1Like(SqliteBackend, RefCell<Option<(&'static str, &'static str)>>);

fn as_objects(o: &mut StatementOutput) {
    let mut keys: Vec<(String, usize)> = Vec::new();
    for (i, c) in o.columns.iter().enumerate() {
        match keys.iter_mut().find(|(k, _)| k == c) {
            Some(k) => k.1 = i,
            None => keys.push((c.clone(), i)),
        }
    }
    let index = |k: &str| {
        (k == "0" || !k.starts_with('0'))
            .then(|| k.parse::<u32>().ok())
            .flatten()
    };
    keys.sort_by_key(|(k, _)| index(k).map_or(u64::MAX, u64::from));
    o.columns = if o.rows.is_empty() {
        Default::default()
    } else {
        keys.iter().map(|(k, _)| k.clone()).collect()
    };
    for row in &mut o.rows {
        *row = keys.iter().map(|&(_, i)| row[i].clone()).collect();
    }
}

impl Backend for D1Like {
    fn shard_count(&self) -> usize {
        self.0.shard_count()
    }
    fn run(
        &self,
        batches: Vec<ShardBatch>,
    ) -> futures::future::LocalBoxFuture<'_, Vec<Result<Vec<StatementOutput>, d1plus::error::Error>>>
    {
        Box::pin(async move {
            let sizes: Vec<usize> = batches.iter().map(|b| b.statements.len()).collect();
            let race = if batches.len() > 1 {
                self.1.take()
            } else {
                None
            };
            let mut out = match race {
                None => self.0.run(batches).await,
                Some((before, after)) => {
                    let mut rest = batches;
                    let first = rest.remove(0);
                    let shard = first.shard;
                    let ddl = |sql: &str| vec![ShardBatch::one(shard, sql.into(), vec![])];
                    self.0.run(ddl(before)).await.remove(0).unwrap();
                    let mut out = self.0.run(vec![first]).await;
                    self.0.run(ddl(after)).await.remove(0).unwrap();
                    out.extend(self.0.run(rest).await);
                    out
                }
            };
            for (r, n) in out.iter_mut().zip(sizes) {
                if let (Ok(outs), true) = (r, n > 1) {
                    outs.iter_mut().for_each(as_objects);
                }
            }
            out
        })
    }
    fn batch_rows_by_name(&self) -> bool {
        true
    }
}

fn d1_like() -> Database<RecordingBackend<D1Like>> {
    let policy = Policy::from_json(
        r#"{"name": "g", "capacity": {"mode": "manual", "targetShardCount": 4},
            "sharding": {"tables": [{"name": "moves", "keyColumn": "tenantId"}]}}"#,
    )
    .unwrap();
    let backend = RecordingBackend::new(D1Like(
        SqliteBackend::in_memory(SHARDS).unwrap(),
        RefCell::default(),
    ));
    let db = block_on(Database::open(policy, backend, Options::default())).unwrap();
    block_on(db.exec(
        "CREATE TABLE moves (tenantId TEXT, id INTEGER); \
         INSERT INTO moves VALUES ('acme', 1), ('acme', 2), ('globex', 3)",
    ))
    .unwrap();
    db
}

/// A new request's guarded `query`: its answer and the backend calls' batches.
fn guarded<B: Backend>(
    db: &Database<RecordingBackend<B>>,
    sql: &str,
) -> (d1plus::execute::QueryResult, Vec<ShardBatch>) {
    guarded_with(db, sql, &[])
}

fn guarded_with<B: Backend>(
    db: &Database<RecordingBackend<B>>,
    sql: &str,
    params: &[Value],
) -> (d1plus::execute::QueryResult, Vec<ShardBatch>) {
    db.backend().clear();
    let request = db.attach(db.backend(), None).unwrap();
    let r = block_on(request.revalidating(|| Box::pin(request.query(sql, params, None)))).unwrap();
    (r, db.backend().transcript())
}

#[test]
fn on_d1_a_read_shares_its_call_with_the_guard_once_its_columns_are_known() {
    let db = d1_like();
    let point = "SELECT id, tenantId AS who FROM moves WHERE tenantId = 'acme' ORDER BY id";
    let alone = block_on(db.query(point, &[], None)).unwrap();

    // First guarded call: the guard beside the read (its own batch, same backend call).
    let (first, batches) = guarded(&db, point);
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_eq!(
        (first.columns.clone(), first.rows.clone()),
        (alone.columns.clone(), alone.rows.clone())
    );

    // Then: one batch, the guard at its head; the same answer.
    let (next, batches) = guarded(&db, point);
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert_eq!(batches[0].statements.len(), 2);
    assert!(batches[0].statements[0].sql.contains("__d1p_guard"));
    assert_eq!((next.columns, next.rows), (alone.columns, alone.rows));

    // No rows: a D1 batch names no columns. Names an answer with rows showed in a batch
    // headed by a passing guard are put back; the same read by another key is one call.
    let by_key = "SELECT id, tenantId AS who FROM moves WHERE tenantId = ?";
    guarded_with(&db, by_key, &[text("acme")]);
    guarded_with(&db, by_key, &[text("acme")]);
    let (empty, batches) = guarded_with(&db, by_key, &[text("initech")]);
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert!(empty.rows.is_empty());
    assert_eq!(empty.columns[..], ["id", "who"]);
}

#[test]
fn on_d1_names_seen_only_beside_the_guard_are_not_trusted_for_an_empty_answer() {
    let db = d1_like();
    let none = "SELECT id, tenantId AS who FROM moves WHERE tenantId = 'initech'";
    guarded(&db, none);
    // Known from a read beside the guard (two D1 calls), not yet confirmed by rows in a
    // shared batch: the empty answer is asked again alone, for its names.
    let (empty, batches) = guarded(&db, none);
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_eq!(
        batches[0].statements.len(),
        2,
        "the read shared the guard's batch"
    );
    assert_eq!(batches[1].statements.len(), 1, "then ran alone");
    assert!(empty.rows.is_empty());
    assert_eq!(empty.columns[..], ["id", "who"]);
}

#[test]
fn on_d1_names_read_across_a_schema_change_elsewhere_never_name_an_answer() {
    let db = d1_like();
    let star = "SELECT * FROM moves WHERE tenantId = ?";
    // Another client adds a column right before the read and drops it right after, so the
    // guard beside the read passes while the read saw three columns.
    *db.backend().inner().1.borrow_mut() = Some((
        "ALTER TABLE moves ADD COLUMN ghost INTEGER",
        "ALTER TABLE moves DROP COLUMN ghost",
    ));
    let (seen, batches) = guarded_with(&db, star, &[text("initech")]);
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_eq!(
        seen.columns[..],
        ["tenantId", "id", "ghost"],
        "what the read saw"
    );

    // An empty answer: the unconfirmed names are not used; the read alone names it.
    let (empty, _) = guarded_with(&db, star, &[text("initech")]);
    assert_eq!(empty.columns[..], ["tenantId", "id"]);
    // An answer with rows shows other names: the call fails as a changed schema, the
    // rerun answers, and the names are forgotten (the next call learns them again).
    let (rows, _) = guarded_with(&db, star, &[text("acme")]);
    assert_eq!(rows.columns[..], ["tenantId", "id"]);
    assert_eq!(rows.rows.len(), 2);
    let (again, batches) = guarded_with(&db, star, &[text("initech")]);
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_eq!(
        batches[0].statements.len(),
        1,
        "the guard beside the read again, not in its batch: {batches:?}"
    );
    assert_eq!(again.columns[..], ["tenantId", "id"]);
}

#[test]
fn on_d1_reads_whose_names_objects_would_lose_keep_the_guard_beside_them() {
    let db = d1_like();
    for sql in [
        "SELECT id, id FROM moves WHERE tenantId = 'acme' ORDER BY id",
        "SELECT id AS \"2\", tenantId AS \"10\", id AS x FROM moves WHERE tenantId = 'acme'",
        "SELECT id AS __proto__ FROM moves WHERE tenantId = 'acme'",
    ] {
        let alone = block_on(db.query(sql, &[], None)).unwrap();
        for _ in 0..2 {
            let (r, batches) = guarded(&db, sql);
            assert_eq!(batches.len(), 2, "{sql}: {batches:?}");
            assert_eq!(
                (&r.columns, &r.rows),
                (&alone.columns, &alone.rows),
                "{sql}"
            );
        }
    }
}

#[test]
fn on_d1_known_columns_never_outlive_the_schema_they_were_seen_on() {
    let db = d1_like();
    let star = "SELECT * FROM moves WHERE tenantId = 'initech'";
    let keyed = "SELECT * FROM moves WHERE tenantId = ?";
    guarded(&db, star);
    guarded_with(&db, keyed, &[text("acme")]);
    assert_eq!(
        guarded_with(&db, keyed, &[text("acme")]).1.len(),
        1,
        "known"
    );

    // This process changes the table: the catalog is new, the names are forgotten, and an
    // empty answer names the new columns.
    block_on(db.query("ALTER TABLE moves ADD COLUMN note TEXT", &[], None)).unwrap();
    let (r, batches) = guarded(&db, star);
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_eq!(r.columns[..], ["tenantId", "id", "note"]);
    let (_, batches) = guarded_with(&db, keyed, &[text("acme")]);
    assert_eq!(batches.len(), 2, "learned again: {batches:?}");
    guarded_with(&db, keyed, &[text("acme")]);
    let (r, batches) = guarded_with(&db, keyed, &[text("initech")]);
    assert_eq!(batches.len(), 1);
    assert_eq!(r.columns[..], ["tenantId", "id", "note"]);

    // Another client changes it: the guard in the read's batch fails, nothing is answered
    // from the old names, and the rerun reads the new schema.
    elsewhere_d1(&db, "ALTER TABLE moves ADD COLUMN extra INTEGER DEFAULT 5");
    let (r, _) = guarded(&db, star);
    assert_eq!(r.columns[..], ["tenantId", "id", "note", "extra"]);
    let (r, _) = guarded(&db, "SELECT * FROM moves WHERE tenantId = 'globex'");
    assert_eq!(
        r.rows,
        vec![vec![
            text("globex"),
            Value::Integer(3),
            Value::Null,
            Value::Integer(5)
        ]]
    );
}

fn elsewhere_d1(db: &Database<RecordingBackend<D1Like>>, sql: &str) {
    directly(&db.backend().inner().0, sql);
}
