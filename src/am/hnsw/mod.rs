//! The `hnsw` index access method for `ruvector` (pgvector's SQL surface).
//!
//! One file per concern: `build` (CREATE INDEX), `insert`, `scan`, `vacuum`,
//! `options` (reloptions and `hnsw.*` settings), `graph` (the stored graph as
//! the core's `GraphRead`), and `storage` — the only module that touches
//! buffers and WAL, whose header states the page layout and locking protocol.

mod build;
mod check;
mod graph;
mod insert;
pub mod options;
mod scan;
mod storage;
mod vacuum;

use pgrx::pg_sys;
use pgrx::prelude::*;

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

/// Cost model: without an ORDER BY on the opclass's operator the index is
/// useless (infinite cost), so the planner never picks it for plain filters;
/// with one, the work is one graph search, all done before the first row.
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
    // SAFETY: the planner passes valid pointers.
    unsafe {
        if (*path).indexorderbys.is_null() {
            *startup = f64::INFINITY;
            *total = f64::INFINITY;
            *selectivity = 0.0;
            *correlation = 0.0;
            *pages = 0.0;
            return;
        }
        let mut costs: pg_sys::GenericCosts = core::mem::zeroed();
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);
        let tuples = (*(*(*path).indexinfo).rel).tuples.max(1.0);
        let index_pages = (*(*path).indexinfo).pages.max(1) as f64;
        // A search visits about ef_search × 2m elements, each a page read.
        let visited = (options::EF_SEARCH.get() as f64 * 32.0).min(tuples);
        let ratio = visited / tuples;
        let page_cost = pg_sys::random_page_cost * (index_pages * ratio).max(1.0);
        let cpu = visited * pg_sys::cpu_operator_cost * 10.0;
        *startup = page_cost + cpu;
        *total = *startup + costs.indexTotalCost * ratio;
        *selectivity = costs.indexSelectivity;
        *correlation = 0.0;
        *pages = (index_pages * ratio).max(1.0);
    }
}
