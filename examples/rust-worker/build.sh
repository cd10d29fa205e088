#!/usr/bin/env bash
# Builds the Rust Worker into examples/rust-worker/pkg (wasm-bindgen --target web); shim.js
# is its entry module.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --profile wasm-release -q --target wasm32-unknown-unknown -p d1plus-rust-worker
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir examples/rust-worker/pkg target/wasm32-unknown-unknown/wasm-release/d1plus_rust_worker.wasm
