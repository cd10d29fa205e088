// A fresh isolate's first request, phase by phase: each case boots a new workerd (miniflare)
// over the same persisted data and times its ready and its first request, medians of
// COLD_BOOTS boots, the cases interleaved. `raw` is raw-worker.js (no d1plus); the others are
// cold-worker.js stopping after: nothing (`noop`), making the engine (`engine`), an explain
// of the point read (`explain`: the schema read, parse, plan), a direct read of one shard
// (`rawread`), the point read through d1plus (`point`).
//
//   cd e2e && node bench/cold.mjs     (needs js/pkg: bash js/build.sh)
import { performance } from "node:perf_hooks";
import { ROOT, start } from "../tests/harness.mjs";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const PERSIST = mkdtempSync(join(tmpdir(), "d1plus-cold-"));
const BOOTS = Number(process.env.COLD_BOOTS ?? 7);
const boot = async (path) => {
  const t = performance.now();
  const mf = await start(path, {}, ["RAW"], { d1Persist: PERSIST });
  return { mf, ready: performance.now() - t };
};
{
  const { mf } = await boot(join(ROOT, "e2e/bench/worker.js"));
  await (await mf.dispatchFetch("http://bench/setup?rows=2000")).text();
  await mf.dispose();
}
const cold = join(ROOT, "e2e/bench/cold-worker.js");
const cases = [
  ["raw", join(ROOT, "e2e/bench/raw-worker.js"), "/raw/point"],
  ...["noop", "engine", "explain", "rawread", "point"].map((p) => [p, cold, `/${p}`]),
];
const times = Object.fromEntries(cases.map(([n]) => [n, { ready: [], first: [] }]));
for (let b = 0; b < BOOTS; b++) {
  for (const [name, path, request] of cases) {
    const { mf, ready } = await boot(path);
    const t = performance.now();
    const r = await mf.dispatchFetch(`http://bench${request}`);
    const body = await r.text();
    const first = performance.now() - t;
    await mf.dispose();
    if (!r.ok) throw new Error(`${name}: ${body}`);
    times[name].ready.push(ready);
    times[name].first.push(first);
  }
}
rmSync(PERSIST, { recursive: true, force: true });
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`medians of ${BOOTS} fresh boots per case, ms`);
for (const [name] of cases) {
  console.log(`${name.padEnd(8)} ready ${median(times[name].ready).toFixed(1)}  first request ${median(times[name].first).toFixed(1)}`);
}
