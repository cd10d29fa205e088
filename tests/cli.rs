//! The `d1plus` binary, driven as other tools drive it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn d1plus(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_d1plus"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const POLICY: &str = r#"{"name": "cli", "capacity": {"mode": "manual", "targetShardCount": 4},
  "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}], "reference": ["plans"]}}"#;

fn init(dir: &Path) -> String {
    let db = dir.join("db");
    let policy = dir.join("policy.json");
    std::fs::write(&policy, POLICY).unwrap();
    let o = d1plus(
        &[
            "init",
            db.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    for s in 0..4 {
        assert!(db.join(format!("shard-{s:02}.sqlite")).exists());
    }
    assert!(db.join("policy.json").exists());
    db.to_str().unwrap().to_string()
}

#[test]
fn init_exec_query_explain() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    // A script with `;` inside strings, comments and a trigger body.
    let script = "CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER, note TEXT, PRIMARY KEY (tenantId, id));\n\
                  -- a comment; with a semicolon\n\
                  CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT);\n\
                  CREATE TRIGGER t AFTER INSERT ON events BEGIN UPDATE events SET note = note || ';' WHERE tenantId = new.tenantId AND id = new.id; END;\n\
                  INSERT INTO events VALUES ('acme', 1, 'a;b'), ('globex', 2, 'c');\n\
                  INSERT INTO plans VALUES (1, 'free');";
    let o = d1plus(&["exec", &db, "-"], Some(script));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("5 statements"), "{}", text(&o));

    let o = d1plus(
        &[
            "query",
            &db,
            "--format",
            "json",
            "--params",
            r#"["acme", 1.0]"#,
            "SELECT id, note, ?2 AS r FROM events WHERE tenantId = ?1",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["success"], true);
    assert_eq!(v["results"][0]["id"], 1);
    assert_eq!(v["results"][0]["note"], "a;b;");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\"r\": 1.0"),
        "reals stay reals"
    );
    assert_eq!(v["meta"]["shards"].as_array().unwrap().len(), 1);
    let raw = String::from_utf8_lossy(&o.stdout);
    let (id, note, r) = (
        raw.find("\"id\"").unwrap(),
        raw.find("\"note\"").unwrap(),
        raw.find("\"r\"").unwrap(),
    );
    assert!(id < note && note < r, "columns in SELECT order: {raw}");

    let o = d1plus(
        &[
            "query",
            &db,
            "--hint",
            "events=globex",
            "SELECT note FROM events WHERE id = 2",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains('c'));

    let o = d1plus(
        &[
            "explain",
            &db,
            "SELECT * FROM events WHERE tenantId IN ('acme', 'globex')",
        ],
        None,
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("route: shards")
            && out.contains("why:   shard key events.tenantId IN ('acme', 'globex')"),
        "{out}"
    );

    let o = d1plus(&["query", &db, "UPDATE events SET note = 'x'"], None);
    assert!(!o.status.success());
    assert!(text(&o).contains("D1PLUS_NO_SHARD_KEY"), "{}", text(&o));
}

#[test]
fn exec_stops_at_the_first_error_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let file = tmp.path().join("s.sql");
    std::fs::write(&file, "CREATE TABLE events (tenantId TEXT, id INT);\nINSERT INTO events VALUES ('a', 1);\nINSERT INTO nope VALUES (1);\nINSERT INTO events VALUES ('b', 2);").unwrap();
    let o = d1plus(&["exec", &db, file.to_str().unwrap()], None);
    assert!(!o.status.success());
    let out = text(&o);
    assert!(
        out.contains("Error in line 3: INSERT INTO nope VALUES (1): no such table: nope"),
        "{out}"
    );
    let o = d1plus(
        &[
            "query",
            &db,
            "--format",
            "json",
            "--hint",
            "events=b",
            "SELECT count(*) AS n FROM events",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["results"][0]["n"], 0,
        "the statement after the error did not run"
    );
}

#[test]
fn ndjson_answers_every_line_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let input = [
        r#"{"sql": "CREATE TABLE events (tenantId TEXT, id INT, v REAL)"}"#,
        r#"{"sql": "INSERT INTO events VALUES (?, ?, ?)", "params": ["acme", 1, 2.5]}"#,
        r#"{"sql": "SELEC oops"}"#,
        r#"not json"#,
        r#"{"sql": "SELECT id, v FROM events", "shard": {"table": "events", "key": "acme"}}"#,
        r#"{"sql": "SELECT v, id, tenantId AS a FROM events WHERE tenantId = 'acme'"}"#,
    ]
    .join("\n");
    let o = d1plus(&["query", &db, "--format", "ndjson"], Some(&input));
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[1]["meta"]["changes"], 1);
    assert_eq!(lines[2]["success"], false);
    assert!(lines[2]["error"]
        .as_str()
        .unwrap()
        .starts_with("D1_ERROR: near \"SELEC\""));
    assert_eq!(lines[3]["success"], false);
    assert_eq!(
        lines[4]["results"],
        serde_json::json!([{"id": 1, "v": 2.5}])
    );
    // Row objects keep the SELECT's column order, as D1 does (JSON values compare
    // without order, so the text is checked).
    let raw = String::from_utf8_lossy(&o.stdout);
    let line = raw.lines().nth(4).unwrap().replace(' ', "");
    assert!(line.contains(r#"[{"id":1,"v":2.5}]"#), "{line}");
    let line = raw.lines().nth(5).unwrap().replace(' ', "");
    assert!(line.contains(r#"[{"v":2.5,"id":1,"a":"acme"}]"#), "{line}");
}

/// A client that sends one request and waits for its answer gets it (answers are
/// buffered only while more requests are already waiting).
#[test]
fn ndjson_answers_a_waiting_client() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_d1plus"))
        .args(["query", &db, "--format", "ndjson"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for i in 0..3 {
        writeln!(stdin, r#"{{"sql": "SELECT {i} AS n"}}"#).unwrap();
        stdin.flush().unwrap();
        let mut answer = String::new();
        stdout.read_line(&mut answer).unwrap();
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(v["results"], serde_json::json!([{ "n": i }]));
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn bad_policy_is_refused_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("p.json");
    std::fs::write(
        &policy,
        r#"{"name": "x", "capacity": {"mode": "manual", "targetShardCount": 3}}"#,
    )
    .unwrap();
    let db = tmp.path().join("db");
    let o = d1plus(
        &[
            "init",
            db.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("capacity.targetShardCount must be a power of two"),
        "{}",
        text(&o)
    );
    assert!(!db.exists());
}

#[test]
fn demo_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let o = d1plus(&["demo", "--dir", dir.to_str().unwrap()], None);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("D1PLUS_NO_SHARD_KEY") && out.contains("route: shard"),
        "{out}"
    );
}

/// `d1plus query … | head -1`: a reader that closes the pipe early ends the command
/// quietly with success (it used to panic, exit 101).
#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let db = init(dir.path());
    let rows: Vec<String> = (0..3000)
        .map(|i| format!("('t{}', {i}, 'kind')", i % 50))
        .collect();
    let insert = format!(
        "INSERT INTO events (tenantId, id, kind) VALUES {};",
        rows.join(", ")
    );
    let o = d1plus(&["exec", &db, "-"], Some(&format!(
        "CREATE TABLE events (tenantId TEXT, id INTEGER, kind TEXT, PRIMARY KEY (tenantId, id));\n{insert}\n"
    )));
    assert!(o.status.success(), "{}", text(&o));
    for args in [
        vec!["query", db.as_str(), "SELECT * FROM events ORDER BY id"],
        vec![
            "query",
            db.as_str(),
            "--format",
            "json",
            "SELECT * FROM events ORDER BY id",
        ],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_d1plus"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// `import` then `export`: the README's path from one D1 to shards and back.
#[test]
fn import_then_export() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let dump = tmp.path().join("dump.sql");
    std::fs::write(
        &dump,
        "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE events (tenantId TEXT, id INT);\n\
         INSERT INTO events VALUES('acme',1);\nINSERT INTO events VALUES('globex',2);\nCOMMIT;\n",
    )
    .unwrap();
    let o = d1plus(&["import", &db, dump.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("imported 2 rows of 1 tables"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("2/2 rows"),
        "the progress bar: {}",
        text(&o)
    );
    let o = d1plus(&["export", &db], None);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("INSERT INTO events (tenantId,id) VALUES('acme',1);"),
        "{out}"
    );
    // Again: the rows are there already.
    let o = d1plus(&["import", &db, dump.to_str().unwrap()], None);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("already holds rows of table events"),
        "{}",
        text(&o)
    );
}

/// `migrate` then `check`, and `check` finding drift.
#[test]
fn migrate_and_check() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let migrations = tmp.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(
        migrations.join("0001_events.sql"),
        "CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (tenantId, id));\n\
         INSERT INTO events VALUES ('acme', 1), ('globex', 2);\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("0002_index.sql"),
        "CREATE INDEX events_id ON events(id);\n",
    )
    .unwrap();
    let m = migrations.to_str().unwrap();
    let o = d1plus(&["migrate", &db, m], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("shard 3: applied 0002_index.sql"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("2 migrations on 4 shards: 8 applied now"),
        "{}",
        text(&o)
    );
    let o = d1plus(&["migrate", &db, m], None);
    assert!(
        text(&o).contains("0 applied now, 2 already applied everywhere"),
        "{}",
        text(&o)
    );
    let o = d1plus(&["check", &db], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("4 shards agree"), "{}", text(&o));
    let shard1 = Path::new(&db).join("shard-01.sqlite");
    rusqlite::Connection::open(shard1)
        .unwrap()
        .execute_batch("CREATE INDEX stray ON events(tenantId)")
        .unwrap();
    let o = d1plus(&["check", &db], None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("shard 1: has index stray"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("D1PLUS_SCHEMA_DRIFT"), "{}", text(&o));
}

/// `status --format json`: rows per shard as the placement puts them, skew, top keys.
#[test]
fn status_reports_the_distribution() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let script = tmp.path().join("s.sql");
    std::fs::write(
        &script,
        "CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (tenantId, id));\n\
         INSERT INTO events VALUES ('acme', 1), ('acme', 2), ('acme', 3), ('acme', 4), ('globex', 5), ('initech', 6);\n",
    )
    .unwrap();
    assert!(d1plus(&["exec", &db, script.to_str().unwrap()], None)
        .status
        .success());
    let o = d1plus(&["status", &db, "--format", "json"], None);
    assert!(o.status.success(), "{}", text(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let shards = s["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 4);
    let acme = d1plus::placement::shard_for_key(
        &d1plus::value::Value::Text("acme".into()),
        d1plus::value::Affinity::Text,
        4,
    )
    .unwrap();
    assert!(shards[acme]["rows"]["events"].as_u64().unwrap() >= 4);
    let total: u64 = shards
        .iter()
        .map(|x| x["rows"]["events"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 6);
    assert!(s["skew"].as_f64().unwrap() >= 4.0 / 1.5);
    assert_eq!(s["top_keys"]["events"][0], serde_json::json!(["acme", 4]));
    assert!(s["split"].is_null());
    let o = d1plus(&["status", &db], None);
    assert!(
        text(&o).contains("top keys of events: acme (4)"),
        "{}",
        text(&o)
    );
    // After a split, status names each shard's new file, and the rows are all there.
    let o = d1plus(&["split", &db, "--to", "16"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("split 4 -> 8 shards"), "{}", text(&o));
    assert!(text(&o).contains("split 8 -> 16 shards"), "{}", text(&o));
    let o = d1plus(&["status", &db, "--format", "json"], None);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let shards = s["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 16);
    assert_eq!(shards[5]["file"], "shard-05-of-16.sqlite");
    let total: u64 = shards
        .iter()
        .map(|x| x["rows"]["events"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 6);
    let o = d1plus(&["split", &db, "--abort"], None);
    assert!(text(&o).contains("no split in progress"), "{}", text(&o));
    let o = d1plus(&["split", &db, "--auto"], None);
    assert!(!o.status.success());
    assert!(text(&o).contains("capacity is not auto"), "{}", text(&o));
}

/// Output formats and messages a new user meets first (issue 15).
#[test]
fn formats_and_first_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    // JSON: a repeated column name is one key holding the last value, as D1's objects.
    let o = d1plus(
        &[
            "query",
            &db,
            "--format",
            "json",
            "SELECT 1 AS a, 2 AS a, 3 AS b",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["results"], serde_json::json!([{"a": 2, "b": 3}]));
    let raw = String::from_utf8_lossy(&o.stdout).matches("\"a\"").count();
    assert_eq!(raw, 1, "no duplicate keys");
    // JSON: an error is JSON on stdout, and the exit code says it failed.
    let o = d1plus(&["query", &db, "--format", "json", "SELEC 1"], None);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["success"], false);
    assert_eq!(v["code"], "D1_ERROR");
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("near \"SELEC\": syntax error"));
    // CSV.
    let o = d1plus(
        &[
            "query",
            &db,
            "--format",
            "csv",
            "SELECT 'a,b' AS x, NULL AS y, 1.5 AS z, 'say \"hi\"' AS w",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "x,y,z,w\n\"a,b\",,1.5,\"say \"\"hi\"\"\"\n"
    );
    // ndjson takes its requests from stdin only.
    let o = d1plus(&["query", &db, "--format", "ndjson", "SELECT 1"], Some(""));
    assert!(!o.status.success());
    assert!(text(&o).contains("drop the SQL argument"), "{}", text(&o));
    // A missing directory, and init over an existing database.
    let o = d1plus(
        &[
            "query",
            tmp.path().join("nodir").to_str().unwrap(),
            "SELECT 1",
        ],
        None,
    );
    assert!(
        text(&o).contains("D1PLUS_INVALID_ARGUMENT: no d1plus database at"),
        "{}",
        text(&o)
    );
    let policy = tmp.path().join("policy.json");
    let o = d1plus(&["init", &db, "--policy", policy.to_str().unwrap()], None);
    assert!(
        text(&o).contains("already holds a d1plus database. Remedy:"),
        "{}",
        text(&o)
    );
}

/// `exec` prints the rows of the statements that return rows.
#[test]
fn exec_prints_rows_of_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let script = "CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER);\n\
                  INSERT INTO events VALUES ('acme', 1), ('globex', 2);\n\
                  SELECT count(*) AS n FROM events;\n";
    let o = d1plus(&["exec", &db, "-"], Some(script));
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("n\n-\n2"), "{out}");
    assert!(out.contains("ok: 3 statements"), "{out}");
}

/// Schema in code: the declaration writes the migrations, migrate applies them, and the
/// next diff is empty (issue 12).
#[test]
fn schema_in_code_writes_migrations() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let decl = tmp.path().join("schema.json");
    let migrations = tmp.path().join("migrations");
    let write_decl = |extra: &str| {
        std::fs::write(
            &decl,
            format!(
                r#"{{"tables": [{{"name": "events", "columns": [
                    {{"name": "tenantId", "type": "TEXT", "notNull": true}},
                    {{"name": "id", "type": "INTEGER", "notNull": true}},
                    {{"name": "kind", "type": "TEXT", "collate": "NOCASE"}}{extra}],
                  "primaryKey": ["tenantId", "id"],
                  "indexes": [{{"name": "events_kind", "columns": ["kind"]}}]}},
                  {{"name": "plans", "columns": [{{"name": "id", "type": "INTEGER", "primaryKey": true}}, {{"name": "name", "type": "TEXT"}}]}}]}}"#
            ),
        )
        .unwrap();
    };
    write_decl("");
    let (d, m) = (decl.to_str().unwrap(), migrations.to_str().unwrap());
    let o = d1plus(&["schema", "diff", &db, d, m, "--name", "init"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(migrations.join("0001_init.sql").exists(), "{}", text(&o));
    let o = d1plus(&["migrate", &db, m], None);
    assert!(o.status.success(), "{}", text(&o));
    let o = d1plus(&["schema", "diff", &db, d, m], None);
    assert!(text(&o).contains("already matches"), "{}", text(&o));
    write_decl(r#", {"name": "amount", "type": "REAL", "default": 0}"#);
    let o = d1plus(&["schema", "diff", &db, d, m], None);
    assert!(
        text(&o).contains("ALTER TABLE events ADD COLUMN amount REAL DEFAULT 0"),
        "{}",
        text(&o)
    );
    assert!(migrations.join("0002_schema.sql").exists());
    assert!(d1plus(&["migrate", &db, m], None).status.success());
    assert!(d1plus(&["check", &db], None).status.success());
    let o = d1plus(
        &[
            "query",
            &db,
            "INSERT INTO events (tenantId, id) VALUES ('acme', 1) RETURNING amount",
        ],
        None,
    );
    assert!(
        text(&o).contains("0.0") || text(&o).contains("| 0"),
        "{}",
        text(&o)
    );
    // Dropping needs the flag.
    write_decl("");
    let o = d1plus(&["schema", "diff", &db, d, m], None);
    assert!(
        !o.status.success() && text(&o).contains("--allow-destructive"),
        "{}",
        text(&o)
    );
    let o = d1plus(&["schema", "types", d], None);
    assert!(
        text(&o).contains("export interface EventsRow"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_shell_runs_statements_and_commands_from_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let more = tmp.path().join("more.sql");
    std::fs::write(
        &more,
        "INSERT INTO events VALUES ('globex', 9, 'from .read');\n.mode csv\n",
    )
    .unwrap();
    let script = format!(
        "CREATE TABLE events (tenantId TEXT, id INTEGER, kind TEXT, PRIMARY KEY (tenantId, id));\n\
         CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT);\n\
         INSERT INTO events VALUES\n  ('acme', 1, 'a;b'),\n  ('acme', 2, 'x'), -- a comment; not the end\n  ('initech', 3, 'y');\n\
         .tables\n\
         .read {}\n\
         SELECT tenantId, count(*) AS n FROM events GROUP BY tenantId ORDER BY tenantId;\n\
         .mode line\n\
         SELECT kind FROM events WHERE tenantId = 'acme' AND id = 1;\n\
         .hint events=globex\n\
         .mode json\n\
         SELECT count(*) AS here FROM events;\n\
         .hint off\n\
         .explain on\n\
         SELECT count(*) AS everywhere FROM events;\n\
         .explain off\n\
         .schema plans\n\
         SELEC 1;\n\
         .nonsense\n\
         .quit\n\
         SELECT 'never run';\n",
        more.display()
    );
    let o = d1plus(&["shell", &db], Some(&script));
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    // Two errors (a typo, an unknown command): reported, the script goes on, exit 1.
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("near \"SELEC\": syntax error"), "{err}");
    assert!(err.contains("unknown command .nonsense"), "{err}");
    assert!(!out.contains("never run"), "{out}");
    // A statement over three lines with a ';' in a string and in a comment ran once.
    assert!(out.contains("(3 rows changed, "), "{out}");
    assert!(
        out.contains("events                   sharded by tenantId"),
        "{out}"
    );
    assert!(
        out.contains("plans                    reference: on every shard"),
        "{out}"
    );
    // .read ran its statement and switched to csv.
    assert!(
        out.contains("tenantId,n\nacme,2\nglobex,1\ninitech,1\n(3 rows, "),
        "{out}"
    );
    assert!(out.contains("kind = a;b\n(1 row, "), "{out}");
    // The hint sends the count to globex's shard only (golden placement: 4 shards).
    let globex = d1plus::placement::shard_for_key(
        &d1plus::value::Value::Text("globex".into()),
        d1plus::value::Affinity::Text,
        4,
    )
    .unwrap();
    let hinted = out.split("\"here\": 1").nth(1).unwrap_or_default();
    assert!(
        hinted.lines().nth(3).is_some_and(
            |l| l.starts_with("(1 row, ") && l.ends_with(&format!(" ms, shard {globex})"))
        ),
        "{out}"
    );
    // .explain shows the plan, then the answer from every shard.
    assert!(out.contains("route: all shards"), "{out}");
    assert!(out.contains("\"everywhere\": 4"), "{out}");
    assert!(out.contains("shards 0-3)"), "{out}");
    assert!(
        out.contains("CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT);"),
        "{out}"
    );
}

#[test]
fn the_shell_refuses_an_unfinished_statement_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let o = d1plus(&["shell", &db], Some("SELECT 1 AS a;\nSELECT 2\n"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("a\n-\n1"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("incomplete statement at the end of input"),
        "{}",
        text(&o)
    );
}

/// The shell on a terminal (a pseudo-terminal made by util-linux's `script`, which every
/// Debian has): prompts, a statement continued on a second line, history kept in $HOME.
#[test]
fn the_shell_edits_lines_on_a_terminal_and_keeps_history() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let command = format!("{} shell {db}", env!("CARGO_BIN_EXE_d1plus"));
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("HOME", &home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` makes the pseudo-terminal");
    let mut input = child.stdin.take().unwrap();
    for line in ["SELECT 40 +", "2 AS answer;", ".quit"] {
        writeln!(input, "{line}").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    drop(input);
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    assert!(out.contains("shell on"), "{out}");
    assert!(out.contains("d1plus> "), "{out}");
    assert!(out.contains("   ...> "), "{out}");
    assert!(out.contains("answer\n------\n42"), "{out}");
    let history = std::fs::read_to_string(home.join(".d1plus_history")).unwrap();
    assert!(
        history.contains("SELECT 40 +") && history.contains(".quit"),
        "{history}"
    );
}

#[test]
fn explain_plans_without_values() {
    let tmp = tempfile::tempdir().unwrap();
    let db = init(tmp.path());
    let o = d1plus(
        &[
            "exec",
            &db,
            "-",
        ],
        Some("CREATE TABLE events (tenantId TEXT, id INTEGER, kind TEXT, PRIMARY KEY (tenantId, id));"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let explain = |sql: &str| {
        let o = d1plus(&["explain", &db, sql], None);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let point = explain("SELECT kind FROM events WHERE tenantId = ? AND id = ?");
    assert!(
        point.starts_with("route: the shard of ?1\nwhy:   shard key events.tenantId = ?1\n"),
        "{point}"
    );
    assert!(point.contains("shard of ?1: SELECT kind FROM events WHERE tenantId = ? AND id = ?  -- params: [?1, ?2]"), "{point}");
    let insert = explain("INSERT INTO events VALUES (?1, ?2, ?3), (?4, ?5, ?6)");
    assert!(
        insert.starts_with("route: the shards of ?1, ?4\n"),
        "{insert}"
    );
    let page = explain("SELECT id FROM events ORDER BY id LIMIT ?");
    assert!(page.starts_with("route: all shards\n"), "{page}");
    // A read answered in two phases shows both: the rows read first, then the query over
    // them on the coordinator.
    let ranked = explain("SELECT id, rank() OVER (ORDER BY kind) FROM events WHERE id > 2");
    assert!(
        ranked.starts_with("two phases: the rows its window functions read first")
            && ranked.contains("  shards 0-3: SELECT * FROM events WHERE id > 2 LIMIT 100001")
            && ranked.contains("2. on the coordinator, over those rows (__d1p_partials): SELECT id, rank() OVER (ORDER BY kind) FROM __d1p_partials AS events"),
        "{ranked}"
    );
    assert!(
        page.contains("note:  the plan depends on the value of ?1"),
        "{page}"
    );
    // With values, the plan of those values.
    let o = d1plus(
        &[
            "explain",
            &db,
            "--params",
            r#"["acme", 1]"#,
            "SELECT kind FROM events WHERE tenantId = ? AND id = ?",
        ],
        None,
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("-- params: ['acme', 1]"),
        "{}",
        text(&o)
    );
}

#[test]
fn url_mistakes_are_named_before_any_request() {
    let run = |args: &[&str], token: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_d1plus"));
        cmd.args(args).env_remove("D1PLUS_TOKEN");
        if let Some(t) = token {
            cmd.env("D1PLUS_TOKEN", t);
        }
        let o = cmd.output().unwrap();
        assert!(!o.status.success(), "{args:?}");
        text(&o)
    };
    assert!(
        run(&["query", "--url", "https://db.example", "SELECT 1"], None)
            .contains("needs the Worker's token in the environment variable D1PLUS_TOKEN")
    );
    assert!(run(
        &["query", "--url", "ftp://db.example", "SELECT 1"],
        Some("t")
    )
    .contains("is not an http(s) URL"));
    assert!(run(
        &["query", "--url", "https://db.example", "dir", "SELECT 1"],
        Some("t")
    )
    .contains("no DIR with --url"));
    assert!(run(&["status"], None).contains("status takes DIR, or --url URL"));
    assert!(run(&["shell"], None).contains("shell takes DIR, or --url URL"));
    assert!(run(&["exec", "dir"], None).contains("exec takes DIR FILE"));
    assert!(run(&["explain", "dir"], None).contains("explain takes DIR and a statement"));
    assert!(run(
        &["explain", "--url", "https://db.example", "SELECT 1"],
        None
    )
    .contains("D1PLUS_TOKEN"));
    // Nothing listens there: the error names the URL.
    let unreachable = run(
        &["query", "--url", "http://127.0.0.1:9", "SELECT 1"],
        Some("t"),
    );
    assert!(
        unreachable.contains("cannot reach http://127.0.0.1:9/query"),
        "{unreachable}"
    );
}
