//! The `ivfflat` index access method (pgvector's SQL surface): vectors
//! clustered into `lists` by k-means; a scan probes the lists whose centres
//! are nearest the query.
//!
//! One file per concern: `build` (CREATE INDEX: sample, k-means), `load`
//! (the build's pass over the table, overlapping k-means and assignment),
//! `insert`, `scan`, `vacuum`, `options` (reloption `lists`, `ivfflat.*`
//! settings), `lists` (the centres as stored), `check`
//! (`ruvector_index_check`). Algorithms (k-means, top-k,
//! sampling, tuple formats) are in `ruvector_core::ivf`; pages, buffers and
//! WAL are `am::storage`'s. Page layout and locking: docs/ivfflat.md.

mod build;
pub use build::{full_copies, needs_copy, sq8_payload, sq8_rows};
pub use scan::next_first_batch;
pub mod check;
mod insert;
pub mod lists;
mod load;
pub mod options;
mod scan;
mod vacuum;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::am::callbacks;

#[pg_extern(sql = "
CREATE FUNCTION ivfflathandler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME', '@FUNCTION_NAME@' LANGUAGE C;
")]
fn ivfflathandler(_fcinfo: pg_sys::FunctionCallInfo) -> PgBox<pg_sys::IndexAmRoutine> {
    callbacks::am_routine!(5)
}

callbacks::am_costestimate!(|rel, tuples| {
    // probes / lists of the rows, one visit (a distance) per row
    (tuples * (options::PROBES.get().max(1) as f64 / options::lists_of(rel) as f64).min(1.0), 1.0)
});
