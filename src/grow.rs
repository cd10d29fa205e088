//! The commands that grow a database and its schema: `d1plus split` and `d1plus schema`.

use crate::cli::{open, usage};
use clap::Subcommand;
use d1plus::api::Options;
use d1plus::error::Error;
use std::path::{Path, PathBuf};

/// `d1plus split`'s arguments: double the shards online (shard i of n becomes 2i and 2i+1
/// of 2n), repeated up to --to, while other processes keep reading and writing. Resumable:
/// after a failure or a kill, run the same command again.
#[derive(clap::Args)]
pub(crate) struct SplitArgs {
    /// Database directory.
    pub(crate) dir: PathBuf,
    /// The shard count to end with (default: twice the current one, or the target
    /// of the split in progress).
    #[arg(long)]
    pub(crate) to: Option<usize>,
    /// Return to the layout before the split in progress (before its cutover).
    #[arg(long, conflicts_with_all = ["to", "auto"])]
    pub(crate) abort: bool,
    /// Split as the policy's `"mode": "auto"` capacity says: while a shard passes
    /// its thresholds and the count is below maxShardCount.
    #[arg(long, conflicts_with = "to")]
    pub(crate) auto: bool,
    /// Rows per copy transaction (smaller: shorter locks on the old files).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) chunk_rows: usize,
}

#[derive(Subcommand)]
pub(crate) enum SchemaCommand {
    /// Print the CREATE statements of the declaration.
    Sql {
        /// The declaration (JSON).
        file: PathBuf,
    },
    /// Print TypeScript row types of the declaration (for `table<Row>(name)`).
    Types {
        /// The declaration (JSON).
        file: PathBuf,
    },
    /// Write the next migration (MIGRATIONS_DIR/NNNN_NAME.sql) that takes DIR's applied
    /// schema to the declaration: new tables, columns and indexes; drops only with
    /// --allow-destructive.
    Diff {
        /// Database directory (its applied schema).
        dir: PathBuf,
        /// The declaration (JSON).
        file: PathBuf,
        /// Where the migration files are.
        migrations_dir: PathBuf,
        /// The new migration's name (after its number).
        #[arg(long, default_value = "schema")]
        name: String,
        /// Also write drops of tables, columns and indexes the declaration leaves out.
        #[arg(long)]
        allow_destructive: bool,
    },
}

/// `d1plus schema sql|types|diff`.
pub(crate) fn schema(command: SchemaCommand) -> Result<(), Error> {
    let read = |file: &Path| -> Result<d1plus::schema::SchemaDecl, Error> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| usage(&format!("cannot read {}: {e}", file.display())))?;
        d1plus::schema::SchemaDecl::from_json(&text)
    };
    match command {
        SchemaCommand::Sql { file } => say_part!("{}", read(&file)?.create_sql()?),
        SchemaCommand::Types { file } => say_part!("{}", read(&file)?.typescript()),
        SchemaCommand::Diff {
            dir,
            file,
            migrations_dir,
            name,
            allow_destructive,
        } => {
            let decl = read(&file)?;
            let db = open(&dir, Options::default())?;
            let indexes = db
                .backend()
                .with_connection(0, |c| -> rusqlite::Result<Vec<(String, String)>> {
                    let mut stmt = c.prepare(
                        "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL",
                    )?;
                    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect()
                })?
                .map_err(|e| Error::backend(Some(0), d1plus::error::sqlite_message(e)))?;
            let steps = d1plus::schema::diff(&decl, &db.catalog(), &indexes, allow_destructive)?;
            if steps.is_empty() {
                say!("the applied schema already matches {}", file.display());
                return Ok(());
            }
            let path = next_migration(&migrations_dir, &name)?;
            let text: String = steps.iter().map(|s| format!("{s};\n")).collect();
            std::fs::write(&path, &text)
                .map_err(|e| usage(&format!("cannot write {}: {e}", path.display())))?;
            say_part!("{text}");
            say!("wrote {} ({} statements)", path.display(), steps.len());
        }
    }
    Ok(())
}

/// MIGRATIONS_DIR/NNNN_name.sql, numbered after the last migration there.
fn next_migration(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        || name.is_empty()
    {
        return Err(usage("--name takes letters, digits, _ and -"));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| usage(&format!("cannot create {}: {e}", dir.display())))?;
    let last = std::fs::read_dir(dir)
        .map_err(|e| usage(&format!("cannot read {}: {e}", dir.display())))?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".sql")
                .then(|| n.split('_').next()?.parse::<u32>().ok())
                .flatten()
        })
        .max()
        .unwrap_or(0);
    Ok(dir.join(format!("{:04}_{name}.sql", last + 1)))
}

/// `d1plus split DIR [--to N | --abort | --auto]`, with a progress line on stderr.
pub(crate) fn split(args: SplitArgs) -> Result<(), Error> {
    let SplitArgs {
        dir,
        to,
        abort,
        auto,
        chunk_rows,
    } = args;
    let (dir, chunk_rows) = (dir.as_path(), chunk_rows.max(1));
    if abort {
        if d1plus::split::abort(dir)? {
            say!("split aborted: the old shards serve on unchanged");
        } else {
            say!("no split in progress");
        }
        return Ok(());
    }
    let to = if auto {
        let decision = d1plus::split::auto_target(dir)?;
        say!("{}", decision.reason);
        match decision.to {
            Some(to) => Some(to),
            None => return Ok(()),
        }
    } else {
        to
    };
    let options = d1plus::split::SplitOptions {
        to,
        chunk_rows,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let mut last = std::time::Instant::now() - std::time::Duration::from_secs(1);
    let reports = d1plus::split::split(dir, &options, &mut |p| {
        if last.elapsed().as_millis() >= 200 || p.stage == "done" {
            last = std::time::Instant::now();
            eprint!(
                "\r{} -> {} shards: {:<8} shard {:>2}, {} rows copied, {} changes caught up   ",
                p.from, p.to, p.stage, p.shard, p.rows, p.changes
            );
        }
    })?;
    if !reports.is_empty() {
        eprintln!();
    }
    for r in &reports {
        say!(
            "split {} -> {} shards: {} rows copied, {} changes caught up, writes paused {:.1} ms, {:.2} s",
            r.from,
            r.to,
            r.rows,
            r.changes,
            r.write_pause.as_secs_f64() * 1000.0,
            r.elapsed.as_secs_f64()
        );
    }
    if reports.is_empty() {
        say!("nothing to split");
    } else {
        say!("done in {:.2} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}
