-- Every operator and literal form, on a pinned shard (text unchanged) and over all shards.
SELECT a.id || 'x', a.amount -> '$.a', a.data ->> '$.b', 1 << 2, 8 >> 1, 6 & 3, 6 | 1, 7 % 3, ~5 FROM events a WHERE a.tenantId = 'acme';
SELECT CAST(amount AS TEXT), CAST('12' AS INTEGER), CASE kind WHEN 'a' THEN 1 ELSE 2 END, CASE WHEN amount > 1 THEN 'big' END FROM events WHERE tenantId = 'acme';
SELECT * FROM events WHERE tenantId = 'acme' AND kind LIKE 'a%' ESCAPE '\' AND kind NOT LIKE 'b%' AND kind GLOB 'a*' AND data NOT GLOB '*z';
SELECT * FROM events WHERE tenantId = 'acme' AND amount BETWEEN 1 AND 10 AND amount NOT BETWEEN 3 AND 4;
SELECT * FROM events WHERE tenantId = 'acme' AND kind IN ('a', 'b') AND kind NOT IN (SELECT name FROM plans) AND planId IN plans;
SELECT * FROM events WHERE tenantId = 'acme' AND kind IS NOT NULL AND data IS NULL AND amount IS NOT DISTINCT FROM 3 AND amount IS DISTINCT FROM 4;
SELECT * FROM events WHERE tenantId = 'acme' AND kind ISNULL;
SELECT * FROM events WHERE tenantId = 'acme' AND kind NOTNULL;
SELECT - -1, -(-1), - - -2, 0x1F, 0XFF, X'1F', x'00ff', 1e3, .5, 5., 'it''s', "plans"."name" FROM plans;
SELECT * FROM events WHERE tenantId = 'acme' AND kind REGEXP '^a';
SELECT * FROM events WHERE tenantId = 'acme' AND data MATCH 'x';
-- sqlparser's precedence differs from SQLite's here: no key is pinned from these shapes.
SELECT * FROM events WHERE tenantId = 2 = 1 < 3;
SELECT * FROM events WHERE tenantId = data ->> '$.a' || 'b';
SELECT * FROM counters WHERE k = 0x10 AND n = - -1;
-- Quotes inside names and adjacent quote characters.
SELECT "a""b" FROM "odd ""name""" WHERE "a""b" = 'x''''y';
SELECT [a"b], `b``c` FROM "odd ""name""";
