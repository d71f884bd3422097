//! The `ivfflat` index access method (pgvector's SQL surface): vectors
//! clustered into `lists` by k-means; a scan probes the lists whose centres
//! are nearest the query.
//!
//! One file per concern: `build` (CREATE INDEX: sample, k-means, write),
//! `insert`, `scan`, `vacuum`, `options` (reloption `lists`, `ivfflat.*`
//! settings), `lists` (the centres as stored). Algorithms (k-means, top-k,
//! sampling, tuple formats) are in `ruvector_core::ivf`; pages, buffers and
//! WAL are `am::storage`'s. Page layout and locking: docs/ivfflat.md.

mod build;
mod insert;
mod lists;
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
    callbacks::routine(callbacks::Callbacks {
        support: 5,
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

/// Cost model (pgvector's): useless without an ORDER BY on the opclass's
/// operator; with one, a scan reads probes/lists of the rows (and pages),
/// all before returning the first row.
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
            |rel, tuples| tuples * (options::PROBES.get().max(1) as f64 / options::lists_of(rel) as f64).min(1.0),
        )
    }
}
