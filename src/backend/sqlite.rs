//! Local SQLite files, one per shard.
