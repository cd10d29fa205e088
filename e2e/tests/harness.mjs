// Starts a Worker on local D1 (miniflare: workerd with four in-memory D1 databases) and
// gives direct access to each shard, to check where rows landed.
import { Miniflare } from "miniflare";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SHARDS = ["SHARD_0", "SHARD_1", "SHARD_2", "SHARD_3"];

// Golden placement for 4 shards (tests/placement_golden.rs, computed with Python's xxhash):
// the shard each text key's rows must be on.
export const SHARD_OF = { acme: 2, "tenant-1": 3, "日本語": 1, "ümlaut": 2 };

export async function start(scriptPath, bindings = {}, moreDatabases = [], options = {}) {
  const mf = new Miniflare({
    ...options,
    modules: true,
    scriptPath,
    modulesRoot: ROOT,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-04-01",
    d1Databases: [...SHARDS, ...moreDatabases],
    bindings,
    cf: false,
  });
  await mf.ready;
  return mf;
}

/** Rows of `sql` on each shard, read directly (not through d1plus). */
export async function perShard(mf, sql) {
  const out = [];
  for (const name of SHARDS) {
    const db = await mf.getD1Database(name);
    out.push((await db.prepare(sql).all()).results);
  }
  return out;
}

export const workerPath = (p) => join(ROOT, p);

/** POSTs `body` to the Worker's `/query` with the bearer `token`: the parsed answer. */
export async function postQuery(mf, token, body) {
  const res = await mf.dispatchFetch("http://example/query", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return res.json();
}
