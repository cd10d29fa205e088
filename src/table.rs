//! The Table API: `database.table("posts")` with insert, get, update, delete, count,
//! exists and list (filters as plain objects, keyset pagination with an opaque cursor).
//!
//! Every call becomes SQL text with parameters, validated against the table's columns in
//! the catalog, and runs through the same planner as raw SQL: routing, merging and
//! refusals are the ones the statement would get if the app had written it.
//!
//! Filters: `{ "status": "published" }` (equality; `null` is `IS NULL`), or per column an
//! object of operators `eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `in` (an array), `like` (a
//! pattern), `isNull` (a boolean), all of which must hold.
//!
//! Pagination: `list` orders by the given columns (`"views"`, or `"-views"` for
//! descending), then by the primary key, so the order is total; the cursor carries the last
//! row's values of those columns, and the next page is the rows after them in that order
//! (NULLs first ascending, last descending, as SQLite sorts), which stays exact across
//! shards: each shard filters, the fan-out merge orders and limits.

use crate::api::Database;
use crate::backend::Backend;
use crate::catalog::{Catalog, ObjectKind, Table};
use crate::error::{Error, ErrorCode, Result};
use crate::execute::QueryResult;
use crate::lex::quote_ident;
use crate::value::Value;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value as Json};

/// Rows a page has when the call does not say.
pub const DEFAULT_LIMIT: u64 = 50;
/// The most rows a page may have.
pub const MAX_LIMIT: u64 = 1000;

/// One Table API call (as JSON: `{ "op": "list", "where": {...}, ... }`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", deny_unknown_fields)]
pub enum TableOp {
    /// Inserts rows (all with the same columns); answers the inserted rows.
    Insert {
        /// The rows, as objects of column values.
        rows: Vec<Map<String, Json>>,
    },
    /// The row with this primary key, or null.
    Get {
        /// A value, or an object of the primary key's columns.
        key: Json,
    },
    /// Sets the patch's columns on the row with this primary key; answers the row, or null.
    Update {
        /// A value, or an object of the primary key's columns.
        key: Json,
        /// Columns to set.
        patch: Map<String, Json>,
    },
    /// Deletes the row with this primary key; answers whether there was one.
    Delete {
        /// A value, or an object of the primary key's columns.
        key: Json,
    },
    /// How many rows match.
    Count {
        /// The filter (none: every row).
        #[serde(default, rename = "where")]
        filter: Option<Map<String, Json>>,
    },
    /// Whether a row matches.
    Exists {
        /// The filter (none: every row).
        #[serde(default, rename = "where")]
        filter: Option<Map<String, Json>>,
    },
    /// A page of rows, and the cursor of the next page (null on the last).
    List {
        /// The filter (none: every row).
        #[serde(default, rename = "where")]
        filter: Option<Map<String, Json>>,
        /// Columns to order by (`"-col"`: descending); the primary key follows.
        #[serde(default, rename = "orderBy")]
        order_by: OrderBy,
        /// Rows per page (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).
        #[serde(default)]
        limit: Option<u64>,
        /// The cursor a previous page returned.
        #[serde(default)]
        cursor: Option<String>,
    },
}

/// `orderBy`: one column or several.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(untagged)]
pub enum OrderBy {
    /// No order asked: the primary key's.
    #[default]
    None,
    /// One column.
    One(String),
    /// Several, in order.
    Many(Vec<String>),
}

/// What a call answers.
#[derive(Debug, Clone, PartialEq)]
pub enum TableAnswer {
    /// Rows (insert).
    Rows(QueryResult),
    /// One row or none (get, update): a result of at most one row.
    Row(QueryResult),
    /// delete, exists.
    Bool(bool),
    /// count.
    Count(i64),
    /// list: the page and the next page's cursor.
    Page {
        /// The page's rows.
        rows: QueryResult,
        /// The next page's cursor, if there is a next page.
        cursor: Option<String>,
    },
}

struct Objects<'a>(&'a QueryResult);

impl Serialize for Objects<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.objects())
    }
}

/// As JSON: rows as objects in column order; a missing row as null.
impl Serialize for TableAnswer {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            TableAnswer::Rows(r) => Objects(r).serialize(s),
            TableAnswer::Row(r) => match r.objects().next() {
                Some(row) => row.serialize(s),
                None => s.serialize_unit(),
            },
            TableAnswer::Bool(b) => s.serialize_bool(*b),
            TableAnswer::Count(n) => s.serialize_i64(*n),
            TableAnswer::Page { rows, cursor } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("rows", &Objects(rows))?;
                m.serialize_entry("cursor", cursor)?;
                m.end()
            }
        }
    }
}

/// A statement a call runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TableStatement {
    /// SQL text.
    pub sql: String,
    /// Its parameters (`?1`, `?2`, …).
    pub params: Vec<Value>,
}

/// One table of a database, for Table API calls.
pub struct TableHandle<'a, B: Backend> {
    db: &'a Database<B>,
    name: String,
}

impl<B: Backend> Database<B> {
    /// The Table API over table `name`.
    pub fn table(&self, name: &str) -> TableHandle<'_, B> {
        TableHandle {
            db: self,
            name: name.to_string(),
        }
    }
}

impl<B: Backend> TableHandle<'_, B> {
    /// Runs one call.
    pub async fn call(&self, op: &TableOp) -> Result<TableAnswer> {
        self.db.ensure_catalog().await?;
        let catalog = self.db.catalog();
        let spec = Spec::new(&catalog, &self.name)?;
        let st = spec.statement(op)?;
        let r = self.db.query(&st.sql, &st.params, None).await?;
        Ok(match op {
            TableOp::Insert { .. } => TableAnswer::Rows(r),
            TableOp::Get { .. } | TableOp::Update { .. } => TableAnswer::Row(r),
            TableOp::Delete { .. } => TableAnswer::Bool(r.meta.changes > 0),
            TableOp::Exists { .. } => TableAnswer::Bool(!r.rows.is_empty()),
            TableOp::Count { .. } => {
                TableAnswer::Count(match r.rows.first().and_then(|x| x.first()) {
                    Some(Value::Integer(n)) => *n,
                    _ => 0,
                })
            }
            TableOp::List {
                order_by, limit, ..
            } => spec.page(r, order_by, *limit)?,
        })
    }

    /// Runs one call given as JSON (`{ "op": "get", "key": 1 }`).
    pub async fn call_json(&self, op: &str) -> Result<TableAnswer> {
        let op: TableOp = serde_json::from_str(op).map_err(|e| {
            bad(format!(
                "a Table API call of table {} is malformed: {e}",
                self.name
            ))
        })?;
        self.call(&op).await
    }
}

/// The statement a call runs on `table` (what [`TableHandle::call`] sends to the planner).
pub fn statement(catalog: &Catalog, table: &str, op: &TableOp) -> Result<TableStatement> {
    Spec::new(catalog, table)?.statement(op)
}

fn bad(message: String) -> Error {
    Error::new(ErrorCode::InvalidArgument, message)
}

/// A table as the Table API sees it.
struct Spec<'c> {
    table: &'c Table,
}

impl<'c> Spec<'c> {
    fn new(catalog: &'c Catalog, name: &str) -> Result<Spec<'c>> {
        match catalog.get(name) {
            Some(table) if table.kind == ObjectKind::Table => Ok(Spec { table }),
            Some(_) => Err(bad(format!(
                "{name} is a view: the Table API writes and pages tables"
            ))),
            None => Err(Error::with_remedy(
                ErrorCode::NoSuchTable,
                format!("no such table: {name}"),
                "create it (or run the migrations) first",
            )),
        }
    }

    fn name(&self) -> String {
        quote_ident(&self.table.name)
    }

    /// The column named `field`, quoted, or an error naming the bad field.
    fn column(&self, field: &str, what: &str) -> Result<String> {
        match self.table.column(field) {
            Some((_, c)) => Ok(quote_ident(&c.name)),
            None => Err(Error::with_remedy(
                ErrorCode::NoSuchColumn,
                format!(
                    "{what} names {field:?}, which is not a column of {}",
                    self.table.name
                ),
                format!(
                    "use one of: {}",
                    self.table
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The primary key's columns (quoted), in declaration order.
    fn key_columns(&self) -> Vec<String> {
        self.table
            .columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| quote_ident(&c.name))
            .collect()
    }

    fn statement(&self, op: &TableOp) -> Result<TableStatement> {
        let mut b = Builder::default();
        let t = self.name();
        let sql = match op {
            TableOp::Insert { rows } => self.insert(rows, &mut b)?,
            TableOp::Get { key } => {
                format!(
                    "SELECT * FROM {t} WHERE {} LIMIT 1",
                    self.key_filter(key, &mut b)?
                )
            }
            TableOp::Update { key, patch } => {
                if patch.is_empty() {
                    return Err(bad(format!(
                        "update of {} with an empty patch",
                        self.table.name
                    )));
                }
                let sets = patch
                    .iter()
                    .map(|(k, v)| {
                        Ok(format!(
                            "{} = {}",
                            self.column(k, "the patch")?,
                            b.bind(k, v)?
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let filter = self.key_filter(key, &mut b)?;
                format!(
                    "UPDATE {t} SET {} WHERE {filter} RETURNING *",
                    sets.join(", ")
                )
            }
            TableOp::Delete { key } => {
                format!("DELETE FROM {t} WHERE {}", self.key_filter(key, &mut b)?)
            }
            TableOp::Count { filter } => {
                format!(
                    "SELECT count(*) FROM {t} WHERE {}",
                    self.filter(filter.as_ref(), &mut b)?
                )
            }
            TableOp::Exists { filter } => {
                format!(
                    "SELECT 1 FROM {t} WHERE {} LIMIT 1",
                    self.filter(filter.as_ref(), &mut b)?
                )
            }
            TableOp::List {
                filter,
                order_by,
                limit,
                cursor,
            } => {
                let order = self.order(order_by)?;
                let mut conds = vec![self.filter(filter.as_ref(), &mut b)?];
                if let Some(c) = cursor {
                    conds.push(after(&order, &decode_cursor(c, &order)?, &mut b));
                }
                let terms: Vec<String> = order
                    .iter()
                    .map(|(c, desc)| format!("{c}{}", if *desc { " DESC" } else { "" }))
                    .collect();
                format!(
                    "SELECT * FROM {t} WHERE {} ORDER BY {} LIMIT {}",
                    conds.join(" AND "),
                    terms.join(", "),
                    page_size(*limit)? + 1
                )
            }
        };
        Ok(TableStatement {
            sql,
            params: b.params,
        })
    }

    fn insert(&self, rows: &[Map<String, Json>], b: &mut Builder) -> Result<String> {
        let Some(first) = rows.first() else {
            return Err(bad(format!("insert into {} of no rows", self.table.name)));
        };
        let fields: Vec<&String> = first.keys().collect();
        let columns = fields
            .iter()
            .map(|f| self.column(f, "the row"))
            .collect::<Result<Vec<_>>>()?;
        let mut values = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if row.len() != fields.len() || !fields.iter().all(|f| row.contains_key(*f)) {
                return Err(bad(format!(
                    "rows[{i}] has other columns than rows[0] ({}): insert rows of different columns in separate calls",
                    fields.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            let cells = fields
                .iter()
                .map(|f| b.bind(f, &row[*f]))
                .collect::<Result<Vec<_>>>()?;
            values.push(format!("({})", cells.join(", ")));
        }
        Ok(if columns.is_empty() {
            format!("INSERT INTO {} DEFAULT VALUES RETURNING *", self.name())
        } else {
            format!(
                "INSERT INTO {} ({}) VALUES {} RETURNING *",
                self.name(),
                columns.join(", "),
                values.join(", ")
            )
        })
    }

    /// `pk = ?` for a single-column key given as a value, or each column of an object.
    fn key_filter(&self, key: &Json, b: &mut Builder) -> Result<String> {
        let columns = self.key_columns();
        match key {
            Json::Object(parts) => {
                let listed: Vec<String> = parts
                    .keys()
                    .map(|k| self.column(k, "the key"))
                    .collect::<Result<_>>()?;
                let mut missing: Vec<&String> = columns.iter().filter(|c| !listed.contains(c)).collect();
                if let Some(extra) = listed.iter().find(|c| !columns.contains(c)) {
                    return Err(bad(format!(
                        "the key of {} names {extra}, which is not part of its primary key",
                        self.table.name
                    )));
                }
                if !missing.is_empty() || columns.is_empty() {
                    missing.sort();
                    return Err(bad(format!(
                        "the key of {} lacks primary key column(s) {}",
                        self.table.name,
                        missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
                let conds = parts
                    .iter()
                    .zip(&listed)
                    .map(|((k, v), c)| Ok(format!("{c} = {}", b.bind(k, v)?)))
                    .collect::<Result<Vec<_>>>()?;
                Ok(conds.join(" AND "))
            }
            v if columns.len() == 1 => Ok(format!("{} = {}", columns[0], b.bind(&columns[0], v)?)),
            _ => Err(bad(format!(
                "table {} has a primary key of {} columns: give the key as an object {{ column: value, … }}",
                self.table.name,
                columns.len()
            ))),
        }
    }

    fn filter(&self, filter: Option<&Map<String, Json>>, b: &mut Builder) -> Result<String> {
        let mut conds = Vec::new();
        for (field, cond) in filter.into_iter().flatten() {
            let c = self.column(field, "the filter")?;
            match cond {
                Json::Null => conds.push(format!("{c} IS NULL")),
                Json::Object(ops) => {
                    if ops.is_empty() {
                        return Err(bad(format!("the filter on {field} has no operator")));
                    }
                    for (op, v) in ops {
                        conds.push(self.operator(&c, field, op, v, b)?);
                    }
                }
                v => conds.push(format!("{c} = {}", b.bind(field, v)?)),
            }
        }
        Ok(if conds.is_empty() {
            "1".into()
        } else {
            conds.join(" AND ")
        })
    }

    fn operator(
        &self,
        c: &str,
        field: &str,
        op: &str,
        v: &Json,
        b: &mut Builder,
    ) -> Result<String> {
        let cmp = |sym: &str, b: &mut Builder| -> Result<String> {
            Ok(format!("{c} {sym} {}", b.bind(field, v)?))
        };
        match op {
            "eq" if v.is_null() => Ok(format!("{c} IS NULL")),
            "ne" if v.is_null() => Ok(format!("{c} IS NOT NULL")),
            "eq" => cmp("=", b),
            "ne" => cmp("<>", b),
            "gt" => cmp(">", b),
            "gte" => cmp(">=", b),
            "lt" => cmp("<", b),
            "lte" => cmp("<=", b),
            "like" if v.is_string() => cmp("LIKE", b),
            "like" => Err(bad(format!("the filter on {field}: like takes a pattern string"))),
            "isNull" => match v {
                Json::Bool(true) => Ok(format!("{c} IS NULL")),
                Json::Bool(false) => Ok(format!("{c} IS NOT NULL")),
                _ => Err(bad(format!("the filter on {field}: isNull takes true or false"))),
            },
            "in" => match v {
                Json::Array(items) if items.is_empty() => Ok("0".into()),
                Json::Array(items) => {
                    let list = items
                        .iter()
                        .map(|x| b.bind(field, x))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(format!("{c} IN ({})", list.join(", ")))
                }
                _ => Err(bad(format!("the filter on {field}: in takes an array"))),
            },
            other => Err(bad(format!(
                "the filter on {field} uses the operator {other:?}: use eq, ne, gt, gte, lt, lte, in, like or isNull"
            ))),
        }
    }

    /// The order of a list: the asked columns, then the primary key's (a total order).
    fn order(&self, order_by: &OrderBy) -> Result<Vec<(String, bool)>> {
        let asked: Vec<&String> = match order_by {
            OrderBy::None => Vec::new(),
            OrderBy::One(c) => vec![c],
            OrderBy::Many(cs) => cs.iter().collect(),
        };
        let mut order = Vec::new();
        for term in asked {
            let (name, desc) = match term.strip_prefix('-') {
                Some(n) => (n, true),
                None => (term.as_str(), false),
            };
            let c = self.column(name, "orderBy")?;
            if !order.iter().any(|(o, _)| *o == c) {
                order.push((c, desc));
            }
        }
        let key = self.key_columns();
        if key.is_empty() {
            return Err(Error::with_remedy(
                ErrorCode::Unsupported,
                format!(
                    "list() of {}, which has no PRIMARY KEY: pages need a unique order",
                    self.table.name
                ),
                "give the table a primary key, or page it with raw SQL",
            ));
        }
        for c in key {
            if !order.iter().any(|(o, _)| *o == c) {
                order.push((c, false));
            }
        }
        Ok(order)
    }

    /// Cuts the extra row off a page and makes the next page's cursor from its last row.
    fn page(
        &self,
        mut rows: QueryResult,
        order_by: &OrderBy,
        limit: Option<u64>,
    ) -> Result<TableAnswer> {
        let size = page_size(limit)? as usize;
        let more = rows.rows.len() > size;
        rows.rows.truncate(size);
        let order = self.order(order_by)?;
        let cursor = match rows.rows.last() {
            Some(last) if more => {
                let values = order
                    .iter()
                    .map(|(c, _)| {
                        let name = crate::lex::unquote(c);
                        rows.columns
                            .iter()
                            .position(|n| n.eq_ignore_ascii_case(&name))
                            .map(|i| last[i].clone())
                            .ok_or_else(|| {
                                Error::internal(format!("list() lost the order column {name}"))
                            })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Some(encode_cursor(&order, &values))
            }
            _ => None,
        };
        Ok(TableAnswer::Page { rows, cursor })
    }
}

fn page_size(limit: Option<u64>) -> Result<u64> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        n => Err(bad(format!("limit {n} is outside 1..={MAX_LIMIT}"))),
    }
}

/// Parameters as they are bound.
#[derive(Default)]
struct Builder {
    params: Vec<Value>,
}

impl Builder {
    /// Binds a JSON value (numbers, strings, booleans as 1/0, null) and returns its `?N`.
    fn bind(&mut self, field: &str, v: &Json) -> Result<String> {
        let value = match v {
            Json::Array(_) | Json::Object(_) => {
                return Err(bad(format!(
                "the value for {field} is an {}: columns take numbers, strings, booleans or null",
                if v.is_array() { "array" } else { "object" }
            )))
            }
            v => serde_json::from_value::<Value>(v.clone())
                .map_err(|e| bad(format!("the value for {field}: {e}")))?,
        };
        self.params.push(value);
        Ok(format!("?{}", self.params.len()))
    }

    fn push(&mut self, v: &Value) -> String {
        self.params.push(v.clone());
        format!("?{}", self.params.len())
    }
}

/// The rows after `values` in `order`: for some k, the first k-1 order columns equal theirs
/// and the k-th comes after (NULLs sort first ascending and last descending, as in SQLite).
fn after(order: &[(String, bool)], values: &[Value], b: &mut Builder) -> String {
    let mut ors = Vec::new();
    for k in 0..order.len() {
        let mut ands: Vec<String> = (0..k)
            .map(|j| match &values[j] {
                Value::Null => format!("{} IS NULL", order[j].0),
                v => format!("{} = {}", order[j].0, b.push(v)),
            })
            .collect();
        let (c, desc) = &order[k];
        let step = match (&values[k], desc) {
            (Value::Null, false) => format!("{c} IS NOT NULL"),
            (Value::Null, true) => "0".to_string(),
            (v, false) => format!("{c} > {}", b.push(v)),
            (v, true) => format!("({c} < {} OR {c} IS NULL)", b.push(v)),
        };
        ands.push(step);
        ors.push(format!("({})", ands.join(" AND ")));
    }
    format!("({})", ors.join(" OR "))
}

#[derive(Serialize, Deserialize)]
struct CursorJson {
    /// The order it was made for: `col` or `-col` per term.
    o: Vec<String>,
    /// The last row's values of those columns.
    v: Vec<Value>,
}

fn order_names(order: &[(String, bool)]) -> Vec<String> {
    order
        .iter()
        .map(|(c, desc)| format!("{}{}", if *desc { "-" } else { "" }, crate::lex::unquote(c)))
        .collect()
}

/// The cursor: the order and the values, as JSON in hex (opaque to callers).
fn encode_cursor(order: &[(String, bool)], values: &[Value]) -> String {
    let json = serde_json::to_string(&CursorJson {
        o: order_names(order),
        v: values.to_vec(),
    })
    .unwrap_or_default();
    json.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str, order: &[(String, bool)]) -> Result<Vec<Value>> {
    let invalid = || {
        Error::with_remedy(
            ErrorCode::InvalidArgument,
            "the cursor is not one list() returned",
            "pass the cursor of the previous page unchanged, or none for the first page",
        )
    };
    if cursor.len() % 2 != 0 || cursor.len() > 1 << 20 {
        return Err(invalid());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<std::result::Result<Vec<u8>, _>>()
        .map_err(|_| invalid())?;
    let c: CursorJson = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if c.o != order_names(order) || c.v.len() != order.len() {
        return Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            "the cursor belongs to a list() with another orderBy",
            "page with the same orderBy the cursor was made with",
        ));
    }
    // JSON cannot tell a blob from text: blobs come back as arrays of bytes, which the
    // value reader already turns into blobs.
    Ok(c.v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_sql(ddl: &str, op: &str) -> Result<TableStatement> {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(ddl).unwrap();
        let catalog = crate::catalog::load_from(&conn, 1).unwrap();
        let op: TableOp = serde_json::from_str(op).unwrap();
        Spec::new(&catalog, "posts")?.statement(&op)
    }

    const DDL: &str =
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, tenant TEXT, views INT, title TEXT)";

    #[test]
    fn filters_become_sql_with_parameters() {
        let st = spec_sql(
            DDL,
            r#"{"op": "count", "where": {"tenant": "acme", "views": {"gt": 10, "lte": 99}, "title": null, "id": {"in": [1, 2]}}}"#,
        )
        .unwrap();
        assert_eq!(
            st.sql,
            "SELECT count(*) FROM posts WHERE id IN (?1, ?2) AND tenant = ?3 AND title IS NULL AND views > ?4 AND views <= ?5"
        );
        assert_eq!(st.params.len(), 5);
    }

    #[test]
    fn bad_fields_and_operators_are_named() {
        let e = spec_sql(DDL, r#"{"op": "count", "where": {"tittle": "x"}}"#).unwrap_err();
        assert_eq!(e.code(), ErrorCode::NoSuchColumn);
        assert!(
            e.to_string().contains("\"tittle\"")
                && e.to_string().contains("id, tenant, views, title"),
            "{e}"
        );
        let e = spec_sql(
            DDL,
            r#"{"op": "count", "where": {"views": {"between": [1, 2]}}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("\"between\""), "{e}");
        let e = spec_sql(DDL, r#"{"op": "get", "key": {"id": 1, "views": 2}}"#).unwrap_err();
        assert!(e.to_string().contains("not part of its primary key"), "{e}");
        let e = spec_sql(
            DDL,
            r#"{"op": "insert", "rows": [{"id": 1}, {"title": "x"}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("rows[1]"), "{e}");
    }

    #[test]
    fn a_cursor_is_refused_for_another_order() {
        let order = vec![("views".to_string(), true), ("id".to_string(), false)];
        let c = encode_cursor(&order, &[Value::Integer(5), Value::Integer(9)]);
        assert_eq!(
            decode_cursor(&c, &order).unwrap(),
            vec![Value::Integer(5), Value::Integer(9)]
        );
        let other = vec![("id".to_string(), false)];
        assert!(decode_cursor(&c, &other)
            .unwrap_err()
            .to_string()
            .contains("another orderBy"));
        assert!(decode_cursor("zz", &order).is_err());
        assert!(decode_cursor("abc", &order).is_err());
    }
}
