// Shard answers of every shape a D1 binding could hand back, generated, read through the
// whole Worker path (readAll's buffer or, for values it cannot hold, value by value; the
// engine's fan-out; its JSON answer): d1plus's raw({ columnNames: true }) must give each
// value as D1's reading rules say (README: numbers integral within 2^53 stay integers,
// other finite numbers keep every bit, booleans are 1/0, blobs arrays of bytes, text as
// UTF-8 carries it). Runs in Node over fake bindings; needs js/pkg (bash js/build.sh).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as nodeModule from "node:module";

// The .wasm import needs module hooks (Node 20.6 or later; the README asks for 20.3).
const hooks = typeof nodeModule.register === "function";
if (hooks) nodeModule.register("../bench/wasm-hooks.mjs", import.meta.url);
const { D1Database } = hooks ? await import("../../js/d1plus.js") : {};

const SHARDS = 4;
const create = "CREATE TABLE t (k TEXT PRIMARY KEY, v)";
const catalog = [
  ["type", "name", "sql", "name", "type", "pk", "hidden", "dflt_value", "notnull"],
  ["table", "t", create, "k", "TEXT", 1, 0, null, 0],
  ["table", "t", create, "v", "", 0, 0, null, 0],
];

let answers = []; // shard i's raw({ columnNames: true }) answer for the read under test
let batchResults = null; // what a batch() answers, when set
let failing = null; // the shard whose calls throw, and what
const fake = (shard) => ({
  prepare: (sql) => {
    const stmt = {
      bind: () => stmt,
      raw: async () => {
        if (sql.includes("pragma_table_xinfo")) return catalog;
        if (failing?.shard === shard) throw failing.error;
        return answers[shard];
      },
    };
    return stmt;
  },
  batch: async (list) => batchResults ?? list.map(() => ({ results: [], meta: {} })),
});
const policy = { name: "wire", capacity: { mode: "manual", targetShardCount: SHARDS }, sharding: { tables: [{ name: "t", keyColumn: "k" }] } };
const db = hooks && new D1Database(Array.from({ length: SHARDS }, (_, i) => fake(i)), policy, { queryBudget: null });

let seed = 0x9e3779b97f4a7c15n;
const next = () => {
  seed ^= (seed << 13n) & 0xffffffffffffffffn;
  seed ^= seed >> 7n;
  seed ^= (seed << 17n) & 0xffffffffffffffffn;
  return Number(seed & 0xffffffffn);
};
const pick = (xs) => xs[next() % xs.length];
const chars = ["a", "Z", "0", " ", "\0", "é", "ß", "✓", "日", "😀", "\ud800", "\udfff", "'", '"', "\\", "\n"];
const text = () => Array.from({ length: next() % 40 }, () => pick(chars)).join("");
const doubles = [0, -0, 1, -1, 0.5, 0.1 + 0.2, 1e300, -1e-300, 5e-324, 2 ** 53, 2 ** 53 + 2, -(2 ** 60), 1.5e15 + 0.5, NaN, Infinity, -Infinity];
const value = () => {
  switch (next() % 12) {
    case 0: return null;
    case 1: return undefined;
    case 2: return next() - 2 ** 31;
    case 3: return pick(doubles);
    case 4: return (next() / 2 ** 32) * 10 ** ((next() % 40) - 20);
    case 5: case 6: return text();
    case 7: return next() % 2 === 0;
    case 8: return Array.from({ length: next() % 6 }, () => next() % 256);
    case 9: return Uint8Array.from({ length: next() % 6 }, () => next() % 256);
    case 10: return pick([10n, { a: 1 }, [1.5, 300, -1, "x"], new Uint8Array([7]).buffer]);
    default: return pick(doubles);
  }
};

// What d1plus reads a value as, by D1's rules (and, for what D1 never sends, the engine's
// rules for reading a JavaScript value: see from_js in src/backend/d1.rs).
const utf8 = (s) => new TextDecoder().decode(new TextEncoder().encode(s));
function expected(v) {
  if (typeof v === "number") return Number.isFinite(v) ? (Object.is(v, -0) ? 0 : v) : null;
  if (typeof v === "string") return utf8(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map((b) => (typeof b === "number" ? Math.min(255, Math.max(0, Math.trunc(b) || 0)) : 0));
  if (v instanceof Uint8Array) return Array.from(v);
  if (v instanceof ArrayBuffer) return Array.from(new Uint8Array(v));
  if (typeof v === "bigint") return "";
  return JSON.stringify(v);
}

test("generated shard answers read back by D1's rules across a fan-out", { skip: !hooks && "needs Node 20.6+" }, async () => {
  const names = ["k", "v"];
  for (let round = 0; round < 300; round++) {
    const width = 1 + (next() % 4);
    const columns = Array.from({ length: width }, (_, j) => (j < 2 ? names[j] : pick(["x", "k", "", "é", "12"])));
    answers = Array.from({ length: SHARDS }, () => [columns, ...Array.from({ length: next() % 5 }, () => Array.from({ length: width }, value))]);
    const sql = `SELECT ${columns.map((c, j) => (j < 2 ? c : `v AS "${c}"`)).join(", ")} FROM t`;
    const got = await db.prepare(sql).raw({ columnNames: true });
    const want = [columns, ...answers.flatMap((a) => a.slice(1).map((row) => row.map(expected)))];
    assert.equal(got.length, want.length, `round ${round}: ${sql}`);
    assert.deepEqual(got[0], want[0], `round ${round}: names`);
    for (let i = 1; i < want.length; i++) {
      for (let j = 0; j < width; j++) {
        const [g, w] = [got[i][j], want[i][j]];
        assert.ok(Object.is(g, w) || (typeof w === "object" && w !== null && JSON.stringify(g) === JSON.stringify(w)) || g === w, `round ${round}, row ${i}, column ${j}: got ${String(g)} (${typeof g}), want ${String(w)} (${typeof w}); the shard sent ${String(answers.flat()[0])}`);
      }
    }
  }
});

// batch() answers rows as objects: two reads of one shard share its batch(), and their
// results cross in the same buffer (batchAsWire), read by the first row's keys.
test("generated batch() results read back by the first row's keys", { skip: !hooks && "needs Node 20.6+" }, async () => {
  const keys = ["a", "b", "é", "k v", "__d1p"];
  const read = db && db.prepare("SELECT k, v FROM t WHERE k = ?").bind("same");
  for (let round = 0; round < 200; round++) {
    const results = Array.from({ length: 2 }, () => {
      const names = keys.filter(() => next() % 2 === 0);
      const rows = Array.from({ length: next() % 4 }, () => Object.fromEntries(names.filter(() => next() % 5 !== 0).map((n) => [n, value()])));
      return { results: rows, meta: { changes: 0, last_row_id: 0, rows_read: rows.length, rows_written: 0, changed_db: false, size_after: 0, duration: 0.25 } };
    });
    batchResults = results;
    let got;
    try {
      got = await db.batch([read, read]);
    } finally {
      batchResults = null;
    }
    for (let r = 0; r < 2; r++) {
      const rows = results[r].results;
      const names = rows.length ? Object.keys(rows[0]) : [];
      const want = rows.map((row) => Object.fromEntries(names.map((n) => [n, expected(row[n])])));
      assert.equal(JSON.stringify(got[r].results), JSON.stringify(want), `round ${round}, result ${r}`);
    }
  }
});

// A shard whose call throws: the error names that shard and carries what it threw.
test("a fan-out's failing shard is the one its error names", { skip: !hooks && "needs Node 20.6+" }, async () => {
  answers = Array.from({ length: SHARDS }, () => [["k", "v"], ["x", 1]]);
  for (let shard = 0; shard < SHARDS; shard++) {
    failing = { shard, error: new Error(`D1_ERROR: shard ${shard} is down: SQLITE_IOERR`) };
    try {
      const e = await db.prepare("SELECT k, v FROM t").all().then(() => null, (x) => x);
      assert.ok(e, `shard ${shard} down: the fan-out fails`);
      assert.equal(e.shard, shard);
      assert.match(e.message, new RegExp(`shard ${shard} is down`));
    } finally {
      failing = null;
    }
  }
});
