// The split in a Worker on local D1 (miniflare): rows/s of `splitStep` doubling 2 -> 4
// shards (POST /admin/split until done) against the physical limit of the same platform
// (reading every row of both old shards and inserting them into fresh D1 databases,
// directly through the bindings, in batches of the same size), and the write pause: the
// duration of the step that ran the cutover (pause to commit, an upper bound).
//
//   node e2e/bench/split.mjs          (needs js/pkg: bash js/build.sh; e2e's npm packages)
import { performance } from "node:perf_hooks";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, start, workerPath } from "../tests/harness.mjs";

const PERSIST = mkdtempSync(join(tmpdir(), "d1plus-split-bench-"));

const ROWS = Number(process.env.BENCH_ROWS ?? 20000);
const ADMIN = "bench-admin-secret-0123456789";
const TOKEN = "bench-secret-0123456789";
const POLICY = JSON.stringify({
  name: "bench",
  capacity: { mode: "manual", targetShardCount: 2 },
  sharding: { tables: [{ name: "events", keyColumn: "tenantId" }] },
});

const mf = await start(
  workerPath("worker/index.js"),
  { D1PLUS_POLICY: POLICY, D1PLUS_TOKEN: TOKEN, D1PLUS_ADMIN_TOKEN: ADMIN },
  ["SHARD_4", "SHARD_5", "COPY_A", "COPY_B"],
  { d1Persist: PERSIST },
);
async function post(path, body, token) {
  const r = await mf.dispatchFetch(`http://bench${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const j = await r.json();
  if (!j.success) throw new Error(JSON.stringify(j));
  return j.result;
}
await post("/query", { sql: "CREATE TABLE events (id INTEGER PRIMARY KEY, tenantId TEXT NOT NULL, n INTEGER, body TEXT)" }, TOKEN);
for (let at = 0; at < ROWS; at += 500) {
  const rows = Array.from({ length: Math.min(500, ROWS - at) }, (_, k) => [at + k + 1, `tenant-${(at + k) % 2000}`, at + k, "x".repeat(60)]);
  const values = rows.map((r) => `(${r[0]}, '${r[1]}', ${r[2]}, '${r[3]}')`).join(", ");
  await post("/query", { sql: `INSERT INTO events (id, tenantId, n, body) VALUES ${values}` }, TOKEN);
}

// The physical limit, inside workerd as the split runs: a Worker of a dozen lines reads the
// two shards' rows and inserts them into two fresh databases, 200 rows per statement as SQL
// literals (the split's own shape), both pairs at once, nothing placed, logged or checked.
const COPIER = `export default { async fetch(request, env) {
  await Promise.all([["SHARD_0", "COPY_A"], ["SHARD_1", "COPY_B"]].map(async ([from, to]) => {
    await env[to].exec("CREATE TABLE events (id INTEGER PRIMARY KEY, tenantId TEXT NOT NULL, n INTEGER, body TEXT)");
    let after = 0;
    for (;;) {
      const { results } = await env[from].prepare("SELECT id, '(' || quote(id) || ', ' || quote(tenantId) || ', ' || quote(n) || ', ' || quote(body) || ')' AS tup FROM events WHERE id > ? ORDER BY id LIMIT 200").bind(after).all();
      if (results.length === 0) break;
      await env[to].prepare("INSERT INTO events VALUES " + results.map((r) => r.tup).join(", ")).run();
      after = results[results.length - 1].id;
    }
  }));
  return new Response("copied");
} };`;
const DATABASES = ["SHARD_0", "SHARD_1", "SHARD_2", "SHARD_3", "SHARD_4", "SHARD_5", "COPY_A", "COPY_B"];
await mf.setOptions({ modules: true, script: COPIER, compatibilityDate: "2026-04-01", d1Databases: DATABASES, d1Persist: PERSIST });
let started = performance.now();
assert.equal(await (await mf.dispatchFetch("http://copy/")).text(), "copied");
const physical = performance.now() - started;
await mf.setOptions({
  modules: true,
  scriptPath: workerPath("worker/index.js"),
  modulesRoot: ROOT,
  modulesRules: [
    { type: "ESModule", include: ["**/*.js"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: "2026-04-01",
  d1Databases: DATABASES,
  d1Persist: PERSIST,
  bindings: { D1PLUS_POLICY: POLICY, D1PLUS_TOKEN: TOKEN, D1PLUS_ADMIN_TOKEN: ADMIN },
  cf: false,
});

started = performance.now();
let steps = 0;
let cutover = 0;
for (;;) {
  const t0 = performance.now();
  const r = await post("/admin/split", { to: 4 }, ADMIN);
  const took = performance.now() - t0;
  steps++;
  if (cutover === 0 && (r.split?.phase === "cleanup" || r.layout.version === 1)) cutover = took;
  if (r.done) break;
}
const split = performance.now() - started;
const [{ c }] = (await post("/query", { sql: "SELECT count(*) AS c FROM events" }, TOKEN))[0].results;
assert.equal(c, ROWS);

const rate = (ms) => Math.round((ROWS / ms) * 1000).toLocaleString("en-US");
console.log(`${ROWS} rows, local D1 (miniflare), this machine`);
console.log(`physical copy through bindings, in a Worker: ${physical.toFixed(0)} ms, ${rate(physical)} rows/s, 1.00x`);
console.log(`splitStep 2 -> 4, ${steps} steps of <= 400 statements: ${split.toFixed(0)} ms, ${rate(split)} rows/s, ${(split / physical).toFixed(2)}x`);
console.log(`the step that ran the cutover (an upper bound of the write pause): ${cutover.toFixed(0)} ms`);
await mf.dispose();
rmSync(PERSIST, { recursive: true, force: true });
