// d1plus for JavaScript Workers: a `D1Database` that is many D1 databases behaving as one.
//
//   import { D1Database } from "d1plus";          // this file (js/d1plus.js)
//   const db = D1Database.fromEnv(env, env.D1PLUS_POLICY);   // instead of env.DB
//   await db.prepare("SELECT * FROM events WHERE tenantId = ?").bind("acme").all();
//
// Statements are plain JavaScript objects with D1's surface and D1's binding rules; the
// wasm engine (js/pkg, built by js/build.sh) parses, routes and merges. One engine per
// policy lives as long as the isolate and keeps the schema catalog and the plan cache; a
// D1Database is cheap, and holds one invocation's query budget, so make one per request.

import { initSync, Engine, CallKind, Schema, schemaSql, schemaTypes } from "./pkg/d1plus_js.js";
import { CODES } from "./codes.js";

export { CODES };
import wasmModule from "./pkg/d1plus_js_bg.wasm";

initSync({ module: wasmModule });

/** Shard queries one invocation may run (Workers paid plan; 50 on the free plan). */
export const DEFAULT_QUERY_BUDGET = 1000;

const MAX_ENGINES = 16;
const engines = new Map();

function policyText(policy) {
  return typeof policy === "string" ? policy : JSON.stringify(policy);
}

// `shardCount`: the count a split's layout names, when it differs from the policy's.
function engineFor(policy, shardCount) {
  const json = policyText(policy);
  const key = shardCount === undefined ? json : `${shardCount}\n${json}`;
  let engine = engines.get(key);
  if (!engine) {
    try {
      engine = new Engine(json, shardCount);
    } catch (e) {
      throw asError(e);
    }
    if (engines.size >= MAX_ENGINES) {
      // Forgotten, not freed: handles made before may still use it.
      engines.delete(engines.keys().next().value);
    }
    engines.set(key, engine);
  }
  return engine;
}

// The layout each (bindings prefix, policy) serves from, as this isolate last found it:
// a split (`splitStep`) moves a database to other bindings, and every shard's layout
// record (`_d1plus_split_layout`) says which. `{ text, names }`; absent: never split.
const layouts = new Map();

// The binding names a layout record's text (a CREATE VIEW with the record as JSON) names.
function layoutNames(text) {
  const json = text.slice(text.indexOf("'") + 1, text.lastIndexOf("'")).replaceAll("''", "'");
  return JSON.parse(json).shards;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// How long a call waits for a split's cutover (its reads wait, they are never refused):
// the attempts and the longest pause between two.
const MOVE_ATTEMPTS = 8;
const MOVE_PAUSE_MS = 200;

function asError(e) {
  return e instanceof Error ? e : new Error(String(e));
}

// Errors as D1 makes them: `new Error("CODE: text", { cause: new Error("text") })`, plus
// the stable `code` (and the failing shard, where one failed).
function coded(code, message, shard) {
  const text = message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message;
  const e = new Error(`${code}: ${text}`, { cause: new Error(text) });
  e.code = code;
  if (shard !== null && shard !== undefined) e.shard = shard;
  return e;
}

function d1Error({ message, code, shard }) {
  return coded(code, message, shard);
}

function proxyError(code, message) {
  return coded(code, message);
}

// D1's binding rules (workerd's d1-api.ts): numbers and strings as they are, booleans as
// 1/0, null, byte arrays, ArrayBuffers and typed arrays as blobs; anything else is refused.
function bindable(v) {
  const type = typeof v;
  if (type === "number" || type === "string") return v;
  if (type === "boolean") return v ? 1 : 0;
  if (type === "object") {
    if (v === null) return v;
    if (Array.isArray(v) && v.every((b) => typeof b === "number" && b >= 0 && b < 256)) return v;
    if (v instanceof ArrayBuffer) return Array.from(new Uint8Array(v));
    // As D1 does: a view's elements (a Uint8Array's bytes).
    if (ArrayBuffer.isView(v)) return Array.from(v);
  }
  throw coded(CODES.TypeError, `Type '${type}' not supported for value '${v}'`);
}

// Rows as D1 gives them to all(): objects keyed by column name, a repeated name keeping
// its last value. Built by assignment, which is Object.fromEntries's result for every name
// Object.prototype does not have (assigning `__proto__` sets the prototype; assigning
// `toString` throws where the built-ins are frozen), so with such a column the rows are
// built by Object.fromEntries.
function toObjects({ columns, rows }) {
  if (columns.some((c) => c in Object.prototype)) {
    return rows.map((row) => Object.fromEntries(row.map((cell, i) => [columns[i], cell])));
  }
  return rows.map((row) => {
    const o = {};
    for (let i = 0; i < row.length; i++) o[columns[i]] = row[i];
    return o;
  });
}

function toResult(answer) {
  return {
    success: true,
    meta: { served_by: "d1plus", ...answer.meta },
    results: toObjects(answer),
  };
}

let lastTask = 0;

/**
 * One call of the engine, driven from here (`src/backend/io.rs`): the engine answers at
 * once, or hands back the promises it waits for (its shard reads and batches), whose
 * outcomes go back to it until it answers. Resolves to the call's JSON envelope (text).
 * Exported for the tests; apps use `D1Database`.
 */
export async function engineCall(engine, shards, kind, request, budget, schema, layout) {
  return driven(engine, (task) => engine.start(task, shards, kind, request, budget, schema, layout));
}

// Starts a call with `start(task)` under a new number, then awaits what it waits for and
// answers it (`Engine.resume`) until it answers: its envelope (text).
async function driven(engine, start) {
  const task = (lastTask = (lastTask + 1) >>> 0);
  let step = start(task);
  while (typeof step !== "string") {
    const values = new Array(step.length);
    let failed;
    if (step.length === 1) {
      try {
        values[0] = await step[0];
      } catch (e) {
        values[0] = e;
        failed = [0];
      }
    } else {
      const settle = (p, i) =>
        p.then(
          (v) => {
            values[i] = v;
          },
          (e) => {
            values[i] = e;
            (failed ??= []).push(i);
          },
        );
      await Promise.all(step.map(settle));
    }
    step = engine.resume(task, values, failed);
  }
  return step;
}

/**
 * Where calls go: the shard bindings (or sessions), and the request's budget
 * `{ limit, used, checked }`, shared by a D1Database and its sessions. The engine draws on
 * the budget before it calls any shard; the first call of a request checks the schema in
 * the same D1 call (the schema guard).
 */
class Runner {
  // `place` (from `D1Database.fromEnv`): `{ env, prefix, policy, key, layout }`, what a
  // runner needs to follow a split to other bindings; without it a moved database's
  // calls fail with D1PLUS_LAYOUT_CHANGED.
  constructor(engine, shards, budget, place = null) {
    this.engine = engine;
    this.shards = shards;
    this.budget = budget;
    this.place = place;
  }

  async call(kind, request) {
    for (let attempt = 1; ; attempt++) {
      const schema = this.budget.checked ? Schema.Cached : Schema.Revalidate;
      this.budget.checked = true;
      const text = await engineCall(this.engine, this.shards, kind, request, this.budget, schema, this.place?.layout);
      const envelope = JSON.parse(text);
      if (!envelope.error) return envelope.ok;
      const { code } = envelope.error;
      const moving = code === CODES.LayoutChanged || code === CODES.SchemaChanged;
      if (!this.place || !moving || attempt >= MOVE_ATTEMPTS) throw d1Error(envelope.error);
      // Nothing ran. A new layout: move to its bindings; the same one (a split between
      // retiring its shards and committing): wait a moment, then the guard looks again.
      if (code === CODES.LayoutChanged) this.move(envelope.layout);
      else await sleep(Math.min(MOVE_PAUSE_MS, 5 * 2 ** attempt));
      this.budget.checked = false;
    }
  }

  move(text) {
    const { env, prefix, policy, key, session } = this.place;
    const names = text ? layoutNames(text) : null;
    const policyCount = engineFor(policy).shardCount();
    const bindings = bindingsOf(env, names ?? defaultNames(policyCount, prefix), policyCount);
    const shards = session ? bindings.map((b) => b.withSession(session)) : bindings;
    this.engine = engineFor(policy, names ? names.length : undefined);
    this.shards = shards;
    this.place.layout = text ?? undefined;
    if (text) layouts.set(key, { text, names });
    else layouts.delete(key);
  }
}

// The binding names `${prefix}0` … of n shards, made once per (n, prefix): a new
// D1Database per request would otherwise build them every time.
const defaultNamesMade = new Map();

function defaultNames(n, prefix) {
  const key = `${n}\n${prefix}`;
  let names = defaultNamesMade.get(key);
  if (!names) {
    names = Object.freeze(Array.from({ length: n }, (_, i) => `${prefix}${i}`));
    if (defaultNamesMade.size < MAX_ENGINES) defaultNamesMade.set(key, names);
  }
  return names;
}

function bindingsOf(env, names, policyCount) {
  return names.map((name) => {
    const binding = env[name];
    if (!binding) {
      throw proxyError(CODES.InvalidBinding, `the policy has ${policyCount} shards but env has no binding ${name}`);
    }
    return binding;
  });
}

export class D1PreparedStatement {
  #runner;
  #shard;

  constructor(runner, statement, params = [], shard = undefined) {
    this.#runner = runner;
    this.statement = statement;
    this.params = params;
    this.#shard = shard;
  }

  /** A new statement with these values bound to `?1`, `?2`, … (D1's type rules). */
  bind(...values) {
    return new D1PreparedStatement(this.#runner, this.statement, values.map(bindable), this.#shard);
  }

  /** The request the engine reads: `{ sql, params, shard }`. */
  toJSON() {
    return { sql: this.statement, params: this.params, shard: this.#shard ?? null };
  }

  /** @internal whether this statement was prepared on the database (or a session of it) `runner` serves. */
  ranBy(runner) {
    return this.#runner.budget === runner.budget;
  }

  async #answer() {
    return this.#runner.call(CallKind.One, JSON.stringify(this));
  }

  async first(colName) {
    const answer = await this.#answer();
    const row = toObjects({ columns: answer.columns, rows: answer.rows.slice(0, 1) })[0];
    if (colName !== undefined) {
      if (row !== undefined && row[colName] === undefined) {
        throw coded(CODES.ColumnNotFound, `Column not found (${colName})`);
      }
      return row?.[colName] ?? null;
    }
    return row ?? null;
  }

  async all() {
    return toResult(await this.#answer());
  }

  /**
   * d1plus: the answer as SQLite gave it, `{ columns, rows, meta }` (column order and
   * repeated names kept, rows as arrays), with `all()`'s meta.
   */
  async answer() {
    const a = await this.#answer();
    return { columns: a.columns, rows: a.rows, meta: toResult(a).meta };
  }

  async run() {
    return toResult(await this.#answer());
  }

  async raw(options) {
    const answer = await this.#answer();
    return options?.columnNames ? [answer.columns, ...answer.rows] : answer.rows;
  }
}

class Queryable {
  #runner;

  constructor(runner) {
    this.#runner = runner;
  }

  get _runner() {
    return this.#runner;
  }

  prepare(query) {
    return new D1PreparedStatement(this.#runner, query);
  }

  /**
   * Runs statements as D1's batch(): each shard's statements run as one atomic D1 batch, and
   * results come back in the caller's order. A batch that spans shards is atomic per shard.
   */
  async batch(statements) {
    return (await this.#batchAnswers(statements)).map(toResult);
  }

  /** d1plus: `batch()` with each answer as `answer()` gives it: `{ columns, rows, meta }`. */
  async batchAnswers(statements) {
    return (await this.#batchAnswers(statements)).map((a) => ({ columns: a.columns, rows: a.rows, meta: toResult(a).meta }));
  }

  async #batchAnswers(statements) {
    for (const s of statements) {
      if (!(s instanceof D1PreparedStatement) || !s.ranBy(this.#runner)) {
        throw proxyError(CODES.InvalidArgument, "batch() takes statements prepared on this database");
      }
    }
    return this.#runner.call(CallKind.Batch, JSON.stringify(statements));
  }

  /**
   * `database.sql({ statement, params, shard })`: one statement, optionally routed by a
   * shard hint (`{ table, key }`, or the key alone when the policy shards one table).
   */
  sql({ statement, params = [], shard } = {}) {
    if (typeof statement !== "string") {
      throw proxyError(CODES.InvalidArgument, "sql() takes { statement, params, shard } with statement a string");
    }
    return new D1PreparedStatement(this.#runner, statement, params.map(bindable), shard);
  }
}

export class D1DatabaseSession extends Queryable {
  constructor(runner) {
    super(runner);
  }

  /**
   * One bookmark carrying every shard's (`d1plus1:` then each shard's, URI-encoded, comma
   * separated), or null before any shard has answered.
   */
  getBookmark() {
    const { engine, shards } = this._runner;
    return engine.composeBookmark(shards.map((s) => s.getBookmark() ?? null)) ?? null;
  }
}

export class D1Database extends Queryable {
  #budget;

  /**
   * @param shards the D1 bindings, shard 0 first (as many as the policy's shard count)
   * @param policy the shard policy (object or JSON text)
   * @param options `{ queryBudget }`: shard queries this handle may run (default 1000;
   *        null for no limit)
   */
  constructor(shards, policy, options = {}, place = null) {
    const engine = engineFor(policy, place?.layout ? shards.length : undefined);
    const n = engine.shardCount();
    if (!Array.isArray(shards) || shards.length !== n) {
      throw proxyError(
        CODES.InvalidBinding,
        `the policy asks for ${n} shards but ${Array.isArray(shards) ? shards.length : "no array of"} D1 bindings were given`,
      );
    }
    shards.forEach((s, i) => {
      if (!s || typeof s.prepare !== "function" || typeof s.batch !== "function") {
        throw proxyError(CODES.InvalidBinding, `shard ${i} is not a D1 binding`);
      }
    });
    const limit = options.queryBudget === undefined ? DEFAULT_QUERY_BUDGET : options.queryBudget;
    if (limit !== null && !(typeof limit === "number" && limit >= 0)) {
      throw proxyError(CODES.InvalidOption, `queryBudget must be a number >= 0 or null, not ${limit}`);
    }
    const budget = { limit: limit === Infinity ? null : limit, used: 0, checked: false };
    super(new Runner(engine, shards, budget, place));
    this.#budget = budget;
  }

  /**
   * A database over the bindings `${prefix}0`, `${prefix}1`, … of `env`; after a split
   * (`splitStep`), over the bindings its layout names, which it follows to the next.
   */
  static fromEnv(env, policy, prefix = "SHARD_", options = {}) {
    const json = policyText(policy);
    const n = engineFor(json).shardCount();
    const key = `${prefix}\n${json}`;
    const known = layouts.get(key);
    const shards = bindingsOf(env, known ? known.names : defaultNames(n, prefix), n);
    return new D1Database(shards, json, options, { env, prefix, policy: json, key, layout: known?.text });
  }

  /** Shard queries this handle has run. */
  get queriesUsed() {
    return this.#budget.used;
  }

  /** Runs a script statement by statement, as D1's exec(): `{ count, duration }`. */
  async exec(query) {
    try {
      const r = await this._runner.call(CallKind.Exec, query);
      return { count: r.count, duration: r.duration };
    } catch (e) {
      // D1 reports a failing exec() as D1_EXEC_ERROR.
      throw e.code === CODES.Backend ? coded(CODES.ExecError, e.message.slice("D1_ERROR: ".length), e.shard) : e;
    }
  }

  /**
   * Applies migrations `[{ name, sql }, …]` (in name order) on every shard: each shard
   * applies a migration and records it in `d1_migrations` in one atomic batch; a failure
   * names the migration and the shard, and calling again resumes every shard. An applied
   * migration whose SQL changed is refused. Resolves to `{ applied, already }`.
   */
  async migrate(migrations) {
    if (!Array.isArray(migrations) || !migrations.every((m) => m && typeof m.name === "string" && typeof m.sql === "string")) {
      throw proxyError(CODES.InvalidArgument, "migrate() takes an array of { name, sql } objects");
    }
    return this._runner.call(CallKind.Migrate, JSON.stringify(migrations.map(({ name, sql }) => ({ name, sql }))));
  }

  /**
   * Compares the shards' schemas and migration records: `{ agree, differences }`, one
   * line per difference (`shard 2: lacks table kinds`).
   */
  async check() {
    const differences = await this._runner.call(CallKind.Check, "");
    return { agree: differences.length === 0, differences };
  }

  /**
   * A session over every shard. `constraintOrBookmark` is `first-unconstrained` (the
   * default), `first-primary`, or a bookmark from `getBookmark()` of an earlier session.
   */
  withSession(constraintOrBookmark) {
    let parts;
    try {
      parts = this._runner.engine.sessionParts(typeof constraintOrBookmark === "string" ? constraintOrBookmark : undefined);
    } catch (e) {
      throw d1Error(e);
    }
    const { engine, place } = this._runner;
    const sessions = this._runner.shards.map((s, i) => s.withSession(parts[i]));
    // A session that follows a split starts over on the new shards with their primaries:
    // its bookmarks were the old shards'.
    const follows = place && { ...place, session: "first-primary" };
    return new D1DatabaseSession(new Runner(engine, sessions, this.#budget, follows));
  }

  /**
   * Realtime (the policy's `realtime.tables`): the committed changes after `cursor` (an
   * event's or an earlier answer's; null: from now) of `tables` (every realtime table when
   * empty), only the rows of shard key `key` when one is given (then only its shard is
   * read). Resolves to `{ events, cursor }`; each event is `{ cursor, table, op, row, old,
   * shard, at }`. A cursor older than the retention rejects with D1PLUS_CURSOR_EXPIRED.
   */
  async changes({ cursor = null, tables = [], key = null, limit } = {}) {
    if (cursor !== null && typeof cursor !== "string") {
      throw proxyError(CODES.InvalidArgument, "changes({ cursor }) takes a cursor string or null");
    }
    if (!Array.isArray(tables) || !tables.every((t) => typeof t === "string")) {
      throw proxyError(CODES.InvalidArgument, "changes({ tables }) takes an array of table names");
    }
    return this._runner.call(CallKind.Changes, JSON.stringify({ cursor, tables, key, limit }));
  }

  /**
   * Where the data is: `{ shards: [{ index, file, rows: { table: n }, bytes }], split, skew,
   * top_keys }`, as `d1plus status --format json` prints it (one D1 call per shard, plus one
   * fan-out per sharded table for its top keys).
   */
  async status() {
    const status = await this._runner.call(CallKind.Status, "");
    // A split in progress (`splitStep`) keeps its state on the pool's first binding.
    const place = this._runner.place;
    const home = place && place.env[`${place.prefix}0`];
    if (home) {
      const row = await home
        .prepare("SELECT state FROM _d1plus_split_state WHERE id = 1")
        .first()
        .catch(() => null);
      if (row?.state) status.split = JSON.parse(row.state);
    }
    return status;
  }

  /**
   * The plan of a statement, as `d1plus explain` prints it: route, reason, each shard's SQL
   * and the merge. Without `params`, the plan of any values (parameters shown as `?N`).
   */
  async explain({ statement, params, shard } = {}) {
    if (typeof statement !== "string") {
      throw proxyError(CODES.InvalidArgument, "explain() takes { statement, params, shard } with statement a string");
    }
    const request = { sql: statement, shard: shard ?? null };
    if (params !== undefined && params !== null) request.params = params.map(bindable);
    return this._runner.call(CallKind.Explain, JSON.stringify(request));
  }

  async dump() {
    throw proxyError(CODES.Unsupported, "dump() of a sharded database; dump each shard's binding");
  }
}

/**
 * One step of an online split (n shards to 2n, repeated up to `to`) of the database that
 * `D1Database.fromEnv(env, policy, prefix)` serves, over the bindings `${prefix}0`,
 * `${prefix}1`, … of `env`: the new shards are the next 2n bindings after the ones
 * serving. Each step sends at most about `maxQueries` statements (default 400) and keeps
 * its progress in the databases, so steps can run one per request or per Durable Object
 * alarm, and a failed one is simply run again. Resolves to `{ layout, split, done, rows,
 * changes, queries, note }`; `done` when the database has `to` shards (or, with `abort`,
 * when the split in progress was undone, which it can be until its cutover commits). With
 * `auto`, the policy's `"auto"` capacity decides: a shard past `splitAtBytes` (by the size
 * D1 reports) or `splitAtRows` doubles the database, up to `maxShardCount`; `note` says why.
 * One step runs at a time: another started meanwhile rejects with D1PLUS_RETRY (a step that
 * died holds the split until its lease ends, `leaseMs`, 5 minutes by default).
 */
export async function splitStep(env, policy, { prefix = "SHARD_", to, abort, auto, maxQueries, chunkRows, leaseMs } = {}) {
  const names = [];
  while (env[`${prefix}${names.length}`]) names.push(`${prefix}${names.length}`);
  const request = { names };
  if (to !== undefined && to !== null) request.to = to;
  if (abort) request.abort = true;
  if (auto) request.auto = true;
  if (maxQueries !== undefined) request.maxQueries = maxQueries;
  if (chunkRows !== undefined) request.chunkRows = chunkRows;
  if (leaseMs !== undefined) request.leaseMs = leaseMs;
  const engine = engineFor(policy);
  const pool = names.map((n) => env[n]);
  const text = await driven(engine, (task) => engine.startSplit(task, pool, JSON.stringify(request)));
  const envelope = JSON.parse(text);
  if (envelope.error) throw d1Error(envelope.error);
  return envelope.ok;
}

// workers-rs accepts a binding only if `constructor.name` is "D1Database"; bundlers may
// rename classes (esbuild does when names collide), so the names are pinned.
for (const [cls, name] of [
  [D1Database, "D1Database"],
  [D1DatabaseSession, "D1DatabaseSession"],
  [D1PreparedStatement, "D1PreparedStatement"],
]) {
  Object.defineProperty(cls, "name", { value: name });
}

// ---------------------------------------------------------------------------------------
// The Layeron-style Database API: db({ name, capacity, sharding, sql, migrations }).
// ---------------------------------------------------------------------------------------

/**
 * Declares one logical database. `sql` is the initial schema (applied once per shard by
 * `migrate()`, recorded as the migration `0000_initial.sql`); `migrations` are `{ name, sql }`
 * in wrangler's order. Bind it to a request's environment with `connect(env)`.
 */
export function db(config) {
  return new LogicalDatabase(config);
}

function declaredSql(schema) {
  try {
    return schemaSql(JSON.stringify(schema));
  } catch (e) {
    throw proxyError(e.code ?? CODES.InvalidArgument, e.message);
  }
}

/** TypeScript row types of a schema declared in code (`{ tables: [...] }`, see README). */
export function rowTypes(schema) {
  try {
    return schemaTypes(JSON.stringify(schema));
  } catch (e) {
    throw proxyError(e.code ?? CODES.InvalidArgument, e.message);
  }
}

export class LogicalDatabase {
  #policy;
  #migrations;
  #prefix;
  #options;

  constructor(config) {
    if (!config || typeof config !== "object") {
      throw proxyError(CODES.InvalidArgument, "db() takes { name, capacity, sharding, sql, migrations }");
    }
    const { name, capacity, sharding, schema, migrations = [], realtime, bindingPrefix = "SHARD_", queryBudget } = config;
    if (schema !== undefined && config.sql !== undefined) {
      throw proxyError(CODES.InvalidArgument, "db() takes the initial schema as sql or as schema, not both");
    }
    const sql = schema === undefined ? config.sql : declaredSql(schema);
    this.#policy = {
      name,
      ...(capacity ? { capacity } : {}),
      ...(sharding ? { sharding } : {}),
      ...(realtime ? { realtime } : {}),
    };
    engineFor(this.#policy); // a bad policy fails here, with its field named
    if (sql !== undefined && typeof sql !== "string") {
      throw proxyError(CODES.InvalidArgument, "db({ sql }) takes the initial schema as one SQL string");
    }
    if (!Array.isArray(migrations) || !migrations.every((m) => m && typeof m.name === "string" && typeof m.sql === "string")) {
      throw proxyError(CODES.InvalidArgument, "db({ migrations }) takes an array of { name, sql }");
    }
    this.#migrations = [...(sql ? [{ name: "0000_initial.sql", sql }] : []), ...migrations];
    this.#prefix = bindingPrefix;
    this.#options = queryBudget === undefined ? {} : { queryBudget };
  }

  /** The policy this database was declared with. */
  get policy() {
    return this.#policy;
  }

  /** The database over `env`'s bindings `SHARD_0`, `SHARD_1`, … (one handle per request). */
  connect(env, options = {}) {
    const d1 = D1Database.fromEnv(env, this.#policy, options.bindingPrefix ?? this.#prefix, { ...this.#options, ...options });
    return new Database(d1, this.#migrations);
  }
}

export class Database {
  #d1;
  #migrations;

  constructor(d1, migrations = []) {
    this.#d1 = d1;
    this.#migrations = migrations;
  }

  /** The D1-compatible binding (for Drizzle, Kysely, Prisma's adapter). */
  get d1() {
    return this.#d1;
  }

  /** `sql({ statement, params, shard })`: a statement to `.all()`, `.first()`, `.run()` or `.raw()`. */
  sql(request) {
    return this.#d1.sql(request);
  }

  /** A statement to bind and run, as D1's `prepare()`. */
  statement(query) {
    return this.#d1.prepare(query);
  }

  prepare(query) {
    return this.#d1.prepare(query);
  }

  exec(script) {
    return this.#d1.exec(script);
  }

  batch(statements) {
    return this.#d1.batch(statements);
  }

  /** Realtime changes after a cursor: see `D1Database.changes`. */
  changes(request) {
    return this.#d1.changes(request);
  }

  /** Applies `sql` and `migrations` on every shard (resumable; edited history is refused). */
  migrate() {
    return this.#d1.migrate(this.#migrations);
  }

  check() {
    return this.#d1.check();
  }

  /**
   * Runs `fn(tx)`; the statements it adds (`tx.sql({...})`, `tx.add(statement)`) then run as
   * one atomic batch, which must stay on one shard (D1PLUS_CROSS_SHARD_TRANSACTION otherwise:
   * D1 has no transaction across databases). Resolves to their results; if `fn` throws,
   * nothing runs.
   */
  async transaction(fn) {
    const tx = new Transaction(this.#d1);
    await fn(tx);
    const statements = tx.close();
    if (statements.length === 0) return [];
    const answers = await this.#d1._runner.call(CallKind.Transaction, JSON.stringify(statements));
    return answers.map(toResult);
  }

  /** The Table API over `name`. */
  table(name) {
    if (typeof name !== "string" || name === "") {
      throw proxyError(CODES.InvalidArgument, "table() takes a table name");
    }
    return new TableApi(this.#d1._runner, name);
  }
}

class Transaction {
  #d1;
  #statements = [];
  #open = true;

  constructor(d1) {
    this.#d1 = d1;
  }

  #push(statement) {
    if (!this.#open) {
      throw proxyError(CODES.InvalidArgument, "the transaction has ended: add its statements inside the callback");
    }
    this.#statements.push(statement);
    return statement;
  }

  /** Adds `sql({ statement, params, shard })` to the transaction. */
  sql(request) {
    return this.#push(this.#d1.sql(request));
  }

  /** Adds a statement prepared (and bound) on this database. */
  add(statement) {
    if (!(statement instanceof D1PreparedStatement) || !statement.ranBy(this.#d1._runner)) {
      throw proxyError(CODES.InvalidArgument, "add() takes a statement prepared on this database");
    }
    return this.#push(statement);
  }

  close() {
    this.#open = false;
    return this.#statements;
  }
}

function bindRow(row) {
  if (!row || typeof row !== "object" || Array.isArray(row)) {
    throw proxyError(CODES.InvalidArgument, "a row is an object of column values");
  }
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, bindable(v)]));
}

/** `database.table(name)`: rows as objects, filters as objects, keyset pages. */
export class TableApi {
  #runner;
  #name;

  constructor(runner, name) {
    this.#runner = runner;
    this.#name = name;
  }

  #call(call) {
    return this.#runner.call(CallKind.Table, JSON.stringify({ table: this.#name, call }));
  }

  /** Inserts a row (resolves to it as stored) or an array of rows (resolves to them). */
  async insert(rowOrRows) {
    const many = Array.isArray(rowOrRows);
    const rows = await this.#call({ op: "insert", rows: (many ? rowOrRows : [rowOrRows]).map(bindRow) });
    return many ? rows : rows[0];
  }

  /** The row with this primary key (a value, or `{ column: value }` for several columns), or null. */
  get(key) {
    return this.#call({ op: "get", key });
  }

  /** Sets `patch`'s columns on the row with this key; resolves to the row, or null. */
  update(key, patch) {
    return this.#call({ op: "update", key, patch: bindRow(patch) });
  }

  /** Deletes the row with this key; resolves to whether there was one. */
  delete(key) {
    return this.#call({ op: "delete", key });
  }

  count(where) {
    return this.#call({ op: "count", where: where ?? null });
  }

  exists(where) {
    return this.#call({ op: "exists", where: where ?? null });
  }

  /** `{ rows, cursor }`: pass `cursor` back for the next page (null after the last). */
  list({ where, orderBy, limit, cursor } = {}) {
    return this.#call({ op: "list", where: where ?? null, orderBy: orderBy ?? null, limit: limit ?? null, cursor: cursor ?? null });
  }
}
