//! The shard policy.
