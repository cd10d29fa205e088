// The Database API (db(), migrate, the Table API, transaction, raw SQL): one small app
// (e2e/worker/app.js, /database) runs unchanged on 1 shard and on 4 and answers alike.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { start, workerPath } from "./harness.mjs";

let mf;
before(async () => {
  mf = await start(workerPath("e2e/dist/app.js"), {}, ["ONE_0", "FOUR_0", "FOUR_1", "FOUR_2", "FOUR_3"]);
});

after(async () => {
  await mf?.dispose();
});

test("one app on the Database API answers alike on 1 and 4 shards", async () => {
  const res = await mf.dispatchFetch("http://app/database");
  const body = await res.json();
  assert.equal(body.error, undefined, JSON.stringify(body.error));
  const { one, four } = body.ok;
  assert.deepEqual(one.migrate, { applied: 2, already: 0 }, JSON.stringify(one.migrate));
  assert.deepEqual(one.again.applied, 0);
  assert.equal(one.check.agree, true);
  assert.equal(four.check.agree, true, JSON.stringify(four.check));
  assert.equal(one.inserted, 40);
  assert.match(one.types, /export interface PostsRow \{\n  author: string;/);
  assert.deepEqual(one.get, { author: "bob", id: 6, title: "post 6", status: "draft", views: 22, tag: null });
  assert.equal(one.missing, null);
  assert.equal(one.updated.views, 500);
  assert.equal(one.deleted, true);
  assert.ok(one.pages.length > 3, "several pages");
  assert.deepEqual(one.transaction, [1, 1]);
  assert.equal(one.crossShard, "ran", "one shard: every statement is on it");
  assert.equal(four.crossShard, "D1PLUS_CROSS_SHARD_TRANSACTION");
  assert.deepEqual(one.badField, ["D1PLUS_NO_SUCH_COLUMN", true]);
  // Everything but the cross-shard transaction (one shard runs it, four refuse it) and the
  // reads after it agree.
  for (const key of Object.keys(one)) {
    if (key === "crossShard" || key === "raw" || key === "migrate") continue;
    assert.deepEqual(four[key], one[key], key);
  }
  const published = (r) => r.raw.filter((x) => x.status !== null);
  assert.ok(published(one).length > 0);
});
