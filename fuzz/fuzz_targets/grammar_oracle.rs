//! Structured statements from a small grammar, driven by the fuzzer's bytes, through the
//! differential oracle: one plain SQLite database vs d1plus over 4 shards. Every statement
//! d1plus accepts must give the oracle's rows (as a set) or SQLite's error.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

use d1plus::value::Value;
use futures::executor::block_on;

const ITEMS: [&str; 12] = ["tenantId", "id", "kind", "amount", "data", "amount * 2", "count(*)", "sum(amount)", "max(kind)", "avg(amount)", "min(id)", "count(DISTINCT kind)"];
const PREDS: [&str; 10] = ["tenantId = ?", "tenantId IN (?, 'globex')", "amount > ?", "kind IS NULL", "id % 2 = 0", "tenantId = 'acme' OR tenantId = ?", "amount BETWEEN 0 AND ?", "kind LIKE 'a%'", "data IS NOT NULL", "NOT tenantId = ?"];
const WRITES: [&str; 6] = [
    "INSERT INTO events (tenantId, id, kind, amount) VALUES (?, ?, 'f', 1)",
    "UPDATE events SET amount = amount + 1 WHERE tenantId = ?",
    "DELETE FROM events WHERE tenantId = ? AND id = ?",
    "INSERT OR REPLACE INTO events (tenantId, id, kind) VALUES (?, ?, 'r'), ('acme', ?, 's')",
    "UPDATE plans SET price = price + 1",
    "INSERT INTO counters (k, n) VALUES (?, 1) ON CONFLICT (k) DO UPDATE SET n = n + 1",
];

fn value(b: u8) -> Value {
    match b % 5 {
        0 => Value::Text("acme".into()),
        1 => Value::Text("globex".into()),
        2 => Value::Integer(b as i64 % 7),
        3 => Value::Text("initech".into()),
        _ => Value::Integer(b as i64),
    }
}

fn rows(conn: &rusqlite::Connection, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
    let mut st = conn.prepare(sql).map_err(|e| e.to_string())?;
    let n = st.column_count();
    let ps: Vec<rusqlite::types::Value> = params
        .iter()
        .map(|v| match v {
            Value::Integer(i) => rusqlite::types::Value::Integer(*i),
            Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
            _ => rusqlite::types::Value::Null,
        })
        .collect();
    let out: Vec<Vec<Value>> = st
        .query_map(rusqlite::params_from_iter(ps.iter()), |r| {
            Ok((0..n)
                .map(|i| match r.get_ref(i) {
                    Ok(rusqlite::types::ValueRef::Integer(v)) => Value::Integer(v),
                    Ok(rusqlite::types::ValueRef::Real(v)) => Value::Real(v),
                    Ok(rusqlite::types::ValueRef::Text(t)) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    Ok(rusqlite::types::ValueRef::Blob(b)) => Value::Blob(b.to_vec()),
                    _ => Value::Null,
                })
                .collect())
        })
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by_key(|r| format!("{r:?}"));
    rows
}

thread_local! {
    static STATE: (d1plus::api::Database<d1plus::backend::sqlite::SqliteBackend>, rusqlite::Connection) = {
        let oracle = rusqlite::Connection::open_in_memory().expect("oracle");
        oracle.execute_batch(common::SCHEMA).expect("schema");
        (common::database(), oracle)
    };
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 || data.len() > 256 {
        return;
    }
    STATE.with(|(db, oracle)| {
        let mut bytes = data.iter().copied();
        let mut next = || bytes.next().unwrap_or(0);
        let kind = next();
        let (sql, nparams) = if kind % 4 == 0 {
            let w = WRITES[next() as usize % WRITES.len()];
            (w.to_string(), w.matches('?').count())
        } else {
            let items: Vec<&str> = (0..1 + next() % 3).map(|_| ITEMS[next() as usize % ITEMS.len()]).collect();
            let grouped = items.iter().any(|i| i.contains('('));
            let mut sql = format!("SELECT {} FROM events", items.join(", "));
            let preds: Vec<&str> = (0..next() % 3).map(|_| PREDS[next() as usize % PREDS.len()]).collect();
            if !preds.is_empty() {
                sql.push_str(&format!(" WHERE {}", preds.join(" AND ")));
            }
            if grouped && next() % 2 == 0 {
                sql = sql.replacen("SELECT ", "SELECT tenantId, ", 1) + " GROUP BY tenantId";
            }
            let n = sql.matches('?').count();
            (sql, n)
        };
        let params: Vec<Value> = (0..nparams).map(|_| value(next())).collect();
        // A refusal happens at planning time: then nothing runs anywhere.
        if db.plan(&sql, &params, None).is_err() {
            return;
        }
        let expected = rows(oracle, &sql, &params);
        match (block_on(db.query(&sql, &params, None)), expected) {
            (Ok(r), Ok(exp)) => assert_eq!(sorted(r.rows), sorted(exp), "{sql} {params:?}"),
            (Ok(_), Err(e)) => panic!("{sql} {params:?}: d1plus answered but SQLite failed: {e}"),
            (Err(d1plus::error::Error::Backend { message, .. }), Err(e)) => {
                assert!(message.starts_with(&e), "{sql}: error text differs: {message} vs {e}")
            }
            (Err(e @ d1plus::error::Error::Backend { .. }), Ok(_)) => panic!("{sql} {params:?}: d1plus failed, SQLite did not: {e}"),
            // A refusal found only while merging (equal values of different types).
            (Err(_), _) => assert!(!sql.starts_with("INSERT") && !sql.starts_with("UPDATE") && !sql.starts_with("DELETE")),
        }
    });
});
