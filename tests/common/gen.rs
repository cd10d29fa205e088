//! A seeded random query generator over the `items` schema of the read tests, with a
//! shrinker: a failing query is reduced part by part while it still fails, then written
//! to `corpus/regressions/` so it runs as a regression case from then on.
#![allow(dead_code)]

use super::{Harness, Rng};
use d1plus::slt::bind_literals;

/// A generated SELECT, kept in parts so it can shrink.
#[derive(Debug, Clone)]
pub struct GenQuery {
    pub table: &'static str,
    /// A FROM subquery standing for the table (`(SELECT * FROM items …) AS items`), which
    /// d1plus reads like the table when it only filters and projects.
    pub derived: Option<String>,
    pub distinct: bool,
    pub items: Vec<String>,
    pub where_: Vec<String>,
    pub group: Vec<String>,
    pub having: Option<String>,
    pub order: Vec<String>,
    pub limit: Option<(u64, u64)>,
}

/// The vocabulary of one schema.
pub struct Schema {
    pub table: &'static str,
    pub columns: &'static [&'static str],
    pub scalars: &'static [&'static str],
    pub aggs: &'static [&'static str],
    pub predicates: &'static [&'static str],
    pub group_keys: &'static [&'static str],
    /// Columns that make an ORDER BY total (the primary key).
    pub total_order: &'static [&'static str],
    /// How many units in the last place a REAL may differ by (REAL sums over values on
    /// several shards are rounded once, SQLite's row by row: see the README).
    pub real_ulps: u64,
}

/// `items` of tests/oracle_reads.rs: a TEXT key, mixed-type columns, a NOCASE column.
pub const ITEMS: Schema = Schema {
    table: "items",
    columns: &COLUMNS,
    scalars: &SCALARS,
    aggs: &AGGS,
    predicates: &PREDICATES,
    group_keys: &GROUP_KEYS,
    total_order: &["tenantId", "id"],
    real_ulps: 0,
};

/// `orders`: an INTEGER key, reals, dates as text, a reference join.
pub const ORDERS: Schema = Schema {
    table: "orders o JOIN regions r ON r.code = o.region",
    columns: &[
        "o.customerId",
        "o.id",
        "o.total",
        "o.placed",
        "r.name",
        "o.status",
    ],
    scalars: &[
        "o.total * 1.1",
        "substr(o.placed, 1, 7)",
        "o.customerId % 4",
        "length(r.name)",
        "o.total - o.id",
        "coalesce(o.status, 'none')",
    ],
    aggs: &[
        "count(*)",
        "sum(o.total)",
        "avg(o.total)",
        "min(o.placed)",
        "max(o.total)",
        "count(DISTINCT o.region)",
        "total(o.id)",
        "round(sum(o.total) / count(*), 2)",
        "count(o.status)",
        "max(o.id) - min(o.id)",
        "group_concat(DISTINCT r.name) IS NULL",
    ],
    predicates: &[
        "o.total > 50",
        "o.status IS NULL",
        "o.customerId IN (1, 2, 3)",
        "o.placed >= '2024-02'",
        "r.name <> 'North'",
        "o.customerId = 7",
        "o.total BETWEEN 10 AND 90",
        "o.customerId > 100",
        "o.status IS NOT 'paid'",
    ],
    group_keys: &[
        "o.customerId",
        "o.status",
        "r.name",
        "substr(o.placed, 1, 7)",
        "o.region",
    ],
    total_order: &["o.customerId", "o.id"],
    real_ulps: 0,
};

const COLUMNS: [&str; 6] = [
    "tenantId",
    "id",
    "name COLLATE BINARY",
    "price",
    "qty",
    "tag",
];
const SCALARS: [&str; 9] = [
    "price * 2",
    "id % 5",
    "coalesce(qty, 0)",
    "length(tag)",
    "-price",
    "upper(tag)",
    "price + id",
    "abs(qty)",
    "qty IS price",
];
const AGGS: [&str; 16] = [
    "count(*)",
    "count(qty)",
    "sum(price)",
    "sum(qty)",
    "total(qty)",
    "avg(price)",
    "min(price)",
    "max(qty)",
    "count(DISTINCT tag)",
    "max(price) - min(price)",
    "round(avg(qty), 1)",
    "sum(id) % 7",
    "min(tag)",
    "avg(DISTINCT tag)",
    "sum(qty) IS total(qty)",
    "min(qty) IS NOT max(qty)",
];
const PREDICATES: [&str; 15] = [
    // Uncorrelated subqueries over the sharded table, computed first.
    "tag IN (SELECT tag FROM items WHERE qty > 2)",
    "id NOT IN (SELECT id FROM items WHERE price > 5)",
    "EXISTS (SELECT 1 FROM items WHERE price > 100)",
    "qty IN (SELECT qty FROM items WHERE tag = 'a')",
    "price > 10",
    "qty IS NULL",
    "tag IN ('a', 'b')",
    "id % 2 = 0",
    "tenantId <> 'acme'",
    "price BETWEEN 2 AND 20",
    "name LIKE 'a%'",
    "tenantId IN ('globex', 'initech')",
    // SQLite's IS with any right side (a key pin, a value, and its negation).
    "tenantId IS 'acme'",
    "qty IS 2",
    "tag IS NOT 'a'",
];
const GROUP_KEYS: [&str; 5] = ["tag", "tenantId", "id % 3", "price", "qty"];

/// A column reference spelled another way SQLite reads as the same column: upper-cased,
/// quoted, or (a bare name in a one-table query) qualified by the table. Anything else as
/// it is.
fn respell(rng: &mut Rng, key: &str, sc: &Schema) -> String {
    let (qualifier, column) = match key.split_once('.') {
        Some((q, c)) => (Some(q), c),
        None => (None, key),
    };
    if !column
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        || rng.chance(50)
    {
        return key.to_string();
    }
    let qualified = |c: String| match qualifier {
        Some(q) => format!("{q}.{c}"),
        None => c,
    };
    match rng.below(3) {
        0 => qualified(column.to_ascii_uppercase()),
        1 => qualified(format!("\"{column}\"")),
        _ if qualifier.is_none() && !sc.table.contains(' ') => format!("{}.{column}", sc.table),
        _ => key.to_ascii_uppercase(),
    }
}

impl GenQuery {
    pub fn random(rng: &mut Rng) -> GenQuery {
        GenQuery::random_for(rng, &ITEMS)
    }

    pub fn random_for(rng: &mut Rng, sc: &Schema) -> GenQuery {
        let mut q = GenQuery {
            table: sc.table,
            derived: None,
            distinct: false,
            items: vec![],
            where_: vec![],
            group: vec![],
            having: None,
            order: vec![],
            limit: None,
        };
        for _ in 0..rng.below(3) {
            q.where_.push(rng.pick(sc.predicates).to_string());
        }
        if !sc.table.contains(' ') && rng.chance(20) {
            let inner = if rng.chance(50) {
                format!(" WHERE {}", rng.pick(sc.predicates))
            } else {
                String::new()
            };
            // Prisma's no-op LIMIT/OFFSET, and now and then one that drops rows (refused
            // unless the query reads one shard).
            let limit = *rng.pick(&["", "", " LIMIT -1", " LIMIT -1 OFFSET 0", " LIMIT 5"]);
            q.derived = Some(format!(
                "(SELECT * FROM {}{inner}{limit}) AS {}",
                sc.table, sc.table
            ));
        }
        if rng.chance(45) {
            // Aggregate query.
            for _ in 0..rng.below(3) {
                q.group.push(rng.pick(sc.group_keys).to_string());
            }
            q.group.dedup();
            // A group key may be written another way in the output and the ORDER BY
            // (`SELECT items.tag … GROUP BY tag`): it is still that group key.
            let keys: Vec<String> = q.group.iter().map(|g| respell(rng, g, sc)).collect();
            q.items.extend(keys);
            for _ in 0..1 + rng.below(3) {
                q.items.push(rng.pick(sc.aggs).to_string());
            }
            if rng.chance(15) {
                // A bare column beside one min() or max(): SQLite takes it from the row of
                // the extreme. Refused when another min()/max() joins it, or when shards
                // tie on the extreme with different values.
                q.items
                    .retain(|i| !i.contains("min(") && !i.contains("max("));
                let f = *rng.pick(&["min", "max"]);
                q.items.push(format!("{f}({})", rng.pick(sc.columns)));
                q.items.push(rng.pick(sc.columns).to_string());
            }
            // DISTINCT over the groups' rows, ordered by output columns only.
            q.distinct = rng.chance(10);
            if !q.group.is_empty() && rng.chance(30) {
                let agg = rng.pick(&sc.aggs[..3]);
                let bound = rng.below(20);
                if rng.chance(40) {
                    // HAVING naming the aggregate by its result alias (SQLite resolves a
                    // name there to a FROM column first, else to the alias).
                    q.items.push(format!("{agg} AS hv"));
                    q.having = Some(format!("hv > {bound} OR hv IS NULL"));
                } else {
                    q.having = Some(format!("{agg} > {bound}"));
                }
            }
            if !q.group.is_empty() && rng.chance(60) {
                // Group keys last make the order total.
                if rng.chance(50) {
                    q.order.push(format!("{} DESC", rng.pick(sc.aggs)));
                }
                let keys: Vec<String> = q.group.iter().map(|g| respell(rng, g, sc)).collect();
                q.order.extend(keys);
                if rng.chance(50) {
                    q.limit = Some((rng.below(8), rng.below(4)));
                }
            }
        } else {
            for _ in 0..1 + rng.below(3) {
                let item = if rng.chance(70) {
                    rng.pick(sc.columns)
                } else {
                    rng.pick(sc.scalars)
                };
                q.items.push(item.to_string());
            }
            if rng.chance(60) {
                // An expression over an output's alias (SQLite reads the alias where no
                // FROM column has the name): computed by each shard as the output's
                // expression, sorted with its collation.
                if rng.chance(25) {
                    q.items[0] = format!("{} AS o1", q.items[0]);
                    let t = *rng.pick(&[
                        "o1 IS NULL",
                        "(o1)",
                        "o1 || ''",
                        "coalesce(o1, 0)",
                        "abs(o1)",
                        "-(o1)",
                    ]);
                    let dir = *rng.pick(&["", " DESC", " NULLS LAST"]);
                    q.order.push(format!("{t}{dir}"));
                }
                for _ in 0..1 + rng.below(2) {
                    let t = if rng.chance(50) {
                        rng.pick(sc.columns).to_string()
                    } else {
                        rng.pick(sc.scalars).to_string()
                    };
                    let dir = *rng.pick(&["", " DESC", " NULLS LAST", " DESC NULLS FIRST"]);
                    q.order.push(format!("{t}{dir}"));
                }
                // The primary key last makes the order total.
                q.order.extend(sc.total_order.iter().map(|c| c.to_string()));
                if rng.chance(60) {
                    q.limit = Some((rng.below(25), rng.below(30)));
                }
            } else if rng.chance(30) {
                q.distinct = true;
                // NOCASE columns included: DISTINCT runs as GROUP BY, refused when a set of
                // equal values meets two spellings.
                q.items.retain(|i| !i.contains("total"));
                if q.items.is_empty() {
                    q.items.push(sc.group_keys[0].to_string());
                }
            }
        }
        q
    }

    /// This query, without its LIMIT and with its outputs named `c0`, `c1`, … (an alias
    /// kept), as the FROM subquery of an outer query that reads nothing else; and whether
    /// that outer query's order is total (SQL, ordered).
    pub fn wrapped(&self, rng: &mut Rng) -> (String, bool) {
        let mut inner = self.clone();
        inner.limit = None;
        let mut names = Vec::new();
        for (i, item) in inner.items.iter_mut().enumerate() {
            let alias = item
                .rsplit_once(" AS ")
                .map(|(_, a)| a)
                .filter(|a| a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            match alias {
                Some(alias) => names.push(alias.to_string()),
                None => {
                    names.push(format!("c{i}"));
                    *item = format!("{item} AS c{i}");
                }
            }
        }
        let c = rng.pick(&names).clone();
        let (outer, ordered) = match rng.below(12) {
            0 => ("count(*) FROM d".to_string(), false),
            1 => (
                format!("count(*), count(DISTINCT {c}), min({c}), max({c}) FROM d"),
                false,
            ),
            2 => (
                format!("{c}, count(*) FROM d GROUP BY {c} ORDER BY 1"),
                true,
            ),
            3 => (format!("DISTINCT {c} FROM d"), false),
            4 => (format!("sum({c}), avg({c}), total({c}) FROM d"), false),
            5 => (format!("* FROM d WHERE {c} IS NOT NULL AND {c} > 1"), false),
            6 => (
                format!("typeof({c}) AS t, count(*) FROM d GROUP BY t HAVING count(*) > 1"),
                false,
            ),
            7 => (
                format!("{c} FROM d WHERE {c} = '1' OR {c} = 1 OR {c} = 'abc'"),
                false,
            ),
            8 => (
                format!(
                    "{c}, rank() OVER (ORDER BY {c} DESC), dense_rank() OVER (ORDER BY {c}) FROM d"
                ),
                false,
            ),
            9 => (
                format!(
                    "{c}, count(*) OVER (PARTITION BY {c}), max({c}) OVER (ORDER BY {c}) FROM d"
                ),
                false,
            ),
            // A total order (quote() tells every two values apart): which rows LIMIT keeps
            // among equal ones is no database's to choose. Without it, a subquery read
            // first is refused and one read like its table keeps any of them.
            10 => {
                let all: Vec<String> = names.iter().map(|n| format!("quote({n})")).collect();
                (
                    format!(
                        "{c} FROM d ORDER BY {c} DESC, {} LIMIT 3 OFFSET 1",
                        all.join(", ")
                    ),
                    true,
                )
            }
            _ => (format!("{c} || '' AS s, count(*) FROM d GROUP BY s"), false),
        };
        (
            format!(
                "SELECT {outer_sql} ",
                outer_sql = outer.replace("FROM d", &format!("FROM ({}) AS d", inner.sql()))
            ),
            ordered,
        )
    }

    /// This query with a window function among its outputs (a window across shards reads
    /// the rows first: one table's, or the joined tables' with their columns renamed); and
    /// whether its order is total (SQL, ordered).
    pub fn windowed(&self, rng: &mut Rng, sc: &Schema) -> Option<(String, bool)> {
        let aggregated = !self.group.is_empty()
            || self
                .items
                .iter()
                .any(|i| sc.aggs.iter().any(|a| i.contains(a)));
        if aggregated {
            // Windows over groups: their rows are the groups, told apart by the group keys.
            if self.group.is_empty() {
                return None;
            }
            let keys = self.group.join(", ");
            let agg = rng.pick(&sc.aggs[..3]);
            let window = match rng.below(4) {
                0 => format!("rank() OVER (ORDER BY {agg} DESC)"),
                1 => format!("row_number() OVER (ORDER BY {agg} DESC, {keys})"),
                2 => {
                    format!("sum({agg}) OVER (ORDER BY {keys}), lag({agg}) OVER (ORDER BY {keys})")
                }
                // Ties among groups: refused when two are equal.
                _ => format!("row_number() OVER (ORDER BY {agg})"),
            };
            let mut q = self.clone();
            q.items.push(window);
            return Some((q.sql(), q.ordered()));
        }
        let c = rng.pick(sc.columns);
        let d = if rng.chance(50) {
            rng.pick(sc.columns)
        } else {
            rng.pick(sc.scalars)
        };
        let total = sc.total_order.join(", ");
        let dir = *rng.pick(&["", " DESC", " NULLS FIRST", " DESC NULLS LAST"]);
        let window = match rng.below(10) {
            0 => format!("rank() OVER (ORDER BY {d}{dir})"),
            1 => format!("dense_rank() OVER (PARTITION BY {c} ORDER BY {d}{dir}), percent_rank() OVER (ORDER BY {c})"),
            2 => format!("count(*) OVER (PARTITION BY {d}), count({c}) OVER (ORDER BY {d}{dir})"),
            3 => format!("max({c}) OVER (PARTITION BY {d}), min({d}) OVER (ORDER BY {c})"),
            // A total order: the order-dependent functions are every database's.
            4 => format!("row_number() OVER (ORDER BY {d}{dir}, {total})"),
            5 => format!("lag({c}) OVER (ORDER BY {total}), lead({d}, 2, 'none') OVER (PARTITION BY {c} ORDER BY {total} DESC)"),
            6 => format!("sum({d}) OVER (ORDER BY {total} ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"),
            7 => format!("first_value({c}) OVER (PARTITION BY {d} ORDER BY {total}), ntile(3) OVER (ORDER BY {total})"),
            // Ties in the window's order: refused when equal rows differ.
            8 => format!("row_number() OVER (ORDER BY {d}{dir})"),
            _ => format!("total({d}) OVER (ORDER BY {c} RANGE UNBOUNDED PRECEDING)"),
        };
        let mut q = self.clone();
        q.items.push(window);
        Some((q.sql(), q.ordered()))
    }

    /// This query with an output that is a subquery correlated on the shard key, with a
    /// LIMIT/OFFSET or a window function inside (each shard holds every row it can see);
    /// for one-table schemas whose first total-order column is the key.
    pub fn correlated(&self, rng: &mut Rng, sc: &Schema) -> Option<(String, bool)> {
        if sc.table.contains(' ') || !self.group.is_empty() || self.distinct {
            return None;
        }
        let (key, rest) = sc.total_order.split_first()?;
        let t = sc.table;
        let c = rng.pick(sc.columns);
        let order = std::iter::once(format!("{c} DESC"))
            .chain(rest.iter().map(|r| r.to_string()))
            .collect::<Vec<_>>()
            .join(", ");
        let filter = if rng.chance(50) {
            format!(" AND {}", rng.pick(sc.predicates))
        } else {
            String::new()
        };
        let correlated = format!("j.{key} = {t}.{key}{filter}");
        let sub = match rng.below(4) {
            0 => format!(
                "(SELECT group_concat({c}, '|') FROM (SELECT {c} FROM {t} j WHERE {correlated} ORDER BY {order} LIMIT {} OFFSET {}))",
                rng.below(4),
                rng.below(3)
            ),
            1 => format!(
                "(SELECT count(*) FROM (SELECT 1 FROM {t} j WHERE {correlated} LIMIT {}))",
                rng.below(5)
            ),
            2 => format!(
                "(SELECT max(r) FROM (SELECT rank() OVER (ORDER BY {c}) AS r FROM {t} j WHERE {correlated}))"
            ),
            _ => format!(
                "EXISTS (SELECT 1 FROM {t} j WHERE {correlated} ORDER BY {order} LIMIT 1 OFFSET 1)"
            ),
        };
        let mut q = self.clone();
        q.items.push(sub);
        Some((q.sql(), q.ordered()))
    }

    /// This query over a FROM subquery keyed like its table (each row one key's, the key
    /// shown), which d1plus reads like a sharded table: its first table replaced by such a
    /// subquery under the same name (DISTINCT, grouped by the primary key, or ordered), or
    /// joined `USING (key)` with per-key aggregates of its table (SQL, ordered).
    pub fn keyed(&self, rng: &mut Rng, sc: &Schema) -> Option<(String, bool)> {
        let (alias, key) = match sc.total_order.first()?.split_once('.') {
            Some((a, k)) => (Some(a), k),
            None => (None, *sc.total_order.first()?),
        };
        let pk: Vec<&str> = sc
            .total_order
            .iter()
            .map(|c| c.rsplit('.').next().unwrap_or(c))
            .collect();
        let mut words = sc.table.splitn(3, ' ');
        let name = words.next()?;
        let rest = match alias {
            Some(a) if words.next() == Some(a) => words.next().map(|r| format!(" {r}")),
            Some(_) => return None,
            None => Some(String::new()),
        }
        .unwrap_or_default();
        let written = alias.unwrap_or(name);
        let inner_alias = alias.map(|a| format!(" {a}")).unwrap_or_default();
        // A filter only where its names are the table's own (no alias, no subquery).
        let filter = match rng.pick(sc.predicates) {
            p if alias.is_none() && !p.contains("SELECT") && rng.chance(40) => {
                format!(" WHERE {p}")
            }
            _ => String::new(),
        };
        let mut q = self.clone();
        q.derived = Some(match rng.below(5) {
            0 => format!("(SELECT DISTINCT * FROM {name}{inner_alias}{filter}) AS {written}{rest}"),
            1 => format!(
                "(SELECT * FROM {name}{inner_alias}{filter} GROUP BY {}) AS {written}{rest}",
                pk.join(", ")
            ),
            // Not keyed (its order is the reading query's): read first, or refused.
            2 => format!(
                "(SELECT * FROM {name}{inner_alias}{filter} ORDER BY {} DESC) AS {written}{rest}",
                pk.join(" DESC, ")
            ),
            // A plain filter: keyed where a join keeps it from being read as the table.
            3 => {
                let filter = if filter.is_empty() {
                    format!(" WHERE {key} IS NOT NULL")
                } else {
                    filter
                };
                format!("(SELECT * FROM {name}{inner_alias}{filter}) AS {written}{rest}")
            }
            _ if alias.is_none() => {
                // A NOCASE column under max() has no collation left (SQLite's rule).
                let c = rng.pick(sc.columns).replace(" COLLATE BINARY", "");
                let join = *rng.pick(&["JOIN", "LEFT JOIN"]);
                let aggregated = !q.group.is_empty()
                    || q.items
                        .iter()
                        .any(|i| sc.aggs.iter().any(|a| i.contains(a)));
                q.items.push(
                    if aggregated {
                        "max(kc), min(km)"
                    } else {
                        "kc, km"
                    }
                    .into(),
                );
                format!(
                    "{name} {join} (SELECT {key}, count(*) AS kc, max({c}) AS km FROM {name}{filter} GROUP BY {key}) AS k USING ({key})"
                )
            }
            _ => return None,
        });
        Some((q.sql(), q.ordered()))
    }

    pub fn ordered(&self) -> bool {
        !self.order.is_empty()
    }

    pub fn sql(&self) -> String {
        let mut s = format!(
            "SELECT {}{} FROM {}",
            if self.distinct { "DISTINCT " } else { "" },
            self.items.join(", "),
            self.derived.as_deref().unwrap_or(self.table)
        );
        if !self.where_.is_empty() {
            s.push_str(&format!(" WHERE {}", self.where_.join(" AND ")));
        }
        if !self.group.is_empty() {
            s.push_str(&format!(" GROUP BY {}", self.group.join(", ")));
        }
        if let Some(h) = &self.having {
            s.push_str(&format!(" HAVING {h}"));
        }
        if !self.order.is_empty() {
            s.push_str(&format!(" ORDER BY {}", self.order.join(", ")));
        }
        if let Some((n, m)) = self.limit {
            s.push_str(&format!(" LIMIT {n} OFFSET {m}"));
        }
        s
    }

    /// Smaller variants: each drops one part.
    fn smaller(&self) -> Vec<GenQuery> {
        let mut out = Vec::new();
        let mut push = |q: GenQuery| out.push(q);
        for i in 0..self.items.len() {
            if self.items.len() > 1 && !self.group.contains(&self.items[i]) {
                let mut q = self.clone();
                q.items.remove(i);
                push(q);
            }
        }
        for i in 0..self.where_.len() {
            let mut q = self.clone();
            q.where_.remove(i);
            push(q);
        }
        if self.having.is_some() {
            let mut q = self.clone();
            q.having = None;
            push(q);
        }
        if self.limit.is_some() {
            let mut q = self.clone();
            q.limit = None;
            push(q);
        }
        if self.distinct {
            let mut q = self.clone();
            q.distinct = false;
            push(q);
        }
        if self.derived.is_some() {
            let mut q = self.clone();
            q.derived = None;
            push(q);
        }
        out
    }

    /// Shrinks while `fails` holds.
    pub fn shrink(self, fails: &dyn Fn(&GenQuery) -> bool) -> GenQuery {
        let mut q = self;
        'outer: loop {
            for s in q.smaller() {
                if fails(&s) {
                    q = s;
                    continue 'outer;
                }
            }
            return q;
        }
    }
}

/// Runs `n` generated queries; on a mismatch, shrinks it, records it under
/// `corpus/regressions/` and panics with the reproducer.
pub fn run_generated(h: &Harness, rng: &mut Rng, n: usize, seed_label: &str) -> (usize, usize) {
    run_generated_for(h, rng, n, seed_label, &ITEMS)
}

/// [`run_generated`] over another schema.
pub fn run_generated_for(
    h: &Harness,
    rng: &mut Rng,
    n: usize,
    seed_label: &str,
    schema: &Schema,
) -> (usize, usize) {
    let (mut ran, mut refused) = (n, 0);
    for i in 0..n {
        let q = GenQuery::random_for(rng, schema);
        let compare = |q: &GenQuery| h.compare_within(&q.sql(), &[], q.ordered(), schema.real_ulps);
        let p: &str = rng.pick::<&str>(schema.predicates);
        if let Err(e) = metamorphic(h, &q, p) {
            panic!("generated query {i}: {e}");
        }
        // Half the queries also run with some literals as parameters of every style: a
        // parameter must mean its value wherever the planner moves or copies its text.
        let style = rng.next();
        let compare_bound = |q: &GenQuery| {
            let (sql, params) = bind_literals(&q.sql(), style);
            h.compare_within(&sql, &params, q.ordered(), schema.real_ulps)
                .map_err(|e| format!("with parameters {params:?}: {sql}\n{e}"))
        };
        let compare = |q: &GenQuery| -> Result<bool, String> {
            let plain = compare(q)?;
            if style & 1 == 0 {
                return Ok(plain);
            }
            Ok(compare_bound(q)? && plain)
        };
        // The query as a FROM subquery under an outer query that reads nothing else; with
        // a subquery correlated on the key as an output; with a window function.
        let variants = [
            rng.chance(30)
                .then(|| ("as a FROM subquery", Some(q.wrapped(rng)))),
            rng.chance(10)
                .then(|| ("with a correlated subquery", q.correlated(rng, schema))),
            rng.chance(20)
                .then(|| ("with a window", q.windowed(rng, schema))),
            rng.chance(20)
                .then(|| ("through a keyed subquery", q.keyed(rng, schema))),
        ];
        for (what, variant) in variants.into_iter().flatten() {
            let Some((sql, ordered)) = variant else {
                continue;
            };
            ran += 1;
            match h.compare_within(&sql, &[], ordered, schema.real_ulps.max(2)) {
                Ok(true) => {}
                Ok(false) => refused += 1,
                Err(e) => panic!("generated query {i} {what} differs from the oracle:\n{sql}\n{e}"),
            }
        }
        match compare(&q) {
            Ok(true) => {}
            Ok(false) => refused += 1,
            Err(first) => {
                let small = q.shrink(&|c| compare(c).is_err());
                let why = compare(&small).err().unwrap_or(first);
                // corpus/regressions runs under the items schema only.
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
                    if schema.table == ITEMS.table {
                        "corpus/regressions"
                    } else {
                        "target/generated-regressions"
                    },
                );
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!("generated-{seed_label}-{i}.sql"));
                let _ = std::fs::write(
                    &file,
                    format!(
                        "-- found by the query generator ({seed_label}, query {i})\n-- {}\n{};\n",
                        why.lines().next().unwrap_or(""),
                        small.sql()
                    ),
                );
                panic!(
                    "generated query {i} differs from the oracle (written to {}):\n{}\n{why}",
                    file.display(),
                    small.sql()
                );
            }
        }
    }
    (ran, refused)
}

/// `acc` joined with reference table `kinds`: what outside checks broke before. One untyped
/// column holding every storage class (integers, reals, numeric and numeric-prefixed text,
/// blobs, values near ±2^63), NOCASE and RTRIM columns inside aggregates and DISTINCT, a
/// column `n` in both tables with different collations, integers near ±2^63 and REALs whose
/// sums need compensation.
pub const ADVERSARIAL: Schema = Schema {
    table: "acc a JOIN kinds b ON b.k = a.k",
    columns: &[
        "a.t", "a.id", "a.v", "a.n", "b.n", "a.r", "a.i", "a.f", "b.v",
    ],
    scalars: &[
        "a.v + 0",
        "a.n || b.n",
        "a.i / 2",
        "a.f * 3",
        "typeof(a.v)",
        "a.r = 'x'",
        "CAST(a.v AS INTEGER)",
        "a.n = b.n",
    ],
    aggs: &[
        "count(*)",
        "count(DISTINCT a.n)",
        "count(DISTINCT a.r)",
        "sum(a.v)",
        "total(a.f)",
        "avg(a.i)",
        "sum(a.f)",
        "min(a.n)",
        "max(a.r)",
        "length(group_concat(DISTINCT b.n))",
        "sum(DISTINCT a.v)",
        "max(a.v)",
        "avg(a.f)",
        "count(DISTINCT a.v)",
        "sum(a.i)",
        // A function over an aggregate (not over a REAL sum, whose last bit the README lets
        // differ when its values sit on several shards).
        "printf('%.3f', max(a.f))",
        "count(*) FILTER (WHERE a.n = 'abc')",
        "max(b.n)",
    ],
    predicates: &[
        "a.v > 5",
        "a.n = 'abc'",
        "a.r = 'x'",
        "b.n = 'ABC'",
        "a.v IN (1, '1', 1.0)",
        "a.i > 0",
        "a.f < 0",
        "typeof(a.v) = 'text'",
    ],
    group_keys: &["a.n", "b.n", "a.r", "a.v", "a.t", "typeof(a.v)"],
    total_order: &["a.t", "a.id"],
    real_ulps: 2,
};

/// Ternary logic partitioning (SQLancer's TLP) on d1plus alone: the rows of a query equal,
/// as a multiset, the rows of its three partitions by any predicate `p` (`p`, `NOT p`,
/// `p IS NULL`). NoREC: `count(*) … WHERE p` equals the number of rows for which `p` is
/// true computed without a WHERE the optimizer could use. Both run over every shard count;
/// an Err names the query and what differs.
pub fn metamorphic(h: &Harness, q: &GenQuery, p: &str) -> Result<(), String> {
    if !q.group.is_empty()
        || q.having.is_some()
        || q.limit.is_some()
        || q.distinct
        || q.items.iter().any(|i| i.contains('('))
    {
        return Ok(());
    }
    let from = q.derived.as_deref().unwrap_or(q.table);
    let base: Vec<String> = q.where_.clone();
    let with = |extra: Option<String>| {
        let mut w = base.clone();
        w.extend(extra);
        let clause = if w.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", w.join(" AND "))
        };
        format!("SELECT {} FROM {from}{clause}", q.items.join(", "))
    };
    let whole = with(None);
    let parts = [
        with(Some(format!("({p})"))),
        with(Some(format!("NOT ({p})"))),
        with(Some(format!("({p}) IS NULL"))),
    ];
    let count_where = format!(
        "SELECT count(*) FROM {from} WHERE {}",
        base.iter()
            .cloned()
            .chain(std::iter::once(format!("({p})")))
            .collect::<Vec<_>>()
            .join(" AND ")
    );
    let base_where = if base.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", base.join(" AND "))
    };
    let count_case = format!(
        "SELECT coalesce(sum(CASE WHEN ({p}) THEN 1 ELSE 0 END), 0) FROM {from}{base_where}"
    );
    for s in &h.shards {
        let run = |sql: &str| futures::executor::block_on(s.db.query(sql, &[], None));
        let Ok(all) = run(&whole) else { return Ok(()) };
        let mut union = Vec::new();
        for part in &parts {
            match run(part) {
                Ok(r) => union.extend(r.rows),
                Err(_) => return Ok(()),
            }
        }
        if crate::common::sorted(union) != crate::common::sorted(all.rows) {
            return Err(format!(
                "{} shards: TLP partitions by {p} differ from {whole}",
                s.n
            ));
        }
        if let (Ok(a), Ok(b)) = (run(&count_where), run(&count_case)) {
            if a.rows != b.rows {
                return Err(format!(
                    "{} shards: NoREC: {count_where} gives {:?}, counting with CASE gives {:?}",
                    s.n, a.rows, b.rows
                ));
            }
        }
    }
    Ok(())
}
