//! batch(), batch_atomic() and the query budget, checked on the transcript of what each
//! shard received (a recording backend over local SQLite shards).

use d1plus::api::{Database, Options, Statement};
use d1plus::backend::recording::RecordingBackend;
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::{Error, ErrorCode};
use d1plus::policy::Policy;
use d1plus::value::Value;
use futures::executor::block_on;

const POLICY: &str = r#"{"name": "b", "capacity": {"mode": "manual", "targetShardCount": 4},
  "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}]}}"#;

fn db(options: Options) -> Database<RecordingBackend<SqliteBackend>> {
    let backend = RecordingBackend::new(SqliteBackend::in_memory(4).unwrap());
    let db = block_on(Database::open(
        Policy::from_json(POLICY).unwrap(),
        backend,
        options,
    ))
    .unwrap();
    block_on(db.exec("CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, v TEXT, PRIMARY KEY (tenantId, id))")).unwrap();
    db.backend().clear();
    db
}

fn ins(tenant: &str, id: i64) -> Statement {
    Statement::new("INSERT INTO events (tenantId, id) VALUES (?, ?)")
        .bind(vec![Value::Text(tenant.into()), Value::Integer(id)])
}

fn count(db: &Database<RecordingBackend<SqliteBackend>>, tenant: &str) -> Value {
    let r = block_on(db.query(
        "SELECT count(*) FROM events WHERE tenantId = ?",
        &[Value::Text(tenant.into())],
        None,
    ))
    .unwrap();
    r.rows[0][0].clone()
}

#[test]
fn batch_groups_statements_per_shard_in_caller_order() {
    let db = db(Options::default());
    // acme -> shard 2, globex -> shard 1 (see the golden placement vectors).
    let stmts = vec![
        ins("acme", 1),
        ins("globex", 1),
        ins("acme", 2),
        Statement::new("SELECT count(*) AS n FROM events WHERE tenantId = 'acme'"),
    ];
    let results = block_on(db.batch(&stmts)).unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[1].meta.shards[..], [1]);
    // The SELECT ran after both acme inserts, in the same atomic shard batch.
    assert_eq!(results[3].rows, vec![vec![Value::Integer(2)]]);
    let transcript = db.backend().transcript();
    assert_eq!(transcript.len(), 2, "one backend batch per shard");
    assert_eq!(transcript[0].shard, 2);
    assert_eq!(transcript[0].statements.len(), 3);
    assert_eq!(transcript[1].shard, 1);
    assert_eq!(transcript[1].statements.len(), 1);
}

#[test]
fn a_failing_statement_rolls_back_its_shard_group() {
    let db = db(Options::default());
    block_on(db.query(
        "INSERT INTO events (tenantId, id) VALUES ('acme', 9)",
        &[],
        None,
    ))
    .unwrap();
    // The last acme statement violates the primary key: the whole acme group rolls back;
    // globex's group, on another shard, commits, and the error says so.
    let stmts = vec![ins("acme", 1), ins("globex", 1), ins("acme", 9)];
    let err = block_on(db.batch(&stmts)).unwrap_err();
    let Error::Backend { shard, message } = &err else {
        panic!("{err}")
    };
    assert_eq!(*shard, Some(2));
    assert!(
        message.starts_with("UNIQUE constraint failed: events.tenantId, events.id"),
        "{message}"
    );
    assert!(message.contains("shard batches 1 committed"), "{message}");
    assert_eq!(
        count(&db, "acme"),
        Value::Integer(1),
        "acme's group rolled back"
    );
    assert_eq!(count(&db, "globex"), Value::Integer(1));
}

#[test]
fn batch_atomic_refuses_to_span_shards() {
    let db = db(Options::default());
    let err = block_on(db.batch_atomic(&[ins("acme", 1), ins("globex", 1)])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::CrossShardTransaction);
    assert!(db.backend().transcript().is_empty(), "nothing ran");
    let ok = block_on(db.batch_atomic(&[ins("acme", 1), ins("acme", 2)])).unwrap();
    assert_eq!(ok.len(), 2);
}

#[test]
fn the_query_budget_refuses_before_a_fan_out_runs() {
    let db = db(Options {
        query_budget: Some(6),
        ..Options::default()
    });
    // Opening and the CREATE TABLE used 1 (catalog) + 4 (DDL) + 1 (catalog reload).
    let used = db.queries_used();
    assert_eq!(used, 6);
    let err = block_on(db.query("SELECT * FROM events", &[], None)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::QueryBudget);
    assert!(
        db.backend().transcript().is_empty(),
        "refused before anything ran"
    );
}

#[test]
fn an_order_by_limit_asks_each_shard_for_limit_plus_offset_rows_only() {
    let db = db(Options::default());
    let rows: Vec<String> = (0..200)
        .map(|i| format!("('t{}', {i}, 'v{i}')", i % 13))
        .collect();
    block_on(db.query(
        &format!(
            "INSERT INTO events (tenantId, id, v) VALUES {}",
            rows.join(", ")
        ),
        &[],
        None,
    ))
    .unwrap();
    db.backend().clear();
    let r = block_on(db.query(
        "SELECT id FROM events ORDER BY id DESC LIMIT 5 OFFSET 10",
        &[],
        None,
    ))
    .unwrap();
    let ids: Vec<Value> = (185..190).rev().map(Value::Integer).collect();
    assert_eq!(r.rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), ids);
    let transcript = db.backend().transcript();
    assert_eq!(transcript.len(), 4, "every shard asked once");
    for b in &transcript {
        assert!(
            b.statements[0].sql.ends_with("ORDER BY id DESC LIMIT 15"),
            "{}",
            b.statements[0].sql
        );
    }
}

#[test]
fn repeated_statements_come_from_the_plan_cache_until_ddl_changes_the_schema() {
    let db = db(Options::default());
    let q = "SELECT count(*) FROM events WHERE tenantId = ?";
    let (h0, m0) = db.cache_stats();
    for t in ["a", "b", "c"] {
        block_on(db.query(q, &[Value::Text(t.into())], None)).unwrap();
    }
    let (h1, m1) = db.cache_stats();
    assert_eq!(
        (h1 - h0, m1 - m0),
        (2, 1),
        "parsed once, routed three times"
    );
    // DDL reloads the catalog. An index leaves the tables as they were: plans stay.
    block_on(db.query("CREATE INDEX events_v ON events (v)", &[], None)).unwrap();
    let (h, m) = db.cache_stats();
    block_on(db.query(q, &[Value::Text("a".into())], None)).unwrap();
    assert_eq!(db.cache_stats(), (h + 1, m), "an index changes no plan");
    // A changed table does: plans analyzed under the old schema are not reused.
    block_on(db.query("ALTER TABLE events ADD COLUMN w", &[], None)).unwrap();
    let (h2, m2) = db.cache_stats();
    block_on(db.query(q, &[Value::Text("a".into())], None)).unwrap();
    assert_eq!(
        db.cache_stats(),
        (h2, m2 + 1),
        "the DDL made the cached plan stale"
    );
    block_on(db.query(q, &[Value::Text("b".into())], None)).unwrap();
    assert_eq!(db.cache_stats(), (h2 + 1, m2 + 1));
}

/// Shards that answer a batch's rows by column name, as D1's `batch()` does.
struct ByName(SqliteBackend);

impl d1plus::backend::Backend for ByName {
    fn shard_count(&self) -> usize {
        self.0.shard_count()
    }
    fn run(
        &self,
        batches: Vec<d1plus::backend::ShardBatch>,
    ) -> futures::future::LocalBoxFuture<
        '_,
        Vec<Result<Vec<d1plus::backend::StatementOutput>, Error>>,
    > {
        self.0.run(batches)
    }
    fn batch_rows_by_name(&self) -> bool {
        true
    }
}

#[test]
fn positional_merges_of_star_are_refused_where_batch_rows_come_by_name() {
    let db = block_on(Database::open(
        Policy::from_json(POLICY).unwrap(),
        ByName(SqliteBackend::in_memory(4).unwrap()),
        Options::default(),
    ))
    .unwrap();
    block_on(db.exec("CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, v TEXT, PRIMARY KEY (tenantId, id)); INSERT INTO events VALUES ('a', 1, 'x'), ('b', 2, 'y')")).unwrap();
    let star = Statement::new("SELECT * FROM events ORDER BY id");
    let named = Statement::new("SELECT tenantId, id FROM events ORDER BY id");
    let e = block_on(db.batch(&[ins("c", 3), star.clone()])).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unsupported, "{e}");
    assert!(e.to_string().contains("name the result columns"), "{e}");
    // Alone (not a D1 batch) or with named columns, it runs.
    assert_eq!(block_on(db.batch(&[star])).unwrap()[0].rows.len(), 2);
    let r = block_on(db.batch(&[ins("c", 3), named])).unwrap();
    assert_eq!(r[1].rows.len(), 3);
}

#[test]
fn handles_sharing_a_budget_counter_draw_on_one_budget() {
    use d1plus::execute::{Budget, BudgetCounter};
    let db = db(Options::default());
    let counter = BudgetCounter::new(Some(5));
    let attach = || {
        db.attach_with_budget(db.backend(), Budget::shared(Box::new(counter.clone())))
            .unwrap()
    };
    let (a, b) = (attach(), attach());
    block_on(a.ensure_catalog()).unwrap(); // shared catalog: already loaded, no query
    block_on(a.query("SELECT count(*) FROM events", &[], None)).unwrap();
    assert_eq!(a.queries_used(), 4);
    let e = block_on(b.query("SELECT count(*) FROM events", &[], None)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::QueryBudget, "{e}");
    assert!(db.backend().transcript().len() == 4, "only a's fan-out ran");
    block_on(b.query(
        "SELECT count(*) FROM events WHERE tenantId = 'a'",
        &[],
        None,
    ))
    .unwrap();
}

#[test]
fn a_batch_spanning_shards_with_a_statement_sqlite_rejects_runs_nowhere() {
    let db = db(Options::default());
    // acme's insert would commit on shard 2 before globex's fails on shard 1 to prepare:
    // SQLite's verdict comes first, and nothing runs.
    let stmts = vec![
        ins("acme", 1),
        Statement::new("INSERT INTO events (tenantId, nope) VALUES ('globex', 1)"),
    ];
    let e = block_on(db.batch(&stmts)).unwrap_err();
    assert!(matches!(e, Error::Backend { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("table events has no column named nope"),
        "{e}"
    );
    assert!(db.backend().transcript().is_empty(), "no shard was called");
    assert_eq!(count(&db, "acme"), Value::Integer(0));
    // The same statements on one shard are one atomic batch: the shard says it itself.
    db.backend().clear();
    let stmts = vec![
        ins("acme", 1),
        Statement::new("INSERT INTO events (tenantId, nope) VALUES ('acme', 2)"),
    ];
    assert!(block_on(db.batch(&stmts)).is_err());
    assert_eq!(db.backend().transcript().len(), 1);
    assert_eq!(count(&db, "acme"), Value::Integer(0));
}

#[test]
fn a_cached_point_read_runs_as_planned_and_counts_against_the_budget() {
    let db = db(Options {
        query_budget: Some(9),
        ..Options::default()
    });
    block_on(db.query("INSERT INTO events VALUES ('a', 1, 'x')", &[], None)).unwrap();
    let q = "SELECT v, id FROM events WHERE tenantId = ? AND id = ?";
    let params = [Value::Text("a".into()), Value::Integer(1)];
    // The first call plans and keeps a template; the second runs the kept statement as it
    // is (`Template::passthrough`): the same shard call, the same answer.
    db.backend().clear();
    let first = block_on(db.query(q, &params, None)).unwrap();
    let second = block_on(db.query(q, &params, None)).unwrap();
    let sent = db.backend().transcript();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1], "the kept statement is the planned one");
    let without_time = |r: &d1plus::execute::QueryResult| {
        let mut r = r.clone();
        r.meta.duration = 0.0;
        r
    };
    assert_eq!(without_time(&first), without_time(&second));
    assert_eq!(
        first.rows,
        vec![vec![Value::Text("x".into()), Value::Integer(1)]]
    );
    // 6 for opening and the table, 1 for the INSERT, 2 for the reads: the next is refused.
    assert_eq!(db.queries_used(), 9);
    let err = block_on(db.query(q, &params, None)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::QueryBudget, "{err}");
    assert_eq!(db.backend().transcript().len(), 2, "refused before it ran");
}

/// `changes()` and `last_insert_rowid()` read the connection's state, and each shard keeps
/// its own: inside batch() such a call runs on the shard where the batch's previous write
/// ran (its answer is then one SQLite's); anywhere else it is refused, on every shard count
/// alike, never answered from another shard's connection.
#[test]
fn connection_state_is_read_where_the_previous_write_ran_or_refused() {
    let ddl = "CREATE TABLE posts (id INTEGER PRIMARY KEY, userId TEXT NOT NULL, body TEXT);
               CREATE TABLE tags (tag TEXT PRIMARY KEY, label TEXT);
               INSERT INTO tags VALUES ('a', 'A'), ('b', 'B'), ('c', 'C');";
    let stmt = Statement::new;
    for n in [1usize, 2, 4, 8] {
        let policy = format!(
            r#"{{"name": "c", "capacity": {{"mode": "manual", "targetShardCount": {n}}},
              "sharding": {{"tables": [{{"name": "posts", "keyColumn": "userId"}}], "reference": ["tags"]}}}}"#
        );
        let backend = SqliteBackend::in_memory(n).unwrap();
        let db = block_on(Database::open(
            Policy::from_json(&policy).unwrap(),
            backend,
            Options::default(),
        ))
        .unwrap();
        block_on(db.exec(ddl)).unwrap();
        let rows = |r: &d1plus::execute::QueryResult| r.rows.clone();

        // The id d1plus gave the last row, read on that row's shard.
        let out = block_on(db.batch(&[
            stmt("INSERT INTO posts (userId, body) VALUES ('u1', 'a')"),
            stmt("INSERT INTO posts (userId, body) VALUES ('u2', 'b')"),
            stmt("SELECT last_insert_rowid() AS id"),
            stmt("INSERT INTO posts (userId, body) VALUES ('u3', 'c'), ('u3', 'd')"),
            stmt("SELECT changes(), last_insert_rowid()"),
        ]))
        .unwrap_or_else(|e| panic!("{n} shards: {e}"));
        let id_of = |body: &str| {
            let r = block_on(db.query(
                "SELECT id FROM posts WHERE userId IN ('u2', 'u3') AND body = ?",
                &[Value::Text(body.into())],
                None,
            ))
            .unwrap();
            r.rows[0][0].clone()
        };
        assert_eq!(rows(&out[2]), vec![vec![id_of("b")]], "{n} shards");
        assert_eq!(
            Value::Integer(out[1].meta.last_row_id),
            out[2].rows[0][0],
            "{n} shards"
        );
        assert_eq!(
            rows(&out[4]),
            vec![vec![Value::Integer(2), id_of("d")]],
            "{n} shards"
        );

        // A write on one shard counts its own rows; so does one on every identical copy.
        let out = block_on(db.batch(&[
            stmt("UPDATE posts SET body = 'z' WHERE userId = 'u3'"),
            stmt("SELECT changes() AS n"),
            stmt("UPDATE tags SET label = lower(label) WHERE tag <> 'c'"),
            stmt("SELECT changes() AS n, (SELECT count(*) FROM tags) AS t"),
        ]))
        .unwrap_or_else(|e| panic!("{n} shards: {e}"));
        assert_eq!(rows(&out[1]), vec![vec![Value::Integer(2)]], "{n} shards");
        assert_eq!(
            rows(&out[3]),
            vec![vec![Value::Integer(2), Value::Integer(3)]],
            "{n} shards"
        );

        // A write over keys on several shards left each shard its own count.
        let spread = [
            stmt("UPDATE posts SET body = 'y' WHERE userId IN ('u1', 'u2', 'u3')"),
            stmt("SELECT changes()"),
        ];
        on_one_shard_only(&db, n, &spread, 4, "ran on several shards");
        // Refused before anything runs.
        let refused: [&[&str]; 3] = [
            &["SELECT changes()"],
            &[
                "INSERT INTO posts (userId, body) VALUES ('u4', 'e')",
                "SELECT total_changes()",
            ],
            &["INSERT INTO posts (userId, body) VALUES ('u4', 'e') RETURNING last_insert_rowid()"],
        ];
        for sqls in refused {
            let stmts: Vec<Statement> = sqls.iter().map(|s| stmt(s)).collect();
            let e = block_on(db.batch(&stmts)).unwrap_err();
            assert_eq!(
                e.code(),
                ErrorCode::Unsupported,
                "{n} shards: {sqls:?}: {e}"
            );
            assert!(
                e.to_string().contains("reads the connection's state"),
                "{e}"
            );
        }
        let e = block_on(db.query("SELECT last_insert_rowid()", &[], None)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unsupported, "{e}");
        let r = block_on(db.query("SELECT count(*) FROM posts WHERE userId = 'u4'", &[], None))
            .unwrap();
        assert_eq!(
            r.rows,
            vec![vec![Value::Integer(0)]],
            "{n} shards: a refused batch wrote nothing"
        );
        // A read on another shard than the write's cannot answer for it.
        let other = [
            stmt("UPDATE posts SET body = 'w' WHERE userId = 'u1'"),
            stmt("SELECT changes() FROM posts WHERE userId = 'u2' LIMIT 1"),
        ];
        on_one_shard_only(&db, n, &other, 1, "does not run alone on shard");
        // DDL is not refused: a trigger's body reads its own shard's connection.
        block_on(db.exec("CREATE TABLE log (n INTEGER); CREATE TRIGGER t AFTER INSERT ON log BEGIN UPDATE log SET n = changes() WHERE rowid = NEW.rowid; END")).unwrap();
    }
}

/// A batch of a write and a `changes()` read that share a shard only when the database has
/// one (u1, u2 and u3 are not on one shard of 2, so of 4 or 8 either): answered there with
/// `count`, refused saying `why` on more.
fn on_one_shard_only(
    db: &Database<SqliteBackend>,
    n: usize,
    batch: &[Statement],
    count: i64,
    why: &str,
) {
    match block_on(db.batch(batch)) {
        Ok(out) if n == 1 => assert_eq!(out[1].rows, vec![vec![Value::Integer(count)]]),
        Ok(out) => panic!("{n} shards: answered {:?}", out[1].rows),
        Err(e) => assert!(n > 1 && e.to_string().contains(why), "{n} shards: {e}"),
    }
}
