// The Worker e2e/bench/first-call.mjs drives: d1plus's engine inside workerd, without D1 and
// with it, a path per case (the point read of worker.js on a kept handle; explain() runs the
// engine's async path with no shard call).
import { D1Database } from "../../js/d1plus.js";

const POLICY = JSON.stringify({
  name: "bench",
  capacity: { mode: "manual", targetShardCount: 4 },
  sharding: { tables: [{ name: "events", keyColumn: "tenantId" }] },
});
const SQL = "SELECT id, amount FROM events WHERE tenantId = ? AND id = ?";
let kept;

const explain = () => kept.explain({ statement: SQL, params: ["t7", 7] });
const read = () => kept.prepare(SQL).bind("t7", 7).all();
const times = async (n, f) => {
  let r;
  for (let k = 0; k < n; k++) r = await f();
  return r;
};

const cases = {
  noop: async () => null,
  sync: async () => times(10, () => kept._runner.engine.shardCount()),
  explain: () => explain(),
  explain2: () => times(2, explain),
  explain10: () => times(10, explain),
  shard: (env) => env.SHARD_1.prepare(SQL).bind("t7", 7).all(),
  shard10: (env) => times(10, () => env.SHARD_1.prepare(SQL).bind("t7", 7).all()),
  shardraw10: (env) => times(10, () => env.SHARD_1.prepare(SQL).bind("t7", 7).raw({ columnNames: true })),
  d1plus: () => read(),
  d1plus10: () => times(10, read),
  d1plus1shard9: async (env) => (await read(), times(9, () => env.SHARD_1.prepare(SQL).bind("t7", 7).all())),
  shard9d1plus1: async (env) => (await times(9, () => env.SHARD_1.prepare(SQL).bind("t7", 7).all()), read()),
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
