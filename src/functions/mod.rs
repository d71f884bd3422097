//! SQL functions that belong to no single type.

mod info;
mod stats;
mod storage;
