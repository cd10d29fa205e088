// d1plus's own work per statement in the JS/wasm wrapper, without D1 and without workerd:
// plain Node, js/d1plus.js over D1-like bindings backed by sql.js (SQLite in wasm) in this
// process. The same data and operations as e2e/bench/worker.js (which run.mjs times in
// miniflare, where workerd's dispatch and D1's I/O dwarf d1plus): a raw binding holding
// every row, and d1plus over four shards holding the same rows.
//
//   node e2e/bench/own-work.mjs      (or: cd e2e && node bench/own-work.mjs; needs js/pkg
//                                     and e2e's npm packages; OWN_WORK_ROUNDS=2000)
//
// Every mock D1 call (prepare, bind, raw, all, first, run, batch, exec) times itself, so a
// d1plus operation's time splits into the mock's (SQLite plus D1-like result building, what
// D1 would spend) and d1plus's own (JS wrapper, wasm engine, promise hops).
import { register } from "node:module";
import { performance } from "node:perf_hooks";
import assert from "node:assert/strict";

register("./wasm-hooks.mjs", import.meta.url);

const { D1Database, engineCall } = await import("../../js/d1plus.js");
const { Engine, CallKind, Schema } = await import("../../js/pkg/d1plus_js.js");
const initSqlJs = (await import("sql.js")).default;

const ROWS = 2000;
const ROUNDS = Number(process.env.OWN_WORK_ROUNDS ?? 2000);
const BATCH_ROUNDS = Math.max(1, Math.floor(ROUNDS / 4));
const WARMUP = Math.max(100, Math.floor(ROUNDS / 2));

// ---------------------------------------------------------------------------------------
// A D1-like binding over one sql.js database.
// ---------------------------------------------------------------------------------------

const stats = { prepare: 0, bind: 0, raw: 0, stmt: 0, batch: 0, exec: 0, mockMs: 0 };
const resetStats = () => Object.assign(stats, { prepare: 0, bind: 0, raw: 0, stmt: 0, batch: 0, exec: 0, mockMs: 0 });
const snap = () => ({ ...stats });

const SQL = await initSqlJs();
// With OWN_WORK_SHOW_SQL=1: the statements each d1plus operation sends, printed once.
let sentSql = null;

// D1's binding rules: numbers, strings, null, booleans as 1/0, blobs from ArrayBuffers,
// typed arrays and arrays of bytes. Integers past 32 bits go as BigInt (sql.js would bind
// them as doubles).
function sqlValue(v) {
  if (typeof v === "number") return Number.isInteger(v) && (v | 0) !== v && Number.isSafeInteger(v) ? BigInt(v) : v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (Array.isArray(v)) return Uint8Array.from(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

// D1 answers blobs as arrays of bytes.
const cell = (v) => (v instanceof Uint8Array ? Array.from(v) : v);

function d1Error(e) {
  const text = e instanceof Error ? e.message : String(e);
  return new Error(`D1_ERROR: ${text}: SQLITE_ERROR`, { cause: new Error(text) });
}

class MockStatement {
  constructor(db, sql, params = []) {
    this.db = db;
    this.sql = sql;
    this.params = params;
  }
  bind(...values) {
    const t = performance.now();
    stats.bind++;
    const s = new MockStatement(this.db, this.sql, values.map(sqlValue));
    stats.mockMs += performance.now() - t;
    return s;
  }
  async raw(options) {
    const t = performance.now();
    stats.raw++;
    try {
      const { columns, rows } = this.db._run(this.sql, this.params);
      return options?.columnNames ? [columns, ...rows] : rows;
    } finally {
      stats.mockMs += performance.now() - t;
    }
  }
  async all() {
    const t = performance.now();
    stats.stmt++;
    try {
      return this.db._result(this.sql, this.params);
    } finally {
      stats.mockMs += performance.now() - t;
    }
  }
  run() {
    return this.all();
  }
  async first(col) {
    const row = (await this.all()).results[0];
    if (col === undefined) return row ?? null;
    if (row && !(col in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${col})`);
    return row?.[col] ?? null;
  }
}

class MockD1 {
  constructor(name) {
    this.name = name;
    this.db = new SQL.Database();
    this.cache = new Map();
    this.changes = 0;
    this.lastRowId = 0;
    this.db.updateHook((op, _db, _table, rowid) => {
      this.changes++;
      if (op === "insert") this.lastRowId = Number(rowid);
    });
  }

  // One statement: its column names and rows (arrays), as SQLite produced them.
  _run(sql, params) {
    let stmt = this.cache.get(sql);
    if (!stmt) {
      try {
        stmt = this.db.prepare(sql);
      } catch (e) {
        throw d1Error(e);
      }
      this.cache.set(sql, stmt);
    }
    try {
      stmt.bind(params);
      const rows = [];
      while (stmt.step()) rows.push(stmt.get().map(cell));
      return { columns: stmt.getColumnNames(), rows };
    } catch (e) {
      throw d1Error(e);
    } finally {
      stmt.reset();
    }
  }

  // One statement as D1's all()/run() and each batch() entry answer it.
  _result(sql, params) {
    const started = performance.now();
    const before = this.changes;
    const { columns, rows } = this._run(sql, params);
    const changes = this.changes - before;
    return {
      results: rows.map((row) => Object.fromEntries(row.map((v, i) => [columns[i], v]))),
      success: true,
      meta: {
        changes,
        last_row_id: this.lastRowId,
        rows_read: rows.length,
        rows_written: changes,
        changed_db: changes > 0,
        size_after: 0,
        duration: performance.now() - started,
      },
    };
  }

  prepare(sql) {
    const t = performance.now();
    stats.prepare++;
    if (sentSql) sentSql.push(`${this.name}: ${sql}`);
    const s = new MockStatement(this, sql);
    stats.mockMs += performance.now() - t;
    return s;
  }

  async batch(statements) {
    const t = performance.now();
    stats.batch++;
    try {
      // Memoized answers (memoizedTable) are reads that need no transaction.
      if (this.memoized) return statements.map((s) => this._result(s.sql, s.params));
      this.db.exec("BEGIN");
      try {
        const out = statements.map((s) => this._result(s.sql, s.params));
        this.db.exec("COMMIT");
        return out;
      } catch (e) {
        this.db.exec("ROLLBACK");
        throw e;
      }
    } finally {
      stats.mockMs += performance.now() - t;
    }
  }

  async exec(sql) {
    const t = performance.now();
    stats.exec++;
    try {
      const count = sql.split("\n").filter((l) => l.trim() !== "").length;
      try {
        this.db.exec(sql);
      } catch (e) {
        throw d1Error(e);
      }
      return { count, duration: performance.now() - t };
    } finally {
      stats.mockMs += performance.now() - t;
    }
  }

  withSession() {
    return this;
  }

  getBookmark() {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// The data and operations of e2e/bench/worker.js.
// ---------------------------------------------------------------------------------------

const POLICY = JSON.stringify({
  name: "bench",
  capacity: { mode: "manual", targetShardCount: 4 },
  sharding: { tables: [{ name: "events", keyColumn: "tenantId" }] },
});

const env = { RAW: new MockD1("RAW") };
for (let i = 0; i < 4; i++) env[`SHARD_${i}`] = new MockD1(`SHARD_${i}`);

let batchSeq = 0;
const ops = {
  point: (db) => db.prepare("SELECT id, amount FROM events WHERE tenantId = ? AND id = ?").bind("t7", 7).all(),
  count: (db) => db.prepare("SELECT count(*) AS n, sum(amount) AS s FROM events").all(),
  top: (db) => db.prepare("SELECT tenantId, id, amount FROM events ORDER BY amount DESC, id LIMIT 10").all(),
  batch: async (db) => {
    const i = batchSeq++;
    const stmts = [];
    for (let k = 0; k < 10; k++) {
      stmts.push(db.prepare("INSERT INTO events VALUES (?, ?, ?)").bind(`w${k}`, 1_000_000 + i * 10 + k, k));
    }
    return db.batch(stmts);
  },
};
const STATEMENTS = { point: 1, count: 1, top: 1, batch: 10 };

async function setup() {
  const create = "CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, amount INTEGER, PRIMARY KEY (tenantId, id))";
  await env.RAW.exec(create);
  const d1plus = D1Database.fromEnv(env, POLICY, "SHARD_", { queryBudget: null });
  await d1plus.exec(create);
  for (let start = 0; start < ROWS; start += 30) {
    const values = [];
    const params = [];
    for (let id = start; id < Math.min(ROWS, start + 30); id++) {
      values.push("(?, ?, ?)");
      params.push(`t${id % 97}`, id, (id * 7919) % 1000);
    }
    const sql = `INSERT INTO events VALUES ${values.join(", ")}`;
    await env.RAW.prepare(sql).bind(...params).run();
    await d1plus.prepare(sql).bind(...params).run();
  }
}

let kept;
const sides = {
  raw: () => env.RAW,
  kept: () => (kept ??= D1Database.fromEnv(env, POLICY, "SHARD_", { queryBudget: null })),
  fresh: () => D1Database.fromEnv(env, POLICY),
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sortRows = (rows) => [...rows].map((r) => JSON.stringify(r)).sort();
const rowsOf = (r) => (Array.isArray(r) ? r.map((x) => x.results ?? []) : r.results);

// `rounds` operations on one side, after a warm-up: per-operation samples of the total and
// of the mock's share, in microseconds, and the mock calls one operation makes.
async function time(side, op, rounds) {
  for (let i = 0; i < WARMUP; i++) await ops[op](sides[side]());
  const total = new Float64Array(rounds);
  const mock = new Float64Array(rounds);
  resetStats();
  for (let i = 0; i < rounds; i++) {
    const m0 = stats.mockMs;
    const t = performance.now();
    await ops[op](sides[side]());
    total[i] = (performance.now() - t) * 1000;
    mock[i] = (stats.mockMs - m0) * 1000;
  }
  const own = total.map((t, i) => t - mock[i]);
  const calls = {};
  for (const k of ["prepare", "bind", "raw", "stmt", "batch"]) calls[k] = stats[k] / rounds;
  return { total: median(total), mock: median(mock), own: median(own), meanOwn: mean(own), calls };
}

function callsText(c) {
  const round = (x) => (Number.isInteger(x) ? x : x.toFixed(2));
  const trips = c.raw + c.stmt + c.batch;
  const parts = [];
  if (c.raw) parts.push(`${round(c.raw)} raw`);
  if (c.stmt) parts.push(`${round(c.stmt)} all`);
  if (c.batch) parts.push(`${round(c.batch)} batch`);
  return `${round(trips)} (${parts.join(" + ")}; ${round(c.prepare)} prepare)`;
}

async function main() {
  await setup();

  for (const op of ["point", "count", "top"]) {
    const raw = rowsOf(await ops[op](sides.raw()));
    for (const side of ["kept", "fresh"]) {
      const via = rowsOf(await ops[op](sides[side]()));
      assert.deepEqual(sortRows(via), sortRows(raw), `${op} (${side}): d1plus and the raw binding differ`);
    }
    assert.ok(raw.length > 0, `${op}: no rows`);
  }
  if (process.env.OWN_WORK_SHOW_SQL) {
    for (const op of ["point", "count", "top", "batch"]) {
      for (const side of ["kept", "fresh"]) {
        sentSql = [];
        await ops[op](sides[side]());
        console.log(`${op} (${side}):\n  ${sentSql.join("\n  ")}`);
        sentSql = null;
      }
    }
  }

  const lines = [];
  const fmt = (x) => x.toFixed(1);
  // The reads, then the split of their own work (on the same rows), then the batches
  // (which add rows).
  let split;
  for (const op of ["point", "count", "top", "batch"]) {
    if (op === "batch") split = await breakdown();
    const rounds = op === "batch" ? BATCH_ROUNDS : ROUNDS;
    const raw = await time("raw", op, rounds);
    for (const side of ["kept", "fresh"]) {
      const d = await time(side, op, rounds);
      const n = STATEMENTS[op];
      const name = `${op === "batch" ? "batch of 10 INSERTs" : op}, ${side === "kept" ? "one handle" : "new D1Database per request"}`;
      lines.push(
        `| ${name} | ${fmt(raw.total)} | ${fmt(d.total)} | ${fmt(d.mock)} | ${fmt(d.own)} (mean ${fmt(d.meanOwn)}) | ${fmt(d.own / n)} | ${callsText(d.calls)} |`,
      );
    }
  }

  console.log(`node ${process.version}, sql.js mock D1, ${ROWS} rows, ${ROUNDS} rounds per read case (${BATCH_ROUNDS} per batch case), ${WARMUP} warm-up; medians in us per operation`);
  console.log("| case | raw mock | d1plus | mock SQLite inside d1plus's calls | d1plus own work | own work per statement | D1 calls per operation |");
  console.log("|---|---|---|---|---|---|---|");
  for (const l of lines) console.log(l);
  split();
  await memoizedTable();
}

// The reads again with every mock answer memoized (each statement's rows computed once,
// then copied): the mock's SQLite work (1.5 ms per count) no longer runs between d1plus's
// steps, leaving its garbage and cold caches to d1plus's share. In a Worker, D1 runs
// elsewhere, so this is the closer measure of d1plus's own work in its isolate.
async function memoizedTable(only = null) {
  const originals = new Map();
  for (const d of Object.values(env)) {
    const run = d._run.bind(d);
    originals.set(d, d._run);
    d.memoized = true;
    const bySql = new Map();
    d._run = (sql, params) => {
      let answers = bySql.get(sql);
      if (!answers) bySql.set(sql, (answers = new Map()));
      const key = params.length ? JSON.stringify(params, (_, v) => (typeof v === "bigint" ? `${v}n` : v)) : "";
      let a = answers.get(key);
      if (!a) answers.set(key, (a = run(sql, params)));
      return { columns: a.columns, rows: a.rows.map((r) => [...r]) };
    };
  }
  const lines = [];
  try {
    if (only) {
      const d = await time(only.side, only.op, ROUNDS);
      console.log(`${only.op}, ${only.side}, memoized mock: own work ${d.own.toFixed(1)} us (median of ${ROUNDS}), mean ${d.meanOwn.toFixed(1)}`);
      return;
    }
    for (const op of ["point", "count", "top"]) {
      const raw = await time("raw", op, ROUNDS);
      for (const side of ["kept", "fresh"]) {
        const d = await time(side, op, ROUNDS);
        lines.push(`| ${op}, ${side === "kept" ? "one handle" : "new D1Database per request"} | ${raw.total.toFixed(1)} | ${d.total.toFixed(1)} | ${d.mock.toFixed(1)} | **${d.own.toFixed(1)}** (mean ${d.meanOwn.toFixed(1)}) |`);
      }
    }
  } finally {
    for (const [d, run] of originals) {
      d._run = run;
      d.memoized = false;
    }
  }
  console.log();
  console.log(`The reads with the mock's answers memoized (medians over ${ROUNDS} operations, us per operation):`);
  console.log("| case | raw mock | d1plus | mock inside d1plus's calls | d1plus own work |");
  console.log("|---|---|---|---|---|");
  for (const l of lines) console.log(l);
}

// Where the own work of a kept handle's read goes: the engine's call (engineCall, from
// Engine.start to the Engine.resume that answers, mock time taken out: plan, routing, the
// shard calls and their answers read back into Rust, merge, the JSON envelope, and the
// awaits between) and the JS wrapper around it (the rest: JSON.stringify of the request,
// JSON.parse of the envelope, rows to objects, statement objects and promise hops). The
// three JSON/object steps are also timed alone on the same inputs.
async function breakdown() {
  const db = sides.kept();
  const { start, resume } = Engine.prototype;
  let lastText = "";
  let engineUs = 0;
  let engineMockUs = 0;
  const begun = new Map();
  const ended = (task, step) => {
    if (typeof step === "string") {
      const [t, m0] = begun.get(task);
      begun.delete(task);
      engineUs += (performance.now() - t) * 1000;
      engineMockUs += (stats.mockMs - m0) * 1000;
      lastText = step;
    }
    return step;
  };
  Engine.prototype.start = function (task, ...args) {
    begun.set(task, [performance.now(), stats.mockMs]);
    return ended(task, start.call(this, task, ...args));
  };
  Engine.prototype.resume = function (task, ...args) {
    return ended(task, resume.call(this, task, ...args));
  };
  const us = (fn, n = 20000) => {
    for (let i = 0; i < 2000; i++) fn();
    const t = performance.now();
    for (let i = 0; i < n; i++) fn();
    return ((performance.now() - t) * 1000) / n;
  };
  const lines = [];
  try {
    for (const op of ["point", "count", "top"]) {
      for (let i = 0; i < WARMUP; i++) await ops[op](db);
      const ownS = new Float64Array(ROUNDS);
      const engineS = new Float64Array(ROUNDS);
      for (let i = 0; i < ROUNDS; i++) {
        engineUs = engineMockUs = 0;
        const m0 = stats.mockMs;
        const t = performance.now();
        await ops[op](db);
        ownS[i] = (performance.now() - t - (stats.mockMs - m0)) * 1000;
        engineS[i] = engineUs - engineMockUs;
      }
      const own = median(ownS);
      const engine = median(engineS);
      const wrapper = median(ownS.map((o, i) => o - engineS[i]));
      const sql = {
        point: "SELECT id, amount FROM events WHERE tenantId = ? AND id = ?",
        count: "SELECT count(*) AS n, sum(amount) AS s FROM events",
        top: "SELECT tenantId, id, amount FROM events ORDER BY amount DESC, id LIMIT 10",
      }[op];
      const stmt = op === "point" ? db.prepare(sql).bind("t7", 7) : db.prepare(sql);
      const text = lastText;
      const stringify = us(() => JSON.stringify(stmt));
      const parse = us(() => JSON.parse(text));
      const ok = JSON.parse(text).ok;
      const objects = us(() => ok.rows.map((row) => Object.fromEntries(row.map((c, i) => [ok.columns[i], c]))));
      lines.push(
        `| ${op} | ${own.toFixed(1)} | ${engine.toFixed(1)} | ${wrapper.toFixed(1)} | ${stringify.toFixed(2)} | ${parse.toFixed(2)} (${text.length} chars) | ${objects.toFixed(2)} |`,
      );
    }
  } finally {
    Object.assign(Engine.prototype, { start, resume });
  }
  // The engine alone, no shard call: the point read's cached plan rendered as explain() does.
  const engine = new Engine(POLICY);
  const shards = [0, 1, 2, 3].map((i) => env[`SHARD_${i}`]);
  const budget = { limit: null, used: 0, checked: true };
  const req = JSON.stringify({ sql: "SELECT id, amount FROM events WHERE tenantId = ? AND id = ?", params: ["t7", 7], shard: null });
  await engineCall(engine, shards, CallKind.Explain, req, budget, Schema.Revalidate);
  for (let i = 0; i < WARMUP; i++) await engineCall(engine, shards, CallKind.Explain, req, budget, Schema.Cached);
  resetStats();
  const t = performance.now();
  for (let i = 0; i < ROUNDS; i++) await engineCall(engine, shards, CallKind.Explain, req, budget, Schema.Cached);
  const explainUs = ((performance.now() - t) * 1000) / ROUNDS;
  // A promise that settles at once, awaited: the floor of one await in the wrapper.
  const t2 = performance.now();
  for (let i = 0; i < ROUNDS * 10; i++) await Promise.resolve(i);
  const awaitUs = ((performance.now() - t2) * 1000) / (ROUNDS * 10);

  const explainCalls = stats.raw + stats.batch + stats.stmt;
  return () => {
    console.log();
    console.log(`Own work of a kept handle, split (medians over ${ROUNDS} operations, us per operation):`);
    console.log("| case | own work | engine call (mock time out) | JS wrapper (rest) | of which JSON.stringify request | JSON.parse envelope | rows to objects |");
    console.log("|---|---|---|---|---|---|---|");
    for (const l of lines) console.log(l);
    console.log(`engineCall(Explain) of the point read, cached plan, no shard call (${explainCalls} mock calls): ${explainUs.toFixed(1)} us; one await of a settled promise: ${awaitUs.toFixed(2)} us`);
  };
}

// OWN_WORK_ONLY=op:side (e.g. `count:fresh`): only that read, mock answers memoized, for a
// profile of one case (`node --cpu-prof bench/own-work.mjs`).
if (process.env.OWN_WORK_ONLY) {
  const [op, side] = process.env.OWN_WORK_ONLY.split(":");
  if (!["point", "count", "top"].includes(op) || !["kept", "fresh"].includes(side)) {
    throw new Error("OWN_WORK_ONLY is op:side, op one of point, count, top and side kept or fresh");
  }
  await setup();
  await memoizedTable({ op, side });
} else {
  await main();
}
