//! One partial column a shard computes for an aggregate, and how it is written in the
//! shard query.

use crate::plan::splice::Piece;
use std::ops::Range;

/// How a partial aggregate's argument is wrapped on the shard (`$` is the argument).
/// Sums of REALs are shipped as an exact decomposition of each value: the integer part
/// (summed exactly, in 32-bit halves that never overflow), the fraction's first 53 bits
/// as an integer (likewise), and the residue below them, so no shard rounds a partial sum.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Wrap {
    Plain,
    /// The high 32 bits of an integer (exact: sums of them cannot overflow).
    ShiftHigh,
    /// Its low 32 bits.
    MaskLow,
    IntHigh,
    IntLow,
    FracHigh,
    FracLow,
    Residue,
}

impl Wrap {
    pub(super) fn template(self) -> &'static str {
        match self {
            Wrap::Plain => "$",
            Wrap::ShiftHigh => "($) >> 32",
            Wrap::MaskLow => "($) & 4294967295",
            Wrap::IntHigh => "CAST(($) AS INTEGER) >> 32",
            Wrap::IntLow => "CAST(($) AS INTEGER) & 4294967295",
            Wrap::FracHigh => {
                "CAST((($) - CAST(($) AS INTEGER)) * 9007199254740992.0 AS INTEGER) >> 32"
            }
            Wrap::FracLow => {
                "CAST((($) - CAST(($) AS INTEGER)) * 9007199254740992.0 AS INTEGER) & 4294967295"
            }
            Wrap::Residue => {
                "(($) - CAST(($) AS INTEGER)) - CAST((($) - CAST(($) AS INTEGER)) * 9007199254740992.0 AS INTEGER) / 9007199254740992.0"
            }
        }
    }
}

/// Pieces of `template` with each `$` replaced by the source range `arg`.
pub(super) fn expand<'p>(template: &'static str, arg: &Range<usize>) -> Vec<Piece<'p>> {
    let mut out = Vec::new();
    for (i, text) in template.split('$').enumerate() {
        if i > 0 {
            out.push(Piece::Source(arg.clone()));
        }
        if !text.is_empty() {
            out.push(Piece::Text(text));
        }
    }
    out
}

/// A condition a partial counts rows under, besides the aggregate's own FILTER.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Only {
    All,
    /// Values within the range an integer part can be taken of.
    Finite,
    /// Values past it.
    Huge,
    /// Values stored as integers.
    IntegerStorage,
    /// Values stored as anything else but NULL (text, reals, blobs).
    OtherStorage,
    /// Positive integers.
    PositiveInteger,
    /// Negative integers.
    NegativeInteger,
}

/// One partial column a shard computes: `func(wrap(arg)[extra]) [FILTER (WHERE …)]`.
pub(super) struct Partial {
    pub(super) func: &'static str,
    /// Argument source range (None: `*`).
    pub(super) arg: Option<Range<usize>>,
    pub(super) wrap: Wrap,
    pub(super) only: Only,
    /// The aggregate's own FILTER condition, as source.
    pub(super) filter: Option<Range<usize>>,
    /// Literal text after the argument (`, ' | '` for group_concat).
    pub(super) extra: String,
}

/// The partial table's group key columns, `"__d1p_g1"` … `"__d1p_g{n}"`, quoted.
pub(super) fn group_keys(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("\"__d1p_g{i}\"")).collect()
}

impl Partial {
    /// A column neither grouped nor aggregated, sent as the shard's SQLite picks it (an
    /// empty `func`).
    pub(super) fn bare(column: Range<usize>) -> Partial {
        Partial {
            func: "",
            arg: Some(column),
            wrap: Wrap::Plain,
            only: Only::All,
            filter: None,
            extra: String::new(),
        }
    }

    /// `func(wrap(arg)[extra]) [FILTER (WHERE …)]`, as pieces of the shard query (the bare
    /// column for an empty `func`).
    pub(super) fn pieces<'p>(&self) -> Vec<Piece<'p>> {
        if let (true, Some(r)) = (self.func.is_empty(), &self.arg) {
            return vec![Piece::Source(r.clone())];
        }
        let mut call = vec![Piece::Owned(format!("{}(", self.func))];
        match &self.arg {
            None => call.push(Piece::Text("*")),
            Some(r) => call.extend(expand(self.wrap.template(), r)),
        }
        call.push(Piece::Owned(format!("{})", self.extra)));
        let only: Option<Vec<Piece<'_>>> = self.arg.as_ref().and_then(|r| {
            let condition = match self.only {
                Only::All => return None,
                Only::Finite => "(($) + 0.0) BETWEEN -9.2e18 AND 9.2e18",
                Only::Huge => "NOT (($) + 0.0) BETWEEN -9.2e18 AND 9.2e18",
                Only::IntegerStorage => "typeof($) = 'integer'",
                Only::OtherStorage => "typeof($) NOT IN ('integer', 'null')",
                Only::PositiveInteger => "typeof($) = 'integer' AND ($) > 0",
                Only::NegativeInteger => "typeof($) = 'integer' AND ($) < 0",
            };
            Some(expand(condition, r))
        });
        if self.filter.is_some() || only.is_some() {
            call.push(Piece::Text(" FILTER (WHERE "));
            if let Some(f) = &self.filter {
                call.extend([Piece::Text("("), Piece::Source(f.clone()), Piece::Text(")")]);
                if only.is_some() {
                    call.push(Piece::Text(" AND "));
                }
            }
            call.extend(only.into_iter().flatten());
            call.push(Piece::Text(")"));
        }
        call
    }
}
