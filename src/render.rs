//! How the command line shows a result: a table as `sqlite3 -box` would (plainer), CSV,
//! JSON (D1's `results`) and `sqlite3`'s line mode. Each renderer returns the text; the
//! caller writes it.

use d1plus::execute::QueryResult;
use d1plus::value::Value;
use std::fmt::Write as _;

/// The shell's `.mode`s and the `--format`s that show rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Table,
    Json,
    Csv,
    Line,
}

impl Mode {
    pub(crate) fn parse(name: &str) -> Option<Mode> {
        match name {
            "table" | "box" | "column" => Some(Mode::Table),
            "json" => Some(Mode::Json),
            "csv" => Some(Mode::Csv),
            "line" => Some(Mode::Line),
            _ => None,
        }
    }
}

/// The rows of `r` in `mode` (nothing for a statement without columns).
pub(crate) fn rows(r: &QueryResult, mode: Mode) -> String {
    if r.columns.is_empty() {
        return String::new();
    }
    match mode {
        Mode::Table => table(r),
        Mode::Csv => csv(r),
        Mode::Json => {
            let objects: Vec<_> = r.objects().collect();
            let mut s = serde_json::to_string_pretty(&objects).unwrap_or_default();
            s.push('\n');
            s
        }
        Mode::Line => line(r),
    }
}

/// Column names, a rule, then the rows, columns padded to their widest cell.
pub(crate) fn table(r: &QueryResult) -> String {
    let cells: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| row.iter().map(|v| v.to_string()).collect())
        .collect();
    let mut widths: Vec<usize> = r.columns.iter().map(|c| c.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |vals: &[String]| {
        vals.iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(&r.columns));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", rule.join("-+-"));
    for row in &cells {
        let _ = writeln!(out, "{}", line(row));
    }
    out
}

/// RFC 4180 CSV: a header of column names, then one line per row (NULL is empty, a
/// blob is its hex digits).
pub(crate) fn csv(r: &QueryResult) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let mut out = String::new();
    let header: Vec<String> = r.columns.iter().map(|c| field(c)).collect();
    let _ = writeln!(out, "{}", header.join(","));
    for row in &r.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                Value::Text(t) => field(t),
                Value::Blob(b) => b.iter().map(|x| format!("{x:02X}")).collect(),
                other => other.to_string(),
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

/// `sqlite3`'s line mode: `column = value` per line, names right-aligned, a blank line
/// between rows.
pub(crate) fn line(r: &QueryResult) -> String {
    let width = r
        .columns
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (i, row) in r.rows.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for (c, v) in r.columns.iter().zip(row) {
            let _ = writeln!(out, "{c:>width$} = {v}");
        }
    }
    out
}

/// Shards as ranges: `0-3`, `2`, `0,2,5-7`.
pub(crate) fn shards(list: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < list.len() {
        let mut j = i;
        while j + 1 < list.len() && list[j + 1] == list[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", list[i], list[j])
        } else {
            list[i].to_string()
        });
        i = j + 1;
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(",")
    }
}

/// An import's progress on stderr: rows, rows/s, ETA, redrawn at most 10 times a second.
#[derive(Default)]
pub(crate) struct ProgressBar {
    last: Option<std::time::Instant>,
    drawn: bool,
}

impl ProgressBar {
    pub(crate) fn show(&mut self, p: d1plus::transfer::Progress) {
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now - t < std::time::Duration::from_millis(100))
            && p.done < p.total
        {
            return;
        }
        self.last = Some(now);
        self.drawn = true;
        let secs = p.elapsed.as_secs_f64().max(1e-3);
        let rate = p.done as f64 / secs;
        let share = if p.total == 0 {
            1.0
        } else {
            p.done as f64 / p.total as f64
        };
        let width = 30;
        let filled = (share * width as f64) as usize;
        let eta = if rate > 0.0 {
            format!("{:.0}s", (p.total.saturating_sub(p.done)) as f64 / rate)
        } else {
            "?".into()
        };
        eprint!(
            "\r[{}{}] {}/{} rows, {:.0} rows/s, ETA {eta}   ",
            "#".repeat(filled.min(width)),
            " ".repeat(width - filled.min(width)),
            p.done,
            p.total,
            rate
        );
    }

    pub(crate) fn finish(&self) {
        if self.drawn {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> QueryResult {
        QueryResult {
            columns: ["id".to_string(), "name".to_string()].into(),
            rows: vec![
                vec![Value::Integer(1), Value::Text("a, \"b\"".into())],
                vec![Value::Null, Value::Blob(vec![0xab, 1])],
            ],
            ..QueryResult::default()
        }
    }

    #[test]
    fn each_mode_shows_every_cell() {
        assert_eq!(
            table(&result()),
            "id   | name   \n-----+--------\n1    | a, \"b\" \nNULL | x'ab01'\n"
        );
        assert_eq!(csv(&result()), "id,name\n1,\"a, \"\"b\"\"\"\n,AB01\n");
        assert_eq!(
            line(&result()),
            "  id = 1\nname = a, \"b\"\n\n  id = NULL\nname = x'ab01'\n"
        );
        let json: serde_json::Value = serde_json::from_str(&rows(&result(), Mode::Json)).unwrap();
        assert_eq!(json[0]["name"], "a, \"b\"");
        assert_eq!(rows(&QueryResult::default(), Mode::Table), "");
    }

    #[test]
    fn shard_lists_collapse_to_ranges() {
        assert_eq!(shards(&[0, 1, 2, 3]), "0-3");
        assert_eq!(shards(&[2]), "2");
        assert_eq!(shards(&[0, 2, 5, 6, 7]), "0,2,5-7");
        assert_eq!(shards(&[]), "none");
    }
}
