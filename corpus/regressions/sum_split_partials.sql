-- sum() whose positive integers add up past 2^63 only over several partial rows (generator
-- seed 1024, adversarial query 4413): a DISTINCT argument beside the sum splits each shard's
-- values by the DISTINCT column, each part below the bound, so the check that row order
-- decides the overflow looked at one part at a time and answered 2^63 - 1 where SQLite's
-- running total overflows. The bound is now checked on the totals of all parts.
INSERT INTO items VALUES ('big1', 10, 'x', NULL, 4611686018427387904, 'a'), ('big1', 11, 'x', NULL, -1, 'a'),
  ('big2', 12, 'x', NULL, 4611686018427387904, 'b'), ('big2', 13, 'x', NULL, 1, 'b'), ('big3', 14, 'x', NULL, -1, 'c');
-- expect: D1PLUS_UNSUPPORTED
SELECT count(DISTINCT tag), sum(qty) FROM items WHERE tenantId LIKE 'big%';
-- expect: D1PLUS_UNSUPPORTED
SELECT name, count(DISTINCT tag), sum(qty) FROM items WHERE tenantId LIKE 'big%' GROUP BY name;
-- Below the bound the sum is exact.
SELECT count(DISTINCT tag), sum(qty) FROM items WHERE tenantId LIKE 'big%' AND qty < 10;
