// Node module hooks (registered by own-work.mjs with node:module's register(), Node 20.6+):
// a `.wasm` import gives what a Worker's bundler gives, a module whose default export is a
// compiled WebAssembly.Module (js/d1plus.js does `import wasmModule from "./pkg/….wasm"`).
export async function load(url, context, nextLoad) {
  if (url.startsWith("file:") && url.endsWith(".wasm")) {
    return {
      format: "module",
      shortCircuit: true,
      source: `import { readFileSync } from "node:fs";\nexport default new WebAssembly.Module(readFileSync(new URL(${JSON.stringify(url)})));\n`,
    };
  }
  return nextLoad(url, context);
}
