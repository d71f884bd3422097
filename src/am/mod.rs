//! Index access methods: `hnsw` and `ivfflat`, over the shared `kind`
//! (element type, metric, rows and queries) and `storage` (pages, buffers and
//! WAL: the only unsafe page code), and a planner hook for their ORDER BY
//! scans (`planner`); `heap_rows`, the table's side of
//! `ruvector_index_check`.

pub mod access;
pub mod callbacks;
pub mod heap_rows;
pub mod hnsw;
pub mod ivfflat;
pub mod kind;
pub mod planner;
pub mod storage;
