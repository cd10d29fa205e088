-- fuzz grammar_oracle seed (2026-12-02): a fan-out names an unnamed output expression by the
-- shard's text, where parameters are renumbered (`id + ?` became `id + ?1`).
-- params: [10]
SELECT id + ?, tenantId FROM items;
-- params: [2]
-- ordered
SELECT tenantId, count(*) * ? FROM items GROUP BY tenantId ORDER BY tenantId;
-- params: [1, 2]
-- ordered
SELECT id, ?2 - ?1 FROM items ORDER BY id;
