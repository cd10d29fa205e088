//! A backend that records what each shard received.
