//! `d1plus watch`: the realtime change stream of a local database, one JSON line per event.

use crate::cli::open;
use d1plus::api::Options;
use d1plus::error::Error;
use d1plus::realtime::{self, Cursor, Subscription};
use d1plus::value::Value;
use futures::executor::block_on;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// `d1plus watch`'s arguments.
#[derive(clap::Args)]
pub(crate) struct WatchArgs {
    /// Database directory.
    dir: PathBuf,
    /// Only these realtime tables (repeat the flag for several; default: all of them).
    #[arg(long = "table")]
    tables: Vec<String>,
    /// Only the rows of this shard key (a tenant's rows; every table must be sharded).
    /// Text as given, or a number when the key column is numeric.
    #[arg(long)]
    key: Option<String>,
    /// Resume after this cursor (an event's `cursor`); default: from now.
    #[arg(long)]
    from: Option<String>,
    /// How often the shards' logs are read, in milliseconds.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
    /// Stop after this many events.
    #[arg(long)]
    limit: Option<usize>,
}

/// Prints events as writes commit, until `--limit` events (or forever).
pub(crate) fn watch(args: WatchArgs) -> Result<(), Error> {
    let db = open(&args.dir, Options::default())?;
    let mut cursor = match &args.from {
        Some(c) => Cursor::decode(c, db.policy().shard_count())?,
        None => block_on(realtime::now(&db))?,
    };
    if args.from.is_none() {
        // Where this stream starts, for a client that wants to resume from the very start.
        eprintln!("watching from {}", cursor.encode());
    }
    let subscription = Subscription {
        tables: args.tables.clone(),
        key: args.key.clone().map(Value::Text),
    };
    let mut printed = 0usize;
    let mut out = std::io::stdout().lock();
    loop {
        let (events, next) = block_on(realtime::poll(&db, &cursor, &subscription, 1000))?;
        for e in &events {
            let line = serde_json::to_string(e).unwrap_or_default();
            if let Err(err) = writeln!(out, "{line}").and_then(|()| out.flush()) {
                crate::stdout_failed(err)
            }
            printed += 1;
            if args.limit.is_some_and(|l| printed >= l) {
                return Ok(());
            }
        }
        cursor = next;
        if events.is_empty() {
            std::thread::sleep(Duration::from_millis(args.interval_ms.max(1)));
        }
    }
}
