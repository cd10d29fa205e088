//! Target (b): the bytes choose a short sequence of statements from a small grammar
//! (`common/grammar.rs`), run on one plain SQLite database and on d1plus over 4 shards
//! (`common/oracle.rs`). Every statement d1plus accepts must give SQLite's rows, change
//! count and table contents, or SQLite's error; proxy refusals are fine. Panics on a
//! mismatch with the script that reproduces it.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../common/mod.rs"]
mod common;

thread_local! {
    static ORACLE: common::oracle::Oracle = common::oracle::Oracle::new();
}

fuzz_target!(|data: &[u8]| {
    ORACLE.with(|oracle| common::check_oracle(oracle, data));
});
