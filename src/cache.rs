//! The plan cache: parsed and analyzed statements by SQL text, so a repeated statement
//! skips parsing and analysis and is only routed (its key parameters were recorded by the
//! analysis as parameter numbers). Bounded in entries and in SQL bytes; entries made under
//! an older catalog (DDL ran since) are stale and replaced.

use crate::analyze::Analysis;
use crate::parse::Parsed;
use ahash::AHashMap;
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
            self.bytes -= old.parsed.sql.len();
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
                self.bytes -= p.parsed.sql.len();
            }
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
        Rc::new(Prepared {
            parsed,
            analysis,
            catalog_version: version,
        })
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
