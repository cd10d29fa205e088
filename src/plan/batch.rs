//! What `batch()` checks and changes across its statements' plans before any shard runs.

use super::connection_state::refused;
use super::output::Statement;
use super::{Combine, Plan, Reason, ShardId, Target};
use crate::error::{Error, Result};
use crate::lex;

/// A merge that reads columns by position cannot trust rows a backend hands back as
/// objects (D1's `batch()`), unless the statement names its columns: `SELECT *` over a join
/// may hold two columns of one name, which such rows merge into one.
pub(crate) fn check_positional_merges(plans: &[Plan]) -> Result<()> {
    for p in plans {
        if let Combine::Rows(spec) = &p.combine {
            let positional = !spec.order.is_empty() || spec.distinct || spec.hidden > 0;
            if positional && spec.width.is_none() {
                return Err(Error::unsupported(
                    "a multi-shard read with `*` and ORDER BY or DISTINCT inside batch(): D1 answers batch rows as objects, which merge columns of one name",
                    "name the result columns (SELECT a, b …), or run the read outside batch()",
                ));
            }
        }
    }
    Ok(())
}

/// Places each statement of a batch that reads the connection's state (`changes()`,
/// `last_insert_rowid()`) on the shard where the batch's previous row write ran, the one
/// connection whose state is what one SQLite's would be: a statement that reads no table
/// (or reference tables only) moves there; any other must already run there, alone.
/// Refused otherwise, and `total_changes()` always (it counts all a shard ever ran).
pub(crate) fn place_connection_state(statements: &[Statement], plans: &mut [Plan]) -> Result<()> {
    // The shards the previous row write ran on, and whether they hold identical copies.
    let mut written: Option<(Vec<ShardId>, bool)> = None;
    for (s, plan) in statements.iter().zip(plans.iter_mut()) {
        if let Some(call) = plan.connection_state_call.clone() {
            place_on_written(&call, &s.sql, plan, written.as_ref())?;
        }
        if lex::writes_rows(&s.sql) {
            let copies = plan.route.reason == Reason::ReferenceWrite;
            written = Some((plan.batches.iter().map(|b| b.shard).collect(), copies));
        }
    }
    Ok(())
}

/// [`place_connection_state`] for one statement making `call`.
fn place_on_written(
    call: &str,
    sql: &str,
    plan: &mut Plan,
    written: Option<&(Vec<ShardId>, bool)>,
) -> Result<()> {
    let refused = |why: &str| Err(refused(call, why));
    if call.to_ascii_lowercase().starts_with("total_changes") {
        return refused("total_changes() counts every statement a shard has run");
    }
    let Some((shards, copies)) = written else {
        return refused("no write comes before it in this batch");
    };
    // After a write on several shards, only identical copies left each the same state.
    if shards.len() != 1 && !copies {
        return refused("the write before it in this batch ran on several shards");
    }
    let movable = match plan.route.reason {
        Reason::ReferenceRead => true,
        Reason::Unsharded => !lex::tokens_of(sql).any(|t| t.is_keyword(sql, "FROM")),
        _ => false,
    };
    match plan.batches.as_mut_slice() {
        [b] if b.statements.len() == 1 && shards.contains(&b.shard) => Ok(()),
        [b] if b.statements.len() == 1 && movable => {
            b.shard = shards[0];
            plan.route.target = Target::One(shards[0]);
            Ok(())
        }
        _ => refused(&format!(
            "it does not run alone on shard {}, where the write before it ran",
            shards[0]
        )),
    }
}
