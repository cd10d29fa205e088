//! `d1plus shell DIR`: an interactive shell in the spirit of `sqlite3`'s. Statements end
//! with `;` and may span lines; lines starting with `.` are commands (`.help`). Each
//! statement's answer ends with its row count, time and the shards that answered. With a
//! terminal it has line editing and history (`~/.d1plus_history`); with a pipe or file on
//! stdin it reads the script and exits 1 if any statement failed.

use crate::render::{self, Mode};
use d1plus::api::Options;
use d1plus::error::{Error, ErrorCode};
use d1plus::execute::QueryResult;
use d1plus::plan::ShardHint;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Instant;

/// `d1plus shell`'s arguments.
#[derive(clap::Args)]
pub(crate) struct ShellArgs {
    /// Database directory (not with --url).
    dir: Option<PathBuf>,
    /// A deployed d1plus Worker instead of DIR (token in D1PLUS_TOKEN).
    #[arg(long)]
    url: Option<String>,
}

/// What the shell talks to: local shards (or, later, a deployed Worker).
pub(crate) trait Target {
    /// Runs one statement.
    fn query(&self, sql: &str, hint: Option<&ShardHint>) -> Result<QueryResult, Error>;
    /// The plan of one statement, as `d1plus explain` prints it.
    fn explain(&self, sql: &str, hint: Option<&ShardHint>) -> Result<String, Error>;
    /// How each table is placed (`sharded by k`, `reference`, …), when known.
    fn placement(&self, table: &str) -> Option<String>;
    /// Where the data is (`d1plus status`).
    fn shards(&self) -> Result<String, Error>;
}

/// Local shards in a directory, following a split as it commits.
struct Local {
    db: d1plus::layout::LocalDatabase,
}

impl Target for Local {
    fn query(&self, sql: &str, hint: Option<&ShardHint>) -> Result<QueryResult, Error> {
        self.db.query(sql, &[], hint)
    }

    fn explain(&self, sql: &str, hint: Option<&ShardHint>) -> Result<String, Error> {
        self.db.database()?.explain_unbound(sql, hint)
    }

    fn placement(&self, table: &str) -> Option<String> {
        let db = self.db.database().ok()?;
        let policy = db.policy();
        if let Some(t) = policy.sharded_table(table) {
            return Some(format!("sharded by {}", t.key_column));
        }
        if policy
            .sharding
            .reference
            .iter()
            .any(|r| r.eq_ignore_ascii_case(table))
        {
            return Some("reference: on every shard".into());
        }
        Some("unsharded: on shard 0".into())
    }

    fn shards(&self) -> Result<String, Error> {
        let db = self.db.database()?;
        Ok(d1plus::status::status(&db, &self.db.layout())?.render())
    }
}

/// A deployed d1plus Worker.
impl Target for crate::remote::Remote {
    fn query(&self, sql: &str, hint: Option<&ShardHint>) -> Result<QueryResult, Error> {
        crate::remote::Remote::query(self, sql, &[], hint)
    }

    fn explain(&self, sql: &str, hint: Option<&ShardHint>) -> Result<String, Error> {
        crate::remote::Remote::explain(self, sql, None, hint)
    }

    fn placement(&self, _table: &str) -> Option<String> {
        None
    }

    fn shards(&self) -> Result<String, Error> {
        Ok(self.status()?.render())
    }
}

/// Runs the shell over local shards, or a deployed Worker's.
pub(crate) fn shell(args: ShellArgs) -> Result<(), Error> {
    match (args.url, args.dir) {
        (Some(url), None) => run(&crate::remote::Remote::from_env(&url)?, &url),
        (None, Some(dir)) => {
            let db = d1plus::layout::LocalDatabase::open(&dir, Options::default())?;
            run(&Local { db }, &dir.display().to_string())
        }
        _ => Err(Error::new(
            ErrorCode::InvalidArgument,
            "shell takes DIR, or --url URL",
        )),
    }
}

/// Runs the shell over `target`: interactively on a terminal, else over stdin's script.
pub(crate) fn run(target: &dyn Target, name: &str) -> Result<(), Error> {
    let mut shell = Shell {
        target,
        mode: Mode::Table,
        explain: false,
        hint: None,
        buffer: String::new(),
        failures: 0,
        quit: false,
    };
    if std::io::stdin().is_terminal() {
        interactive(&mut shell, name);
        return Ok(());
    }
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        shell.line(&line);
        if shell.quit {
            break;
        }
    }
    shell.finish();
    match shell.failures {
        0 => Ok(()),
        n => Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("{n} error{} in the script", if n == 1 { "" } else { "s" }),
        )),
    }
}

fn interactive(shell: &mut Shell<'_>, name: &str) {
    println!(
        "d1plus {} shell on {name}. Enter \".help\" for usage hints.",
        env!("CARGO_PKG_VERSION")
    );
    let Ok(mut editor) = rustyline::DefaultEditor::new() else {
        eprintln!("error: this terminal cannot be edited; pipe a script instead");
        return;
    };
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".d1plus_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    while !shell.quit {
        let prompt = if shell.buffer.is_empty() {
            "d1plus> "
        } else {
            "   ...> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                shell.line(&line);
            }
            // Ctrl-C drops what was typed, as sqlite3 does.
            Err(rustyline::error::ReadlineError::Interrupted) => shell.buffer.clear(),
            Err(_) => break,
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
}

struct Shell<'a> {
    target: &'a dyn Target,
    mode: Mode,
    explain: bool,
    hint: Option<ShardHint>,
    /// A statement typed so far, waiting for its `;`.
    buffer: String,
    failures: usize,
    quit: bool,
}

const HELP: &str = "\
.explain on|off     show each statement's plan before it runs
.help               this text
.hint TABLE=KEY     route the next statements to KEY's shard (.hint off to stop)
.mode MODE          table, json, csv or line
.quit               leave (also .exit, or Ctrl-D)
.read FILE          run the statements and commands of FILE
.schema [TABLE]     the CREATE statements (of TABLE)
.shards             where the data is: each shard's file, size and rows
.tables             the tables and views, and how each is placed
Statements end with ';' and may span lines.";

impl Shell<'_> {
    /// One line of input: a command, or part of a statement.
    fn line(&mut self, line: &str) {
        if self.buffer.is_empty() && line.trim_start().starts_with('.') {
            if let Err(e) = self.command(line.trim()) {
                self.fail(&e);
            }
            return;
        }
        if self.buffer.is_empty() && line.trim().is_empty() {
            return;
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if d1plus::lex::is_complete(&self.buffer) {
            let script = std::mem::take(&mut self.buffer);
            self.statements(&script);
        }
    }

    /// At the end of input: a statement still waiting for its `;` is an error.
    fn finish(&mut self) {
        if !self.buffer.trim().is_empty() {
            let e = Error::new(
                ErrorCode::ParseError,
                format!(
                    "incomplete statement at the end of input (no ';'): {}",
                    self.buffer.trim()
                ),
            );
            self.fail(&e);
        }
    }

    fn fail(&mut self, e: &Error) {
        self.failures += 1;
        eprintln!("Error: {e}");
    }

    fn statements(&mut self, script: &str) {
        for s in d1plus::lex::split_statements(script) {
            let sql = &script[s.range];
            if let Err(e) = self.statement(sql) {
                self.fail(&e);
            }
        }
    }

    fn statement(&mut self, sql: &str) -> Result<(), Error> {
        if self.explain {
            say_part!("{}", self.target.explain(sql, self.hint.as_ref())?);
        }
        let started = Instant::now();
        let r = self.target.query(sql, self.hint.as_ref())?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        say_part!("{}", render::rows(&r, self.mode));
        let what = if r.columns.is_empty() {
            let n = r.meta.changes;
            format!("{n} row{} changed", if n == 1 { "" } else { "s" })
        } else {
            let n = r.rows.len();
            format!("{n} row{}", if n == 1 { "" } else { "s" })
        };
        let shards = &r.meta.shards;
        say!(
            "({what}, {ms:.2} ms, shard{} {})",
            if shards.len() == 1 { "" } else { "s" },
            render::shards(shards)
        );
        Ok(())
    }

    fn command(&mut self, line: &str) -> Result<(), Error> {
        let (cmd, arg) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let arg = arg.trim();
        match cmd {
            ".quit" | ".exit" => self.quit = true,
            ".help" => say!("{HELP}"),
            ".mode" => {
                self.mode = Mode::parse(arg).ok_or_else(|| {
                    usage(format!(
                        "unknown mode {arg:?}: use table, json, csv or line"
                    ))
                })?
            }
            ".explain" => {
                self.explain = match arg {
                    "on" | "" => true,
                    "off" => false,
                    _ => return Err(usage(".explain takes on or off".into())),
                }
            }
            ".hint" => {
                self.hint = match arg {
                    "off" | "" => None,
                    h => Some(crate::cli::parse_hint(h)?),
                };
                if let Some(h) = &self.hint {
                    say!("statements now go to the shard of {}={}", h.table, h.key);
                }
            }
            ".read" => {
                let text = std::fs::read_to_string(arg)
                    .map_err(|e| usage(format!("cannot read {arg:?}: {e}")))?;
                for l in text.lines() {
                    self.line(l);
                }
                self.finish();
                self.buffer.clear();
            }
            ".tables" => {
                let r = self.target.query(
                    "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') \
                     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_d1plus\\_%' ESCAPE '\\' \
                     AND name <> '_cf_KV' ORDER BY name",
                    None,
                )?;
                for row in &r.rows {
                    let name = row[0].to_string();
                    let kind = if row[1].to_string() == "view" {
                        "view".to_string()
                    } else {
                        self.target.placement(&name).unwrap_or_default()
                    };
                    say!("{name:<24} {kind}");
                }
            }
            ".schema" => {
                let filter = if arg.is_empty() {
                    String::new()
                } else {
                    format!(
                        " AND tbl_name = '{}' COLLATE NOCASE",
                        arg.replace('\'', "''")
                    )
                };
                let r = self.target.query(
                    &format!(
                        "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL \
                         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_d1plus\\_%' ESCAPE '\\'{filter} \
                         ORDER BY tbl_name, type DESC, name"
                    ),
                    None,
                )?;
                for row in &r.rows {
                    say!("{};", row[0]);
                }
            }
            ".shards" => say_part!("{}", self.target.shards()?),
            _ => return Err(usage(format!("unknown command {cmd}: see .help"))),
        }
        Ok(())
    }
}

fn usage(msg: String) -> Error {
    Error::new(ErrorCode::InvalidArgument, msg)
}
