//! Capture for realtime (see `crate::realtime`): the change log and the triggers that
//! write it, kept in step with the schema. Below the API, so the API can call it after each
//! schema change it runs.

use crate::backend::{Backend, ShardBatch, ShardStatement, StatementOutput};
use crate::catalog::{Catalog, ObjectKind, Table};
use crate::error::Result;
use crate::lex::quote_ident;
use crate::policy::Policy;
use crate::value::Value;

/// The change log's table on every shard.
pub const CHANGES: &str = "_d1plus_changes";
/// The prefix of the capture triggers' names.
const TRIGGER_PREFIX: &str = "_d1plus_rt_";

/// Runs `statements` (without parameters) on every shard, one batch each.
pub(crate) async fn run_on_every_shard(
    backend: &dyn Backend,
    statements: &[&str],
) -> Vec<Result<Vec<StatementOutput>>> {
    let batches = (0..backend.shard_count())
        .map(|shard| ShardBatch {
            shard,
            statements: statements
                .iter()
                .map(|sql| ShardStatement {
                    sql: (*sql).into(),
                    params: Vec::new(),
                })
                .collect(),
        })
        .collect();
    backend.run(batches).await
}

/// Each shard's rows of one read.
pub(crate) async fn rows_on_every_shard(
    backend: &dyn Backend,
    sql: &str,
) -> Result<Vec<Vec<Vec<Value>>>> {
    run_on_every_shard(backend, &[sql])
        .await
        .into_iter()
        .map(|out| Ok(out?.pop().map(|o| o.rows).unwrap_or_default()))
        .collect()
}

/// The triggers that capture one table's writes.
fn capture_sql(table: &Table, max_rows: u64) -> Vec<(String, String)> {
    let image = |prefix: &str| -> String {
        let fields: Vec<String> = table
            .columns
            .iter()
            .map(|c| {
                let v = format!("{prefix}.{}", quote_ident(&c.name));
                format!(
                    "'{}', iif(typeof({v}) = 'blob', hex({v}), {v})",
                    c.name.replace('\'', "''")
                )
            })
            .collect();
        format!("json_object({})", fields.join(", "))
    };
    let t = quote_ident(&table.name);
    let name_literal = crate::lex::quote_text(&table.name);
    let log = |op: &str, row: &str, old: &str| {
        format!(
            "INSERT INTO {CHANGES} (tbl, op, row, old, at) VALUES ({name_literal}, '{op}', {row}, {old}, CAST(unixepoch('subsec') * 1000 AS INTEGER)); \
             DELETE FROM {CHANGES} WHERE seq <= last_insert_rowid() - {max_rows};"
        )
    };
    [
        ("insert", "INSERT", log("insert", &image("NEW"), "NULL")),
        (
            "update",
            "UPDATE",
            log("update", &image("NEW"), &image("OLD")),
        ),
        ("delete", "DELETE", log("delete", "NULL", &image("OLD"))),
    ]
    .into_iter()
    .map(|(op, event, body)| {
        let name = format!("{TRIGGER_PREFIX}{op}_{}", table.name);
        let sql = format!(
            "CREATE TRIGGER {} AFTER {event} ON {t} BEGIN {body} END",
            quote_ident(&name)
        );
        (name, sql)
    })
    .collect()
}

const LOG_DDL: &str =
    "CREATE TABLE IF NOT EXISTS _d1plus_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
     tbl TEXT NOT NULL, op TEXT NOT NULL, row TEXT, old TEXT, at INTEGER NOT NULL)";

/// Makes every shard capture the realtime tables' writes as the schema is now: the log
/// table, and the triggers of each realtime table that exists (recreated when the table's
/// columns changed). Does nothing when they are already right.
pub async fn ensure(backend: &dyn Backend, policy: &Policy, catalog: &Catalog) -> Result<()> {
    let Some(rt) = policy.realtime.as_ref() else {
        return Ok(());
    };
    let mut wanted: Vec<(String, String)> = Vec::new();
    for name in &rt.tables {
        if let Some(t) = catalog.get(name).filter(|t| t.kind == ObjectKind::Table) {
            wanted.extend(capture_sql(t, rt.max_rows()));
        }
    }
    let have_sql = format!(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '{}%' ESCAPE '\\' ORDER BY name",
        TRIGGER_PREFIX.replace('_', "\\_")
    );
    let per_shard = rows_on_every_shard(backend, &have_sql).await?;
    let mut expected: Vec<Vec<Value>> = wanted
        .iter()
        .map(|(n, s)| vec![Value::Text(n.clone()), Value::Text(s.clone())])
        .collect();
    expected.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    let has_log = rows_on_every_shard(
        backend,
        "SELECT count(*) FROM sqlite_schema WHERE name = '_d1plus_changes'",
    )
    .await?;
    let all_right = per_shard.iter().all(|rows| *rows == expected)
        && has_log
            .iter()
            .all(|r| r.first().and_then(|x| x.first()) == Some(&Value::Integer(1)));
    if all_right {
        return Ok(());
    }
    let mut statements = vec![LOG_DDL.to_string()];
    for rows in per_shard.iter().take(1) {
        for r in rows {
            if let Some(Value::Text(n)) = r.first() {
                statements.push(format!("DROP TRIGGER IF EXISTS {}", quote_ident(n)));
            }
        }
    }
    statements.extend(wanted.into_iter().map(|(_, s)| s));
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    for out in run_on_every_shard(backend, &refs).await {
        out?;
    }
    Ok(())
}
