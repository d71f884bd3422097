//! The parts of the index AM callbacks that `hnsw` and `ivfflat` share: the
//! `IndexAmRoutine` with the capabilities both have, the cost model for an
//! index that only serves `ORDER BY <distance> LIMIT`, reading the query of a
//! scan's ORDER BY key, an insert's arguments, and VACUUM's statistics.

use pgrx::pg_sys;
use pgrx::prelude::*;
use ruvector_core::index::Tid;

use super::kind::{read_row, Elem, IndexKind, Query, Row};
use super::storage::tid_of;

/// The callbacks that differ between the access methods.
pub struct Callbacks {
    pub support: u16,
    pub build: pg_sys::ambuild_function,
    pub buildempty: pg_sys::ambuildempty_function,
    pub insert: pg_sys::aminsert_function,
    pub bulkdelete: pg_sys::ambulkdelete_function,
    pub vacuumcleanup: pg_sys::amvacuumcleanup_function,
    pub costestimate: pg_sys::amcostestimate_function,
    pub options: pg_sys::amoptions_function,
    pub buildphasename: pg_sys::ambuildphasename_function,
    pub beginscan: pg_sys::ambeginscan_function,
    pub rescan: pg_sys::amrescan_function,
    pub gettuple: pg_sys::amgettuple_function,
    pub endscan: pg_sys::amendscan_function,
}

/// An index AM that orders by an operator (distance), one key column, no
/// uniqueness, no backward or parallel scans, using maintenance_work_mem.
pub fn routine(cb: Callbacks) -> PgBox<pg_sys::IndexAmRoutine> {
    // SAFETY: a zeroed node of the right tag, filled in below.
    let mut am = unsafe { PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine) };
    am.amstrategies = 0;
    am.amsupport = cb.support;
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
    am.ambuild = cb.build;
    am.ambuildempty = cb.buildempty;
    am.aminsert = cb.insert;
    am.ambulkdelete = cb.bulkdelete;
    am.amvacuumcleanup = cb.vacuumcleanup;
    am.amcostestimate = cb.costestimate;
    am.amoptions = cb.options;
    am.ambuildphasename = cb.buildphasename;
    am.amvalidate = Some(amvalidate);
    am.ambeginscan = cb.beginscan;
    am.amrescan = cb.rescan;
    am.amgettuple = cb.gettuple;
    am.amendscan = cb.endscan;
    am.into_pg_boxed()
}

#[pg_guard]
unsafe extern "C-unwind" fn amvalidate(_opclassoid: pg_sys::Oid) -> bool {
    true
}

/// The cost model: without an ORDER BY on the opclass's operator the index
/// is useless (infinite cost), so the planner never picks it for plain
/// filters. With one, the first search reads `rows_read(index, tuples)`
/// index rows before the first row is returned (the startup cost); reading
/// every row of the index is the total cost, as pgvector models it. The
/// planner's LIMIT interpolates between the two by the share of the scan's
/// rows it needs, and that share is LIMIT ÷ (rows × the selectivity of the
/// other quals): a selective filter makes an ordered scan that must walk
/// far past the first search expensive, so an exact plan (an index on the
/// filter, then a sort) wins, while a loose filter keeps the ANN scan
/// (regression test `filtered_plans`). Each row the scan returns costs
/// `visits_per_row` visits (hnsw: about 4·m — a search visits some 2·m
/// elements per result, and an iterative scan, doubling ef, repeats its
/// search about twice; ivfflat: one row, one distance), each a distance at
/// `cpu_operator_cost` times the vector's weight (`vector_costs`: for
/// vectors stored in the row, dimensions ÷ 16 for the float types, bits ÷
/// 512 for `bit`, 1 to 128: a 384-d distance costs some 24 times a 16-d
/// one, and an ANN scan measures far more of them per row than an exact
/// plan does) and a tuple read at `cpu_index_tuple_cost`. For vectors
/// stored out of line the whole estimate is divided by
/// `ruvector_core::index::cost::out_of_line_factor`: the exact plan reads
/// each matching row's vector from TOAST, which PostgreSQL does not cost. The
/// measurements these constants were checked against are in
/// docs/filtered-search.md.
///
/// # Safety
/// The pointers are amcostestimate's arguments.
#[allow(clippy::too_many_arguments)]
pub unsafe fn ordered_cost(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    startup: *mut pg_sys::Cost,
    total: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
    rows_read: impl FnOnce(pg_sys::Relation, f64) -> (f64, f64),
    // (rows read by the first search, visits per row)
) {
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
        let rel = pg_sys::index_open((*info).indexoid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let (rows, visits_per_row) = rows_read(rel, (*info).tuples);
        let (weight, out_of_line) = vector_costs(rel);
        pg_sys::index_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        let all = (*info).tuples.max(rows);
        let per_visit = pg_sys::cpu_operator_cost * weight + pg_sys::cpu_index_tuple_cost;
        let visit_cost = |n: f64| n * visits_per_row * per_visit * loop_count.max(1.0);
        let mut first: pg_sys::GenericCosts = core::mem::zeroed();
        first.numIndexTuples = rows;
        pg_sys::genericcostestimate(root, path, loop_count, &mut first);
        let mut costs: pg_sys::GenericCosts = core::mem::zeroed();
        costs.numIndexTuples = all;
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);
        // genericcostestimate counts one scan per element of an `= ANY(array)`
        // condition (as btree runs them); ours evaluates the array in one scan
        let one_scan = |c: &pg_sys::GenericCosts| c.indexTotalCost / c.num_sa_scans.max(1.0);
        *startup = (one_scan(&first) + visit_cost(rows)) / out_of_line;
        *total = ((one_scan(&costs) + visit_cost(all)) / out_of_line).max(*startup);
        *selectivity = costs.indexSelectivity;
        *correlation = costs.indexCorrelation;
        *pages = costs.numIndexPages;
    }
}

/// What the planner's model leaves out for this index's vectors
/// (`ruvector_core::index::cost`, from the column's typmod): how much one
/// distance costs against a 16-d one (1 without a typmod, and for
/// `sparsevec`; bits ÷ 512 for `bit`), and how much costlier the exact plan
/// is per row than PostgreSQL estimates (1 but for float vectors stored out
/// of line).
///
/// # Safety
/// `rel` is an open index of ours.
unsafe fn vector_costs(rel: pg_sys::Relation) -> (f64, f64) {
    use ruvector_core::index::cost::{distance_weight, out_of_line_factor};
    let typmod = super::kind::key_column(rel).1;
    if typmod <= 0 {
        return (1.0, 1.0);
    }
    let dims = typmod as usize;
    match super::kind::column_elem(rel) {
        Some(elem @ (Elem::F32 | Elem::F16)) => {
            (distance_weight(dims, elem.bytes()), out_of_line_factor(dims, elem.bytes()))
        }
        Some(Elem::Bit) => ((typmod as f64 / 512.0).clamp(1.0, 128.0), 1.0),
        Some(Elem::Sparse) | None => (1.0, 1.0),
    }
}

/// `amrescan`'s common part: copy the keys into the scan and read the ORDER
/// BY argument as a query (length, vector prepared for the metric). None for
/// a NULL query. A zero query under cosine cannot be normalised; it is used
/// as it is and then matches everything equally.
///
/// # Safety
/// The arguments are amrescan's; `kind` is the index's.
pub unsafe fn rescan_query(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
    kind: IndexKind,
) -> Option<ScanQuery> {
    unsafe {
        if !keys.is_null() && nkeys > 0 {
            core::ptr::copy(keys, (*scan).keyData, nkeys as usize);
        }
        if orderbys.is_null() || norderbys <= 0 {
            return None;
        }
        core::ptr::copy(orderbys, (*scan).orderByData, norderbys as usize);
        let key = &*(*scan).orderByData;
        if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
            return None;
        }
        let row = read_row(kind, key.sk_argument)?;
        let (dims, given) = (row.dims, row.raw.clone());
        let (magnitude, row) = row.prepared_with_magnitude(kind);
        let row = row.unwrap_or_else(|| Row { dims, raw: given.clone(), dense: Vec::new() });
        Some(ScanQuery { dims: row.dims, query: row.query(kind), magnitude, given })
    }
}

/// A scan's ORDER BY argument: its length, the vector prepared for the metric
/// in the index's element type, (dense types) its norm before preparing, and
/// the vector as given (what the SQL operator measures).
pub struct ScanQuery {
    pub dims: usize,
    pub query: Query,
    pub magnitude: f64,
    /// The vector as given, not prepared, in the index's element type.
    pub given: Vec<u8>,
}

/// `aminsert`'s one column and heap TID, or None for a NULL.
///
/// # Safety
/// The pointers are aminsert's arguments.
pub unsafe fn insert_args(
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
) -> Option<(pg_sys::Datum, Tid)> {
    unsafe { (!*isnull).then(|| (*values, tid_of(&*heap_tid))) }
}

/// The statistics VACUUM passed in, or new ones.
pub fn stats_or_new(stats: *mut pg_sys::IndexBulkDeleteResult) -> *mut pg_sys::IndexBulkDeleteResult {
    if stats.is_null() {
        // SAFETY: a zeroed palloc'd struct in the current (VACUUM's) memory context.
        unsafe { PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0() }.into_pg()
    } else {
        stats
    }
}

/// Record what a bulk delete removed and left, and the index's size.
///
/// # Safety
/// `stats` is a valid IndexBulkDeleteResult.
pub unsafe fn record_stats(stats: *mut pg_sys::IndexBulkDeleteResult, removed: f64, remaining: f64, pages: u32) {
    unsafe {
        (*stats).tuples_removed += removed;
        (*stats).num_index_tuples = remaining;
        (*stats).num_pages = pages;
    }
}

/// pg_stat_progress_create_index columns (commands/progress.h).
pub const PROGRESS_CREATE_IDX_SUBPHASE: i32 = 10;
pub const PROGRESS_CREATE_IDX_TUPLES_TOTAL: i32 = 11;
pub const PROGRESS_CREATE_IDX_TUPLES_DONE: i32 = 12;

/// Threads an index build or an hnsw VACUUM runs on:
/// max_parallel_maintenance_workers workers besides the backend, at most
/// one per core.
pub fn maintenance_threads() -> usize {
    // SAFETY: reading this backend's setting.
    let asked = unsafe { pg_sys::max_parallel_maintenance_workers }.max(0) as usize + 1;
    // more threads than cores only take turns: the ivfflat build's k-means
    // ran 20 % slower on 3 threads than on 2 on a 2-core machine
    asked.min(std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The memory a VACUUM may hold: `autovacuum_work_mem` in an autovacuum
/// worker when set, else `maintenance_work_mem` (as for VACUUM's dead-TID
/// array), in bytes.
pub fn vacuum_memory_budget() -> usize {
    let setting = |name: &core::ffi::CStr| {
        // SAFETY: reading a setting by name (missing_ok: NULL if unknown); the
        // string is owned by the GUC machinery and copied out at once.
        unsafe {
            let value = pg_sys::GetConfigOption(name.as_ptr(), true, false);
            (!value.is_null()).then(|| core::ffi::CStr::from_ptr(value).to_str().ok()?.parse::<i64>().ok())?
        }
    };
    // SAFETY: this backend's type, set at start-up.
    let autovacuum = unsafe { pg_sys::MyBackendType } == pg_sys::BackendType::B_AUTOVAC_WORKER;
    let kb = autovacuum
        .then(|| setting(c"autovacuum_work_mem"))
        .flatten()
        .filter(|&kb| kb > 0)
        .or_else(|| setting(c"maintenance_work_mem"))
        .unwrap_or(65536);
    (kb.max(1024) as usize).saturating_mul(1024)
}

/// Update one column of this backend's CREATE INDEX progress.
pub fn progress(param: i32, value: i64) {
    // SAFETY: plain counter update of this backend's progress slot.
    unsafe { pg_sys::pgstat_progress_update_param(param, value) };
}

/// Every live heap row of a build, passed to `callback` with `state`
/// (PostgreSQL's table_index_build_scan, reporting progress). Returns the
/// number of heap tuples the scan saw, all of them (not only those a partial
/// index's predicate or the callback kept): PostgreSQL stores it as the
/// table's `reltuples`, which the planner's estimates rest on.
///
/// # Safety
/// `heap`, `index`, `info` are ambuild's; `callback` must treat its state
/// argument as a `*mut S`.
pub unsafe fn scan_heap<S>(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    info: *mut pg_sys::IndexInfo,
    callback: pg_sys::IndexBuildCallback,
    state: &mut S,
) -> f64 {
    unsafe {
        pg_sys::table_index_build_scan(
            heap,
            index,
            info,
            true,
            true,
            callback,
            state as *mut S as *mut core::ffi::c_void,
            core::ptr::null_mut(),
        )
    }
}

/// Scratch memory for a heap-scan callback reading one row. PostgreSQL calls
/// build callbacks in the build's own memory context, so what reading a row
/// allocates there (the detoasted copy of a value stored out of line: 3 kB
/// for 784 dimensions, 6 kB for 1,536) would stay until the build ends. Read
/// in here, it is freed as soon as the row is: an ivfflat build of 60,000
/// 784-d rows with maintenance_work_mem 64MB peaked at 285 MiB of backend
/// memory before, most of it such copies.
pub struct RowMemory(pgrx::PgMemoryContexts);

impl RowMemory {
    pub fn new() -> Self {
        RowMemory(pgrx::PgMemoryContexts::new("ruvector_pg row"))
    }

    /// `f` with this context current, then everything allocated in it freed.
    /// The result must own what it holds (Rust values, nothing palloc'd):
    /// `'static` keeps borrowed views of the datum out.
    pub fn read<R: 'static>(&mut self, f: impl FnOnce() -> R) -> R {
        // SAFETY: `f`'s result owns its data, so nothing refers into the
        // context when it is reset; an ERROR in `f` aborts the transaction,
        // which deletes the context with the build's.
        unsafe {
            let r = self.0.switch_to(|_| f());
            self.0.reset();
            r
        }
    }
}

/// `amvacuumcleanup`'s common part: after a bulk delete (or for ANALYZE) the
/// statistics stand; otherwise `count_live(index)` counts the rows the index
/// holds.
///
/// # Safety
/// The arguments are amvacuumcleanup's.
pub unsafe fn vacuum_cleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    count_live: impl FnOnce(super::storage::Index) -> f64,
) -> *mut pg_sys::IndexBulkDeleteResult {
    unsafe {
        if (*info).analyze_only || !stats.is_null() {
            return stats;
        }
        let index = super::storage::Index::new((*info).index);
        let stats = stats_or_new(core::ptr::null_mut());
        (*stats).num_index_tuples = count_live(index);
        (*stats).num_pages = index.nblocks();
        stats
    }
}

/// A scan's state: restarted by every `amrescan` with the new query.
pub trait OrderedScan {
    fn kind(&self) -> IndexKind;
    fn restart(&mut self, query: Option<ScanQuery>);
}

/// `ambeginscan`: a scan descriptor owning `state` (dropped with the scan's
/// memory context).
///
/// # Safety
/// The arguments are ambeginscan's.
pub unsafe fn begin_scan<S: OrderedScan>(
    index: pg_sys::Relation,
    nkeys: i32,
    norderbys: i32,
    state: S,
) -> pg_sys::IndexScanDesc {
    unsafe {
        let scan = pg_sys::RelationGetIndexScan(index, nkeys, norderbys);
        (*scan).opaque =
            pgrx::PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state) as *mut core::ffi::c_void;
        scan
    }
}

/// The state `begin_scan` gave `scan`.
///
/// # Safety
/// `scan` was made by `begin_scan::<S>`.
pub unsafe fn scan_state<'a, S: OrderedScan>(scan: pg_sys::IndexScanDesc) -> &'a mut S {
    unsafe { &mut *((*scan).opaque as *mut S) }
}

/// `amrescan`: restart the scan's state with the new ORDER BY query.
///
/// # Safety
/// The arguments are amrescan's; `scan` was made by `begin_scan::<S>`.
pub unsafe fn rescan<S: OrderedScan>(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    unsafe {
        let state = scan_state::<S>(scan);
        let query = rescan_query(scan, keys, nkeys, orderbys, norderbys, state.kind());
        state.restart(query);
    }
}

/// `amendscan`: the state goes with the scan's memory context.
#[pg_guard]
pub unsafe extern "C-unwind" fn amendscan(_scan: pg_sys::IndexScanDesc) {}

/// The `IndexAmRoutine` of an access method module with submodules
/// `build`, `insert`, `vacuum`, `scan`, `options` holding the standard
/// callback names, and an `amcostestimate` function.
macro_rules! am_routine {
    ($support:expr) => {
        $crate::am::callbacks::routine($crate::am::callbacks::Callbacks {
            support: $support,
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
            endscan: Some($crate::am::callbacks::amendscan),
        })
    };
}
pub(crate) use am_routine;

/// An `amcostestimate` using `ordered_cost` with the given
/// `|index, tuples| (rows read by the first search, visits per row returned)`.
macro_rules! am_costestimate {
    ($rows_read:expr) => {
        /// Cost model (pgvector's): see `callbacks::ordered_cost`.
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
                $crate::am::callbacks::ordered_cost(
                    root,
                    path,
                    loop_count,
                    startup,
                    total,
                    selectivity,
                    correlation,
                    pages,
                    $rows_read,
                )
            }
        }
    };
}
pub(crate) use am_costestimate;

/// Count one scan of the index in its statistics
/// (`pg_stat_user_indexes.idx_scan`), as PostgreSQL's
/// `pgstat_count_index_scan` macro does: btree counts each scan it starts,
/// pgvector each first `amgettuple`, and so do we. Without it, the usual
/// query for unused indexes (`idx_scan = 0`) lists every vector index.
///
/// # Safety
/// `scan` is a scan being read (its index relation open).
pub unsafe fn count_index_scan(scan: pg_sys::IndexScanDesc) {
    unsafe {
        let rel = (*scan).indexRelation;
        // pgstat_should_count_relation: attach the relation's pending
        // counts on first use, unless statistics are off for it
        if (*rel).pgstat_info.is_null() && (*rel).pgstat_enabled {
            pg_sys::pgstat_assoc_relation(rel);
        }
        if let Some(info) = (*rel).pgstat_info.as_mut() {
            info.t_counts.t_numscans += 1;
        }
    }
}

/// Hand heap row `tid` to the executor as the scan's next row, in exact
/// distance order (no recheck).
///
/// # Safety
/// `scan` is the scan being read.
pub unsafe fn return_row(scan: pg_sys::IndexScanDesc, tid: Tid) {
    unsafe {
        (*scan).xs_heaptid = super::storage::item_pointer(tid);
        (*scan).xs_recheck = false;
        (*scan).xs_recheckorderby = false;
    }
}

/// Room in `scan` for the ORDER BY values an index reports with a row (the
/// executor reads them only when a row is returned with
/// `return_row_with_distance`). Call once, after `begin_scan`.
///
/// # Safety
/// `scan` was made by `begin_scan` in the current memory context's scan.
pub unsafe fn alloc_order_by_values(scan: pg_sys::IndexScanDesc) {
    unsafe {
        let n = (*scan).numberOfOrderBys.max(0) as usize;
        if n == 0 {
            return;
        }
        (*scan).xs_orderbyvals = pg_sys::palloc0(n * std::mem::size_of::<pg_sys::Datum>()) as *mut pg_sys::Datum;
        let nulls = pg_sys::palloc(n) as *mut bool;
        std::ptr::write_bytes(nulls, 1, n);
        (*scan).xs_orderbynulls = nulls;
    }
}

/// Hand heap row `tid` to the executor with `value`, its ORDER BY distance
/// when `exact`, else a lower bound of it (rows come in non-decreasing value
/// order). For a bound the executor computes the exact distance on the heap
/// row and reorders (`xs_recheckorderby`, as GiST's lossy distances); an
/// exact value it takes as it is. A bound above the exact distance makes the
/// executor raise "index returned tuples in wrong order".
///
/// # Safety
/// `scan` is the scan being read, prepared by `alloc_order_by_values` with
/// one ORDER BY (a float8 distance).
pub unsafe fn return_row_with_distance(scan: pg_sys::IndexScanDesc, tid: Tid, value: f64, exact: bool) {
    unsafe {
        (*scan).xs_heaptid = super::storage::item_pointer(tid);
        (*scan).xs_recheck = false;
        if (*scan).numberOfOrderBys < 1 || (*scan).xs_orderbyvals.is_null() {
            pgrx::error!("ivfflat scan without room for its ORDER BY value");
        }
        *(*scan).xs_orderbyvals = pgrx::IntoDatum::into_datum(value).unwrap_or(pg_sys::Datum::from(0usize));
        *(*scan).xs_orderbynulls = false;
        (*scan).xs_recheckorderby = !exact;
    }
}
