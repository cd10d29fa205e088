-- NULL shard keys (issue 10): refused before; one database stores them, d1plus keeps them on
-- the home shard and `owner IS NULL` routes there.
INSERT INTO notes VALUES (NULL, 1, 'a'), ('ann', 2, 'b'), (NULL, 3, 'c');
INSERT INTO notes (id, body) VALUES (4, 'd');
SELECT id, body FROM notes WHERE owner IS NULL;
SELECT owner, count(*) FROM notes GROUP BY owner;
UPDATE notes SET body = body || '!' WHERE owner IS NULL;
DELETE FROM notes WHERE owner IS NULL AND id = 3;
SELECT owner, id, body FROM notes;
-- A key NULL-filled by an outer join is NULL on every shard: `n.owner IS NULL` after a
-- LEFT JOIN (an anti-join) pins nothing (it was routed to the NULL key's home shard).
SELECT i.tenantId, i.id FROM items i LEFT JOIN notes n ON n.owner = i.tenantId WHERE n.owner IS NULL;
SELECT i.tenantId, i.id FROM items i LEFT JOIN notes n ON n.owner = i.tenantId WHERE n.owner IS NULL OR n.owner = 'ann';
SELECT i.tenantId, count(*) FROM items i LEFT JOIN notes n ON n.owner = i.tenantId WHERE n.owner IS NOT DISTINCT FROM NULL GROUP BY i.tenantId;
SELECT i.tenantId, i.id FROM notes n RIGHT JOIN items i ON n.owner = i.tenantId WHERE n.owner IS NULL;
-- The same through a FROM subquery that shows the key (read like the table since
-- analyze::keyed; refused before): its NULL-filled key pins nothing either.
SELECT i.id FROM items i LEFT JOIN (SELECT owner FROM notes) n ON n.owner = i.tenantId WHERE n.owner IS NULL;
SELECT i.id, n.c FROM items i LEFT JOIN (SELECT owner, count(*) AS c FROM notes GROUP BY owner) n ON n.owner = i.tenantId WHERE n.owner IS NULL OR n.c > 0;
