//! Target (c): arbitrary SQL (mutated with `dict/sql.dict`) planned by d1plus. Whenever the
//! original prepares on a shard, every per-shard statement d1plus writes prepares too and
//! binds exactly its parameters.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../common/mod.rs"]
mod common;

thread_local! {
    static DB: d1plus::api::Database<d1plus::backend::sqlite::SqliteBackend> = common::database();
}

fuzz_target!(|data: &[u8]| {
    let sql = String::from_utf8_lossy(data);
    DB.with(|db| common::check_rewrite_prepares(db, &sql));
});
