// What d1plus costs inside workerd, case by case, each a request (medians of
// FIRST_CALL_ROUNDS rounds, the cases interleaved): engine calls (an explain, which answers
// from its start) and trivial sync calls (shardCount) without D1,
// the same right after direct D1 reads, and a kept handle's point read against the same read
// sent to its shard, once and ten times a request. See BENCHMARKS.md (In a Worker): after an
// I/O completes, the first call into wasm that does real work costs tens of us more (when
// engine calls were Rust futures behind promises, the first one cost about 90 us more
// than it does otherwise); Node (e2e/bench/own-work.mjs) does not show it.
//
//   cd e2e && node bench/first-call.mjs     (needs js/pkg: bash js/build.sh)
import { performance } from "node:perf_hooks";
import { ROOT, start } from "../tests/harness.mjs";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const ROUNDS = Number(process.env.FIRST_CALL_ROUNDS ?? 300);
const persist = mkdtempSync(join(tmpdir(), "d1plus-first-call-"));
const mf = await start(join(ROOT, "e2e/bench/first-call-worker.js"), {}, [], { d1Persist: persist });
const call = async (path) => {
  const r = await mf.dispatchFetch(`http://bench${path}`);
  if (!r.ok) throw new Error(`${path}: ${await r.text()}`);
  await r.text();
};
await call("/setup");
const names = ["noop", "direct10", "direct10sync", "direct10run", "direct10run2", "direct10engine", "engine10", "direct10fr", "direct10mimic", "run10", "sync10", "direct", "d1plus", "d1plus10"];
const samples = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < 50; i++) for (const n of names) await call(`/${n}`);
for (let i = 0; i < ROUNDS; i++) {
  for (const n of names) {
    const t = performance.now();
    await call(`/${n}?i=${i}`);
    samples[n].push(performance.now() - t);
  }
}
await mf.dispose();
rmSync(persist, { recursive: true, force: true });
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const m = Object.fromEntries(names.map((n) => [n, median(samples[n])]));
const us = (x) => `${(x * 1000).toFixed(0)} us`;
console.log(`medians of ${ROUNDS} requests per case, ms:`, Object.fromEntries(names.map((n) => [n, +m[n].toFixed(3)])));
console.log(`without D1: an engine call (explain) ${us((m.run10 - m.noop) / 10)}, a trivial sync one ${us((m.sync10 - m.noop) / 10)}`);
console.log(`after each of ten direct D1 reads: a trivial sync call +${us((m.direct10sync - m.direct10) / 10)}, an engine call (explain) +${us((m.direct10run - m.direct10) / 10)}, two engine calls +${us((m.direct10run2 - m.direct10) / 10)}`);
console.log(`a sync call doing real work (new Engine): ${us((m.engine10 - m.noop) / 10)} alone, +${us((m.direct10engine - m.direct10) / 10)} after each of ten direct D1 reads`);
console.log(`after each of ten direct D1 reads, ruled out: a FinalizationRegistry registration +${us((m.direct10fr - m.direct10) / 10)}, a promise settled by a microtask calling wasm +${us((m.direct10mimic - m.direct10) / 10)}`);
console.log(`point read, kept handle: +${us(m.d1plus - m.direct)} over the read sent to its shard, once a request; +${us((m.d1plus10 - m.direct10) / 10)} a read, ten a request`);
