-- NULL shard keys (issue 10): refused before; one database stores them, d1plus keeps them on
-- the home shard and `owner IS NULL` routes there.
INSERT INTO notes VALUES (NULL, 1, 'a'), ('ann', 2, 'b'), (NULL, 3, 'c');
INSERT INTO notes (id, body) VALUES (4, 'd');
SELECT id, body FROM notes WHERE owner IS NULL;
SELECT owner, count(*) FROM notes GROUP BY owner;
UPDATE notes SET body = body || '!' WHERE owner IS NULL;
DELETE FROM notes WHERE owner IS NULL AND id = 3;
SELECT owner, id, body FROM notes;
