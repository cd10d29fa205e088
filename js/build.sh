#!/usr/bin/env bash
# Builds the wasm engine behind js/d1plus.js into js/pkg/ (release, wasm-bindgen --target web).
# Needs: rustup target wasm32-unknown-unknown, and the wasm-bindgen CLI of the exact version
# pinned in Cargo.toml (cargo install wasm-bindgen-cli --version 0.2.130).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile wasm-release -q --target wasm32-unknown-unknown -p d1plus-js
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir js/pkg \
  target/wasm32-unknown-unknown/wasm-release/d1plus_js.wasm
wasm="js/pkg/d1plus_js_bg.wasm"
echo "built $wasm: $(wc -c <"$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"
