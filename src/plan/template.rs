//! Whole-plan caching with parameter slots.
//!
//! A plan depends on its parameter values only through the answers planning got from them
//! (see [`super::params`]): a key's shard, whether it is NULL, a LIMIT. A [`Template`] is a
//! plan made once with the values it carries replaced by slots; any later call whose values
//! give the same answers to the same questions gets that plan with its own values in the
//! slots, without parsing, analysis, routing, rewriting or merge planning.
//!
//! How a template is made, from one call's values: plan for real (logging the reads), then
//! plan again with every value that was only carried replaced by a unique stand-in while
//! the answers are replayed from the first run. Where a stand-in lands is a slot. The
//! template is kept only when the second run asked the same questions, no stand-in landed
//! anywhere but in a slot (the SQL text, the merge), and the template filled with the
//! call's own values gives back exactly the plan of the first run.

use super::params::{Answer, Params, Probe, Read};
use super::{Combine, Context, Plan, PlanOptions, Reason};
use crate::analyze::Analysis;
use crate::error::Result;
use crate::parse::Parsed;
use crate::plan::output::{ShardBatch, ShardId};
use crate::value::Value;
use ahash::AHashMap;
use smallvec::SmallVec;
use std::rc::Rc;
use std::sync::Arc;

/// Marks a stand-in value; followed by the parameter number.
const STAND_IN: &str = "d1plus-slot-6b1f0c:";
/// Templates kept per statement (a point read by a key makes one per shard).
const MAX_TEMPLATES: usize = 128;
/// Question sequences kept per statement (they differ only when an exact value steers).
const MAX_FAMILIES: usize = 8;

/// The answers a call's values give, in question order: a template's key. Most
/// statements ask at most a few questions (one per key parameter), so the answers of a
/// lookup stay on the stack.
type Answers = SmallVec<[Answer; 4]>;

/// A cached plan with parameter slots.
#[derive(Debug)]
pub(crate) struct Template {
    /// The plan, with `Value::Null` in every slot.
    plan: Plan,
    /// `(batch, statement, position, parameter)`: `plan.batches[b].statements[s].params[p]`
    /// takes the value of `?parameter`.
    slots: Vec<(u32, u32, u32, u32)>,
    /// `(position, parameter)` in the values of a `Reason::Key`.
    reason_slots: Vec<(u32, u32)>,
    /// Approximate heap size, for the cache's budget.
    bytes: usize,
    /// See [`Template::passthrough`].
    passthrough: Option<(ShardId, Arc<str>)>,
}

impl Template {
    /// When the plan is one statement on one shard, answered as the shard answers it and
    /// changing no schema, whose parameters are the call's own in order: that shard and
    /// SQL. Such a call needs no plan built: the statement runs with the caller's values.
    pub(crate) fn passthrough(&self) -> Option<(ShardId, &Arc<str>)> {
        self.passthrough.as_ref().map(|(shard, sql)| (*shard, sql))
    }

    /// Checks that the passthrough (if any) sends what `plan`, this template's plan for
    /// `params`, sends: an internal error if not.
    pub(crate) fn check_passthrough(&self, plan: &Plan, params: &[Value]) -> Result<()> {
        let Some((shard, sql)) = self.passthrough() else {
            return Ok(());
        };
        let batch = ShardBatch::one(shard, sql.clone(), params.to_vec());
        // Compared as printed: a NaN parameter is not equal to itself.
        if plan.combine != Combine::Single
            || format!("{:?}", plan.batches) != format!("{:?}", [batch])
        {
            return Err(crate::error::Error::internal(format!(
                "a passthrough differs from its plan: {plan:?}"
            )));
        }
        Ok(())
    }

    /// The plan for `params` (which gave this template's answers).
    pub(crate) fn instantiate(&self, params: &[Value]) -> Plan {
        let mut plan = self.plan.clone();
        for &(b, s, p, i) in &self.slots {
            if let (Some(dst), Some(v)) = (
                plan.batches
                    .get_mut(b as usize)
                    .and_then(|b| b.statements.get_mut(s as usize))
                    .and_then(|s| s.params.get_mut(p as usize)),
                params.get(i as usize - 1),
            ) {
                dst.clone_from(v);
            }
        }
        if !self.reason_slots.is_empty() {
            if let Reason::Key { values, .. } = &mut plan.route.reason {
                for &(p, i) in &self.reason_slots {
                    if let (Some(dst), Some(v)) =
                        (values.get_mut(p as usize), params.get(i as usize - 1))
                    {
                        dst.clone_from(v);
                    }
                }
                // The reason lists distinct keys: stand-ins never repeat, values may.
                super::dedupe_keys(values);
            }
        }
        plan
    }

    /// Approximate heap size.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// A template and the reads of the call it was made from.
pub(crate) type Learned = (Vec<Read>, Template);

/// Plans with its values, and makes a template from that call when one holds: see the
/// module docs. The plan is the one [`super::plan`] returns.
pub(crate) fn plan_and_template(
    parsed: &Parsed,
    analysis: &Analysis,
    values: &[Value],
    cx: Context<'_>,
) -> Result<(Plan, Option<Learned>)> {
    let params = Params::new(values);
    let plan = super::plan_reading(parsed, analysis, &params, None, cx)?;
    let reads = params.into_reads();
    let template = make(parsed, analysis, values, &reads, &plan, cx);
    Ok((plan, template.map(|t| (reads, t))))
}

fn make(
    parsed: &Parsed,
    analysis: &Analysis,
    values: &[Value],
    reads: &[Read],
    fresh: &Plan,
    cx: Context<'_>,
) -> Option<Template> {
    let exact = |i: usize| {
        reads
            .iter()
            .any(|r| r.index == i && r.probe == Probe::Exact)
    };
    let stand_ins: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if exact(i + 1) {
                v.clone()
            } else {
                Value::Text(format!("{STAND_IN}{}", i + 1))
            }
        })
        .collect();
    let replay = Params::replaying(&stand_ins, reads);
    let mut plan = super::plan_reading(parsed, analysis, &replay, None, cx).ok()?;
    if !replay.replay_matched() {
        return None;
    }
    let mut slots = Vec::new();
    let mut bytes = 256;
    for (b, batch) in plan.batches.iter_mut().enumerate() {
        for (s, st) in batch.statements.iter_mut().enumerate() {
            if st.sql.contains(STAND_IN) {
                return None;
            }
            bytes += st.sql.len() + 32 * st.params.len() + 64;
            for (p, v) in st.params.iter_mut().enumerate() {
                if let Some(i) = stand_in(v) {
                    slots.push((b as u32, s as u32, p as u32, i));
                    *v = Value::Null;
                }
            }
        }
    }
    let mut reason_slots = Vec::new();
    if let Reason::Key { values, .. } = &mut plan.route.reason {
        for (p, v) in values.iter_mut().enumerate() {
            if let Some(i) = stand_in(v) {
                reason_slots.push((p as u32, i));
                *v = Value::Null;
            }
        }
    }
    // A stand-in anywhere else (the merge, a hint) would be a value the plan kept without
    // a slot: no template.
    let rest = format!("{:?}{:?}", plan.route, plan.combine);
    if rest.contains(STAND_IN) {
        return None;
    }
    let passthrough = passthrough_of(&plan, &slots, values.len());
    let template = Template {
        plan,
        slots,
        reason_slots,
        bytes,
        passthrough,
    };
    (template.instantiate(values) == *fresh).then_some(template)
}

/// See [`Template::passthrough`]: `slots` fill every parameter of the one statement with
/// the call's `count` values, `?1` first.
fn passthrough_of(
    plan: &Plan,
    slots: &[(u32, u32, u32, u32)],
    count: usize,
) -> Option<(ShardId, Arc<str>)> {
    let ([batch], Combine::Single, false) =
        (plan.batches.as_slice(), &plan.combine, plan.changes_schema)
    else {
        return None;
    };
    let [statement] = batch.statements.as_slice() else {
        return None;
    };
    let in_order = statement.params.len() == count
        && slots.len() == count
        && slots
            .iter()
            .enumerate()
            .all(|(p, &slot)| slot == (0, 0, p as u32, p as u32 + 1));
    in_order.then(|| (batch.shard, statement.sql.clone()))
}

fn stand_in(v: &Value) -> Option<u32> {
    match v {
        Value::Text(t) => t.strip_prefix(STAND_IN)?.parse().ok(),
        _ => None,
    }
}

/// The templates of one statement, by caller options and by the answers they hold for.
#[derive(Debug, Default)]
pub(crate) struct Templates {
    families: Vec<Family>,
    count: usize,
    bytes: usize,
}

/// Templates made from the same questions (the same reads in the same order).
#[derive(Debug)]
struct Family {
    options: PlanOptions,
    questions: Vec<(usize, Probe)>,
    plans: AHashMap<Answers, Rc<Template>>,
}

impl Templates {
    /// The template whose answers `params` gives, if one is kept.
    pub(crate) fn find(&self, params: &[Value], options: PlanOptions) -> Option<Rc<Template>> {
        self.families
            .iter()
            .filter(|f| f.options == options)
            .find_map(|f| {
                let answers = f
                    .questions
                    .iter()
                    .map(|&(i, probe)| Some(probe.answer(params.get(i.wrapping_sub(1))?)))
                    .collect::<Option<Answers>>()?;
                f.plans.get(&answers).cloned()
            })
    }

    /// Keeps `template`, made under `options` from a call that read `reads`. Returns the
    /// bytes added (0 when the statement keeps enough templates already).
    pub(crate) fn add(
        &mut self,
        options: PlanOptions,
        reads: Vec<Read>,
        template: Template,
    ) -> usize {
        if self.count >= MAX_TEMPLATES {
            return 0;
        }
        let questions: Vec<(usize, Probe)> = reads.iter().map(|r| (r.index, r.probe)).collect();
        let answers: Answers = reads.into_iter().map(|r| r.answer).collect();
        let family = match self
            .families
            .iter()
            .position(|f| f.options == options && f.questions == questions)
        {
            Some(i) => &mut self.families[i],
            None if self.families.len() < MAX_FAMILIES => {
                self.families.push(Family {
                    options,
                    questions,
                    plans: AHashMap::new(),
                });
                let last = self.families.len() - 1;
                &mut self.families[last]
            }
            None => return 0,
        };
        if family.plans.contains_key(&answers) {
            return 0;
        }
        let bytes = template.bytes();
        family.plans.insert(answers, Rc::new(template));
        self.count += 1;
        self.bytes += bytes;
        bytes
    }

    /// Approximate heap size of the kept templates.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The plan of a statement whose values are not known yet (`explain` without values):
/// planned with each parameter `?N` bound to the integer N (distinct keys, so rows of a
/// multi-row INSERT spread as different keys would), then shown with `?N` wherever a value
/// is only carried into the shard SQL or the route's reason. A route that key parameters
/// decide is named by them, and so is each shard's batch (`shard of ?1:`). Where the plan
/// depends on a value itself (a LIMIT folded into the merge), a note says so. With a hint
/// (which templates do not cover) the plan of the sample values is shown, with that note.
pub(crate) fn describe_unbound(
    parsed: &Parsed,
    analysis: &Analysis,
    hint: Option<&super::ShardHint>,
    cx: Context<'_>,
) -> Result<String> {
    let n = parsed.params.count;
    let sample: Vec<Value> = (1..=n as i64).map(Value::Integer).collect();
    let sampled = |plan: Plan| {
        let note = if n > 0 {
            "note:  planned with each parameter ?N bound to N; pass values for the plan of yours\n"
        } else {
            ""
        };
        format!("{plan}{note}")
    };
    if hint.is_some() {
        return Ok(sampled(super::plan(parsed, analysis, &sample, hint, cx)?));
    }
    let (plan, learned) = plan_and_template(parsed, analysis, &sample, cx)?;
    let Some((reads, template)) = learned.filter(|_| n > 0) else {
        return Ok(sampled(plan));
    };
    let marks: Vec<Value> = (1..=n)
        .map(|i| Value::Text(format!("{STAND_IN}{i}")))
        .collect();
    let mut text = name_slots(&template.instantiate(&marks).to_string());
    let named = |probe: fn(&Probe) -> bool| -> Vec<String> {
        let mut seen: Vec<usize> = reads
            .iter()
            .filter(|r| probe(&r.probe))
            .map(|r| r.index)
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.iter().map(|i| format!("?{i}")).collect()
    };
    let keys = named(|p| matches!(p, Probe::Shard(..)));
    if !keys.is_empty() {
        text = text
            .lines()
            .map(|line| name_key_shards(line, &keys))
            .collect::<Vec<_>>()
            .join("\n");
        text.push('\n');
    }
    let exact = named(|p| matches!(p, Probe::Exact));
    if !exact.is_empty() {
        text.push_str(&format!(
            "note:  the plan depends on the value of {} (planned with ?N = N)\n",
            exact.join(", ")
        ));
    }
    Ok(text)
}

/// `text` with each quoted stand-in `'<STAND_IN>N'` written `?N`, in one pass (a statement
/// may have thousands of parameters, each printed on every shard).
fn name_slots(text: &str) -> String {
    let mark = format!("'{STAND_IN}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&mark) {
        out.push_str(&rest[..at]);
        let after = &rest[at + mark.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with('\'') {
            out.push('?');
            out.push_str(&after[..digits]);
            rest = &after[digits + 1..];
        } else {
            out.push_str(&mark);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// One line of a plan whose shards the key parameters `keys` decide: the route names
/// them, and a shard's batch is labelled by the keys its parameters carry.
fn name_key_shards(line: &str, keys: &[String]) -> String {
    if line.starts_with("route: ") {
        let s = if keys.len() == 1 { "" } else { "s" };
        return format!("route: the shard{s} of {}", keys.join(", "));
    }
    let Some((label, rest)) = line.split_once(": ") else {
        return line.to_string();
    };
    if !label.starts_with("shard") {
        return line.to_string();
    }
    let carried = rest
        .rsplit_once("-- params: [")
        .map(|(_, p)| p)
        .unwrap_or("");
    let carried: ahash::AHashSet<&str> = carried.trim_end_matches(']').split(", ").collect();
    let mine: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| carried.contains(k))
        .collect();
    if mine.is_empty() {
        return line.to_string();
    }
    format!("shard of {}: {rest}", mine.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_named_in_one_pass() {
        let slot = |i: usize| format!("'{STAND_IN}{i}'");
        let text = format!(
            "shard 0: SELECT {} , {} -- params: [{}, {}]\n'{STAND_IN}' '{STAND_IN}x' {}",
            slot(1),
            slot(12),
            slot(12),
            slot(1),
            slot(3)
        );
        assert_eq!(
            name_slots(&text),
            format!("shard 0: SELECT ?1 , ?12 -- params: [?12, ?1]\n'{STAND_IN}' '{STAND_IN}x' ?3")
        );
    }

    #[test]
    fn key_shards_are_named_by_the_keys_they_carry() {
        let keys: Vec<String> = vec!["?1".into(), "?3".into()];
        assert_eq!(
            name_key_shards("shard 2: SELECT 1 -- params: [?3, ?2]", &keys),
            "shard of ?3: SELECT 1 -- params: [?3, ?2]"
        );
        assert_eq!(
            name_key_shards("shard 2: SELECT 1 -- params: [?2]", &keys),
            "shard 2: SELECT 1 -- params: [?2]"
        );
    }
}
