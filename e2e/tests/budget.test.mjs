// The request budget `{ limit, used }` as the engine reads and spends it (src/js.rs,
// `takeBudget` and its slower fallback): a fan-out over 4 shards takes 4 statements, a keyed
// read 1, and a refused call runs nothing. Values d1plus.js itself never makes are read the
// way `JsBudget` documents: a limit that is not a finite number is none, a used that is not
// a positive number is 0, fractions are dropped; a getter that throws is read as absent.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nodeModule from "node:module";

const hooks = typeof nodeModule.register === "function";
if (hooks) nodeModule.register("../bench/wasm-hooks.mjs", import.meta.url);
// d1plus.js instantiates the engine's module; its exports are then ready to call.
const { engineCall } = hooks ? await import("../../js/d1plus.js") : {};
const { Engine, CallKind, Schema } = hooks ? await import("../../js/pkg/d1plus_js.js") : {};

const create = "CREATE TABLE t (k TEXT PRIMARY KEY, v)";
const catalog = [
  ["type", "name", "sql", "name", "type", "pk", "hidden", "dflt_value", "notnull"],
  ["table", "t", create, "k", "TEXT", 1, 0, null, 0],
  ["table", "t", create, "v", "", 0, 0, null, 0],
];
let reads = 0;
const fake = () => ({
  prepare: (sql) => {
    const stmt = {
      bind: () => stmt,
      raw: async () => {
        if (sql.includes("pragma_table_xinfo")) return catalog;
        reads++;
        return [["k", "v"]];
      },
    };
    return stmt;
  },
  batch: async (list) => list.map(() => ({ results: [], meta: {} })),
});
const policy = JSON.stringify({ name: "budget", capacity: { mode: "manual", targetShardCount: 4 }, sharding: { tables: [{ name: "t", keyColumn: "k" }] } });
const shards = [0, 1, 2, 3].map(fake);
const FAN_OUT = JSON.stringify({ sql: "SELECT * FROM t", params: [] });
const KEYED = JSON.stringify({ sql: "SELECT * FROM t WHERE k = ?", params: ["a"] });

// Runs `request` with `budget` on a loaded engine: [error code or null, shard reads made].
async function run(engine, request, budget) {
  reads = 0;
  const envelope = JSON.parse(await engineCall(engine, shards, CallKind.One, request, budget, Schema.Cached, undefined));
  return [envelope.error?.code ?? null, reads];
}

test("the budget is read, spent and refused as documented", { skip: !hooks && "needs Node 20.6+" }, async () => {
  const engine = new Engine(policy, undefined);
  // Load the catalog (a first call that checks the schema).
  JSON.parse(await engineCall(engine, shards, CallKind.One, KEYED, { limit: null, used: 0 }, Schema.Revalidate, undefined));

  const cases = [
    // [budget, request, expected code, reads, used after]
    [{ limit: 4, used: 0 }, FAN_OUT, null, 4, 4],
    [{ limit: 4, used: 1 }, FAN_OUT, "D1PLUS_QUERY_BUDGET", 0, 1],
    [{ limit: 4, used: 3 }, KEYED, null, 1, 4],
    [{ limit: 4.9, used: 1 }, FAN_OUT, "D1PLUS_QUERY_BUDGET", 0, 1],
    [{ limit: 5.5, used: 1.7 }, FAN_OUT, null, 4, 5],
    [{ limit: -2, used: 0 }, KEYED, "D1PLUS_QUERY_BUDGET", 0, 0],
    [{ limit: null, used: 7 }, FAN_OUT, null, 4, 11],
    [{ limit: Infinity, used: 0 }, FAN_OUT, null, 4, 4],
    [{ limit: NaN, used: 0 }, FAN_OUT, null, 4, 4],
    [{ limit: "3", used: 0 }, FAN_OUT, null, 4, 4],
    [{ limit: 4, used: NaN }, FAN_OUT, null, 4, 4],
    [{ limit: 4, used: -5 }, FAN_OUT, null, 4, 4],
    [{ limit: 4, used: "2" }, FAN_OUT, null, 4, 4],
    [{ limit: 4, used: Infinity }, KEYED, "D1PLUS_QUERY_BUDGET", 0, Infinity],
  ];
  for (const [budget, request, code, made, usedAfter] of cases) {
    const before = JSON.stringify(budget);
    const [got, reads] = await run(engine, request, budget);
    assert.equal(got, code, `${before}: code`);
    assert.equal(reads, made, `${before}: shard reads`);
    assert.equal(budget.used, usedAfter, `${before}: used after`);
  }

  // A limit whose getter throws reads as no limit; a used whose getter throws as 0.
  const throwing = {
    get limit() {
      throw new Error("no limit here");
    },
    used: 2,
  };
  assert.deepEqual(await run(engine, FAN_OUT, throwing), [null, 4]);
  assert.equal(throwing.used, 6);
  const noUsed = {
    limit: 3,
    get used() {
      throw new Error("no used here");
    },
    set used(_) {
      throw new Error("read-only");
    },
  };
  assert.deepEqual(await run(engine, FAN_OUT, noUsed), ["D1PLUS_QUERY_BUDGET", 0]);
  assert.deepEqual(await run(engine, KEYED, noUsed), [null, 1], "a setter that throws: the read still runs");
});
