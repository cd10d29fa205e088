//! d1plus: many Cloudflare D1 (SQLite) databases behaving as one.
//!
//! ```text
//! SQL text + params (+ optional shard hint)
//!   -> parse     SQLite-faithful tokens, parameter numbering, sqlparser AST   (parse, lex)
//!   -> analyze   tables, statement class, shard keys pinned by WHERE           (analyze)
//!   -> plan      route + per-shard SQL + how to combine answers                (plan)
//!   -> execute   backend: SQLite files (native) or D1 bindings (wasm)          (execute, backend)
//!   -> result    D1-shaped: { results, success, meta }                         (api)
//! ```
//!
//! Glossary:
//! - **shard**: one D1 database (natively, one SQLite file); 1 to 64 of them, a power of two.
//! - **home shard**: shard 0, where unsharded tables live.
//! - **key**: the shard key column of a sharded table; its value decides the row's shard.
//! - **route**: where a statement runs (home, one shard, some shards, all shards) and why.
//! - **hint**: a caller-given `{ table, key }` that routes a statement to that key's shard.
//! - **reference table**: a small table copied on every shard, so sharded tables can join it.
//!
//! ```
//! use d1plus::api::{Database, Options};
//! use d1plus::backend::sqlite::SqliteBackend;
//! use d1plus::policy::Policy;
//! use d1plus::value::Value;
//! use futures::executor::block_on;
//!
//! let policy = Policy::from_json(r#"{"name": "app",
//!     "capacity": {"mode": "manual", "targetShardCount": 4},
//!     "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}]}}"#)?;
//! let db = block_on(Database::open(policy, SqliteBackend::in_memory(4)?, Options::default()))?;
//! block_on(db.exec("CREATE TABLE events (tenantId TEXT, id INTEGER, PRIMARY KEY (tenantId, id))"))?;
//! let (acme, globex) = (Value::Text("acme".into()), Value::Text("globex".into()));
//! block_on(db.query("INSERT INTO events VALUES (?, 1), (?, 2)", &[acme.clone(), globex], None))?;
//! let r = block_on(db.query("SELECT id FROM events WHERE tenantId = ?", &[acme], None))?;
//! assert_eq!(r.rows, vec![vec![Value::Integer(1)]]);
//! assert_eq!(r.meta.shards.len(), 1); // one shard answered
//! # Ok::<(), d1plus::error::Error>(())
//! ```
#![deny(missing_docs)]

pub mod analyze;
pub mod api;
pub mod backend;
pub mod bookmark;
pub mod cache;
pub mod capture;
pub mod catalog;
pub mod error;
pub mod execute;
mod guard;
#[cfg(target_arch = "wasm32")]
pub mod js;
#[cfg(not(target_arch = "wasm32"))]
pub mod layout;
pub mod lex;
pub mod merge;
pub mod migrate;
pub mod parse;
pub mod placement;
pub mod plan;
pub mod policy;
pub mod realtime;
pub mod reshard;
pub mod schema;
#[cfg(not(target_arch = "wasm32"))]
pub mod slt;
#[cfg(not(target_arch = "wasm32"))]
pub mod split;
pub mod sql;
mod sqlite_fp;
pub mod status;
pub mod table;
#[cfg(not(target_arch = "wasm32"))]
pub mod transfer;
pub mod validate;
pub mod value;
pub mod workers;
