//! Realtime (src/realtime.rs, `d1plus watch`): committed writes of several processes come
//! out of the change stream exactly once, in commit order per key, and replaying them gives
//! the table's rows; a stream resumed from a cursor misses nothing; retention is an error.

use d1plus::api::Options;
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::error::ErrorCode;
use d1plus::layout;
use d1plus::realtime::{self, Cursor, Event, Subscription};
use d1plus::value::{Affinity, Value};
use futures::executor::block_on;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn setup(dir: &Path, max_rows: Option<u64>) {
    SqliteBackend::create(dir, 4).unwrap();
    let retention = max_rows
        .map(|n| format!(r#", "maxRows": {n}"#))
        .unwrap_or_default();
    std::fs::write(
        dir.join("policy.json"),
        format!(
            r#"{{"name": "rt", "capacity": {{"mode": "manual", "targetShardCount": 4}},
            "sharding": {{"tables": [{{"name": "docs", "keyColumn": "tenant"}}]}},
            "realtime": {{"tables": ["docs"]{retention}}}}}"#
        ),
    )
    .unwrap();
    let db = layout::open(dir, Options::default()).unwrap();
    block_on(db.exec(
        "CREATE TABLE docs (tenant TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, n INTEGER, data BLOB, PRIMARY KEY (tenant, id))",
    ))
    .unwrap();
}

/// Drives `d1plus query --format ndjson` as another process.
fn writer(dir: &Path, lines: &[String]) -> Vec<serde_json::Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_d1plus"))
        .args(["query", dir.to_str().unwrap(), "--format", "ndjson"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    for l in lines {
        writeln!(input, "{l}").unwrap();
    }
    drop(input);
    let out = BufReader::new(child.stdout.take().unwrap());
    let answers = out
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    child.wait().unwrap();
    answers
}

fn req(sql: &str, params: serde_json::Value) -> String {
    serde_json::json!({"sql": sql, "params": params}).to_string()
}

fn workload(p: u64) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..30u64 {
        let (t, u) = (
            format!("t{}", (i * 7 + p) % 9),
            format!("t{}", (i * 3 + p + 1) % 9),
        );
        let id = (i % 10) as i64;
        lines.push(req(
            "INSERT INTO docs (tenant, id, body, n) VALUES (?1, ?2, 'a', 1), (?3, ?4, 'b', 2) ON CONFLICT DO UPDATE SET n = n + 1",
            serde_json::json!([t, id, u, id + 100]),
        ));
        lines.push(req(
            "UPDATE docs SET body = body || 'x' WHERE tenant = ?1 AND id = ?2",
            serde_json::json!([t, id]),
        ));
        if i % 4 == 0 {
            lines.push(req(
                "DELETE FROM docs WHERE tenant = ?1 AND id = ?2",
                serde_json::json!([u, id + 100]),
            ));
        }
        if i % 5 == 0 {
            lines.push(req(
                "INSERT OR REPLACE INTO docs (tenant, id, body, data) VALUES (?1, ?2, 'replaced', x'00ff')",
                serde_json::json!([t, id]),
            ));
            // Fails (body is NOT NULL): no event.
            lines.push(req(
                "INSERT INTO docs (tenant, id, body) VALUES (?1, 999, NULL)",
                serde_json::json!([t]),
            ));
        }
    }
    lines
}

fn poll_all(dir: &Path, from: &Cursor) -> Vec<Event> {
    let db = layout::open(dir, Options::default()).unwrap();
    let mut cursor = from.clone();
    let mut all = Vec::new();
    loop {
        let (events, next) =
            block_on(realtime::poll(&db, &cursor, &Subscription::default(), 7)).unwrap();
        if events.is_empty() {
            return all;
        }
        all.extend(events);
        cursor = next;
    }
}

fn key(row: &serde_json::Value) -> (String, i64) {
    (
        row["tenant"].as_str().unwrap().to_string(),
        row["id"].as_i64().unwrap(),
    )
}

#[test]
fn writes_of_several_processes_replay_to_the_rows() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path(), None);
    let db = layout::open(tmp.path(), Options::default()).unwrap();
    let start = block_on(realtime::now(&db)).unwrap();
    let (a, b) = (tmp.path().to_path_buf(), tmp.path().to_path_buf());
    let t1 = std::thread::spawn(move || writer(&a, &workload(1)));
    let t2 = std::thread::spawn(move || writer(&b, &workload(2)));
    let answers: Vec<serde_json::Value> = t1
        .join()
        .unwrap()
        .into_iter()
        .chain(t2.join().unwrap())
        .collect();
    assert!(
        answers.iter().any(|a| a["success"] == false),
        "the failing inserts failed"
    );
    let events = poll_all(tmp.path(), &start);
    assert!(events.len() > 100, "{} events", events.len());
    // Exactly once: each shard's entries strictly increase.
    let mut seen = BTreeSet::new();
    for e in &events {
        let c = Cursor::decode(&e.cursor, 4).unwrap();
        assert!(
            seen.insert((e.shard, c.0[e.shard])),
            "an event came twice: {e:?}"
        );
        let row = if e.row.is_null() { &e.old } else { &e.row };
        let (tenant, _) = key(row);
        let want =
            d1plus::placement::shard_for_key(&Value::Text(tenant), Affinity::Text, 4).unwrap();
        assert_eq!(e.shard, want, "an event's shard is its key's");
    }
    // Replaying the events (in order per shard, which is per key) gives the table.
    let mut replay: BTreeMap<(String, i64), serde_json::Value> = BTreeMap::new();
    for e in &events {
        match e.op.as_str() {
            "insert" => {
                replay.insert(key(&e.row), e.row.clone());
            }
            "update" => {
                replay.remove(&key(&e.old));
                replay.insert(key(&e.row), e.row.clone());
            }
            "delete" => {
                replay.remove(&key(&e.old));
            }
            other => panic!("op {other}"),
        }
    }
    let r = block_on(db.query(
        "SELECT tenant, id, body, n, hex(data) AS data FROM docs",
        &[],
        None,
    ))
    .unwrap();
    let table: BTreeMap<(String, i64), serde_json::Value> = r
        .objects()
        .map(|o| {
            let mut v = serde_json::to_value(o).unwrap();
            if v["data"] == "" {
                v["data"] = serde_json::Value::Null;
            }
            (key(&v), v)
        })
        .collect();
    assert_eq!(replay.len(), table.len());
    assert_eq!(replay, table, "replayed events = the table's rows");
    assert!(
        events.iter().any(|e| e.row["data"] == "00FF"),
        "BLOBs come as hex"
    );
}

#[test]
fn a_watch_resumed_from_its_cursor_misses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path(), None);
    let db = layout::open(tmp.path(), Options::default()).unwrap();
    let start = block_on(realtime::now(&db)).unwrap();
    writer(tmp.path(), &workload(3));
    let all = poll_all(tmp.path(), &start);
    let watch = |from: &str, limit: usize| -> Vec<serde_json::Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_d1plus"))
            .args([
                "watch",
                tmp.path().to_str().unwrap(),
                "--from",
                from,
                "--limit",
                &limit.to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // Stop after a few events (as a killed client would), then resume from the last cursor.
    let mut got = watch(&start.encode(), 17);
    while got.len() < all.len() {
        let last = got.last().unwrap()["cursor"].as_str().unwrap().to_string();
        got.extend(watch(&last, 23.min(all.len() - got.len())));
    }
    let want: Vec<serde_json::Value> = all
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    // The same events, each shard's in the same order (shards interleave as they are read).
    let per_shard = |v: &[serde_json::Value]| -> BTreeMap<u64, Vec<(i64, String)>> {
        let mut m: BTreeMap<u64, Vec<(i64, String)>> = BTreeMap::new();
        for e in v {
            let shard = e["shard"].as_u64().unwrap();
            let seq = Cursor::decode(e["cursor"].as_str().unwrap(), 4).unwrap().0[shard as usize];
            m.entry(shard)
                .or_default()
                .push((seq, format!("{} {} {}", e["op"], e["row"], e["old"])));
        }
        m
    };
    assert_eq!(got.len(), want.len());
    assert_eq!(per_shard(&got), per_shard(&want));
}

#[test]
fn an_expired_cursor_is_an_error_not_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path(), Some(5));
    let db = layout::open(tmp.path(), Options::default()).unwrap();
    let start = block_on(realtime::now(&db)).unwrap();
    for i in 0..40 {
        block_on(db.query(
            "INSERT INTO docs VALUES ('acme', ?1, 'x', 0, NULL)",
            &[Value::Integer(i)],
            None,
        ))
        .unwrap();
    }
    let e = block_on(realtime::poll(&db, &start, &Subscription::default(), 100)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CursorExpired, "{e}");
    // From now on, a stream works again; a cursor of another shard count is refused.
    let now = block_on(realtime::now(&db)).unwrap();
    assert!(
        block_on(realtime::poll(&db, &now, &Subscription::default(), 100))
            .unwrap()
            .0
            .is_empty()
    );
    assert_eq!(
        Cursor::decode("rt2:1.2", 4).unwrap_err().code(),
        ErrorCode::CursorExpired
    );
    assert_eq!(
        Cursor::decode("nonsense", 4).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    let e = block_on(realtime::poll(
        &db,
        &now,
        &Subscription::tables(&["other".to_string()]),
        1,
    ))
    .unwrap_err();
    assert!(e.to_string().contains("not a realtime table"), "{e}");
}

#[test]
fn realtime_policy_mistakes_are_named() {
    for (json, says) in [
        (
            r#"{"name": "x", "realtime": {"tables": ["a", "A"]}}"#,
            "listed twice",
        ),
        (
            r#"{"name": "x", "realtime": {"tables": [""]}}"#,
            "must not be empty",
        ),
        (
            r#"{"name": "x", "realtime": {"tables": ["a"], "maxRows": 0}}"#,
            "above 0",
        ),
        (
            r#"{"name": "x", "realtime": {"table": ["a"]}}"#,
            "realtime.table is not a policy field",
        ),
    ] {
        let e = d1plus::policy::Policy::from_json(json).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidPolicy);
        assert!(e.to_string().contains(says), "{json}: {e}");
    }
}

#[test]
fn a_key_stream_sees_exactly_its_keys_events_and_reads_only_its_shard() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path(), None);
    let db = layout::open(tmp.path(), Options::default()).unwrap();
    let start = block_on(realtime::now(&db)).unwrap();
    // Tenants on three shards of four (golden placement: acme 2, tenant-1 3, 日本語 1);
    // inserts, an upsert, updates and deletes of each, some in one multi-row statement.
    for (i, t) in ["acme", "tenant-1", "日本語", "acme"].iter().enumerate() {
        let i = i as i64;
        for sql in [
            "INSERT INTO docs (tenant, id, body, n) VALUES (?1, ?2, 'a', 1), (?1, ?2 + 100, 'b', 2)",
            "INSERT INTO docs (tenant, id, body, n) VALUES (?1, ?2, 'c', 3) ON CONFLICT DO UPDATE SET n = n + 10",
            "UPDATE docs SET body = 'd' WHERE tenant = ?1 AND id = ?2 + 100",
            "DELETE FROM docs WHERE tenant = ?1 AND id = ?2",
        ] {
            block_on(db.query(sql, &[Value::Text(t.to_string()), Value::Integer(i)], None)).unwrap();
        }
    }
    let everything = poll_all(tmp.path(), &start);
    let follow = |key: &str| {
        let sub = Subscription {
            tables: vec!["docs".into()],
            key: Some(Value::Text(key.into())),
        };
        let (events, next) = block_on(realtime::poll(&db, &start, &sub, 1000)).unwrap();
        (events, next)
    };
    for tenant in ["acme", "tenant-1", "日本語", "nobody"] {
        let (events, next) = follow(tenant);
        let strip = |e: &Event| {
            (
                e.table.clone(),
                e.op.clone(),
                e.row.clone(),
                e.old.clone(),
                e.shard,
            )
        };
        let want: Vec<_> = everything
            .iter()
            .filter(|e| {
                let image = if e.row.is_null() { &e.old } else { &e.row };
                image["tenant"] == tenant
            })
            .map(strip)
            .collect();
        let got: Vec<_> = events.iter().map(strip).collect();
        assert_eq!(got, want, "{tenant}");
        // The key's shard is read to its end; the others are not read at all.
        let shard =
            d1plus::placement::shard_for_key(&Value::Text(tenant.into()), Affinity::Text, 4)
                .unwrap();
        for (s, seq) in next.0.iter().enumerate() {
            if s == shard {
                assert!(*seq >= start.0[s], "{tenant}");
            } else {
                assert_eq!(*seq, start.0[s], "{tenant}: shard {s} was read");
            }
        }
    }
    // Two rounds of acme: two inserts, the upsert (an update), an update and a delete each.
    assert_eq!(follow("acme").0.len(), 10);
    // A key stream of a table that is not realtime, and a NULL key, are refused.
    let bad = Subscription {
        tables: vec!["other".into()],
        key: Some(Value::Text("acme".into())),
    };
    assert_eq!(
        block_on(realtime::poll(&db, &start, &bad, 1))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArgument
    );
    let null = Subscription {
        tables: vec![],
        key: Some(Value::Null),
    };
    assert_eq!(
        block_on(realtime::poll(&db, &start, &null, 1))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidShardKey
    );
}
