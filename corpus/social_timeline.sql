-- policy: {"name": "social", "capacity": {"mode": "manual", "targetShardCount": 1}, "sharding": {"tables": [{"name": "posts", "keyColumn": "authorId"}, {"name": "likes", "keyColumn": "authorId"}], "reference": ["profiles"]}}
CREATE TABLE profiles (id INTEGER PRIMARY KEY, handle TEXT NOT NULL UNIQUE);
CREATE TABLE posts (authorId INTEGER NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, createdAt INTEGER NOT NULL, PRIMARY KEY (authorId, id));
-- likes are stored with the post's author, so a post and its likes share a shard.
CREATE TABLE likes (authorId INTEGER NOT NULL, postId INTEGER NOT NULL, likerId INTEGER NOT NULL, PRIMARY KEY (authorId, postId, likerId));
INSERT INTO profiles VALUES (1, 'ada'), (2, 'bob'), (3, 'cy'), (4, 'dee');
INSERT INTO posts VALUES (1, 1, 'hello', 100), (1, 2, 'again', 140), (2, 1, 'bob here', 120), (3, 1, 'cy!', 130), (3, 2, 'cy again', 150), (4, 1, 'dee', 90);
INSERT INTO likes VALUES (1, 1, 2), (1, 1, 3), (1, 2, 4), (3, 1, 1), (3, 1, 2), (3, 1, 4), (4, 1, 1);
-- The timeline of the accounts someone follows: authors passed as a JSON array.
-- params: ["[1, 3]"]
-- ordered
SELECT p.authorId, p.id, p.body, (SELECT count(*) FROM likes l WHERE l.authorId = p.authorId AND l.postId = p.id) AS likeCount
FROM posts p WHERE p.authorId IN (SELECT value FROM json_each(?)) ORDER BY p.createdAt DESC, p.authorId LIMIT 10;
-- One author's page, with handles from the reference table.
-- params: [3]
-- ordered
SELECT pr.handle, p.id, p.body FROM posts p JOIN profiles pr ON pr.id = p.authorId WHERE p.authorId = ? ORDER BY p.id;
-- Most liked posts overall: correlated on the key, fans out, merges.
-- ordered
SELECT p.authorId, p.id, (SELECT count(*) FROM likes l WHERE l.authorId = p.authorId AND l.postId = p.id) AS n
FROM posts p ORDER BY n DESC, p.authorId, p.id LIMIT 3;
-- Like counts per author.
-- ordered
SELECT authorId, count(*) AS likes FROM likes GROUP BY authorId ORDER BY likes DESC, authorId;
-- Posts with no likes.
-- ordered
SELECT p.authorId, p.id FROM posts p WHERE NOT EXISTS (SELECT 1 FROM likes l WHERE l.authorId = p.authorId AND l.postId = p.id) ORDER BY p.authorId, p.id;
-- Who liked a post: key given.
-- params: [3, 1]
-- ordered
SELECT pr.handle FROM likes l JOIN profiles pr ON pr.id = l.likerId WHERE l.authorId = ? AND l.postId = ? ORDER BY pr.handle;
-- What someone liked across all authors needs every shard: fine, it is a filter.
-- params: [1]
-- ordered
SELECT authorId, postId FROM likes WHERE likerId = ? ORDER BY authorId, postId;
-- A subquery over posts not tied to the outer row's author cannot be answered per shard:
-- it runs first, merged across shards (two phases).
SELECT p.id FROM posts p WHERE p.createdAt > (SELECT avg(createdAt) FROM posts);
-- params: [2, 1, 3]
INSERT INTO likes VALUES (?, ?, ?);
-- params: [1, 2, 4]
DELETE FROM likes WHERE authorId = ? AND postId = ? AND likerId = ?;
-- Maintenance on every shard: SQLite's own judge of a fan-out holds no indexes, so REINDEX
-- and ANALYZE of an index go to the shards (a REINDEX of an index was once refused).
CREATE INDEX posts_by_time ON posts (createdAt);
REINDEX posts_by_time;
ANALYZE posts_by_time;
REINDEX posts;
-- ordered
SELECT authorId, id FROM posts WHERE createdAt > 95 ORDER BY createdAt DESC;
