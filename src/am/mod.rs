//! Index access methods.

pub mod hnsw;
