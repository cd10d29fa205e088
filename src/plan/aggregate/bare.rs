//! Columns neither grouped nor aggregated beside one min() or max(): SQLite takes them from
//! the row holding the extreme; across shards, from the partial row holding it
//! (`__d1p_bare_max` in the coordinator).

use super::builder::{norm, BareColumn, Builder};
use super::partial::Partial;
use crate::error::Result;
use crate::merge::PostExpr;
use crate::plan::fanout::refuse;
use sqlparser::ast::Expr;

impl Builder<'_> {
    /// A column neither grouped nor aggregated. Beside exactly one min() or max(), SQLite
    /// takes its value from the row where that aggregate found its extreme: each shard
    /// sends the value its own SQLite took, and the coordinator keeps the one of the
    /// partial row holding the extreme (`__d1p_bare_max`, which refuses ties that row
    /// order would decide). Whether there is exactly one is known once every clause is
    /// read: [`Builder::finish_bare_columns`].
    pub(super) fn bare_column(&mut self, e: &Expr) -> Result<PostExpr> {
        let text = e.to_string();
        let refused = |b: &Self| {
            refuse(
                &format!("column {text} that is neither grouped nor aggregated"),
                b.a,
            )
        };
        let idents: &[sqlparser::ast::Ident] = match e {
            Expr::Identifier(id) => std::slice::from_ref(id),
            Expr::CompoundIdentifier(ids) => ids,
            _ => return Err(refused(self)),
        };
        let range = match (idents.first(), idents.last()) {
            (Some(first), Some(last)) => self
                .parsed
                .offset(first.span.start)
                .zip(self.parsed.offset(last.span.end)),
            _ => None,
        };
        let Some((start, end)) = range.filter(|(s, e)| s < e && e <= &self.parsed.sql.len()) else {
            return Err(refused(self));
        };
        if self.scope.source_column(e).is_none() {
            return Err(refused(self));
        }
        let key = format!("bare|{}", norm(&self.parsed.sql[start..end]));
        if let Some(i) = self.agg_keys.iter().position(|k| *k == key) {
            return Ok(PostExpr::Agg(i));
        }
        let partial = self.add_partial(Partial::bare(start..end));
        self.aggs.push(String::new());
        self.direct.push(None);
        self.agg_keys.push(key);
        let agg = self.aggs.len() - 1;
        self.bare.push(BareColumn { agg, partial, text });
        Ok(PostExpr::Agg(agg))
    }

    /// Writes the coordinator SQL of the bare columns, once every clause is read: they
    /// need exactly one min() or max() in the query (SQLite leaves the row undefined
    /// beside several, and beside none).
    ///
    /// Among rows of one shard that tie on the extreme, the shard's SQLite keeps the one
    /// it meets first, as one SQLite over every row would: the shard query scans as the
    /// statement does. That holds while the shard query's aggregates are the statement's
    /// (SQLite reads an index backwards for a lone min()/max(), so no partial is added
    /// here) and its GROUP BY is the statement's (a DISTINCT aggregate adds its values
    /// to the shards' grouping): refused with DISTINCT aggregates.
    pub(super) fn finish_bare_columns(&mut self) -> Result<()> {
        let Some(first) = self.bare.first() else {
            return Ok(());
        };
        let ext = match self.extremes.as_slice() {
            [ext] if ext.distinct || !self.distinct.is_empty() => {
                return Err(refuse(
                    &format!("column {} beside a DISTINCT aggregate", first.text),
                    self.a,
                ))
            }
            [ext] => ext,
            [] => {
                return Err(refuse(
                    &format!("column {} that is neither grouped nor aggregated", first.text),
                    self.a,
                ))
            }
            _ => {
                return Err(refuse(
                    &format!("column {} beside several min()/max() aggregates (SQLite takes it from the row of one of them, which it leaves undefined)", first.text),
                    self.a,
                ))
            }
        };
        for bare in &self.bare {
            self.aggs[bare.agg] = format!(
                "__d1p_bare_{}({}, {}, '{}')",
                ext.kind, ext.partial, bare.partial, ext.collation
            );
        }
        Ok(())
    }
}
