// What d1plus costs inside workerd, case by case, each a request (medians of
// FIRST_CALL_ROUNDS rounds, the cases interleaved): the engine's first async call of a
// request against its later ones (explain, explain2, explain10: no D1 call), sync calls,
// and a kept handle's point read against the same read on its shard directly: once a
// request, ten a request, and one among nine direct reads. See BENCHMARKS.md (In a Worker):
// a lone read adds tens of us, but each of ten in one request about 200 us, which Node
// (e2e/bench/own-work.mjs) does not show.
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
const names = ["noop", "sync", "explain", "explain2", "explain10", "shard", "d1plus", "shard10", "shardraw10", "d1plus10", "d1plus1shard9", "shard9d1plus1"];
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
console.log(`explain, the request's first engine call: +${us(m.explain - m.noop)} over a no-op request; each later one: ${us((m.explain10 - m.explain) / 9)}`);
console.log(`point read, kept handle: +${us(m.d1plus - m.shard)} over the shard read directly, once a request; +${us((m.d1plus10 - m.shard10) / 10)} a read, ten a request; one of ten reads through d1plus: +${us(m.d1plus1shard9 - m.shard10)} (first) or +${us(m.shard9d1plus1 - m.shard10)} (last); raw() instead of all() on the shard, ten a request: ${us((m.shardraw10 - m.shard10) / 10)} a read`);
