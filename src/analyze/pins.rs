//! Key pins and links: which shard-key values a condition fixes, and which sharded
//! references it joins on their keys.

use super::scopes::{Columns, Entry, Reach, Scopes};
use super::{key_literal, KeyExpr, Pin};
use crate::sql::{split_and, split_or, strip_nested};
use crate::value::Value;
use sqlparser::ast::{self as ast, BinaryOperator, Expr};

impl Scopes<'_> {
    /// Collects pins and links from the top-level AND of `cond`.
    pub(super) fn scan_condition(&mut self, cond: &Expr, reach: Reach) {
        let mut conjuncts = Vec::new();
        split_and(cond, &mut conjuncts);
        for c in conjuncts {
            if let Some((a, b)) = self.key_link(c) {
                if a != b {
                    self.links.push((a, b));
                }
                continue;
            }
            if reach == Reach::LinksOnly {
                continue;
            }
            if let Some((node, pin)) = self.pin_of(c) {
                self.refs[node].pins.push(pin.clone());
                if reach == Reach::Output {
                    self.refs[node].output_pins.push(pin);
                }
            }
        }
    }

    /// `a.key = b.key` between two sharded references.
    pub(super) fn key_link(&self, e: &Expr) -> Option<(usize, usize)> {
        match strip_nested(e) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            }
            | Expr::IsNotDistinctFrom(left, right) => {
                Some((self.key_column_ref(left)?, self.key_column_ref(right)?))
            }
            _ => None,
        }
    }

    /// `key = v` or `key IS v` (either side). A key an outer join NULL-filled is NULL on
    /// every shard, so `key IS v` (which a NULL `v` matches) pins nothing there.
    fn equality_pin(&self, left: &Expr, right: &Expr, nulls: Nulls) -> Option<(usize, Pin)> {
        let (n, v) = match (self.key_column_ref(left), key_literal(self.parsed, right)) {
            (Some(n), Some(v)) => (n, v),
            _ => (self.key_column_ref(right)?, key_literal(self.parsed, left)?),
        };
        let pinnable = nulls == Nulls::NeverMatch || !self.null_filled.contains(&n);
        pinnable.then(|| (n, vec![v]))
    }

    /// The key values one conjunct pins, for one sharded reference.
    pub(super) fn pin_of(&self, e: &Expr) -> Option<(usize, Pin)> {
        match strip_nested(e) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => self.equality_pin(left, right, Nulls::NeverMatch),
            Expr::IsNotDistinctFrom(left, right) => self.equality_pin(left, right, Nulls::Match),
            // NULL keys live on the home shard, unless an outer join NULL-filled the key.
            Expr::IsNull(inner) => {
                let n = self.key_column_ref(inner)?;
                (!self.null_filled.contains(&n)).then(|| (n, vec![KeyExpr::Literal(Value::Null)]))
            }
            Expr::InList {
                expr,
                list,
                negated: false,
            } => {
                let n = self.key_column_ref(expr)?;
                let values = list
                    .iter()
                    .map(|v| key_literal(self.parsed, v))
                    .collect::<Option<Vec<_>>>()?;
                Some((n, values))
            }
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Or,
                right,
            } => {
                // Every branch must pin the same reference; the pin is the union.
                let mut branches = Vec::new();
                split_or(left, &mut branches);
                split_or(right, &mut branches);
                let mut node = None;
                let mut values = Vec::new();
                for b in branches {
                    let mut conj = Vec::new();
                    split_and(b, &mut conj);
                    let (n, mut vs) = conj.iter().find_map(|c| self.pin_of(c))?;
                    if node.is_some_and(|m| m != n) {
                        return None;
                    }
                    node = Some(n);
                    values.append(&mut vs);
                }
                Some((node?, values))
            }
            _ => None,
        }
    }

    /// A window whose PARTITION BY holds the key column of a sharded table of the innermost
    /// FROM (without outer joins, which could NULL-fill the key): each partition's rows
    /// live on one shard, so each shard computes the window exactly.
    pub(super) fn partitioned_by_key(&self, over: Option<&ast::WindowType>) -> bool {
        let Some(ast::WindowType::WindowSpec(spec)) = over else {
            return false;
        };
        let (Some(frame), Some(false)) = (self.frames.last(), self.frame_outer.last()) else {
            return false;
        };
        spec.window_name.is_none()
            && spec.partition_by.iter().any(|e| {
                self.key_column_ref(e)
                    .is_some_and(|n| frame.iter().any(|en| en.node == Some(n)))
            })
    }

    /// If `e` names the key column of a sharded reference in scope, that reference.
    pub(super) fn key_column_ref(&self, e: &Expr) -> Option<usize> {
        let (qualifier, column) = match strip_nested(e) {
            Expr::Identifier(id) => (None, &id.value),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => (
                Some(&parts[parts.len() - 2].value),
                &parts[parts.len() - 1].value,
            ),
            _ => return None,
        };
        for frame in self.frames.iter().rev() {
            let candidates: Vec<&Entry> = match qualifier {
                Some(q) => frame
                    .iter()
                    .filter(|en| en.alias.eq_ignore_ascii_case(q))
                    .collect(),
                None => frame
                    .iter()
                    .filter(|en| self.has_column(en, column))
                    .collect(),
            };
            match candidates.as_slice() {
                [] => continue,
                [one] => {
                    let node = one.node?;
                    return self.refs[node]
                        .key_column
                        .eq_ignore_ascii_case(column)
                        .then_some(node);
                }
                // Ambiguous: SQLite would reject it; pin nothing.
                _ => return None,
            }
        }
        None
    }

    pub(super) fn has_column(&self, entry: &Entry, column: &str) -> bool {
        match &entry.columns {
            Columns::Named(names) => return names.iter().any(|n| n.eq_ignore_ascii_case(column)),
            Columns::Unknown => return true,
            Columns::OfTable => {}
        }
        if let Some(node) = entry.node {
            if self.refs[node].key_column.eq_ignore_ascii_case(column) {
                return true;
            }
        }
        match self.catalog.get(&entry.table) {
            Some(t) => t.column(column).is_some(),
            // Unknown table (not created yet, or a CTE): assume it may have the column,
            // which makes an unqualified name ambiguous and pins nothing.
            None => true,
        }
    }
}

/// Whether a comparison holds for NULL operands: `=` never, `IS` when both are NULL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nulls {
    NeverMatch,
    Match,
}
