// The Rust Worker (examples/rust-worker), written against workers-rs's D1 API and switched
// to d1plus by how its binding is made, on four local D1 shards.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ROOT, SHARD_OF, perShard, start, workerPath } from "./harness.mjs";

const POLICY = readFileSync(`${ROOT}/wrangler.toml`, "utf8").match(/D1PLUS_POLICY = '''([\s\S]*?)'''/)[1];

let mf;
before(async () => {
  mf = await start(workerPath("examples/rust-worker/shim.js"), { D1PLUS_POLICY: POLICY });
});
after(async () => {
  await mf?.dispose();
});

test("a workers-rs Worker runs unchanged on d1plus", async () => {
  const res = await mf.dispatchFetch("http://rust/scenario");
  const seen = await res.json();
  assert.equal(seen.error, undefined, seen.error);
  assert.equal(seen.created, 1);
  assert.equal(seen.changes, 5);
  assert.deepEqual(seen.acme, [
    { tenantId: "acme", id: 1, kind: "click", amount: 10 },
    { tenantId: "acme", id: 5, kind: "buy", amount: 50 },
  ]);
  assert.deepEqual(seen.top, { tenantId: "acme", id: 5, kind: "buy", amount: 50 });
  assert.equal(seen.total, 150);
  assert.deepEqual(seen.kinds, [
    ["buy", 2],
    ["click", 2],
    ["view", 1],
  ]);
  assert.equal(seen.updated, 1);
  assert.equal(seen.deleted, 1);
  assert.match(seen.missing, /D1_COLUMN_NOTFOUND: Column not found \(nope\)/);
  assert.match(seen.failed, /D1_ERROR: UNIQUE constraint failed/);
  assert.equal(seen.inSession, 4);
  assert.match(seen.bookmark, /^d1plus1:/);
  assert.equal(seen.resumed, 2);

  const shards = await perShard(mf, "SELECT tenantId, id FROM events");
  shards.forEach((rows, shard) => {
    for (const r of rows) assert.equal(SHARD_OF[r.tenantId], shard, `${r.tenantId}/${r.id} on shard ${shard}`);
  });
  assert.equal(shards.flat().length, 4);
});
