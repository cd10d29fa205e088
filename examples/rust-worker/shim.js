// The module Worker around the wasm-bindgen output (what worker-build generates, by hand):
// build.sh puts the wasm and its JavaScript glue in pkg/.
import { initSync, fetch as wasmFetch } from "./pkg/d1plus_rust_worker.js";
import wasmModule from "./pkg/d1plus_rust_worker_bg.wasm";

initSync({ module: wasmModule });

export default {
  fetch(request, env, ctx) {
    return wasmFetch(request, env, ctx);
  },
};
