//! Which file holds which shard of a local database, and the split in progress.
//!
//! A database directory holds `policy.json`, the shard files, and, once it has been split,
//! `layout.json`: the layout's version, its shard count, the file of each shard, and a
//! split in progress (its target files and phase). The file is replaced atomically (written
//! beside, then renamed), like LevelDB's `CURRENT`: the rename is a split's commit point.
//! Without it the layout is version 0: `shard-00.sqlite`, `shard-01.sqlite`, … as many as
//! the policy names.
//!
//! Every process sees a new layout at its next request: [`LocalDatabase`] compares the
//! file's identity (a `stat`, no read) before each statement and reopens the shards when it
//! changed. A process that still holds the old layout cannot write to a retired file: the
//! split leaves triggers there that refuse every write with `D1PLUS_RETRY` (see
//! `crate::split`); its reads see the files as they were at the cutover, which is a state
//! the database was in while the read ran.

use crate::api::{Database, Options};
use crate::backend::sqlite::{shard_path, SqliteBackend};
use crate::error::{Error, ErrorCode, Result};
use crate::execute::QueryResult;
use crate::plan::ShardHint;
use crate::policy::Policy;
use crate::value::Value;
use futures::executor::block_on;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The layout file's name in a database directory.
pub const LAYOUT_FILE: &str = "layout.json";
/// The policy file's name in a database directory.
pub const POLICY_FILE: &str = "policy.json";

/// Where each shard lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Layout {
    /// Bumped by each split's cutover.
    pub version: u64,
    /// Shards now.
    pub shard_count: usize,
    /// Shard `i`'s file, relative to the directory.
    pub files: Vec<String>,
    /// A split in progress.
    #[serde(default)]
    pub split: Option<SplitState>,
}

/// A split in progress: one doubling step towards `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SplitState {
    /// The shard count the whole split ends with.
    pub to: usize,
    /// The files of this step's shards (twice as many as now).
    pub files: Vec<String>,
    /// Where the step is.
    pub phase: Phase,
}

/// A split step's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Rows are copied to the new files and changes caught up; everything is served by the
    /// old files.
    Copy,
    /// Writes to the old files are paused (`D1PLUS_RETRY`) while the last changes are
    /// caught up and checked; reads are still served by the old files.
    Cutover,
}

impl Layout {
    /// The layout of a directory that was never split: `shard-NN.sqlite` files.
    pub fn initial(shard_count: usize) -> Layout {
        Layout {
            version: 0,
            shard_count,
            files: (0..shard_count)
                .map(|s| file_name(&shard_path(Path::new(""), s)))
                .collect(),
            split: None,
        }
    }

    /// Reads `dir`'s layout: `layout.json`, or the initial layout of `policy`'s shard count.
    pub fn read(dir: &Path, policy: &Policy) -> Result<Layout> {
        let path = dir.join(LAYOUT_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Layout::initial(policy.shard_count()))
            }
            Err(e) => return Err(layout_error(&path, e.to_string())),
        };
        let layout: Layout =
            serde_json::from_str(&text).map_err(|e| layout_error(&path, e.to_string()))?;
        layout.check().map_err(|why| layout_error(&path, why))?;
        Ok(layout)
    }

    fn check(&self) -> std::result::Result<(), String> {
        let count_ok = |n: usize| n.is_power_of_two() && n <= 64;
        if !count_ok(self.shard_count) || self.files.len() != self.shard_count {
            return Err(format!(
                "{} shards with {} files",
                self.shard_count,
                self.files.len()
            ));
        }
        if let Some(s) = &self.split {
            if s.files.len() != 2 * self.shard_count || !count_ok(s.to) || s.to <= self.shard_count
            {
                return Err(format!(
                    "a split to {} with {} files from {} shards",
                    s.to,
                    s.files.len(),
                    self.shard_count
                ));
            }
        }
        let all = self
            .files
            .iter()
            .chain(self.split.iter().flat_map(|s| &s.files));
        if let Some(bad) = all.into_iter().find(|f| !is_plain_file_name(f)) {
            return Err(format!("file name {bad:?} is not a plain file name"));
        }
        Ok(())
    }

    /// Writes the layout to `dir/layout.json` atomically (a temporary file, synced, then
    /// renamed over the old one; the directory synced after).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::internal(format!("cannot serialize the layout: {e}")))?;
        write_atomically(dir, LAYOUT_FILE, &text)
    }

    /// The paths of the shard files.
    pub fn paths(&self, dir: &Path) -> Vec<PathBuf> {
        self.files.iter().map(|f| dir.join(f)).collect()
    }
}

/// The file name of shard `index` of `count` made by a split: `shard-03-of-08.sqlite`.
pub fn split_file_name(index: usize, count: usize) -> String {
    format!("shard-{index:02}-of-{count:02}.sqlite")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != ".."
}

fn layout_error(path: &Path, why: String) -> Error {
    Error::with_remedy(
        ErrorCode::InvalidPolicy,
        format!("{} is not a valid layout: {why}", path.display()),
        "restore it from a backup; d1plus writes it only through `d1plus split`",
    )
}

/// Writes `dir/name` atomically: a temporary file, synced, renamed over the old one.
pub(crate) fn write_atomically(dir: &Path, name: &str, text: &str) -> Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let io =
        |e: std::io::Error| Error::backend(None, format!("cannot write {}: {e}", path.display()));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Makes the rename durable; some file systems cannot sync a directory, and the
        // rename itself is already atomic there.
        let _ignored = d.sync_all();
    }
    Ok(())
}

/// Reads `dir/policy.json`, with the clear errors a user meets first (no directory, no
/// policy).
pub fn read_policy(dir: &Path) -> Result<Policy> {
    if !dir.is_dir() {
        return Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            format!(
                "no d1plus database at {}: there is no such directory",
                dir.display()
            ),
            "create one with `d1plus init DIR --policy FILE`",
        ));
    }
    let path = dir.join(POLICY_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::with_remedy(
            ErrorCode::InvalidPolicy,
            format!("cannot read {}: {e}", path.display()),
            "create the database with `d1plus init DIR --policy FILE`",
        )
    })?;
    Policy::from_json(&text)
}

/// The policy and layout of `dir`, the policy's shard count taken from the layout (a split
/// updates `policy.json` right after its cutover; the layout is what counts).
pub fn read(dir: &Path) -> Result<(Policy, Layout)> {
    let policy = read_policy(dir)?;
    let layout = Layout::read(dir, &policy)?;
    Ok((policy.with_shard_count(layout.shard_count), layout))
}

/// Opens the local database in `dir` in its current layout.
pub fn open(dir: &Path, options: Options) -> Result<Database<SqliteBackend>> {
    Ok(open_with_layout(dir, options)?.0)
}

/// Opens the local database in `dir`, and says which layout it opened. A file a split
/// retired between reading the layout and opening it makes it read the layout again.
pub fn open_with_layout(dir: &Path, options: Options) -> Result<(Database<SqliteBackend>, Layout)> {
    let mut retries_left = 3;
    loop {
        let (policy, layout) = read(dir)?;
        let backend = if layout.version == 0 {
            SqliteBackend::open(dir, layout.shard_count)
        } else {
            SqliteBackend::open_files(dir, &layout.paths(dir))
        };
        let moved = || Layout::read(dir, &policy).ok().as_ref() != Some(&layout);
        match backend {
            Ok(backend) => {
                return Ok((block_on(Database::open(policy, backend, options))?, layout))
            }
            // A split's cutover retired a file between reading the layout and opening it.
            Err(_) if retries_left > 0 && moved() => retries_left -= 1,
            Err(e) => return Err(e),
        }
    }
}

/// What identifies a version of `layout.json` without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(dir: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(dir.join(LAYOUT_FILE)).ok()?;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&m),
    })
}

/// A local database that follows its directory's layout: before each statement it checks
/// whether a split changed the layout (one `stat`) and, if so, reopens the shards, so a
/// long-running process keeps answering exactly during and after a split.
pub struct LocalDatabase {
    dir: PathBuf,
    options: Options,
    db: RefCell<std::rc::Rc<Database<SqliteBackend>>>,
    layout: RefCell<Layout>,
    stamp: Cell<Option<Stamp>>,
}

impl LocalDatabase {
    /// Opens the database in `dir`.
    pub fn open(dir: &Path, options: Options) -> Result<LocalDatabase> {
        let before = stamp(dir);
        let (db, layout) = open_with_layout(dir, options.clone())?;
        Ok(LocalDatabase {
            dir: dir.to_path_buf(),
            options,
            db: RefCell::new(std::rc::Rc::new(db)),
            layout: RefCell::new(layout),
            stamp: Cell::new(before),
        })
    }

    /// The database in the current layout (reopened if a split changed it).
    pub fn database(&self) -> Result<std::rc::Rc<Database<SqliteBackend>>> {
        let now = stamp(&self.dir);
        if now != self.stamp.get() {
            let (db, layout) = open_with_layout(&self.dir, self.options.clone())?;
            *self.db.borrow_mut() = std::rc::Rc::new(db);
            *self.layout.borrow_mut() = layout;
            self.stamp.set(now);
        }
        Ok(self.db.borrow().clone())
    }

    /// The layout the last statement ran in.
    pub fn layout(&self) -> Layout {
        self.layout.borrow().clone()
    }

    /// Runs one statement (as [`Database::query`]) in the current layout. While a split is
    /// in progress, statements that change the schema are refused with `D1PLUS_RETRY`: the
    /// split copies one schema.
    pub fn query(
        &self,
        sql: &str,
        params: &[Value],
        hint: Option<&ShardHint>,
    ) -> Result<QueryResult> {
        let db = self.database()?;
        if self.layout.borrow().split.is_some() && crate::lex::changes_schema(sql) {
            return Err(split_in_progress("a statement that changes the schema"));
        }
        block_on(db.query(sql, params, hint))
    }
}

/// The error for what cannot run while a split is in progress.
pub fn split_in_progress(what: &str) -> Error {
    Error::with_remedy(
        ErrorCode::Retry,
        format!("{what} cannot run while the database is being split"),
        "wait for `d1plus split` to finish (or abort it with `d1plus split DIR --abort`), then run it again",
    )
}
