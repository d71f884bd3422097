//! Index access methods: `hnsw` and `ivfflat`, over the shared `kind`
//! (element type, metric, rows and queries) and `storage` (pages, buffers and
//! WAL: the only unsafe page code), and a planner hook for their ORDER BY
//! scans (`planner`).

pub mod access;
pub mod callbacks;
pub mod hnsw;
pub mod ivfflat;
pub mod kind;
pub mod planner;
pub mod storage;
