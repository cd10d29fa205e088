// The Worker e2e/bench/first-call.mjs drives: d1plus's engine inside workerd, case by case,
// each case one request. `explain()` and `engineCall(Explain)` run the engine's call path
// with no D1 call (its start answers at once; before the call was driven from JavaScript,
// this was a Rust future behind a JavaScript promise); `shardCount()` is a sync call
// into wasm; the point read is worker.js's, on a kept handle, or sent to its shard directly.
import { D1Database, engineCall } from "../../js/d1plus.js";
import { CallKind, Engine, Schema } from "../../js/pkg/d1plus_js.js";

const POLICY = JSON.stringify({
  name: "bench",
  capacity: { mode: "manual", targetShardCount: 4 },
  sharding: { tables: [{ name: "events", keyColumn: "tenantId" }] },
});
const SQL = "SELECT id, amount FROM events WHERE tenantId = ? AND id = ?";
const REQUEST = JSON.stringify({ sql: SQL, params: ["t7", 7], shard: null });
let kept;
const REGISTRY = new FinalizationRegistry(() => {});

const direct = (env) => env.SHARD_1.prepare(SQL).bind("t7", 7).all();
const read = () => kept.prepare(SQL).bind("t7", 7).all();
const run = () => {
  const r = kept._runner;
  return engineCall(r.engine, r.shards, CallKind.Explain, REQUEST, r.budget, Schema.Cached, undefined);
};
const times = async (n, f) => {
  let r;
  for (let k = 0; k < n; k++) r = await f();
  return r;
};

const cases = {
  noop: async () => null,
  // Without D1: ten engine calls (explain), ten trivial sync ones.
  run10: () => times(10, run),
  sync10: async () => times(10, () => kept._runner.engine.shardCount()),
  // Ten direct D1 reads, each followed by: nothing, a trivial sync call, one engine call, two.
  direct10: (env) => times(10, () => direct(env)),
  direct10sync: (env) => times(10, async () => (await direct(env), kept._runner.engine.shardCount())),
  direct10run: (env) => times(10, async () => (await direct(env), run())),
  direct10run2: (env) => times(10, async () => (await direct(env), await run(), run())),
  // A sync call that does real work (an engine made from the policy: JSON, validation).
  engine10: async () => times(10, () => new Engine(POLICY).free()),
  direct10engine: (env) => times(10, async () => (await direct(env), new Engine(POLICY).free())),
  // Ruled out as the cause: a FinalizationRegistry registration (wasm-bindgen registers its
  // closures), a JavaScript promise settled from a microtask that calls into wasm.
  direct10fr: (env) => times(10, async () => (await direct(env), REGISTRY.register({}, 1, {}))),
  direct10mimic: (env) => times(10, async () => (await direct(env), new Promise((res) => queueMicrotask(() => res(kept._runner.engine.shardCount()))))),
  // The point read through d1plus: once, ten times a request.
  direct: (env) => direct(env),
  d1plus: () => read(),
  d1plus10: () => times(10, read),
};

export default {
  async fetch(request, env) {
    const [, name] = new URL(request.url).pathname.split("/");
    kept ??= D1Database.fromEnv(env, POLICY, "SHARD_", { queryBudget: null });
    if (name === "setup") {
      await kept.exec("CREATE TABLE IF NOT EXISTS events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, amount INTEGER, PRIMARY KEY (tenantId, id))");
      await kept.prepare("INSERT OR IGNORE INTO events VALUES ('t7', 7, 70)").run();
      return new Response("[]");
    }
    const r = await cases[name](env);
    return new Response(JSON.stringify(r ?? null));
  },
};
