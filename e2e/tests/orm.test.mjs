// Drizzle, Kysely, Prisma and hand-written D1 code, unchanged, on the sharded D1Database
// (e2e/worker/app.js, bundled by build.mjs), on four local D1 shards.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { SHARD_OF, perShard, start, workerPath } from "./harness.mjs";

let mf;
async function scenario(path) {
  const res = await mf.dispatchFetch(`http://app${path}`);
  const body = await res.json();
  assert.equal(body.error, undefined, JSON.stringify(body.error));
  return body.ok;
}

before(async () => {
  mf = await start(workerPath("e2e/dist/app.js"));
});

after(async () => {
  await mf?.dispose();
});

test("Drizzle ORM (drizzle-orm/d1) runs unchanged", async () => {
  const seen = await scenario("/drizzle");
  assert.deepEqual(seen.acme, [{ tenantId: "acme", id: 5, kind: "buy", amount: 50 }]);
  assert.deepEqual(seen.page, [{ id: 2 }, { id: 3 }, { id: 4 }]);
  assert.deepEqual(seen.updated, [{ id: 5, kind: "refund" }]);
  assert.equal(seen.deleted, 1);
  assert.equal(seen.batch.changes, 1);
  assert.deepEqual(seen.batch.selected, [{ id: 4 }, { id: 7 }]);
  assert.deepEqual(seen.totals, [
    { tenantId: "acme", n: 2, total: 60 },
    { tenantId: "tenant-1", n: 1, total: 60 },
    { tenantId: "ümlaut", n: 2, total: 110 },
    { tenantId: "日本語", n: 1, total: 30 },
  ]);
  assert.deepEqual(seen.values, [
    [1, "click"],
    [5, "refund"],
  ]);
  assert.equal(seen.count, 6);

  const shards = await perShard(mf, "SELECT tenantId, id FROM events ORDER BY id");
  shards.forEach((rows, shard) => {
    for (const r of rows) assert.equal(SHARD_OF[r.tenantId], shard, `${r.tenantId}/${r.id} on shard ${shard}`);
  });
  assert.equal(shards.flat().length, 6);
});

test("Kysely (kysely-d1) runs unchanged", async () => {
  const seen = await scenario("/kysely");
  assert.equal(seen.insertRows, 1);
  assert.deepEqual(seen.acme, [
    { tenantId: "acme", id: 1, total: 5 },
    { tenantId: "acme", id: 5, total: 13 },
  ]);
  assert.deepEqual(seen.top, [
    { tenantId: "acme", total: 13 },
    { tenantId: "日本語", total: 11 },
  ]);
  assert.equal(seen.updated, 1);
  assert.equal(seen.deleted, 1);
  assert.deepEqual(seen.sum, { n: 4, total: 127 });
  const shards = await perShard(mf, "SELECT tenantId FROM orders");
  shards.forEach((rows, shard) => {
    for (const r of rows) assert.equal(SHARD_OF[r.tenantId], shard);
  });
});

test("Prisma (@prisma/adapter-d1) runs unchanged", async () => {
  const seen = await scenario("/prisma");
  assert.deepEqual(seen.created, { tenantId: "acme", id: 1, item: "anvil", qty: 1 });
  assert.deepEqual(seen.createMany, { count: 3 });
  assert.deepEqual(seen.acme, [
    { tenantId: "acme", id: 1, item: "anvil", qty: 1 },
    { tenantId: "acme", id: 4, item: "rocket", qty: 5 },
  ]);
  assert.deepEqual(seen.top, [
    { id: 4, qty: 5 },
    { id: 2, qty: 3 },
  ]);
  assert.deepEqual(seen.unique, { tenantId: "tenant-1", id: 2, item: "rope", qty: 3 });
  assert.deepEqual(seen.updated, { tenantId: "acme", id: 4, item: "rocket", qty: 6 });
  assert.deepEqual(seen.deleted, { count: 1 });
  assert.equal(seen.count, 3);
  assert.deepEqual(seen.sum, { _sum: { qty: 10 } });
  const shards = await perShard(mf, "SELECT tenantId FROM porders");
  shards.forEach((rows, shard) => {
    for (const r of rows) assert.equal(SHARD_OF[r.tenantId], shard);
  });
  assert.equal(shards.flat().length, 3);
});

test("D1's surface: bind rules, first, raw, run, exec, sql, errors, sessions", async () => {
  const seen = await scenario("/surface");
  assert.deepEqual(seen.exec, { count: 2, duration: seen.exec.duration });
  assert.equal(seen.run.success, true);
  assert.equal(seen.run.meta.changes, 1);
  assert.deepEqual(seen.run.results, []);
  assert.deepEqual(seen.typeErrors.undefined, {
    message: "D1_TYPE_ERROR: Type 'undefined' not supported for value 'undefined'",
    code: "D1_TYPE_ERROR",
    isError: true,
  });
  assert.match(seen.typeErrors.bigint.message, /^D1_TYPE_ERROR: Type 'bigint' not supported for value '5'$/);
  assert.match(seen.typeErrors.object.message, /^D1_TYPE_ERROR: Type 'object' not supported for value/);
  assert.deepEqual(seen.first, { id: 1, body: "hello", data: null });
  assert.equal(seen.firstCol, "hello");
  assert.equal(seen.firstNone, null);
  assert.equal(seen.firstMissing.message, "D1_COLUMN_NOTFOUND: Column not found (nope)");
  // D1 binds every JavaScript number (and so `true`) as a REAL: a TEXT column keeps '1.0'.
  assert.deepEqual(seen.raw, [
    [1, "hello", null],
    [2, "1.0", [1, 2, 255]],
  ]);
  assert.deepEqual(seen.rawNames[0], ["id", "body", "data"]);
  assert.deepEqual(seen.rawEmpty, [["id", "body", "data"]], "column names even without rows");
  assert.equal(seen.all.success, true);
  assert.equal(seen.all.results.length, 2);
  assert.deepEqual(seen.sqlApi, { n: 2 });
  assert.deepEqual(seen.numericKey.results, [{ tenantId: "42.0", t: "text" }]);
  assert.deepEqual(seen.numericKey.meta.shards.length, 1);
  assert.equal(seen.numericKeyFanOut, 1);
  assert.match(seen.sqliteError.message, /^D1_ERROR: UNIQUE constraint failed: notes\.tenantId, notes\.id/);
  assert.equal(seen.sqliteError.isError, true);
  assert.match(seen.proxyError.code, /^D1PLUS_/);
  assert.match(seen.proxyError.message, /Remedy: /);
  assert.ok(seen.syntaxError.message.length > 0);
  assert.equal(seen.nested, 1);
  assert.equal(seen.tooDeep, 1);
  // d1plus parses a 900-term sum in the Worker's stack; D1 then refuses its depth (100).
  assert.match(seen.deepExpr.message, /^D1_ERROR: Expression tree is too large/);
  // Past 1000 chained operators (deeper than any SQLite runs), d1plus refuses first.
  assert.equal(seen.tooLong.code, "D1PLUS_LIMIT_EXCEEDED");
  assert.equal(seen.budgetUsed, 5, "the schema guard beside a fan-out over 4 shards (no schema read first)");
  assert.equal(seen.budget.code, "D1PLUS_QUERY_BUDGET");
  assert.equal(seen.budgetAfter, 5, "the refused fan-out ran nothing");
  assert.deepEqual(seen.concurrentBudget, { ran: 1, refused: ["D1PLUS_QUERY_BUDGET", "D1PLUS_QUERY_BUDGET"], used: 6 });
  assert.deepEqual(seen.sessionBatch, [{ n: 2 }]);
  assert.equal(seen.blankSession, null);
  assert.equal(seen.typedArray, "0102FF");
  assert.match(seen.cause, /^UNIQUE constraint failed/);
  // D1's own form (e2e/tests/differential.test.mjs compares it with a raw binding).
  assert.match(seen.execError.message, /^D1_EXEC_ERROR: Error in line 1: INSERT INTO notes .*: UNIQUE constraint failed/);
  assert.equal(seen.budgetKeyed, 2, "a keyed read (one query) still fits");
  assert.match(String(seen.bookmark), /^d1plus1:/);
  assert.equal(seen.constructorName, "D1Database");
});

test("a fan-out holds at most 6 shard calls at once", async () => {
  const seen = await scenario("/concurrency");
  assert.deepEqual(seen.shards, [0, 1, 2, 3, 4, 5, 6, 7], "every shard got the DDL");
  assert.equal(seen.most, 6);
  assert.deepEqual(seen.reads, [0, 1, 2, 3, 4, 5, 6, 7], "the read went to every shard");
  assert.equal(seen.readMost, 6, "a fan-out read holds at most 6 at once too");
  assert.deepEqual(seen.rows, []);
  assert.equal(seen.fresh.guarded, 1, "a new handle's first call carries the guard once, in a batch() with a read");
  assert.deepEqual(seen.fresh.reads, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(seen.fresh.most, 6, "reads and the guard's batch share the limit");
  assert.deepEqual(seen.fresh.rows, []);
});

test("a schema changed elsewhere is read again by the next request", async () => {
  assert.deepEqual(await scenario("/moves-before"), { n: 1 });
  // Another isolate rebuilds the table with its columns in another order.
  for (const name of ["SHARD_0", "SHARD_1", "SHARD_2", "SHARD_3"]) {
    const shard = await mf.getD1Database(name);
    await shard.exec("DROP TABLE moves");
    await shard.exec("CREATE TABLE moves (id INTEGER, tenantId TEXT)");
  }
  assert.deepEqual(await scenario("/moves-after"), { n: 1 });
  const shards = await perShard(mf, "SELECT tenantId, id FROM moves");
  assert.deepEqual(shards[SHARD_OF.acme], [{ tenantId: "acme", id: 7 }], "routed by the new key position");
  assert.equal(shards.flat().length, 1);
});
