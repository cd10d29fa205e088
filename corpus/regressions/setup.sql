CREATE TABLE items (tenantId TEXT NOT NULL, id INTEGER NOT NULL, name TEXT COLLATE NOCASE,
                    price REAL, qty, tag TEXT, PRIMARY KEY (tenantId, id));
CREATE TABLE tags (tag TEXT PRIMARY KEY, label TEXT);
CREATE TABLE notes (owner TEXT, id INTEGER, body TEXT);
INSERT INTO tags VALUES ('a', 'Alpha'), ('b', 'Beta'), ('c', NULL);
INSERT INTO items VALUES ('acme', 1, 'Bolt', 1.5, 3, 'a'), ('acme', 2, 'bolt', 2.25, 4, 'b'),
  ('globex', 3, 'Nut', NULL, 1, 'a'), ('initech', 4, 'washer', 0.1, NULL, NULL),
  ('umbrella', 5, 'NUT', 7, '12', 'c'), ('globex', 6, 'gear', 1e300, 2.5, 'b');
