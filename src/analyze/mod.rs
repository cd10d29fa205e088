//! Stage 2, analyze: what a statement is, which tables it touches, and which shard-key
//! values it pins, checked against the policy and the catalog. Pure: no parameter values,
//! no I/O; the result only depends on the SQL text, the policy and the catalog, so it can
//! be cached by SQL text.
//!
//! A key is pinned only by a plain `key = literal|param` (either side), `key IN (...)`,
//! `key IS NOT DISTINCT FROM v`, or an `OR` whose every branch pins the same key, found in
//! the top-level `AND` of a WHERE clause (or of an inner join's ON). Nothing else is
//! evaluated: sqlparser's precedence differs from SQLite's in places (`2 = 1 < 3`), so a
//! tree that is not exactly that shape pins nothing.

mod classify;
mod derived;
mod keyed;
mod literal;
mod pins;
mod scopes;
mod tokens;

use crate::catalog::{Catalog, ObjectKind};
use crate::error::Result;
use crate::parse::Parsed;
use crate::policy::{Policy, TableKind};
pub use crate::sql::KeyExpr;
use classify::analyze_ast;
pub use literal::key_literal;
use serde::Serialize;
use tokens::analyze_tokens;

/// The values a key may take: the key is one of these (`key = v` is a one-element pin).
pub type Pin = Vec<KeyExpr>;

/// One reference to a sharded table somewhere in the statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardedRef {
    /// The table, as the policy names it.
    pub table: String,
    /// Its key column.
    pub key_column: String,
    /// Constraints on the key of the rows of this reference that matter.
    pub pins: Vec<Pin>,
    /// Constraints that also restrict the statement's output rows (top-level WHERE or
    /// inner-join ON of the outermost query; the target of an UPDATE/DELETE).
    pub output_pins: Vec<Pin>,
    /// In the outermost query's FROM (or the target of a write).
    pub top_level: bool,
    /// Which SELECT of a compound (`… UNION ALL …`) the reference belongs to (0 otherwise).
    pub branch: usize,
}

/// What kind of statement this is, as far as routing cares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum StatementClass {
    /// SELECT, VALUES, WITH … SELECT.
    Read,
    /// INSERT / REPLACE.
    Insert {
        /// The target table.
        table: String,
        /// Whether the rows come from a SELECT rather than VALUES.
        from_select: bool,
    },
    /// UPDATE.
    Update {
        /// The target table.
        table: String,
    },
    /// DELETE.
    Delete {
        /// The target table.
        table: String,
    },
    /// CREATE / ALTER / DROP of tables, indexes, views, triggers.
    Ddl,
    /// A read of the schema (`sqlite_schema`, read PRAGMAs, `pragma_*` functions).
    Introspection,
    /// `PRAGMA name = value`: runs on every shard.
    PragmaWrite,
    /// `EXPLAIN [QUERY PLAN] stmt`.
    Explain,
    /// ANALYZE, REINDEX: every shard.
    Maintenance,
    /// BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ATTACH, DETACH, VACUUM.
    Transaction,
}

/// How the statement was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ReadBy {
    /// sqlparser's AST.
    Ast,
    /// A token scan, because sqlparser could not parse it (the parser's message).
    TokenScan(String),
}

/// The analysis of one statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Statement class.
    pub class: StatementClass,
    /// How it was read.
    pub read_by: ReadBy,
    /// Every reference to a sharded table.
    pub refs: Vec<ShardedRef>,
    /// Pairs of references whose keys are equated (co-located).
    pub links: Vec<(usize, usize)>,
    /// Unsharded tables mentioned (they live on the home shard).
    pub unsharded: Vec<String>,
    /// Reference tables mentioned (copied on every shard).
    pub reference: Vec<String>,
    /// Views whose definition reads a sharded table.
    pub sharded_views: Vec<String>,
    /// Constructs that cannot run across several shards (window functions, WITH
    /// RECURSIVE, ...), for the planner to refuse if the statement fans out (see
    /// [`Analysis::fanout_hazard`]).
    pub fanout_hazards: Vec<String>,
    /// Constructs inside nested queries that cannot run across several shards (a LIMIT or
    /// OFFSET, a window function), each with the range of [`Analysis::refs`] registered
    /// inside its query: each shard would cut or number its own rows, unless every sharded
    /// reference inside is co-located with the outer query's (correlated on the key), whose
    /// shard then holds all the rows the subquery can see.
    pub nested_hazards: Vec<(String, std::ops::Range<usize>)>,
    /// Number of SELECTs in the outermost compound (1 for a plain SELECT).
    pub branches: usize,
    /// The LIMIT/OFFSET of FROM subqueries read as if their rows were the table's (see
    /// [`DerivedLimit`]): a fan-out needs each to be a no-op.
    pub derived_limits: Vec<DerivedLimit>,
}

/// A subquery in the outermost FROM that only filters and projects rows of its tables (no
/// DISTINCT, GROUP BY, aggregate, compound or window): its rows over all shards are the
/// union of its rows on each shard, so the outer query reads it like a sharded table, if
/// its LIMIT and OFFSET, known only with the parameters, drop nothing (`LIMIT -1 OFFSET 0`,
/// as Prisma writes `count()` and `aggregate()`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DerivedLimit {
    /// The LIMIT, if any.
    pub limit: Option<KeyExpr>,
    /// The OFFSET, if any.
    pub offset: Option<KeyExpr>,
}

impl Analysis {
    /// The first construct that cannot run across several shards, if any.
    pub fn fanout_hazard(&self) -> Option<String> {
        if let Some(h) = self.fanout_hazards.first() {
            return Some(h.clone());
        }
        if self.nested_hazards.is_empty() {
            return None;
        }
        let class = self.classes();
        let outer = |i: usize| {
            self.refs
                .iter()
                .enumerate()
                .any(|(j, r)| r.top_level && class[j] == class[i])
        };
        self.nested_hazards
            .iter()
            .find(|(_, inside)| inside.is_empty() || !inside.clone().all(outer))
            .map(|(h, _)| h.clone())
    }

    /// For each of [`Analysis::refs`], the class of references co-located with it (joined
    /// by [`Analysis::links`]), named by one of them.
    pub fn classes(&self) -> Vec<usize> {
        let mut parent: Vec<usize> = (0..self.refs.len()).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        for &(x, y) in &self.links {
            if x < parent.len() && y < parent.len() {
                let (rx, ry) = (find(&mut parent, x), find(&mut parent, y));
                parent[rx] = ry;
            }
        }
        (0..parent.len()).map(|i| find(&mut parent, i)).collect()
    }

    fn new(class: StatementClass, read_by: ReadBy) -> Analysis {
        Analysis {
            class,
            read_by,
            refs: Vec::new(),
            links: Vec::new(),
            unsharded: Vec::new(),
            reference: Vec::new(),
            sharded_views: Vec::new(),
            fanout_hazards: Vec::new(),
            nested_hazards: Vec::new(),
            branches: 1,
            derived_limits: Vec::new(),
        }
    }
}

/// Analyzes a parsed statement against the policy and catalog.
pub fn analyze(parsed: &Parsed, policy: &Policy, catalog: &Catalog) -> Result<Analysis> {
    match &parsed.ast {
        Ok(stmt) => analyze_ast(stmt, parsed, policy, catalog),
        Err(e) => Ok(analyze_tokens(parsed, policy, catalog, e.to_string())),
    }
}

fn push_unique(v: &mut Vec<String>, name: &str) {
    if !v.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        v.push(name.to_string());
    }
}

/// Whether a view reads a sharded table, directly or through other views.
fn view_reads_sharded(view: &crate::catalog::Table, policy: &Policy, catalog: &Catalog) -> bool {
    let mut pending = vec![view];
    let mut seen: Vec<String> = vec![view.name.to_ascii_lowercase()];
    while let Some(v) = pending.pop() {
        for n in v.mentioned_names() {
            if policy.table_kind(&n) == TableKind::Sharded {
                return true;
            }
            if let Some(inner) = catalog.get(&n).filter(|t| t.kind == ObjectKind::View) {
                let key = inner.name.to_ascii_lowercase();
                if !seen.contains(&key) {
                    seen.push(key);
                    pending.push(inner);
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn policy() -> Policy {
        Policy::from_json(
            r#"{"name":"t","capacity":{"mode":"manual","targetShardCount":4},
                "sharding":{"tables":[{"name":"events","keyColumn":"tenantId"},
                                      {"name":"users","keyColumn":"tenantId"}],
                            "reference":["plans"]}}"#,
        )
        .unwrap()
    }

    fn analyze_sql(sql: &str) -> Analysis {
        let p = Parsed::new(sql).unwrap();
        analyze(&p, &policy(), &Catalog::default()).unwrap()
    }

    #[test]
    fn pins_from_where() {
        let a = analyze_sql("SELECT * FROM events WHERE tenantId = 5 AND x > 1");
        assert_eq!(
            a.refs[0].output_pins,
            vec![vec![KeyExpr::Literal(Value::Integer(5))]]
        );
        let a = analyze_sql("SELECT * FROM events e WHERE (e.tenantId IN (?, 'b')) AND 1");
        assert_eq!(
            a.refs[0].output_pins,
            vec![vec![
                KeyExpr::Param(1),
                KeyExpr::Literal(Value::Text("b".into()))
            ]]
        );
        let a = analyze_sql("SELECT * FROM events WHERE tenantId = -0x10 OR (tenantId = :t AND y)");
        assert_eq!(
            a.refs[0].output_pins,
            vec![vec![
                KeyExpr::Literal(Value::Integer(-16)),
                KeyExpr::Param(1)
            ]]
        );
    }

    #[test]
    fn pins_nothing_from_other_shapes() {
        for sql in [
            "SELECT * FROM events WHERE tenantId > 5",
            "SELECT * FROM events WHERE tenantId = 5 OR x = 1",
            "SELECT * FROM events WHERE NOT tenantId = 5",
            "SELECT * FROM events WHERE +tenantId = 5",
            "SELECT * FROM events WHERE tenantId = 1 < 3",
            "SELECT * FROM events WHERE tenantId = 5 + x",
            "SELECT * FROM events WHERE tenantId = 5 + ?",
            "SELECT * FROM events WHERE tenantId = abs(-5)",
            "SELECT * FROM events WHERE tenantId = CAST('5' AS INTEGER)",
            "SELECT * FROM events WHERE tenantId = 5 COLLATE NOCASE",
        ] {
            let a = analyze_sql(sql);
            assert!(a.refs[0].output_pins.is_empty(), "{sql}: {:?}", a.refs[0]);
        }
    }

    #[test]
    fn pins_constant_expressions_by_their_value() {
        for (sql, want) in [
            (
                "SELECT * FROM events WHERE tenantId = 5 + 1",
                Value::Integer(6),
            ),
            (
                "SELECT * FROM events WHERE tenantId = - -1",
                Value::Integer(1),
            ),
            (
                "SELECT * FROM events WHERE tenantId = 1 << 63",
                Value::Integer(i64::MIN),
            ),
            (
                "SELECT * FROM events WHERE tenantId = -(1 << 63)",
                Value::Real(9.223372036854776e18),
            ),
            (
                "SELECT * FROM events WHERE tenantId = (-9223372036854775807 - 1)",
                Value::Integer(i64::MIN),
            ),
            // `||` binds tighter than `+`: ('a' || 1) + 1.
            (
                "SELECT * FROM events WHERE tenantId = 'a' || 1 + 1",
                Value::Integer(1),
            ),
            (
                "SELECT * FROM events WHERE tenantId = 7 / 2 % 2",
                Value::Integer(1),
            ),
        ] {
            let a = analyze_sql(sql);
            assert_eq!(
                a.refs[0].output_pins,
                vec![vec![KeyExpr::Literal(want)]],
                "{sql}"
            );
        }
    }

    #[test]
    fn links_co_located_joins_and_correlated_subqueries() {
        let a = analyze_sql(
            "SELECT * FROM events e JOIN users u ON u.tenantId = e.tenantId WHERE e.tenantId = 1",
        );
        assert_eq!(a.links, vec![(1, 0)]);
        let a = analyze_sql(
            "SELECT * FROM events e WHERE EXISTS (SELECT 1 FROM users u WHERE u.tenantId = e.tenantId)",
        );
        assert_eq!(a.links, vec![(1, 0)]);
        assert!(!a.refs[1].top_level);
        let a = analyze_sql("SELECT * FROM events LEFT JOIN users ON users.tenantId = 3");
        assert!(
            a.refs[1].output_pins.is_empty(),
            "LEFT JOIN ON does not filter output"
        );
    }

    #[test]
    fn classifies() {
        assert_eq!(analyze_sql("BEGIN").class, StatementClass::Transaction);
        assert_eq!(
            analyze_sql("PRAGMA table_info(events)").class,
            StatementClass::Introspection
        );
        assert_eq!(
            analyze_sql("PRAGMA foreign_keys = ON").class,
            StatementClass::PragmaWrite
        );
        assert_eq!(
            analyze_sql("SELECT name FROM sqlite_schema").class,
            StatementClass::Introspection
        );
        assert_eq!(
            analyze_sql("CREATE INDEX i ON events(x)").class,
            StatementClass::Ddl
        );
        let a = analyze_sql("SELECT * FROM plans JOIN other");
        assert_eq!(a.reference, vec!["plans"]);
        assert_eq!(a.unsharded, vec!["other"]);
    }
}
