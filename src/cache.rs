//! The plan cache: parsed and analyzed statements by SQL text, so a repeated statement
//! skips parsing and analysis, and with them the plans made for it as templates with
//! parameter slots (see `plan::template`), so a repeated call whose values route the same
//! way skips planning too. Bounded in entries and in bytes (SQL text and templates);
//! entries made under an older catalog (DDL ran since) are stale and replaced.

use crate::analyze::Analysis;
use crate::parse::Parsed;
use crate::plan::params::Read;
use crate::plan::template::{Template, Templates};
use crate::plan::PlanOptions;
use ahash::AHashMap;
use std::cell::RefCell;
use std::rc::Rc;

/// A statement ready to be routed with its parameters.
#[derive(Debug)]
pub struct Prepared {
    /// The parse.
    pub parsed: Parsed,
    /// The analysis against the policy and catalog.
    pub analysis: Analysis,
    /// The catalog version the analysis used.
    pub catalog_version: u64,
    /// Plans made for it, as templates (added through [`PlanCache::add_template`]).
    pub(crate) templates: RefCell<Templates>,
}

impl Prepared {
    /// A statement with no templates yet.
    pub fn new(parsed: Parsed, analysis: Analysis, catalog_version: u64) -> Prepared {
        Prepared {
            parsed,
            analysis,
            catalog_version,
            templates: RefCell::new(Templates::default()),
        }
    }

    /// What this entry weighs against the cache's byte budget.
    fn bytes(&self) -> usize {
        self.parsed.sql.len() + self.templates.borrow().bytes()
    }
}

/// A bounded map from SQL text to prepared statements, evicting the least recently used.
#[derive(Debug)]
pub struct PlanCache {
    entries: AHashMap<Rc<str>, (Rc<Prepared>, u64)>,
    tick: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to parse.
    pub misses: u64,
    /// Plans taken from a template.
    pub template_hits: u64,
}

/// What the plan cache holds and how often it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Statements kept (parsed and analyzed).
    pub statements: usize,
    /// Statement lookups answered from the cache.
    pub hits: u64,
    /// Statement lookups that had to parse.
    pub misses: u64,
    /// Plans taken from a template (no planning at all).
    pub template_hits: u64,
    /// Bytes kept (SQL text and templates, approximately).
    pub bytes: usize,
}

impl Default for PlanCache {
    fn default() -> PlanCache {
        PlanCache::new(512, 4 << 20)
    }
}

impl PlanCache {
    /// A cache of at most `max_entries` statements and `max_bytes` of SQL text.
    pub fn new(max_entries: usize, max_bytes: usize) -> PlanCache {
        PlanCache {
            entries: AHashMap::new(),
            tick: 0,
            bytes: 0,
            max_entries: max_entries.max(1),
            max_bytes,
            hits: 0,
            misses: 0,
            template_hits: 0,
        }
    }

    /// What the cache holds and how often it answered.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            statements: self.entries.len(),
            hits: self.hits,
            misses: self.misses,
            template_hits: self.template_hits,
            bytes: self.bytes,
        }
    }

    /// Number of cached statements.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The prepared statement for `sql` if it was made under `catalog_version`.
    pub fn get(&mut self, sql: &str, catalog_version: u64) -> Option<Rc<Prepared>> {
        self.tick += 1;
        match self.entries.get_mut(sql) {
            Some((p, used)) if p.catalog_version == catalog_version => {
                *used = self.tick;
                self.hits += 1;
                Some(p.clone())
            }
            _ => {
                self.misses += 1;
                None
            }
        }
    }

    /// Caches `prepared` (statements larger than a quarter of the byte budget are not kept).
    pub fn insert(&mut self, prepared: Rc<Prepared>) {
        let len = prepared.parsed.sql.len();
        if len > self.max_bytes / 4 {
            return;
        }
        let key: Rc<str> = Rc::from(prepared.parsed.sql.as_str());
        if let Some((old, _)) = self.entries.remove(&key) {
            self.bytes -= old.bytes();
        }
        while !self.entries.is_empty()
            && (self.entries.len() >= self.max_entries || self.bytes + len > self.max_bytes)
        {
            self.evict_oldest();
        }
        self.tick += 1;
        self.bytes += len;
        self.entries.insert(key, (prepared, self.tick));
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, (_, used))| *used)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            if let Some((p, _)) = self.entries.remove(&k) {
                self.bytes -= p.bytes();
            }
        }
    }

    /// Keeps a plan template for `prepared` (if it is still the cached entry for its
    /// text), evicting the least recently used other statements to stay in budget.
    pub(crate) fn add_template(
        &mut self,
        prepared: &Rc<Prepared>,
        options: PlanOptions,
        reads: Vec<Read>,
        template: Template,
    ) {
        let sql = prepared.parsed.sql.as_str();
        let current = self
            .entries
            .get(sql)
            .is_some_and(|(p, _)| Rc::ptr_eq(p, prepared));
        if !current || prepared.bytes() + template.bytes() > self.max_bytes / 4 {
            return;
        }
        self.bytes += prepared
            .templates
            .borrow_mut()
            .add(options, reads, template);
        while self.bytes > self.max_bytes && self.entries.len() > 1 {
            self.evict_oldest();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::policy::Policy;

    fn prepared(sql: &str, version: u64) -> Rc<Prepared> {
        let parsed = Parsed::new(sql).unwrap();
        let analysis =
            crate::analyze::analyze(&parsed, &Policy::single("t"), &Catalog::default()).unwrap();
        Rc::new(Prepared::new(parsed, analysis, version))
    }

    #[test]
    fn evicts_least_recently_used_and_ignores_stale_versions() {
        let mut c = PlanCache::new(2, 1 << 20);
        c.insert(prepared("SELECT 1", 1));
        c.insert(prepared("SELECT 2", 1));
        assert!(c.get("SELECT 1", 1).is_some());
        c.insert(prepared("SELECT 3", 1)); // evicts SELECT 2, the least recently used
        assert!(c.get("SELECT 2", 1).is_none());
        assert!(c.get("SELECT 1", 1).is_some());
        assert!(
            c.get("SELECT 3", 2).is_none(),
            "made under catalog version 1"
        );
        assert_eq!(c.len(), 2);
        assert_eq!((c.hits, c.misses), (2, 2));
    }

    #[test]
    fn bounded_in_bytes() {
        let mut c = PlanCache::new(100, 64);
        c.insert(prepared(
            "SELECT 'a long statement that is over a quarter of the budget'",
            1,
        ));
        assert!(c.is_empty());
        for i in 0..20 {
            c.insert(prepared(&format!("SELECT {i}"), 1));
        }
        assert!(c.bytes <= 64 && c.len() < 20);
    }
}
