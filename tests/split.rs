//! `d1plus split` (src/split.rs, src/layout.rs): doubling shards online. A plain SQLite
//! database receives every write that d1plus acknowledged and is the oracle: after a split
//! (stopped and resumed at every transaction, killed with SIGKILL at random moments, or
//! aborted) every table holds the oracle's rows, each sharded row on its key's shard, and
//! reads made while it ran answered what the oracle held.

mod common;

use common::diff::{compare_tables, sqlite_query, user_tables};
use common::Rng;
use d1plus::api::Options;
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::ErrorCode;
use d1plus::layout::{self, LocalDatabase};
use d1plus::policy::Policy;
use d1plus::split::{self, SplitOptions};
use d1plus::value::Value;
use rusqlite::Connection;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const SCHEMA: &str =
    "CREATE TABLE items (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, v INTEGER, u TEXT UNIQUE);
CREATE INDEX items_tenant ON items (tenant);
CREATE TABLE plans (name TEXT PRIMARY KEY, price INTEGER);
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
CREATE TABLE audit (note INTEGER);
CREATE TRIGGER notes_audit AFTER INSERT ON notes BEGIN INSERT INTO audit VALUES (NEW.id); END;";

fn policy(shards: usize) -> String {
    format!(
        r#"{{"name": "sp", "capacity": {{"mode": "manual", "targetShardCount": {shards}}},
        "sharding": {{"tables": [{{"name": "items", "keyColumn": "tenant"}}], "reference": ["plans"]}}}}"#
    )
}

/// A local database and its oracle.
struct Fixture {
    dir: tempfile::TempDir,
    oracle: Connection,
}

impl Fixture {
    fn new(shards: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        SqliteBackend::create(dir.path(), shards).unwrap();
        std::fs::write(dir.path().join("policy.json"), policy(shards)).unwrap();
        let oracle = Connection::open_in_memory().unwrap();
        oracle.execute_batch(SCHEMA).unwrap();
        let f = Fixture { dir, oracle };
        let db = f.local();
        for s in d1plus::lex::split_statements(SCHEMA) {
            db.query(&SCHEMA[s.range], &[], None).unwrap();
        }
        f
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn local(&self) -> LocalDatabase {
        LocalDatabase::open(self.path(), Options::default()).unwrap()
    }

    /// Checks every table against the oracle (rows, placement, reference copies).
    fn check(&self) {
        let db = layout::open(self.path(), Options::default()).unwrap();
        let tables = user_tables(&self.oracle).unwrap();
        if let Err(e) = compare_tables(&db, &self.oracle, &tables) {
            panic!("{e}");
        }
    }
}

/// One write, as d1plus runs it and as the oracle mirrors it.
enum Op {
    Insert(Vec<(String, i64, String)>),
    Update(String, i64),
    Delete(String, i64),
    Upsert(String, i64, String),
    Replace(String, i64, String),
    Note(String),
    Plan(String, i64),
}

fn tenant(rng: &mut Rng) -> String {
    format!("t{}", rng.below(23))
}

fn unique(rng: &mut Rng, tenant: &str) -> String {
    format!("{tenant}-{}", rng.below(12))
}

impl Op {
    /// A random write; `cross_shard`: also writes that span shards (multi-tenant inserts,
    /// reference tables).
    fn random(rng: &mut Rng, oracle: &Connection, cross_shard: bool) -> Op {
        let t = tenant(rng);
        let existing = |rng: &mut Rng| -> Option<i64> {
            let (_, rows) = sqlite_query(
                oracle,
                "SELECT id FROM items WHERE tenant = ?1 ORDER BY id",
                &[Value::Text(t.clone())],
            )
            .unwrap();
            (!rows.is_empty()).then(|| match &rows[rng.below(rows.len() as u64) as usize][0] {
                Value::Integer(i) => *i,
                _ => 0,
            })
        };
        match rng.below(if cross_shard { 10 } else { 8 }) {
            0 | 1 => {
                let n = if cross_shard { 1 + rng.below(4) } else { 1 };
                Op::Insert(
                    (0..n)
                        .map(|_| {
                            let t = if cross_shard { tenant(rng) } else { t.clone() };
                            let u = format!("{t}-n{}", rng.next());
                            (t, rng.below(1000) as i64, u)
                        })
                        .collect(),
                )
            }
            2 => existing(rng).map_or(Op::Note("nothing to update".into()), |id| Op::Update(t, id)),
            3 => existing(rng).map_or(Op::Note("nothing to delete".into()), |id| Op::Delete(t, id)),
            4 | 5 => {
                let u = unique(rng, &t);
                Op::Upsert(t, rng.below(1000) as i64, u)
            }
            6 => {
                let u = unique(rng, &t);
                Op::Replace(t, rng.below(1000) as i64, u)
            }
            7 => Op::Note(format!("note {}", rng.next())),
            _ => Op::Plan(format!("plan{}", rng.below(5)), rng.below(100) as i64),
        }
    }

    /// The statement d1plus runs.
    fn sql(&self) -> (String, Vec<Value>) {
        let text = |s: &str| Value::Text(s.to_string());
        match self {
            Op::Insert(rows) => {
                let values: Vec<String> = (0..rows.len())
                    .map(|i| format!("(?{}, ?{}, ?{})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                    .collect();
                let params = rows
                    .iter()
                    .flat_map(|(t, v, u)| [text(t), Value::Integer(*v), text(u)])
                    .collect();
                (
                    format!("INSERT INTO items (tenant, v, u) VALUES {} RETURNING id", values.join(", ")),
                    params,
                )
            }
            Op::Update(t, id) => (
                "UPDATE items SET v = v + 1 WHERE tenant = ?1 AND id = ?2".into(),
                vec![text(t), Value::Integer(*id)],
            ),
            Op::Delete(t, id) => (
                "DELETE FROM items WHERE tenant = ?1 AND id = ?2".into(),
                vec![text(t), Value::Integer(*id)],
            ),
            Op::Upsert(t, v, u) => (
                "INSERT INTO items (tenant, v, u) VALUES (?1, ?2, ?3) ON CONFLICT (u) DO UPDATE SET v = excluded.v RETURNING id".into(),
                vec![text(t), Value::Integer(*v), text(u)],
            ),
            Op::Replace(t, v, u) => (
                "INSERT OR REPLACE INTO items (tenant, v, u) VALUES (?1, ?2, ?3) RETURNING id".into(),
                vec![text(t), Value::Integer(*v), text(u)],
            ),
            Op::Note(body) => ("INSERT INTO notes (body) VALUES (?1) RETURNING id".into(), vec![text(body)]),
            Op::Plan(name, price) => (
                "INSERT INTO plans VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET price = excluded.price".into(),
                vec![text(name), Value::Integer(*price)],
            ),
        }
    }

    /// Applies the acknowledged write to the oracle, with the ids d1plus returned.
    fn mirror(&self, oracle: &Connection, ids: &[i64]) {
        let run = |sql: &str, params: Vec<Value>| {
            sqlite_query(oracle, sql, &params).unwrap_or_else(|e| panic!("oracle: {sql}: {e}"));
        };
        let text = |s: &str| Value::Text(s.to_string());
        match self {
            Op::Insert(rows) => {
                assert_eq!(ids.len(), rows.len(), "RETURNING gave one id per row");
                for ((t, v, u), id) in rows.iter().zip(ids) {
                    run(
                        "INSERT INTO items (id, tenant, v, u) VALUES (?1, ?2, ?3, ?4)",
                        vec![Value::Integer(*id), text(t), Value::Integer(*v), text(u)],
                    );
                }
            }
            Op::Upsert(t, v, u) => run(
                "INSERT INTO items (id, tenant, v, u) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET v = excluded.v",
                vec![Value::Integer(ids[0]), text(t), Value::Integer(*v), text(u)],
            ),
            Op::Replace(t, v, u) => run(
                "INSERT OR REPLACE INTO items (id, tenant, v, u) VALUES (?1, ?2, ?3, ?4)",
                vec![Value::Integer(ids[0]), text(t), Value::Integer(*v), text(u)],
            ),
            Op::Note(body) => run(
                "INSERT INTO notes (id, body) VALUES (?1, ?2)",
                vec![Value::Integer(ids[0]), text(body)],
            ),
            _ => {
                let (sql, params) = self.sql();
                run(&sql, params);
            }
        }
    }
}

fn ids_of(rows: &[Vec<Value>]) -> Vec<i64> {
    rows.iter()
        .filter_map(|r| match r.first() {
            Some(Value::Integer(i)) => Some(*i),
            _ => None,
        })
        .collect()
}

/// Runs one random write in-process; returns whether it was refused with D1PLUS_RETRY.
fn write(f: &Fixture, db: &LocalDatabase, rng: &mut Rng, cross_shard: bool) -> bool {
    let op = Op::random(rng, &f.oracle, cross_shard);
    let (sql, params) = op.sql();
    match db.query(&sql, &params, None) {
        Ok(r) => {
            op.mirror(&f.oracle, &ids_of(&r.rows));
            false
        }
        Err(e) if e.code() == ErrorCode::Retry => true,
        Err(e) => panic!("{sql}: {e}"),
    }
}

fn seed(f: &Fixture, rng: &mut Rng, writes: usize) {
    let db = f.local();
    for _ in 0..writes {
        assert!(!write(f, &db, rng, true), "no split runs yet");
    }
}

fn small_steps(to: usize, stop_after: Option<u64>) -> SplitOptions {
    SplitOptions {
        to: Some(to),
        chunk_rows: 16,
        catch_up_batch: 8,
        cutover_backlog: 4,
        stop_after,
    }
}

#[test]
fn a_split_places_every_row_by_the_rule_and_keeps_ids_unique() {
    for (from, to) in [(1, 2), (2, 8), (4, 16)] {
        let mut rng = Rng::from_env(11 + from as u64);
        let f = Fixture::new(from);
        seed(&f, &mut rng, 300);
        let reports = split::split(f.path(), &small_steps(to, None), &mut |_| {}).unwrap();
        assert_eq!(reports.len(), (to / from).trailing_zeros() as usize);
        assert!(reports.iter().all(|r| r.rows > 0));
        let layout = layout::read(f.path()).unwrap().1;
        assert_eq!(
            (layout.shard_count, layout.version),
            (to, reports.len() as u64)
        );
        assert!(layout.split.is_none());
        // policy.json follows; the old files are gone.
        let policy =
            Policy::from_json(&std::fs::read_to_string(f.path().join("policy.json")).unwrap())
                .unwrap();
        assert_eq!(policy.shard_count(), to);
        let mut files: Vec<String> = std::fs::read_dir(f.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sqlite"))
            .collect();
        files.sort();
        assert_eq!(files, layout.files);
        f.check();
        // Ids generated after the split are unique across all shards (shard 2i keeps
        // shard i's range, above the floor of the rows that left for 2i + 1).
        let db = f.local();
        for _ in 0..300 {
            write(&f, &db, &mut rng, true);
        }
        f.check();
        let r = db
            .query("SELECT count(*) = count(DISTINCT id) FROM items", &[], None)
            .unwrap();
        assert_eq!(r.rows, vec![vec![Value::Integer(1)]]);
    }
}

#[test]
fn a_split_stopped_at_any_transaction_resumes_with_writes_in_between() {
    let mut k = 0;
    loop {
        let mut rng = Rng::from_env(100 + k);
        let f = Fixture::new(2);
        seed(&f, &mut rng, 60);
        let db = f.local();
        let mut stop = Some(k);
        let finished_first_time = loop {
            match split::split(f.path(), &small_steps(8, stop), &mut |_| {}) {
                Ok(_) => break stop == Some(k),
                Err(e) => {
                    assert!(
                        e.to_string().contains("stopped where the test asked"),
                        "{e}"
                    );
                    // Writes while the split is stopped land on the old files, or are
                    // refused during a cutover; reads answer exactly either way.
                    for _ in 0..6 {
                        write(&f, &db, &mut rng, true);
                    }
                    f.check();
                    stop = Some(5 + rng.below(40));
                }
            }
        };
        f.check();
        assert_eq!(layout::read(f.path()).unwrap().1.shard_count, 8);
        for _ in 0..50 {
            assert!(!write(&f, &db, &mut rng, true), "no split is running");
        }
        f.check();
        if finished_first_time {
            break;
        }
        k += 1;
    }
    eprintln!("the split took {k} transactions");
    assert!(
        k > 20,
        "the split took {k} transactions: too few to test stops"
    );
}

#[test]
fn abort_returns_to_the_old_layout() {
    for k in [0u64, 3, 10, 25, 60] {
        let mut rng = Rng::from_env(200 + k);
        let f = Fixture::new(2);
        seed(&f, &mut rng, 100);
        let before = layout::read(f.path()).unwrap().1;
        match split::split(f.path(), &small_steps(4, Some(k)), &mut |_| {}) {
            Ok(_) => continue,
            Err(e) => assert!(e.to_string().contains("stopped"), "{e}"),
        }
        let db = f.local();
        write(&f, &db, &mut rng, true);
        assert!(split::abort(f.path()).unwrap());
        assert!(!split::abort(f.path()).unwrap(), "nothing left to abort");
        let after = layout::read(f.path()).unwrap().1;
        assert_eq!(
            (after.shard_count, &after.files),
            (before.shard_count, &before.files)
        );
        assert!(after.split.is_none());
        for path in after.paths(f.path()) {
            let c = Connection::open(&path).unwrap();
            let n: i64 = c
                .query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE name LIKE '%d1plus_split%'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 0, "{} keeps the split's triggers", path.display());
        }
        assert!(!f.path().join("shard-00-of-04.sqlite").exists());
        for _ in 0..20 {
            assert!(
                !write(&f, &db, &mut rng, true),
                "writes run after the abort"
            );
        }
        f.check();
    }
}

#[test]
fn schema_changes_wait_for_the_split() {
    let f = Fixture::new(2);
    seed(&f, &mut Rng::from_env(5), 30);
    let _ = split::split(f.path(), &small_steps(4, Some(2)), &mut |_| {}).unwrap_err();
    let err = f
        .local()
        .query("CREATE TABLE later (a)", &[], None)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Retry, "{err}");
    assert!(err.to_string().contains("being split"), "{err}");
    split::split(f.path(), &small_steps(4, None), &mut |_| {}).unwrap();
    f.local()
        .query("CREATE TABLE later (a)", &[], None)
        .unwrap();
}

#[test]
fn bad_targets_are_refused() {
    let f = Fixture::new(4);
    // The count it has already: nothing to do (what a rerun after the last cutover asks).
    assert!(split::split(f.path(), &small_steps(4, None), &mut |_| {})
        .unwrap()
        .is_empty());
    for (to, says) in [
        (3, "power of two"),
        (128, "power of two"),
        (2, "already has 4"),
    ] {
        let err = split::split(f.path(), &small_steps(to, None), &mut |_| {}).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert!(err.to_string().contains(says), "{err}");
    }
    let _ = split::split(f.path(), &small_steps(16, Some(1)), &mut |_| {}).unwrap_err();
    let err = split::split(f.path(), &small_steps(8, None), &mut |_| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains("a split to 16 shards is in progress"),
        "{err}"
    );
}

#[test]
fn auto_capacity_splits_past_its_threshold_up_to_the_maximum() {
    let f = Fixture::new(1);
    std::fs::write(
        f.path().join("policy.json"),
        r#"{"name": "sp", "capacity": {"mode": "auto", "targetShardCount": 1, "maxShardCount": 4, "splitAtRows": 60},
            "sharding": {"tables": [{"name": "items", "keyColumn": "tenant"}], "reference": ["plans"]}}"#,
    )
    .unwrap();
    let d = split::auto_target(f.path()).unwrap();
    assert_eq!(d.to, None, "{}", d.reason);
    seed(&f, &mut Rng::from_env(9), 200);
    let mut counts = vec![];
    loop {
        let d = split::auto_target(f.path()).unwrap();
        let Some(to) = d.to else {
            assert!(
                d.reason.contains("maxShardCount (4)") || d.reason.contains("no shard passes"),
                "{}",
                d.reason
            );
            break;
        };
        split::split(f.path(), &small_steps(to, None), &mut |_| {}).unwrap();
        counts.push(to);
    }
    assert_eq!(counts.first(), Some(&2));
    assert!(counts.iter().all(|c| *c <= 4));
    f.check();
    let policy =
        Policy::from_json(&std::fs::read_to_string(f.path().join("policy.json")).unwrap()).unwrap();
    assert!(
        policy.to_json_pretty().contains("\"splitAtRows\": 60"),
        "the thresholds survive the split"
    );
}

/// `d1plus query DIR --format ndjson`, started before the split, as the other process.
struct Server {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_d1plus"))
            .args(["query", dir.to_str().unwrap(), "--format", "ndjson"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Server {
            child,
            input,
            output,
        }
    }

    /// Rows (as arrays, in column order) or the error text.
    fn ask(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
        let req = serde_json::json!({"sql": sql, "params": params});
        writeln!(self.input, "{req}").unwrap();
        self.input.flush().unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v["success"] != serde_json::Value::Bool(true) {
            return Err(v["error"].as_str().unwrap_or_default().to_string());
        }
        Ok(v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_object()
                    .unwrap()
                    .values()
                    .map(|x| serde_json::from_value::<Value>(x.clone()).unwrap())
                    .collect()
            })
            .collect())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// Reads through the server, compared with the oracle as they are made.
fn check_reads(server: &mut Server, oracle: &Connection, rng: &mut Rng) {
    let t = Value::Text(tenant(rng));
    // Columns in name order: the test reads the JSON objects back into maps sorted by key.
    let point = "SELECT id, u, v FROM items WHERE tenant = ?1 ORDER BY id";
    let fanout =
        "SELECT tenant AS a, count(*) AS b, sum(v) AS c FROM items GROUP BY tenant ORDER BY tenant";
    for (sql, params) in [(point, vec![t]), (fanout, vec![])] {
        let got = server
            .ask(sql, &params)
            .unwrap_or_else(|e| panic!("a read was refused: {e}"));
        let (_, want) = sqlite_query(oracle, sql, &params).unwrap();
        assert_eq!(got, want, "{sql} {params:?}");
    }
}

#[test]
fn split_2_4_8_under_a_writer_process_with_sigkills() {
    let mut rng = Rng::from_env(77);
    let f = Fixture::new(2);
    seed(&f, &mut rng, 400);
    let mut server = Server::start(f.path());
    let (mut kills, mut refused, mut writes) = (0, 0, 0);
    let mut longest_refusal = Duration::ZERO;
    loop {
        let mut split = Command::new(env!("CARGO_BIN_EXE_d1plus"))
            .args([
                "split",
                f.path().to_str().unwrap(),
                "--to",
                "8",
                "--chunk-rows",
                "10",
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(f.path().join("split.log")).unwrap())
            .spawn()
            .unwrap();
        // Early kills (the split of these rows takes longer than 100 ms), up to 8 of them.
        let kill_at = (kills < 8).then(|| Duration::from_millis(5 + rng.below(100)));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = split.try_wait().unwrap() {
                break Some(status);
            }
            if kill_at.is_some_and(|k| started.elapsed() >= k) {
                split.kill().unwrap();
                split.wait().unwrap();
                kills += 1;
                break None;
            }
            // One write (retried while a cutover refuses it), then reads.
            let op = Op::random(&mut rng, &f.oracle, false);
            let (sql, params) = op.sql();
            let first_refusal = Instant::now();
            loop {
                match server.ask(&sql, &params) {
                    Ok(rows) => {
                        op.mirror(&f.oracle, &ids_of(&rows));
                        writes += 1;
                        break;
                    }
                    Err(e) if e.starts_with("D1PLUS_RETRY") => {
                        refused += 1;
                        longest_refusal = longest_refusal.max(first_refusal.elapsed());
                        assert!(
                            first_refusal.elapsed() < Duration::from_secs(20),
                            "writes refused for too long"
                        );
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => panic!("{sql}: {e}"),
                }
            }
            check_reads(&mut server, &f.oracle, &mut rng);
        };
        if let Some(status) = status {
            assert!(
                status.success(),
                "the split failed ({status}) after {kills} kills: {}",
                std::fs::read_to_string(f.path().join("split.log")).unwrap_or_default()
            );
            break;
        }
    }
    // After the split the same server keeps answering, now from 8 shards.
    for _ in 0..100 {
        let op = Op::random(&mut rng, &f.oracle, false);
        let (sql, params) = op.sql();
        let rows = server
            .ask(&sql, &params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        op.mirror(&f.oracle, &ids_of(&rows));
        check_reads(&mut server, &f.oracle, &mut rng);
    }
    assert_eq!(layout::read(f.path()).unwrap().1.shard_count, 8);
    f.check();
    eprintln!(
        "{kills} kills, {writes} writes during the split, {refused} refusals, longest refusal {longest_refusal:?}"
    );
    assert!(kills > 0 && writes > 0);
}

#[test]
fn a_copy_that_differs_is_caught_at_the_cutover_and_writes_go_on() {
    let mut rng = Rng::from_env(31);
    let f = Fixture::new(2);
    seed(&f, &mut rng, 80);
    // Stop during the copy, then lose a row of a new file behind the split's back.
    let _ = split::split(f.path(), &small_steps(4, Some(12)), &mut |_| {}).unwrap_err();
    let target = Connection::open(f.path().join("shard-00-of-04.sqlite")).unwrap();
    let lost = target
        .execute(
            "DELETE FROM items WHERE rowid = (SELECT min(rowid) FROM items)",
            [],
        )
        .unwrap();
    assert_eq!(lost, 1);
    let err = split::split(f.path(), &small_steps(4, None), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("differs from shard 0"), "{err}");
    let layout = layout::read(f.path()).unwrap().1;
    assert_eq!(layout.shard_count, 2, "nothing was committed");
    assert_eq!(layout.split.map(|s| s.phase), Some(layout::Phase::Copy));
    let db = f.local();
    for _ in 0..20 {
        assert!(
            !write(&f, &db, &mut rng, true),
            "writes are not left paused"
        );
    }
    f.check();
    assert!(split::abort(f.path()).unwrap());
    f.check();
}

#[test]
fn tables_the_copy_cannot_follow_are_refused_before_it_starts() {
    for ddl in [
        "CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID",
        "CREATE UNIQUE INDEX items_lower_u ON items (lower(u))",
    ] {
        let f = Fixture::new(2);
        f.local().query(ddl, &[], None).unwrap();
        let err = split::split(f.path(), &small_steps(4, None), &mut |_| {}).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unsupported, "{err}");
        assert!(
            layout::read(f.path()).unwrap().1.split.is_none(),
            "nothing started"
        );
    }
}
