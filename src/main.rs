//! The `d1plus` command line: a sharded logical database over local SQLite files.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
/// `println!` that ends the program quietly when stdout is a closed pipe
/// (`d1plus query … | head -1`), as other command-line tools do, instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            $crate::stdout_failed(e)
        }
    }};
}

#[cfg(not(target_arch = "wasm32"))]
/// `print!`, likewise.
macro_rules! say_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout(), $($arg)*) {
            $crate::stdout_failed(e)
        }
    }};
}

/// A write to stdout failed: a closed pipe ends the program with success, anything else
/// with an error.
#[cfg(not(target_arch = "wasm32"))]
fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to stdout: {e}");
    std::process::exit(1)
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use super::stdout_failed;
    use clap::{Parser, Subcommand, ValueEnum};
    use d1plus::api::{Database, Options};
    use d1plus::backend::sqlite::SqliteBackend;
    use d1plus::error::{Error, ErrorCode};
    use d1plus::execute::QueryResult;
    use d1plus::plan::ShardHint;
    use d1plus::policy::Policy;
    use d1plus::value::Value;
    use futures::executor::block_on;
    use std::io::{BufRead, Read, Write};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    #[derive(Parser)]
    #[command(
        name = "d1plus",
        version,
        about = "Many D1 / SQLite databases behaving as one: a SQL-rewriting shard proxy"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Create DIR with one empty SQLite file per shard and the policy.
        Init {
            /// Directory to create.
            dir: PathBuf,
            /// Policy JSON file.
            #[arg(long)]
            policy: PathBuf,
        },
        /// Run a SQL script through the proxy (FILE, or - for stdin).
        Exec {
            /// Database directory (not with --url).
            dir: Option<PathBuf>,
            /// Script file, or - for standard input.
            file: Option<String>,
            /// A deployed d1plus Worker instead of DIR (token in D1PLUS_TOKEN).
            #[arg(long)]
            url: Option<String>,
        },
        /// Run one statement (or, with --format ndjson, one request per stdin line).
        Query(QueryArgs),
        /// Show the plan: route, reason, per-shard SQL, merge steps.
        Explain {
            /// Database directory (not with --url).
            dir: Option<PathBuf>,
            /// A deployed d1plus Worker instead of DIR (token in D1PLUS_TOKEN).
            #[arg(long)]
            url: Option<String>,
            /// Parameters as a JSON array (without them, the plan of any values, with
            /// parameters shown as ?N).
            #[arg(long)]
            params: Option<String>,
            /// Shard hint TABLE=KEY.
            #[arg(long)]
            hint: Option<String>,
            /// The statement.
            sql: Option<String>,
        },
        /// Run sqllogictest files through d1plus over local shards.
        Slt {
            /// Shards (a power of two).
            #[arg(long, default_value_t = 4)]
            shards: usize,
            /// Policy JSON (default: each file's first table sharded by its first column,
            /// the other tables reference tables).
            #[arg(long)]
            policy: Option<PathBuf>,
            /// Print each failure.
            #[arg(long)]
            verbose: bool,
            /// Let UPDATE/DELETE without a shard key run on every shard (refused otherwise).
            #[arg(long)]
            scatter_writes: bool,
            /// Also run each query with some of its literals bound as parameters, compared
            /// with one plain SQLite running the same bound statement.
            #[arg(long)]
            bind_literals: bool,
            /// Test files.
            #[arg(required = true)]
            files: Vec<PathBuf>,
        },
        /// Apply migrations (wrangler's format: MIGRATIONS_DIR/NNNN_name.sql, in name
        /// order) on every shard. Each shard applies a migration and records it in
        /// d1_migrations in one atomic batch; rerun after a failure to resume.
        Migrate {
            /// Database directory.
            dir: PathBuf,
            /// Directory of NNNN_name.sql files.
            migrations_dir: PathBuf,
        },
        /// Check that every shard has the same schema and migration records (exit 1 and the
        /// differences when they do not).
        Check {
            /// Database directory.
            dir: PathBuf,
        },
        /// Where the data is: per shard its file, bytes and rows per sharded table, how even
        /// the distribution is, and the keys with the most rows.
        Status {
            /// Database directory (not with --url).
            dir: Option<PathBuf>,
            /// A deployed d1plus Worker instead of DIR (token in D1PLUS_TOKEN).
            #[arg(long)]
            url: Option<String>,
            /// Output format (json: the same as an object).
            #[arg(long, value_enum, default_value_t = Format::Table)]
            format: Format,
        },
        /// Import a SQL dump (sqlite3 .dump, wrangler d1 export) or a SQLite file: every
        /// row where the policy places it. Resumable: run it again after a failure.
        Import {
            /// Database directory (made with `d1plus init`).
            dir: PathBuf,
            /// The dump or database file.
            file: PathBuf,
        },
        /// Write the logical database (or one shard) as a dump that sqlite3 and
        /// `wrangler d1 execute --file` load.
        Export {
            /// Database directory.
            dir: PathBuf,
            /// Only this shard's content (to load into that shard's D1 database).
            #[arg(long)]
            shard: Option<usize>,
            /// Write to FILE instead of standard output.
            #[arg(long)]
            output: Option<PathBuf>,
        },
        /// Double the shards online (shard i of n becomes 2i and 2i+1 of 2n), repeated up
        /// to --to, while other processes keep reading and writing. Resumable: after a
        /// failure or a kill, run the same command again.
        Split(crate::grow::SplitArgs),
        /// Schema in code: a JSON declaration of tables, columns, keys and indexes.
        Schema {
            #[command(subcommand)]
            command: crate::grow::SchemaCommand,
        },
        /// Print committed writes to the policy's realtime tables as they happen, one JSON
        /// line per event ({cursor, table, op, row, old, shard, at}); resume with --from.
        Watch(crate::stream::WatchArgs),
        /// An interactive shell (as sqlite3's): statements end with `;`, `.help` lists
        /// the commands (.tables, .schema, .shards, .mode, .explain, .hint, .read, .quit).
        Shell(crate::shell::ShellArgs),
        /// A guided tour on a 4-shard demo database.
        Demo {
            /// Where to create the demo (default: a fresh temporary folder).
            #[arg(long)]
            dir: Option<PathBuf>,
        },
    }

    /// `d1plus query`'s arguments.
    #[derive(clap::Args)]
    struct QueryArgs {
        /// Database directory (not with --url).
        dir: Option<PathBuf>,
        /// A deployed d1plus Worker instead of DIR (token in D1PLUS_TOKEN).
        #[arg(long)]
        url: Option<String>,
        /// Parameters as a JSON array.
        #[arg(long)]
        params: Option<String>,
        /// Shard hint TABLE=KEY.
        #[arg(long)]
        hint: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Allow an UPDATE/DELETE without a shard key to run on every shard.
        #[arg(long)]
        allow_scatter: bool,
        /// The statement (not used with --format ndjson).
        sql: Option<String>,
    }

    #[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
    enum Format {
        Table,
        Json,
        Ndjson,
        Csv,
    }

    pub fn main() -> ExitCode {
        let cli = Cli::parse();
        match run(cli.command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn run(cmd: Command) -> Result<(), Error> {
        match cmd {
            Command::Init { dir, policy } => init(&dir, &policy),
            Command::Import { dir, file } => import(&dir, &file),
            Command::Migrate {
                dir,
                migrations_dir,
            } => migrate(&dir, &migrations_dir),
            Command::Check { dir } => check(&dir),
            Command::Schema { command } => crate::grow::schema(command),
            Command::Split(args) => crate::grow::split(args),
            Command::Watch(args) => crate::stream::watch(args),
            Command::Shell(args) => crate::shell::shell(args),
            Command::Status { dir, url, format } => {
                let s = match (url, dir) {
                    (Some(url), None) => crate::remote::Remote::from_env(&url)?.status()?,
                    (None, Some(dir)) => {
                        let (db, layout) =
                            d1plus::layout::open_with_layout(&dir, Options::default())?;
                        d1plus::status::status(&db, &layout)?
                    }
                    _ => return Err(usage("status takes DIR, or --url URL")),
                };
                match format {
                    Format::Table | Format::Csv => say_part!("{}", s.render()),
                    Format::Json | Format::Ndjson => {
                        say!("{}", serde_json::to_string(&s).unwrap_or_default())
                    }
                }
                Ok(())
            }
            Command::Export { dir, shard, output } => export(&dir, shard, output),
            Command::Exec { dir, file, url } => match url {
                Some(url) => {
                    let file = one_argument(dir, file, "exec --url URL FILE")?;
                    crate::remote::Remote::from_env(&url)?.exec(&file)
                }
                None => match (dir, file) {
                    (Some(dir), Some(file)) => exec(&dir, &file),
                    _ => Err(usage("exec takes DIR FILE (or --url URL FILE)")),
                },
            },
            Command::Query(args) => query(args),
            Command::Explain {
                dir,
                url,
                params,
                hint,
                sql,
            } => crate::remote::explain(dir, url, params, hint, sql),
            Command::Demo { dir } => crate::demo::run(dir),
            Command::Slt {
                shards,
                policy,
                verbose,
                scatter_writes,
                bind_literals,
                files,
            } => {
                let literals = if bind_literals {
                    d1plus::slt::Literals::AlsoBound
                } else {
                    d1plus::slt::Literals::AsWritten
                };
                slt(
                    shards,
                    policy.as_deref(),
                    verbose,
                    scatter_writes,
                    literals,
                    &files,
                )
            }
        }
    }

    /// `d1plus exec DIR FILE`: runs a script (as D1's `exec()`), printing the rows of the
    /// statements that return rows, as `sqlite3` does. Stops at the first error.
    fn exec(dir: &Path, file: &str) -> Result<(), Error> {
        let script = read_input(file)?;
        let statements = d1plus::lex::split_statements(&script);
        let db = if statements
            .iter()
            .any(|s| d1plus::lex::changes_schema(&script[s.range.clone()]))
        {
            open_unsplit(dir, "a script that changes the schema")?
        } else {
            open(dir, Options::default())?
        };
        let reads = statements
            .iter()
            .any(|s| d1plus::lex::returns_rows_only(&script[s.range.clone()]));
        if !reads {
            let r = block_on(db.exec(&script))?;
            say!(
                "ok: {} statement{} ({:.1} ms)",
                r.count,
                if r.count == 1 { "" } else { "s" },
                r.duration
            );
            return Ok(());
        }
        for s in &statements {
            let r = block_on(db.query(&script[s.range.clone()], &[], None))?;
            if !r.columns.is_empty() {
                print_table(&r);
            }
        }
        say!("ok: {} statements", statements.len());
        Ok(())
    }

    /// `d1plus query`: one statement, or ndjson requests from stdin.
    fn query(args: QueryArgs) -> Result<(), Error> {
        let QueryArgs {
            dir,
            url,
            params,
            hint,
            format,
            allow_scatter,
            sql,
        } = args;
        if let Some(url) = url {
            if format == Format::Ndjson || allow_scatter {
                return Err(usage(
                    "with --url, query runs one statement: --format ndjson and --allow-scatter are for local databases",
                ));
            }
            let sql = one_argument(dir, sql, "query --url URL SQL")?;
            let params = parse_params(params.as_deref())?;
            let hint = hint.as_deref().map(parse_hint).transpose()?;
            let remote = crate::remote::Remote::from_env(&url)?;
            return show(remote.query(&sql, &params, hint.as_ref()), format);
        }
        let Some(dir) = dir else {
            return Err(usage("query takes DIR and a statement (or --url URL)"));
        };
        let mut options = Options::default();
        options.plan.allow_scatter_writes = allow_scatter;
        let db = d1plus::layout::LocalDatabase::open(&dir, options)?;
        if format == Format::Ndjson {
            if sql.is_some() {
                return Err(usage(
                    "with --format ndjson the requests come from stdin, one JSON object per line: drop the SQL argument",
                ));
            }
            return ndjson(&db);
        }
        let Some(sql) = sql else {
            return Err(usage("query needs a SQL statement (or --format ndjson)"));
        };
        let params = parse_params(params.as_deref())?;
        let hint = hint.as_deref().map(parse_hint).transpose()?;
        show(db.query(&sql, &params, hint.as_ref()), format)
    }

    /// With `--url`, DIR is absent: the one free argument is what follows it (the SQL, the
    /// script file).
    pub(crate) fn one_argument(
        dir: Option<PathBuf>,
        next: Option<String>,
        form: &str,
    ) -> Result<String, Error> {
        match (dir, next) {
            (Some(d), None) => Ok(d.to_string_lossy().into_owned()),
            _ => Err(usage(&format!("use: d1plus {form} (no DIR with --url)"))),
        }
    }

    /// Prints a statement's result (or, with --format json, its error as JSON too).
    fn show(result: Result<QueryResult, Error>, format: Format) -> Result<(), Error> {
        let r = match result {
            Ok(r) => r,
            // With --format json, the error is JSON on stdout too (and exit 1).
            Err(e) if format == Format::Json => {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&error_json(&e)).unwrap_or_default()
                );
                return Err(Error::new(
                    e.code(),
                    "the statement failed (the error is on stdout)",
                ));
            }
            Err(e) => return Err(e),
        };
        match format {
            Format::Json => {
                say!("{}", serde_json::to_string_pretty(&r).unwrap_or_default())
            }
            Format::Csv => print_csv(&r),
            _ => print_table(&r),
        }
        Ok(())
    }

    fn slt(
        shards: usize,
        policy: Option<&Path>,
        verbose: bool,
        scatter_writes: bool,
        literals: d1plus::slt::Literals,
        files: &[PathBuf],
    ) -> Result<(), Error> {
        let mut options = Options::default();
        options.plan.allow_scatter_writes = scatter_writes;
        let policy = match policy {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| io_error("cannot read policy", p, e))?;
                Some(Policy::from_json(&text)?)
            }
            None => None,
        };
        let mut total = d1plus::slt::Tally::default();
        for f in files {
            let text = std::fs::read_to_string(f)
                .map_err(|e| usage(&format!("cannot read {}: {e}", f.display())))?;
            let (tally, failures) = d1plus::slt::run_text_as(
                &text,
                shards,
                policy.as_ref(),
                options.clone(),
                literals,
            )?;
            say!("{}: {tally}", f.display());
            for line in &failures {
                if (verbose && !line.starts_with("skip:"))
                    || line.starts_with("note:")
                    || (verbose && std::env::var_os("D1PLUS_SLT_SHOW_SKIPS").is_some())
                {
                    say!("  {line}");
                }
            }
            total += tally;
        }
        say!("{total}");
        if total.failed > 0 {
            return Err(Error::new(
                ErrorCode::Internal,
                format!("{} sqllogictest records failed", total.failed),
            ));
        }
        Ok(())
    }

    pub(crate) fn usage(msg: &str) -> Error {
        Error::new(ErrorCode::InvalidArgument, msg)
    }

    fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
        Error::new(
            ErrorCode::InvalidPolicy,
            format!("{what} {}: {e}", path.display()),
        )
    }

    pub fn init(dir: &Path, policy_file: &Path) -> Result<(), Error> {
        let text = std::fs::read_to_string(policy_file)
            .map_err(|e| io_error("cannot read policy", policy_file, e))?;
        let policy = Policy::from_json(&text)?;
        init_with(dir, &policy)?;
        say!(
            "created {} with {} shard{}",
            dir.display(),
            policy.shard_count(),
            if policy.shard_count() == 1 { "" } else { "s" }
        );
        Ok(())
    }

    pub fn init_with(dir: &Path, policy: &Policy) -> Result<(), Error> {
        if dir.join("policy.json").exists() || dir.join("shard-00.sqlite").exists() {
            return Err(Error::with_remedy(
                ErrorCode::InvalidArgument,
                format!("{} already holds a d1plus database", dir.display()),
                "choose a new directory, or use the existing database",
            ));
        }
        SqliteBackend::create(dir, policy.shard_count())?;
        let path = dir.join("policy.json");
        std::fs::write(&path, policy.to_json_pretty())
            .map_err(|e| io_error("cannot write", &path, e))?;
        Ok(())
    }

    pub fn open(dir: &Path, options: Options) -> Result<Database<SqliteBackend>, Error> {
        d1plus::layout::open(dir, options)
    }

    /// Opens the database for a command that changes its schema or moves its rows, which
    /// cannot run while a split copies them.
    fn open_unsplit(dir: &Path, what: &str) -> Result<Database<SqliteBackend>, Error> {
        let (db, layout) = d1plus::layout::open_with_layout(dir, Options::default())?;
        if layout.split.is_some() {
            return Err(d1plus::layout::split_in_progress(what));
        }
        Ok(db)
    }

    pub(crate) fn read_input(file: &str) -> Result<String, Error> {
        if file == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| usage(&format!("cannot read stdin: {e}")))?;
            Ok(s)
        } else {
            std::fs::read_to_string(file).map_err(|e| usage(&format!("cannot read {file}: {e}")))
        }
    }

    pub(crate) fn parse_params(json: Option<&str>) -> Result<Vec<Value>, Error> {
        match json {
            None => Ok(Vec::new()),
            Some(j) => serde_json::from_str(j)
                .map_err(|e| usage(&format!("--params must be a JSON array of values: {e}"))),
        }
    }

    pub fn parse_hint(s: &str) -> Result<ShardHint, Error> {
        let Some((table, key)) = s.split_once('=') else {
            return Err(usage("--hint must look like TABLE=KEY"));
        };
        let key =
            serde_json::from_str::<Value>(key).unwrap_or_else(|_| Value::Text(key.to_string()));
        Ok(ShardHint {
            table: table.to_string(),
            key,
        })
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Request {
        sql: String,
        #[serde(default)]
        params: Vec<Value>,
        #[serde(default)]
        shard: Option<ShardHint>,
    }

    /// One answer per request line, in order. Answers are buffered and written when no
    /// further request is already waiting on stdin (or the buffer fills): a client that
    /// sends one request and waits gets its answer at once, a client that streams many
    /// pays one `write` per batch instead of one per answer.
    /// `d1plus migrate DIR MIGRATIONS_DIR`: a line per shard and migration applied.
    fn migrate(dir: &Path, migrations_dir: &Path) -> Result<(), Error> {
        let db = open_unsplit(dir, "`d1plus migrate`")?;
        let read_err =
            |e: std::io::Error| usage(&format!("cannot read {}: {e}", migrations_dir.display()));
        let mut migrations = Vec::new();
        for entry in std::fs::read_dir(migrations_dir).map_err(read_err)? {
            let path = entry.map_err(read_err)?.path();
            if path.extension().is_some_and(|x| x == "sql") {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let sql = std::fs::read_to_string(&path).map_err(read_err)?;
                migrations.push(d1plus::migrate::Migration { name, sql });
            }
        }
        let r = block_on(d1plus::migrate::migrate(
            &db,
            &migrations,
            &mut |step| match step {
                d1plus::migrate::Step::Applied {
                    migration,
                    shard,
                    statements,
                } => {
                    say!("shard {shard}: applied {migration} ({statements} statements)")
                }
                d1plus::migrate::Step::UpToDate { .. } => {}
            },
        ))?;
        say!(
            "{} migration{} on {} shards: {} applied now, {} already applied everywhere",
            migrations.len(),
            if migrations.len() == 1 { "" } else { "s" },
            db.policy().shard_count(),
            r.applied,
            r.already
        );
        Ok(())
    }

    /// `d1plus check DIR`.
    fn check(dir: &Path) -> Result<(), Error> {
        let db = open(dir, Options::default())?;
        let schemas = block_on(d1plus::migrate::shard_schemas(&db))?;
        let diffs = d1plus::migrate::differences(&schemas);
        if diffs.is_empty() {
            let first = &schemas[0];
            say!(
                "{} shards agree: {} schema objects, {} migrations applied",
                schemas.len(),
                first.objects.len(),
                first.migrations.len()
            );
            return Ok(());
        }
        for d in &diffs {
            say!("{d}");
        }
        Err(Error::with_remedy(
            ErrorCode::SchemaDrift,
            format!("the shards differ ({} difference{})", diffs.len(), if diffs.len() == 1 { "" } else { "s" }),
            "run the missing DDL on the shards that lack it (or a migration that makes them agree), then check again",
        ))
    }

    /// `d1plus import DIR FILE`, with a progress bar on stderr.
    fn import(dir: &Path, file: &Path) -> Result<(), Error> {
        let db = open_unsplit(dir, "`d1plus import`")?;
        let mut bar = crate::render::ProgressBar::default();
        let r = d1plus::transfer::import(&db, file, dir, &mut |p| {
            bar.show(p);
            Ok(())
        })?;
        bar.finish();
        say!(
            "imported {} rows of {} tables ({} row copies written{})",
            r.rows,
            r.tables,
            r.written,
            if r.resumed > 0 {
                format!("; {} shards already held their part", r.resumed)
            } else {
                String::new()
            }
        );
        Ok(())
    }

    /// `d1plus export DIR [--shard N] [--output FILE]`.
    fn export(dir: &Path, shard: Option<usize>, output: Option<PathBuf>) -> Result<(), Error> {
        let db = open(dir, Options::default())?;
        match output {
            Some(path) => {
                let file = std::fs::File::create(&path)
                    .map_err(|e| usage(&format!("cannot create {}: {e}", path.display())))?;
                let mut out = std::io::BufWriter::new(file);
                let rows = d1plus::transfer::export(&db, shard, &mut out)?;
                eprintln!("exported {rows} rows to {}", path.display());
            }
            None => {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                d1plus::transfer::export(&db, shard, &mut out)?;
            }
        }
        Ok(())
    }

    /// An error as the JSON outputs carry it: `{"success": false, "error": TEXT, "code": CODE}`.
    fn error_json(e: &Error) -> serde_json::Value {
        serde_json::json!({"success": false, "error": e.to_string(), "code": e.code().as_str()})
    }

    fn print_csv(r: &QueryResult) {
        say_part!("{}", crate::render::csv(r));
    }

    /// Serves ndjson requests; each one runs in the layout of the moment (a split that
    /// commits meanwhile is followed at the next request).
    fn ndjson(db: &d1plus::layout::LocalDatabase) -> Result<(), Error> {
        let mut input = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let mut line = String::new();
        loop {
            line.clear();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if !line.trim().is_empty() {
                let written = match serde_json::from_str::<Request>(&line) {
                    Err(e) => {
                        let error =
                            Error::new(ErrorCode::ParseError, format!("bad request line: {e}"));
                        serde_json::to_writer(
                            &mut out,
                            &serde_json::json!({"success": false, "error": error.to_string()}),
                        )
                    }
                    Ok(req) => {
                        match db.query(&req.sql, &req.params, req.shard.as_ref()) {
                            // Straight from the result: each row's keys in column order.
                            Ok(r) => serde_json::to_writer(&mut out, &r),
                            Err(e) => serde_json::to_writer(
                                &mut out,
                                &serde_json::json!({"success": false, "error": e.to_string()}),
                            ),
                        }
                    }
                };
                let written = written
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n"));
                if let Err(e) = written {
                    stdout_failed(e)
                }
            }
            if input.buffer().is_empty() {
                if let Err(e) = out.flush() {
                    stdout_failed(e)
                }
            }
        }
        if let Err(e) = out.flush() {
            stdout_failed(e)
        }
        Ok(())
    }

    pub fn print_table(r: &QueryResult) {
        if r.columns.is_empty() {
            say!(
                "ok: {} row{} changed (shards {:?})",
                r.meta.changes,
                if r.meta.changes == 1 { "" } else { "s" },
                r.meta.shards
            );
            return;
        }
        say_part!("{}", crate::render::table(r));
        say!(
            "({} row{}, shards {:?})",
            r.rows.len(),
            if r.rows.len() == 1 { "" } else { "s" },
            r.meta.shards
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod demo;
#[cfg(not(target_arch = "wasm32"))]
mod grow;
#[cfg(not(target_arch = "wasm32"))]
mod remote;
#[cfg(not(target_arch = "wasm32"))]
mod render;
#[cfg(not(target_arch = "wasm32"))]
mod shell;
#[cfg(not(target_arch = "wasm32"))]
mod stream;
