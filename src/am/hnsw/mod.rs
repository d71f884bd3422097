//! The `hnsw` index access method for `ruvector` (pgvector's SQL surface).
//!
//! One file per concern: `build` (CREATE INDEX), `insert`, `scan`, `vacuum`,
//! `options` (reloptions and `hnsw.*` settings), `graph` (the stored graph as
//! the core's `GraphRead`). Pages, buffers and WAL are `am::storage`'s, whose
//! header states the page layout and locking protocol.

mod build;
pub mod cache;
mod check;
mod graph;
mod insert;
pub mod options;
mod scan;
mod snapshot;
mod vacuum;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::am::callbacks;

pub(crate) use crate::am::kind::read_row;

/// The access method handler: what PostgreSQL calls to learn the callbacks.
#[pg_extern(sql = "
CREATE FUNCTION hnswhandler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME', '@FUNCTION_NAME@' LANGUAGE C;
")]
fn hnswhandler(_fcinfo: pg_sys::FunctionCallInfo) -> PgBox<pg_sys::IndexAmRoutine> {
    callbacks::am_routine!(3)
}

callbacks::am_costestimate!(|rel, tuples| {
    // the first search: about (entry level + 2) × m elements' pages; every
    // row returned: about 4·m visits (see callbacks::ordered_cost)
    let (m, _) = options::reloptions(rel);
    let entry_level = (tuples.max(1.0).ln() / (m as f64).ln()).floor();
    (((entry_level + 2.0) * m as f64).min(tuples.max(1.0)), 4.0 * m as f64)
});
