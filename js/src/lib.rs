//! The cdylib the JavaScript `D1Database` (js/d1plus.js) loads: it links d1plus, whose
//! `js` module holds the wasm-bindgen exports.
#[cfg(target_arch = "wasm32")]
pub use d1plus::js::Engine;
