//! Target (b)'s grammar: the fuzzer's bytes choose a short sequence of SELECT / INSERT /
//! UPDATE / DELETE statements over the fixed schema (see [`super::SCHEMA`]): shard keys
//! pinned by `=`, `IN`, `IS`, OR-ed and negated; literals and every parameter syntax;
//! co-located, reference and cross-shard joins; subqueries; aggregates with GROUP BY and
//! HAVING; ORDER BY, LIMIT and OFFSET; upserts and RETURNING. Each byte is one choice, so
//! libFuzzer's mutations map onto small changes of the SQL; when the bytes run out every
//! choice is its first alternative, so every input gives a finite sequence.

use super::oracle::{literal, Step};
use d1plus::value::Value;

/// Reads choices from the fuzzer's bytes (zero once they run out).
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data, pos: 0 }
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number below `n` (0 when `n` is 0 or 1).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            self.byte() as usize % n
        }
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// True with probability `percent`/100 (false once the bytes run out).
    pub fn chance(&mut self, percent: usize) -> bool {
        let b = self.byte() as usize;
        self.pos <= self.data.len() && b * 100 < percent * 256
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    Text,
    Int,
    /// An INTEGER PRIMARY KEY: never i64::MAX (SQLite then picks the next rowid at random).
    RowId,
    Real,
    Any,
    NoCase,
}

struct Table {
    name: &'static str,
    alias: &'static str,
    /// The shard key, or (reference and unsharded tables) the primary key.
    key: &'static str,
    pk: &'static [&'static str],
    cols: &'static [(&'static str, Ty)],
    not_null: &'static [&'static str],
}

const EVENTS: Table = Table {
    name: "events",
    alias: "e",
    key: "tenantId",
    pk: &["tenantId", "id"],
    cols: &[
        ("tenantId", Ty::Text),
        ("id", Ty::Int),
        ("kind", Ty::Text),
        ("amount", Ty::Int),
        ("data", Ty::Text),
    ],
    not_null: &["tenantId", "id"],
};
const USERS: Table = Table {
    name: "users",
    alias: "u",
    key: "tenantId",
    pk: &["tenantId", "id"],
    cols: &[
        ("tenantId", Ty::Text),
        ("id", Ty::Int),
        ("name", Ty::NoCase),
    ],
    not_null: &["tenantId", "id"],
};
const COUNTERS: Table = Table {
    name: "counters",
    alias: "c",
    key: "k",
    pk: &["k"],
    cols: &[("k", Ty::RowId), ("n", Ty::Int)],
    not_null: &[],
};
const PLANS: Table = Table {
    name: "plans",
    alias: "p",
    key: "id",
    pk: &["id"],
    cols: &[("id", Ty::RowId), ("name", Ty::Text), ("price", Ty::Real)],
    not_null: &[],
};
const SETTINGS: Table = Table {
    name: "settings",
    alias: "s",
    key: "key",
    pk: &["key"],
    cols: &[("key", Ty::Text), ("value", Ty::Any)],
    not_null: &[],
};

/// Sharded, sharded, sharded, reference, unsharded; events most often.
const ALL: [&Table; 7] = [
    &EVENTS, &EVENTS, &USERS, &COUNTERS, &COUNTERS, &PLANS, &SETTINGS,
];

// Mixed storage classes and values outside checks broke the merge with: numeric and
// numeric-prefixed text, integers near ±2^63, REALs whose sums need compensation.
const TEXTS: [&str; 10] = [
    "acme", "globex", "initech", "umbrella", "", "1", "02", "Acme", "10", "3abc",
];
const INTS: [i64; 10] = [1, 2, 3, 0, 5, 17, -1, i64::MAX, i64::MIN + 1, 1 << 62];
const REALS: [f64; 7] = [2.0, 1.5, -0.5, 0.25, 0.1, 1e16, -1e16];

/// A table in a FROM clause and the name its columns are qualified with.
#[derive(Clone, Copy)]
struct Src {
    table: &'static Table,
    name: &'static str,
}

struct Gen<'a, 'b> {
    b: &'b mut Bytes<'a>,
    params: Vec<Value>,
}

/// A sequence of one to six statements from the bytes.
pub fn steps(data: &[u8]) -> Vec<Step> {
    let mut b = Bytes::new(data);
    let n = 1 + b.below(6);
    (0..n)
        .map(|_| {
            let mut g = Gen {
                b: &mut b,
                params: Vec::new(),
            };
            g.statement()
        })
        .collect()
}

impl Gen<'_, '_> {
    fn statement(&mut self) -> Step {
        let (sql, ordered, scatter) = match self.b.below(10) {
            0..=4 => {
                let (sql, ordered) = self.select();
                (sql, ordered, false)
            }
            5 | 6 => (self.insert(), false, false),
            7 | 8 => (self.update(), false, self.b.chance(20)),
            _ => (self.delete(), false, self.b.chance(20)),
        };
        Step {
            sql,
            params: std::mem::take(&mut self.params),
            scatter,
            ordered,
        }
    }

    // -- values -------------------------------------------------------------------------

    fn raw_value(&mut self, ty: Ty) -> Value {
        let rowid = ty == Ty::RowId;
        let ty = match self.b.below(10) {
            0 => return Value::Null,
            1 => self.b.pick(&[Ty::Text, Ty::Int, Ty::Real]),
            _ => ty,
        };
        match ty {
            Ty::Text | Ty::NoCase => Value::Text(self.b.pick(&TEXTS).to_string()),
            Ty::Int | Ty::RowId => Value::Integer(match self.b.pick(&INTS) {
                i64::MAX if rowid => 4,
                i => i,
            }),
            Ty::Real => Value::Real(self.b.pick(&REALS)),
            Ty::Any => match self.b.below(4) {
                0 => Value::Text(self.b.pick(&TEXTS).to_string()),
                1 => Value::Integer(self.b.pick(&INTS)),
                2 => Value::Real(self.b.pick(&REALS)),
                _ => Value::Blob(vec![0x61]),
            },
        }
    }

    /// A value of (mostly) the column's type, as a literal or a parameter.
    fn value(&mut self, ty: Ty) -> String {
        let v = self.raw_value(ty);
        self.bind(v)
    }

    fn bind(&mut self, v: Value) -> String {
        if self.b.chance(50) {
            return literal(&v);
        }
        self.params.push(v);
        let n = self.params.len();
        // Each new parameter takes the next number, whatever its spelling.
        match self.b.below(8) {
            0 => format!("?{n}"),
            1 => format!(":v{n}"),
            2 => format!("@v{n}"),
            3 => format!("$v{n}"),
            _ => "?".into(),
        }
    }

    fn limit_value(&mut self) -> String {
        let v = match self.b.below(10) {
            0 => Value::Text("2".into()),
            1 => Value::Real(2.0),
            2 => Value::Integer(-1),
            n => Value::Integer(n as i64 - 3),
        };
        self.bind(v)
    }

    // -- names --------------------------------------------------------------------------

    fn spell(&mut self, column: &str) -> String {
        match self.b.below(12) {
            0 => column.to_ascii_lowercase(),
            1 => column.to_ascii_uppercase(),
            2 => format!("\"{column}\""),
            _ => column.to_string(),
        }
    }

    /// A column of one of the sources: the key more often than not.
    fn column(&mut self, scope: &[Src], qualify: bool) -> (String, Ty) {
        let src = self.b.pick(scope);
        let (name, ty) = if self.b.chance(40) {
            let key = src.table.key;
            let ty = src
                .table
                .cols
                .iter()
                .find(|c| c.0 == key)
                .map(|c| c.1)
                .unwrap_or(Ty::Any);
            (key, ty)
        } else {
            self.b.pick(src.table.cols)
        };
        let spelled = self.spell(name);
        if qualify || scope.len() > 1 || self.b.chance(20) {
            (format!("{}.{spelled}", src.name), ty)
        } else {
            (spelled, ty)
        }
    }

    fn key_column(&mut self, scope: &[Src]) -> (String, Ty) {
        let src = self.b.pick(scope);
        let key = src.table.key;
        let ty = src
            .table
            .cols
            .iter()
            .find(|c| c.0 == key)
            .map(|c| c.1)
            .unwrap_or(Ty::Any);
        let spelled = self.spell(key);
        if scope.len() > 1 || self.b.chance(30) {
            (format!("{}.{spelled}", src.name), ty)
        } else {
            (spelled, ty)
        }
    }

    // -- conditions ---------------------------------------------------------------------

    fn condition(&mut self, scope: &[Src], depth: usize) -> String {
        let k = if depth >= 2 {
            self.b.below(8)
        } else {
            self.b.below(14)
        };
        match k {
            0 | 1 => {
                let (c, ty) = self.key_column(scope);
                let v = self.value(ty);
                if self.b.chance(75) {
                    format!("{c} = {v}")
                } else {
                    format!("{v} = {c}")
                }
            }
            2 => {
                let (c, ty) = self.key_column(scope);
                let n = 1 + self.b.below(3);
                let vs: Vec<String> = (0..n).map(|_| self.value(ty)).collect();
                let not = if self.b.chance(15) { "NOT " } else { "" };
                format!("{c} {not}IN ({})", vs.join(", "))
            }
            3 => {
                let (c, ty) = self.column(scope, false);
                let v = self.value(ty);
                let op = self
                    .b
                    .pick(&["IS", "IS NOT", "IS NOT DISTINCT FROM", "IS DISTINCT FROM"]);
                format!("{c} {op} {v}")
            }
            4 => {
                let (c, ty) = self.column(scope, false);
                let v = self.value(ty);
                let op = self.b.pick(&["<", "<=", ">", ">=", "<>", "!=", "=", "=="]);
                format!("{c} {op} {v}")
            }
            5 => {
                let (c, _) = self.column(scope, false);
                let op = self
                    .b
                    .pick(&["IS NULL", "IS NOT NULL", "NOTNULL", "ISNULL"]);
                format!("{c} {op}")
            }
            6 => {
                let (c, ty) = self.column(scope, false);
                let (lo, hi) = (self.value(ty), self.value(ty));
                format!("{c} BETWEEN {lo} AND {hi}")
            }
            7 if self.b.chance(25) => {
                // A key compared under another collation pins nothing.
                let (c, ty) = self.key_column(scope);
                let v = self.value(ty);
                format!("{c} = {v} COLLATE NOCASE")
            }
            7 => {
                let (c, _) = self.column(scope, false);
                let p = self.b.pick(&["'a%'", "'%e%'", "'_'", "'ACME'"]);
                if self.b.chance(70) {
                    format!("{c} LIKE {p}")
                } else {
                    format!("{c} GLOB {}", p.replace('%', "*").replace('_', "?"))
                }
            }
            8 | 9 => {
                let (a, b) = (
                    self.condition(scope, depth + 1),
                    self.condition(scope, depth + 1),
                );
                format!("{a} AND {b}")
            }
            10 => {
                let (a, b) = (
                    self.condition(scope, depth + 1),
                    self.condition(scope, depth + 1),
                );
                if self.b.chance(50) {
                    format!("({a} OR {b})")
                } else {
                    format!("{a} OR {b}")
                }
            }
            11 => format!("NOT ({})", self.condition(scope, depth + 1)),
            12 => {
                // The key of one table among the keys of another (co-located or not).
                let (c, _) = self.key_column(scope);
                let inner = self.b.pick(&[&EVENTS, &USERS, &COUNTERS, &PLANS]);
                let inner_scope = [Src {
                    table: inner,
                    name: "x",
                }];
                let cond = if self.b.chance(60) {
                    format!(" WHERE {}", self.condition(&inner_scope, depth + 1))
                } else {
                    String::new()
                };
                let limit = if self.b.chance(15) { " LIMIT 1" } else { "" };
                format!(
                    "{c} IN (SELECT x.{} FROM {} x{cond}{limit})",
                    inner.key, inner.name
                )
            }
            _ => {
                // Correlated on the key (pushed down) or on something else.
                let outer = self.b.pick(scope);
                let inner = self.b.pick(&[&EVENTS, &USERS, &PLANS]);
                let inner_scope = [Src {
                    table: inner,
                    name: "y",
                }];
                let on = if self.b.chance(70) {
                    format!("y.{} = {}.{}", inner.key, outer.name, outer.table.key)
                } else {
                    let (c, _) = self.column(&[outer], true);
                    format!("y.id = {c}")
                };
                let more = if self.b.chance(40) {
                    format!(" AND {}", self.condition(&inner_scope, depth + 1))
                } else {
                    String::new()
                };
                let not = if self.b.chance(20) { "NOT " } else { "" };
                format!(
                    "{not}EXISTS (SELECT 1 FROM {} y WHERE {on}{more})",
                    inner.name
                )
            }
        }
    }

    // -- SELECT -------------------------------------------------------------------------

    /// FROM clause, its sources, and a join condition for the WHERE (comma joins).
    fn from(&mut self) -> (String, Vec<Src>, Option<String>) {
        let src = |table: &'static Table, name: &'static str| Src { table, name };
        let join = self.b.pick(&["JOIN", "JOIN", "LEFT JOIN", "INNER JOIN"]);
        match self.b.below(12) {
            0..=4 => {
                let t = self.b.pick(&ALL);
                if self.b.chance(50) {
                    (
                        format!("{} {}", t.name, t.alias),
                        vec![src(t, t.alias)],
                        None,
                    )
                } else {
                    (t.name.to_string(), vec![src(t, t.name)], None)
                }
            }
            5 => {
                let on = if self.b.chance(50) {
                    "u.tenantId = e.tenantId"
                } else {
                    "u.tenantId = e.tenantId AND u.id = e.id"
                };
                (
                    format!("events e {join} users u ON {on}"),
                    vec![src(&EVENTS, "e"), src(&USERS, "u")],
                    None,
                )
            }
            6 => (
                format!("events e {join} plans p ON p.id = e.amount"),
                vec![src(&EVENTS, "e"), src(&PLANS, "p")],
                None,
            ),
            7 => (
                format!("events e {join} counters c ON c.k = e.id"),
                vec![src(&EVENTS, "e"), src(&COUNTERS, "c")],
                None,
            ),
            8 => (
                format!("events e {join} settings s ON s.key = e.kind"),
                vec![src(&EVENTS, "e"), src(&SETTINGS, "s")],
                None,
            ),
            9 => (
                "events e, users u".to_string(),
                vec![src(&EVENTS, "e"), src(&USERS, "u")],
                Some("e.tenantId = u.tenantId".to_string()),
            ),
            10 => (
                "users u JOIN events e USING (tenantId)".to_string(),
                vec![src(&USERS, "u"), src(&EVENTS, "e")],
                None,
            ),
            _ => (
                format!("users u JOIN events e ON e.tenantId = u.tenantId {join} plans p ON p.id = e.id"),
                vec![src(&USERS, "u"), src(&EVENTS, "e"), src(&PLANS, "p")],
                None,
            ),
        }
    }

    fn where_clause(&mut self, scope: &[Src], join: Option<String>) -> String {
        let cond = self.b.chance(75).then(|| self.condition(scope, 0));
        match (join, cond) {
            (Some(j), Some(c)) => format!(" WHERE {j} AND {c}"),
            (Some(j), None) => format!(" WHERE {j}"),
            (None, Some(c)) => format!(" WHERE {c}"),
            (None, None) => String::new(),
        }
    }

    fn item(&mut self, scope: &[Src]) -> String {
        let (c, _) = self.column(scope, false);
        match self.b.below(16) {
            0 => format!("{c} * 2"),
            1 => format!("{c} + 1"),
            2 => format!("{c} || '-'"),
            3 => format!("coalesce({c}, 0)"),
            4 => format!("upper({c})"),
            5 => format!("typeof({c})"),
            6 => format!("length({c})"),
            7 => format!("CASE WHEN {c} IS NULL THEN 0 ELSE 1 END"),
            8 => format!("{c} AS x"),
            _ => c,
        }
    }

    /// ORDER BY the primary keys of every source: a total order, as each source's rows
    /// meet at most one row (or one key-equal group) of the others.
    fn total_order(&mut self, scope: &[Src]) -> String {
        let mut terms = Vec::new();
        for s in scope {
            for k in s.table.pk {
                let dir =
                    self.b
                        .pick(&["", "", " ASC", " DESC", " DESC NULLS FIRST", " NULLS LAST"]);
                terms.push(format!("{}.{k}{dir}", s.name));
            }
        }
        format!(" ORDER BY {}", terms.join(", "))
    }

    fn limit(&mut self) -> String {
        match self.b.below(6) {
            0 => format!(" LIMIT {}", self.limit_value()),
            1 => {
                let (n, m) = (self.limit_value(), self.limit_value());
                format!(" LIMIT {n} OFFSET {m}")
            }
            2 => {
                let (m, n) = (self.limit_value(), self.limit_value());
                format!(" LIMIT {m}, {n}")
            }
            _ => String::new(),
        }
    }

    /// A SELECT and whether its rows come in a total order.
    fn select(&mut self) -> (String, bool) {
        match self.b.below(16) {
            0..=7 => self.select_rows(),
            8..=12 => self.select_aggregate(),
            13 => (self.select_compound(), false),
            _ => self.select_other(),
        }
    }

    fn select_rows(&mut self) -> (String, bool) {
        let (from, scope, join) = self.from();
        let distinct = self.b.chance(15);
        let items: Vec<String> = if !distinct && self.b.chance(15) {
            vec![self.b.pick(&["*", "*"]).to_string()]
        } else {
            (0..1 + self.b.below(3))
                .map(|_| self.item(&scope))
                .collect()
        };
        let where_ = self.where_clause(&scope, join);
        let mut sql = format!(
            "SELECT {}{} FROM {from}{where_}",
            if distinct { "DISTINCT " } else { "" },
            items.join(", ")
        );
        if distinct {
            // Ordered by every output column: total over distinct rows.
            if self.b.chance(50) {
                let ords: Vec<String> = (1..=items.len()).map(|i| i.to_string()).collect();
                sql += &format!(" ORDER BY {}", ords.join(", "));
                sql += &self.limit();
                return (sql, true);
            }
            return (sql, false);
        }
        match self.b.below(3) {
            0 => {
                sql += &self.total_order(&scope);
                sql += &self.limit();
                (sql, true)
            }
            1 => {
                let (c, _) = self.column(&scope, false);
                let collate = self
                    .b
                    .pick(&["", "", " COLLATE NOCASE", " COLLATE RTRIM", " DESC"]);
                sql += &format!(" ORDER BY {c}{collate}");
                (sql, false)
            }
            _ => (sql, false),
        }
    }

    /// An aggregate, or (half the time) an expression over one, which d1plus evaluates
    /// itself after the merge.
    fn aggregate(&mut self, scope: &[Src]) -> String {
        let (c, _) = self.column(scope, false);
        let base = match self.b.below(9) {
            0 => "count(*)".to_string(),
            1 => format!("count({c})"),
            2 => format!("sum({c})"),
            3 => format!("total({c})"),
            4 => format!("avg({c})"),
            5 => format!("min({c})"),
            6 => format!("max({c})"),
            7 => format!("count(DISTINCT {c})"),
            _ => format!("sum(DISTINCT {c})"),
        };
        if self.b.chance(50) {
            return base;
        }
        match self.b.below(26) {
            0 => format!("{base} - min({c})"),
            1 => format!("round({base}, 2)"),
            2 => format!("{base} + count(*)"),
            3 => format!("coalesce({base}, 0)"),
            4 => format!("{base} AS n"),
            5 => format!("{base} * 2"),
            6 => format!("{base} IS NULL"),
            7 => format!("abs({base})"),
            8 => format!("{base} / 2"),
            9 => format!("{base} / 2.0"),
            10 => format!("-{base}"),
            11 => format!("{base} > {}", self.value(Ty::Any)),
            12 => format!("{base} = {}", self.value(Ty::Any)),
            13 => format!("iif({base} > 1, 'y', 'n')"),
            14 => format!("CASE WHEN {base} IS NULL THEN 0 ELSE 1 END"),
            15 => format!("typeof({base})"),
            16 => format!("length(group_concat({c}))"),
            17 => format!("upper({base})"),
            18 => format!("nullif({base}, 0)"),
            19 => format!("ifnull({base}, 'none')"),
            20 => format!("cast({base} AS TEXT)"),
            21 => format!("{base} * 4611686018427387904"),
            22 => format!("{base} IN (1, 2, '3')"),
            23 => format!("{base} % 3"),
            24 => format!("max({c}) - min({c})"),
            _ => format!("{base} || 'x'"),
        }
    }

    fn select_aggregate(&mut self) -> (String, bool) {
        let (from, scope, join) = self.from();
        let groups: Vec<String> = (0..self.b.below(3))
            .map(|_| self.column(&scope, false).0)
            .collect();
        let mut items = groups.clone();
        for _ in 0..1 + self.b.below(3) {
            items.push(self.aggregate(&scope));
        }
        if self.b.chance(30) {
            items.rotate_left(groups.len());
        }
        let where_ = self.where_clause(&scope, join);
        let mut sql = format!("SELECT {} FROM {from}{where_}", items.join(", "));
        if groups.is_empty() {
            return (sql, true);
        }
        sql += &format!(" GROUP BY {}", groups.join(", "));
        if self.b.chance(30) {
            let having = match self.b.below(5) {
                0 => format!("count(*) > {}", self.value(Ty::Int)),
                1 => {
                    let (c, ty) = self.column(&scope, false);
                    format!("sum({c}) >= {}", self.value(ty))
                }
                2 => {
                    // A group column keeps its affinity after the merge: `amount = '7'`.
                    let g = groups[self.b.below(groups.len())].clone();
                    format!("{g} = {}", self.value(Ty::Any))
                }
                3 => self.aggregate(&scope),
                _ => {
                    let (c, _) = self.column(&scope, false);
                    format!("min({c}) IS NOT NULL")
                }
            };
            sql += &format!(" HAVING {having}");
        }
        match self.b.below(3) {
            0 => {
                // Groups are distinct: ordering by every group column is total.
                let terms: Vec<String> = groups
                    .iter()
                    .map(|g| format!("{g}{}", self.b.pick(&["", " DESC"])))
                    .collect();
                sql += &format!(" ORDER BY {}", terms.join(", "));
                sql += &self.limit();
                (sql, true)
            }
            1 => {
                sql += " ORDER BY count(*) DESC";
                (sql, false)
            }
            _ => (sql, false),
        }
    }

    fn select_compound(&mut self) -> String {
        let a = self.b.pick(&ALL);
        let b = self.b.pick(&ALL);
        let wa = self.where_clause(
            &[Src {
                table: a,
                name: a.name,
            }],
            None,
        );
        let wb = self.where_clause(
            &[Src {
                table: b,
                name: b.name,
            }],
            None,
        );
        let op = self.b.pick(&["UNION ALL", "UNION", "INTERSECT", "EXCEPT"]);
        format!(
            "SELECT {} FROM {}{wa} {op} SELECT {} FROM {}{wb}",
            a.key, a.name, b.key, b.name
        )
    }

    fn select_other(&mut self) -> (String, bool) {
        let scope = [Src {
            table: &EVENTS,
            name: "e",
        }];
        let w = self.where_clause(&scope, None);
        match self.b.below(10) {
            5 => (
                format!("WITH t AS (SELECT count(*) AS n, total(e.amount) AS s FROM events e{w}) SELECT n, s FROM t"),
                false,
            ),
            6 => (
                format!("SELECT e.id, e.amount * 1.0 / (SELECT total(amount) FROM events) FROM events e{w}"),
                false,
            ),
            7 => {
                let and = if w.is_empty() { " WHERE" } else { " AND" };
                (
                    format!("SELECT e.tenantId, e.id FROM events e{w}{and} e.amount = (SELECT max(amount) FROM events)"),
                    false,
                )
            }
            8 => (
                // Ordinals written as expressions: SQLite reads `(1)` and `+2` as ordinals.
                format!("SELECT e.tenantId, e.id FROM events e{w} ORDER BY (1), +2"),
                true,
            ),
            9 => (
                format!("WITH x AS (SELECT e.tenantId, e.id, e.kind FROM events e{w}), y AS (SELECT * FROM x WHERE kind IS NOT NULL) SELECT count(*), count(DISTINCT tenantId) FROM y"),
                false,
            ),
            0 => (
                format!("SELECT e.tenantId, e.id, row_number() OVER (PARTITION BY e.tenantId ORDER BY e.id) FROM events e{w}"),
                false,
            ),
            1 => (
                format!("SELECT e.tenantId, count(*) OVER () FROM events e{w}"),
                false,
            ),
            2 => (
                format!("WITH x AS (SELECT * FROM events e{w}) SELECT tenantId, id, amount FROM x"),
                false,
            ),
            3 => {
                let v = self.value(Ty::Int);
                (
                    format!("SELECT t.* FROM (SELECT e.tenantId, sum(e.amount) AS s FROM events e{w} GROUP BY e.tenantId) AS t WHERE t.s > {v}"),
                    false,
                )
            }
            _ => (
                format!("SELECT e.tenantId, e.id, (SELECT count(*) FROM users u WHERE u.tenantId = e.tenantId) FROM events e{w}"),
                false,
            ),
        }
    }

    // -- writes -------------------------------------------------------------------------

    fn returning(&mut self, t: &Table) -> String {
        match self.b.below(8) {
            0 => " RETURNING *".into(),
            1 => format!(" RETURNING {}", t.key),
            2 => format!(" RETURNING {} AS k, {}", t.key, self.b.pick(t.cols).0),
            _ => String::new(),
        }
    }

    fn insert(&mut self) -> String {
        let t = self.b.pick(&ALL);
        if self.b.chance(12) {
            return self.insert_select();
        }
        let verb = self.b.pick(&[
            "INSERT",
            "INSERT",
            "INSERT",
            "INSERT OR IGNORE",
            "INSERT OR REPLACE",
            "REPLACE",
            "INSERT OR ABORT",
        ]);
        // Columns: all in declared order (without a list), or some, shuffled; the
        // NOT NULL ones and (usually) the key always.
        let cols: Vec<(&str, Ty)> = if self.b.chance(30) {
            t.cols.to_vec()
        } else {
            let mut cols: Vec<(&str, Ty)> = t
                .cols
                .iter()
                .copied()
                .filter(|(c, _)| {
                    t.not_null.contains(c)
                        || (*c == t.key && self.b.chance(95))
                        || self.b.chance(60)
                })
                .collect();
            if cols.is_empty() {
                cols.push(t.cols[0]);
            }
            for i in (1..cols.len()).rev() {
                let j = self.b.below(i + 1);
                cols.swap(i, j);
            }
            cols
        };
        let list = if cols.len() == t.cols.len()
            && cols.iter().zip(t.cols).all(|(a, b)| a.0 == b.0)
            && self.b.chance(50)
        {
            String::new()
        } else {
            let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
            format!(" ({})", names.join(", "))
        };
        let rows: Vec<String> = (0..1 + self.b.below(4))
            .map(|_| {
                let vs: Vec<String> = cols.iter().map(|&(_, ty)| self.value(ty)).collect();
                format!("({})", vs.join(", "))
            })
            .collect();
        let mut sql = format!("{verb} INTO {}{list} VALUES {}", t.name, rows.join(", "));
        if verb == "INSERT" && self.b.chance(30) {
            let set = t.cols.iter().find(|c| !t.pk.contains(&c.0)).map(|c| c.0);
            sql += &match (self.b.below(4), set) {
                (0, _) | (_, None) => " ON CONFLICT DO NOTHING".to_string(),
                (1, Some(c)) => format!(
                    " ON CONFLICT ({}) DO UPDATE SET {c} = excluded.{c}",
                    t.pk.join(", ")
                ),
                (2, Some(c)) => {
                    let v = self.value(Ty::Int);
                    format!(" ON CONFLICT ({}) DO UPDATE SET {c} = {v}", t.pk.join(", "))
                }
                (_, Some(_)) => format!(" ON CONFLICT DO UPDATE SET {k} = excluded.{k}", k = t.key),
            };
        }
        sql + &self.returning(t)
    }

    fn insert_select(&mut self) -> String {
        let scope = [Src {
            table: &EVENTS,
            name: "events",
        }];
        let w = self.where_clause(&scope, None);
        let offset = self.b.pick(&[10, 100]);
        match self.b.below(3) {
            0 => format!("INSERT OR IGNORE INTO events (tenantId, id, kind, amount) SELECT tenantId, id + {offset}, kind, amount FROM events{w}"),
            1 => format!("INSERT OR IGNORE INTO users (tenantId, id, name) SELECT tenantId, id, kind FROM events{w}"),
            _ => format!("INSERT OR IGNORE INTO counters (k, n) SELECT id + {offset}, amount FROM events{w}"),
        }
    }

    fn assignment(&mut self, t: &Table) -> String {
        let (c, ty) = if self.b.chance(5) {
            (t.key, Ty::Any)
        } else {
            let non_pk: Vec<(&str, Ty)> = t
                .cols
                .iter()
                .copied()
                .filter(|c| !t.pk.contains(&c.0))
                .collect();
            self.b.pick(&non_pk)
        };
        let rhs = match self.b.below(5) {
            0 => format!("{c} + 1"),
            1 => "NULL".into(),
            2 => format!("upper({c})"),
            _ => self.value(ty),
        };
        format!("{c} = {rhs}")
    }

    fn update(&mut self) -> String {
        let t = self.b.pick(&ALL);
        let verb = self
            .b
            .pick(&["UPDATE", "UPDATE", "UPDATE OR IGNORE", "UPDATE OR REPLACE"]);
        let sets: Vec<String> = (0..1 + self.b.below(2))
            .map(|_| self.assignment(t))
            .collect();
        let scope = [Src {
            table: t,
            name: t.name,
        }];
        let w = if self.b.chance(85) {
            format!(" WHERE {}", self.condition(&scope, 0))
        } else {
            String::new()
        };
        format!(
            "{verb} {} SET {}{w}{}",
            t.name,
            sets.join(", "),
            self.returning(t)
        )
    }

    fn delete(&mut self) -> String {
        let t = self.b.pick(&ALL);
        let scope = [Src {
            table: t,
            name: t.name,
        }];
        let w = if self.b.chance(85) {
            format!(" WHERE {}", self.condition(&scope, 0))
        } else {
            String::new()
        };
        format!("DELETE FROM {}{w}{}", t.name, self.returning(t))
    }
}
