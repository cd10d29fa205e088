// The JavaScript side of backend::wire: what readAll and batchAsWire (src/backend/d1.js)
// write for known answers, pinned as hex in src/backend/wire_vectors.json, which the Rust
// decoder's test (src/backend/wire.rs) reads back to hand-written values. Either side
// changing the format alone fails one of the two.
//
//   node --test tests/wire.test.mjs                          (from e2e/)
//   UPDATE_WIRE_VECTORS=1 node --test tests/wire.test.mjs    (rewrites the file: read it)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { readAll, batchAsWire, batchWire } from "../../src/backend/d1.js";

const VECTORS = new URL("../../src/backend/wire_vectors.json", import.meta.url);
const hex = (bytes) => Buffer.from(bytes).toString("hex");

// A D1-like binding whose raw() answers `answer` (or throws it, when it is an Error).
const binding = (answer) => ({
  prepare: (sql) => {
    const stmt = {
      bind: (...values) => (assert.deepEqual(values, [1, "x"]), stmt),
      raw: async (options) => {
        assert.deepEqual(options, { columnNames: true });
        assert.equal(sql, "SELECT …");
        if (answer instanceof Error) throw answer;
        return answer;
      },
    };
    return stmt;
  },
});

const reads = {
  mixed: [["id", "name", "x"], [7, "a\0b", null], [-1.5, "név ✓", true], [undefined, "", false]],
  numbers: [["n"], [0.1 + 0.2], [2 ** 60], [-0], [5e-324], [NaN], [-Infinity]],
  blobs: [["b"], [[0, 255, 9]], [new Uint8Array([1, 2])], [new Uint8Array([]).buffer], [[]]],
  long: [["t"], ["Grüße aus Köln ✓ ".repeat(3)], ["x".repeat(40)], ["😀"]],
  empty: [[]],
  names: [[1, "ok"], ["one", "two"]],
  elsewhere: [["big"], [10n]],
  failed: new Error("D1_ERROR: no such table: nope: SQLITE_ERROR"),
};

const batches = {
  objects: [
    { results: [{ b: 1, a: "x" }, { a: "y", b: 2.5 }], meta: { changes: 1, last_row_id: 5, rows_read: 2, rows_written: 1, changed_db: true, size_after: 4096, duration: 0.5 } },
    { results: [], meta: { changes: "3", changed_db: 1 } },
    { results: [{ v: [0, 1] }, {}], meta: null },
    "not a result",
  ],
};

async function written() {
  const out = {};
  const now = Date.now;
  Date.now = () => 0; // durations are written too
  try {
    const names = Object.keys(reads);
    const [bytes, errors, elsewhere] = await readAll(
      names.map((n) => binding(reads[n])),
      names.map(() => "SELECT …"),
      names.map(() => [1, "x"]),
      3,
    );
    out.reads = { order: names, hex: hex(bytes) };
    assert.equal(errors[names.indexOf("failed")], reads.failed, "what a read threw goes back as it is");
    assert.equal(elsewhere[names.indexOf("elsewhere")], reads.elsewhere, "an answer the format cannot hold goes back as it is");
  } finally {
    Date.now = now;
  }
  const [bytes, metas] = batchAsWire(batches.objects);
  out.batch = { hex: hex(bytes), metas: Array.from(metas) };
  return out;
}

test("readAll and batchAsWire write the pinned bytes", async () => {
  const got = await written();
  if (process.env.UPDATE_WIRE_VECTORS) writeFileSync(VECTORS, `${JSON.stringify(got, null, 1)}\n`);
  assert.deepEqual(got, JSON.parse(readFileSync(VECTORS, "utf8")));
});

test("readAll holds at most `limit` reads at once and keeps their order", async () => {
  let inFlight = 0;
  let most = 0;
  const slow = (i) => ({
    prepare: () => ({
      raw: () =>
        new Promise((resolve) => {
          inFlight++;
          most = Math.max(most, inFlight);
          setTimeout(() => {
            inFlight--;
            resolve([["i"], [i]]);
          }, 5 * (8 - i));
        }),
    }),
  });
  const n = 8;
  const [bytes] = await readAll(
    Array.from({ length: n }, (_, i) => slow(i)),
    Array.from({ length: n }, () => "SELECT i"),
    Array.from({ length: n }, () => []),
    3,
  );
  assert.equal(most, 3);
  // Each entry: status 0, duration, 1 name "i", 1 row of width 1, the number i.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entry = 1 + 8 + 4 + 4 + 1 + 4 + 4 + 1 + 8;
  assert.equal(bytes.length, n * entry);
  for (let i = 0; i < n; i++) assert.equal(view.getFloat64(i * entry + entry - 8, true), i);
});

test("batchWire binds each statement, runs one batch() and answers it as batchAsWire does", async () => {
  const sent = [];
  const results = [
    { results: [{ a: 1, b: "x" }], success: true, meta: { changes: 0, rows_read: 1 } },
    { results: [], success: true, meta: { changes: 2, last_row_id: 9 } },
  ];
  const db = {
    prepare: (sql) => ({ sql, params: [], bind: (...params) => ({ sql, params }) }),
    batch: async (statements) => {
      sent.push(...statements.map(({ sql, params }) => ({ sql, params })));
      return results;
    },
  };
  const [bytes, metas, back] = await batchWire(db, ["SELECT ?1", "DELETE FROM t"], [[1, "x"], []]);
  assert.deepEqual(sent, [
    { sql: "SELECT ?1", params: [1, "x"] },
    { sql: "DELETE FROM t", params: [] },
  ]);
  const [wantBytes, wantMetas] = batchAsWire(results);
  assert.deepEqual([hex(bytes), Array.from(metas)], [hex(wantBytes), Array.from(wantMetas)]);
  assert.equal(back, results, "the results themselves go back, for entries read value by value");

  // Reading a result that throws (a getter): no buffer, every result read value by value.
  const throwing = { get results() { throw new Error("getter"); }, meta: {} };
  const odd = { prepare: db.prepare, batch: async () => [throwing] };
  assert.deepEqual(await batchWire(odd, ["SELECT 1"], [[]]), [null, null, [throwing]]);

  // What prepare or batch() throws rejects the call.
  const failing = { prepare: () => { throw new Error("bad prepare"); }, batch: async () => [] };
  await assert.rejects(batchWire(failing, ["SELECT 1"], [[]]), /bad prepare/);
  const refused = { prepare: db.prepare, batch: () => { throw new Error("D1_ERROR: no"); } };
  await assert.rejects(batchWire(refused, ["SELECT 1"], [[]]), /D1_ERROR: no/);
});
