// The Worker the miniflare benchmark (e2e/bench/run.mjs) drives: the same reads and writes
// through a raw D1 binding (RAW, one database holding every row) and through d1plus over
// four shards holding the same rows. Each path runs one operation and answers its rows, so
// the runner can check both sides agree before it times them.
import { D1Database } from "../../js/d1plus.js";

const POLICY = JSON.stringify({
  name: "bench",
  capacity: { mode: "manual", targetShardCount: 4 },
  sharding: { tables: [{ name: "events", keyColumn: "tenantId" }] },
});

// One handle for the isolate (what an app that keeps it across requests gets).
let kept;

const ops = {
  point: (db) => db.prepare("SELECT id, amount FROM events WHERE tenantId = ? AND id = ?").bind("t7", 7).all(),
  count: (db) => db.prepare("SELECT count(*) AS n, sum(amount) AS s FROM events").all(),
  top: (db) => db.prepare("SELECT tenantId, id, amount FROM events ORDER BY amount DESC, id LIMIT 10").all(),
  batch: async (db, i) => {
    const stmts = [];
    for (let k = 0; k < 10; k++) {
      stmts.push(db.prepare("INSERT INTO events VALUES (?, ?, ?)").bind(`w${k}`, 1_000_000 + i * 10 + k, k));
    }
    return db.batch(stmts);
  },
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, side, op] = url.pathname.split("/");
    const i = Number(url.searchParams.get("i") ?? 0);
    if (side === "noop") return new Response("[]");
    if (side === "setup") {
      const rows = Number(url.searchParams.get("rows"));
      const create = "CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, amount INTEGER, PRIMARY KEY (tenantId, id))";
      await env.RAW.exec(create);
      const d1plus = D1Database.fromEnv(env, POLICY, "SHARD_", { queryBudget: null });
      await d1plus.exec(create);
      for (let start = 0; start < rows; start += 30) {
        const values = [];
        const params = [];
        for (let id = start; id < Math.min(rows, start + 30); id++) {
          values.push("(?, ?, ?)");
          params.push(`t${id % 97}`, id, (id * 7919) % 1000);
        }
        const sql = `INSERT INTO events VALUES ${values.join(", ")}`;
        await env.RAW.prepare(sql).bind(...params).run();
        await d1plus.prepare(sql).bind(...params).run();
      }
      return new Response("[]");
    }
    let db;
    if (side === "raw") db = env.RAW;
    else if (side === "fresh") db = D1Database.fromEnv(env, POLICY);
    else if (side === "kept") db = kept ??= D1Database.fromEnv(env, POLICY, "SHARD_", { queryBudget: null });
    else return new Response("no such side", { status: 404 });
    const r = await ops[op](db, i);
    const rows = Array.isArray(r) ? r.map((x) => x.results ?? []) : r.results;
    return Response.json(rows);
  },
};
