//! Migrations across shards (src/migrate.rs): applied in order on every shard, each shard's
//! part and its record in one batch; a failure on one shard resumes on rerun; edited history
//! is refused; `check` finds drift.

use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::ErrorCode;
use d1plus::migrate::{differences, migrate, shard_schemas, Migration, Step};
use d1plus::placement::shard_for_key;
use d1plus::policy::Policy;
use d1plus::value::{Affinity, Value};
use futures::executor::block_on;

const SHARDS: usize = 4;

fn database() -> Database<SqliteBackend> {
    let policy = Policy::from_json(
        r#"{"name": "m", "capacity": {"mode": "manual", "targetShardCount": 4},
            "sharding": {"tables": [{"name": "notes", "keyColumn": "owner"}], "reference": ["kinds"]}}"#,
    )
    .unwrap();
    block_on(Database::open(
        policy,
        SqliteBackend::in_memory(SHARDS).unwrap(),
        Options::default(),
    ))
    .unwrap()
}

fn migrations() -> Vec<Migration> {
    let m = |name: &str, sql: &str| Migration {
        name: name.into(),
        sql: sql.into(),
    };
    vec![
        // Out of order on purpose: they apply in name order.
        m(
            "0002_kinds.sql",
            "CREATE TABLE kinds (k INTEGER PRIMARY KEY, label TEXT);
             INSERT INTO kinds VALUES (1, 'plain'), (2, 'todo');
             ALTER TABLE notes ADD COLUMN kind INTEGER REFERENCES kinds(k);",
        ),
        m(
            "0001_notes.sql",
            "CREATE TABLE notes (owner TEXT NOT NULL, id INTEGER NOT NULL, body TEXT, PRIMARY KEY (owner, id));
             -- a migration may fill the table it creates: rows go by their keys
             INSERT INTO notes VALUES ('ann', 1, 'a'), ('bob', 2, 'b'), ('cy', 3, 'c'), ('dee', 4, 'd');
             CREATE INDEX notes_body ON notes(body);",
        ),
        m(
            "0003_backfill.sql",
            "UPDATE notes SET kind = 1 WHERE owner = 'ann';",
        ),
    ]
}

fn rows(db: &Database<SqliteBackend>, shard: usize, sql: &str) -> Vec<Vec<Value>> {
    db.backend()
        .with_connection(shard, |c| {
            let mut st = c.prepare(sql).unwrap();
            let n = st.column_count();
            st.query_map([], |r| {
                (0..n).map(|i| r.get_ref(i).map(Value::from)).collect()
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<Vec<Value>>>>()
            .unwrap()
        })
        .unwrap()
}

fn applied(db: &Database<SqliteBackend>, shard: usize) -> Vec<Vec<Value>> {
    rows(db, shard, "SELECT name FROM d1_migrations ORDER BY id")
}

fn names(list: &[&str]) -> Vec<Vec<Value>> {
    list.iter()
        .map(|n| vec![Value::Text(n.to_string())])
        .collect()
}

#[test]
fn migrations_apply_in_order_on_every_shard_and_rows_go_by_key() {
    let db = database();
    let mut lines = Vec::new();
    let r = block_on(migrate(&db, &migrations(), &mut |s| lines.push(s))).unwrap();
    assert_eq!(r.applied, 3 * SHARDS);
    let all = names(&["0001_notes.sql", "0002_kinds.sql", "0003_backfill.sql"]);
    for s in 0..SHARDS {
        assert_eq!(applied(&db, s), all, "shard {s}");
        // The reference table's rows on every shard; each note on its key's shard.
        assert_eq!(
            rows(&db, s, "SELECT count(*) FROM kinds"),
            vec![vec![Value::Integer(2)]]
        );
        for r in rows(&db, s, "SELECT owner FROM notes") {
            assert_eq!(shard_for_key(&r[0], Affinity::Text, SHARDS).unwrap(), s);
        }
    }
    assert!(lines.contains(&Step::Applied {
        migration: "0001_notes.sql".into(),
        shard: 2,
        statements: 5
    }));
    // Through the proxy: the schema and the data as one database.
    let ann = block_on(db.query("SELECT kind FROM notes WHERE owner = 'ann'", &[], None)).unwrap();
    assert_eq!(ann.rows, vec![vec![Value::Integer(1)]]);
    let count = block_on(db.query("SELECT count(*) FROM notes", &[], None)).unwrap();
    assert_eq!(count.rows, vec![vec![Value::Integer(4)]]);
    // Nothing pending: a rerun applies nothing.
    let again = block_on(migrate(&db, &migrations(), &mut |_| {})).unwrap();
    assert_eq!((again.applied, again.already), (0, 3));
    assert!(differences(&block_on(shard_schemas(&db)).unwrap()).is_empty());
}

#[test]
fn a_failure_on_one_shard_stops_and_a_rerun_resumes() {
    let db = database();
    // Shard 2 already has a table the second migration creates.
    db.backend()
        .with_connection(2, |c| c.execute_batch("CREATE TABLE kinds (x)"))
        .unwrap()
        .unwrap();
    let e = block_on(migrate(&db, &migrations(), &mut |_| {})).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MigrationFailed);
    let msg = e.to_string();
    assert!(
        msg.contains("migration 0002_kinds.sql failed on shard 2")
            && msg.contains("table kinds already exists")
            && msg.contains("shards 0, 1 have it"),
        "{msg}"
    );
    // Shard 2 holds nothing of the failed migration; shard 3 was not reached.
    assert_eq!(applied(&db, 2), names(&["0001_notes.sql"]));
    assert_eq!(applied(&db, 3), names(&["0001_notes.sql"]));
    assert_eq!(
        applied(&db, 1),
        names(&["0001_notes.sql", "0002_kinds.sql"])
    );
    assert!(!differences(&block_on(shard_schemas(&db)).unwrap()).is_empty());
    // Repaired, the same command resumes every shard from its own records.
    db.backend()
        .with_connection(2, |c| c.execute_batch("DROP TABLE kinds"))
        .unwrap()
        .unwrap();
    let r = block_on(migrate(&db, &migrations(), &mut |_| {})).unwrap();
    assert_eq!(r.applied, 2 + SHARDS);
    for s in 0..SHARDS {
        assert_eq!(applied(&db, s).len(), 3, "shard {s}");
    }
    assert!(differences(&block_on(shard_schemas(&db)).unwrap()).is_empty());
}

#[test]
fn edited_or_removed_history_is_refused_by_name() {
    let db = database();
    block_on(migrate(&db, &migrations(), &mut |_| {})).unwrap();
    let mut edited = migrations();
    edited[1].sql.push_str("\n-- a later edit");
    let e = block_on(migrate(&db, &edited, &mut |_| {})).unwrap_err();
    assert_eq!(e.code(), ErrorCode::MigrationHistory);
    assert!(
        e.to_string()
            .contains("migration 0001_notes.sql was edited after it was applied"),
        "{e}"
    );
    let e = block_on(migrate(&db, &migrations()[..2], &mut |_| {})).unwrap_err();
    assert!(
        e.to_string()
            .contains("0003_backfill.sql is applied on shard 0 but its file is missing"),
        "{e}"
    );
    // A broken statement is found before any shard is touched.
    let mut broken = migrations();
    broken.push(Migration {
        name: "0004_broken.sql".into(),
        sql: "CREATE INDEX x ON nowhere(y);".into(),
    });
    let e = block_on(migrate(&db, &broken, &mut |_| {})).unwrap_err();
    assert!(
        e.to_string()
            .contains("statement 1 of migration 0004_broken.sql"),
        "{e}"
    );
    for s in 0..SHARDS {
        assert_eq!(applied(&db, s).len(), 3);
    }
}

#[test]
fn check_finds_drift() {
    let db = database();
    block_on(migrate(&db, &migrations(), &mut |_| {})).unwrap();
    db.backend()
        .with_connection(1, |c| c.execute_batch("CREATE INDEX stray ON notes(id)"))
        .unwrap()
        .unwrap();
    let diffs = differences(&block_on(shard_schemas(&db)).unwrap());
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert!(
        diffs[0].starts_with("shard 1: has index stray"),
        "{diffs:?}"
    );
}

/// DDL through the proxy that fails on some shards says which, and how to repair.
#[test]
fn ddl_failing_on_some_shards_says_how_to_repair() {
    let db = database();
    db.backend()
        .with_connection(2, |c| c.execute_batch("CREATE TABLE kinds (x)"))
        .unwrap()
        .unwrap();
    let e =
        block_on(db.query("CREATE TABLE kinds (k INTEGER PRIMARY KEY)", &[], None)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("table kinds already exists"), "{msg}");
    assert!(
        msg.contains("applied on shards 0, 1, 3 but not on shard 2")
            && msg.contains("d1plus check"),
        "{msg}"
    );
    let diffs = differences(&block_on(shard_schemas(&db)).unwrap());
    assert!(diffs.iter().any(|d| d.starts_with("shard 2:")), "{diffs:?}");
}
