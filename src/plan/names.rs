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

/// The FROM items of one SELECT: (the name it is referred to by, lower-cased; its table).
pub(crate) struct Scope<'c> {
    sources: Vec<(String, Option<&'c crate::catalog::Table>)>,
    /// The column names of each FROM subquery whose names its text tells (a `*` over one
    /// table, named or plain column outputs); by position in `sources`.
    derived: Vec<(usize, Vec<String>)>,
    /// Each FROM item's table name as written (lower-cased; empty for others), for CTEs.
    cte_refs: Vec<String>,
}

impl<'c> Scope<'c> {
    /// The FROM items of `select` (derived tables and table functions have no catalog
    /// entry: their columns resolve to nothing).
    pub(crate) fn of(select: &Select, catalog: &'c Catalog) -> Scope<'c> {
        let mut sources = Vec::new();
        let mut derived = Vec::new();
        let mut cte_refs = Vec::new();
        let mut add = |f: &TableFactor| match f {
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let refer = alias.as_ref().map(|a| a.name.value.clone());
                let names = match alias.as_ref().filter(|a| !a.columns.is_empty()) {
                    Some(a) => Some(a.columns.iter().map(|c| c.name.value.clone()).collect()),
                    None => derived_columns(subquery, catalog),
                };
                if let Some(names) = names {
                    derived.push((sources.len(), names));
                }
                sources.push((refer.unwrap_or_default().to_ascii_lowercase(), None));
            }
            TableFactor::Table { name, alias, .. } => {
                let table = object_name(name);
                cte_refs.push((sources.len(), table.to_ascii_lowercase()));
                let refer = alias
                    .as_ref()
                    .map(|a| a.name.value.clone())
                    .unwrap_or_else(|| table.clone());
                sources.push((refer.to_ascii_lowercase(), catalog.get(&table)));
            }
            TableFactor::TableFunction { alias, .. } => {
                let refer = alias.as_ref().map(|a| a.name.value.clone());
                sources.push((refer.unwrap_or_default().to_ascii_lowercase(), None));
            }
            _ => sources.push((String::new(), None)),
        };
        for TableWithJoins { relation, joins } in &select.from {
            add(relation);
            for j in joins {
                add(&j.relation);
            }
        }
        let mut refs = vec![String::new(); sources.len()];
        for (i, name) in cte_refs {
            refs[i] = name;
        }
        Scope {
            sources,
            derived,
            cte_refs: refs,
        }
    }

    /// The column a plain or qualified column reference names, if it is one.
    pub(crate) fn column(&self, e: &Expr) -> Option<&'c Column> {
        self.table_column(e).map(|(_, c)| c)
    }

    /// Whether a plain `name` may name a column of some FROM item: one a table has, or
    /// any name at all when a FROM item is a subquery (its columns are not known here).
    pub(crate) fn may_name_a_column(&self, name: &str) -> bool {
        self.has_column_named(name) != Some(false)
    }

    /// Whether some FROM item has a column `name`: None when no table has it but a FROM
    /// item is a subquery, whose columns are not known here.
    pub(crate) fn has_column_named(&self, name: &str) -> Option<bool> {
        let derived = |i: usize| self.derived.iter().find(|(d, _)| *d == i).map(|(_, n)| n);
        let mut unknown = false;
        for (i, (_, table)) in self.sources.iter().enumerate() {
            let has = match (table, derived(i)) {
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
        catalog: &Catalog,
    ) -> Self {
        let Some(with) = with else {
            return self;
        };
        for cte in &with.cte_tables {
            let names = if cte.alias.columns.is_empty() {
                derived_columns(&cte.query, catalog)
            } else {
                Some(
                    cte.alias
                        .columns
                        .iter()
                        .map(|c| c.name.value.clone())
                        .collect(),
                )
            };
            let Some(names) = names else {
                continue;
            };
            let cte_name = cte.alias.name.value.to_ascii_lowercase();
            for (i, (_, table)) in self.sources.iter().enumerate() {
                if table.is_none() && self.cte_refs.get(i).is_some_and(|r| *r == cte_name) {
                    self.derived.push((i, names.clone()));
                }
            }
        }
        self
    }

    /// The name of the FROM subquery's column a plain or qualified reference names, as the
    /// subquery names it (SQLite names such an output by it, not by the reference's
    /// spelling), when the subquery's names are known.
    pub(crate) fn derived_column_name(&self, e: &Expr) -> Option<String> {
        let named = |i: usize, column: &str| {
            let (_, names) = self.derived.iter().find(|(d, _)| *d == i)?;
            names
                .iter()
                .find(|n| n.eq_ignore_ascii_case(column))
                .cloned()
        };
        match e {
            Expr::Identifier(id) => {
                let mut found = (0..self.sources.len())
                    .filter(|&i| self.sources[i].1.is_none())
                    .filter_map(|i| named(i, &id.value));
                let first = found.next()?;
                // Known tables must not have it either (it would be ambiguous).
                let tables = self
                    .sources
                    .iter()
                    .any(|(_, t)| t.is_some_and(|t| t.column(&id.value).is_some()));
                (found.next().is_none() && !tables).then_some(first)
            }
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let qualifier = parts[parts.len() - 2].value.to_ascii_lowercase();
                let i = self
                    .sources
                    .iter()
                    .position(|(name, _)| *name == qualifier)?;
                named(i, &parts[parts.len() - 1].value)
            }
            Expr::Nested(inner) => self.derived_column_name(inner),
            _ => None,
        }
    }

    /// The table and column a plain or qualified column reference names, if it is one.
    pub(crate) fn table_column(&self, e: &Expr) -> Option<(&'c crate::catalog::Table, &'c Column)> {
        let (i, column) = self.source_column(e)?;
        Some((self.sources[i].1?, column))
    }

    /// The FROM item (its position) and the column a plain or qualified column reference
    /// names, if it is one: two references to one column of one FROM item give the same,
    /// however they are spelled (`tag`, `TAG`, `"tag"`, `i.tag`); the two sides of a
    /// self-join do not.
    pub(crate) fn source_column(&self, e: &Expr) -> Option<(usize, &'c Column)> {
        match e {
            Expr::Identifier(id) => {
                let mut found = self.sources.iter().enumerate().filter_map(|(i, (_, t))| {
                    let t = (*t)?;
                    Some((i, t.column(&id.value)?.1))
                });
                let first = found.next()?;
                // Two FROM items with that column: SQLite says "ambiguous column name".
                found.next().is_none().then_some(first)
            }
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let column = &parts[parts.len() - 1].value;
                let qualifier = parts[parts.len() - 2].value.to_ascii_lowercase();
                let i = self
                    .sources
                    .iter()
                    .position(|(name, _)| *name == qualifier)?;
                Some((i, self.sources[i].1?.column(column)?.1))
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
            .filter_map(|(_, t)| *t)
            .flat_map(|t| &t.columns)
            .filter_map(|c| c.collation.as_deref())
            .filter_map(Collation::from_name)
            .find(|c| *c != Collation::Binary)
    }
}

/// The column names of a FROM subquery, when its text tells them: `*` over one table (all
/// its columns, hidden ones too: a name too many only keeps a name read as a column), and
/// outputs that are named (`AS n`) or plain column references. None otherwise.
fn derived_columns(q: &sqlparser::ast::Query, catalog: &Catalog) -> Option<Vec<String>> {
    use sqlparser::ast::{SelectItem, SetExpr};
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let mut names = Vec::new();
    for item in &select.projection {
        match item {
            SelectItem::Wildcard(_) => match select.from.as_slice() {
                [TableWithJoins {
                    relation: TableFactor::Table { name, .. },
                    joins,
                }] if joins.is_empty() => {
                    let table = catalog.get(&object_name(name))?;
                    names.extend(table.columns.iter().map(|c| c.name.clone()));
                }
                _ => return None,
            },
            SelectItem::ExprWithAlias { alias, .. } => names.push(alias.value.clone()),
            // A column is named as declared, as SQLite names it.
            SelectItem::UnnamedExpr(e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_))) => {
                let scope = Scope::of(select, catalog);
                let name = match (scope.column(e), e) {
                    (Some(c), _) => c.name.clone(),
                    (None, Expr::Identifier(id)) => id.value.clone(),
                    (None, Expr::CompoundIdentifier(parts)) => parts.last()?.value.clone(),
                    _ => return None,
                };
                names.push(name);
            }
            _ => return None,
        }
    }
    Some(names)
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
