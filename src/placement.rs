//! Placement: which shard a key lives on.
