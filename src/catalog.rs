//! The schema catalog (docs/ARCHITECTURE.md §3b): which tables and views exist, their columns, declared
//! types, affinities and collations. Learned from the home shard (`sqlite_schema` joined
//! with `pragma_table_xinfo`, one query) and refreshed after DDL goes through the proxy.

use crate::lex::{self, TokenKind};
use crate::value::{Affinity, Value};
use ahash::AHashMap;
use serde::Serialize;
use std::sync::Arc;

/// The query that loads the whole catalog from one shard, in one round trip.
/// (`pragma_table_xinfo('')` for views: D1 refuses the pragma of a NULL table name with
/// SQLITE_AUTH, which failed every catalog load of a database with a view.)
pub const LOAD_SQL: &str =
    "SELECT m.type, m.name, m.sql, p.name, p.type, p.pk, p.hidden, p.dflt_value, p.\"notnull\" \
     FROM sqlite_schema AS m LEFT JOIN pragma_table_xinfo(iif(m.type = 'table', m.name, '')) AS p \
     WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
     AND m.name NOT LIKE '\\_cf\\_%' ESCAPE '\\' \
     AND (m.name NOT LIKE '\\_d1plus\\_split%' ESCAPE '\\' OR m.name = '_d1plus_split_layout') \
     ORDER BY m.name, p.cid";

/// What kind of schema object a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ObjectKind {
    /// An ordinary (or virtual) table.
    Table,
    /// A view.
    View,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// Name as declared.
    pub name: String,
    /// Declared type, as written (may be empty).
    pub declared_type: String,
    /// Affinity derived from the declared type.
    pub affinity: Affinity,
    /// `COLLATE` of the column's declaration, if any (upper-cased).
    pub collation: Option<String>,
    /// Part of the PRIMARY KEY.
    pub primary_key: bool,
    /// Hidden or generated (not part of a column-less INSERT).
    pub hidden: bool,
    /// Generated (`GENERATED ALWAYS AS …`): part of `SELECT *`, unlike other hidden ones.
    pub generated: bool,
    /// The DEFAULT expression's text, if the column has one.
    pub default: Option<String>,
    /// Declared NOT NULL.
    pub not_null: bool,
}

/// One table or view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// Name as declared.
    pub name: String,
    /// Table or view.
    pub kind: ObjectKind,
    /// Columns in declaration order.
    pub columns: Vec<Column>,
    /// The CREATE statement.
    pub sql: String,
    /// For a rowid table whose INTEGER PRIMARY KEY aliases the rowid: that column's index.
    pub rowid_alias: Option<usize>,
}

impl Table {
    /// Finds a column by name, case-insensitively.
    pub fn column(&self, name: &str) -> Option<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name.eq_ignore_ascii_case(name))
    }

    /// Columns `SELECT *` gives, in order (generated ones included, hidden ones not).
    pub fn star_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.hidden || c.generated)
    }

    /// Columns a column-less `INSERT INTO t VALUES (...)` fills, in order.
    pub fn insertable_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.hidden)
    }

    /// Identifiers the definition mentions (for views: which tables it reads).
    pub fn mentioned_names(&self) -> Vec<String> {
        lex::significant(&self.sql)
            .iter()
            .filter(|t| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent))
            .filter_map(|t| t.ident_name(&self.sql))
            .collect()
    }
}

/// All tables and views, by case-insensitive name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    tables: AHashMap<String, Table>,
    /// Bumped each time the catalog is reloaded: plans cached under an older version are stale.
    pub version: u64,
    /// A hash of [`Catalog::fingerprint`]: the schema's content, the same for equal
    /// schemas of different databases.
    pub schema_hash: u64,
    /// The text [`FINGERPRINT_SQL`] gives on a database with this schema: what the schema
    /// guard compares (see [`Catalog::guard`]).
    pub fingerprint: String,
    /// The `CREATE VIEW` text of the shard's layout record (`crate::reshard`): which
    /// bindings serve the database, once a Worker's split has moved it; `None` before.
    /// The schema guard compares it too, so a request on a retired layout never runs.
    pub layout: Option<String>,
    /// [`Catalog::guard`]'s statement, made once: its text holds the fingerprint and layout
    /// as literals, so a Worker converts it to a JavaScript string once per catalog (by the
    /// `Arc`), where a parameter would copy the whole schema text on every request.
    guard_sql: Arc<str>,
}

/// The schema's tables and views as one text (`type name sql` lines in name order), from
/// the same rows [`LOAD_SQL`] reads: equal exactly when the catalog would be.
pub const FINGERPRINT_SQL: &str =
    "SELECT coalesce(group_concat(type || ' ' || name || ' ' || coalesce(sql, ''), char(10)), '') \
     FROM (SELECT type, name, sql FROM sqlite_schema WHERE type IN ('table', 'view') \
     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' \
     AND name NOT LIKE '\\_d1plus\\_split%' ESCAPE '\\' ORDER BY name)";

/// The text of a shard's layout record (`crate::reshard::LAYOUT_VIEW`), NULL when it has none.
pub const LAYOUT_SQL: &str =
    "SELECT sql FROM sqlite_schema WHERE type = 'view' AND name = '_d1plus_split_layout'";

/// What a failed schema guard's error says (SQLite quotes the bad JSON path it names).
pub const GUARD_MARKER: &str = "d1plus_schema_changed";

impl Catalog {
    /// Looks a table or view up, case-insensitively.
    pub fn get(&self, name: &str) -> Option<&Table> {
        self.tables.get(&name.to_ascii_lowercase())
    }

    /// Number of tables and views.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// True when no table is known.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// All tables and views, sorted by name.
    pub fn tables(&self) -> Vec<&Table> {
        let mut v: Vec<_> = self.tables.values().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Builds the catalog from the rows of [`LOAD_SQL`].
    pub fn from_rows(rows: &[Vec<Value>], version: u64) -> Catalog {
        let mut tables: AHashMap<String, Table> = AHashMap::new();
        let text = |v: Option<&Value>| match v {
            Some(Value::Text(t)) => t.clone(),
            _ => String::new(),
        };
        let int = |v: Option<&Value>| match v {
            Some(Value::Integer(i)) => *i,
            _ => 0,
        };
        let mut layout = None;
        for row in rows {
            if text(row.get(1)) == crate::reshard::LAYOUT_VIEW {
                layout = Some(text(row.get(2)));
                continue;
            }
            let kind = if text(row.first()) == "view" {
                ObjectKind::View
            } else {
                ObjectKind::Table
            };
            let name = text(row.get(1));
            let sql = text(row.get(2));
            let table = tables
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| Table {
                    name: name.clone(),
                    kind,
                    columns: Vec::new(),
                    sql: sql.clone(),
                    rowid_alias: None,
                });
            if let Some(Value::Text(col)) = row.get(3) {
                let declared_type = text(row.get(4));
                table.columns.push(Column {
                    name: col.clone(),
                    affinity: Affinity::from_declared_type(&declared_type),
                    collation: None,
                    declared_type,
                    primary_key: int(row.get(5)) > 0,
                    hidden: int(row.get(6)) != 0,
                    // pragma_table_xinfo: 2 a VIRTUAL generated column, 3 a STORED one.
                    generated: matches!(int(row.get(6)), 2 | 3),
                    default: match row.get(7) {
                        Some(Value::Text(d)) => Some(d.clone()),
                        _ => None,
                    },
                    not_null: int(row.get(8)) != 0,
                });
            }
        }
        for table in tables.values_mut() {
            annotate_from_sql(table);
        }
        let fingerprint = Catalog::fingerprint_of(&tables);
        let schema_hash = xxhash_rust::xxh64::xxh64(fingerprint.as_bytes(), 0);
        Catalog {
            guard_sql: guard_sql(&fingerprint, layout.as_deref()),
            tables,
            version,
            schema_hash,
            fingerprint,
            layout,
        }
    }

    fn fingerprint_of(tables: &AHashMap<String, Table>) -> String {
        let mut sorted: Vec<&Table> = tables.values().collect();
        sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        let lines: Vec<String> = sorted
            .iter()
            .map(|t| {
                let kind = match t.kind {
                    ObjectKind::Table => "table",
                    ObjectKind::View => "view",
                };
                format!("{kind} {} {}", t.name, t.sql)
            })
            .collect();
        lines.join("\n")
    }

    /// The schema guard: a statement that answers 1 on a shard whose schema is this
    /// catalog's, and fails with [`GUARD_MARKER`] in its error on any other. It rides in
    /// the same D1 call as a request's first statement (at the head of each write batch,
    /// beside a read), so a stale plan never commits and a current one costs no extra
    /// round trip. Its SQL (the fingerprint and layout written in it) and parameters (none).
    pub fn guard(&self) -> (Arc<str>, Vec<Value>) {
        let sql = if self.guard_sql.is_empty() {
            guard_sql(&self.fingerprint, self.layout.as_deref())
        } else {
            self.guard_sql.clone()
        };
        (sql, Vec::new())
    }
}

/// The guard statement of a schema whose [`FINGERPRINT_SQL`] text is `fingerprint` and whose
/// layout record is `layout`.
fn guard_sql(fingerprint: &str, layout: Option<&str>) -> Arc<str> {
    let layout = layout.map_or_else(|| "NULL".to_string(), lex::quote_text);
    format!(
        "SELECT CASE WHEN ({FINGERPRINT_SQL}) IS {} AND ({LAYOUT_SQL}) IS {layout} THEN 1 ELSE json_extract('{{}}', '${GUARD_MARKER}') END AS \"__d1p_guard\"",
        lex::quote_text(fingerprint)
    )
    .into()
}

/// Reads the catalog of a local SQLite database.
pub fn load_from(conn: &rusqlite::Connection, version: u64) -> rusqlite::Result<Catalog> {
    let mut stmt = conn.prepare(LOAD_SQL)?;
    let width = stmt.column_count();
    let rows: Vec<Vec<Value>> = stmt
        .query_map([], |r| {
            (0..width).map(|i| r.get_ref(i).map(Value::from)).collect()
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Catalog::from_rows(&rows, version))
}

/// Whether a shard's error is the schema guard's.
pub fn is_guard_failure(message: &str) -> bool {
    message.contains(GUARD_MARKER)
}

/// Reads what `pragma_table_xinfo` does not say from the CREATE TABLE text: column
/// collations and whether the INTEGER PRIMARY KEY aliases the rowid.
fn annotate_from_sql(table: &mut Table) {
    if table.kind != ObjectKind::Table {
        return;
    }
    let sql = table.sql.clone();
    let tokens = lex::significant(&sql);
    let Some(open) = tokens.iter().position(|t| t.kind == TokenKind::LParen) else {
        return;
    };
    // Split the body at top-level commas; each part is a column or a table constraint.
    let mut depth = 0;
    let mut part_start = open + 1;
    let mut parts = Vec::new();
    let mut close = tokens.len();
    for (i, t) in tokens.iter().enumerate().skip(open + 1) {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen if depth == 0 => {
                parts.push(part_start..i);
                close = i;
                break;
            }
            TokenKind::RParen => depth -= 1,
            TokenKind::Comma if depth == 0 => {
                parts.push(part_start..i);
                part_start = i + 1;
            }
            _ => {}
        }
    }
    for part in parts {
        let toks = &tokens[part];
        let Some(name) = toks.first().and_then(|t| t.ident_name(&sql)) else {
            continue;
        };
        let Some(col) = table
            .columns
            .iter_mut()
            .find(|c| c.name.eq_ignore_ascii_case(&name))
        else {
            continue;
        };
        if let Some(p) = toks.iter().position(|t| t.is_keyword(&sql, "COLLATE")) {
            col.collation = toks
                .get(p + 1)
                .and_then(|t| t.ident_name(&sql))
                .map(|c| c.to_ascii_uppercase());
        }
    }
    let without_rowid = tokens[close.min(tokens.len())..]
        .windows(2)
        .any(|w| w[0].is_keyword(&sql, "WITHOUT") && w[1].is_keyword(&sql, "ROWID"));
    let pks: Vec<usize> = (0..table.columns.len())
        .filter(|&i| table.columns[i].primary_key)
        .collect();
    if !without_rowid && pks.len() == 1 {
        let c = &table.columns[pks[0]];
        if c.declared_type.eq_ignore_ascii_case("INTEGER") {
            table.rowid_alias = Some(pks[0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog_of(ddl: &str) -> Catalog {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(ddl).unwrap();
        let mut stmt = conn.prepare(LOAD_SQL).unwrap();
        let n = stmt.column_count();
        let rows: Vec<Vec<Value>> = stmt
            .query_map([], |r| {
                (0..n).map(|i| Ok(Value::from(r.get_ref(i)?))).collect()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        Catalog::from_rows(&rows, 1)
    }

    /// The guard answers 1 on the schema it was made from, quotes in names, defaults and
    /// the layout record included, and fails with its marker once anything changes.
    #[test]
    fn the_guard_passes_on_its_own_schema_only() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let guard = |conn: &rusqlite::Connection| {
            let c = load_from(conn, 1).unwrap();
            let (sql, params) = c.guard();
            assert!(
                params.is_empty(),
                "the guard carries its values in its text"
            );
            conn.query_row(&sql, [], |r| r.get::<_, i64>(0))
                .map_err(|e| e.to_string())
        };
        conn.execute_batch(
            "CREATE TABLE \"it's\" (a TEXT DEFAULT 'x''y', \"b''\" INTEGER);
             CREATE VIEW _d1plus_split_layout AS SELECT '{\"shards\": [\"A''s\"]}' AS layout;",
        )
        .unwrap();
        assert_eq!(guard(&conn), Ok(1));
        let stale = load_from(&conn, 1).unwrap().guard().0;
        conn.execute_batch("ALTER TABLE \"it's\" ADD COLUMN c")
            .unwrap();
        let e = conn
            .query_row(&stale, [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        assert!(is_guard_failure(&e.to_string()), "{e}");
        assert_eq!(guard(&conn), Ok(1));
        // A changed layout record alone fails it too.
        let stale = load_from(&conn, 1).unwrap().guard().0;
        conn.execute_batch(
            "DROP VIEW _d1plus_split_layout;
             CREATE VIEW _d1plus_split_layout AS SELECT '{\"shards\": [\"B\"]}' AS layout;",
        )
        .unwrap();
        let e = conn
            .query_row(&stale, [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        assert!(is_guard_failure(&e.to_string()), "{e}");
    }

    #[test]
    fn learns_columns_affinity_collation_and_rowid_alias() {
        let c = catalog_of(
            "CREATE TABLE Events (id INTEGER PRIMARY KEY, \"tenant Id\" TEXT COLLATE nocase NOT NULL, \
             n NUMERIC, g INT GENERATED ALWAYS AS (n + 1) VIRTUAL, UNIQUE (id, n));
             CREATE TABLE w (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
             CREATE VIEW ev AS SELECT * FROM events;",
        );
        let t = c.get("events").unwrap();
        assert_eq!(t.name, "Events");
        assert_eq!(t.rowid_alias, Some(0));
        let (i, col) = t.column("TENANT ID").unwrap();
        assert_eq!(i, 1);
        assert_eq!(col.affinity, Affinity::Text);
        assert_eq!(col.collation.as_deref(), Some("NOCASE"));
        assert_eq!(t.column("n").unwrap().1.affinity, Affinity::Numeric);
        assert_eq!(
            t.insertable_columns().count(),
            3,
            "generated column is hidden"
        );
        assert_eq!(
            t.star_columns().count(),
            4,
            "SELECT * gives the generated column"
        );
        let w = c.get("W").unwrap();
        assert_eq!(w.rowid_alias, None);
        assert_eq!(w.column("v").unwrap().1.affinity, Affinity::Blob);
        let v = c.get("ev").unwrap();
        assert_eq!(v.kind, ObjectKind::View);
        assert!(v.mentioned_names().iter().any(|n| n == "events"));
    }
}
