//! Name resolution for the outermost SELECT of a fan-out: which table's column a name
//! refers to, with SQLite's scoping (a qualifier names a FROM item by its alias, or by its
//! table name when it has none; an unqualified name must belong to exactly one FROM item).
//! Everything the merge needs from a column (declared type, affinity, collation) is read
//! from the [`Column`] found here, never by looking the bare name up again elsewhere.

use crate::analyze::key_literal;
use crate::catalog::{Catalog, Column};
use crate::error::Error;
use crate::merge::Collation;
use crate::parse::Parsed;
use crate::sql::{object_name, KeyExpr};
use crate::value::{Affinity, Value};
use sqlparser::ast::{Expr, Select, TableFactor, TableWithJoins, UnaryOperator};

/// The FROM items of one SELECT.
pub(crate) struct Scope<'c> {
    sources: Vec<Source<'c>>,
}

/// One FROM item.
struct Source<'c> {
    /// The name it is referred to by (its alias, else its table's name), lower-cased.
    refer: String,
    /// Its table, when it is one the catalog has.
    table: Option<&'c crate::catalog::Table>,
    /// A FROM subquery's (or CTE's) column names, when its text tells them.
    columns: Option<Vec<String>>,
    /// For each of those, the table column it reads when it is a plain column reference
    /// (whose affinity and collation it keeps); None for an expression, which has neither
    /// (the analyzer reads through no subquery whose outputs carry others: see
    /// `sql::carries_own_type`).
    resolved: Vec<Option<&'c Column>>,
    /// The table name it is written with, lower-cased (a CTE's name); empty for others.
    written: String,
}

impl<'c> Scope<'c> {
    /// The FROM items of `select` (derived tables and table functions have no catalog
    /// entry: their columns resolve to nothing).
    pub(crate) fn of(select: &Select, catalog: &'c Catalog) -> Scope<'c> {
        let lower = |a: Option<String>| a.unwrap_or_default().to_ascii_lowercase();
        let source = |f: &TableFactor| match f {
            TableFactor::Table { name, alias, .. } => {
                let table = object_name(name);
                let refer = alias.as_ref().map(|a| a.name.value.clone());
                Source {
                    refer: lower(refer.or_else(|| Some(table.clone()))),
                    table: catalog.get(&table),
                    columns: None,
                    resolved: Vec::new(),
                    written: table.to_ascii_lowercase(),
                }
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let (columns, resolved) = match alias.as_ref().filter(|a| !a.columns.is_empty()) {
                    Some(a) => (
                        Some(a.columns.iter().map(|c| c.name.value.clone()).collect()),
                        Vec::new(),
                    ),
                    None => split_columns(derived_columns(subquery, catalog)),
                };
                Source {
                    refer: lower(alias.as_ref().map(|a| a.name.value.clone())),
                    table: None,
                    columns,
                    resolved,
                    written: String::new(),
                }
            }
            TableFactor::TableFunction { alias, .. } => Source {
                refer: lower(alias.as_ref().map(|a| a.name.value.clone())),
                table: None,
                columns: None,
                resolved: Vec::new(),
                written: String::new(),
            },
            _ => Source {
                refer: String::new(),
                table: None,
                columns: None,
                resolved: Vec::new(),
                written: String::new(),
            },
        };
        let sources = select
            .from
            .iter()
            .flat_map(|TableWithJoins { relation, joins }| {
                std::iter::once(relation).chain(joins.iter().map(|j| &j.relation))
            })
            .map(source)
            .collect();
        Scope { sources }
    }

    /// The column a plain or qualified column reference names, if it is one.
    /// A FROM subquery's output that is a plain column reference is that column.
    pub(crate) fn column(&self, e: &Expr) -> Option<&'c Column> {
        self.source_column(e).map(|(_, c)| c)
    }

    /// Whether a plain `name` may name a column of some FROM item: one a table has, or
    /// any name at all when a FROM item is a subquery (its columns are not known here).
    pub(crate) fn may_name_a_column(&self, name: &str) -> bool {
        self.has_column_named(name) != Some(false)
    }

    /// Whether some FROM item has a column `name`: None when no table has it but a FROM
    /// item is a subquery, whose columns are not known here.
    pub(crate) fn has_column_named(&self, name: &str) -> Option<bool> {
        let mut unknown = false;
        for s in &self.sources {
            let has = match (s.table, &s.columns) {
                (Some(t), _) => t.column(name).is_some(),
                (None, Some(names)) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
                (None, None) => {
                    unknown = true;
                    false
                }
            };
            if has {
                return Some(true);
            }
        }
        (!unknown).then_some(false)
    }

    /// Makes the columns of the statement's CTEs known, where a FROM item names one.
    pub(crate) fn with_ctes(
        mut self,
        with: Option<&sqlparser::ast::With>,
        catalog: &'c Catalog,
    ) -> Self {
        let Some(with) = with else {
            return self;
        };
        for cte in &with.cte_tables {
            let (names, resolved) = if cte.alias.columns.is_empty() {
                split_columns(derived_columns(&cte.query, catalog))
            } else {
                let names = cte.alias.columns.iter().map(|c| c.name.value.clone());
                (Some(names.collect()), Vec::new())
            };
            let cte_name = cte.alias.name.value.to_ascii_lowercase();
            for s in &mut self.sources {
                if s.table.is_none() && s.written == cte_name {
                    s.columns.clone_from(&names);
                    s.resolved.clone_from(&resolved);
                }
            }
        }
        self
    }

    /// The name SQLite gives an output that is a plain or qualified column reference: a
    /// table's column as declared, a FROM subquery's as the subquery names it, else as
    /// written. None for other expressions.
    pub(crate) fn output_name(&self, e: &Expr) -> Option<String> {
        if let Some((_, c)) = self.table_column(e) {
            return Some(c.name.clone());
        }
        if let Some(name) = self.derived_column_name(e) {
            return Some(name);
        }
        match e {
            Expr::Identifier(id) => Some(id.value.clone()),
            Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.clone()),
            _ => None,
        }
    }

    /// The name of the FROM subquery's column a plain or qualified reference names, as the
    /// subquery names it (SQLite names such an output by it, not by the reference's
    /// spelling), when the subquery's names are known.
    fn derived_column_name(&self, e: &Expr) -> Option<String> {
        let named = |s: &Source<'_>, column: &str| {
            let names = s.columns.as_ref().filter(|_| s.table.is_none())?;
            names
                .iter()
                .find(|n| n.eq_ignore_ascii_case(column))
                .cloned()
        };
        match e {
            Expr::Identifier(id) => {
                let mut found = self.sources.iter().filter_map(|s| named(s, &id.value));
                let first = found.next()?;
                // Known tables must not have it either (it would be ambiguous).
                let tables = self
                    .sources
                    .iter()
                    .any(|s| s.table.is_some_and(|t| t.column(&id.value).is_some()));
                (found.next().is_none() && !tables).then_some(first)
            }
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let qualifier = parts[parts.len() - 2].value.to_ascii_lowercase();
                let s = self.sources.iter().find(|s| s.refer == qualifier)?;
                named(s, &parts[parts.len() - 1].value)
            }
            Expr::Nested(inner) => self.derived_column_name(inner),
            _ => None,
        }
    }

    /// The table and column a plain or qualified column reference names, if it is one.
    pub(crate) fn table_column(&self, e: &Expr) -> Option<(&'c crate::catalog::Table, &'c Column)> {
        let (i, column) = self.source_column(e)?;
        Some((self.sources[i].table?, column))
    }

    /// The FROM item (its position) and the column a plain or qualified column reference
    /// names, if it is one: two references to one column of one FROM item give the same,
    /// however they are spelled (`tag`, `TAG`, `"tag"`, `i.tag`); the two sides of a
    /// self-join do not.
    pub(crate) fn source_column(&self, e: &Expr) -> Option<(usize, &'c Column)> {
        match e {
            Expr::Identifier(id) => {
                let mut found = self
                    .sources
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| Some((i, s.named(&id.value)?)));
                let (i, first) = found.next()?;
                // Two FROM items with that column: SQLite says "ambiguous column name".
                found.next().is_none().then_some((i, first?))
            }
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let column = &parts[parts.len() - 1].value;
                let qualifier = parts[parts.len() - 2].value.to_ascii_lowercase();
                let i = self.sources.iter().position(|s| s.refer == qualifier)?;
                Some((i, self.sources[i].named(column)??))
            }
            Expr::Nested(inner) => self.source_column(inner),
            _ => None,
        }
    }

    /// SQLite's affinity of an expression (`sqlite3ExprAffinity`): a column's own, a CAST's
    /// type's, COLLATE passes its operand's through; anything else (unary `+` included) has
    /// none. Returned as the declared type that gives it to a column.
    pub(crate) fn affinity(&self, e: &Expr) -> Option<Affinity> {
        match e {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => self.column(e).map(|c| c.affinity),
            Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => self.affinity(inner),
            Expr::Cast { data_type, .. } => {
                Some(Affinity::from_declared_type(&data_type.to_string()))
            }
            _ => None,
        }
    }

    /// The declared collation of the column an expression names, if it names one.
    pub(crate) fn declared_collation(&self, e: &Expr) -> Collation {
        self.column(e)
            .and_then(|c| c.collation.as_deref())
            .and_then(Collation::from_name)
            .unwrap_or(Collation::Binary)
    }
}

impl Scope<'_> {
    /// The first non-BINARY declared collation among the columns of the FROM items.
    pub(crate) fn any_declared_collation(&self) -> Option<Collation> {
        self.sources
            .iter()
            .filter_map(|s| s.table)
            .flat_map(|t| &t.columns)
            .filter_map(|c| c.collation.as_deref())
            .filter_map(Collation::from_name)
            .find(|c| *c != Collation::Binary)
    }
}

impl<'c> Source<'c> {
    /// Whether this FROM item has a column `name` (Some), and the table column it is or
    /// reads (None for a subquery's expression).
    fn named(&self, name: &str) -> Option<Option<&'c Column>> {
        if let Some(t) = self.table {
            return t.column(name).map(|(_, c)| Some(c));
        }
        let names = self.columns.as_ref()?;
        let i = names.iter().position(|n| n.eq_ignore_ascii_case(name))?;
        Some(self.resolved.get(i).copied().flatten())
    }
}

/// A subquery's column names, and the table column each reads.
type DerivedColumns<'c> = Vec<(String, Option<&'c Column>)>;

fn split_columns(
    columns: Option<DerivedColumns<'_>>,
) -> (Option<Vec<String>>, Vec<Option<&Column>>) {
    match columns {
        Some(c) => {
            let (names, resolved) = c.into_iter().unzip();
            (Some(names), resolved)
        }
        None => (None, Vec::new()),
    }
}

/// The column names of a FROM subquery, when its text tells them: `*` over one table (all
/// its columns, hidden ones too: a name too many only keeps a name read as a column), and
/// outputs that are named (`AS n`) or plain column references. None otherwise.
fn derived_columns<'c>(
    q: &sqlparser::ast::Query,
    catalog: &'c Catalog,
) -> Option<DerivedColumns<'c>> {
    use sqlparser::ast::{SelectItem, SetExpr};
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let mut names = Vec::new();
    let inner = Scope::of(select, catalog);
    for item in &select.projection {
        match item {
            SelectItem::Wildcard(_) => match select.from.as_slice() {
                [TableWithJoins {
                    relation: TableFactor::Table { name, .. },
                    joins,
                }] if joins.is_empty() => {
                    let table = catalog.get(&object_name(name))?;
                    names.extend(table.columns.iter().map(|c| (c.name.clone(), Some(c))));
                }
                _ => return None,
            },
            SelectItem::ExprWithAlias { alias, expr } => {
                names.push((alias.value.clone(), reads_column(&inner, expr)))
            }
            // A column is named as SQLite names that output.
            SelectItem::UnnamedExpr(e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_))) => {
                names.push((inner.output_name(e)?, inner.column(e)));
            }
            _ => return None,
        }
    }
    Some(names)
}

/// The table column a subquery's output reads, when it is a plain column reference.
fn reads_column<'c>(scope: &Scope<'c>, e: &Expr) -> Option<&'c Column> {
    match crate::sql::strip_nested(e) {
        e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_)) => scope.column(e),
        _ => None,
    }
}

/// The column type that gives a coordinator column this affinity.
pub(crate) fn declared_type_of(affinity: Option<Affinity>) -> &'static str {
    match affinity {
        Some(Affinity::Text) => "TEXT",
        Some(Affinity::Numeric) => "NUMERIC",
        Some(Affinity::Integer) => "INTEGER",
        Some(Affinity::Real) => "REAL",
        Some(Affinity::Blob) | None => "",
    }
}

/// An ORDER BY or GROUP BY term that SQLite reads as an ordinal: an integer literal, maybe
/// in parentheses or behind unary `+` or `-` (`ORDER BY (1)`, `ORDER BY +1`).
pub(crate) fn ordinal(parsed: &Parsed, e: &Expr) -> Option<i64> {
    match e {
        Expr::Nested(inner) => ordinal(parsed, inner),
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => ordinal(parsed, expr),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => ordinal(parsed, expr).map(|n| n.wrapping_neg()),
        Expr::Value(_) => match key_literal(parsed, e) {
            Some(KeyExpr::Literal(Value::Integer(n))) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

/// SQLite's error for an ordinal outside the result columns.
pub(crate) fn ordinal_out_of_range(clause: &str, term: usize, n: usize) -> Error {
    let nth = match term {
        1 => "1st".to_string(),
        2 => "2nd".to_string(),
        3 => "3rd".to_string(),
        k => format!("{k}th"),
    };
    Error::backend(
        None,
        format!("{nth} {clause} term out of range - should be between 1 and {n}"),
    )
}
