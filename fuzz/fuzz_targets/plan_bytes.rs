//! Arbitrary bytes as SQL plus parameters and a hint, through parse -> analyze -> plan.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

thread_local! {
    static DB: d1plus::api::Database<d1plus::backend::sqlite::SqliteBackend> = common::database();
}

fuzz_target!(|data: &[u8]| {
    DB.with(|db| common::check_plan(db, data));
});
