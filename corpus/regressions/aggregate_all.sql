-- sqllogictest random/aggregates_1 (CI, 2026-12-02): `SUM ( ALL x )` shipped `ALL x` as the
-- partial's argument, a syntax error on every shard.
SELECT SUM ( ALL qty ), AVG ( ALL price ), COUNT ( ALL tag ), MIN ( ALL name COLLATE BINARY ) FROM items;
SELECT tag, SUM ( ALL + id ) * 2 AS s FROM items GROUP BY tag;
