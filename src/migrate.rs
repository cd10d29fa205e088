//! Migrations across shards, in wrangler's format, and the check that the shards agree.
//!
//! A migration is a file `NNNN_name.sql`; migrations apply in name order. Each statement is
//! planned like any statement (DDL on every shard, data statements by the policy), and each
//! shard applies the whole migration and records it **in one atomic batch**: the
//! migration's statements for that shard, then a row in `d1_migrations` (wrangler's table,
//! so `wrangler d1 migrations list` reads it) and one in `_d1plus_migrations` (the file's
//! checksum). A shard therefore holds a migration entirely, recorded, or not at all. A
//! failure names the migration and the shard and stops; running again resumes every shard
//! from its own records. A migration recorded with another checksum (its file was edited
//! after it was applied) is refused by name.
//!
//! Statements are planned against the schema the migration starts from (the schema of a
//! shard that has not applied it, copied into a scratch SQLite, with the migration's own DDL
//! applied there as planning goes), so a migration may create a table and fill it. DDL that
//! SQLite rejects is found there, before any shard is touched.

use crate::analyze::analyze;
use crate::api::Database;
use crate::backend::{Backend, ShardBatch, ShardId, ShardStatement};
use crate::catalog::{self, Catalog};
use crate::error::{sqlite_message, Error, ErrorCode, Result};
use crate::parse::Parsed;
use crate::plan::{self, Context, PlanOptions};
use crate::value::Value;
use rusqlite::Connection;

/// wrangler's migrations table (`wrangler d1 migrations apply` creates the same).
pub const D1_MIGRATIONS_DDL: &str = "CREATE TABLE IF NOT EXISTS d1_migrations(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)";
/// Where d1plus keeps each applied migration's checksum, beside `d1_migrations`.
pub const CHECKSUMS_TABLE: &str = "_d1plus_migrations";
const CHECKSUMS_DDL: &str =
    "CREATE TABLE IF NOT EXISTS _d1plus_migrations (name TEXT PRIMARY KEY, checksum TEXT NOT NULL)";

/// One migration: its name and its SQL (`{ name, sql }` in JavaScript).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Migration {
    /// The file name, as wrangler records it (`0001_create_users.sql`).
    pub name: String,
    /// The SQL text.
    pub sql: String,
}

impl Migration {
    /// The checksum kept for an applied migration (xxh64 of the text, hex).
    pub fn checksum(&self) -> String {
        format!("{:016x}", xxhash_rust::xxh64::xxh64(self.sql.as_bytes(), 0))
    }
}

/// What happened, shard by shard, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `migration` was applied on `shard` with this many statements.
    Applied {
        /// The migration's name.
        migration: String,
        /// The shard.
        shard: ShardId,
        /// Statements the shard ran (the two records included).
        statements: usize,
    },
    /// Every migration is applied on `shard`.
    UpToDate {
        /// The shard.
        shard: ShardId,
    },
}

/// Applied (migration, shard) pairs, and migrations already applied everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Migration applications done now.
    pub applied: usize,
    /// Migrations that every shard already had.
    pub already: usize,
}

/// A shard's records: the migrations it applied, with their checksums where known.
type Records = Vec<(String, Option<String>)>;

/// Applies `migrations` (in name order) on every shard of `db`; see the module docs.
pub async fn migrate<B: Backend>(
    db: &Database<B>,
    migrations: &[Migration],
    progress: &mut dyn FnMut(Step),
) -> Result<Report> {
    db.ensure_catalog().await?;
    let mut migrations = migrations.to_vec();
    migrations.sort_by(|a, b| a.name.cmp(&b.name));
    let n = db.policy().shard_count();
    on_every_shard(db, &[D1_MIGRATIONS_DDL, CHECKSUMS_DDL]).await?;
    let records = shard_records(db).await?;
    check_history(&migrations, &records)?;
    let mut report = Report::default();
    for m in &migrations {
        let pending: Vec<ShardId> = (0..n)
            .filter(|&s| !records[s].iter().any(|(name, _)| *name == m.name))
            .collect();
        let Some(&first) = pending.first() else {
            report.already += 1;
            continue;
        };
        let per_shard = plan_migration(db, m, first).await?;
        let mut applied_now = Vec::new();
        for &s in &pending {
            let mut statements = per_shard[s].clone();
            statements.push(ShardStatement {
                sql: "INSERT INTO d1_migrations (name) VALUES (?1)".into(),
                params: vec![Value::Text(m.name.clone())],
            });
            statements.push(ShardStatement {
                sql: format!("INSERT INTO {CHECKSUMS_TABLE} (name, checksum) VALUES (?1, ?2)")
                    .into(),
                params: vec![Value::Text(m.name.clone()), Value::Text(m.checksum())],
            });
            let count = statements.len();
            let out = db
                .backend()
                .run(vec![ShardBatch {
                    shard: s,
                    statements,
                }])
                .await;
            if let Some(Err(e)) = out.into_iter().next() {
                let done: Vec<String> = (0..n)
                    .filter(|x| !pending.contains(x) || applied_now.contains(x))
                    .map(|x| x.to_string())
                    .collect();
                return Err(Error::with_remedy(
                    ErrorCode::MigrationFailed,
                    format!(
                        "migration {} failed on shard {s}: {}; nothing of it was applied there{}",
                        m.name,
                        error_text(&e),
                        if done.is_empty() {
                            String::new()
                        } else {
                            format!(" (shards {} have it)", done.join(", "))
                        }
                    ),
                    "fix what makes it fail on that shard (not the migration file: shards that applied it keep its checksum), then run the same command again: every shard resumes from its own records",
                ));
            }
            applied_now.push(s);
            progress(Step::Applied {
                migration: m.name.clone(),
                shard: s,
                statements: count,
            });
            report.applied += 1;
        }
    }
    for shard in 0..n {
        progress(Step::UpToDate { shard });
    }
    db.reload_catalog().await?;
    // Migrations run beside the planner's DDL path: capture the realtime tables they made.
    crate::capture::ensure(db.backend(), db.policy(), &db.catalog()).await?;
    Ok(report)
}

fn error_text(e: &Error) -> String {
    match e {
        Error::Backend { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Runs `statements` (without parameters) on every shard, one batch each, straight on
/// the backend: each shard's outputs, in shard order.
async fn run_on_every_shard<B: Backend>(
    db: &Database<B>,
    statements: &[&str],
) -> Vec<Result<Vec<crate::backend::StatementOutput>>> {
    crate::capture::run_on_every_shard(db.backend(), statements).await
}

/// Runs `statements` on every shard; the first failure is the error.
async fn on_every_shard<B: Backend>(db: &Database<B>, statements: &[&str]) -> Result<()> {
    for out in run_on_every_shard(db, statements).await {
        out?;
    }
    Ok(())
}

/// Each shard's rows of one read.
async fn rows_on_every_shard<B: Backend>(
    db: &Database<B>,
    sql: &str,
) -> Result<Vec<Vec<Vec<Value>>>> {
    crate::capture::rows_on_every_shard(db.backend(), sql).await
}

/// Each shard's applied migrations, from `d1_migrations` (a migration applied by wrangler
/// directly has no checksum) and `_d1plus_migrations`.
async fn shard_records<B: Backend>(db: &Database<B>) -> Result<Vec<Records>> {
    let sql = format!(
        "SELECT m.name, c.checksum FROM d1_migrations AS m LEFT JOIN {CHECKSUMS_TABLE} AS c ON c.name = m.name ORDER BY m.id"
    );
    Ok(rows_on_every_shard(db, &sql)
        .await?
        .into_iter()
        .map(|rows| {
            rows.into_iter()
                .map(|r| {
                    let text = |v: Option<&Value>| match v {
                        Some(Value::Text(t)) => Some(t.clone()),
                        _ => None,
                    };
                    (text(r.first()).unwrap_or_default(), text(r.get(1)))
                })
                .collect()
        })
        .collect())
}

/// History is append-only: an applied migration must still exist with the same text.
fn check_history(migrations: &[Migration], records: &[Records]) -> Result<()> {
    for (s, rec) in records.iter().enumerate() {
        for (name, checksum) in rec {
            match migrations.iter().find(|m| m.name == *name) {
                None => {
                    return Err(Error::with_remedy(
                        ErrorCode::MigrationHistory,
                        format!("migration {name} is applied on shard {s} but its file is missing"),
                        "restore the file: migrations are append-only",
                    ))
                }
                Some(m) if checksum.as_ref().is_some_and(|c| *c != m.checksum()) => {
                    return Err(Error::with_remedy(
                        ErrorCode::MigrationHistory,
                        format!(
                            "migration {name} was edited after it was applied (shard {s} recorded checksum {} in {CHECKSUMS_TABLE}, the file now has {})",
                            checksum.as_deref().unwrap_or_default(),
                            m.checksum()
                        ),
                        "restore its applied text and put the change in a new migration",
                    ))
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// The migration's statements for each shard, planned against the schema it starts from
/// (shard `from`'s, which has not applied it).
async fn plan_migration<B: Backend>(
    db: &Database<B>,
    m: &Migration,
    from: ShardId,
) -> Result<Vec<Vec<ShardStatement>>> {
    let n = db.policy().shard_count();
    let scratch = schema_copy(db, from).await?;
    let mut catalog = scratch_catalog(&scratch, 1)?;
    let mut per_shard = vec![Vec::new(); n];
    for (i, st) in crate::lex::split_statements(&m.sql).iter().enumerate() {
        let sql = &m.sql[st.range.clone()];
        let fail = |e: String| {
            Error::with_remedy(
                ErrorCode::InvalidArgument,
                format!(
                    "statement {} of migration {} ({}): {e}",
                    i + 1,
                    m.name,
                    sql.trim()
                ),
                "fix the migration file (nothing was applied)",
            )
        };
        let parsed = Parsed::new(sql).map_err(|e| fail(e.to_string()))?;
        let analysis = analyze(&parsed, db.policy(), &catalog).map_err(|e| fail(e.to_string()))?;
        let cx = Context {
            policy: db.policy(),
            catalog: &catalog,
            options: PlanOptions::default(),
        };
        let planned =
            plan::plan(&parsed, &analysis, &[], None, cx).map_err(|e| fail(e.to_string()))?;
        if planned.changes_schema {
            scratch
                .execute_batch(sql)
                .map_err(|e| fail(sqlite_message(e)))?;
            catalog = scratch_catalog(&scratch, catalog.version + 1)?;
        }
        for b in planned.batches {
            per_shard[b.shard].extend(b.statements);
        }
    }
    Ok(per_shard)
}

/// A scratch SQLite holding shard `s`'s schema.
async fn schema_copy<B: Backend>(db: &Database<B>, s: ShardId) -> Result<Connection> {
    let out = db
        .backend()
        .run(vec![ShardBatch::one(
            s,
            "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid".into(),
            Vec::new(),
        )])
        .await;
    let rows = match out.into_iter().next() {
        Some(r) => r?.pop().map(|o| o.rows).unwrap_or_default(),
        None => Vec::new(),
    };
    let conn = Connection::open_in_memory().map_err(|e| Error::internal(sqlite_message(e)))?;
    for r in rows {
        if let Some(Value::Text(sql)) = r.first() {
            conn.execute_batch(sql).map_err(|e| {
                Error::internal(format!("copying shard {s}'s schema: {}", sqlite_message(e)))
            })?;
        }
    }
    Ok(conn)
}

fn scratch_catalog(conn: &Connection, version: u64) -> Result<Catalog> {
    catalog::load_from(conn, version).map_err(|e| Error::internal(sqlite_message(e)))
}

/// One shard's schema and migration records, as `check` compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSchema {
    /// `type name: sql` of every schema object but SQLite's and D1's internal ones.
    pub objects: Vec<String>,
    /// Applied migrations, in order.
    pub migrations: Vec<String>,
}

/// Every shard's schema and migration records.
pub async fn shard_schemas<B: Backend>(db: &Database<B>) -> Result<Vec<ShardSchema>> {
    db.ensure_catalog().await?;
    let objects = "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_schema \
        WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' \
        AND name NOT LIKE '\\_d1plus\\_split%' ESCAPE '\\' AND name <> '_d1plus_import' ORDER BY type, name";
    let schemas: Vec<Vec<String>> = rows_on_every_shard(db, objects)
        .await?
        .into_iter()
        .map(texts)
        .collect();
    let records = shard_records(db)
        .await
        .unwrap_or_else(|_| vec![Vec::new(); schemas.len()]);
    Ok(schemas
        .into_iter()
        .zip(records)
        .map(|(objects, rec)| ShardSchema {
            objects,
            migrations: rec.into_iter().map(|(name, _)| name).collect(),
        })
        .collect())
}

fn texts(rows: Vec<Vec<Value>>) -> Vec<String> {
    rows.into_iter()
        .filter_map(|r| match r.into_iter().next() {
            Some(Value::Text(t)) => Some(t),
            _ => None,
        })
        .collect()
}

/// How each shard differs from the others: empty when they all agree. Each shard is
/// compared with what most shards have (shard 0's when there is no majority).
pub fn differences(schemas: &[ShardSchema]) -> Vec<String> {
    let Some(reference) = schemas
        .iter()
        .max_by_key(|s| schemas.iter().filter(|o| o == s).count())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, s) in schemas.iter().enumerate() {
        for o in &reference.objects {
            if !s.objects.contains(o) {
                out.push(format!("shard {i}: lacks {o}"));
            }
        }
        for o in &s.objects {
            if !reference.objects.contains(o) {
                out.push(format!("shard {i}: has {o}, which the other shards lack"));
            }
        }
        if s.migrations != reference.migrations {
            out.push(format!(
                "shard {i}: migrations applied [{}], the other shards [{}]",
                s.migrations.join(", "),
                reference.migrations.join(", ")
            ));
        }
    }
    out
}
