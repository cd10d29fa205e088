CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, price REAL);
CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount INTEGER,
                     planId INTEGER REFERENCES plans(id), data TEXT, PRIMARY KEY (tenantId, id));
CREATE TABLE users (tenantId TEXT NOT NULL, id INTEGER NOT NULL, name TEXT COLLATE NOCASE,
                    email TEXT, PRIMARY KEY (tenantId, id));
CREATE TABLE counters (k INTEGER PRIMARY KEY, n INTEGER DEFAULT 0);
CREATE TABLE settings (key TEXT PRIMARY KEY, value);
CREATE TABLE "odd ""name""" (a, b);
CREATE VIEW big_events AS SELECT * FROM events WHERE amount > 100;
CREATE VIEW plan_names AS SELECT name FROM plans;
CREATE TABLE posts (id INTEGER PRIMARY KEY, tenantId TEXT NOT NULL, body TEXT);
