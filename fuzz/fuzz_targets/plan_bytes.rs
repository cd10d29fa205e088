//! Target (a): arbitrary bytes as SQL, with parameters and a hint decoded from a header
//! byte (see `common::decode`), through parse -> analyze -> plan. Never a panic, an
//! internal error, a hang or unbounded memory; plans deterministic and well formed.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../common/mod.rs"]
mod common;

thread_local! {
    static DB: d1plus::api::Database<d1plus::backend::sqlite::SqliteBackend> = common::database();
}

fuzz_target!(|data: &[u8]| {
    DB.with(|db| common::check_plan(db, data));
});
