// Bundles the test Worker (worker/app.js: Drizzle, Kysely and the D1 surface over d1plus)
// into dist/, with the wasm engine copied beside it. Needs js/pkg (js/build.sh) first.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
await build({
  entryPoints: [join(here, "worker/app.js")],
  outdir: join(here, "dist"),
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  loader: { ".wasm": "copy" },
  logLevel: "warning",
});
