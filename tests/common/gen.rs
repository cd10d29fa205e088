//! A seeded random query generator over the `items` schema of the read tests, with a
//! shrinker: a failing query is reduced part by part while it still fails, then written
//! to `corpus/regressions/` so it runs as a regression case from then on.
#![allow(dead_code)]

use super::{Harness, Rng};

/// A generated SELECT, kept in parts so it can shrink.
#[derive(Debug, Clone)]
pub struct GenQuery {
    pub distinct: bool,
    pub items: Vec<String>,
    pub where_: Vec<String>,
    pub group: Vec<String>,
    pub having: Option<String>,
    pub order: Vec<String>,
    pub limit: Option<(u64, u64)>,
}

const COLUMNS: [&str; 6] = [
    "tenantId",
    "id",
    "name COLLATE BINARY",
    "price",
    "qty",
    "tag",
];
const SCALARS: [&str; 8] = [
    "price * 2",
    "id % 5",
    "coalesce(qty, 0)",
    "length(tag)",
    "-price",
    "upper(tag)",
    "price + id",
    "abs(qty)",
];
const AGGS: [&str; 14] = [
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
];
const PREDICATES: [&str; 8] = [
    "price > 10",
    "qty IS NULL",
    "tag IN ('a', 'b')",
    "id % 2 = 0",
    "tenantId <> 'acme'",
    "price BETWEEN 2 AND 20",
    "name LIKE 'a%'",
    "tenantId IN ('globex', 'initech')",
];
const GROUP_KEYS: [&str; 5] = ["tag", "tenantId", "id % 3", "price", "qty"];

impl GenQuery {
    pub fn random(rng: &mut Rng) -> GenQuery {
        let mut q = GenQuery {
            distinct: false,
            items: vec![],
            where_: vec![],
            group: vec![],
            having: None,
            order: vec![],
            limit: None,
        };
        for _ in 0..rng.below(3) {
            q.where_.push(rng.pick(&PREDICATES).to_string());
        }
        if rng.chance(45) {
            // Aggregate query.
            for _ in 0..rng.below(3) {
                q.group.push(rng.pick(&GROUP_KEYS).to_string());
            }
            q.group.dedup();
            q.items.extend(q.group.iter().cloned());
            for _ in 0..1 + rng.below(3) {
                q.items.push(rng.pick(&AGGS).to_string());
            }
            if !q.group.is_empty() && rng.chance(30) {
                q.having = Some(format!(
                    "{} > {}",
                    rng.pick(&["count(*)", "sum(price)", "max(id)"]),
                    rng.below(20)
                ));
            }
            if !q.group.is_empty() && rng.chance(60) {
                // Group keys last make the order total.
                if rng.chance(50) {
                    q.order.push(format!("{} DESC", rng.pick(&AGGS)));
                }
                q.order.extend(q.group.iter().cloned());
                if rng.chance(50) {
                    q.limit = Some((rng.below(8), rng.below(4)));
                }
            }
        } else {
            for _ in 0..1 + rng.below(3) {
                let item = if rng.chance(70) {
                    rng.pick(&COLUMNS)
                } else {
                    rng.pick(&SCALARS)
                };
                q.items.push(item.to_string());
            }
            if rng.chance(60) {
                for _ in 0..1 + rng.below(2) {
                    let t = if rng.chance(50) {
                        rng.pick(&COLUMNS).to_string()
                    } else {
                        rng.pick(&SCALARS).to_string()
                    };
                    let dir = *rng.pick(&["", " DESC", " NULLS LAST", " DESC NULLS FIRST"]);
                    q.order.push(format!("{t}{dir}"));
                }
                // The primary key last makes the order total.
                q.order.push("tenantId".into());
                q.order.push("id".into());
                if rng.chance(60) {
                    q.limit = Some((rng.below(25), rng.below(30)));
                }
            } else if rng.chance(30) {
                q.distinct = true;
                q.items.retain(|i| !i.contains("name"));
                if q.items.is_empty() {
                    q.items.push("tag".into());
                }
            }
        }
        q
    }

    pub fn ordered(&self) -> bool {
        !self.order.is_empty()
    }

    pub fn sql(&self) -> String {
        let mut s = format!(
            "SELECT {}{} FROM items",
            if self.distinct { "DISTINCT " } else { "" },
            self.items.join(", ")
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
    let mut refused = 0;
    for i in 0..n {
        let q = GenQuery::random(rng);
        match h.compare(&q.sql(), q.ordered()) {
            Ok(true) => {}
            Ok(false) => refused += 1,
            Err(first) => {
                let small = q.shrink(&|c| h.compare(&c.sql(), c.ordered()).is_err());
                let why = h
                    .compare(&small.sql(), small.ordered())
                    .err()
                    .unwrap_or(first);
                let dir =
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/regressions");
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
    (n, refused)
}
