//! Every per-shard statement d1plus writes prepares on SQLite when the original does.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

thread_local! {
    static DB: d1plus::api::Database<d1plus::backend::sqlite::SqliteBackend> = common::database();
}

fuzz_target!(|data: &[u8]| {
    let sql = String::from_utf8_lossy(data);
    DB.with(|db| common::check_rewrite_prepares(db, &sql));
});
