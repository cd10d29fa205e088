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
const COLD_BOOTS = Number(process.env.BENCH_COLD_BOOTS ?? 5);

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
  const { mf } = await boot(worker);
  await call(mf, `/setup?rows=${ROWS}`);
  await mf.dispose();

  // Cold start, each side booted COLD_BOOTS times (medians): a Worker without d1plus
  // (raw-worker.js) against the bench Worker, each timed to ready and to its first point
  // read, through the raw binding and through d1plus respectively.
  const rawWorker = join(ROOT, "e2e/bench/raw-worker.js");
  const readyRaw = [], firstRaw = [], readyD1plus = [], firstD1plus = [];
  let m;
  for (let b = 0; b < COLD_BOOTS; b++) {
    const raw = await boot(rawWorker);
    readyRaw.push(raw.ready);
    let t = performance.now();
    await call(raw.mf, "/raw/point");
    firstRaw.push(performance.now() - t);
    await raw.mf.dispose();

    const again = await boot(worker);
    readyD1plus.push(again.ready);
    t = performance.now();
    await call(again.mf, "/fresh/point");
    firstD1plus.push(performance.now() - t);
    if (b + 1 < COLD_BOOTS) await again.mf.dispose();
    else m = again.mf;
  }
  const [readyRawMs, firstRawMs, readyD1plusMs, firstD1plusMs] = [readyRaw, firstRaw, readyD1plus, firstD1plus].map(median);

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
  const addedReady = readyD1plusMs - readyRawMs;
  const addedFirst = firstD1plusMs - firstRawMs;
  console.log(`cold (medians of ${COLD_BOOTS} boots each): workerd ready in ${readyRawMs.toFixed(0)} ms without d1plus, ${readyD1plusMs.toFixed(0)} ms with it (+${addedReady.toFixed(1)} ms: the module encoded into miniflare's config, about 35 ms/MB, and loaded by workerd, about 30 ms: see BENCHMARKS.md); first point read of a fresh isolate ${firstRawMs.toFixed(1)} ms raw, ${firstD1plusMs.toFixed(1)} ms through d1plus (+${addedFirst.toFixed(1)} ms: wasm instantiated, engine made, schema read); added cold start ${(addedReady + addedFirst).toFixed(1)} ms`);
}

try {
  await main();
} finally {
  rmSync(PERSIST, { recursive: true, force: true });
}
