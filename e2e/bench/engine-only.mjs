// d1plus's own work per read with nothing else in the loop: js/d1plus.js over four D1-like
// bindings that answer at once from memoized answers (computed once by sql.js over the same
// 2,000 rows as own-work.mjs), so every microsecond timed is d1plus's (JS wrapper, wasm
// engine, promise hops) plus a few array copies. own-work.mjs subtracts a timed mock
// instead, whose own garbage and cache misses land in d1plus's share; this is the floor.
//
//   cd e2e && node bench/engine-only.mjs          (needs js/pkg and e2e's npm packages)
//   ENGINE_ONLY=count:fresh ENGINE_ONLY_N=100000 node --cpu-prof bench/engine-only.mjs
//
// Prints, three times over, the mean per operation of N operations (after 2,000 warm-up)
// for each read (point, count/sum, top-10) on a kept handle and on a new D1Database each.
import { register } from "node:module";
import { performance } from "node:perf_hooks";
register("./wasm-hooks.mjs", import.meta.url);
const { D1Database } = await import("../../js/d1plus.js");
const POLICY = JSON.stringify({ name: "bench", capacity: { mode: "manual", targetShardCount: 4 }, sharding: { tables: [{ name: "events", keyColumn: "tenantId" }] } });
const DDL = "CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, amount INTEGER, PRIMARY KEY (tenantId, id))";
const initSqlJs = (await import("sql.js")).default;
const SQL = await initSqlJs();
const one = new SQL.Database();
one.exec(DDL);
for (let id = 0; id < 2000; id++) one.run("INSERT INTO events VALUES (?, ?, ?)", [`t${id % 97}`, id, (id * 7919) % 1000]);
const memo = new Map();
function answer(sql, params = []) {
  let bySql = memo.get(sql);
  if (!bySql) memo.set(sql, (bySql = new Map()));
  const key = params.length ? JSON.stringify(params) : "";
  let a = bySql.get(key);
  if (!a) {
    const st = one.prepare(sql);
    st.bind(params);
    const rows = [];
    while (st.step()) rows.push(st.get());
    a = [st.getColumnNames(), ...rows];
    st.free();
    bySql.set(key, a);
  }
  return a;
}
const meta = { changes: 0, last_row_id: 0, rows_read: 1, rows_written: 0, changed_db: false, size_after: 0, duration: 0.1 };
class Stmt {
  constructor(sql, params = []) { this.sql = sql; this.params = params; }
  bind(...v) { return new Stmt(this.sql, v); }
  async raw() { const a = answer(this.sql, this.params); return a.map((r) => [...r]); }
}
function objects(raw) { const [cols, ...rows] = raw; return rows.map((r) => Object.fromEntries(r.map((v, i) => [cols[i], v]))); }
const shard = {
  prepare(sql) { return new Stmt(sql); },
  async batch(stmts) { return stmts.map((s) => ({ results: objects(answer(s.sql, s.params)), success: true, meta })); },
};
const env = {};
for (let i = 0; i < 4; i++) env[`SHARD_${i}`] = shard;
const ops = {
  point: (db) => db.prepare("SELECT id, amount FROM events WHERE tenantId = ? AND id = ?").bind("t7", 7).all(),
  count: (db) => db.prepare("SELECT count(*) AS n, sum(amount) AS s FROM events").all(),
  top: (db) => db.prepare("SELECT tenantId, id, amount FROM events ORDER BY amount DESC, id LIMIT 10").all(),
};
const kept = D1Database.fromEnv(env, POLICY, "SHARD_", { queryBudget: null });
const only = process.env.ENGINE_ONLY;
const N = Number(process.env.ENGINE_ONLY_N ?? 50000);
for (let r = 0; r < 3; r++) {
  for (const op of Object.keys(ops)) {
    for (const side of ["kept", "fresh"]) {
      if (only && only !== `${op}:${side}`) continue;
      const f = ops[op];
      const get = side === "kept" ? () => kept : () => D1Database.fromEnv(env, POLICY);
      for (let i = 0; i < 2000; i++) await f(get());
      const t = performance.now();
      for (let i = 0; i < N; i++) await f(get());
      console.log(`${op}, ${side === "kept" ? "kept handle" : "new D1Database"}: ${(((performance.now() - t) * 1000) / N).toFixed(2)} us`);
    }
  }
}
