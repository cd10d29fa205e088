//! The workers-rs surface: [`D1Database`] has the methods of `worker::D1Database`, so a
//! Rust Worker switches to d1plus by changing how the binding is made:
//!
//! ```text
//! // before: let db = env.d1("DB")?;
//! let db = d1plus::workers::D1Database::from_env(&env, &policy, "SHARD_")?;
//! let rows = db.prepare("SELECT * FROM events WHERE tenantId = ?1")
//!     .bind(&["acme".into()])?
//!     .all().await?
//!     .results::<Event>()?;
//! ```
//!
//! Natively the same types run over any [`Backend`] (tests use local SQLite); in a Worker
//! (`wasm32` with the `workers-rs` feature) they run over D1 bindings, bind `JsValue`s with
//! D1's type rules and report errors as `worker::Error`.

use crate::api::{Database, Statement};
use crate::backend::Backend;
use crate::error::{Error, ErrorCode};
use crate::execute::QueryResult;
use crate::plan::ShardHint;
use crate::value::Value;
use serde::de::DeserializeOwned;
use std::rc::Rc;

#[cfg(all(target_arch = "wasm32", feature = "workers-rs"))]
use crate::backend::d1::D1Backend;

/// The error type of this API: `worker::Error` in a Worker, d1plus's own natively.
#[cfg(all(target_arch = "wasm32", feature = "workers-rs"))]
pub type ApiError = worker::Error;
/// The error type of this API: `worker::Error` in a Worker, d1plus's own natively.
#[cfg(not(all(target_arch = "wasm32", feature = "workers-rs")))]
pub type ApiError = Error;

/// The result type of this API.
pub type Result<T> = std::result::Result<T, ApiError>;

fn fail(e: Error) -> ApiError {
    #[cfg(all(target_arch = "wasm32", feature = "workers-rs"))]
    {
        worker::Error::RustError(e.to_string())
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "workers-rs")))]
    {
        e
    }
}

/// The stable code of an error of this API. workers-rs carries errors as text
/// (`worker::Error::RustError("D1PLUS_NO_SHARD_KEY: …")`), so the code is read back from the
/// text's prefix, which d1plus always writes.
pub fn error_code(e: &ApiError) -> Option<ErrorCode> {
    #[cfg(all(target_arch = "wasm32", feature = "workers-rs"))]
    {
        match e {
            worker::Error::RustError(text) => ErrorCode::of_message(text),
            _ => None,
        }
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "workers-rs")))]
    {
        Some(e.code())
    }
}

/// The shard bindings of a Worker.
#[cfg(all(target_arch = "wasm32", feature = "workers-rs"))]
pub type DefaultBackend = D1Backend;
/// Natively: local SQLite shards.
#[cfg(not(target_arch = "wasm32"))]
pub type DefaultBackend = crate::backend::sqlite::SqliteBackend;
/// Without the `workers-rs` feature in wasm there is no default backend.
#[cfg(all(target_arch = "wasm32", not(feature = "workers-rs")))]
pub type DefaultBackend = crate::backend::recording::NullBackend;

/// Many D1 databases as one, with `worker::D1Database`'s methods.
pub struct D1Database<B: Backend = DefaultBackend> {
    db: Rc<Database<B>>,
    /// The budget this database and its sessions draw on, when they share one.
    counter: Option<Rc<crate::execute::BudgetCounter>>,
}

/// Another name for [`D1Database`].
pub type ShardedD1<B = DefaultBackend> = D1Database<B>;

impl<B: Backend> Clone for D1Database<B> {
    fn clone(&self) -> Self {
        D1Database {
            db: self.db.clone(),
            counter: self.counter.clone(),
        }
    }
}

impl<B: Backend> D1Database<B> {
    /// A database over a logical [`Database`].
    pub fn from_database(db: Database<B>) -> Self {
        D1Database {
            db: Rc::new(db),
            counter: None,
        }
    }

    /// The logical database underneath.
    pub fn database(&self) -> &Database<B> {
        &self.db
    }

    /// Prepares a statement.
    pub fn prepare<T: Into<String>>(&self, query: T) -> D1PreparedStatement<B> {
        D1PreparedStatement {
            db: self.db.clone(),
            statement: Statement::new(query),
        }
    }

    /// Layeron's `database.sql({ statement, params, shard })`: one statement with its
    /// parameters and an optional shard hint.
    pub fn sql(
        &self,
        statement: impl Into<String>,
        params: Vec<Value>,
        shard: Option<ShardHint>,
    ) -> D1PreparedStatement<B> {
        D1PreparedStatement {
            db: self.db.clone(),
            statement: Statement {
                sql: statement.into(),
                params,
                hint: shard,
            },
        }
    }

    /// Runs statements as D1's `batch()`: each shard's statements as one atomic batch,
    /// results in the caller's order.
    pub async fn batch(&self, statements: Vec<D1PreparedStatement<B>>) -> Result<Vec<D1Result>> {
        let list: Vec<Statement> = statements.into_iter().map(|s| s.statement).collect();
        let results = self.db.batch(&list).await.map_err(fail)?;
        Ok(results.into_iter().map(D1Result).collect())
    }

    /// Runs a script, statement by statement, as D1's `exec()`.
    pub async fn exec(&self, query: &str) -> Result<D1ExecResult> {
        let r = self.db.exec(query).await.map_err(fail)?;
        Ok(D1ExecResult {
            count: r.count as u32,
            duration: r.duration,
        })
    }

    /// Applies migrations on every shard (see [`crate::migrate`]): each shard applies a
    /// migration and records it in `d1_migrations` in one atomic batch; a failure names
    /// the migration and the shard, and calling again resumes.
    pub async fn migrate(
        &self,
        migrations: &[crate::migrate::Migration],
    ) -> Result<crate::migrate::Report> {
        crate::migrate::migrate(&self.db, migrations, &mut |_| {})
            .await
            .map_err(fail)
    }

    /// Layeron's `database.transaction(...)`: the statements run as one atomic batch, which
    /// must stay on one shard (`D1PLUS_CROSS_SHARD_TRANSACTION` otherwise).
    pub async fn transaction(
        &self,
        statements: Vec<D1PreparedStatement<B>>,
    ) -> Result<Vec<D1Result>> {
        let list: Vec<Statement> = statements.into_iter().map(|s| s.statement).collect();
        let results = self.db.batch_atomic(&list).await.map_err(fail)?;
        Ok(results.into_iter().map(D1Result).collect())
    }

    /// A Table API call on table `name` (see [`crate::table`]), answered as JSON: rows as
    /// objects, a missing row as null, `{ rows, cursor }` for `list`.
    pub async fn table(&self, name: &str, op: &crate::table::TableOp) -> Result<serde_json::Value> {
        let answer = self.db.table(name).call(op).await.map_err(fail)?;
        serde_json::to_value(&answer).map_err(|e| fail(Error::internal(e.to_string())))
    }

    /// The differences between the shards' schemas and migration records (empty: they
    /// agree).
    pub async fn check(&self) -> Result<Vec<String>> {
        let schemas = crate::migrate::shard_schemas(&self.db)
            .await
            .map_err(fail)?;
        Ok(crate::migrate::differences(&schemas))
    }
}

/// A prepared statement with `worker::D1PreparedStatement`'s methods.
pub struct D1PreparedStatement<B: Backend = DefaultBackend> {
    db: Rc<Database<B>>,
    statement: Statement,
}

impl<B: Backend> Clone for D1PreparedStatement<B> {
    fn clone(&self) -> Self {
        D1PreparedStatement {
            db: self.db.clone(),
            statement: self.statement.clone(),
        }
    }
}

impl<B: Backend> D1PreparedStatement<B> {
    /// The statement with these values bound to `?1`, `?2`, …
    pub fn bind_values(mut self, values: Vec<Value>) -> Self {
        self.statement.params = values;
        self
    }

    /// The statement routed by a shard hint.
    pub fn with_hint(mut self, hint: ShardHint) -> Self {
        self.statement.hint = Some(hint);
        self
    }

    async fn result(&self) -> Result<QueryResult> {
        let s = &self.statement;
        self.db
            .query(&s.sql, &s.params, s.hint.as_ref())
            .await
            .map_err(fail)
    }

    /// The first row as `T`, or one column of it (`Some(name)`); `None` without rows.
    /// A missing column is `D1_COLUMN_NOTFOUND`.
    pub async fn first<T: DeserializeOwned>(&self, col_name: Option<&str>) -> Result<Option<T>> {
        let r = self.result().await?;
        let Some(row) = r.rows.first() else {
            return Ok(None);
        };
        let value = match col_name {
            None => row_object(&r.columns, row),
            Some(name) => match r.columns.iter().rposition(|c| c == name) {
                Some(i) => json(&row[i]),
                None => {
                    return Err(fail(Error::new(
                        ErrorCode::ColumnNotFound,
                        format!("Column not found ({name})"),
                    )))
                }
            },
        };
        deserialize(value).map(Some)
    }

    /// Runs the statement; the result has its rows too, as D1's `run()` does.
    pub async fn run(&self) -> Result<D1Result> {
        self.result().await.map(D1Result)
    }

    /// Runs the statement and returns its rows and meta.
    pub async fn all(&self) -> Result<D1Result> {
        self.result().await.map(D1Result)
    }

    /// The rows as arrays, each value as `T`.
    pub async fn raw<T: DeserializeOwned>(&self) -> Result<Vec<Vec<T>>> {
        let r = self.result().await?;
        r.rows
            .iter()
            .map(|row| row.iter().map(|v| deserialize(json(v))).collect())
            .collect()
    }
}

/// D1's `exec()` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct D1ExecResult {
    count: u32,
    duration: f64,
}

impl D1ExecResult {
    /// Statements run (a `Result`, as workers-rs's getter is).
    pub fn count(&self) -> Result<Option<u32>> {
        Ok(Some(self.count))
    }

    /// Milliseconds.
    pub fn duration(&self) -> Result<Option<f64>> {
        Ok(Some(self.duration))
    }
}

/// D1's `meta`, with the same fields as `worker::D1ResultMeta`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct D1ResultMeta {
    /// Whether the database changed.
    pub changed_db: Option<bool>,
    /// Rows changed.
    pub changes: Option<usize>,
    /// Milliseconds.
    pub duration: Option<f64>,
    /// Last inserted rowid.
    pub last_row_id: Option<i64>,
    /// Rows read.
    pub rows_read: Option<usize>,
    /// Rows written.
    pub rows_written: Option<usize>,
    /// Bytes after the statement (summed over the shards that served it).
    pub size_after: Option<usize>,
}

/// A statement's result, with `worker::D1Result`'s methods.
#[derive(Debug, Clone)]
pub struct D1Result(pub QueryResult);

impl D1Result {
    /// Always true: a failed statement is an `Err`, never a result.
    pub fn success(&self) -> bool {
        true
    }

    /// Always None (see [`D1Result::success`]).
    pub fn error(&self) -> Option<String> {
        None
    }

    /// The rows, each as `T` (deserialized from D1's row object).
    pub fn results<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.0
            .rows
            .iter()
            .map(|row| deserialize(row_object(&self.0.columns, row)))
            .collect()
    }

    /// The counters, summed over the shards that served the statement.
    pub fn meta(&self) -> Result<Option<D1ResultMeta>> {
        let m = &self.0.meta;
        Ok(Some(D1ResultMeta {
            changed_db: Some(m.changed_db),
            changes: Some(m.changes as usize),
            duration: Some(m.duration),
            last_row_id: Some(m.last_row_id),
            rows_read: Some(m.rows_read as usize),
            rows_written: Some(m.rows_written as usize),
            size_after: Some(m.size_after as usize),
        }))
    }

    /// The shards that served the statement.
    pub fn shards(&self) -> &[usize] {
        &self.0.meta.shards
    }
}

/// A value as D1 hands it to JavaScript (so `T` deserializes as it would from a D1 row):
/// every number is a JavaScript number, so an integral REAL reads as an integer; a blob is
/// an array of bytes.
fn json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(r) if r.fract() == 0.0 && r.abs() < 9.007_199_254_740_992e15 => {
            (*r as i64).into()
        }
        Value::Real(r) => serde_json::Number::from_f64(*r)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Text(t) => t.clone().into(),
        Value::Blob(b) => b.iter().map(|x| serde_json::Value::from(*x)).collect(),
    }
}

/// A row as D1's object: a later column of the same name wins, as in D1.
fn row_object(columns: &[String], row: &[Value]) -> serde_json::Value {
    let mut map = serde_json::Map::with_capacity(columns.len());
    for (c, v) in columns.iter().zip(row) {
        map.insert(c.clone(), json(v));
    }
    serde_json::Value::Object(map)
}

fn deserialize<T: DeserializeOwned>(v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| {
        fail(Error::new(
            ErrorCode::TypeError,
            format!("a row does not deserialize into the requested type: {e}"),
        ))
    })
}

#[cfg(all(target_arch = "wasm32", feature = "workers-rs"))]
mod worker_bindings {
    use super::*;
    use crate::api::Options;
    use crate::backend::d1::D1Like;
    use crate::execute::{Budget, BudgetCounter};
    use crate::policy::Policy;
    use wasm_bindgen::{JsCast, JsValue};
    use worker::d1::D1Argument;

    fn default_options() -> Options {
        Options {
            query_budget: Some(DEFAULT_QUERY_BUDGET),
            ..Options::default()
        }
    }

    impl D1Database<D1Backend> {
        /// A database over the bindings `{prefix}0`, `{prefix}1`, … of `env`, one per shard
        /// of `policy` (JSON, the Layeron `db({...})` shape). After a split in a Worker
        /// (`splitStep`), its calls fail with `D1PLUS_LAYOUT_CHANGED` (never on a retired
        /// shard): use [`D1Database::follow`] in a Worker that splits.
        pub fn from_env(env: &worker::Env, policy: &str, prefix: &str) -> Result<Self> {
            let policy = Policy::from_json(policy).map_err(fail)?;
            let shards = (0..policy.shard_count())
                .map(|i| env.d1(&format!("{prefix}{i}")))
                .collect::<Result<Vec<_>>>()?;
            Self::over(shards, policy, default_options(), None)
        }

        /// Like [`D1Database::from_env`], over the bindings the database's layout record
        /// names (`crate::reshard`): read from `{prefix}0` first, one D1 call.
        pub async fn follow(env: &worker::Env, policy: &str, prefix: &str) -> Result<Self> {
            let policy = Policy::from_json(policy).map_err(fail)?;
            let home = env.d1(&format!("{prefix}0"))?;
            let record: Option<String> = home
                .prepare(crate::catalog::LAYOUT_SQL)
                .first(Some("sql"))
                .await?;
            let names: Vec<String> = match record
                .as_deref()
                .and_then(crate::reshard::LayoutRecord::from_view_sql)
            {
                Some(l) => l.shards,
                None => (0..policy.shard_count())
                    .map(|i| format!("{prefix}{i}"))
                    .collect(),
            };
            let shards = names
                .iter()
                .map(|n| env.d1(n))
                .collect::<Result<Vec<_>>>()?;
            let policy = policy.with_shard_count(names.len());
            Self::over(shards, policy, default_options(), record)
        }

        /// A database over these bindings, shard `i` being `shards[i]`. The schema catalog
        /// is read when the first statement runs.
        pub fn new(
            shards: Vec<worker::D1Database>,
            policy: Policy,
            options: Options,
        ) -> Result<Self> {
            Self::over(shards, policy, options, None)
        }

        fn over(
            shards: Vec<worker::D1Database>,
            policy: Policy,
            options: Options,
            layout: Option<String>,
        ) -> Result<Self> {
            let shards = shards
                .into_iter()
                .map(|d| JsValue::from(d).unchecked_into::<D1Like>())
                .collect();
            let captured = policy
                .realtime
                .as_ref()
                .map(|r| r.tables.clone())
                .unwrap_or_default();
            let backend = D1Backend::new(shards).counting_own_changes(&captured);
            // The database and its sessions draw on one budget.
            let counter = BudgetCounter::new(options.query_budget);
            let root = Database::unloaded(policy, backend.clone(), options).map_err(fail)?;
            let db = root
                .attach_with_budget(backend, Budget::shared(Box::new(counter.clone())))
                .map_err(fail)?
                .expecting_layout(layout);
            Ok(D1Database {
                db: Rc::new(db),
                counter: Some(counter),
            })
        }

        /// A session over every shard: `None` or a constraint (`first-primary`,
        /// `first-unconstrained`), or a bookmark from [`D1DatabaseSession::get_bookmark`].
        pub fn with_session(
            &self,
            constraint_or_bookmark: Option<&str>,
        ) -> Result<D1DatabaseSession> {
            let n = self.db.backend().shard_count();
            let parts = session_parts(constraint_or_bookmark, n).map_err(fail)?;
            let backend = self.db.backend().with_sessions(&parts).map_err(fail)?;
            let budget = match &self.counter {
                Some(c) => Budget::shared(Box::new(c.clone())),
                None => Budget::new(self.db.options().query_budget),
            };
            let db = self.db.attach_with_budget(backend, budget).map_err(fail)?;
            Ok(D1DatabaseSession {
                db: D1Database {
                    db: Rc::new(db),
                    counter: self.counter.clone(),
                },
            })
        }
    }

    /// A session over every shard, with `worker::D1DatabaseSession`'s methods.
    pub struct D1DatabaseSession {
        db: D1Database<D1Backend>,
    }

    impl D1DatabaseSession {
        /// Prepares a statement in the session.
        pub fn prepare<T: Into<String>>(&self, query: T) -> D1PreparedStatement<D1Backend> {
            self.db.prepare(query)
        }

        /// A batch in the session.
        pub async fn batch(
            &self,
            statements: Vec<D1PreparedStatement<D1Backend>>,
        ) -> Result<Vec<D1Result>> {
            self.db.batch(statements).await
        }

        /// One bookmark carrying every shard's, or None before any shard answered.
        pub fn get_bookmark(&self) -> Result<Option<String>> {
            Ok(compose_bookmark(&self.db.database().backend().bookmarks()))
        }
    }

    impl D1PreparedStatement<D1Backend> {
        /// Binds values with D1's rules (numbers, strings, booleans as 1/0, null, byte
        /// arrays); anything else is `D1_TYPE_ERROR`.
        pub fn bind(self, values: &[JsValue]) -> Result<Self> {
            let params = values.iter().map(bindable).collect::<Result<Vec<_>>>()?;
            Ok(self.bind_values(params))
        }

        /// Binds borrowed arguments (`D1Type`, `D1PreparedArgument`).
        pub fn bind_refs<'a, T, U: D1Argument + 'a>(self, values: T) -> Result<Self>
        where
            T: IntoIterator<Item = &'a U>,
        {
            let params = values
                .into_iter()
                .map(|v| bindable(v.js_value().as_ref()))
                .collect::<Result<Vec<_>>>()?;
            Ok(self.bind_values(params))
        }
    }

    /// D1's binding rules (workerd's `bind`): numbers (as REALs, as D1 binds them),
    /// strings, booleans as 1/0, null, arrays of byte values, ArrayBuffers and views (their
    /// elements); anything else is `D1_TYPE_ERROR`.
    fn bindable(v: &JsValue) -> Result<Value> {
        if let Some(b) = v.as_bool() {
            return Ok(Value::Real(if b { 1.0 } else { 0.0 }));
        }
        if let Some(n) = v.as_f64() {
            return Ok(Value::Real(n));
        }
        if v.is_null() {
            return Ok(Value::Null);
        }
        if let Some(s) = v.as_string() {
            return Ok(Value::Text(s));
        }
        let elements = |a: js_sys::Array| -> Option<Vec<u8>> {
            a.iter()
                .map(|x| {
                    x.as_f64()
                        .filter(|b| (0.0..256.0).contains(b))
                        .map(|b| b as u8)
                })
                .collect()
        };
        if js_sys::Array::is_array(v) {
            if let Some(bytes) = elements(v.clone().unchecked_into()) {
                return Ok(Value::Blob(bytes));
            }
        } else if let Some(buf) = v.dyn_ref::<js_sys::ArrayBuffer>() {
            return Ok(Value::Blob(js_sys::Uint8Array::new(buf).to_vec()));
        } else if js_sys::ArrayBuffer::is_view(v) {
            if let Some(bytes) = elements(js_sys::Array::from(v)) {
                return Ok(Value::Blob(bytes));
            }
        }
        // What JavaScript's `${value}` shows, for the types that can get here.
        let shown = if v.is_undefined() {
            "undefined".to_string()
        } else if let Some(b) = v.dyn_ref::<js_sys::BigInt>() {
            b.to_string(10).map(String::from).unwrap_or_default()
        } else if js_sys::Array::is_array(v) {
            String::from(v.clone().unchecked_into::<js_sys::Array>().join(","))
        } else {
            "[object Object]".to_string()
        };
        Err(fail(Error::new(
            ErrorCode::TypeError,
            format!(
                "Type '{}' not supported for value '{shown}'",
                v.js_typeof().as_string().unwrap_or_default(),
            ),
        )))
    }
}

#[cfg(all(target_arch = "wasm32", feature = "workers-rs"))]
pub use worker_bindings::D1DatabaseSession;

pub use crate::bookmark::{compose as compose_bookmark, session_parts, PREFIX as BOOKMARK_PREFIX};

/// Shard queries one invocation may run by default (the Workers paid plan; 50 on the free
/// plan: pass `Options { query_budget: Some(50), .. }` to `D1Database::new`).
pub const DEFAULT_QUERY_BUDGET: usize = 1000;
