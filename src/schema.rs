//! Schema in code: tables declared as data (JSON, or a JavaScript object of the same shape)
//! from which d1plus writes the CREATE statements, TypeScript row types for the Table API,
//! and the next migration: the difference between the declaration and the applied schema.
//!
//! ```json
//! { "tables": [ { "name": "posts",
//!     "columns": [ { "name": "author", "type": "TEXT", "notNull": true },
//!                  { "name": "id", "type": "INTEGER", "notNull": true },
//!                  { "name": "title", "type": "TEXT", "collate": "NOCASE" },
//!                  { "name": "views", "type": "INTEGER", "default": 0 } ],
//!     "primaryKey": ["author", "id"],
//!     "indexes": [ { "name": "posts_views", "columns": ["views"] } ] } ] }
//! ```
//!
//! Migrations stay append-only: [`diff`] only adds (tables, columns, indexes); dropping
//! something needs `allow_destructive`; a change SQLite cannot make in place (a column's
//! type, nullability or default, a primary key) is refused with what to write by hand.

use crate::catalog::{Catalog, ObjectKind};
use crate::error::{Error, ErrorCode, Result};
use crate::lex::quote_ident;
use serde::Deserialize;
use serde_json::Value as Json;
use std::fmt::Write as _;

/// A schema declared in code.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaDecl {
    /// The tables, in creation order.
    pub tables: Vec<TableDecl>,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableDecl {
    /// Its name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<ColumnDecl>,
    /// The primary key's columns (or one column's `primaryKey: true`).
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Its indexes.
    #[serde(default)]
    pub indexes: Vec<IndexDecl>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ColumnDecl {
    /// Its name.
    pub name: String,
    /// INTEGER, TEXT, REAL, BLOB, NUMERIC (or any SQLite type name).
    #[serde(rename = "type")]
    pub ty: String,
    /// NOT NULL.
    #[serde(default)]
    pub not_null: bool,
    /// The DEFAULT: a JSON number, string or null, or `{ "sql": "CURRENT_TIMESTAMP" }`.
    #[serde(default)]
    pub default: Option<Json>,
    /// A collation (BINARY, NOCASE, RTRIM).
    #[serde(default)]
    pub collate: Option<String>,
    /// The table's one-column primary key.
    #[serde(default)]
    pub primary_key: bool,
}

/// One index.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndexDecl {
    /// Its name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// UNIQUE.
    #[serde(default)]
    pub unique: bool,
}

fn invalid(message: String) -> Error {
    Error::new(ErrorCode::InvalidArgument, message)
}

impl SchemaDecl {
    /// Reads and checks a declaration.
    pub fn from_json(json: &str) -> Result<SchemaDecl> {
        let decl: SchemaDecl = serde_json::from_str(json)
            .map_err(|e| invalid(format!("the schema declaration is malformed: {e}")))?;
        decl.check()?;
        Ok(decl)
    }

    fn check(&self) -> Result<()> {
        let mut names: Vec<String> = Vec::new();
        for t in &self.tables {
            let mut seen = |kind: &str, name: &str| -> Result<()> {
                let lower = name.to_ascii_lowercase();
                if name.trim().is_empty() || names.contains(&lower) {
                    return Err(invalid(format!(
                        "{kind} name {name:?} is empty or used twice"
                    )));
                }
                names.push(lower);
                Ok(())
            };
            seen("table", &t.name)?;
            for i in &t.indexes {
                seen("index", &i.name)?;
            }
            let mut cols: Vec<String> = Vec::new();
            for c in &t.columns {
                let lower = c.name.to_ascii_lowercase();
                if c.name.trim().is_empty() || cols.contains(&lower) {
                    return Err(invalid(format!(
                        "table {}: column name {:?} is empty or used twice",
                        t.name, c.name
                    )));
                }
                cols.push(lower);
            }
            if t.columns.is_empty() {
                return Err(invalid(format!("table {} has no columns", t.name)));
            }
            let key = t.key();
            let named = key.iter().chain(t.indexes.iter().flat_map(|i| &i.columns));
            for c in named {
                if !cols.contains(&c.to_ascii_lowercase()) {
                    return Err(invalid(format!(
                        "table {}: {c:?} is not one of its columns",
                        t.name
                    )));
                }
            }
            if !t.primary_key.is_empty() && t.columns.iter().any(|c| c.primary_key) {
                return Err(invalid(format!(
                    "table {}: declare the primary key once, as primaryKey: [...] or on one column",
                    t.name
                )));
            }
        }
        Ok(())
    }

    /// The CREATE statements of the whole schema.
    pub fn create_sql(&self) -> Result<String> {
        let mut out = String::new();
        for t in &self.tables {
            out.push_str(&t.create_sql()?);
            out.push_str(";\n");
            for i in &t.indexes {
                out.push_str(&i.create_sql(&t.name));
                out.push_str(";\n");
            }
        }
        Ok(out)
    }

    /// TypeScript row types, one interface per table (for `table<Row>(name)`).
    pub fn typescript(&self) -> String {
        let mut out = String::from("// Generated by `d1plus schema types`: do not edit.\n");
        for t in &self.tables {
            let _ = writeln!(out, "\nexport interface {} {{", type_name(&t.name));
            for c in &t.columns {
                let ty = match crate::value::Affinity::from_declared_type(&c.ty) {
                    crate::value::Affinity::Integer
                    | crate::value::Affinity::Real
                    | crate::value::Affinity::Numeric => "number",
                    crate::value::Affinity::Text => "string",
                    crate::value::Affinity::Blob => "number[]",
                };
                let nullable = !c.not_null
                    && !c.primary_key
                    && !t
                        .primary_key
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(&c.name));
                let field = if c
                    .name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
                {
                    c.name.clone()
                } else {
                    format!("{:?}", c.name)
                };
                let _ = writeln!(
                    out,
                    "  {field}: {ty}{};",
                    if nullable { " | null" } else { "" }
                );
            }
            out.push_str("}\n");
        }
        out
    }
}

/// `blog_posts` -> `BlogPosts`.
fn type_name(table: &str) -> String {
    table
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut cs = p.chars();
            cs.next()
                .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect::<String>()
        + "Row"
}

impl TableDecl {
    fn key(&self) -> Vec<String> {
        if !self.primary_key.is_empty() {
            return self.primary_key.clone();
        }
        self.columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name.clone())
            .collect()
    }

    fn create_sql(&self) -> Result<String> {
        let mut parts = self
            .columns
            .iter()
            .map(|c| {
                c.definition(if self.primary_key.is_empty() && c.primary_key {
                    KeyClause::OnColumn
                } else {
                    KeyClause::Omitted
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !self.primary_key.is_empty() {
            let cols: Vec<String> = self.primary_key.iter().map(|c| quote_ident(c)).collect();
            parts.push(format!("PRIMARY KEY ({})", cols.join(", ")));
        }
        Ok(format!(
            "CREATE TABLE {} ({})",
            quote_ident(&self.name),
            parts.join(", ")
        ))
    }
}

/// Whether a column's definition declares the table's PRIMARY KEY: a one-column key is
/// declared on its column, a compound one in the table's `PRIMARY KEY (…)`, and a column
/// ALTER TABLE adds cannot be a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyClause {
    OnColumn,
    Omitted,
}

impl ColumnDecl {
    fn definition(&self, key: KeyClause) -> Result<String> {
        let mut s = format!("{} {}", quote_ident(&self.name), self.ty);
        if key == KeyClause::OnColumn {
            s.push_str(" PRIMARY KEY");
        }
        if self.not_null {
            s.push_str(" NOT NULL");
        }
        if let Some(d) = &self.default {
            let _ = write!(s, " DEFAULT {}", default_sql(&self.name, d)?);
        }
        if let Some(c) = &self.collate {
            let _ = write!(s, " COLLATE {}", quote_ident(c));
        }
        Ok(s)
    }
}

fn default_sql(column: &str, d: &Json) -> Result<String> {
    Ok(match d {
        Json::Null => "NULL".into(),
        Json::Bool(b) => (*b as i64).to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => format!("'{}'", s.replace('\'', "''")),
        Json::Object(o) => match o.get("sql") {
            Some(Json::String(expr)) if o.len() == 1 => format!("({expr})"),
            _ => {
                return Err(invalid(format!(
                    "column {column}: default is a value or {{ \"sql\": \"…\" }}"
                )))
            }
        },
        Json::Array(_) => {
            return Err(invalid(format!(
                "column {column}: a default cannot be an array"
            )))
        }
    })
}

impl IndexDecl {
    fn create_sql(&self, table: &str) -> String {
        let cols: Vec<String> = self.columns.iter().map(|c| quote_ident(c)).collect();
        format!(
            "CREATE {}INDEX {} ON {} ({})",
            if self.unique { "UNIQUE " } else { "" },
            quote_ident(&self.name),
            quote_ident(table),
            cols.join(", ")
        )
    }
}

/// The applied schema's indexes made with CREATE INDEX: (name, table).
pub type AppliedIndexes = Vec<(String, String)>;

/// The statements that take the applied schema (`catalog` and its `indexes`) to `decl`:
/// new tables, columns and indexes; drops only with `allow_destructive`.
pub fn diff(
    decl: &SchemaDecl,
    catalog: &Catalog,
    indexes: &AppliedIndexes,
    allow_destructive: bool,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let destructive = |what: String| -> Result<()> {
        if allow_destructive {
            Ok(())
        } else {
            Err(Error::with_remedy(
                ErrorCode::InvalidArgument,
                format!("the declaration {what}, which would lose data"),
                "pass --allow-destructive to write that migration anyway",
            ))
        }
    };
    for t in &decl.tables {
        let Some(applied) = catalog.get(&t.name).filter(|a| a.kind == ObjectKind::Table) else {
            out.push(t.create_sql()?);
            out.extend(t.indexes.iter().map(|i| i.create_sql(&t.name)));
            continue;
        };
        out.extend(alter_table(t, applied, &destructive)?);
        for i in &t.indexes {
            if !indexes.iter().any(|(n, _)| n.eq_ignore_ascii_case(&i.name)) {
                out.push(i.create_sql(&t.name));
            }
        }
    }
    for (name, table) in indexes {
        let declared = decl
            .tables
            .iter()
            .flat_map(|t| &t.indexes)
            .any(|i| i.name.eq_ignore_ascii_case(name));
        let table_declared = decl
            .tables
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case(table));
        if !declared && table_declared {
            destructive(format!("drops index {name}"))?;
            out.push(format!("DROP INDEX {}", quote_ident(name)));
        }
    }
    for applied in catalog.tables() {
        let internal = applied.name.starts_with("_d1plus")
            || applied.name.eq_ignore_ascii_case("d1_migrations");
        if applied.kind == ObjectKind::Table
            && !internal
            && !decl
                .tables
                .iter()
                .any(|t| t.name.eq_ignore_ascii_case(&applied.name))
        {
            destructive(format!("drops table {}", applied.name))?;
            out.push(format!("DROP TABLE {}", quote_ident(&applied.name)));
        }
    }
    Ok(out)
}

/// The ALTER TABLE statements that take an applied table to its declaration.
fn alter_table(
    t: &TableDecl,
    applied: &crate::catalog::Table,
    destructive: &dyn Fn(String) -> Result<()>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for c in &t.columns {
        match applied.column(&c.name) {
            None => {
                if c.primary_key
                    || t.primary_key
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(&c.name))
                {
                    return Err(changed(&t.name, &c.name, "joins the primary key"));
                }
                if c.not_null && c.default.as_ref().is_none_or(Json::is_null) {
                    return Err(changed(&t.name, &c.name, "is NOT NULL without a default"));
                }
                out.push(format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    quote_ident(&t.name),
                    c.definition(KeyClause::Omitted)?
                ));
            }
            Some((_, a)) => {
                let same_type = a.declared_type.eq_ignore_ascii_case(&c.ty);
                let same_null = a.not_null == c.not_null || a.primary_key;
                let same_collation = a.collation.as_deref().map(str::to_ascii_uppercase)
                    == c.collate.as_deref().map(str::to_ascii_uppercase);
                if !(same_type && same_null && same_collation) {
                    return Err(changed(
                        &t.name,
                        &c.name,
                        "changed its type, NOT NULL or collation",
                    ));
                }
            }
        }
    }
    for a in &applied.columns {
        if !a.hidden
            && !t
                .columns
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&a.name))
        {
            destructive(format!("drops column {}.{}", t.name, a.name))?;
            out.push(format!(
                "ALTER TABLE {} DROP COLUMN {}",
                quote_ident(&t.name),
                quote_ident(&a.name)
            ));
        }
    }
    Ok(out)
}

fn changed(table: &str, column: &str, how: &str) -> Error {
    Error::with_remedy(
        ErrorCode::Unsupported,
        format!("column {table}.{column} {how}: SQLite cannot change that in place"),
        "write that migration by hand (create the new table, copy the rows, drop the old one, rename)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECL: &str = r#"{"tables": [{"name": "posts", "columns": [
        {"name": "author", "type": "TEXT", "notNull": true},
        {"name": "id", "type": "INTEGER", "notNull": true},
        {"name": "title", "type": "TEXT", "collate": "NOCASE"},
        {"name": "views", "type": "INTEGER", "default": 0},
        {"name": "at", "type": "TEXT", "default": {"sql": "CURRENT_TIMESTAMP"}}],
      "primaryKey": ["author", "id"],
      "indexes": [{"name": "posts_views", "columns": ["views"]}]}]}"#;

    fn applied(sql: &str) -> (Catalog, AppliedIndexes) {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(sql).unwrap();
        let catalog = crate::catalog::load_from(&conn, 1).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL",
            )
            .unwrap();
        let indexes = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        (catalog, indexes)
    }

    #[test]
    fn the_create_sql_runs_and_the_diff_of_it_is_empty() {
        let decl = SchemaDecl::from_json(DECL).unwrap();
        let sql = decl.create_sql().unwrap();
        let (catalog, indexes) = applied(&sql);
        assert_eq!(
            diff(&decl, &catalog, &indexes, false).unwrap(),
            Vec::<String>::new()
        );
        assert!(decl.typescript().contains("export interface PostsRow {\n  author: string;\n  id: number;\n  title: string | null;"));
    }

    #[test]
    fn additions_are_written_and_drops_need_the_flag() {
        let decl = SchemaDecl::from_json(DECL).unwrap();
        let (catalog, indexes) = applied("CREATE TABLE posts (author TEXT NOT NULL, id INTEGER NOT NULL, title TEXT COLLATE NOCASE, old TEXT, PRIMARY KEY (author, id)); CREATE INDEX posts_old ON posts (old)");
        let e = diff(&decl, &catalog, &indexes, false).unwrap_err();
        assert!(e.to_string().contains("drops column posts.old"), "{e}");
        let steps = diff(&decl, &catalog, &indexes, true).unwrap();
        assert_eq!(
            steps,
            vec![
                "ALTER TABLE posts ADD COLUMN views INTEGER DEFAULT 0",
                "ALTER TABLE posts ADD COLUMN at TEXT DEFAULT (CURRENT_TIMESTAMP)",
                "ALTER TABLE posts DROP COLUMN old",
                "CREATE INDEX posts_views ON posts (views)",
                "DROP INDEX posts_old",
            ]
        );
        // What SQLite cannot do in place is refused with the hand-written remedy.
        let (catalog, indexes) = applied("CREATE TABLE posts (author TEXT NOT NULL, id TEXT NOT NULL, title TEXT COLLATE NOCASE, PRIMARY KEY (author, id))");
        let e = diff(&decl, &catalog, &indexes, true).unwrap_err();
        assert!(e.to_string().contains("posts.id changed"), "{e}");
    }

    #[test]
    fn bad_declarations_are_named() {
        for (json, says) in [
            (
                r#"{"tables": [{"name": "t", "columns": []}]}"#,
                "no columns",
            ),
            (
                r#"{"tables": [{"name": "t", "columns": [{"name": "a", "type": "INT"}], "primaryKey": ["b"]}]}"#,
                "\"b\" is not one of its columns",
            ),
            (
                r#"{"tables": [{"name": "t", "columns": [{"name": "a", "type": "INT"}, {"name": "A", "type": "INT"}]}]}"#,
                "used twice",
            ),
            (
                r#"{"tables": [{"name": "t", "columns": [{"name": "a", "typ": "INT"}]}]}"#,
                "malformed",
            ),
        ] {
            let e = SchemaDecl::from_json(json).unwrap_err();
            assert!(e.to_string().contains(says), "{json}: {e}");
        }
    }
}
