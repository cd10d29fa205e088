// Worker benchmark on local D1 (miniflare): d1plus over 4 shards against a raw D1 binding
// holding the same rows. Prints per-request medians and ratios, and the added cold start.
//
//   node e2e/bench/run.mjs            (needs js/pkg: bash js/build.sh; e2e's npm packages)
//
// Every request is one dispatchFetch into workerd; a no-op request is timed too, so the
// figures can be read with and without the dispatch cost. Each operation's answers are
// compared between the raw binding and d1plus before anything is timed.
import { performance } from "node:perf_hooks";
import assert from "node:assert/strict";
import { ROOT, start } from "../tests/harness.mjs";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const PERSIST = mkdtempSync(join(tmpdir(), "d1plus-bench-"));

const ROWS = 2000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 300);

async function boot(scriptPath) {
  const started = performance.now();
  const mf = await start(scriptPath, {}, ["RAW"], { d1Persist: PERSIST });
  return { mf, ready: performance.now() - started };
}

async function call(mf, path) {
  const r = await mf.dispatchFetch(`http://bench${path}`);
  const body = await r.json();
  if (!r.ok) throw new Error(`${path}: ${JSON.stringify(body)}`);
  return body;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(mf, path, rounds) {
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await call(mf, `${path}?i=${i}`);
    samples.push(performance.now() - t);
  }
  return median(samples);
}

const sortRows = (rows) => [...rows].map((r) => JSON.stringify(r)).sort();

async function main() {
  // The data, then fresh isolates (new workerd processes over the persisted databases):
  // the first request of one reads through the raw binding, of another through d1plus.
  const worker = join(ROOT, "e2e/bench/worker.js");
  const { mf, ready } = await boot(worker);
  await call(mf, `/setup?rows=${ROWS}`);
  await mf.dispose();

  const fresh = await boot(worker);
  const firstRaw = performance.now();
  await call(fresh.mf, "/raw/point");
  const firstRawMs = performance.now() - firstRaw;
  await fresh.mf.dispose();

  const again = await boot(worker);
  const firstD1plus = performance.now();
  await call(again.mf, "/fresh/point");
  const firstD1plusMs = performance.now() - firstD1plus;
  const m = again.mf;

  for (const op of ["point", "count", "top"]) {
    const raw = await call(m, `/raw/${op}`);
    const viaD1plus = await call(m, `/fresh/${op}`);
    assert.deepEqual(sortRows(viaD1plus), sortRows(raw), `${op}: d1plus and the raw binding differ`);
  }

  const noop = await time(m, "/noop/x", ROUNDS);
  const lines = [];
  const row = (name, raw, d) =>
    lines.push(
      `| ${name} | ${raw.toFixed(3)} | ${d.toFixed(3)} | ${(d / raw).toFixed(2)}x | +${((d - raw) * 1000).toFixed(0)} us | ${((d - noop) / (raw - noop)).toFixed(2)}x |`,
    );
  for (const op of ["point", "count", "top"]) {
    const raw = await time(m, `/raw/${op}`, ROUNDS);
    const kept = await time(m, `/kept/${op}`, ROUNDS);
    const fr = await time(m, `/fresh/${op}`, ROUNDS);
    row(`${op}, one handle for the isolate`, raw, kept);
    row(`${op}, a new D1Database per request`, raw, fr);
  }
  const rawBatch = await time(m, "/raw/batch", Math.min(ROUNDS, 100));
  const freshBatch = await time(m, "/fresh/batch", Math.min(ROUNDS, 100));
  row("batch of 10 INSERTs (new handle)", rawBatch, freshBatch);
  await m.dispose();

  console.log(`miniflare ${ROWS} rows, ${ROUNDS} requests per case, medians in ms (dispatch of a no-op request: ${noop.toFixed(3)} ms)`);
  console.log("| case | raw D1 | d1plus | ratio | added | ratio without dispatch |");
  console.log("|---|---|---|---|---|---|");
  for (const l of lines) console.log(l);
  console.log(`cold: workerd ready in ${ready.toFixed(0)} ms (module with d1plus loaded); first request of a fresh isolate: raw ${firstRawMs.toFixed(1)} ms, d1plus ${firstD1plusMs.toFixed(1)} ms (+${(firstD1plusMs - firstRawMs).toFixed(1)} ms: wasm instantiation, engine, schema read)`);
}

try {
  await main();
} finally {
  rmSync(PERSIST, { recursive: true, force: true });
}
