// D1's surface checked against D1 itself: the same calls (exec, run, all, first, raw,
// batch, errors) on a raw local D1 binding and on d1plus over 1 and 4 shards
// (e2e/worker/app.js, /differential), compared value for value.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { start, workerPath } from "./harness.mjs";

let mf;
before(async () => {
  mf = await start(workerPath("e2e/dist/app.js"), {}, [
    "RAW",
    "ONE_0",
    "FOUR_0",
    "FOUR_1",
    "FOUR_2",
    "FOUR_3",
  ]);
});

after(async () => {
  await mf?.dispose();
});

test("d1plus over 1 and 4 shards answers every call as a raw D1 binding does", async () => {
  const res = await mf.dispatchFetch("http://app/differential");
  const body = await res.json();
  assert.equal(body.error, undefined, JSON.stringify(body.error));
  const { raw, one, four } = body.ok;
  assert.ok(raw.length > 30, `${raw.length} calls`);
  // The raw binding itself must have done what the script means (no silent error).
  const byLabel = Object.fromEntries(raw);
  assert.equal(byLabel["insert several tenants"].changes, 5);
  assert.match(byLabel["constraint"].error, /UNIQUE constraint failed/);
  assert.equal(byLabel["batch that fails rolls back"].after, 0);
  for (const [name, seen] of [["1 shard", one], ["4 shards", four]]) {
    assert.equal(seen.length, raw.length, name);
    raw.forEach(([label, expected], i) => {
      assert.equal(seen[i][0], label);
      assert.deepEqual(seen[i][1], expected, `${name}: ${label}`);
    });
  }
});
