//! Merging multi-shard reads.
