//! The split's SQL on the files: schema objects, the capture and pause triggers, cleanup.

use super::*;

/// The app's schema objects: what the copy creates first, last, and at the cutover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct AppSchema {
    /// Tables and views, in creation order.
    pub(super) objects: Vec<String>,
    /// Indexes made with CREATE INDEX, not UNIQUE (built after the rows are in: faster
    /// than row by row).
    pub(super) indexes: Vec<(String, String)>,
    /// Triggers (made at the cutover, so the copy does not fire them).
    pub(super) triggers: Vec<String>,
}

impl AppSchema {
    /// Every object's SQL, sorted: what two files with the same schema agree on.
    pub(super) fn sorted(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .objects
            .iter()
            .chain(self.indexes.iter().map(|(_, sql)| sql))
            .chain(&self.triggers)
            .map(String::as_str)
            .collect();
        all.sort_unstable();
        all
    }
}

pub(super) fn app_schema(conn: &Connection, path: &Path) -> Result<AppSchema> {
    app_schema_of(conn, "main")
        .map_err(|e| Error::backend(None, format!("{}: {e}", path.display())))
}

pub(super) fn app_schema_of(conn: &Connection, schema: &str) -> Result<AppSchema> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT type, name, sql FROM {schema}.sqlite_schema WHERE sql IS NOT NULL \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_d1plus\\_split%' ESCAPE '\\' \
             AND name <> '{}' ORDER BY rowid",
            rowid_ranges::FLOOR_TABLE
        ))
        .map_err(|e| Error::internal(sqlite_message(e)))?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|r| r.collect())
        .map_err(|e| Error::internal(sqlite_message(e)))?;
    let mut out = AppSchema::default();
    for (kind, name, sql) in rows {
        match kind.as_str() {
            "trigger" => out.triggers.push(sql),
            // A UNIQUE index is there from the start: the copy's OR REPLACE relies on it.
            "index" if !is_unique_index(&sql) => out.indexes.push((name, sql)),
            _ => out.objects.push(sql),
        }
    }
    Ok(out)
}

pub(super) fn is_unique_index(sql: &str) -> bool {
    crate::lex::significant(sql)
        .get(1)
        .is_some_and(|t| t.is_keyword(sql, "UNIQUE"))
}

/// The change log and its triggers on an old file (idempotent).
pub(super) fn install_capture(conn: &Connection, path: &Path, tables: &[CopyTable]) -> Result<()> {
    run_script(
        conn,
        path,
        &transaction(crate::reshard::sql::capture(tables)),
    )
}

/// Triggers that refuse every write to an old file with `D1PLUS_RETRY` (idempotent).
pub(super) fn install_pause(conn: &Connection, path: &Path, tables: &[CopyTable]) -> Result<()> {
    run_script(conn, path, &transaction(crate::reshard::sql::pause(tables)))
}

/// Statements as one `BEGIN IMMEDIATE; …; COMMIT;` script.
fn transaction(statements: Vec<String>) -> String {
    format!("BEGIN IMMEDIATE;\n{};\nCOMMIT;", statements.join(";\n"))
}

/// Drops the split's triggers and log from an old file.
pub(super) fn drop_capture(conn: &Connection, path: &Path) -> Result<()> {
    let err = |e| file_error(path, e);
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '\\_d1plus\\_split%' ESCAPE '\\'")
        .map_err(err)?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|r| r.collect())
        .map_err(err)?;
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    for n in names {
        sql.push_str(&format!("DROP TRIGGER IF EXISTS {};\n", quote_ident(&n)));
    }
    sql.push_str(&format!("DROP TABLE IF EXISTS {LOG};\nCOMMIT;"));
    run_script(conn, path, &sql)
}

/// Runs a `BEGIN; …; COMMIT;` script, rolled back if a statement fails.
pub(super) fn run_script(conn: &Connection, path: &Path, sql: &str) -> Result<()> {
    conn.execute_batch(sql).map_err(|e| {
        if !conn.is_autocommit() {
            // The error to report is the statement's; a failed rollback adds nothing.
            let _rolled_back = conn.execute_batch("ROLLBACK");
        }
        file_error(path, e)
    })
}

/// After a cutover: deletes the files no layout names any more (a killed cleanup is
/// finished by the next command), drops the copy's bookkeeping from the live files, and
/// writes the layout's shard count into `policy.json`.
pub(super) fn cleanup(dir: &Path, policy: &Policy, layout: &Layout) -> Result<()> {
    if layout.version == 0 {
        return Ok(());
    }
    let live: Vec<&String> = layout
        .files
        .iter()
        .chain(layout.split.iter().flat_map(|s| &s.files))
        .collect();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::backend(None, format!("cannot list {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let base = ["-journal", "-wal", "-shm"]
            .iter()
            .fold(name.as_str(), |n, suffix| n.trim_end_matches(suffix));
        if base.starts_with("shard-")
            && base.ends_with(".sqlite")
            && !live.iter().any(|l| *l == base)
        {
            remove_file(&entry.path())?;
        }
    }
    for path in layout.paths(dir) {
        let conn = open(&path)?;
        if has_table(&conn, &path, CAUGHT)? {
            conn.execute_batch(&format!(
                "DROP TABLE IF EXISTS {CAUGHT}; DROP TABLE IF EXISTS {COPY}"
            ))
            .map_err(|e| file_error(&path, e))?;
        }
    }
    let on_disk = layout::read_policy(dir)?;
    if on_disk.shard_count() != layout.shard_count {
        layout::write_atomically(dir, layout::POLICY_FILE, &policy.to_json_pretty())?;
    }
    Ok(())
}

/// Opens a file that must exist.
pub(super) fn open(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(Error::backend(
            None,
            format!("shard file {} is missing", path.display()),
        ));
    }
    connect(path, OpenFlags::empty())
}

/// Opens a file, creating it when it does not exist.
pub(super) fn open_or_create(path: &Path) -> Result<Connection> {
    connect(path, OpenFlags::SQLITE_OPEN_CREATE)
}

fn connect(path: &Path, create: OpenFlags) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | create;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| file_error(path, e))?;
    conn.busy_timeout(BUSY).map_err(|e| file_error(path, e))?;
    // 64 MB of page cache per database (and per attached one): the copy reads and writes
    // every page, and SQLite's default of 8 MB rereads them.
    conn.execute_batch("PRAGMA cache_size = -65536")
        .map_err(|e| file_error(path, e))?;
    // Rows arrive in rowid order, not in the order foreign keys would need.
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(|e| file_error(path, e))?;
    Ok(conn)
}

/// Whether a new file has been made final (`finish_pair`).
pub(super) fn is_final(conn: &Connection, path: &Path) -> Result<bool> {
    if !has_table(conn, path, CAUGHT)? {
        return Ok(false);
    }
    conn.query_row(&format!("SELECT final FROM main.{CAUGHT}"), [], |r| {
        r.get(0)
    })
    .map_err(|e| file_error(path, e))
}

pub(super) fn has_object(conn: &Connection, path: &Path, name: &str) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM main.sqlite_schema WHERE name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| file_error(path, e))
}

pub(super) fn has_table(conn: &Connection, path: &Path, name: &str) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM main.sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| file_error(path, e))
}

pub(super) fn remove_file(path: &Path) -> Result<()> {
    for p in [
        path.to_path_buf(),
        PathBuf::from(format!("{}-journal", path.display())),
    ] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::backend(
                    None,
                    format!("cannot remove {}: {e}", p.display()),
                ))
            }
        }
    }
    Ok(())
}

pub(super) use crate::reshard::sql::literal;

pub(super) fn file_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::backend(None, format!("{}: {}", path.display(), sqlite_message(e)))
}
