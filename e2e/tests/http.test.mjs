// The example Worker (worker/index.js, configured by wrangler.toml) on four local D1
// shards: placement, fan-out merges, D1's error shapes, batch rollback, sessions.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ROOT, SHARD_OF, perShard, start, workerPath } from "./harness.mjs";

const toml = readFileSync(`${ROOT}/wrangler.toml`, "utf8");
const POLICY = toml.match(/D1PLUS_POLICY = '''([\s\S]*?)'''/)[1];

const TOKEN = "e2e-secret-0123456789";
const ADMIN = "e2e-admin-secret-0123456789";
let mf;
async function query(body, headers = {}, on = mf) {
  const res = await on.dispatchFetch("http://example/query", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function ok(body) {
  const r = await query(body);
  assert.equal(r.body.success, true, JSON.stringify(r.body));
  return r.body.result;
}

const ROWS = [
  ["acme", 1, "click", 10],
  ["tenant-1", 2, "view", 20],
  ["日本語", 3, "click", 30],
  ["ümlaut", 4, "buy", 40],
  ["acme", 5, "buy", 50],
  ["tenant-1", 6, "buy", 60],
];

before(async () => {
  mf = await start(workerPath("worker/index.js"), {
    D1PLUS_POLICY: POLICY,
    D1PLUS_TOKEN: TOKEN,
    D1PLUS_ADMIN_TOKEN: ADMIN,
  });
  await ok({
    sql: "CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount INTEGER, PRIMARY KEY (tenantId, id))",
  });
  await ok({ sql: "CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT)" });
  await ok({ sql: "INSERT INTO plans VALUES (1, 'free'), (2, 'paid')" });
  await ok({
    sql: `INSERT INTO events VALUES ${ROWS.map(() => "(?, ?, ?, ?)").join(", ")}`,
    params: ROWS.flat(),
  });
});

after(async () => {
  await mf?.dispose();
});

test("rows land on their key's shard, and only there", async () => {
  const shards = await perShard(mf, "SELECT tenantId, id FROM events ORDER BY id");
  for (const [tenant, id] of ROWS) {
    shards.forEach((rows, shard) => {
      const here = rows.some((r) => r.tenantId === tenant && r.id === id);
      assert.equal(here, shard === SHARD_OF[tenant], `${tenant}/${id} on shard ${shard}`);
    });
  }
  assert.equal(shards[0].length, 0, "no key of these hashes to shard 0: it stays empty");
  // The reference table is copied to every shard.
  for (const rows of await perShard(mf, "SELECT id FROM plans ORDER BY id")) {
    assert.deepEqual(rows.map((r) => r.id), [1, 2]);
  }
});

test("a keyed read goes to one shard; fan-out reads merge exactly", async () => {
  const [one] = await ok({ sql: "SELECT id FROM events WHERE tenantId = ? ORDER BY id", params: ["acme"] });
  assert.deepEqual(one.results, [{ id: 1 }, { id: 5 }]);
  assert.deepEqual(one.meta.shards, [SHARD_OF.acme]);

  const [page] = await ok({ sql: "SELECT tenantId, amount FROM events ORDER BY amount DESC LIMIT 3 OFFSET 1" });
  assert.deepEqual(page.results, [
    { tenantId: "acme", amount: 50 },
    { tenantId: "ümlaut", amount: 40 },
    { tenantId: "日本語", amount: 30 },
  ]);

  const [groups] = await ok({
    sql: "SELECT kind, count(*) AS n, sum(amount) AS total, avg(amount) AS mean FROM events GROUP BY kind ORDER BY kind",
  });
  assert.deepEqual(groups.results, [
    { kind: "buy", n: 3, total: 150, mean: 50 },
    { kind: "click", n: 2, total: 40, mean: 20 },
    { kind: "view", n: 1, total: 20, mean: 20 },
  ]);

  const [distinct] = await ok({ sql: "SELECT DISTINCT kind FROM events ORDER BY kind DESC" });
  assert.deepEqual(distinct.results.map((r) => r.kind), ["view", "click", "buy"]);

  const [joined] = await ok({
    sql: "SELECT e.id, p.name FROM events e JOIN plans p ON p.id = 1 + (e.id % 2) WHERE e.tenantId = 'tenant-1' ORDER BY e.id",
  });
  assert.deepEqual(joined.results, [
    { id: 2, name: "free" },
    { id: 6, name: "free" },
  ]);
});

test("POST /explain shows the plan a statement runs with, hint keys bound as D1 binds them", async () => {
  // A JavaScript number is bound as a REAL, so the TEXT key 1 is stored as '1.0' and the plan
  // shown must route it there, as the query does.
  for (const key of [1, "1", "acme"]) {
    const shard = { table: "events", key };
    const [run] = await ok({ sql: "SELECT count(*) AS n FROM events", shard });
    const res = await mf.dispatchFetch("http://example/explain", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ sql: "SELECT count(*) AS n FROM events", shard }),
    });
    const plan = (await res.json()).result;
    assert.match(plan, new RegExp(`^route: shard ${run.meta.shards[0]}\n`), `${JSON.stringify(key)}: ${plan}`);
  }
});

test("errors have D1's shapes", async () => {
  const dup = await query({ sql: "INSERT INTO events VALUES ('acme', 1, 'x', 0)" });
  assert.equal(dup.body.success, false);
  assert.match(dup.body.errors[0].message, /^D1_ERROR: UNIQUE constraint failed: events\.tenantId, events\.id/);

  const unkeyed = await query({ sql: "UPDATE events SET kind = 'x'" });
  assert.equal(unkeyed.body.success, false);
  assert.match(unkeyed.body.errors[0].message, /^D1PLUS_[A-Z_]+: .*Remedy: /);

  const syntax = await query({ sql: "SELEKT 1" });
  assert.equal(syntax.body.success, false);
  // What D1 itself says: SQLite's own message for a statement it cannot parse.
  assert.match(syntax.body.errors[0].message, /^D1_ERROR: near "SELEKT": syntax error/);

  const shape = await query({ nothing: true });
  assert.equal(shape.status, 400);
  assert.equal(shape.body.success, false);
});

test("a batch whose last statement fails rolls back its whole shard group", async () => {
  const before = await perShard(mf, "SELECT count(*) AS n FROM events");
  const r = await query({
    batch: [
      { sql: "INSERT INTO events VALUES ('acme', 100, 'new', 1)" },
      { sql: "UPDATE events SET amount = amount + 1 WHERE tenantId = 'acme' AND id = 1" },
      { sql: "INSERT INTO events VALUES ('acme', 1, 'duplicate', 1)" },
    ],
  });
  assert.equal(r.body.success, false);
  assert.match(r.body.errors[0].message, /UNIQUE constraint failed/);
  assert.deepEqual(await perShard(mf, "SELECT count(*) AS n FROM events"), before);
  const [acme1] = await ok({ sql: "SELECT amount FROM events WHERE tenantId = 'acme' AND id = 1" });
  assert.deepEqual(acme1.results, [{ amount: 10 }], "the UPDATE was rolled back with the batch");

  // A batch that succeeds answers in the caller's order, across shards.
  const results = await ok({
    batch: [
      { sql: "INSERT INTO events VALUES (?, 200, 'b', 1)", params: ["ümlaut"] },
      { sql: "SELECT count(*) AS n FROM events WHERE tenantId = ?", params: ["ümlaut"] },
      { sql: "SELECT count(*) AS n FROM events" },
      { sql: "DELETE FROM events WHERE tenantId = ? AND id = 200", params: ["ümlaut"] },
    ],
  });
  assert.equal(results.length, 4);
  assert.equal(results[0].meta.changes, 1);
  assert.deepEqual(results[1].results, [{ n: 2 }]);
  assert.deepEqual(results[2].results, [{ n: ROWS.length + 1 }]);
  assert.equal(results[3].meta.changes, 1);
});

test("sessions: a bookmark from one request is accepted by the next", async () => {
  const first = await query({ sql: "INSERT INTO events VALUES ('acme', 300, 's', 1)" });
  assert.equal(first.body.success, true, JSON.stringify(first.body));
  const bookmark = first.headers.get("x-d1plus-bookmark");
  assert.ok(bookmark, "the answer carries a bookmark");
  assert.match(bookmark, /^d1plus1:/);
  assert.equal(bookmark.slice("d1plus1:".length).split(",").length, 4, "one bookmark per shard");
  const next = await query({ sql: "SELECT count(*) AS n FROM events WHERE tenantId = 'acme'" }, { "x-d1plus-bookmark": bookmark });
  assert.equal(next.body.success, true, JSON.stringify(next.body));
  assert.deepEqual(next.body.result[0].results, [{ n: 3 }]);

  const bad = await query({ sql: "SELECT 1" }, { "x-d1plus-bookmark": "not-a-bookmark" });
  assert.equal(bad.body.success, false);
  assert.match(bad.body.errors[0].message, /^D1PLUS_INVALID_BOOKMARK/);
});

test("SQL needs the secret: none configured, no route; a wrong or missing one is refused", async () => {
  for (const authorization of ["", "Bearer wrong-secret-0123456789", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
    const r = await query({ sql: "SELECT count(*) FROM events" }, { authorization });
    assert.equal(r.status, 401, authorization);
    assert.equal(r.body.errors[0].code, "D1PLUS_UNAUTHORIZED");
    assert.equal(r.body.result.length, 0);
  }
  const open = await start(workerPath("worker/index.js"), { D1PLUS_POLICY: POLICY });
  try {
    const r = await query({ sql: "DROP TABLE events" }, {}, open);
    assert.equal(r.status, 503);
    assert.equal(r.body.errors[0].code, "D1PLUS_UNAUTHORIZED");
    assert.match(r.body.errors[0].message, /wrangler secret put D1PLUS_TOKEN/);
  } finally {
    await open.dispose();
  }
  // The refused DROP ran nowhere.
  assert.equal((await ok({ sql: "SELECT count(*) AS n FROM events" }))[0].results.length, 1);
});

test("every error code the example Worker answers is a string", async () => {
  const r = await query({ nothing: true });
  assert.equal(typeof r.body.errors[0].code, "string");
  const syntax = await query({ sql: "SELEKT 1" });
  assert.equal(typeof syntax.body.errors[0].code, "string");
});

async function adminCall(path, body, token = ADMIN, on = mf) {
  const res = await on.dispatchFetch(`http://example${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

test("admin: migrations on every shard (resumable, history checked) and the schema check", async () => {
  const migrations = [
    // An unsharded table (home shard), and rows of the sharded events table, by their keys.
    { name: "0001_notes.sql", sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\nINSERT INTO events VALUES ('acme', 100, 'migrated', 1), ('日本語', 101, 'migrated', 2);" },
    { name: "0002_index.sql", sql: "CREATE INDEX events_kind ON events(kind);" },
  ];
  const first = await adminCall("/admin/migrate", { migrations });
  assert.equal(first.body.success, true, JSON.stringify(first.body));
  assert.deepEqual(first.body.result, { applied: 8, already: 0 });
  // Recorded on every shard, in wrangler's table; the rows went by their keys.
  for (const rows of await perShard(mf, "SELECT name FROM d1_migrations ORDER BY id")) {
    assert.deepEqual(rows.map((r) => r.name), ["0001_notes.sql", "0002_index.sql"]);
  }
  const migrated = await perShard(mf, "SELECT tenantId FROM events WHERE kind = 'migrated'");
  migrated.forEach((rows, shard) => rows.forEach((r) => assert.equal(SHARD_OF[r.tenantId], shard)));
  assert.equal(migrated.flat().length, 2);
  const again = await adminCall("/admin/migrate", { migrations });
  assert.deepEqual(again.body.result, { applied: 0, already: 2 });
  const edited = await adminCall("/admin/migrate", {
    migrations: [{ ...migrations[0], sql: migrations[0].sql + " -- edited" }, migrations[1]],
  });
  assert.equal(edited.body.success, false);
  assert.equal(edited.body.errors[0].code, "D1PLUS_MIGRATION_HISTORY");
  const check = await adminCall("/admin/check");
  assert.deepEqual(check.body.result, { agree: true, differences: [] });
  // The query route's secret does not open the admin routes; without their secret they do not exist.
  assert.equal((await adminCall("/admin/check", undefined, TOKEN)).status, 401);
  const plain = await start(workerPath("worker/index.js"), { D1PLUS_POLICY: POLICY, D1PLUS_TOKEN: TOKEN });
  try {
    assert.equal((await adminCall("/admin/migrate", { migrations }, ADMIN, plain)).status, 404);
  } finally {
    await plain.dispose();
  }
});
