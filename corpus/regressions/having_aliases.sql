-- HAVING naming a result alias (issue 15: `HAVING c > 1` was refused as "column c that is
-- neither grouped nor aggregated"). SQLite resolves a plain name in HAVING to a column of
-- the FROM items first, else to a result alias; the alias stands for its expression.
-- ordered
SELECT tag, count(*) AS c FROM items GROUP BY tag HAVING c > 1 ORDER BY tag;
-- ordered
SELECT tag AS t, sum(qty) AS s, avg(price) AS a FROM items GROUP BY t HAVING t <> 'a' AND s > 0 OR a IS NULL ORDER BY t;
-- ordered
SELECT tag, max(id) - min(id) AS spread FROM items GROUP BY tag HAVING spread >= 0 AND count(*) > 1 ORDER BY spread DESC, tag;
-- A column of the table wins over an alias of the same name, as in SQLite.
-- ordered
SELECT tag, count(*) AS qty FROM items GROUP BY tag HAVING max(qty) > 1 ORDER BY tag;
-- An alias of an aggregate inside another expression of HAVING.
SELECT count(*) AS n FROM items HAVING n * 2 > 1;
