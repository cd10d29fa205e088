// The online split in a Worker (src/reshard, `splitStep`, POST /admin/split): the example
// Worker on local D1 starts on two shards (SHARD_0, SHARD_1) and splits to four fresh
// bindings (SHARD_2 … SHARD_5) in small steps, while two clients write and read through
// it concurrently. Each client owns its tenants and keeps a model of their rows, so every
// answer it gets can be checked exactly: inserts with generated ids, upserts, updates,
// deletes, point reads and fan-out aggregates. Writes refused during the cutover
// (D1PLUS_RETRY) are retried; reads are never refused. At the end every row is on the
// shard the placement rule names (golden vectors for four shards) and nowhere else.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { SHARD_OF, start, workerPath } from "./harness.mjs";

const TOKEN = "e2e-secret-0123456789";
const ADMIN = "e2e-admin-secret-0123456789";
const POLICY = JSON.stringify({
  name: "growing",
  capacity: { mode: "manual", targetShardCount: 2 },
  sharding: { tables: [{ name: "events", keyColumn: "tenantId" }], reference: ["plans"] },
});
const OPTIONS = [
  workerPath("worker/index.js"),
  { D1PLUS_POLICY: POLICY, D1PLUS_TOKEN: TOKEN, D1PLUS_ADMIN_TOKEN: ADMIN },
  ["SHARD_4", "SHARD_5"],
];
const CLIENTS = [
  ["acme", "tenant-1", "t-a", "t-b", "t-c"],
  ["日本語", "ümlaut", "t-x", "t-y", "t-z"],
];

let mf;

async function post(path, body, token = TOKEN) {
  const res = await mf.dispatchFetch(`http://example${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return res.json();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const counts = { refused: 0, statements: 0 };

// A statement through d1plus; a write refused by the cutover is retried.
async function sql(statement, ...params) {
  for (let attempt = 0; ; attempt++) {
    const r = await post("/query", { sql: statement, params });
    counts.statements++;
    if (r.success) return r.result[0].results;
    counts.refused++;
    const code = r.errors?.[0]?.code;
    assert.equal(code, "D1PLUS_RETRY", `${statement}: ${JSON.stringify(r)}`);
    assert.ok(attempt < 200, "writes stayed refused");
    await sleep(10);
  }
}

before(async () => {
  mf = await start(...OPTIONS);
  await sql("CREATE TABLE events (id INTEGER PRIMARY KEY, tenantId TEXT NOT NULL, n INTEGER, tag TEXT UNIQUE)");
  await sql("CREATE TABLE plans (name TEXT PRIMARY KEY, price INTEGER)");
  // A view (a database with one once failed every catalog load on D1: SQLITE_AUTH).
  await sql("CREATE VIEW priced AS SELECT name FROM plans WHERE price > 0");
  await sql("INSERT INTO plans VALUES ('free', 0), ('pro', 10)");
});

after(async () => {
  await mf?.dispose();
});

// One client: its tenants' rows as a Map id -> { tenantId, n, tag }, and a random walk.
async function client(tenants, seed, stop, seeded) {
  const model = new Map();
  let r = seed;
  const rand = (k) => {
    r = (r * 1103515245 + 12345) % 2147483648;
    return r % k;
  };
  const inList = tenants.map(() => "?").join(", ");
  let ops = 0;
  let upserted = 0;
  const check = async () => {
    const [agg] = await sql(`SELECT count(*) AS c, coalesce(sum(n), 0) AS s FROM events WHERE tenantId IN (${inList})`, ...tenants);
    const rows = [...model.values()];
    assert.deepEqual(agg, { c: rows.length, s: rows.reduce((a, x) => a + x.n, 0) }, "fan-out count and sum");
    const top = await sql(`SELECT id, n FROM events WHERE tenantId IN (${inList}) ORDER BY n DESC, id LIMIT 5`, ...tenants);
    const want = [...model.entries()].map(([id, x]) => ({ id, n: x.n })).sort((a, b) => b.n - a.n || a.id - b.id).slice(0, 5);
    assert.deepEqual(top, want, "top 5 across shards");
    const t = tenants[rand(tenants.length)];
    const point = await sql("SELECT id, n, tag FROM events WHERE tenantId = ? ORDER BY id", t);
    const mine = [...model.entries()].filter(([, x]) => x.tenantId === t).map(([id, x]) => ({ id, n: x.n, tag: x.tag })).sort((a, b) => a.id - b.id);
    assert.deepEqual(point, mine, `point read of ${t}`);
  };
  // Rows to copy first: one multi-row insert of explicit ids.
  const rows = Array.from({ length: 80 }, (_, k) => [2_000_000 + seed * 10_000 + k, tenants[k % tenants.length], rand(1000), `seed-${seed}-${k}`]);
  await sql(`INSERT INTO events (id, tenantId, n, tag) VALUES ${rows.map(() => "(?, ?, ?, ?)").join(", ")}`, ...rows.flat());
  for (const [id, tenantId, n, tag] of rows) model.set(id, { tenantId, n, tag });
  seeded();
  while (!stop.done || ops < 40) {
    const t = tenants[rand(tenants.length)];
    const op = rand(5);
    if (op === 0 || op === 1) {
      const n = rand(1000);
      const tag = `${t}-${ops}`;
      await sql("INSERT INTO events (tenantId, n, tag) VALUES (?, ?, ?)", t, n, tag);
      const [{ id }] = await sql("SELECT id FROM events WHERE tenantId = ? AND tag = ?", t, tag);
      assert.ok(!model.has(id), `generated id ${id} given twice`);
      model.set(id, { tenantId: t, n, tag });
    } else if (op === 2) {
      // An upsert on the UNIQUE tag: replaces the tenant's own row with that tag.
      const tag = `${t}-u${rand(3)}`;
      const id = 1_000_000 + seed * 10_000 + upserted++;
      await sql("INSERT OR REPLACE INTO events (id, tenantId, n, tag) VALUES (?, ?, ?, ?)", id, t, 7, tag);
      for (const [k, x] of model) if (x.tag === tag) model.delete(k);
      model.set(id, { tenantId: t, n: 7, tag });
    } else if (op === 3) {
      await sql("UPDATE events SET n = n + 1 WHERE tenantId = ?", t);
      for (const x of model.values()) if (x.tenantId === t) x.n += 1;
    } else {
      const ids = [...model.entries()].filter(([, x]) => x.tenantId === t).map(([id]) => id);
      if (ids.length > 0) {
        const id = ids[rand(ids.length)];
        await sql("DELETE FROM events WHERE tenantId = ? AND id = ?", t, id);
        model.delete(id);
      }
    }
    ops++;
    if (ops % 3 === 0) await check();
  }
  await check();
  return { model, ops };
}

test("a Worker splits 2 -> 4 shards over D1 bindings while clients read and write, every answer exact", async (t) => {
  const stop = { done: false };
  let ready = 0;
  let allSeeded;
  const seededAll = new Promise((resolve) => (allSeeded = resolve));
  const clients = CLIENTS.map((tenants, k) => client(tenants, k + 1, stop, () => ++ready === CLIENTS.length && allSeeded()));
  const phases = new Set();
  let seenInStatus = false;
  let steps = 0;
  let report;
  try {
    await seededAll;
    do {
      const r = await post("/admin/split", { to: 4, maxQueries: 60, chunkRows: 10 }, ADMIN);
      assert.equal(r.success, true, JSON.stringify(r));
      report = r.result;
      if (report.split) {
        phases.add(report.split.phase);
        // The status route shows the split in progress (the console page draws it).
        const status = await (await mf.dispatchFetch("http://example/status", { headers: { authorization: `Bearer ${TOKEN}` } })).json();
        seenInStatus ||= status.result?.split?.phase === report.split.phase;
      }
      steps++;
      assert.ok(steps < 400, "the split does not finish");
      await sleep(5);
    } while (!report.done);
  } finally {
    stop.done = true;
  }
  const results = await Promise.all(clients);
  t.diagnostic(`${steps} split steps; ${counts.statements} client statements, ${counts.refused} writes refused during the cutover`);
  assert.deepEqual(report.layout, { version: 1, shards: ["SHARD_2", "SHARD_3", "SHARD_4", "SHARD_5"] });
  assert.ok(phases.has("copy") && phases.has("cutover"), `phases seen: ${[...phases]}`);
  assert.ok(steps > 3, "the split ran in several steps");
  assert.ok(seenInStatus, "GET /status never showed the split in progress");

  // Every row on its key's shard among four, nowhere else; the old shards keep the
  // layout record and refuse writes.
  const onShard = [];
  for (const name of report.layout.shards) {
    const d1 = await mf.getD1Database(name);
    onShard.push((await d1.prepare("SELECT id, tenantId, n, tag FROM events ORDER BY id").all()).results);
    const plans = (await d1.prepare("SELECT * FROM plans ORDER BY name").all()).results;
    assert.deepEqual(plans, [{ name: "free", price: 0 }, { name: "pro", price: 10 }]);
  }
  const model = new Map(results.flatMap((c) => [...c.model]));
  const all = onShard.flat().sort((a, b) => a.id - b.id);
  assert.deepEqual(all, [...model.entries()].map(([id, x]) => ({ id, ...x })).sort((a, b) => a.id - b.id));
  const shardOfTenant = new Map();
  onShard.forEach((rows, s) => {
    for (const row of rows) {
      assert.equal(shardOfTenant.get(row.tenantId) ?? s, s, `${row.tenantId} on two shards`);
      shardOfTenant.set(row.tenantId, s);
    }
  });
  for (const [tenant, s] of Object.entries(SHARD_OF)) {
    if (shardOfTenant.has(tenant)) assert.equal(shardOfTenant.get(tenant), s, `${tenant} on shard ${shardOfTenant.get(tenant)}`);
  }
  const old = await mf.getD1Database("SHARD_1");
  await assert.rejects(old.prepare("INSERT INTO plans VALUES ('x', 1)").run(), /d1plus_retry/);

  // A fresh isolate (the Worker restarted) finds the new layout from SHARD_0's record.
  await mf.setOptions({ ...(await optionsOf()) });
  const [{ c }] = await sql("SELECT count(*) AS c FROM events");
  assert.equal(c, model.size);
  assert.deepEqual(await sql("SELECT name FROM priced"), [{ name: "pro" }]);
  const written = await sql("INSERT INTO events (tenantId, n, tag) VALUES ('acme', 1, 'after') RETURNING id");
  assert.equal(written.length, 1);
  const acme = await mf.getD1Database(`SHARD_${2 + SHARD_OF.acme}`);
  assert.equal((await acme.prepare("SELECT count(*) AS c FROM events WHERE tag = 'after'").first()).c, 1);

  // Nothing left to do: a further step says so. Doubling again needs bindings this Worker
  // lacks, and the error names them; a manual policy has no `auto` to act on.
  const again = await post("/admin/split", { to: 4 }, ADMIN);
  assert.equal(again.result.done, true);
  const more = await post("/admin/split", { to: 8 }, ADMIN);
  assert.equal(more.success, false);
  assert.match(more.errors[0].message, /SHARD_6.*wrangler\.toml/s);
  assert.equal(more.errors[0].code, "D1PLUS_INVALID_BINDING");
  const auto = await post("/admin/split", { auto: true }, ADMIN);
  assert.match(auto.errors[0].message, /capacity is not auto/);
  const unauthorized = await post("/admin/split", { to: 4 }, TOKEN);
  assert.equal(unauthorized.success, false);
  assert.equal(unauthorized.errors[0].code, "D1PLUS_UNAUTHORIZED");
});

// The options the Worker was started with (harness.start), to restart it as it was.
async function optionsOf() {
  const { ROOT } = await import("./harness.mjs");
  return {
    modules: true,
    scriptPath: OPTIONS[0],
    modulesRoot: ROOT,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-04-01",
    d1Databases: ["SHARD_0", "SHARD_1", "SHARD_2", "SHARD_3", "SHARD_4", "SHARD_5"],
    bindings: OPTIONS[1],
    cf: false,
  };
}
