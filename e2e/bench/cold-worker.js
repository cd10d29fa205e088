// The Worker e2e/bench/cold.mjs boots fresh: its first request stops after one phase of a
// point read through d1plus (nothing, the engine, an explain, a direct shard read, the read),
// so the first request's cost can be split by phase (see BENCHMARKS.md, In a Worker).
import { D1Database } from "../../js/d1plus.js";

const POLICY = JSON.stringify({
  name: "bench",
  capacity: { mode: "manual", targetShardCount: 4 },
  sharding: { tables: [{ name: "events", keyColumn: "tenantId" }] },
});

export default {
  async fetch(request, env) {
    const phase = new URL(request.url).pathname.slice(1);
    if (phase === "noop") return Response.json([]);
    const db = D1Database.fromEnv(env, POLICY);
    if (phase === "engine") return Response.json([]);
    if (phase === "explain") return Response.json(await db.explain({ statement: "SELECT id, amount FROM events WHERE tenantId = ? AND id = ?", params: ["t7", 7] }));
    if (phase === "rawread") {
      const r = await env.SHARD_0.prepare("SELECT id, amount FROM events WHERE tenantId = ? AND id = ?").bind("t7", 7).all();
      return Response.json(r.results);
    }
    const r = await db.prepare("SELECT id, amount FROM events WHERE tenantId = ? AND id = ?").bind("t7", 7).all();
    return Response.json(r.results);
  },
};
