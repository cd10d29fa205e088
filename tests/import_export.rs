//! `d1plus import` and `export` (src/transfer.rs): every row of a dump or SQLite file lands
//! where the policy places it (checked against the source as the oracle), an export reads
//! back as the same rows, unplaceable rows are reported with nothing written, and an
//! interrupted import completes when run again.

mod common;

use common::diff::{compare_tables, sorted, sqlite_query, user_tables};
use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::{Error, ErrorCode};
use d1plus::policy::Policy;
use d1plus::transfer::{export, import, Progress};
use futures::executor::block_on;
use rusqlite::Connection;
use std::path::Path;

const POLICY: &str = r#"{"name": "imp", "capacity": {"mode": "manual", "targetShardCount": 4},
  "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}, {"name": "users", "keyColumn": "tenantId"}],
  "reference": ["plans"]}}"#;

/// What `sqlite3 DB .dump` prints (its framing included), with values of every kind.
const DUMP: &str = "PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO plans VALUES(1,'free');
INSERT INTO plans VALUES(2,'it''s pro');
CREATE TABLE users (id INTEGER PRIMARY KEY, tenantId TEXT NOT NULL, name TEXT, planId INTEGER REFERENCES plans(id));
INSERT INTO users VALUES(1,'acme','Ann',1);
INSERT INTO users VALUES(2,'globex','Bob',2);
INSERT INTO users VALUES(70368744177663,'initech','Big id',NULL);
CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount REAL, data BLOB, PRIMARY KEY (tenantId, id));
INSERT INTO events VALUES('acme',1,'a',1.5,X'00ff');
INSERT INTO events VALUES('acme',2,'b',-0.0,NULL);
INSERT INTO events VALUES('globex',3,replace('line\\nbreak','\\n',char(10)),1e300,X'');
INSERT INTO events VALUES('initech',4,'ünï ☃',9223372036854775807,NULL);
INSERT INTO events VALUES('umbrella',5,NULL,0.1,'text in a blob column');
INSERT INTO events VALUES('1',6,'numeric key text',3,NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY, value);
INSERT INTO settings VALUES('motd','hello');
INSERT INTO settings VALUES('n',-9223372036854775808);
CREATE INDEX events_kind ON events(kind);
CREATE VIEW recent AS SELECT * FROM settings;
CREATE TRIGGER users_named AFTER INSERT ON users BEGIN UPDATE users SET name = upper(name) WHERE id = new.id; END;
COMMIT;
";

fn database(dir: &Path) -> Database<SqliteBackend> {
    let policy = Policy::from_json(POLICY).unwrap();
    let backend = SqliteBackend::create(dir, policy.shard_count()).unwrap();
    block_on(Database::open(policy, backend, Options::default())).unwrap()
}

/// The source as the oracle: the dump loaded into a plain SQLite.
fn oracle() -> Connection {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(DUMP).unwrap();
    c
}

fn quiet(_: Progress) -> Result<(), Error> {
    Ok(())
}

fn assert_imported(db: &Database<SqliteBackend>, source: &Connection) {
    let tables = user_tables(source).unwrap();
    assert_eq!(tables.len(), 4);
    compare_tables(db, source, &tables).unwrap();
    // The schema objects came along: the index, and the view and trigger after the rows
    // (the trigger did not upper-case the imported names).
    let names = block_on(db.query(
        "SELECT name FROM sqlite_schema WHERE name IN ('events_kind', 'recent', 'users_named')",
        &[],
        None,
    ))
    .unwrap();
    assert_eq!(names.rows.len(), 3);
    let ann =
        block_on(db.query("SELECT name FROM users WHERE tenantId = 'acme'", &[], None)).unwrap();
    assert_eq!(
        ann.rows,
        vec![vec![d1plus::value::Value::Text("Ann".into())]]
    );
}

#[test]
fn a_dump_and_a_database_file_import_every_row_where_the_policy_places_it() {
    let tmp = tempfile::tempdir().unwrap();
    let source = oracle();
    // From a dump.
    let dump = tmp.path().join("dump.sql");
    std::fs::write(&dump, DUMP).unwrap();
    let db = database(&tmp.path().join("a"));
    let mut seen = Vec::new();
    let report = import(&db, &dump, tmp.path(), &mut |p| {
        seen.push(p.done);
        Ok(())
    })
    .unwrap();
    assert_eq!(report.rows, 13);
    assert_eq!(
        report.written,
        13 + 2 * 3,
        "the reference table's rows on every shard"
    );
    assert_eq!(seen.last(), Some(&report.written));
    assert_imported(&db, &source);
    assert!(
        !tmp.path()
            .read_dir()
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".import")),
        "the scratch copy of the dump is removed"
    );
    // From a SQLite file.
    let file = tmp.path().join("source.sqlite");
    source
        .execute("VACUUM INTO ?1", [file.to_str().unwrap()])
        .unwrap();
    let db = database(&tmp.path().join("b"));
    import(&db, &file, tmp.path(), &mut quiet).unwrap();
    assert_imported(&db, &source);
}

#[test]
fn an_export_reads_back_as_the_same_rows_logically_and_per_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump.sql");
    std::fs::write(&dump, DUMP).unwrap();
    let db = database(&tmp.path().join("db"));
    import(&db, &dump, tmp.path(), &mut quiet).unwrap();
    let source = oracle();
    let tables = user_tables(&source).unwrap();
    let all = |c: &Connection, t: &str| {
        sorted(
            sqlite_query(c, &format!("SELECT *, typeof(1) FROM \"{t}\""), &[])
                .unwrap()
                .1,
        )
    };
    let mut text = Vec::new();
    export(&db, None, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("BEGIN") || l.starts_with("COMMIT")),
        "D1 refuses transaction statements"
    );
    let back = Connection::open_in_memory().unwrap();
    back.execute_batch(&text).unwrap();
    for t in &tables {
        assert_eq!(all(&back, t), all(&source, t), "{t}");
    }
    // Storage classes survive (-0.0, 1e300, blobs, text in a blob column).
    let types = "SELECT typeof(amount), typeof(data), amount FROM events ORDER BY id";
    assert_eq!(
        sqlite_query(&back, types, &[]).unwrap(),
        sqlite_query(&source, types, &[]).unwrap()
    );
    for s in 0..4 {
        let mut text = Vec::new();
        export(&db, Some(s), &mut text).unwrap();
        let back = Connection::open_in_memory().unwrap();
        back.execute_batch(std::str::from_utf8(&text).unwrap())
            .unwrap();
        for t in &tables {
            let on_shard = db.backend().with_connection(s, |c| all(c, t)).unwrap();
            assert_eq!(all(&back, t), on_shard, "shard {s}, {t}");
        }
    }
    let mut sink = Vec::new();
    assert_eq!(
        export(&db, Some(4), &mut sink).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn unplaceable_rows_are_reported_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = Policy::from_json(
        r#"{"name": "x", "capacity": {"mode": "manual", "targetShardCount": 4},
            "sharding": {"tables": [{"name": "counters", "keyColumn": "k"}]}}"#,
    )
    .unwrap();
    let backend = SqliteBackend::create(&tmp.path().join("db"), 4).unwrap();
    let db = block_on(Database::open(policy, backend, Options::default())).unwrap();
    let dump = tmp.path().join("dump.sql");
    std::fs::write(
        &dump,
        "CREATE TABLE counters (k INTEGER, n INTEGER);
         INSERT INTO counters VALUES (1, 1), (1.5, 2), (X'01', 3), (4, 4);",
    )
    .unwrap();
    let e = import(&db, &dump, tmp.path(), &mut quiet).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("2 rows cannot be placed"), "{msg}");
    assert!(msg.contains("counters row 2 (1.5, 2)"), "{msg}");
    assert!(msg.contains("counters row 3"), "{msg}");
    for s in 0..4 {
        let tables = db
            .backend()
            .with_connection(s, |c| user_tables(c).unwrap())
            .unwrap();
        assert!(tables.is_empty(), "shard {s}: {tables:?}");
    }
    // A dump SQLite cannot load is refused as a whole.
    std::fs::write(
        &dump,
        "CREATE TABLE counters (k INTEGER);\nINSERT INTO nope VALUES (1);",
    )
    .unwrap();
    let e = import(&db, &dump, tmp.path(), &mut quiet).unwrap_err();
    assert!(
        e.to_string()
            .contains("does not load in SQLite: no such table: nope"),
        "{e}"
    );
}

#[test]
fn an_interrupted_import_completes_when_run_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump.sql");
    std::fs::write(&dump, DUMP).unwrap();
    let dir = tmp.path().join("db");
    let db = database(&dir);
    // Stopped while writing shard 2 (as a crash would stop it).
    let stop = |p: Progress| {
        if p.shard == 2 {
            Err(Error::new(ErrorCode::Internal, "stopped by the test"))
        } else {
            Ok(())
        }
    };
    let e = import(&db, &dump, tmp.path(), &mut { stop }).unwrap_err();
    assert!(e.to_string().contains("stopped by the test"));
    let records_on = |db: &Database<SqliteBackend>, s| {
        db.backend()
            .with_connection(s, |c| {
                sqlite_query(c, "SELECT count(*) FROM _d1plus_import", &[])
            })
            .unwrap()
    };
    assert!(records_on(&db, 0).is_ok());
    assert_eq!(
        records_on(&db, 2).unwrap().1,
        vec![vec![d1plus::value::Value::Integer(0)]]
    );
    // Another process runs the same command: shards 0 and 1 already hold their part.
    drop(db);
    let db = database_reopened(&dir);
    let report = import(&db, &dump, tmp.path(), &mut quiet).unwrap();
    assert_eq!(report.resumed, 2);
    assert_imported(&db, &oracle());
    // Done: the records are gone, and a third run is refused (the rows are there).
    assert!(records_on(&db, 0).is_err());
    let e = import(&db, &dump, tmp.path(), &mut quiet).unwrap_err();
    assert!(e.to_string().contains("already holds rows"), "{e}");
}

fn database_reopened(dir: &Path) -> Database<SqliteBackend> {
    let policy = Policy::from_json(POLICY).unwrap();
    let backend = SqliteBackend::open(dir, policy.shard_count()).unwrap();
    block_on(Database::open(policy, backend, Options::default())).unwrap()
}
