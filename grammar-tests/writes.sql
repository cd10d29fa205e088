INSERT INTO events (tenantId, id, kind) VALUES ('acme', 1, 'a');
INSERT INTO events (tenantId, id, kind) VALUES ('acme', 1, 'a'), ('globex', 2, 'b'), ('initech', 3, 'c'), ('acme', 4, 'd');
INSERT INTO events VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?);
INSERT INTO events (tenantId, id) VALUES (:t, 1), (:t, 2) RETURNING id;
INSERT INTO events (tenantId, id) VALUES ('a', 1), ('b', 2) RETURNING *;
INSERT OR IGNORE INTO events (tenantId, id) VALUES ('a', 1);
INSERT OR REPLACE INTO events (tenantId, id) VALUES ('a', 1);
REPLACE INTO events (tenantId, id) VALUES ('a', 1);
INSERT INTO events (tenantId, id, kind) VALUES ('a', 1, 'x') ON CONFLICT (tenantId, id) DO UPDATE SET kind = excluded.kind;
INSERT INTO events (tenantId, id, kind) VALUES ('a', 1, 'x') ON CONFLICT DO NOTHING;
INSERT INTO events (tenantId, id) VALUES ('a', 1) ON CONFLICT (tenantId, id) DO UPDATE SET tenantId = 'b';
INSERT INTO events DEFAULT VALUES;
INSERT INTO events (id) VALUES (1);
INSERT INTO events (tenantId, id) VALUES (upper('a'), 1);
INSERT INTO events (tenantId, id) VALUES (NULL, 1);
INSERT INTO counters (k, n) VALUES (1.5, 1);
INSERT INTO counters (k, n) VALUES (NULL, 1);
INSERT INTO counters (n) VALUES (1);
INSERT INTO counters (k, n) VALUES (2.0, 1), ('3', 1), (-4, 1);
INSERT INTO events (tenantId, id) SELECT tenantId, id + 1 FROM events WHERE tenantId = 'a';
INSERT INTO plans (id, name) VALUES (1, 'free');
INSERT INTO settings (key, value) VALUES ('a', 1);
INSERT INTO settings (key, value) SELECT kind, id FROM events;
UPDATE events SET kind = 'x' WHERE tenantId = 'acme';
UPDATE events SET kind = 'x' WHERE tenantId IN ('acme', 'globex') AND id = 1;
UPDATE events SET kind = 'x';
UPDATE events SET tenantId = 'b' WHERE tenantId = 'a';
UPDATE OR IGNORE events SET kind = 'x' WHERE tenantId = ? RETURNING id;
UPDATE events SET kind = p.name FROM plans p WHERE p.id = events.planId AND events.tenantId = 'a';
UPDATE plans SET price = 0;
UPDATE settings SET value = 1 WHERE key = 'a';
DELETE FROM events WHERE tenantId = 'acme' AND id = 1;
DELETE FROM events WHERE id = 1;
DELETE FROM events WHERE tenantId = 'acme' RETURNING *;
DELETE FROM plans WHERE id = 3;
-- An INTEGER PRIMARY KEY left out gets an id from the shard's range.
INSERT INTO posts (tenantId, body) VALUES ('acme', 'a'), ('globex', ?), ('acme', 'c') RETURNING id;
INSERT INTO posts (tenantId, body) VALUES ('acme', 'x');
INSERT INTO posts (id, tenantId, body) VALUES (7, 'acme', 'x');
-- Printer hazards survive a split: rows are spliced from the original text, never printed.
INSERT INTO counters (k, n) VALUES (0x1F, - -1), (2, 0x0A), (-3, X'1F' IS NULL);
-- sqlparser cannot read 0XFF (upper-case X): the token scan refuses it without a hint.
INSERT INTO counters (k, n) VALUES (2, 0XFF);
-- Several ON CONFLICT clauses (SQLite 3.35+), none touching the key.
INSERT INTO events (tenantId, id, kind) VALUES ('a', 1, 'x') ON CONFLICT (tenantId, id) DO UPDATE SET kind = excluded.kind ON CONFLICT DO NOTHING;
INSERT INTO events (tenantId, id, kind) VALUES ('a', 1, 'x') ON CONFLICT (tenantId, id) DO NOTHING ON CONFLICT DO UPDATE SET tenantId = 'z';
-- UPDATE / DELETE with ORDER BY and LIMIT (SQLITE_ENABLE_UPDATE_DELETE_LIMIT builds).
UPDATE events SET kind = 'x' WHERE tenantId = 'acme' ORDER BY id DESC LIMIT 1;
DELETE FROM events WHERE tenantId = 'acme' ORDER BY id LIMIT 2;
DELETE FROM events ORDER BY id LIMIT 2;
INSERT INTO events (tenantId, id) VALUES ('a', 1) ON CONFLICT DO UPDATE SET (kind, tenantId) = ('k', 'b') ON CONFLICT DO NOTHING;
INSERT INTO events (tenantId, id) VALUES ('a', 1) ON CONFLICT DO UPDATE SET (kind, amount) = ('k', 1) ON CONFLICT DO NOTHING;
-- Subqueries inside VALUES run on each row's shard.
INSERT INTO events (tenantId, id) VALUES ('acme', (SELECT max(id) + 1 FROM events WHERE tenantId = 'acme'));
INSERT INTO events (tenantId, id) VALUES ('acme', (SELECT max(id) + 1 FROM events));
INSERT INTO events (tenantId, id, planId) VALUES ('acme', 9, (SELECT id FROM plans WHERE name = 'pro'));
INSERT INTO events (tenantId, id, kind) VALUES ('acme', 9, (SELECT value FROM settings WHERE key = 'k'));
SELECT changes();
