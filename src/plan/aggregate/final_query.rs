//! The coordinator's query over the partial rows: output, GROUP BY, HAVING, ORDER BY,
//! LIMIT.

use super::partial::group_keys;
use crate::merge::coordinator::PARTIALS;
use crate::merge::{PostExpr, Render};
use crate::sql::object_name;
use crate::value::Value;
use sqlparser::ast::Expr;

/// One ORDER BY term of the final query.
pub(super) enum OrderBy {
    /// An output ordinal.
    Output(usize),
    /// An expression over groups and partials.
    Expr(PostExpr),
}

/// The coordinator's query over the partial rows.
pub(super) struct FinalQuery<'p> {
    pub(super) distinct: bool,
    pub(super) output: &'p [PostExpr],
    pub(super) groups: usize,
    pub(super) having: Option<&'p PostExpr>,
    pub(super) order: &'p [(OrderBy, &'p sqlparser::ast::OrderByExpr)],
    pub(super) limit: Option<u64>,
    pub(super) offset: u64,
}

impl FinalQuery<'_> {
    /// Whether it only computes its output, once: no GROUP BY, HAVING, ORDER BY, LIMIT,
    /// OFFSET or DISTINCT.
    pub(super) fn is_bare(&self) -> bool {
        !self.distinct
            && self.groups == 0
            && self.having.is_none()
            && self.order.is_empty()
            && self.limit.is_none()
            && self.offset == 0
    }

    /// Its SQL and parameters, given the coordinator SQL of each aggregate.
    pub(super) fn render(&self, aggs: &[String]) -> (String, Vec<Value>) {
        let mut params = Vec::new();
        let mut r = Render {
            aggs,
            params: &mut params,
        };
        let mut sql = String::from(if self.distinct {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        });
        for (i, e) in self.output.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            e.render(&mut sql, &mut r);
        }
        sql.push_str(" FROM ");
        sql.push_str(PARTIALS);
        if self.groups > 0 {
            sql.push_str(" GROUP BY ");
            sql.push_str(&group_keys(self.groups).join(", "));
        }
        if let Some(h) = self.having {
            sql.push_str(" HAVING ");
            h.render(&mut sql, &mut r);
        }
        for (i, (by, term)) in self.order.iter().enumerate() {
            sql.push_str(if i == 0 { " ORDER BY " } else { ", " });
            match by {
                OrderBy::Output(c) => sql.push_str(&(c + 1).to_string()),
                OrderBy::Expr(e) => e.render(&mut sql, &mut r),
            }
            if let Expr::Collate { collation, .. } = &term.expr {
                sql.push_str(&format!(
                    " COLLATE \"{}\"",
                    object_name(collation).replace('"', "\"\"")
                ));
            }
            if matches!(term.options.sort, Some(sqlparser::ast::OrderBySort::Desc)) {
                sql.push_str(" DESC");
            }
            match term.options.nulls_first {
                Some(true) => sql.push_str(" NULLS FIRST"),
                Some(false) => sql.push_str(" NULLS LAST"),
                None => {}
            }
        }
        if self.limit.is_some() || self.offset > 0 {
            let clamp = |n: u64| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
            r.params
                .push(self.limit.map(clamp).unwrap_or(Value::Integer(-1)));
            let l = r.params.len();
            r.params.push(clamp(self.offset));
            sql.push_str(&format!(" LIMIT ?{l} OFFSET ?{}", l + 1));
        }
        (sql, params)
    }
}
