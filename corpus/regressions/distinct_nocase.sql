-- SELECT DISTINCT over a NOCASE column across shards was refused at plan time; it now runs
-- as the GROUP BY it equals, refused at run time only when a set of equal values meets two
-- spellings (which one SQLite keeps depends on row order).
SELECT DISTINCT name FROM items WHERE id IN (1, 3, 4, 6);
SELECT DISTINCT name, tag FROM items WHERE id <> 2 AND id <> 5 ORDER BY 1 LIMIT 3;
SELECT DISTINCT upper(name) AS u, name FROM items WHERE id IN (1, 3, 4) ORDER BY u;
-- 'Bolt' and 'bolt' (and 'Nut' and 'NUT') on different shards.
-- expect: D1PLUS_UNSUPPORTED
SELECT DISTINCT name FROM items;
