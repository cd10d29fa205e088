// Bundles the test Worker (worker/app.js: Drizzle, Kysely, Prisma and the D1 surface over
// d1plus) into dist/, with the wasm modules copied beside it. Needs js/pkg (js/build.sh).
//
// Prisma's client is generated first. `prisma generate` needs no engine, but Prisma's CLI
// downloads its schema engine before anything else, from a host this machine cannot reach;
// pointing PRISMA_SCHEMA_ENGINE_BINARY at an empty file skips that (the client is generated
// with Prisma 7's wasm query compiler, shipped in the npm package).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
mkdirSync(dist, { recursive: true });

const noEngine = join(dist, "no-schema-engine");
writeFileSync(noEngine, "");
execFileSync(join(here, "node_modules/.bin/prisma"), ["generate"], {
  cwd: here,
  stdio: ["ignore", "ignore", "inherit"],
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: noEngine, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
});

// Every wasm import (d1plus's static one, Prisma's `import("…wasm?module")`) becomes a
// module beside the bundle, which workerd loads as a compiled WebAssembly.Module.
const wasmModules = {
  name: "wasm-modules",
  setup(b) {
    b.onResolve({ filter: /\.wasm(\?module)?$/ }, (args) => {
      const src = resolve(args.resolveDir, args.path.replace(/\?module$/, ""));
      copyFileSync(src, join(dist, basename(src)));
      return { path: `./${basename(src)}`, external: true };
    });
  },
};

await build({
  entryPoints: [join(here, "worker/app.js")],
  outfile: join(dist, "app.js"),
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["node:*"],
  plugins: [wasmModules],
  logLevel: "warning",
});
