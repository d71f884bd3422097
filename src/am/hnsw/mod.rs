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

pub(crate) use crate::am::kind::read_row;

/// The access method handler: what PostgreSQL calls to learn the callbacks.
#[pg_extern(sql = "
CREATE FUNCTION hnswhandler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME', '@FUNCTION_NAME@' LANGUAGE C;
")]
fn hnswhandler(_fcinfo: pg_sys::FunctionCallInfo) -> PgBox<pg_sys::IndexAmRoutine> {
    // SAFETY: a zeroed node of the right tag, filled in below.
    let mut am = unsafe { PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine) };
    am.amstrategies = 0;
    am.amsupport = 3;
    am.amoptsprocnum = 0;
    am.amcanorder = false;
    am.amcanorderbyop = true;
    am.amcanbackward = false;
    am.amcanunique = false;
    am.amcanmulticol = false;
    am.amoptionalkey = true;
    am.amsearcharray = false;
    am.amsearchnulls = false;
    am.amstorage = false;
    am.amclusterable = false;
    am.ampredlocks = false;
    am.amcanparallel = false;
    am.amcaninclude = false;
    am.amusemaintenanceworkmem = true;
    am.amkeytype = pg_sys::InvalidOid;

    am.ambuild = Some(build::ambuild);
    am.ambuildempty = Some(build::ambuildempty);
    am.aminsert = Some(insert::aminsert);
    am.ambulkdelete = Some(vacuum::ambulkdelete);
    am.amvacuumcleanup = Some(vacuum::amvacuumcleanup);
    am.amcostestimate = Some(amcostestimate);
    am.amoptions = Some(options::amoptions);
    am.ambuildphasename = Some(build::ambuildphasename);
    am.amvalidate = Some(amvalidate);
    am.ambeginscan = Some(scan::ambeginscan);
    am.amrescan = Some(scan::amrescan);
    am.amgettuple = Some(scan::amgettuple);
    am.amendscan = Some(scan::amendscan);
    am.into_pg_boxed()
}

#[pg_guard]
unsafe extern "C-unwind" fn amvalidate(_opclassoid: pg_sys::Oid) -> bool {
    true
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
    // SAFETY: the planner passes valid pointers; the index is locked by the planner.
    unsafe {
        if (*path).indexorderbys.is_null() {
            *startup = f64::INFINITY;
            *total = f64::INFINITY;
            *selectivity = 0.0;
            *correlation = 0.0;
            *pages = 0.0;
            return;
        }
        let info = (*path).indexinfo;
        let tuples = (*info).tuples.max(1.0);
        let rel = pg_sys::index_open((*info).indexoid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let (m, _) = options::of_index(rel);
        pg_sys::index_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        let ml = 1.0 / (m as f64).ln();
        let entry_level = (tuples.ln() * ml).floor();
        let mut costs: pg_sys::GenericCosts = core::mem::zeroed();
        costs.numIndexTuples = ((entry_level + 2.0) * m as f64).min(tuples);
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);
        *startup = costs.indexTotalCost;
        *total = costs.indexTotalCost;
        *selectivity = costs.indexSelectivity;
        *correlation = costs.indexCorrelation;
        *pages = costs.numIndexPages;
    }
}
