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
    callbacks::routine(callbacks::Callbacks {
        support: 3,
        build: Some(build::ambuild),
        buildempty: Some(build::ambuildempty),
        insert: Some(insert::aminsert),
        bulkdelete: Some(vacuum::ambulkdelete),
        vacuumcleanup: Some(vacuum::amvacuumcleanup),
        costestimate: Some(amcostestimate),
        options: Some(options::amoptions),
        buildphasename: Some(build::ambuildphasename),
        beginscan: Some(scan::ambeginscan),
        rescan: Some(scan::amrescan),
        gettuple: Some(scan::amgettuple),
        endscan: Some(scan::amendscan),
    })
}

/// Cost model (pgvector's): without an ORDER BY on the opclass's operator
/// the index is useless (infinite cost), so the planner never picks it for
/// plain filters. With one, a search reads about (entry level + 2) × m
/// elements' pages, all before the first row, so startup = total.
#[pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn amcostestimate(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    startup: *mut pg_sys::Cost,
    total: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    // SAFETY: amcostestimate's arguments; the index is locked by the planner.
    unsafe {
        callbacks::ordered_cost(
            root,
            path,
            loop_count,
            startup,
            total,
            selectivity,
            correlation,
            pages,
            |rel, tuples| {
                let (m, _) = options::of_index(rel);
                let entry_level = (tuples.max(1.0).ln() / (m as f64).ln()).floor();
                ((entry_level + 2.0) * m as f64).min(tuples.max(1.0))
            },
        )
    }
}
