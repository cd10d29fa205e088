//! d1plus: many Cloudflare D1 (SQLite) databases behaving as one.
#![deny(missing_docs)]

pub mod backend;
pub mod error;
pub mod merge;
pub mod placement;
pub mod policy;
pub mod value;
pub mod lex;
pub mod parse;
pub mod catalog;
