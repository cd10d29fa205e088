//! The wasm side of the JavaScript API (wasm32 only). `js/d1plus.js` wraps [`Engine`] in
//! a `D1Database` class with D1's JavaScript surface; statements stay plain JavaScript
//! objects, so nothing but the engine lives in wasm memory.
//!
//! One engine per policy lives as long as the isolate and holds the schema catalog and
//! the plan cache. Each call brings the shard bindings (or sessions) of the request and
//! the query budget left; requests and results cross the boundary as JSON, the way D1
//! itself sends them.

use crate::api::{Database, Options, Statement};
use crate::backend::d1::{D1Backend, D1Like};
use crate::backend::io::{Driven, Step};
use crate::backend::recording::NullBackend;
use crate::error::{Error, ErrorCode, Result};
use crate::execute::{Budget, Meta, QueryResult, SharedBudget};
use crate::plan::ShardHint;
use crate::policy::Policy;
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The CREATE statements of a schema declared in code (`crate::schema`), for
/// `db({ schema })`.
#[wasm_bindgen(js_name = schemaSql)]
pub fn schema_sql(declaration: &str) -> std::result::Result<String, JsValue> {
    crate::schema::SchemaDecl::from_json(declaration)
        .and_then(|d| d.create_sql())
        .map_err(|e| to_js_error(&e))
}

/// TypeScript row types of a schema declared in code.
#[wasm_bindgen(js_name = schemaTypes)]
pub fn schema_types(declaration: &str) -> std::result::Result<String, JsValue> {
    crate::schema::SchemaDecl::from_json(declaration)
        .map(|d| d.typescript())
        .map_err(|e| to_js_error(&e))
}

/// A logical database's policy, catalog and plan cache.
#[wasm_bindgen]
pub struct Engine {
    db: Rc<Database<NullBackend>>,
    /// Calls waiting for JavaScript's answers, by the caller's number.
    tasks: RefCell<Vec<(u32, Driven)>>,
}

/// One statement as the JavaScript side sends it.
#[derive(Deserialize)]
struct Request {
    sql: String,
    #[serde(default)]
    params: Vec<Value>,
    /// `{ table, key }`, or a bare key when the policy shards one table.
    #[serde(default)]
    shard: Option<serde_json::Value>,
}

/// One statement's answer: columns and rows as SQLite gave them (the JavaScript side
/// makes D1's objects, `raw()` arrays and `first()` from them).
#[derive(Serialize)]
struct Answer<'a> {
    columns: &'a [String],
    rows: &'a [Vec<Value>],
    meta: &'a Meta,
}

impl<'a> From<&'a QueryResult> for Answer<'a> {
    fn from(r: &'a QueryResult) -> Self {
        Answer {
            columns: &r.columns,
            rows: &r.rows,
            meta: &r.meta,
        }
    }
}

/// What every call resolves to (it never rejects): the answer or the error, and the
/// shard queries the call used.
#[derive(Serialize)]
struct Envelope<T: Serialize> {
    ok: Option<T>,
    error: Option<ErrorOut>,
    used: usize,
    /// With `D1PLUS_LAYOUT_CHANGED`: the layout record the call found.
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<String>,
}

#[derive(Serialize)]
struct ErrorOut {
    message: String,
    code: &'static str,
    shard: Option<usize>,
}

impl From<&Error> for ErrorOut {
    fn from(e: &Error) -> Self {
        match e {
            // D1's own text, as a raw binding gives it; the shard is a field of its own.
            Error::Backend { shard, message } => ErrorOut {
                message: format!("D1_ERROR: {message}"),
                code: e.code().as_str(),
                shard: *shard,
            },
            Error::Proxy { .. } => ErrorOut {
                message: e.to_string(),
                code: e.code().as_str(),
                shard: None,
            },
        }
    }
}

#[wasm_bindgen]
impl Engine {
    /// An engine for a policy given as JSON (the Layeron `db({...})` shape).
    /// `shard_count`, when given, overrides the policy's: the count a split's layout
    /// record names (`crate::reshard`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        policy_json: &str,
        shard_count: Option<usize>,
    ) -> std::result::Result<Engine, JsValue> {
        let mut policy = Policy::from_json(policy_json).map_err(|e| to_js_error(&e))?;
        if let Some(n) = shard_count.filter(|&n| n != policy.shard_count()) {
            policy = policy.with_shard_count(n);
            policy.validate().map_err(|e| to_js_error(&e))?;
        }
        let n = policy.shard_count();
        let db = Database::unloaded(policy, NullBackend::new(n), Options::default())
            .map_err(|e| to_js_error(&e))?;
        Ok(Engine {
            db: Rc::new(db),
            tasks: RefCell::default(),
        })
    }

    /// One bookmark from each shard's (an array of strings or nulls), or undefined before
    /// any shard has one (`crate::bookmark`, shared with the workers-rs API).
    #[wasm_bindgen(js_name = composeBookmark)]
    pub fn compose_bookmark(&self, marks: Vec<JsValue>) -> Option<String> {
        let marks: Vec<Option<String>> = marks.iter().map(JsValue::as_string).collect();
        crate::bookmark::compose(&marks)
    }

    /// The per-shard constraints a session starts from: for `None`, a constraint, or a
    /// d1plus bookmark; throws `D1PLUS_INVALID_BOOKMARK` for anything else.
    #[wasm_bindgen(js_name = sessionParts)]
    pub fn session_parts(
        &self,
        constraint_or_bookmark: Option<String>,
    ) -> std::result::Result<Vec<String>, JsValue> {
        crate::bookmark::session_parts(constraint_or_bookmark.as_deref(), self.shard_count())
            .map_err(|e| to_js_error(&e))
    }

    /// The number of shards (bindings each call must bring).
    #[wasm_bindgen(js_name = shardCount)]
    pub fn shard_count(&self) -> usize {
        self.db.policy().shard_count()
    }

    /// Starts call `task` of `kind` (see [`CallKind`]), which JavaScript then drives: the
    /// answer (a JSON envelope `{ ok, error, used, layout }`, as text), or an array of
    /// promises the call waits for, whose outcomes go to [`Engine::resume`]
    /// ([`crate::backend::io`]). `task` is the caller's number for the call, unique among
    /// its calls not yet answered.
    ///
    /// `shards` are the bindings or sessions, shard by shard; `budget` is the request's
    /// `{ limit, used }`, which every call of the request draws from (and updates) before
    /// any shard is called. A request's first call passes [`Schema::Revalidate`]: another
    /// isolate may have changed the schema, which the schema guard finds in the same D1
    /// call (`Database::revalidating`). `layout` is the layout record the bindings were
    /// chosen by (`undefined` before any split): a call on a catalog that names another
    /// fails with `D1PLUS_LAYOUT_CHANGED` having run nothing, and its envelope's `layout`
    /// is the record found.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &self,
        task: u32,
        shards: js_sys::Array,
        kind: CallKind,
        request: String,
        budget: js_sys::Object,
        schema: Schema,
        layout: Option<String>,
    ) -> JsValue {
        let db = self.db.clone();
        let call = async move {
            let captured = db
                .policy()
                .realtime
                .as_ref()
                .map(|r| r.tables.clone())
                .unwrap_or_default();
            let shards = shards
                .iter()
                .map(|s| s.unchecked_into::<D1Like>())
                .collect();
            let backend = D1Backend::new(shards).counting_own_changes(&captured);
            let budget = Budget::shared(Box::new(JsBudget(budget)));
            let handle = match db.attach_with_budget(backend, budget) {
                Ok(h) => h.expecting_layout(layout),
                Err(e) => return envelope::<()>(Err(e), 0),
            };
            let call = || -> futures::future::LocalBoxFuture<'_, Result<Outcome>> {
                Box::pin(Outcome::of(kind, &db, &handle, &request))
            };
            let outcome = match schema {
                Schema::Revalidate => handle.revalidating(call).await,
                Schema::Cached => call().await,
            };
            answer_envelope(outcome, &handle)
        };
        self.step(task, Driven::new(Box::pin(call)))
    }

    /// Answers what call `task` waits for: `values[i]` is what its promise `i` resolved
    /// to, or rejected with when `i` is in `failed`. Gives what [`Engine::start`] gives.
    pub fn resume(&self, task: u32, values: js_sys::Array, failed: Option<Vec<u32>>) -> JsValue {
        let waiting = {
            let mut tasks = self.tasks.borrow_mut();
            let at = tasks.iter().position(|(t, _)| *t == task);
            at.map(|i| tasks.swap_remove(i).1)
        };
        let Some(mut driven) = waiting else {
            let e = Error::internal(format!("call {task} is not waiting"));
            return envelope::<()>(Err(e), 0).into();
        };
        driven.answer(&values, failed.as_deref().unwrap_or_default());
        self.step(task, driven)
    }
}

impl Engine {
    fn step(&self, task: u32, mut driven: Driven) -> JsValue {
        match driven.poll() {
            Step::Done(text) => text.into(),
            Step::Waiting(promises) => {
                self.tasks.borrow_mut().push((task, driven));
                promises.into()
            }
            Step::Stalled => {
                let e = Error::internal("a call waits for nothing JavaScript can answer");
                envelope::<()>(Err(e), 0).into()
            }
        }
    }
}

/// A call's envelope: its outcome, and the shard queries its handle used.
fn answer_envelope(outcome: Result<Outcome>, handle: &Database<D1Backend>) -> String {
    let used = handle.queries_used();
    let found = match &outcome {
        Err(e) if e.code() == ErrorCode::LayoutChanged => handle.catalog().layout.clone(),
        _ => None,
    };
    match outcome {
        Ok(Outcome::One(r)) => envelope(Ok(Answer::from(&r)), used),
        Ok(Outcome::Batch(rs)) => {
            envelope(Ok(rs.iter().map(Answer::from).collect::<Vec<_>>()), used)
        }
        Ok(Outcome::Exec(r)) => envelope(Ok(r), used),
        Ok(Outcome::Migrate(r)) => envelope(Ok(r), used),
        Ok(Outcome::Check(d)) => envelope(Ok(d), used),
        Ok(Outcome::Table(t)) => envelope(Ok(t), used),
        Ok(Outcome::Changes(c)) => envelope(Ok(c), used),
        Ok(Outcome::Status(s)) => envelope(Ok(s), used),
        Ok(Outcome::Explain(p)) => envelope(Ok(p), used),
        Err(e) => envelope_with_layout::<()>(Err(e), used, found),
    }
}

#[wasm_bindgen]
impl Engine {
    /// Starts call `task`: one bounded step of an online split (`crate::reshard::step`)
    /// over `pool`, the bindings named by `request.names` in that order (the first is the
    /// home). Driven as [`Engine::start`]'s calls are; its envelope's `ok` is the step's
    /// report.
    #[wasm_bindgen(js_name = startSplit)]
    pub fn start_split(&self, task: u32, pool: js_sys::Array, request: String) -> JsValue {
        let db = self.db.clone();
        let step = async move {
            let backend =
                D1Backend::new(pool.iter().map(|s| s.unchecked_into::<D1Like>()).collect());
            let report = match decode::<crate::reshard::StepRequest>(&request) {
                Ok(r) => crate::reshard::step(&backend, db.policy(), &r).await,
                Err(e) => Err(e),
            };
            envelope(report, 0)
        };
        self.step(task, Driven::new(Box::pin(step)))
    }
}

/// What a call brings: one statement (as JSON), a `batch()` (an array of them), or an
/// `exec()` script.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum CallKind {
    /// `request` is one statement `{ sql, params, shard }`.
    One = 0,
    /// `request` is an array of statements.
    Batch = 1,
    /// `request` is a script.
    Exec = 2,
    /// `request` is an array of migrations `{ name, sql }` (see `crate::migrate`).
    Migrate = 3,
    /// `request` is ignored: compare the shards' schemas and migration records.
    Check = 4,
    /// `request` is a Table API call `{ table, op, … }` (see `crate::table`).
    Table = 5,
    /// `request` is an array of statements that run as one atomic batch (refused when
    /// they span shards): `transaction()`.
    Transaction = 6,
    /// `request` is `{ cursor, tables, key, limit }`: the realtime events after `cursor`
    /// (from now when null), `{ events, cursor }` (see `crate::realtime`).
    Changes = 7,
    /// `request` is ignored: rows and bytes per shard, skew and top keys
    /// (`crate::status`), for `d1plus status --url`.
    Status = 8,
    /// `request` is `{ sql, params, shard }`: the plan, as `d1plus explain` prints it
    /// (without `params`, the plan of any values, parameters shown as `?N`).
    Explain = 9,
}

/// Whether the catalog the engine holds may be used as it is.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum Schema {
    /// A later call of the request: the catalog was checked by its first call.
    Cached = 0,
    /// A request's first call: check the catalog against the shards (the schema guard).
    Revalidate = 1,
}

/// A call's answer, by kind.
enum Outcome {
    One(QueryResult),
    Batch(Vec<QueryResult>),
    Exec(crate::api::ExecResult),
    Migrate(crate::migrate::Report),
    /// The differences `check` found (none: the shards agree).
    Check(Vec<String>),
    Table(crate::table::TableAnswer),
    Changes(Changes),
    Status(crate::status::Status),
    Explain(String),
}

/// An `explain` call from JavaScript: `params` absent means "any values".
#[derive(Deserialize)]
struct ExplainCall {
    sql: String,
    #[serde(default)]
    params: Option<Vec<Value>>,
    #[serde(default)]
    shard: Option<serde_json::Value>,
}

/// A realtime read from JavaScript (the hub's tick).
#[derive(Deserialize)]
struct ChangesCall {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    tables: Vec<String>,
    #[serde(default)]
    key: Option<Value>,
    #[serde(default)]
    limit: Option<usize>,
}

/// Its answer: the events, and the cursor after them (also when there are none).
#[derive(Serialize)]
struct Changes {
    events: Vec<crate::realtime::Event>,
    cursor: String,
}

impl Outcome {
    async fn of(
        kind: CallKind,
        shared: &Database<NullBackend>,
        db: &Database<D1Backend>,
        request: &str,
    ) -> Result<Outcome> {
        Ok(match kind {
            CallKind::One => Outcome::One(one(shared, db, request).await?),
            CallKind::Batch => Outcome::Batch(batch(shared, db, request).await?),
            CallKind::Exec => Outcome::Exec(db.exec(request).await?),
            CallKind::Migrate => {
                let migrations: Vec<crate::migrate::Migration> = serde_json::from_str(request)
                    .map_err(|e| {
                        Error::with_remedy(
                            ErrorCode::InvalidArgument,
                            format!("migrate() takes an array of {{ name, sql }}: {e}"),
                            "pass [{ name: \"0001_init.sql\", sql: \"CREATE TABLE …\" }, …]",
                        )
                    })?;
                Outcome::Migrate(crate::migrate::migrate(db, &migrations, &mut |_| {}).await?)
            }
            CallKind::Check => Outcome::Check(crate::migrate::differences(
                &crate::migrate::shard_schemas(db).await?,
            )),
            CallKind::Table => {
                let call: TableCall = decode(request)?;
                Outcome::Table(db.table(&call.table).call(&call.call).await?)
            }
            CallKind::Transaction => Outcome::Batch(transaction(shared, db, request).await?),
            CallKind::Changes => Outcome::Changes(changes(db, decode(request)?).await?),
            CallKind::Explain => Outcome::Explain(explain(shared, db, decode(request)?)?),
            CallKind::Status => Outcome::Status(
                crate::status::read(db, &[], None, crate::status::Bytes::Reported).await?,
            ),
        })
    }
}

/// A request's budget, `{ limit, used }`, kept on the JavaScript side.
struct JsBudget(js_sys::Object);

#[wasm_bindgen(inline_js = r#"
// Takes n statements from a request's budget { limit, used } if its limit allows them:
// -1, or (nothing taken) the statements used so far. Read as JsBudget's limit() and used()
// read them: a limit that is not a finite number is none, a used that is not a positive
// number is 0, fractions are dropped.
export function takeBudget(budget, n) {
  const limit = budget.limit;
  const u = budget.used;
  const used = typeof u === "number" && u > 0 ? Math.trunc(u) : 0;
  if (typeof limit === "number" && Number.isFinite(limit) && used + n > Math.max(Math.trunc(limit), 0)) {
    return used;
  }
  budget.used = used + n;
  return -1;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = takeBudget, catch)]
    fn take_budget(budget: &js_sys::Object, n: f64) -> std::result::Result<f64, JsValue>;
}

thread_local! {
    /// The budget object's keys as JavaScript strings, made once: each statement reads and
    /// writes them.
    static LIMIT: JsValue = JsValue::from_str("limit");
    static USED: JsValue = JsValue::from_str("used");
}

impl JsBudget {
    fn number(&self, key: &'static std::thread::LocalKey<JsValue>) -> Option<f64> {
        key.with(|k| js_sys::Reflect::get(&self.0, k))
            .ok()?
            .as_f64()
    }
}

impl SharedBudget for JsBudget {
    fn limit(&self) -> Option<usize> {
        // null, undefined or Infinity: no limit.
        self.number(&LIMIT)
            .filter(|l| l.is_finite())
            .map(|l| l.max(0.0) as usize)
    }

    fn used(&self) -> usize {
        self.number(&USED).unwrap_or(0.0).max(0.0) as usize
    }

    fn add(&self, n: usize) {
        let used = self.used() + n;
        let _ = USED.with(|k| js_sys::Reflect::set(&self.0, k, &(used as f64).into()));
    }

    /// In one call into JavaScript instead of four (two reads, a read and a write).
    fn try_take(&self, n: usize) -> std::result::Result<(), usize> {
        match take_budget(&self.0, n as f64) {
            Ok(taken) if taken < 0.0 => Ok(()),
            Ok(used) => Err(used as usize),
            // A getter or setter threw: read it the slow way, which takes such errors.
            Err(_) => crate::execute::take_by_parts(self, n),
        }
    }
}

fn envelope<T: Serialize>(r: Result<T>, used: usize) -> String {
    envelope_with_layout(r, used, None)
}

/// The envelope, with the layout record a `D1PLUS_LAYOUT_CHANGED` found.
fn envelope_with_layout<T: Serialize>(r: Result<T>, used: usize, layout: Option<String>) -> String {
    let env = match &r {
        Ok(v) => serde_json::to_string(&Envelope {
            ok: Some(v),
            error: None,
            used,
            layout,
        }),
        Err(e) => serde_json::to_string(&Envelope::<()> {
            ok: None,
            error: Some(e.into()),
            used,
            layout,
        }),
    };
    env.unwrap_or_else(|e| {
        let code = ErrorCode::Internal;
        format!(r#"{{"ok":null,"error":{{"message":"{code}: {e}","code":"{code}","shard":null}},"used":{used}}}"#)
    })
}

fn parse_request<B: crate::backend::Backend>(db: &Database<B>, r: Request) -> Result<Statement> {
    Ok(Statement {
        hint: request_hint(db.policy(), r.shard)?,
        sql: r.sql,
        params: r.params.into_iter().map(as_d1_binds).collect(),
    })
}

/// A request's `shard` (absent or null: none), its key as D1 will bind it.
fn request_hint(policy: &Policy, shard: Option<serde_json::Value>) -> Result<Option<ShardHint>> {
    let hint = match shard {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(h) => shard_hint(policy, h)?,
    };
    Ok(Some(ShardHint {
        key: as_d1_binds(hint.key),
        ..hint
    }))
}

/// D1 binds every JavaScript number as a REAL (`typeof(?)` is `real`, and a TEXT column
/// stores `1` as `'1.0'`), so d1plus routes and plans with the value the shard will see.
fn as_d1_binds(v: Value) -> Value {
    match v {
        Value::Integer(i) => Value::Real(i as f64),
        other => other,
    }
}

/// A hint as `{ table, key }`, or a bare key value when the policy shards exactly one table.
pub fn shard_hint(policy: &Policy, h: serde_json::Value) -> Result<ShardHint> {
    if h.is_object() {
        return serde_json::from_value(h).map_err(|e| {
            Error::with_remedy(
                ErrorCode::HintConflict,
                format!("the shard hint is not {{ table, key }}: {e}"),
                "pass shard: { table: \"<sharded table>\", key: <its key value> }",
            )
        });
    }
    let key: Value = serde_json::from_value(h).map_err(|e| {
        Error::new(
            ErrorCode::HintConflict,
            format!("the shard hint is not a key value: {e}"),
        )
    })?;
    match policy.sharding.tables.as_slice() {
        [only] => Ok(ShardHint {
            table: only.name.clone(),
            key,
        }),
        _ => Err(Error::with_remedy(
            ErrorCode::HintConflict,
            "a bare shard key is ambiguous: the policy shards several tables",
            "pass shard: { table: \"<sharded table>\", key: <its key value> }",
        )),
    }
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| {
        Error::new(
            ErrorCode::TypeError,
            format!("a statement or its parameters cannot be read: {e}"),
        )
    })
}

async fn one(
    shared: &Database<NullBackend>,
    db: &Database<D1Backend>,
    json: &str,
) -> Result<QueryResult> {
    let s = parse_request(shared, decode(json)?)?;
    db.query(&s.sql, &s.params, s.hint.as_ref()).await
}

/// The statements of a `batch()` or `transaction()` call (a JSON array).
fn statements(shared: &Database<NullBackend>, json: &str) -> Result<Vec<Statement>> {
    let requests: Vec<Request> = decode(json)?;
    requests
        .into_iter()
        .map(|r| parse_request(shared, r))
        .collect()
}

async fn batch(
    shared: &Database<NullBackend>,
    db: &Database<D1Backend>,
    json: &str,
) -> Result<Vec<QueryResult>> {
    db.batch(&statements(shared, json)?).await
}

/// A Table API call from JavaScript: `{ table, call: { op, … } }`.
#[derive(serde::Deserialize)]
struct TableCall {
    table: String,
    call: crate::table::TableOp,
}

async fn transaction(
    shared: &Database<NullBackend>,
    db: &Database<D1Backend>,
    json: &str,
) -> Result<Vec<QueryResult>> {
    db.batch_atomic(&statements(shared, json)?).await
}

/// Events after the call's cursor (from now when it has none), at most `limit` log entries
/// per shard read (default 100).
async fn changes(db: &Database<D1Backend>, call: ChangesCall) -> Result<Changes> {
    db.ensure_catalog().await?;
    use crate::realtime::{self, Cursor, Subscription};
    let Some(text) = call.cursor else {
        let now = realtime::now(db).await?;
        return Ok(Changes {
            events: Vec::new(),
            cursor: now.encode(),
        });
    };
    let cursor = Cursor::decode(&text, db.policy().shard_count())?;
    let subscription = Subscription {
        tables: call.tables,
        key: call.key,
    };
    let limit = call.limit.unwrap_or(100).clamp(1, 1000);
    let (events, next) = realtime::poll(db, &cursor, &subscription, limit).await?;
    Ok(Changes {
        events,
        cursor: next.encode(),
    })
}

/// The plan of one statement, as `d1plus explain` prints it.
fn explain(
    shared: &Database<NullBackend>,
    db: &Database<D1Backend>,
    call: ExplainCall,
) -> Result<String> {
    // The hint's key as the statement would bind it, so the plan shown is the plan run.
    let hint = request_hint(shared.policy(), call.shard)?;
    match call.params {
        None => db.explain_unbound(&call.sql, hint.as_ref()),
        Some(params) => {
            let params: Vec<Value> = params.into_iter().map(as_d1_binds).collect();
            Ok(db.plan(&call.sql, &params, hint.as_ref())?.to_string())
        }
    }
}

fn to_js_error(e: &Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().as_str().into());
    err.into()
}
