//! The Worker backend: shards are D1 bindings (or D1 sessions), called through their
//! JavaScript API from wasm.
//!
//! Each [`ShardBatch`] runs as one D1 `batch()`, which D1 runs as one transaction, so a
//! failed statement rolls its shard's group back. D1 hands batch rows back as objects, so a
//! batch of a single read runs as `raw({ columnNames: true })` instead, which keeps column
//! order and repeated names exactly as SQLite produced them (the merge reads columns by
//! position). Single reads go through one JavaScript call however many shards they are
//! on (`readAll`), which hands every answer back in one buffer (`backend::wire`): a value
//! read from JavaScript one by one is a call across the boundary each. At most
//! [`D1Backend::max_concurrency`] shards are called at once: a Worker may hold 6
//! connections at a time.

use super::io;
use super::wire::{self, number, MAX_SAFE_INTEGER};
use super::{Backend, ShardBatch, ShardId, ShardMeta, ShardStatement, StatementOutput};
use crate::error::{Error, ErrorCode, Result};
use crate::lex;
use crate::value::Value;
use futures::future::LocalBoxFuture;
use futures::StreamExt;
use js_sys::{Array, JsString, Object, Reflect, Uint8Array};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// A D1 database binding, or a session made from one: both have `prepare` and `batch`.
    #[derive(Debug, Clone)]
    pub type D1Like;

    #[wasm_bindgen(method, catch, js_name = withSession)]
    fn with_session(this: &D1Like, constraint: &str) -> std::result::Result<D1Like, JsValue>;

    #[wasm_bindgen(method, catch, js_name = getBookmark)]
    fn get_bookmark(this: &D1Like) -> std::result::Result<JsValue, JsValue>;
}

/// Shards that are D1 databases.
#[derive(Debug, Clone)]
pub struct D1Backend {
    shards: Vec<D1Like>,
    /// Shards called at once (a Worker may hold 6 connections at a time).
    pub max_concurrency: usize,
    /// Tables (lowercase) whose writes d1plus's own triggers also log (realtime capture).
    captured: Vec<String>,
}

impl D1Backend {
    /// A backend over these bindings, shard `i` being `shards[i]`.
    pub fn new(shards: Vec<D1Like>) -> D1Backend {
        D1Backend {
            shards,
            max_concurrency: 6,
            captured: Vec::new(),
        }
    }

    /// Writes to these tables fire d1plus's capture triggers (`crate::capture`), and D1's
    /// `meta.changes` counts every row a statement's triggers change too (it is the change
    /// of `total_changes()`), so each such write is followed by `SELECT changes()` in the
    /// same batch and reports that: the rows the statement itself changed, as SQLite (and
    /// the native backend) count them. The check is on the statement's text: a statement
    /// naming no such table keeps D1's count.
    pub fn counting_own_changes(mut self, tables: &[String]) -> D1Backend {
        self.captured = tables.iter().map(|t| t.to_ascii_lowercase()).collect();
        self
    }

    /// Whether `sql` may write a captured table.
    fn writes_captured(&self, sql: &str) -> bool {
        if self.captured.is_empty() || lex::returns_rows_only(sql) {
            return false;
        }
        let lower = sql.to_ascii_lowercase();
        self.captured.iter().any(|t| lower.contains(t.as_str()))
    }

    /// The bindings, shard by shard.
    pub fn shards(&self) -> &[D1Like] {
        &self.shards
    }

    /// A backend over a D1 session per shard. `constraints[i]` is shard `i`'s bookmark or
    /// constraint (`first-primary`, `first-unconstrained`).
    pub fn with_sessions(&self, constraints: &[String]) -> Result<D1Backend> {
        let shards = self
            .shards
            .iter()
            .zip(constraints)
            .enumerate()
            .map(|(i, (db, c))| {
                db.with_session(c)
                    .map_err(|e| Error::from_shard(i, js_error_message(&e)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(D1Backend {
            shards,
            max_concurrency: self.max_concurrency,
            captured: self.captured.clone(),
        })
    }

    /// Each shard's session bookmark (None where the shard is not a session or has none yet).
    pub fn bookmarks(&self) -> Vec<Option<String>> {
        self.shards
            .iter()
            .map(|s| {
                let has = Reflect::get(s, &"getBookmark".into())
                    .map(|f| f.is_function())
                    .unwrap_or(false);
                if !has {
                    return None;
                }
                s.get_bookmark().ok().and_then(|b| b.as_string())
            })
            .collect()
    }

    /// One batch: a single read through [`D1Backend::run_reads`], anything else as one D1
    /// `batch()`.
    async fn run_one(&self, batch: &ShardBatch) -> Result<Vec<StatementOutput>> {
        if let Some(read) = self.single_read(batch) {
            let mut out = self.run_reads(&[read?], 1).await;
            return out
                .pop()
                .unwrap_or_else(|| Err(Error::internal("a read of one shard gave no answer")));
        }
        let shard = batch.shard;
        let db = self.binding(shard)?;
        let fail = |e: JsValue| Error::from_shard(shard, js_error_message(&e));
        let (texts, params) = (Array::new(), Array::new());
        let mut counted = Vec::with_capacity(batch.statements.len());
        for s in &batch.statements {
            texts.push(&js_text(&s.sql));
            params.push(js_values(&s.params).map_err(fail)?.as_ref());
            let own = self.writes_captured(&s.sql);
            if own {
                texts.push(&JsString::from("SELECT changes()"));
                params.push(&Array::new());
            }
            counted.push(own);
        }
        let answer: Array = io::settled(batch_wire(db, &texts, &params))
            .await
            .and_then(|a| a.dyn_into())
            .map_err(fail)?;
        let mut outputs = outputs(&answer)
            .map_err(fail)?
            .into_iter()
            .map(|o| o.map_err(fail));
        let mut out = Vec::with_capacity(counted.len());
        for own in counted {
            let mut o = outputs.next().ok_or_else(|| {
                Error::backend(Some(shard), "D1 answered fewer results than statements")
            })??;
            if own {
                let c = outputs.next().ok_or_else(|| {
                    Error::backend(Some(shard), "D1 answered fewer results than statements")
                })??;
                // DDL leaves changes() at the last write's count; D1 saw no change then.
                if o.meta.changes > 0 {
                    if let Some(Value::Integer(n)) = c.rows.first().and_then(|r| r.first()) {
                        o.meta.changes = (*n).max(0) as u64;
                    }
                }
            }
            out.push(o);
        }
        Ok(out)
    }

    /// Shard `shard`'s binding.
    fn binding(&self, shard: ShardId) -> Result<&D1Like> {
        self.shards.get(shard).ok_or_else(|| {
            Error::internal(format!(
                "shard {shard} does not exist: this backend has {} shards",
                self.shards.len()
            ))
        })
    }

    /// The batch's statement when it is a single read (None for anything else).
    fn single_read<'a>(&'a self, batch: &'a ShardBatch) -> Option<Result<Read<'a>>> {
        match batch.statements.as_slice() {
            [only] if lex::returns_rows_only(&only.sql) => {
                Some(self.binding(batch.shard).map(|db| (batch.shard, db, only)))
            }
            _ => None,
        }
    }

    /// Single reads on their shards, through one JavaScript call (`readAll`): it runs each
    /// as `raw({ columnNames: true })`, which keeps column order and repeated names exactly
    /// as SQLite produced them, at most [`D1Backend::max_concurrency`] at once, and hands
    /// every answer back in one buffer ([`wire`]). An answer per read, in order.
    async fn run_reads(
        &self,
        reads: &[Read<'_>],
        limit: usize,
    ) -> Vec<Result<Vec<StatementOutput>>> {
        let mut out: Vec<Option<Result<Vec<StatementOutput>>>> = vec![None; reads.len()];
        let (dbs, texts, params) = (Array::new(), Array::new(), Array::new());
        // Which read each entry of the call is (a read whose values cannot be bound is not sent).
        let mut sent = Vec::with_capacity(reads.len());
        for (i, &(shard, db, s)) in reads.iter().enumerate() {
            let values = match js_values(&s.params) {
                Ok(values) => values,
                Err(e) => {
                    out[i] = Some(Err(Error::from_shard(shard, js_error_message(&e))));
                    continue;
                }
            };
            dbs.push(db);
            texts.push(&js_text(&s.sql));
            params.push(&values);
            sent.push(i);
        }
        if !sent.is_empty() {
            let limit = limit.max(1) as u32;
            let answers = io::settled(read_all(&dbs, &texts, &params, limit))
                .await
                .and_then(|all| all.dyn_into::<Array>());
            for (k, answer) in read_answers(answers, &sent, reads).into_iter().enumerate() {
                out[sent[k]] = Some(answer);
            }
        }
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| Err(Error::internal("a read was not answered"))))
            .collect()
    }
}

/// A single read: its shard, the shard's binding, the statement.
type Read<'a> = (ShardId, &'a D1Like, &'a ShardStatement);

/// `readAll`'s answers, `[bytes, errors, elsewhere]`, one per sent read (`sent[k]` is the
/// read's index in `reads`).
fn read_answers(
    answers: std::result::Result<Array, JsValue>,
    sent: &[usize],
    reads: &[Read<'_>],
) -> Vec<Result<Vec<StatementOutput>>> {
    let shard = |k: usize| reads[sent[k]].0;
    let all = match answers {
        Ok(all) => all,
        Err(e) => {
            let message = js_error_message(&e);
            return (0..sent.len())
                .map(|k| Err(Error::from_shard(shard(k), message.clone())))
                .collect();
        }
    };
    let bytes = all.get(0).dyn_into::<Uint8Array>().map(|b| b.to_vec());
    let entries = bytes.ok().and_then(|b| wire::read_entries(&b, sent.len()));
    let Some(entries) = entries else {
        return (0..sent.len())
            .map(|_| {
                Err(Error::internal(
                    "readAll's answer is not in the wire format",
                ))
            })
            .collect();
    };
    let array = |v: JsValue| v.dyn_into::<Array>().unwrap_or_else(|_| Array::new());
    let (errors, elsewhere) = (array(all.get(1)), array(all.get(2)));
    entries
        .into_iter()
        .enumerate()
        .map(|(k, entry)| {
            let fail = |e: JsValue| Error::from_shard(shard(k), js_error_message(&e));
            let (columns, rows, duration) = match entry {
                wire::Entry::Answer {
                    columns,
                    rows,
                    duration,
                } => (columns, rows, duration),
                wire::Entry::Failed => return Err(fail(errors.get(k as u32))),
                wire::Entry::Elsewhere { duration } => {
                    let raw: Array = elsewhere.get(k as u32).dyn_into().map_err(fail)?;
                    let (columns, rows) = read_raw(&raw).map_err(fail)?;
                    (columns, rows, duration)
                }
            };
            let meta = ShardMeta {
                rows_read: rows.len() as u64,
                duration,
                ..ShardMeta::default()
            };
            Ok(vec![StatementOutput {
                columns: columns.into(),
                rows,
                meta,
            }])
        })
        .collect()
}

impl Backend for D1Backend {
    fn shard_count(&self) -> usize {
        self.shards.len()
    }

    fn batch_rows_by_name(&self) -> bool {
        true
    }

    /// D1's form: `near "SELEKT": syntax error at offset 0: SQLITE_ERROR`.
    fn prepare_error(&self, message: &str, offset: Option<usize>) -> String {
        match offset {
            Some(o) => format!("{message} at offset {o}: SQLITE_ERROR"),
            None => format!("{message}: SQLITE_ERROR"),
        }
    }

    fn run(
        &self,
        batches: Vec<ShardBatch>,
    ) -> LocalBoxFuture<'_, Vec<std::result::Result<Vec<StatementOutput>, Error>>> {
        Box::pin(async move {
            let limit = self.max_concurrency.max(1);
            // The single reads (a fan-out's) go in one JavaScript call; the other batches
            // (e.g. the schema guard beside a read) each as a batch(), beside it, within
            // the same limit.
            let (mut reads, mut others) = (Vec::new(), Vec::new());
            for (i, b) in batches.iter().enumerate() {
                match self.single_read(b) {
                    Some(Ok(read)) => reads.push((i, read)),
                    _ => others.push((i, b)),
                }
            }
            let mixed = !reads.is_empty() && !others.is_empty();
            if mixed && limit < 2 {
                // One call at a time: each batch on its own (a read still through readAll).
                others = batches.iter().enumerate().collect();
                reads.clear();
            }
            // Calls at once: the batches' share, and the rest for the reads.
            let others_limit = if mixed && !reads.is_empty() {
                others.len().clamp(1, limit - 1)
            } else {
                limit
            };
            let reads_limit = limit - others_limit.min(others.len());
            let read_batch: Vec<Read<'_>> = reads.iter().map(|&(_, r)| r).collect();
            let reading = async {
                if read_batch.is_empty() {
                    return Vec::new();
                }
                self.run_reads(&read_batch, reads_limit).await
            };
            let running = futures::stream::iter(others.iter())
                .map(|&(i, b)| async move { (i, self.run_one(b).await) })
                .buffer_unordered(others_limit)
                .collect::<Vec<_>>();
            let (read, ran) = futures::future::join(reading, running).await;
            let mut done: Vec<(usize, Result<Vec<StatementOutput>>)> = ran;
            done.extend(reads.iter().map(|&(i, _)| i).zip(read));
            done.sort_by_key(|(i, _)| *i);
            done.into_iter().map(|(_, r)| r).collect()
        })
    }
}

thread_local! {
    /// The JavaScript strings of recent statement texts, by the plan's shared text: a
    /// cached plan sends the same `Arc<str>` on every call, and each conversion copies and
    /// decodes the whole text. The `Arc` is kept here, so its address is not reused while
    /// it is a key.
    static TEXTS: RefCell<VecDeque<(Arc<str>, JsString)>> = const { RefCell::new(VecDeque::new()) };
}

/// Statement texts kept as JavaScript strings.
const TEXTS_KEPT: usize = 64;
/// Longer texts (large multi-row INSERTs) are converted on each call.
const TEXT_KEPT_MAX: usize = 16 * 1024;

/// `sql` as a JavaScript string, converted once while it stays among the recent texts.
fn js_text(sql: &Arc<str>) -> JsString {
    if sql.len() > TEXT_KEPT_MAX {
        return JsString::from(&**sql);
    }
    TEXTS.with(|texts| {
        let mut texts = texts.borrow_mut();
        let found = texts.iter().position(|(k, _)| Arc::ptr_eq(k, sql));
        if let Some(hit) = found.and_then(|i| texts.remove(i)) {
            // Kept at the back, away from the oldest: a hot text stays however many others
            // pass through once.
            let js = hit.1.clone();
            texts.push_back(hit);
            return js;
        }
        let js = JsString::from(&**sql);
        if texts.len() >= TEXTS_KEPT {
            texts.pop_front();
        }
        texts.push_back((sql.clone(), js.clone()));
        js
    })
}

/// A `raw({ columnNames: true })` answer read value by value (each value is a call
/// across the boundary): for the answers `readAll` cannot put in its buffer.
fn read_raw(raw: &Array) -> std::result::Result<(Vec<String>, Vec<Vec<Value>>), JsValue> {
    let columns = raw
        .get(0)
        .dyn_into::<Array>()
        .map(|a| column_names(&a))
        .unwrap_or_default();
    let rows = raw
        .iter()
        .skip(1)
        .map(|r| {
            r.dyn_into::<Array>()
                .map(|a| a.iter().map(|v| from_js(&v)).collect())
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok((columns, rows))
}

#[wasm_bindgen(module = "/src/backend/d1.js")]
extern "C" {
    #[wasm_bindgen(js_name = readAll)]
    fn read_all(dbs: &Array, texts: &Array, params: &Array, limit: u32) -> js_sys::Promise;

    #[wasm_bindgen(js_name = batchWire)]
    fn batch_wire(db: &D1Like, texts: &Array, params: &Array) -> js_sys::Promise;

    #[wasm_bindgen(js_name = namesJoined)]
    fn names_joined(names: &Array) -> String;
}

/// The column names of a `raw({ columnNames: true })` answer, read in one crossing: joined
/// with NUL, which no SQLite column name holds (names are C strings).
fn column_names(names: &Array) -> Vec<String> {
    match names.length() {
        0 => Vec::new(),
        1 => vec![names.get(0).as_string().unwrap_or_default()],
        _ => names_joined(names)
            .split('\0')
            .map(str::to_string)
            .collect(),
    }
}

/// Values as D1 binds them, in an array.
fn js_values(params: &[Value]) -> std::result::Result<Array, JsValue> {
    let values = Array::new_with_length(params.len() as u32);
    for (i, v) in params.iter().enumerate() {
        values.set(i as u32, to_js(v)?);
    }
    Ok(values)
}

/// `batchWire`'s answer, `[bytes, metas, results]`, as statement outputs: each result from
/// the buffer, or value by value ([`output`]) where the buffer could not hold it.
fn outputs(
    answer: &Array,
) -> std::result::Result<Vec<std::result::Result<StatementOutput, JsValue>>, JsValue> {
    let results: Array = answer.get(2).dyn_into()?;
    let n = results.length() as usize;
    let bytes = answer.get(0).dyn_into::<Uint8Array>().map(|b| b.to_vec());
    let metas = answer
        .get(1)
        .dyn_into::<js_sys::Float64Array>()
        .map(|m| m.to_vec());
    let entries = bytes.ok().and_then(|b| wire::read_entries(&b, n));
    let (Some(entries), Ok(metas)) = (entries, metas) else {
        return Ok(results.iter().map(|r| output(&r)).collect());
    };
    Ok(entries
        .into_iter()
        .zip(metas.chunks_exact(7))
        .enumerate()
        .map(|(k, (entry, m))| match entry {
            wire::Entry::Answer { columns, rows, .. } => {
                batch_names_ok(&columns)?;
                Ok(StatementOutput {
                    columns: columns.into(),
                    rows,
                    meta: ShardMeta {
                        changes: m[0] as u64,
                        last_row_id: m[1] as i64,
                        rows_read: m[2] as u64,
                        rows_written: m[3] as u64,
                        changed_db: m[4] == 1.0,
                        size_after: m[5] as u64,
                        duration: m[6],
                    },
                })
            }
            _ => output(&results.get(k as u32)),
        })
        .collect())
}

/// Batch rows are objects, and JavaScript lists integer-like keys first, in numeric order,
/// not in the statement's column order: such a column is refused.
fn batch_names_ok(columns: &[String]) -> std::result::Result<(), JsValue> {
    match columns.iter().find(|c| lex::is_array_index(c)) {
        Some(c) => Err(js_sys::Error::new(&format!(
            "{}: a column named {c:?} in a batch: D1 returns batch rows as objects, which reorder integer-like names. Remedy: alias the column (AS name), or run the statement outside batch()",
            ErrorCode::Unsupported
        ))
        .into()),
        None => Ok(()),
    }
}

/// One D1 result object (`{ results, meta }`) as a statement output. Column names come
/// from the first row's keys, as D1 gives them.
fn output(result: &JsValue) -> std::result::Result<StatementOutput, JsValue> {
    let mut out = StatementOutput::default();
    let rows = Reflect::get(result, &"results".into())?;
    if let Ok(rows) = rows.dyn_into::<Array>() {
        for (i, row) in rows.iter().enumerate() {
            let obj: Object = row.dyn_into()?;
            if i == 0 {
                out.columns = Object::keys(&obj)
                    .iter()
                    .map(|k| k.as_string().unwrap_or_default())
                    .collect();
                batch_names_ok(&out.columns)?;
            }
            let mut values = Vec::with_capacity(out.columns.len());
            for c in out.columns.iter() {
                values.push(from_js(&Reflect::get(&obj, &c.into())?));
            }
            out.rows.push(values);
        }
    }
    let meta = Reflect::get(result, &"meta".into())?;
    if meta.is_object() {
        let num = |k: &str| {
            Reflect::get(&meta, &k.into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0)
        };
        out.meta = ShardMeta {
            changes: num("changes") as u64,
            last_row_id: num("last_row_id") as i64,
            rows_read: num("rows_read") as u64,
            rows_written: num("rows_written") as u64,
            changed_db: Reflect::get(&meta, &"changed_db".into())
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            size_after: num("size_after") as u64,
            duration: num("duration"),
        };
    }
    Ok(out)
}

/// A value as D1 binds it from JavaScript.
pub fn to_js(v: &Value) -> std::result::Result<JsValue, JsValue> {
    Ok(match v {
        Value::Null => JsValue::NULL,
        Value::Integer(i) if i.unsigned_abs() <= MAX_SAFE_INTEGER as u64 => {
            JsValue::from(*i as f64)
        }
        Value::Integer(i) => {
            return Err(js_sys::Error::new(&format!(
            "{}: the integer {i} is beyond 2^53 and cannot be bound through D1's JavaScript API",
            ErrorCode::TypeError
        ))
            .into())
        }
        Value::Real(r) => JsValue::from(*r),
        Value::Text(t) => JsValue::from_str(t),
        Value::Blob(b) => Uint8Array::from(b.as_slice()).into(),
    })
}

/// A value D1 returned. D1 answers in JSON, so an integral number is read as an INTEGER
/// (SQLite compares 2 and 2.0 as equal, so merging is not affected); a blob arrives as an
/// array of bytes.
pub fn from_js(v: &JsValue) -> Value {
    // Numbers and strings first: most values are one of them, and each test is a call
    // into JavaScript.
    if let Some(n) = v.as_f64() {
        number(n)
    } else if let Some(s) = v.as_string() {
        Value::Text(s)
    } else if v.is_null() || v.is_undefined() {
        Value::Null
    } else if let Some(b) = v.as_bool() {
        Value::Integer(b as i64)
    } else if let Some(a) = v.dyn_ref::<Array>() {
        Value::Blob(a.iter().map(|x| x.as_f64().unwrap_or(0.0) as u8).collect())
    } else if let Some(a) = v.dyn_ref::<Uint8Array>() {
        Value::Blob(a.to_vec())
    } else if let Some(a) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        Value::Blob(Uint8Array::new(a).to_vec())
    } else {
        Value::Text(String::from(js_sys::JSON::stringify(v).unwrap_or_default()))
    }
}

/// The text of a thrown JavaScript error, without D1's `D1_ERROR: ` prefix (d1plus puts
/// it back when it reports the error).
pub fn js_error_message(e: &JsValue) -> String {
    let text = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    text.strip_prefix("D1_ERROR: ")
        .map(str::to_string)
        .unwrap_or(text)
}
